package auth

import (
	"context"
	"errors"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/glance-go/glance/core/api"
	"github.com/glance-go/glance/core/config"
)

const (
	aliceToken = "alice-token-0123456789abcdef"
	adminToken = "admin-token-0123456789abcdef"
)

func testTokens(t *testing.T) *Tokens {
	t.Helper()
	tk, err := NewTokens([]StaticToken{
		{Value: aliceToken, UserID: "alice", ProjectID: "proj-a", Roles: []string{"member", "reader"}},
		{Value: adminToken, UserID: "root", ProjectID: "admin", Roles: []string{"admin"}},
		{Value: "noproject-token-0123456789", UserID: "carol"},
	})
	if err != nil {
		t.Fatal(err)
	}
	return tk
}

func TestTokensAuthenticate(t *testing.T) {
	tk := testTokens(t)
	tests := []struct {
		name    string
		header  []string // X-Auth-Token values; nil: none
		want    api.Identity
		wantErr bool
	}{
		{"no header", nil, api.Identity{}, true},
		{"empty header", []string{""}, api.Identity{}, true},
		{"unknown token", []string{"unknown-token-0123456789abcdef"}, api.Identity{}, true},
		{"prefix of a token", []string{aliceToken[:20]}, api.Identity{}, true},
		{"token with a suffix", []string{aliceToken + "x"}, api.Identity{}, true},
		{"member", []string{aliceToken}, api.Identity{UserID: "alice", ProjectID: "proj-a", Roles: []string{"member", "reader"}}, false},
		{"admin", []string{adminToken}, api.Identity{UserID: "root", ProjectID: "admin", Roles: []string{"admin"}, IsAdmin: true}, false},
		{"no project, no roles", []string{"noproject-token-0123456789"}, api.Identity{UserID: "carol", Roles: []string{}}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/v2/images", nil)
			for _, v := range tc.header {
				r.Header.Add(TokenHeader, v)
			}
			id, err := tk.Authenticate(r)
			if tc.wantErr {
				if !errors.Is(err, api.ErrUnauthenticated) {
					t.Fatalf("err = %v, want ErrUnauthenticated", err)
				}
				if strings.Contains(err.Error(), aliceToken[:16]) {
					t.Errorf("error shows the token: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if id.UserID != tc.want.UserID || id.ProjectID != tc.want.ProjectID || id.IsAdmin != tc.want.IsAdmin ||
				len(id.Roles) != len(tc.want.Roles) || (len(id.Roles) > 0 && !reflect.DeepEqual(id.Roles, tc.want.Roles)) {
				t.Errorf("identity = %+v, want %+v", id, tc.want)
			}
		})
	}
	// The identity handed out is a copy: a caller changing it changes
	// nothing for the next request.
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set(TokenHeader, aliceToken)
	id, _ := tk.Authenticate(r)
	id.Roles[0] = "admin"
	if id2, _ := tk.Authenticate(r); id2.Roles[0] != "member" {
		t.Errorf("roles shared between requests: %v", id2.Roles)
	}
	if tk.Challenge() != "" {
		t.Errorf("Challenge = %q", tk.Challenge())
	}
}

func TestNewTokensErrors(t *testing.T) {
	tests := []struct {
		name   string
		tokens []StaticToken
		want   string
	}{
		{"none", nil, "at least one token"},
		{"short", []StaticToken{{Value: "short", UserID: "u"}}, `token 1 (user "u") is shorter than 16`},
		{"no user", []StaticToken{{Value: aliceToken}}, "token 1 has no user"},
		{"duplicate", []StaticToken{{Value: aliceToken, UserID: "a"}, {Value: aliceToken, UserID: "b"}}, `token 2 (user "b") has the same value as the token of user "a"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewTokens(tc.tokens)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
			if strings.Contains(err.Error(), aliceToken) {
				t.Errorf("error shows the token: %v", err)
			}
		})
	}
}

func TestNewFromConfig(t *testing.T) {
	ctx := context.Background()
	a, err := New(ctx, config.AuthConfig{Mode: "noauth"}, nil)
	if a != nil || err != nil {
		t.Errorf("noauth: %v, %v", a, err)
	}
	a, err = New(ctx, config.AuthConfig{Mode: "tokens", Tokens: []config.TokenConfig{{Value: aliceToken, User: "alice", Project: "p", Roles: []string{"admin"}}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set(TokenHeader, aliceToken)
	if id, err := a.Authenticate(r); err != nil || !id.IsAdmin || id.ProjectID != "p" {
		t.Errorf("tokens: %+v, %v", id, err)
	}
	a, err = New(ctx, config.AuthConfig{Mode: "keystone", Keystone: &config.KeystoneConfig{
		AuthURL: "http://127.0.0.1:1/v3", Username: "glance", Password: "pw", ProjectName: "service",
	}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if a.Challenge() != `Keystone uri="http://127.0.0.1:1"` {
		t.Errorf("keystone challenge = %q", a.Challenge())
	}
	if _, err := New(ctx, config.AuthConfig{Mode: "keystone"}, nil); err == nil {
		t.Error("keystone without a block: no error")
	}
	if _, err := New(ctx, config.AuthConfig{Mode: "ldap"}, nil); err == nil {
		t.Error("unknown mode: no error")
	}
}

package main

import (
	"bytes"
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"

	"github.com/glance-go/glance/core/api"
	"github.com/glance-go/glance/core/config"
)

func parseConfig(t *testing.T, auth string, bind string) *config.Config {
	t.Helper()
	src := "api { bind = \"" + bind + "\" }\n" + auth + "\nstore \"a\" { plugin = \"filesystem\" }\n"
	c, diags := config.Parse([]byte(src), "test.hcl")
	if diags.HasErrors() {
		t.Fatalf("config:\n%s", config.FormatDiagnostics(c.Files(), diags))
	}
	return c
}

func TestNewAuth(t *testing.T) {
	t.Setenv("GLANCE_TEST_TOKEN", "alice-token-0123456789")
	tokens := `auth {
  mode = "tokens"
  token {
    value   = env("GLANCE_TEST_TOKEN")
    user    = "alice"
    project = "p"
    roles   = ["member"]
  }
}`
	keystone := `auth {
  mode = "keystone"
  keystone {
    auth_url     = "http://127.0.0.1:1/v3"
    username     = "glance"
    password     = "service-password-xyz"
    project_name = "service"
    timeout      = "200ms"
  }
}`
	tests := []struct {
		name, auth, bind string
		wantErr          string // "" for success
		wantAuth         bool   // an Authenticator (not noauth)
		wantLog          string
		challenge        string
	}{
		{"noauth on loopback", `auth { mode = "noauth" }`, "127.0.0.1:9292", "", false, "every caller is an admin", ""},
		{"noauth on localhost", ``, "localhost:9292", "", false, "every caller is an admin", ""},
		{"noauth on all interfaces", `auth { mode = "noauth" }`, "0.0.0.0:9292", "refusing to bind 0.0.0.0:9292", false, "", ""},
		{"noauth insisted on", `auth {
  mode           = "noauth"
  allow_insecure = true
}`, "0.0.0.0:9292", "", false, "every caller is an admin", ""},
		{"tokens", tokens, "0.0.0.0:9292", "", true, "auth mode is tokens: tokens=1", ""},
		{"keystone, unreachable at start", keystone, "0.0.0.0:9292", "", true, "keystone is not usable yet", `Keystone uri="http://127.0.0.1:1"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var log bytes.Buffer
			a, err := newAuth(context.Background(), parseConfig(t, tc.auth, tc.bind), hclog.New(&hclog.LoggerOptions{Output: &log}))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if (a != nil) != tc.wantAuth {
				t.Fatalf("authenticator = %v, want one: %v", a, tc.wantAuth)
			}
			if !strings.Contains(log.String(), tc.wantLog) {
				t.Errorf("log lacks %q:\n%s", tc.wantLog, log.String())
			}
			if strings.Contains(log.String(), "service-password-xyz") || strings.Contains(log.String(), "alice-token-0123456789") {
				t.Errorf("log shows a secret:\n%s", log.String())
			}
			if a == nil {
				return
			}
			if a.Challenge() != tc.challenge {
				t.Errorf("Challenge = %q, want %q", a.Challenge(), tc.challenge)
			}
			// No token: 401 in every mode that authenticates.
			if _, err := a.Authenticate(httptest.NewRequest("GET", "/v2/images", nil)); !errors.Is(err, api.ErrUnauthenticated) {
				t.Errorf("no token: %v", err)
			}
		})
	}
}

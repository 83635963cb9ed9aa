package auth

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/glance-go/glance/core/api"
)

const svcPassword = "s3rvice-Passw0rd-xyzzy"

// fakeKeystone is a stand-in for Keystone v3's /auth/tokens, for the edge
// cases a real Keystone cannot be made to produce on demand. The proof
// against a real Keystone is core/e2e/keystone_test.go.
type fakeKeystone struct {
	t   *testing.T
	srv *httptest.Server

	mu         sync.Mutex
	now        func() time.Time
	svcTTL     time.Duration // lifetime of the service tokens issued
	svcCurrent map[string]bool
	refuseSvc  bool              // answer 401 to the password authentication
	status     int               // when set, the validation answers this status
	delay      time.Duration     // before each validation answer
	tokens     map[string]string // subject token → token document

	posts, gets atomic.Int32
}

func newFakeKeystone(t *testing.T, now func() time.Time) *fakeKeystone {
	f := &fakeKeystone{t: t, now: now, svcTTL: time.Hour, svcCurrent: map[string]bool{}, tokens: map[string]string{}}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeKeystone) url() string { return f.srv.URL + "/v3" }

// addToken makes Keystone know token as user in project (none if "")
// with roles, expiring at exp.
func (f *fakeKeystone) addToken(token, user, project string, exp time.Time, roles ...string) {
	doc := map[string]any{"expires_at": exp.UTC().Format("2006-01-02T15:04:05.000000Z"), "user": map[string]any{"id": user, "name": user}}
	if project != "" {
		doc["project"] = map[string]any{"id": project, "name": project}
	}
	rs := []map[string]string{}
	for _, r := range roles {
		rs = append(rs, map[string]string{"id": r + "-id", "name": r})
	}
	doc["roles"] = rs
	b, _ := json.Marshal(map[string]any{"token": doc})
	f.mu.Lock()
	f.tokens[token] = string(b)
	f.mu.Unlock()
}

func (f *fakeKeystone) revokeServiceTokens() {
	f.mu.Lock()
	f.svcCurrent = map[string]bool{}
	f.mu.Unlock()
}

func (f *fakeKeystone) set(fn func(f *fakeKeystone)) {
	f.mu.Lock()
	fn(f)
	f.mu.Unlock()
}

func (f *fakeKeystone) serve(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/v3/auth/tokens" {
		http.NotFound(w, r)
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	switch r.Method {
	case http.MethodPost:
		n := f.posts.Add(1)
		var body struct {
			Auth struct {
				Identity struct {
					Methods  []string
					Password struct {
						User struct {
							Name, Password string
							Domain         struct{ Name string }
						}
					}
				}
				Scope struct {
					Project struct {
						Name   string
						Domain struct{ Name string }
					}
				}
			}
		}
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		u := body.Auth.Identity.Password.User
		p := body.Auth.Scope.Project
		if f.refuseSvc || u.Name != "glance" || u.Password != svcPassword || u.Domain.Name != "Default" ||
			p.Name != "service" || p.Domain.Name != "Default" {
			http.Error(w, `{"error": {"code": 401}}`, http.StatusUnauthorized)
			return
		}
		tok := fmt.Sprintf("svc-token-%d-abcdefghijklmnop", n)
		f.svcCurrent[tok] = true
		w.Header().Set("X-Subject-Token", tok)
		w.WriteHeader(http.StatusCreated)
		fmt.Fprintf(w, `{"token": {"expires_at": %q, "user": {"id": "glance-id"}, "project": {"id": "service-id"}, "roles": [{"name": "service"}]}}`,
			f.now().Add(f.svcTTL).UTC().Format(time.RFC3339))
	case http.MethodGet:
		f.gets.Add(1)
		if _, ok := r.URL.Query()["nocatalog"]; !ok {
			f.t.Errorf("validation without ?nocatalog: %s", r.URL)
		}
		if d := f.delay; d > 0 {
			f.mu.Unlock()
			time.Sleep(d)
			f.mu.Lock()
		}
		if f.status != 0 {
			w.WriteHeader(f.status)
			return
		}
		if !f.svcCurrent[r.Header.Get("X-Auth-Token")] {
			http.Error(w, `{"error": {"code": 401, "message": "The request you have made requires authentication."}}`, http.StatusUnauthorized)
			return
		}
		doc, ok := f.tokens[r.Header.Get("X-Subject-Token")]
		if !ok {
			// Real Keystone quotes the token in some messages: so does
			// the fake, to check that bodies never reach logs.
			http.Error(w, fmt.Sprintf(`{"error": {"code": 404, "message": "Could not find token: %s."}}`, r.Header.Get("X-Subject-Token")), http.StatusNotFound)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(doc))
	default:
		w.WriteHeader(http.StatusMethodNotAllowed)
	}
}

// clock is a settable time.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// logBuffer is a concurrency-safe log sink.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}
func (l *logBuffer) String() string { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }

type ksEnv struct {
	ks    *fakeKeystone
	k     *Keystone
	clock *clock
	log   *logBuffer
}

func newKsEnv(t *testing.T, mod func(o *KeystoneOptions)) *ksEnv {
	t.Helper()
	c := &clock{t: time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)}
	e := &ksEnv{ks: newFakeKeystone(t, c.now), clock: c, log: &logBuffer{}}
	o := KeystoneOptions{
		AuthURL: e.ks.url(), Username: "glance", Password: svcPassword, ProjectName: "service",
		CacheTTL: 5 * time.Minute, CacheSize: 100, Timeout: 2 * time.Second, Now: c.now,
		Logger: hclog.New(&hclog.LoggerOptions{Output: e.log, Level: hclog.Trace}),
	}
	if mod != nil {
		mod(&o)
	}
	k, err := NewKeystone(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	e.k = k
	return e
}

func (e *ksEnv) validate(tok string) (api.Identity, error) {
	return e.k.Validate(context.Background(), tok)
}

const (
	userTok  = "gAAAAABuser-token-fernet-like_0123456789-abcdefghijklmnopqrstuvwxyz="
	adminTok = "gAAAAABadmin-token-fernet-like_0123456789-abcdefghijklmnopqrstuvwx="
)

func TestKeystoneIdentity(t *testing.T) {
	e := newKsEnv(t, nil)
	exp := e.clock.now().Add(time.Hour)
	e.ks.addToken(userTok, "u-demo", "p-demo", exp, "member", "reader")
	e.ks.addToken(adminTok, "u-admin", "p-admin", exp, "admin", "member")
	e.ks.addToken("unscoped-token-0123456789", "u-demo", "", exp)
	tests := []struct {
		tok  string
		want api.Identity
	}{
		{userTok, api.Identity{UserID: "u-demo", ProjectID: "p-demo", Roles: []string{"member", "reader"}}},
		{adminTok, api.Identity{UserID: "u-admin", ProjectID: "p-admin", Roles: []string{"admin", "member"}, IsAdmin: true}},
		{"unscoped-token-0123456789", api.Identity{UserID: "u-demo", Roles: []string{}}},
	}
	for _, tc := range tests {
		id, err := e.validate(tc.tok)
		if err != nil {
			t.Fatalf("%s: %v", tc.want.UserID, err)
		}
		if id.UserID != tc.want.UserID || id.ProjectID != tc.want.ProjectID || id.IsAdmin != tc.want.IsAdmin ||
			strings.Join(id.Roles, ",") != strings.Join(tc.want.Roles, ",") {
			t.Errorf("identity = %+v, want %+v", id, tc.want)
		}
	}
	if n := e.ks.posts.Load(); n != 1 {
		t.Errorf("%d service authentications, want 1 (the service token is reused)", n)
	}
	// Cached: no new validation.
	gets := e.ks.gets.Load()
	for i := 0; i < 5; i++ {
		if _, err := e.validate(userTok); err != nil {
			t.Fatal(err)
		}
	}
	if e.ks.gets.Load() != gets {
		t.Errorf("cached token validated again: %d → %d", gets, e.ks.gets.Load())
	}
	if e.k.Challenge() != fmt.Sprintf(`Keystone uri=%q`, e.ks.srv.URL) {
		t.Errorf("Challenge = %q", e.k.Challenge())
	}
}

// TestKeystoneUnauthenticated: what is a 401, and which of those never
// reach Keystone.
func TestKeystoneUnauthenticated(t *testing.T) {
	e := newKsEnv(t, nil)
	e.ks.addToken("expired-token-0123456789", "u", "p", e.clock.now().Add(-time.Second), "member")
	tests := []struct {
		name       string
		tok        string
		askesKeyst bool
	}{
		{"no token", "", false},
		{"space", "abc def-0123456789", false},
		{"newline", "abc\ndef", false},
		{"non-ASCII", "tökén-0123456789abcdef", false},
		{"quote", `abc"def`, false},
		{"absurd length", strings.Repeat("a", MaxTokenLength+1), false},
		{"unknown to keystone", "gAAAAAB-unknown-0123456789", true},
		{"expired", "expired-token-0123456789", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := e.ks.gets.Load()
			_, err := e.validate(tc.tok)
			if !errors.Is(err, api.ErrUnauthenticated) {
				t.Fatalf("err = %v, want ErrUnauthenticated", err)
			}
			if asked := e.ks.gets.Load() != before; asked != tc.askesKeyst {
				t.Errorf("asked keystone: %v, want %v", asked, tc.askesKeyst)
			}
		})
	}
	// A maximal well-formed token is still asked about.
	if _, err := e.validate(strings.Repeat("a", MaxTokenLength)); !errors.Is(err, api.ErrUnauthenticated) {
		t.Errorf("long token: %v", err)
	}
}

// TestKeystoneUnavailable: every failure of Keystone itself is a 503
// (an error not wrapping ErrUnauthenticated), never access.
func TestKeystoneUnavailable(t *testing.T) {
	deadAddr := func() string {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		return "http://" + l.Addr().String() + "/v3"
	}()
	tests := []struct {
		name string
		opts func(o *KeystoneOptions)
		ks   func(f *fakeKeystone)
		want string
	}{
		{"500", nil, func(f *fakeKeystone) { f.status = 500 }, "unexpected HTTP 500"},
		{"503", nil, func(f *fakeKeystone) { f.status = 503 }, "unexpected HTTP 503"},
		{"403: service user may not validate", nil, func(f *fakeKeystone) { f.status = 403 }, "may not validate tokens"},
		{"service credentials refused", nil, func(f *fakeKeystone) { f.refuseSvc = true }, "refused the service credentials"},
		{"wrong password", func(o *KeystoneOptions) { o.Password = "wrong-password-123" }, nil, "refused the service credentials"},
		{"timeout", func(o *KeystoneOptions) { o.Timeout = 100 * time.Millisecond }, func(f *fakeKeystone) { f.delay = time.Second }, "Timeout"},
		{"unreachable", func(o *KeystoneOptions) { o.AuthURL = deadAddr }, nil, "connection refused"},
		{"garbage document", nil, nil, "decoding a token document"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newKsEnv(t, tc.opts)
			e.ks.addToken(userTok, "u", "p", e.clock.now().Add(time.Hour), "member")
			if tc.name == "garbage document" {
				e.ks.set(func(f *fakeKeystone) { f.tokens[userTok] = "{not json" })
			}
			if tc.ks != nil {
				e.ks.set(tc.ks)
			}
			id, err := e.validate(userTok)
			if err == nil || errors.Is(err, api.ErrUnauthenticated) {
				t.Fatalf("Validate = %+v, %v; want an error that is not ErrUnauthenticated", id, err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want it to contain %q", err, tc.want)
			}
			for _, secret := range []string{svcPassword, "wrong-password-123", userTok, "svc-token-"} {
				if strings.Contains(err.Error(), secret) || strings.Contains(e.log.String(), secret) {
					t.Errorf("a secret (%.12s…) is in the error or the log:\n%v\n%s", secret, err, e.log)
				}
			}
		})
	}
}

func TestKeystoneCacheTTLAndExpiry(t *testing.T) {
	e := newKsEnv(t, func(o *KeystoneOptions) { o.CacheTTL = time.Minute })
	e.ks.addToken(userTok, "u", "p", e.clock.now().Add(90*time.Second), "member")
	mustValid := func(what string) {
		t.Helper()
		if _, err := e.validate(userTok); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	mustValid("first")
	gets := e.ks.gets.Load()
	e.clock.add(59 * time.Second)
	mustValid("within the TTL")
	if e.ks.gets.Load() != gets {
		t.Error("validated again within the cache TTL")
	}
	// Revoked in Keystone: seen once the TTL has passed.
	e.ks.set(func(f *fakeKeystone) { delete(f.tokens, userTok) })
	e.clock.add(2 * time.Second)
	if _, err := e.validate(userTok); !errors.Is(err, api.ErrUnauthenticated) {
		t.Fatalf("revoked token after the TTL: %v", err)
	}
	// A token expiring before the TTL is cached only until it expires.
	e.ks.addToken(adminTok, "a", "p", e.clock.now().Add(10*time.Second), "admin")
	if _, err := e.validate(adminTok); err != nil {
		t.Fatal(err)
	}
	e.clock.add(11 * time.Second)
	if _, err := e.validate(adminTok); !errors.Is(err, api.ErrUnauthenticated) {
		t.Fatalf("token past its expires_at: %v", err)
	}
}

func TestKeystoneNoCache(t *testing.T) {
	e := newKsEnv(t, func(o *KeystoneOptions) { o.CacheTTL = 0 })
	e.ks.addToken(userTok, "u", "p", e.clock.now().Add(time.Hour), "member")
	for i := 0; i < 3; i++ {
		if _, err := e.validate(userTok); err != nil {
			t.Fatal(err)
		}
	}
	if n := e.ks.gets.Load(); n != 3 {
		t.Errorf("%d validations, want 3 (no cache)", n)
	}
}

func TestKeystoneCacheBound(t *testing.T) {
	e := newKsEnv(t, func(o *KeystoneOptions) { o.CacheSize = 3 })
	exp := e.clock.now().Add(time.Hour)
	for i := 0; i < 20; i++ {
		tok := fmt.Sprintf("token-%02d-0123456789abcdef", i)
		e.ks.addToken(tok, "u", "p", exp, "member")
		if _, err := e.validate(tok); err != nil {
			t.Fatal(err)
		}
		if n := e.k.cache.len(); n > 3 {
			t.Fatalf("cache holds %d tokens, bound 3", n)
		}
	}
	// The three most recent are cached, the first is not.
	gets := e.ks.gets.Load()
	for i := 17; i < 20; i++ {
		e.validate(fmt.Sprintf("token-%02d-0123456789abcdef", i))
	}
	if e.ks.gets.Load() != gets {
		t.Error("a recent token was evicted")
	}
	e.validate("token-00-0123456789abcdef")
	if e.ks.gets.Load() != gets+1 {
		t.Error("the oldest token was not evicted")
	}
}

func TestKeystoneServiceTokenRenewal(t *testing.T) {
	t.Run("on a 401 from keystone, once", func(t *testing.T) {
		e := newKsEnv(t, func(o *KeystoneOptions) { o.CacheTTL = 0 })
		e.ks.addToken(userTok, "u", "p", e.clock.now().Add(time.Hour), "member")
		if _, err := e.validate(userTok); err != nil {
			t.Fatal(err)
		}
		e.ks.revokeServiceTokens()
		if _, err := e.validate(userTok); err != nil {
			t.Fatalf("after the service token was revoked: %v", err)
		}
		if n := e.ks.posts.Load(); n != 2 {
			t.Errorf("%d service authentications, want 2", n)
		}
		// Keystone keeps refusing (401 with a fresh service token): the
		// subject token is what it refuses, and it re-authenticates once.
		e.ks.set(func(f *fakeKeystone) { f.status = 401 })
		if _, err := e.validate(userTok); !errors.Is(err, api.ErrUnauthenticated) {
			t.Fatalf("persistent 401: %v", err)
		}
		if n := e.ks.posts.Load(); n != 3 {
			t.Errorf("%d service authentications, want 3 (one more, not a loop)", n)
		}
	})
	t.Run("near its expiry", func(t *testing.T) {
		e := newKsEnv(t, func(o *KeystoneOptions) { o.CacheTTL = 0 })
		e.ks.set(func(f *fakeKeystone) { f.svcTTL = 10 * time.Minute })
		e.ks.addToken(userTok, "u", "p", e.clock.now().Add(time.Hour), "member")
		e.validate(userTok)
		e.clock.add(8 * time.Minute)
		e.validate(userTok)
		if n := e.ks.posts.Load(); n != 1 {
			t.Errorf("%d service authentications 8 minutes into 10, want 1", n)
		}
		e.clock.add(90 * time.Second) // 30s left: renew
		if _, err := e.validate(userTok); err != nil {
			t.Fatal(err)
		}
		if n := e.ks.posts.Load(); n != 2 {
			t.Errorf("%d service authentications 30s before expiry, want 2", n)
		}
	})
	t.Run("after keystone comes back", func(t *testing.T) {
		e := newKsEnv(t, func(o *KeystoneOptions) { o.CacheTTL = 0 })
		e.ks.addToken(userTok, "u", "p", e.clock.now().Add(time.Hour), "member")
		e.ks.set(func(f *fakeKeystone) { f.refuseSvc = true })
		if err := e.k.Check(context.Background()); err == nil {
			t.Fatal("Check with refused credentials: no error")
		}
		e.ks.set(func(f *fakeKeystone) { f.refuseSvc = false })
		// Within a second of the failure it is returned without asking.
		posts := e.ks.posts.Load()
		if _, err := e.validate(userTok); err == nil || errors.Is(err, api.ErrUnauthenticated) {
			t.Fatalf("right after the failure: %v", err)
		}
		if e.ks.posts.Load() != posts {
			t.Error("asked keystone again within serviceRetry of a failure")
		}
		e.clock.add(serviceRetry)
		if _, err := e.validate(userTok); err != nil {
			t.Fatalf("after the credentials work again: %v", err)
		}
	})
}

// TestKeystoneNoSecretsInLogs runs the API with Keystone auth through
// valid, invalid and failing cases, with the API's and the
// authenticator's logs captured, and checks that neither the service
// password nor any token appears in them or in the answers.
func TestKeystoneNoSecretsInLogs(t *testing.T) {
	e := newKsEnv(t, func(o *KeystoneOptions) { o.Now = nil; o.Timeout = 200 * time.Millisecond })
	e.ks.now = time.Now
	e.ks.addToken(userTok, "u", "p", time.Now().Add(time.Hour), "member")
	e.ks.addToken(adminTok, "a", "p", time.Now().Add(-time.Minute), "admin")
	logger := hclog.New(&hclog.LoggerOptions{Output: e.log, Level: hclog.Trace})
	h := api.New(api.Options{Logger: logger, Authenticate: e.k.Authenticate, AuthChallenge: e.k.Challenge()})
	do := func(tok string) *httptest.ResponseRecorder {
		r := httptest.NewRequest("GET", "/v2/schemas/image", nil)
		if tok != "" {
			r.Header.Set(TokenHeader, tok)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	steps := []struct {
		name   string
		tok    string
		setup  func(f *fakeKeystone)
		status int
	}{
		{"valid", userTok, nil, 200},
		{"no token", "", nil, 401},
		{"unknown", "gAAAAAB-unknown-token-0123456789", nil, 401},
		{"expired", adminTok, nil, 401},
		{"malformed", "bad token with spaces", nil, 401},
		{"keystone 500", "gAAAAAB-other-token-0123456789", func(f *fakeKeystone) { f.status = 500 }, 503},
		{"keystone slow", "gAAAAAB-other-token-0123456789", func(f *fakeKeystone) { f.status = 0; f.delay = time.Second }, 503},
		{"service token revoked and credentials refused", "gAAAAAB-other-token-0123456789", func(f *fakeKeystone) {
			f.delay = 0
			f.refuseSvc = true
			f.svcCurrent = map[string]bool{}
		}, 503},
	}
	for _, s := range steps {
		if s.setup != nil {
			e.ks.set(s.setup)
		}
		w := do(s.tok)
		if w.Code != s.status {
			t.Errorf("%s: status %d, want %d: %s", s.name, w.Code, s.status, w.Body)
		}
		if s.status == 401 && w.Header().Get("WWW-Authenticate") != e.k.Challenge() {
			t.Errorf("%s: WWW-Authenticate %q", s.name, w.Header().Get("WWW-Authenticate"))
		}
		for _, secret := range []string{svcPassword, userTok, adminTok, "unknown-token", "other-token", "svc-token-"} {
			if strings.Contains(w.Body.String(), secret) {
				t.Errorf("%s: the answer shows a secret (%.12s…): %s", s.name, secret, w.Body)
			}
		}
	}
	logs := e.log.String()
	if !strings.Contains(logs, "ERROR") || !strings.Contains(logs, "refused the service credentials") {
		t.Errorf("the causes of the 503s are not logged at ERROR:\n%s", logs)
	}
	for _, secret := range []string{svcPassword, userTok, adminTok, "unknown-token", "other-token", "svc-token-"} {
		if strings.Contains(logs, secret) {
			t.Errorf("the log shows a secret (%.12s…):\n%s", secret, logs)
		}
	}
}

func TestParseExpiry(t *testing.T) {
	want := time.Date(2026, 11, 26, 15, 35, 52, 0, time.UTC)
	for _, tc := range []struct {
		in string
		ok bool
	}{
		{"2026-11-26T15:35:52.000000Z", true},
		{"2026-11-26T15:35:52Z", true},
		{"2026-11-26T16:35:52+01:00", true},
		{"2026-11-26T15:35:52", true},        // an application credential's token
		{"2026-11-26T15:35:52.000000", true}, // the same with microseconds
		{"", false},
		{"tomorrow", false},
	} {
		got, err := parseExpiry(tc.in)
		if tc.ok != (err == nil) || (tc.ok && !got.Equal(want)) {
			t.Errorf("parseExpiry(%q) = %v, %v", tc.in, got, err)
		}
	}
}

// TestKeystoneHangingFailsFast: Keystone accepting connections but never
// answering costs one timeout, not one per request queued behind the
// service token.
func TestKeystoneHangingFailsFast(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var held []net.Conn
	var mu sync.Mutex
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			held = append(held, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range held {
			c.Close()
		}
		mu.Unlock()
	})
	k, err := NewKeystone(context.Background(), KeystoneOptions{
		AuthURL: "http://" + ln.Addr().String() + "/v3", Username: "glance", Password: svcPassword, ProjectName: "service",
		CacheTTL: time.Minute, Timeout: 300 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	var wg sync.WaitGroup
	for i := 0; i < 10; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := k.Validate(context.Background(), userTok); err == nil || errors.Is(err, api.ErrUnauthenticated) {
				t.Errorf("hanging keystone: %v", err)
			}
		}()
	}
	wg.Wait()
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("10 requests took %v with a 300ms timeout: they queue one timeout each", d)
	}
}

// TestKeystoneConcurrentFirstUse: a burst of requests with one new token
// asks Keystone once, and a caller that gives up does not fail the others.
func TestKeystoneConcurrentFirstUse(t *testing.T) {
	e := newKsEnv(t, func(o *KeystoneOptions) { o.CacheTTL = 0 })
	e.ks.addToken(userTok, "u", "p", e.clock.now().Add(time.Hour), "member", "reader")
	if err := e.k.Check(context.Background()); err != nil {
		t.Fatal(err)
	}
	e.ks.set(func(f *fakeKeystone) { f.delay = time.Second })
	gone, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := range 8 {
		ctx := context.Background()
		if i == 0 {
			ctx = gone
		}
		wg.Go(func() {
			id, err := e.k.Validate(ctx, userTok)
			if err == nil && (id.ProjectID != "p" || len(id.Roles) != 2) {
				err = fmt.Errorf("identity %+v", id)
			}
			errs <- err
		})
	}
	time.Sleep(50 * time.Millisecond)
	cancel()
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if n := e.ks.gets.Load(); n != 1 {
		t.Errorf("%d validations for 8 concurrent first uses, want 1", n)
	}
}

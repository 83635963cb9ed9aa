//go:build integration

package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

// The Keystone tests run glance-api in auth mode keystone against a real
// Keystone: KEYSTONE_URL (its v3 endpoint) and KEYSTONE_PASSWORD (of the
// accounts below) as scripts/keystone.sh exports them. Without KEYSTONE_URL
// they fail: these files are the integration tier (build tag integration).
// scripts/integration/60-keystone.sh runs them.
//
// Accounts (scripts/keystone.sh): admin (project admin), demo (project
// demo: member, reader), norole (project demo: only the role "observer"),
// glance (project service: admin, service; glance-api's service user).
type keystoneService struct {
	url, password string
	client        *http.Client
}

func needKeystone(t *testing.T) keystoneService {
	t.Helper()
	ks := keystoneService{strings.TrimRight(os.Getenv("KEYSTONE_URL"), "/"), os.Getenv("KEYSTONE_PASSWORD"), &http.Client{Timeout: 30 * time.Second}}
	if ks.url == "" {
		t.Fatal("KEYSTONE_URL is not set: no Keystone to test against (eval \"$(scripts/keystone.sh up /tmp/keystone)\")")
	}
	if ks.password == "" {
		t.Fatal("KEYSTONE_URL is set but KEYSTONE_PASSWORD is not")
	}
	return ks
}

// token authenticates user by password and returns the token and its
// document. project "" asks for an unscoped token.
func (ks keystoneService) token(t *testing.T, user, project string) (string, map[string]any) {
	t.Helper()
	auth := map[string]any{"identity": map[string]any{"methods": []string{"password"}, "password": map[string]any{
		"user": map[string]any{"name": user, "domain": map[string]string{"name": "Default"}, "password": ks.password},
	}}}
	if project != "" {
		auth["scope"] = map[string]any{"project": map[string]any{"name": project, "domain": map[string]string{"name": "Default"}}}
	}
	return ks.issue(t, map[string]any{"auth": auth})
}

func (ks keystoneService) issue(t *testing.T, body any) (string, map[string]any) {
	t.Helper()
	js, _ := json.Marshal(body)
	resp, err := ks.client.Post(ks.url+"/auth/tokens?nocatalog", "application/json", bytes.NewReader(js))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("keystone: POST /auth/tokens: %d %s", resp.StatusCode, b)
	}
	var doc struct {
		Token map[string]any `json:"token"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	return resp.Header.Get("X-Subject-Token"), doc.Token
}

// call sends an authenticated request to Keystone and decodes the answer
// into out (when not nil); it fails the test unless the status is want.
func (ks keystoneService) call(t *testing.T, token, method, path string, body any, want int, out any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		js, _ := json.Marshal(body)
		rd = bytes.NewReader(js)
	}
	req, _ := http.NewRequest(method, ks.url+path, rd)
	req.Header.Set("X-Auth-Token", token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := ks.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		t.Fatalf("keystone: %s %s: %d %s, want %d", method, path, resp.StatusCode, b, want)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatal(err)
		}
	}
}

// revoke revokes token in Keystone (DELETE /v3/auth/tokens, as the admin).
func (ks keystoneService) revoke(t *testing.T, token string) {
	t.Helper()
	admin, _ := ks.token(t, "admin", "admin")
	req, _ := http.NewRequest(http.MethodDelete, ks.url+"/auth/tokens", nil)
	req.Header.Set("X-Auth-Token", admin)
	req.Header.Set("X-Subject-Token", token)
	resp, err := ks.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("keystone: revoking a token: %d", resp.StatusCode)
	}
}

func docID(doc map[string]any, key string) string {
	m, _ := doc[key].(map[string]any)
	s, _ := m["id"].(string)
	return s
}

// startKeystoneGlance runs glance-api in auth mode keystone against
// authURL, the service credentials passed through env() as in
// examples/deploy/keystone.hcl. Any secret found in its log fails the test.
func startKeystoneGlance(t *testing.T, ks keystoneService, authURL, extra string, secrets ...*[]string) *server {
	t.Helper()
	s := startServerWith(t, Options{
		Auth: fmt.Sprintf(`auth {
  mode = "keystone"
  keystone {
    auth_url     = env("GLANCE_TEST_OS_AUTH_URL")
    username     = "glance"
    password     = env("GLANCE_TEST_SERVICE_PASSWORD")
    project_name = "service"
    timeout      = "2s"
%s  }
}
`, extra),
		Env: []string{"GLANCE_TEST_OS_AUTH_URL=" + authURL, "GLANCE_TEST_SERVICE_PASSWORD=" + ks.password},
	})
	// Cleanups run last-in first-out, so this one stops the server itself
	// first: the log must be complete.
	t.Cleanup(func() {
		s.stop()
		log := s.log.String()
		for _, list := range secrets {
			for _, sec := range *list {
				if sec != "" && strings.Contains(log, sec) {
					t.Errorf("glance-api's log shows a token or the password (%.8s…)", sec)
				}
			}
		}
		if strings.Contains(log, "password="+ks.password) || strings.Contains(log, `"`+ks.password+`"`) {
			t.Errorf("glance-api's log shows the service password")
		}
	})
	return s
}

// get sends GET path with token (none if "") and returns the status, the
// WWW-Authenticate header and the body.
func (s *server) getWithToken(path, token string) (int, string, []byte) {
	s.t.Helper()
	hdr := map[string]string{}
	if token != "" {
		hdr["X-Auth-Token"] = token
	}
	resp := s.do("GET", path, nil, hdr)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("WWW-Authenticate"), b
}

func wantStatus(t *testing.T, what string, got, want int, body []byte) {
	t.Helper()
	if got != want {
		t.Errorf("%s: status %d, want %d: %s", what, got, want, body)
	}
}

// TestKeystoneValidToken: a demo token gives 200, and glance-api sees the
// token's project: an image created with it is owned by project demo.
func TestKeystoneValidToken(t *testing.T) {
	ks := needKeystone(t)
	var secrets []string
	s := startKeystoneGlance(t, ks, ks.url, "", &secrets)
	tok, doc := ks.token(t, "demo", "demo")
	secrets = append(secrets, tok, ks.password)
	project := docID(doc, "project")
	if project == "" {
		t.Fatalf("demo token without a project: %v", doc)
	}
	code, _, body := s.getWithToken("/v2/images", tok)
	wantStatus(t, "GET /v2/images with a demo token", code, 200, body)

	resp := s.do("POST", "/v2/images", strings.NewReader(`{"name": "ks-demo", "disk_format": "raw", "container_format": "bare"}`),
		map[string]string{"X-Auth-Token": tok, "Content-Type": "application/json"})
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("POST /v2/images: %d %s", resp.StatusCode, b)
	}
	var img struct{ ID, Owner string }
	json.Unmarshal(b, &img)
	if img.Owner != project {
		t.Errorf("image owner %q, want the token's project %q", img.Owner, project)
	}
	// Another project's member does not see it; the admin does.
	adminTok, _ := ks.token(t, "admin", "admin")
	secrets = append(secrets, adminTok)
	code, _, body = s.getWithToken("/v2/images/"+img.ID, adminTok)
	wantStatus(t, "admin GET of demo's private image", code, 200, body)
}

// TestKeystoneInvalidToken: unknown, malformed and missing tokens are 401
// with WWW-Authenticate naming Keystone.
func TestKeystoneInvalidToken(t *testing.T) {
	ks := needKeystone(t)
	var secrets []string
	s := startKeystoneGlance(t, ks, ks.url, "", &secrets)
	wantChallenge := fmt.Sprintf("Keystone uri=%q", strings.TrimSuffix(ks.url, "/v3"))
	for _, tc := range []struct{ name, tok string }{
		{"unknown Fernet-looking token", "gAAAAABnot-a-real-token-0123456789abcdefghijklmnopqrstuvwxyz"},
		{"garbage", "garbage"},
		{"malformed (spaces)", "not a token"},
		{"absurd length", strings.Repeat("A", 20000)},
		{"no token", ""},
	} {
		code, challenge, body := s.getWithToken("/v2/images", tc.tok)
		wantStatus(t, tc.name, code, 401, body)
		if challenge != wantChallenge {
			t.Errorf("%s: WWW-Authenticate %q, want %q", tc.name, challenge, wantChallenge)
		}
	}
}

// TestKeystoneRevokedToken: a token revoked before its first use is 401;
// one revoked after use is 401 once cache_ttl has passed.
func TestKeystoneRevokedToken(t *testing.T) {
	ks := needKeystone(t)
	var secrets []string
	s := startKeystoneGlance(t, ks, ks.url, "    cache_ttl    = \"2s\"\n", &secrets)

	tok, _ := ks.token(t, "demo", "demo")
	secrets = append(secrets, tok)
	ks.revoke(t, tok)
	code, _, body := s.getWithToken("/v2/images", tok)
	wantStatus(t, "token revoked before first use", code, 401, body)

	tok2, _ := ks.token(t, "demo", "demo")
	secrets = append(secrets, tok2)
	code, _, body = s.getWithToken("/v2/images", tok2)
	wantStatus(t, "token before revocation", code, 200, body)
	ks.revoke(t, tok2)
	time.Sleep(2500 * time.Millisecond)
	code, _, body = s.getWithToken("/v2/images", tok2)
	wantStatus(t, "token revoked after use, cache_ttl passed", code, 401, body)
}

// TestKeystoneExpiredToken: a real token that expires a few seconds after
// it is issued (from a Keystone application credential with a short
// expires_at: Keystone caps the token's expiry at the credential's) is 200
// before and 401 after its expiry, although glance-api's cache_ttl (5m,
// the default) is much longer.
func TestKeystoneExpiredToken(t *testing.T) {
	ks := needKeystone(t)
	var secrets []string
	s := startKeystoneGlance(t, ks, ks.url, "", &secrets)
	demo, doc := ks.token(t, "demo", "demo")
	secrets = append(secrets, demo)
	user := docID(doc, "user")
	var ac struct {
		Cred struct {
			ID     string `json:"id"`
			Secret string `json:"secret"`
		} `json:"application_credential"`
	}
	expiry := time.Now().Add(6 * time.Second).UTC()
	ks.call(t, demo, "POST", "/users/"+user+"/application_credentials", map[string]any{"application_credential": map[string]any{
		"name": fmt.Sprintf("glance-e2e-%d", time.Now().UnixNano()), "expires_at": expiry.Format("2006-01-02T15:04:05"),
	}}, http.StatusCreated, &ac)
	secrets = append(secrets, ac.Cred.Secret)
	tok, tdoc := ks.issue(t, map[string]any{"auth": map[string]any{"identity": map[string]any{
		"methods":                []string{"application_credential"},
		"application_credential": map[string]string{"id": ac.Cred.ID, "secret": ac.Cred.Secret},
	}}})
	secrets = append(secrets, tok)
	// Keystone writes the credential's expiry without a zone (UTC).
	exp, err := time.Parse(time.RFC3339Nano, tdoc["expires_at"].(string))
	if err != nil {
		exp, err = time.ParseInLocation("2006-01-02T15:04:05.999999999", tdoc["expires_at"].(string), time.UTC)
	}
	if err != nil || exp.After(expiry.Add(time.Second)) {
		t.Fatalf("the application credential's token expires at %v (%v), not by %v", tdoc["expires_at"], err, expiry)
	}
	code, _, body := s.getWithToken("/v2/images", tok)
	wantStatus(t, "short-lived token before its expiry", code, 200, body)
	time.Sleep(time.Until(exp) + 1500*time.Millisecond)
	code, _, body = s.getWithToken("/v2/images", tok)
	wantStatus(t, "token after its expires_at", code, 401, body)
}

// TestKeystoneNoRoleOrUnscoped: valid tokens that carry no usable role
// (an unscoped token; a user whose only role on its project is
// unrelated) authenticate but are refused by the policy: 403.
func TestKeystoneNoRoleOrUnscoped(t *testing.T) {
	ks := needKeystone(t)
	var secrets []string
	s := startKeystoneGlance(t, ks, ks.url, "", &secrets)
	unscoped, _ := ks.token(t, "demo", "")
	noRole, doc := ks.token(t, "norole", "demo")
	secrets = append(secrets, unscoped, noRole)
	if docID(doc, "project") == "" {
		t.Fatalf("norole's token has no project: %v", doc)
	}
	code, _, body := s.getWithToken("/v2/images", unscoped)
	wantStatus(t, "unscoped token", code, 403, body)
	code, _, body = s.getWithToken("/v2/images", noRole)
	wantStatus(t, "token with only an unrelated role", code, 403, body)
}

// tcpProxy forwards loopback connections to target until Close, which
// also cuts the open ones: Keystone going away.
type tcpProxy struct {
	ln    net.Listener
	mu    sync.Mutex
	conns []net.Conn
}

func newTCPProxy(t *testing.T, target string) *tcpProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &tcpProxy{ln: ln}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			u, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, u)
			p.mu.Unlock()
			go func() { io.Copy(u, c); u.Close() }()
			go func() { io.Copy(c, u); c.Close() }()
		}
	}()
	t.Cleanup(p.Close)
	return p
}

func (p *tcpProxy) Close() {
	p.ln.Close()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

// TestKeystoneDown: with Keystone unreachable every token is a 503 (never
// a 200 and never open access), whether Keystone goes away while
// glance-api runs or was never there; the cause is logged at ERROR.
func TestKeystoneDown(t *testing.T) {
	ks := needKeystone(t)
	var secrets []string
	host := strings.TrimPrefix(strings.TrimPrefix(ks.url, "http://"), "https://")
	host, _, _ = strings.Cut(host, "/")

	proxy := newTCPProxy(t, host)
	s := startKeystoneGlance(t, ks, "http://"+proxy.ln.Addr().String()+"/v3", "    cache_ttl    = \"1s\"\n", &secrets)
	tok, _ := ks.token(t, "demo", "demo")
	fresh, _ := ks.token(t, "demo", "demo")
	secrets = append(secrets, tok, fresh)
	code, _, body := s.getWithToken("/v2/images", tok)
	wantStatus(t, "through the proxy, Keystone up", code, 200, body)
	proxy.Close()
	code, _, body = s.getWithToken("/v2/images", fresh)
	wantStatus(t, "Keystone gone, a token not seen before", code, 503, body)
	time.Sleep(1500 * time.Millisecond)
	code, _, body = s.getWithToken("/v2/images", tok)
	wantStatus(t, "Keystone gone, a token whose cache entry expired", code, 503, body)
	code, _, body = s.getWithToken("/v2/images", "gAAAAABnot-a-real-token-0123456789")
	wantStatus(t, "Keystone gone, an unknown token", code, 503, body)
	if !strings.Contains(s.log.String(), "[ERROR]") {
		t.Errorf("no ERROR logged for Keystone being unreachable:\n%s", s.log)
	}

	// Never there: a port nothing listens on.
	dead := "http://" + freeAddr(t) + "/v3"
	s2 := startKeystoneGlance(t, ks, dead, "", &secrets)
	code, _, body = s2.getWithToken("/v2/images", tok)
	wantStatus(t, "Keystone never reachable", code, 503, body)
	code, _, body = s2.getWithToken("/v2/images", "")
	wantStatus(t, "Keystone never reachable, no token", code, 401, body)
	if !strings.Contains(s2.log.String(), "connection refused") {
		t.Errorf("the cause (connection refused) is not logged:\n%s", s2.log)
	}
}

package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// store1 is a minimal valid store block (defined in config_test.go as well).

const secretToken = "s3cr3t-t0ken-value-0123456789"

func TestAuthTokens(t *testing.T) {
	t.Setenv("GLANCE_TEST_ALICE", secretToken)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "bob.token"), []byte("bob-token-from-a-file-0123\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, diags := Parse(src(store1,
		`auth {`,
		`  mode = "tokens"`,
		`  token {`,
		`    value   = env("GLANCE_TEST_ALICE")`,
		`    user    = "alice"`,
		`    project = "proj-a"`,
		`    roles   = ["member", "reader"]`,
		`  }`,
		`  token {`,
		`    value = file("bob.token")`,
		`    user  = "bob"`,
		`    roles = []`,
		`  }`,
		`}`), filepath.Join(dir, "c.hcl"))
	if diags.HasErrors() {
		t.Fatalf("Parse:\n%s", FormatDiagnostics(c.Files(), diags))
	}
	if c.Auth.Mode != "tokens" || len(c.Auth.Tokens) != 2 || c.Auth.Keystone != nil {
		t.Fatalf("Auth = %v", c.Auth.Tokens)
	}
	a, b := c.Auth.Tokens[0], c.Auth.Tokens[1]
	if a.Value != secretToken || a.User != "alice" || a.Project != "proj-a" || !reflect.DeepEqual(a.Roles, []string{"member", "reader"}) || a.DeclRange.Start.Line != 4 {
		t.Errorf("alice = %s", a)
	}
	if b.Value != "bob-token-from-a-file-0123" || b.User != "bob" || b.Project != "" || len(b.Roles) != 0 {
		t.Errorf("bob = %s", b)
	}
	if s := a.String(); strings.Contains(s, secretToken) {
		t.Errorf("String() shows the value: %s", s)
	}
}

func TestAuthKeystone(t *testing.T) {
	t.Setenv("GLANCE_TEST_PW", "hunter2-password")
	c := mustParse(t, src(store1,
		`auth {`,
		`  mode = "keystone"`,
		`  keystone {`,
		`    auth_url             = "https://ks.example.com/identity/v3"`,
		`    username             = "glance"`,
		`    password             = env("GLANCE_TEST_PW")`,
		`    project_name         = "service"`,
		`    user_domain_name     = "users"`,
		`    project_domain_name  = "projects"`,
		`    www_authenticate_uri = "https://ks.example.com/identity"`,
		`    cache_ttl            = "0s"`,
		`    cache_size           = 5`,
		`    timeout              = "250ms"`,
		`  }`,
		`}`))
	k := c.Auth.Keystone
	want := KeystoneConfig{
		AuthURL: "https://ks.example.com/identity/v3", Username: "glance", Password: "hunter2-password", ProjectName: "service",
		UserDomainName: "users", ProjectDomainName: "projects", WWWAuthenticateURI: "https://ks.example.com/identity",
		CacheTTL: 0, CacheSize: 5, Timeout: 250 * time.Millisecond, DeclRange: k.DeclRange,
	}
	if *k != want {
		t.Errorf("Keystone = %+v\nwant %+v", *k, want)
	}
	if strings.Contains(k.String(), "hunter2") {
		t.Errorf("String() shows the password: %s", k)
	}
}

func TestAuthErrors(t *testing.T) {
	t.Setenv("GLANCE_TEST_SHORT", "short-secret")
	t.Setenv("GLANCE_TEST_TOKEN", secretToken)
	t.Setenv("GLANCE_TEST_PW", "hunter2-password")
	tok := func(value string, extra ...string) []string {
		return append([]string{`  token {`, `    value = ` + value, `    user  = "u"`}, append(extra, `  }`)...)
	}
	auth := func(mode string, body ...[]string) []byte {
		lines := []string{store1, `auth {`, `  mode = "` + mode + `"`}
		for _, b := range body {
			lines = append(lines, b...)
		}
		return src(append(lines, `}`)...)
	}
	ks := func(attrs ...string) []string {
		base := map[string]string{"auth_url": `"http://127.0.0.1:5001/v3"`, "username": `"glance"`, "password": `env("GLANCE_TEST_PW")`, "project_name": `"service"`}
		lines := []string{`  keystone {`}
		for _, a := range attrs {
			name, val, _ := strings.Cut(a, "=")
			if val == "" {
				delete(base, name)
			} else {
				base[name] = val
			}
		}
		for _, n := range []string{"auth_url", "username", "password", "project_name", "cache_ttl", "cache_size", "timeout", "www_authenticate_uri"} {
			if v, ok := base[n]; ok {
				lines = append(lines, "    "+n+" = "+v)
			}
		}
		return append(lines, `  }`)
	}
	tests := []struct {
		name string
		src  []byte
		want []string
	}{
		{"tokens without token", auth("tokens"), []string{`file.hcl:3:10: error: No token declared`}},
		{"short token from env", auth("tokens", tok(`env("GLANCE_TEST_SHORT")`)),
			[]string{`file.hcl:4:3: error: Token value too short`, `The value at line 5 has 12 characters; a token needs at least 16`}},
		{"short literal token", auth("tokens", tok(`"tiny-secret"`)),
			[]string{`file.hcl:4:3: error: Token value too short`, `line 5`}},
		{"empty token", auth("tokens", tok(`""`)), []string{`file.hcl:4:3: error: Empty token value`}},
		{"token with newline", auth("tokens", tok(`"0123456789abcdef\n"`)), []string{`file.hcl:4:3: error: Invalid token value`}},
		{"duplicate token", auth("tokens", tok(`env("GLANCE_TEST_TOKEN")`), tok(`"`+secretToken+`"`)),
			[]string{`file.hcl:8:3: error: Duplicate token value`, `same value as the token of user "u" at file.hcl:4:3`}},
		{"token without user", auth("tokens", []string{`  token {`, `    value = env("GLANCE_TEST_TOKEN")`, `  }`}),
			[]string{`file.hcl:4:9: error: Missing required argument`, `"user"`}},
		{"token without value", auth("tokens", []string{`  token {`, `    user = "u"`, `  }`}),
			[]string{`file.hcl:4:9: error: Missing required argument`, `"value"`}},
		{"token env unset", auth("tokens", tok(`env("GLANCE_TEST_NOPE")`)),
			[]string{`file.hcl:5:13: error: Error in function call`, `"GLANCE_TEST_NOPE" is not set`}},
		{"roles not a list", auth("tokens", tok(`env("GLANCE_TEST_TOKEN")`, `    roles = "admin"`)),
			[]string{`file.hcl:7:13: error: Incorrect attribute value type`}},
		{"roles of objects", auth("tokens", tok(`env("GLANCE_TEST_TOKEN")`, `    roles = [{a = 1}]`)),
			[]string{`file.hcl:7:13: error: Incorrect attribute value type`}},
		{"empty role", auth("tokens", tok(`env("GLANCE_TEST_TOKEN")`, `    roles = ["member", ""]`)),
			[]string{`file.hcl:7:13: error: Invalid roles`}},
		{"empty user", auth("tokens", []string{`  token {`, `    value = env("GLANCE_TEST_TOKEN")`, `    user = ""`, `  }`}),
			[]string{`file.hcl:6:12: error: Invalid user`}},
		{"misspelt token attribute", auth("tokens", tok(`env("GLANCE_TEST_TOKEN")`, `    role = ["x"]`)),
			[]string{`file.hcl:7:5: error: Unsupported argument`, `Did you mean "roles"?`}},
		{"token block in noauth", auth("noauth", tok(`env("GLANCE_TEST_TOKEN")`)),
			[]string{`file.hcl:4:3: error: Unexpected token block`, `only with auth mode "tokens"`}},
		{"keystone without block", auth("keystone"), []string{`file.hcl:3:10: error: Missing keystone block`}},
		{"keystone block in tokens", auth("tokens", tok(`env("GLANCE_TEST_TOKEN")`), ks()),
			[]string{`file.hcl:8:3: error: Unexpected keystone block`}},
		{"two keystone blocks", auth("keystone", ks(), ks()), []string{`error: Duplicate keystone block`}},
		{"keystone without password", auth("keystone", ks("password=")),
			[]string{`file.hcl:4:12: error: Missing required argument`, `"password"`}},
		{"keystone empty password", auth("keystone", ks(`password=""`)),
			[]string{`file.hcl:4:3: error: Empty password`}},
		{"keystone without auth_url", auth("keystone", ks("auth_url=")),
			[]string{`error: Missing required argument`, `"auth_url"`}},
		{"keystone bad auth_url", auth("keystone", ks(`auth_url="127.0.0.1:5000"`)),
			[]string{`file.hcl:5:16: error: Invalid auth_url`}},
		{"keystone auth_url with credentials", auth("keystone", ks(`auth_url="http://u:p@h/v3"`)),
			[]string{`file.hcl:5:16: error: Invalid auth_url`}},
		{"keystone bad cache_ttl", auth("keystone", ks(`cache_ttl="5 minutes"`)),
			[]string{`file.hcl:9:17: error: Invalid duration`, `cache_ttl must be a duration`}},
		{"keystone negative cache_ttl", auth("keystone", ks(`cache_ttl="-1s"`)),
			[]string{`error: Invalid duration`}},
		{"keystone zero cache_size", auth("keystone", ks(`cache_size=0`)),
			[]string{`file.hcl:9:18: error: Invalid cache_size`}},
		{"keystone zero timeout", auth("keystone", ks(`timeout="0s"`)),
			[]string{`file.hcl:9:15: error: Invalid duration`}},
		{"keystone misspelt attribute", auth("keystone", append(ks()[:1], append([]string{`    user_name = "x"`}, ks()[1:]...)...)),
			[]string{`file.hcl:5:5: error: Unsupported argument`, `"user_name" is not expected here`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, diags := Parse(tc.src, "file.hcl")
			if !diags.HasErrors() {
				t.Fatalf("no error; want %q", tc.want)
			}
			got := FormatDiagnostics(c.Files(), diags)
			for _, w := range tc.want {
				if !strings.Contains(got, w) {
					t.Errorf("diagnostics do not contain %q:\n%s", w, got)
				}
			}
			for _, secret := range []string{secretToken, "short-secret", "tiny-secret", "hunter2"} {
				if strings.Contains(got, secret) {
					t.Errorf("diagnostics show a secret (%q):\n%s", secret, got)
				}
			}
		})
	}
}

package config

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"
)

// src joins lines, so that line N of the result is lines[N-1].
func src(lines ...string) []byte { return []byte(strings.Join(lines, "\n") + "\n") }

func mustParse(t *testing.T, b []byte) *Config {
	t.Helper()
	c, diags := Parse(b, "file.hcl")
	if diags.HasErrors() {
		t.Fatalf("Parse: unexpected diagnostics:\n%s", FormatDiagnostics(c.Files(), diags))
	}
	return c
}

func TestLoadGood(t *testing.T) {
	t.Setenv("GLANCE_TEST_DSN", "postgres://db/glance")
	c, diags := Load(filepath.Join("testdata", "good.hcl"))
	if diags.HasErrors() {
		t.Fatalf("Load:\n%s", FormatDiagnostics(c.Files(), diags))
	}
	if c.PluginDir != "bin" || c.Dir != "testdata" || c.Filename != filepath.Join("testdata", "good.hcl") {
		t.Errorf("PluginDir/Dir/Filename = %q %q %q", c.PluginDir, c.Dir, c.Filename)
	}
	want := APIConfig{Bind: "0.0.0.0:9393", PublicEndpoint: "https://glance.example.com"}
	if c.API != want {
		t.Errorf("API = %+v, want %+v", c.API, want)
	}
	if c.Registry != (RegistryConfig{Driver: "postgres", DSN: "postgres://db/glance"}) {
		t.Errorf("Registry = %+v", c.Registry)
	}
	if c.Auth.Mode != "keystone" || !c.Auth.AllowInsecure || c.Auth.Keystone == nil || len(c.Auth.Tokens) != 0 {
		t.Errorf("Auth = %+v", c.Auth)
	} else if k := *c.Auth.Keystone; k.AuthURL != "http://keystone.example.com:5000/v3" || k.WWWAuthenticateURI != "http://keystone.example.com:5000" ||
		k.Username != "glance" || k.Password == "" || k.ProjectName != "service" || k.UserDomainName != "Default" ||
		k.ProjectDomainName != "Default" || k.CacheTTL != time.Minute || k.CacheSize != 10000 || k.Timeout != 5*time.Second {
		t.Errorf("Auth.Keystone = %s %+v", k, k.DeclRange)
	}
	if c.Images != (ImagesConfig{SizeCap: 1 << 30, CacheControl: "no-cache"}) {
		t.Errorf("Images = %+v", c.Images)
	}
	if len(c.Stores) != 2 {
		t.Fatalf("%d stores", len(c.Stores))
	}
	local, s3 := c.Stores[0], c.Stores[1]
	if local.ID != "local" || local.Plugin != "filesystem" || local.Default || local.SHA256 != "" {
		t.Errorf("local = %+v", local)
	}
	if s3.ID != "s3-primary" || s3.Plugin != "s3" || !s3.Default ||
		s3.SHA256 != "9f2c000000000000000000000000000000000000000000000000000000000abc" {
		t.Errorf("s3 = %+v", s3)
	}
	if c.DefaultStore() != s3 || c.Store("local") != local || c.Store("nope") != nil {
		t.Error("DefaultStore/Store lookups wrong")
	}
	if s3.DeclRange.Start.Line != 37 || s3.ConfigRange.Start.Line != 41 {
		t.Errorf("s3 ranges: decl %v config %v", s3.DeclRange, s3.ConfigRange)
	}
}

func TestParseDefaults(t *testing.T) {
	c := mustParse(t, src(`store "only" {`, `  plugin = "filesystem"`, `}`))
	if c.PluginDir != "" {
		t.Errorf("PluginDir = %q", c.PluginDir)
	}
	if c.API != (APIConfig{Bind: "127.0.0.1:9292"}) {
		t.Errorf("API = %+v", c.API)
	}
	if c.Registry != (RegistryConfig{Driver: "sqlite", DSN: "data/glance.db"}) {
		t.Errorf("Registry = %+v", c.Registry)
	}
	if c.Auth.Mode != "noauth" || c.Auth.AllowInsecure || c.Auth.Tokens != nil || c.Auth.Keystone != nil {
		t.Errorf("Auth = %+v", c.Auth)
	}
	if c.Images != (ImagesConfig{SizeCap: 1099511627776}) {
		t.Errorf("Images = %+v", c.Images)
	}
	if d := c.DefaultStore(); d == nil || d.ID != "only" {
		t.Errorf("single store is not the default: %+v", d)
	}
	if c.Dir != "." {
		t.Errorf("Dir = %q", c.Dir)
	}
	if c.Stores[0].Config == nil || c.Stores[0].ConfigRange != (hcl.Range{}) {
		t.Errorf("absent config block: body %v range %v", c.Stores[0].Config, c.Stores[0].ConfigRange)
	}
}

const store1 = `store "a" { plugin = "filesystem" }`

func TestParseErrors(t *testing.T) {
	t.Setenv("GLANCE_TEST_SET", "x")
	tests := []struct {
		name string
		src  []byte
		want []string // substrings of the formatted diagnostics
	}{
		{"misspelt top-level attribute", src(store1, `plugin_dri = "bin"`),
			[]string{`file.hcl:2:1: error: Unsupported argument`, `Did you mean "plugin_dir"?`}},
		{"unknown top-level block", src(store1, ``, `apii {}`),
			[]string{`file.hcl:3:1: error: Unsupported block type`, `Did you mean "api"?`}},
		{"misspelt api attribute", src(store1, `api {`, `  bnd = "127.0.0.1:1"`, `}`),
			[]string{`file.hcl:3:3: error: Unsupported argument`, `"bnd" is not expected here. Did you mean "bind"?`}},
		{"misspelt registry attribute", src(store1, `registry { drivr = "sqlite" }`),
			[]string{`file.hcl:2:12: error: Unsupported argument`, `Did you mean "driver"?`}},
		{"misspelt auth attribute", src(store1, `auth {`, `  allow_insecur = true`, `}`),
			[]string{`file.hcl:3:3: error: Unsupported argument`}},
		{"misspelt images attribute", src(store1, `images {`, ``, `  sizecap = 1`, `}`),
			[]string{`file.hcl:4:3: error: Unsupported argument`, `Did you mean "size_cap"?`}},
		{"misspelt store attribute", src(`store "a" {`, `  plugin = "filesystem"`, `  defualt = true`, `}`),
			[]string{`file.hcl:3:3: error: Unsupported argument`, `Did you mean "default"?`}},
		{"unknown block in store", src(`store "a" {`, `  plugin = "filesystem"`, `  confg {}`, `}`),
			[]string{`file.hcl:3:3: error: Unsupported block type`}},
		{"store without plugin", src(`store "a" {`, `  default = true`, `}`),
			[]string{`file.hcl:1:11: error: Missing required argument`}},
		{"store without label", src(`store {`, `  plugin = "filesystem"`, `}`),
			[]string{`file.hcl:1:7: error: Missing name for store`}},
		{"duplicate store", src(store1, `store "a" {`, `  plugin = "filesystem"`, `}`),
			[]string{`file.hcl:2:7: error: Duplicate store`, `already declared at file.hcl:1:1`}},
		{"two defaults", src(`store "a" {`, `  plugin = "filesystem"`, `  default = true`, `}`,
			`store "b" {`, `  plugin = "filesystem"`, `  default = true`, `}`),
			[]string{`file.hcl:5:1: error: More than one default store`}},
		{"no default among several", src(store1, `store "b" { plugin = "filesystem" }`),
			[]string{`file.hcl:1:1: error: No default store`}},
		{"no store", src(`api { bind = "127.0.0.1:9292" }`),
			[]string{`file.hcl:1:1: error: No store declared`}},
		{"empty file", []byte(""), []string{`error: No store declared`}},
		{"bad plugin name", src(`store "a" {`, `  plugin = "File_System"`, `}`),
			[]string{`file.hcl:2:12: error: Invalid plugin name`}},
		{"plugin name with slash", src(`store "a" {`, `  plugin = "../evil"`, `}`),
			[]string{`file.hcl:2:12: error: Invalid plugin name`}},
		{"bad sha256 length", src(`store "a" {`, `  plugin = "filesystem"`, `  sha256 = "abc"`, `}`),
			[]string{`file.hcl:3:12: error: Invalid sha256`}},
		{"bad sha256 char", src(`store "a" {`, `  plugin = "filesystem"`,
			`  sha256 = "`+strings.Repeat("g", 64)+`"`, `}`),
			[]string{`file.hcl:3:12: error: Invalid sha256`}},
		{"bad store name", src(`store "a b" {`, `  plugin = "filesystem"`, `}`),
			[]string{`file.hcl:1:7: error: Invalid store name`}},
		{"bad driver", src(store1, `registry {`, `  driver = "mysql"`, `}`),
			[]string{`file.hcl:3:12: error: Invalid registry driver`, `"sqlite", "postgres"`}},
		{"postgres without dsn", src(store1, `registry {`, `  driver = "postgres"`, `}`),
			[]string{`file.hcl:2:1: error: Missing required argument`, `"dsn"`}},
		{"bad auth mode", src(store1, `auth { mode = "none" }`),
			[]string{`file.hcl:2:15: error: Invalid auth mode`}},
		{"bad bind", src(store1, `api { bind = "9292" }`),
			[]string{`file.hcl:2:14: error: Invalid bind address`}},
		{"bad bind port", src(store1, `api { bind = "localhost:http" }`),
			[]string{`file.hcl:2:14: error: Invalid bind address`}},
		{"bad public endpoint", src(store1, `api { public_endpoint = "glance.example.com" }`),
			[]string{`file.hcl:2:25: error: Invalid public_endpoint`}},
		{"size_cap given a string", src(store1, `images {`, `  size_cap = "big"`, `}`),
			[]string{`file.hcl:3:14: error: Incorrect attribute value type`, `a number is required`}},
		{"size_cap fractional", src(store1, `images { size_cap = 1.5 }`),
			[]string{`file.hcl:2:21: error: Incorrect attribute value type`}},
		{"default given a list", src(`store "a" {`, `  plugin = "filesystem"`, `  default = []`, `}`),
			[]string{`file.hcl:3:13: error: Incorrect attribute value type`, `bool required`}},
		{"duplicate api block", src(store1, `api {}`, `api {}`),
			[]string{`file.hcl:3:1: error: Duplicate api block`, `first one is at file.hcl:2:1`}},
		{"duplicate config block", src(`store "a" {`, `  plugin = "filesystem"`, `  config {}`, `  config {}`, `}`),
			[]string{`file.hcl:4:3: error: Duplicate config block`}},
		{"attribute redefined", src(store1, `plugin_dir = "a"`, `plugin_dir = "b"`),
			[]string{`file.hcl:3:1: error: Attribute redefined`}},
		{"syntax error", src(store1, `api {`, `  bind = `, `}`),
			[]string{`file.hcl:3:`, `error: `}},
		{"env missing", src(store1, `registry {`, `  dsn = env("GLANCE_TEST_UNSET_VAR")`, `}`),
			[]string{`file.hcl:3:9: error: Error in function call`, `environment variable "GLANCE_TEST_UNSET_VAR" is not set`}},
		{"env too many arguments", src(store1, `registry { dsn = env("A", "b", "c") }`),
			[]string{`file.hcl:2:`, `error: Invalid function argument`}},
		{"unknown function", src(store1, `registry { dsn = envv("A") }`),
			[]string{`file.hcl:2:18: error: Call to unknown function`}},
		{"variables not allowed", src(store1, `registry { dsn = var.x }`),
			[]string{`file.hcl:2:18: error: Variables not allowed`}},
		{"file missing", src(store1, `registry { dsn = file("no-such-file") }`),
			[]string{`file.hcl:2:18: error: Error in function call`, `no file "no-such-file"`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, diags := Parse(tc.src, "file.hcl")
			if c == nil {
				t.Fatal("Parse returned a nil Config")
			}
			if !diags.HasErrors() {
				t.Fatalf("no error; want %q", tc.want)
			}
			got := FormatDiagnostics(c.Files(), diags)
			for _, w := range tc.want {
				if !strings.Contains(got, w) {
					t.Errorf("diagnostics do not contain %q:\n%s", w, got)
				}
			}
		})
	}
}

func TestEnv(t *testing.T) {
	t.Setenv("GLANCE_TEST_DSN", "from-env")
	t.Setenv("GLANCE_TEST_EMPTY", "")
	for _, tc := range []struct{ expr, want string }{
		{`env("GLANCE_TEST_DSN")`, "from-env"},
		{`env("GLANCE_TEST_DSN", "dflt")`, "from-env"},
		{`env("GLANCE_TEST_UNSET_VAR", "dflt")`, "dflt"},
		{`env("GLANCE_TEST_EMPTY", "dflt")`, ""},
		{`"${env("GLANCE_TEST_DSN")}?x=1"`, "from-env?x=1"},
	} {
		c, diags := Parse(src(store1, `registry {`, `  driver = "postgres"`, `  dsn = `+tc.expr, `}`), "file.hcl")
		if tc.want == "" {
			// Set but empty counts as set, and an empty dsn is rejected.
			if !strings.Contains(FormatDiagnostics(nil, diags), "file.hcl:4:9: error: Invalid dsn") {
				t.Errorf("%s: want an Invalid dsn error, got %v", tc.expr, diags)
			}
			continue
		}
		if diags.HasErrors() {
			t.Errorf("%s: %v", tc.expr, diags)
			continue
		}
		if c.Registry.DSN != tc.want {
			t.Errorf("%s = %q, want %q", tc.expr, c.Registry.DSN, tc.want)
		}
	}
}

func TestFileRelativeToConfigDir(t *testing.T) {
	dir := t.TempDir()
	sub := filepath.Join(dir, "etc")
	writeFile(t, filepath.Join(sub, "dsn.txt"), "postgres://u:p@db/glance\n")
	writeFile(t, filepath.Join(sub, "glance.hcl"), string(src(store1,
		`registry {`, `  driver = "postgres"`, `  dsn = file("dsn.txt")`, `}`)))
	t.Chdir(dir) // the working directory is not the base of file()
	c, diags := Load(filepath.Join("etc", "glance.hcl"))
	if diags.HasErrors() {
		t.Fatalf("Load:\n%s", FormatDiagnostics(c.Files(), diags))
	}
	if c.Registry.DSN != "postgres://u:p@db/glance" {
		t.Errorf("DSN = %q", c.Registry.DSN)
	}
	if c.Dir != "etc" {
		t.Errorf("Dir = %q", c.Dir)
	}

	// Absolute paths are used as they are.
	abs := filepath.Join(dir, "etc", "dsn.txt")
	c = mustParse(t, src(store1, `registry {`, `  driver = "postgres"`, `  dsn = file("`+abs+`")`, `}`))
	if c.Registry.DSN != "postgres://u:p@db/glance" {
		t.Errorf("DSN = %q", c.Registry.DSN)
	}
}

func TestLoadMissingFile(t *testing.T) {
	c, diags := Load(filepath.Join(t.TempDir(), "nope.hcl"))
	if c == nil || !diags.HasErrors() {
		t.Fatalf("Load of a missing file: %v %v", c, diags)
	}
	if got := FormatDiagnostics(c.Files(), diags); !strings.Contains(got, "nope.hcl") {
		t.Errorf("diagnostic does not name the file: %s", got)
	}
}

func TestWriteDiagnosticsSnippet(t *testing.T) {
	c, diags := Load(filepath.Join("testdata", "bad.hcl"))
	var b strings.Builder
	if err := c.WriteDiagnostics(&b, diags); err != nil {
		t.Fatal(err)
	}
	want := filepath.Join("testdata", "bad.hcl") + `:2:3: error: Unsupported argument; An argument named "bnd" is not expected here. Did you mean "bind"?
  2 |   bnd = "127.0.0.1:9292"
    |   ^^^
`
	if b.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", b.String(), want)
	}
	// A nil Config still renders, without snippets.
	var nilc *Config
	b.Reset()
	_ = nilc.WriteDiagnostics(&b, diags)
	if !strings.HasPrefix(b.String(), filepath.Join("testdata", "bad.hcl")+":2:3: error:") || strings.Contains(b.String(), "|") {
		t.Errorf("nil Config rendering: %q", b.String())
	}
}

func TestImagesBlock(t *testing.T) {
	c := mustParse(t, src(
		`images {`,
		`  show_multiple_locations = true`,
		`  show_image_direct_url   = true`,
		`  property_quota          = 64`,
		`  tag_quota               = -1`,
		`  location_quota          = 3`,
		`  member_quota            = 5`,
		`  user_storage_quota      = 1073741824`,
		`}`,
		`store "only" {`, `  plugin = "filesystem"`, `}`))
	want := ImagesConfig{
		SizeCap: DefaultImageSizeCap, ShowMultipleLocations: true, ShowImageDirectURL: true,
		PropertyQuota: 64, TagQuota: -1, LocationQuota: 3, MemberQuota: 5, UserStorageQuota: 1 << 30,
	}
	if c.Images != want {
		t.Errorf("Images = %+v, want %+v", c.Images, want)
	}
	for _, bad := range []string{`tag_quota = -2`, `user_storage_quota = -1`, `show_image_direct_url = "maybe"`} {
		_, diags := Parse([]byte(src(`images {`, `  `+bad, `}`, `store "only" {`, `  plugin = "filesystem"`, `}`)), "t.hcl")
		if !diags.HasErrors() || !strings.Contains(diags.Error(), "t.hcl:2,") {
			t.Errorf("%s: diagnostics %v, want an error at line 2", bad, diags)
		}
	}
}

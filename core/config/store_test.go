package config

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"

	"github.com/glance-go/glance/sdk/store"
)

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

var testSchema = store.Schema{Attributes: []store.Attribute{
	{Name: "data_dir", Type: store.TypeString, Required: true},
	{Name: "chunk_size", Type: store.TypeNumber, Default: json.RawMessage(`1048576`)},
	{Name: "fsync", Type: store.TypeBool, Default: json.RawMessage(`true`)},
	{Name: "mirrors", Type: store.TypeListOfString},
	{Name: "labels", Type: store.TypeMapOfString},
	{Name: "timeout", Type: store.TypeDuration, Default: json.RawMessage(`"30s"`)},
	{Name: "secret_key", Type: store.TypeString, Sensitive: true},
	{Name: "region", Type: store.TypeString},
}}

// storeFrom parses a config with one store "s" whose body is the given
// lines; the store block starts on line 1, so body line i is line i+2.
func storeFrom(t *testing.T, body ...string) *StoreConfig {
	t.Helper()
	lines := append([]string{`store "s" {`, `  plugin = "filesystem"`}, body...)
	c := mustParse(t, src(append(lines, `}`)...))
	return c.Stores[0]
}

func decodeJSON(t *testing.T, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("bad JSON %s: %v", b, err)
	}
	return m
}

func TestDecodeConfig(t *testing.T) {
	t.Setenv("GLANCE_TEST_SECRET", "hunter2")
	s := storeFrom(t,
		`  config {`,
		`    data_dir   = "data/images"`,
		`    chunk_size = 4096`,
		`    fsync      = false`,
		`    mirrors    = ["a", "b"]`,
		`    labels     = { tier = "gold", n = 1 }`,
		`    timeout    = "1m30s"`,
		`    secret_key = env("GLANCE_TEST_SECRET")`,
		`    region     = null`,
		`  }`)
	j, diags := s.DecodeConfig(testSchema)
	if diags.HasErrors() {
		t.Fatalf("DecodeConfig:\n%s", FormatDiagnostics(nil, diags))
	}
	want := map[string]any{
		"data_dir": "data/images", "chunk_size": 4096.0, "fsync": false,
		"mirrors": []any{"a", "b"}, "labels": map[string]any{"tier": "gold", "n": "1"},
		"timeout": "1m30s", "secret_key": "hunter2",
	}
	if got := decodeJSON(t, j); !reflect.DeepEqual(got, want) {
		t.Errorf("got %v\nwant %v", got, want)
	}
}

func TestDecodeConfigDefaults(t *testing.T) {
	s := storeFrom(t, `  config { data_dir = "d" }`)
	j, diags := s.DecodeConfig(testSchema)
	if diags.HasErrors() {
		t.Fatalf("DecodeConfig: %v", diags)
	}
	want := map[string]any{"data_dir": "d", "chunk_size": 1048576.0, "fsync": true, "timeout": "30s"}
	if got := decodeJSON(t, j); !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}

	// An absent config block is an empty body.
	s = storeFrom(t)
	j, diags = s.DecodeConfig(store.Schema{Attributes: []store.Attribute{
		{Name: "root", Type: store.TypeString, Default: json.RawMessage(`"/srv"`)},
	}})
	if diags.HasErrors() || string(j) != `{"root":"/srv"}` {
		t.Errorf("absent block: %s %v", j, diags)
	}
	j, diags = s.DecodeConfig(store.Schema{})
	if diags.HasErrors() || string(j) != `{}` {
		t.Errorf("empty schema: %s %v", j, diags)
	}
}

func TestDecodeConfigErrors(t *testing.T) {
	tests := []struct {
		name string
		body []string // store body lines; line 3 is the first
		want []string
	}{
		{"misspelt attribute", []string{`  config {`, `    data_dri = "x"`, `  }`},
			[]string{`file.hcl:4:5: error: Unsupported argument; An argument named "data_dri" is not expected here. Did you mean "data_dir"?`}},
		{"number given a string", []string{`  config {`, `    data_dir = "d"`, `    chunk_size = "big"`, `  }`},
			[]string{`file.hcl:5:18: error: Incorrect attribute value type`, `"chunk_size": a number is required`}},
		{"bool given a string", []string{`  config {`, `    data_dir = "d"`, `    fsync = "maybe"`, `  }`},
			[]string{`file.hcl:5:13: error: Incorrect attribute value type`, `a bool is required`}},
		{"list given a string", []string{`  config {`, `    data_dir = "d"`, `    mirrors = "a"`, `  }`},
			[]string{`file.hcl:5:15: error: Incorrect attribute value type`, `list of string required`}},
		{"list with a null", []string{`  config {`, `    data_dir = "d"`, `    mirrors = ["a", null]`, `  }`},
			[]string{`file.hcl:5:15: error: Incorrect attribute value type`, `must not be null`}},
		{"map given a list", []string{`  config {`, `    data_dir = "d"`, `    labels = ["a"]`, `  }`},
			[]string{`file.hcl:5:14: error: Incorrect attribute value type`}},
		{"bad duration", []string{`  config {`, `    data_dir = "d"`, `    timeout = "30"`, `  }`},
			[]string{`file.hcl:5:15: error: Invalid duration`}},
		{"required missing", []string{`  config {`, `    region = "r"`, `  }`},
			[]string{`file.hcl:3:10: error: Missing required argument`, `"data_dir"`}},
		{"required missing, no config block", nil,
			[]string{`file.hcl:1:11: error: Missing required argument`, `"data_dir"`}},
		{"required null", []string{`  config { data_dir = null }`},
			[]string{`file.hcl:3:23: error: Missing required argument`}},
		{"block inside config", []string{`  config {`, `    data_dir = "d"`, `    nested {}`, `  }`},
			[]string{`file.hcl:5:5: error: Unsupported block type`}},
		{"env missing", []string{`  config { data_dir = env("GLANCE_TEST_UNSET_VAR") }`},
			[]string{`file.hcl:3:23: error: Error in function call`, `"GLANCE_TEST_UNSET_VAR" is not set`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := mustParse(t, src(append(append([]string{`store "s" {`, `  plugin = "filesystem"`}, tc.body...), `}`)...))
			j, diags := c.Stores[0].DecodeConfig(testSchema)
			if !diags.HasErrors() {
				t.Fatalf("no error; JSON %s", j)
			}
			if j != nil {
				t.Errorf("JSON %s returned with errors", j)
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

func TestDecodeConfigInvalidSchema(t *testing.T) {
	s := storeFrom(t)
	_, diags := s.DecodeConfig(store.Schema{Attributes: []store.Attribute{{Name: "x"}}})
	if got := FormatDiagnostics(nil, diags); !strings.Contains(got, "file.hcl:1:1: error: Invalid plugin schema") {
		t.Errorf("got %s", got)
	}
}

func TestPluginDiagnostics(t *testing.T) {
	s := storeFrom(t,
		`  config {`,
		`    data_dir = "data/images"`,
		`  }`)
	pd := store.Diagnostics{
		{Severity: store.SeverityError, Summary: "Not writable", Detail: "data_dir is read-only.", Path: []string{"data_dir"}},
		{Severity: store.SeverityWarning, Summary: "Region unset", Path: []string{"region"}},
		{Severity: store.SeverityError, Summary: "Backend unreachable"},
	}
	got := s.PluginDiagnostics(pd)
	if len(got) != 3 {
		t.Fatalf("got %d diagnostics", len(got))
	}
	type want struct {
		sev             hcl.DiagnosticSeverity
		line, col       int
		summary, detail string
	}
	for i, w := range []want{
		{hcl.DiagError, 4, 16, "Not writable", "data_dir is read-only."},
		{hcl.DiagWarning, 3, 3, "Region unset", `This concerns the argument "region", which is not set.`},
		{hcl.DiagError, 3, 3, "Backend unreachable", ""},
	} {
		d := got[i]
		if d.Severity != w.sev || d.Subject == nil || d.Subject.Start.Line != w.line || d.Subject.Start.Column != w.col ||
			d.Summary != w.summary || d.Detail != w.detail || d.Subject.Filename != "file.hcl" {
			t.Errorf("diag %d = %v %v %q %q, want %+v", i, d.Severity, d.Subject, d.Summary, d.Detail, w)
		}
	}
	if txt := FormatDiagnostics(nil, got); !strings.Contains(txt, "file.hcl:4:16: error: Not writable; data_dir is read-only.") ||
		!strings.Contains(txt, "file.hcl:3:3: warning: Region unset") {
		t.Errorf("formatted:\n%s", txt)
	}

	// Without a config block, the store block is the fallback.
	s = storeFrom(t)
	got = s.PluginDiagnostics(store.Diagnostics{{Severity: store.SeverityError, Summary: "x", Path: []string{"data_dir"}}})
	if got[0].Subject.Start.Line != 1 {
		t.Errorf("fallback subject %v", got[0].Subject)
	}
	if s.PluginDiagnostics(nil) != nil {
		t.Error("no plugin diagnostics should give none")
	}
}

func TestRedacted(t *testing.T) {
	t.Setenv("GLANCE_TEST_SECRET", "hunter2")
	s := storeFrom(t, `  config {`, `    data_dir = "d"`, `    secret_key = env("GLANCE_TEST_SECRET")`, `  }`)
	j, diags := s.DecodeConfig(testSchema)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	r := s.Redacted(testSchema, j)
	if r["secret_key"] != "(sensitive)" || r["data_dir"] != "d" {
		t.Errorf("Redacted = %v", r)
	}
	if _, ok := r["region"]; ok {
		t.Errorf("absent sensitive-free attribute appeared: %v", r)
	}
	out, _ := json.Marshal(r)
	if strings.Contains(string(out), "hunter2") {
		t.Errorf("secret leaked: %s", out)
	}
	if n, ok := r["chunk_size"].(json.Number); !ok || n.String() != "1048576" {
		t.Errorf("chunk_size = %#v", r["chunk_size"])
	}
	if s.Redacted(testSchema, []byte("not json")) != nil {
		t.Error("invalid JSON should give nil")
	}
}

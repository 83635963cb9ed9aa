package config

import (
	"strings"
	"testing"
)

func TestPolicyRules(t *testing.T) {
	c := mustParse(t, src(
		`store "local" {`,
		`  plugin = "filesystem"`,
		`}`,
		`policy {`,
		`  rules = {`,
		`    publicize_image = "role:admin"`,
		`    "download_image" = "role:member or role:admin"`,
		`    delete_image    = "rule:context_is_admin"`,
		`  }`,
		`}`,
	))
	want := map[string]string{
		"publicize_image": "role:admin",
		"download_image":  "role:member or role:admin",
		"delete_image":    "rule:context_is_admin",
	}
	if len(c.Policy.Rules) != len(want) {
		t.Errorf("Rules = %v", c.Policy.Rules)
	}
	for k, v := range want {
		if c.Policy.Rules[k] != v {
			t.Errorf("Rules[%s] = %q, want %q", k, c.Policy.Rules[k], v)
		}
	}
	e, err := c.Policy.Enforcer()
	if err != nil {
		t.Fatal(err)
	}
	if s, _ := e.Check("download_image"); s != "role:member or role:admin" {
		t.Errorf("enforcer's download_image = %q", s)
	}

	// No policy block, or an empty one: the defaults.
	for _, b := range [][]byte{
		src(`store "local" {`, `  plugin = "filesystem"`, `}`),
		src(`store "local" {`, `  plugin = "filesystem"`, `}`, `policy {}`),
	} {
		c := mustParse(t, b)
		if len(c.Policy.Rules) != 0 {
			t.Errorf("Rules = %v, want none", c.Policy.Rules)
		}
		if _, err := c.Policy.Enforcer(); err != nil {
			t.Error(err)
		}
	}
}

func TestPolicyRulesFromExpression(t *testing.T) {
	c := mustParse(t, src(
		`store "local" {`,
		`  plugin = "filesystem"`,
		`}`,
		`policy {`,
		`  rules = true ? { publicize_image = "role:admin", get_images = "@" } : {}`,
		`}`,
	))
	if c.Policy.Rules["get_images"] != "@" || c.Policy.Rules["publicize_image"] != "role:admin" {
		t.Errorf("Rules = %v", c.Policy.Rules)
	}
}

func TestPolicyErrors(t *testing.T) {
	head := []string{`store "local" {`, `  plugin = "filesystem"`, `}`, `policy {`}
	for _, tc := range []struct {
		name  string
		lines []string // after head: line 5 on
		want  string   // in the formatted diagnostics
	}{
		{"unknown rule", []string{`  rules = {`, `    publicise_image = "role:admin"`, `  }`, `}`},
			`file.hcl:6:5: error: Unknown policy rule; There is no rule "publicise_image"`},
		{"unparseable", []string{`  rules = {`, `    get_image = "role:admin or"`, `  }`, `}`},
			`file.hcl:6:17: error: Invalid policy rule; Rule "get_image": unexpected end of the check string.`},
		{"bad kind", []string{`  rules = {`, `    modify_image = "role:admin"`, `    get_image = "tenant:x"`, `  }`, `}`},
			`file.hcl:7:17: error: Invalid policy rule; Rule "get_image": invalid check "tenant:x": unknown kind "tenant"`},
		{"not a string", []string{`  rules = {`, `    get_image = 3`, `  }`, `}`},
			`file.hcl:6:17: error: Invalid policy rule; The check string of rule "get_image" must be a string.`},
		{"unknown reference", []string{`  rules = {`, `    get_image = "rule:nope"`, `  }`, `}`},
			`file.hcl:6:17: error: Invalid policy rule; Policy rule "get_image": rule:nope refers to an unknown rule.`},
		{"cycle", []string{`  rules = {`, `    get_image = "rule:download_image"`, `    download_image = "rule:get_image"`, `  }`, `}`},
			`file.hcl:7:22: error: Invalid policy rule; Policy rule "download_image": rule:download_image makes a cycle`},
		{"duplicate", []string{`  rules = {`, `    get_image = "@"`, `    "get_image" = "!"`, `  }`, `}`},
			`file.hcl:7:5: error: Duplicate policy rule; Rule "get_image" is already set at file.hcl:6:5.`},
		{"unknown attribute", []string{`  rule = {}`, `}`},
			`file.hcl:5:3: error: Unsupported argument`},
		{"unknown rule in an expression", []string{`  rules = true ? { nope = "@" } : { nope = "!" }`, `}`},
			`file.hcl:5:11: error: Unknown policy rule; There is no rule "nope"`},
	} {
		c, diags := Parse(src(append(append([]string{}, head...), tc.lines...)...), "file.hcl")
		if !diags.HasErrors() {
			t.Errorf("%s: no error", tc.name)
			continue
		}
		if got := FormatDiagnostics(c.Files(), diags); !strings.Contains(got, tc.want) {
			t.Errorf("%s: diagnostics\n%s\nwant them to contain\n%s", tc.name, got, tc.want)
		}
	}
}

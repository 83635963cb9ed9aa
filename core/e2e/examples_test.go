package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// exampleStores returns the store blocks of examples/deploy/<name>, with
// replacements applied: the tests run the operator's example itself.
func exampleStores(t *testing.T, name string, replace ...string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "examples", "deploy", name))
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	i := strings.Index(s, "\nstore \"")
	if i < 0 {
		t.Fatalf("examples/deploy/%s has no store block", name)
	}
	s = s[i+1:]
	for k := 0; k+1 < len(replace); k += 2 {
		if !strings.Contains(s, replace[k]) {
			t.Fatalf("examples/deploy/%s has no %q", name, replace[k])
		}
		s = strings.ReplaceAll(s, replace[k], replace[k+1])
	}
	return s
}

// TestKeystoneExampleConfigValidates: examples/deploy/keystone.hcl passes
// `glance-api validate` with the environment scripts/keystone.sh exports
// (validate does not contact Keystone), and refuses to without it.
func TestKeystoneExampleConfigValidates(t *testing.T) {
	example, err := filepath.Abs("../../examples/deploy/keystone.hcl")
	if err != nil {
		t.Fatal(err)
	}
	env := []string{
		"OS_AUTH_URL=http://127.0.0.1:5001/v3", "GLANCE_SERVICE_USER=glance",
		"GLANCE_SERVICE_PASSWORD=example-password", "GLANCE_SERVICE_PROJECT=service",
	}
	cmd := exec.Command(filepath.Join(binDir, "glance-api"), "validate", "-config", example)
	cmd.Dir = t.TempDir()
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("glance-api validate %s: %v\n%s", example, err, out)
	}
	if !strings.Contains(string(out), "configuration is valid (1 store(s))") {
		t.Errorf("validate: %s", out)
	}
	// Without the password: an error at its line, not a start.
	cmd = exec.Command(filepath.Join(binDir, "glance-api"), "validate", "-config", example)
	cmd.Dir = t.TempDir()
	for _, e := range append(os.Environ(), env[:2]...) {
		if !strings.HasPrefix(e, "GLANCE_SERVICE_PASSWORD=") {
			cmd.Env = append(cmd.Env, e)
		}
	}
	cmd.Env = append(cmd.Env, env[3])
	out, err = cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), `environment variable "GLANCE_SERVICE_PASSWORD" is not set`) {
		t.Errorf("validate without GLANCE_SERVICE_PASSWORD: %v\n%s", err, out)
	}
}

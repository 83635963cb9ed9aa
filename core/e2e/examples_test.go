package e2e

import (
	"os"
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

package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/glance-go/glance/core/registry"
)

func TestDBMigrateAndVersion(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	dbPath := filepath.Join(dir, "glance.db")
	cfg := filepath.Join(dir, "config.hcl")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf("registry {\n  driver = \"sqlite\"\n  dsn = %q\n}\nstore \"local\" {\n  plugin = \"filesystem\"\n  default = true\n}\n", dbPath)), 0o600); err != nil {
		t.Fatal(err)
	}
	call := func(args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		code := run(ctx, append([]string{"-config", cfg}, args...), &out, &errb)
		return code, out.String(), errb.String()
	}
	if code, out, errs := call("db", "version"); code != 0 || out != "0\n" || !strings.Contains(errs, "db migrate") {
		t.Fatalf("version of an empty db: %d %q %q", code, out, errs)
	}
	// glance-api's Open refuses it without AutoMigrate, saying what to run.
	if _, err := registry.Open(ctx, "sqlite", dbPath); err == nil || !strings.Contains(err.Error(), "glance-manage -config") {
		t.Fatalf("open before migrate: %v", err)
	}
	code, out, errs := call("db", "migrate")
	if code != 0 || !strings.Contains(out, "from version 0 to") {
		t.Fatalf("migrate: %d %q %q", code, out, errs)
	}
	code, out, _ = call("db", "version")
	known := strings.TrimSpace(out)
	if code != 0 || known == "0" {
		t.Fatalf("version after migrate: %d %q", code, out)
	}
	if code, out, _ := call("db", "migrate"); code != 0 || !strings.Contains(out, "from version "+known+" to "+known) {
		t.Fatalf("second migrate: %d %q", code, out)
	}
	db, err := registry.Open(ctx, "sqlite", dbPath)
	if err != nil {
		t.Fatalf("open after migrate: %v", err)
	}
	db.Close()
	for _, args := range [][]string{{"db"}, {"db", "upgrade"}, {"version"}} {
		if code, _, _ := call(args...); code != 2 {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
	}
	if code, _, errs := call("-config", filepath.Join(dir, "missing.hcl"), "db", "version"); code != 1 || errs == "" {
		t.Errorf("missing config: %d %q", code, errs)
	}
}

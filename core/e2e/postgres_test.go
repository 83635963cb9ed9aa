//go:build integration

package e2e

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	_ "github.com/lib/pq"
)

// postgresSchema returns a DSN for a fresh schema of the database named
// by GLANCE_TEST_POSTGRES_DSN (dropped at the test's end); without it the
// test fails: this file belongs to the integration tier.
func postgresSchema(t *testing.T) string {
	t.Helper()
	base := os.Getenv("GLANCE_TEST_POSTGRES_DSN")
	if base == "" {
		t.Fatal("GLANCE_TEST_POSTGRES_DSN is not set: the integration tier needs PostgreSQL (scripts/integration/20-postgres.sh sets it)")
	}
	db, err := sql.Open("postgres", base)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	schema := "e2e_" + strings.ReplaceAll(uuid.NewString(), "-", "")
	if _, err := db.Exec("CREATE SCHEMA " + schema); err != nil {
		t.Fatalf("PostgreSQL at GLANCE_TEST_POSTGRES_DSN: %v", err)
	}
	t.Cleanup(func() {
		if db, err := sql.Open("postgres", base); err == nil {
			db.Exec("DROP SCHEMA " + schema + " CASCADE")
			db.Close()
		}
	})
	return base + " search_path=" + schema
}

var buildManage = sync.OnceValue(func() error {
	out, err := exec.Command("go", "build", "-o", binDir+"/", "github.com/glance-go/glance/core/cmd/glance-manage").CombinedOutput()
	if err != nil {
		return fmt.Errorf("building glance-manage: %v\n%s", err, out)
	}
	return nil
})

// manage runs glance-manage -config cfg args… and returns its output.
func manage(t *testing.T, cfg string, env []string, args ...string) (string, error) {
	t.Helper()
	if err := buildManage(); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(filepath.Join(binDir, "glance-manage"), append([]string{"-config", cfg}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func postgresOptions(dsn string) Options {
	return Options{
		Registry: "registry {\n  driver = \"postgres\"\n  dsn    = env(\"GLANCE_E2E_DB\")\n}\n",
		Env:      []string{"GLANCE_E2E_DB=" + dsn},
	}
}

// TestPostgresRegistry: glance-api refuses an unmigrated PostgreSQL
// database, saying what to run; glance-manage migrates it; then the
// framework's end-to-end scenarios and paging pass on PostgreSQL.
func TestPostgresRegistry(t *testing.T) {
	dsn := postgresSchema(t)
	o := postgresOptions(dsn)
	dir := t.TempDir()
	cfg := writeConfig(t, dir, freeAddr(t), o)

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	api := exec.CommandContext(ctx, filepath.Join(binDir, "glance-api"), "-config", cfg)
	api.Env = append(os.Environ(), o.Env...)
	out, err := api.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "glance-manage -config") || !strings.Contains(string(out), "db migrate") {
		t.Fatalf("glance-api on an unmigrated database: %v\n%s", err, out)
	}

	if out, err := manage(t, cfg, o.Env, "db", "version"); err != nil || !strings.HasPrefix(out, "0\n") {
		t.Fatalf("db version before migrate: %v\n%s", err, out)
	}
	if out, err := manage(t, cfg, o.Env, "db", "migrate"); err != nil || !strings.Contains(out, "database migrated from version 0") {
		t.Fatalf("db migrate: %v\n%s", err, out)
	}

	t.Run("lifecycle", func(t *testing.T) { imageLifecycle(t, startServerWith(t, o)) })
	t.Run("plugin killed during upload", func(t *testing.T) { pluginKilledDuringUpload(t, startServerWith(t, o)) })
	t.Run("list pages", func(t *testing.T) {
		s := startServerWith(t, o)
		want := map[string]bool{}
		for i := 0; i < 7; i++ {
			want[s.createImage(fmt.Sprintf("pg-%d", i)).ID] = true
		}
		seen := map[string]bool{}
		path := "/v2/images?limit=3&sort=name:asc"
		for pages := 0; path != ""; pages++ {
			resp := s.do("GET", path, nil, nil)
			var body struct {
				Images []struct {
					ID   string `json:"id"`
					Name string `json:"name"`
				} `json:"images"`
				Next string `json:"next"`
			}
			err := json.NewDecoder(resp.Body).Decode(&body)
			resp.Body.Close()
			if err != nil || resp.StatusCode != http.StatusOK {
				t.Fatalf("%s: %d %v", path, resp.StatusCode, err)
			}
			for _, img := range body.Images {
				if seen[img.ID] {
					t.Fatalf("%s listed twice", img.Name)
				}
				seen[img.ID] = true
			}
			path = body.Next
			if pages > 5 {
				t.Fatal("paging does not end")
			}
		}
		for id := range want {
			if !seen[id] {
				t.Fatalf("image %s never listed", id)
			}
		}
	})
}

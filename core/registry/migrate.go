package registry

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// migration is one versioned schema change.
type migration struct {
	version int
	name    string
	stmts   []string
}

// migrations returns the embedded migrations in version order. File names
// are NNNN_description.sql with consecutive versions from 1.
func migrations() ([]migration, error) {
	entries, err := fs.ReadDir(migrationFS, "migrations")
	if err != nil {
		return nil, fmt.Errorf("registry: read migrations: %w", err)
	}
	var out []migration
	for _, e := range entries {
		num, _, ok := strings.Cut(e.Name(), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || path.Ext(e.Name()) != ".sql" {
			return nil, fmt.Errorf("registry: migration file %q is not NNNN_name.sql", e.Name())
		}
		b, err := migrationFS.ReadFile("migrations/" + e.Name())
		if err != nil {
			return nil, fmt.Errorf("registry: read migration %s: %w", e.Name(), err)
		}
		out = append(out, migration{version: v, name: e.Name(), stmts: splitStatements(string(b))})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].version < out[j].version })
	for i, m := range out {
		if m.version != i+1 {
			return nil, fmt.Errorf("registry: migration %s: expected version %d", m.name, i+1)
		}
	}
	return out, nil
}

// splitStatements splits a migration into statements: each ends with a
// semicolon at the end of a line; lines starting with -- are comments.
func splitStatements(src string) []string {
	var stmts []string
	var cur strings.Builder
	for _, line := range strings.Split(src, "\n") {
		t := strings.TrimSpace(line)
		if t == "" || strings.HasPrefix(t, "--") {
			continue
		}
		cur.WriteString(line)
		cur.WriteByte('\n')
		if strings.HasSuffix(t, ";") {
			stmts = append(stmts, strings.TrimSuffix(strings.TrimSpace(cur.String()), ";"))
			cur.Reset()
		}
	}
	if s := strings.TrimSpace(cur.String()); s != "" {
		stmts = append(stmts, s)
	}
	return stmts
}

const createMigrationsTable = `CREATE TABLE IF NOT EXISTS schema_migrations (
    version    BIGINT PRIMARY KEY,
    name       TEXT NOT NULL,
    applied_at TIMESTAMP NOT NULL
)`

// Version returns the schema version of the database (0 when empty) and
// the latest version this binary knows.
func (db *DB) Version(ctx context.Context) (current, known int, err error) {
	ms, err := migrations()
	if err != nil {
		return 0, 0, err
	}
	known = len(ms)
	var n int
	if err := db.w.QueryRowContext(ctx, db.q(db.d.tableExists), "schema_migrations").Scan(&n); err != nil {
		return 0, known, fmt.Errorf("registry: read the schema version: %w", err)
	}
	if n == 0 {
		return 0, known, nil
	}
	var v sql.NullInt64
	if err := db.w.QueryRowContext(ctx, "SELECT MAX(version) FROM schema_migrations").Scan(&v); err != nil {
		return 0, known, fmt.Errorf("registry: read the schema version: %w", err)
	}
	return int(v.Int64), known, nil
}

// Migrate applies the pending migrations, each in its own transaction with
// its schema_migrations row. Concurrent migrators are safe: PostgreSQL
// takes an advisory lock, SQLite's BEGIN IMMEDIATE serialises them, and a
// version found applied inside the transaction is skipped.
func (db *DB) Migrate(ctx context.Context) error {
	ms, err := migrations()
	if err != nil {
		return err
	}
	if _, err := db.w.ExecContext(ctx, createMigrationsTable); err != nil {
		return fmt.Errorf("registry: create schema_migrations: %w", err)
	}
	for _, m := range ms {
		applied := false
		err := db.tx(ctx, func(tx *sql.Tx) error {
			if db.d.migrationLock != "" {
				if _, err := tx.ExecContext(ctx, db.d.migrationLock); err != nil {
					return fmt.Errorf("lock: %w", err)
				}
			}
			var cur sql.NullInt64
			if err := tx.QueryRowContext(ctx, "SELECT MAX(version) FROM schema_migrations").Scan(&cur); err != nil {
				return err
			}
			if int(cur.Int64) >= m.version {
				return nil
			}
			if int(cur.Int64) != m.version-1 {
				return fmt.Errorf("the database is at version %d, cannot apply %d", cur.Int64, m.version)
			}
			for _, s := range m.stmts {
				if _, err := tx.ExecContext(ctx, s); err != nil {
					return fmt.Errorf("%w\n%s", err, s)
				}
			}
			if _, err := tx.ExecContext(ctx, db.q("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)"),
				m.version, m.name, db.now().UTC().Truncate(timeSecond)); err != nil {
				return err
			}
			applied = true
			return nil
		})
		if err != nil {
			return fmt.Errorf("registry: migration %s: %w", m.name, err)
		}
		if applied {
			db.log.Info("applied registry migration", "version", m.version, "name", m.name)
		}
	}
	return nil
}

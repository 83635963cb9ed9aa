package registry

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/lib/pq"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// Driver names accepted by Open.
const (
	DriverSQLite   = "sqlite"
	DriverPostgres = "postgres"
)

// OpenOptions tune Open.
type OpenOptions struct {
	// AutoMigrate applies pending migrations at Open (the embedded SQLite
	// default does so on first start).
	AutoMigrate bool
	// SkipSchemaCheck opens a database whatever its schema version (for
	// glance-manage db version).
	SkipSchemaCheck bool
	// Logger receives migration notes; nil discards them.
	Logger hclog.Logger
	// MaxReaders bounds the SQLite read pool (default 2×GOMAXPROCS, at
	// least 4). PostgreSQL uses database/sql's defaults.
	MaxReaders int
	// Now is the clock, for tests; default time.Now.
	Now func() time.Time
}

// DB is the SQL registry. It implements Repository.
type DB struct {
	driver string
	d      dialect
	w      *sql.DB // writes; on SQLite a single connection
	r      *sql.DB // reads; may be w
	now    func() time.Time
	log    hclog.Logger
}

var _ Repository = (*DB)(nil)

// dialect holds what differs between the engines.
type dialect struct {
	// dollar: placeholders are $1, $2… instead of ?.
	dollar bool
	// tableExists is a query with one placeholder (the table name)
	// returning a count.
	tableExists string
	// migrationLock, when set, is run first in each migration transaction.
	migrationLock string
	// isUnique reports a unique/primary key violation.
	isUnique func(error) bool
}

var sqliteDialect = dialect{
	tableExists: "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ?",
	isUnique: func(err error) bool {
		var se *sqlite.Error
		if !errors.As(err, &se) {
			return false
		}
		return se.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY || se.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE
	},
}

var postgresDialect = dialect{
	dollar:        true,
	tableExists:   "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = ?",
	migrationLock: "SELECT pg_advisory_xact_lock(7294810453)",
	isUnique: func(err error) bool {
		var pe *pq.Error
		return errors.As(err, &pe) && pe.Code == "23505"
	},
}

// rebind rewrites ? placeholders for the dialect (none of our queries has
// a ? inside a string literal).
func (d dialect) rebind(q string) string {
	if !d.dollar || !strings.Contains(q, "?") {
		return q
	}
	var b strings.Builder
	b.Grow(len(q) + 16)
	n := 0
	for i := 0; i < len(q); i++ {
		if q[i] == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(q[i])
	}
	return b.String()
}

// Open connects to the registry and checks its schema version: a database
// migrated by a newer binary is refused (ErrSchemaTooNew); one that needs
// migrations is migrated when opts.AutoMigrate, else refused with
// ErrSchemaOutdated (run `glance-manage db migrate`).
func Open(ctx context.Context, driver, dsn string, opts ...OpenOptions) (*DB, error) {
	var o OpenOptions
	if len(opts) > 0 {
		o = opts[len(opts)-1]
	}
	db := &DB{driver: driver, now: o.Now, log: o.Logger}
	if db.now == nil {
		db.now = time.Now
	}
	if db.log == nil {
		db.log = hclog.NewNullLogger()
	}
	var err error
	switch driver {
	case DriverSQLite:
		db.d = sqliteDialect
		err = db.openSQLite(dsn, o.MaxReaders)
	case DriverPostgres:
		db.d = postgresDialect
		db.w, err = sql.Open("postgres", dsn)
		db.r = db.w
	default:
		return nil, fmt.Errorf("%w %q: use %q or %q", ErrUnsupportedDriver, driver, DriverSQLite, DriverPostgres)
	}
	if err != nil {
		return nil, fmt.Errorf("registry: open %s: %w", driver, err)
	}
	if err := db.w.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("registry: connect to %s: %w", driver, err)
	}
	if o.SkipSchemaCheck {
		return db, nil
	}
	cur, known, err := db.Version(ctx)
	if err != nil {
		db.Close()
		return nil, err
	}
	switch {
	case cur > known:
		db.Close()
		return nil, fmt.Errorf("%w: the database is at version %d, this binary knows up to %d: upgrade glance-go", ErrSchemaTooNew, cur, known)
	case cur < known && o.AutoMigrate:
		if err := db.Migrate(ctx); err != nil {
			db.Close()
			return nil, err
		}
	case cur < known:
		db.Close()
		return nil, fmt.Errorf("%w: the database is at version %d, this binary needs %d: run `glance-manage -config <config.hcl> db migrate` first", ErrSchemaOutdated, cur, known)
	}
	return db, nil
}

// openSQLite opens the write connection and the read pool on one file.
func (db *DB) openSQLite(dsn string, maxReaders int) error {
	path, query, _ := strings.Cut(dsn, "?")
	memory := path == ":memory:" || path == "" || strings.Contains(query, "mode=memory")
	if !memory && !strings.HasPrefix(path, "file:") {
		if dir := filepath.Dir(path); dir != "." {
			if err := os.MkdirAll(dir, 0o750); err != nil {
				return fmt.Errorf("create the directory of %s: %w", path, err)
			}
		}
	}
	// automatic_index off: every list path has its index, and with
	// ANALYZE statistics SQLite otherwise builds a throwaway index over
	// image_properties for each property-filtered list (0.7 s at 100k).
	pragmas := []string{"busy_timeout(10000)", "foreign_keys(1)", "automatic_index(0)"}
	if !memory {
		pragmas = append(pragmas, "journal_mode(WAL)")
	}
	params := func(extra ...string) string {
		var p []string
		if query != "" {
			p = append(p, query)
		}
		for _, pr := range pragmas {
			name, _, _ := strings.Cut(pr, "(")
			if !strings.Contains(query, "_pragma="+name) {
				p = append(p, "_pragma="+pr)
			}
		}
		if !strings.Contains(query, "_time_format=") {
			p = append(p, "_time_format=datetime")
		}
		p = append(p, extra...)
		return path + "?" + strings.Join(p, "&")
	}
	w, err := sql.Open("sqlite", params("_txlock=immediate"))
	if err != nil {
		return err
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	db.w, db.r = w, w
	if memory {
		return nil
	}
	r, err := sql.Open("sqlite", params("_pragma=query_only(1)"))
	if err != nil {
		w.Close()
		return err
	}
	if maxReaders <= 0 {
		maxReaders = max(4, 2*runtime.GOMAXPROCS(0))
	}
	r.SetMaxOpenConns(maxReaders)
	r.SetMaxIdleConns(maxReaders)
	db.r = r
	return nil
}

// Close closes the connections.
func (db *DB) Close() error {
	var err error
	if db.r != nil && db.r != db.w {
		err = db.r.Close()
	}
	if db.w != nil {
		err = errors.Join(err, db.w.Close())
	}
	return err
}

// Driver returns the driver name given to Open.
func (db *DB) Driver() string { return db.driver }

// Ping checks that the database answers (for health checks).
func (db *DB) Ping(ctx context.Context) error { return db.r.PingContext(ctx) }

func (db *DB) q(query string) string { return db.d.rebind(query) }

// tx runs fn in a write transaction, committed when fn returns nil.
func (db *DB) tx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("registry: begin: %w", err)
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("registry: commit: %w", err)
	}
	return nil
}

// readTx runs fn in a read-only transaction, so that the several queries
// of one read see one snapshot.
func (db *DB) readTx(ctx context.Context, fn func(*sql.Tx) error) error {
	opts := &sql.TxOptions{ReadOnly: true}
	if db.d.dollar {
		opts.Isolation = sql.LevelRepeatableRead
	}
	tx, err := db.r.BeginTx(ctx, opts)
	if err != nil {
		return fmt.Errorf("registry: begin: %w", err)
	}
	defer tx.Rollback()
	return fn(tx)
}

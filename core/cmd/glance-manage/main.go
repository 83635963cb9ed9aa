// Command glance-manage administers the registry database named by the
// registry {} block of config.hcl, as Glance's glance-manage does.
//
//	glance-manage [-config FILE] db migrate   apply the pending schema migrations
//	glance-manage [-config FILE] db version   print the schema version
//
// glance-api never migrates a PostgreSQL database itself (several servers
// may share it, and an upgrade is the operator's decision): it refuses to
// start until `db migrate` has run. The embedded SQLite default is
// migrated by glance-api at start.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/hashicorp/go-hclog"

	"github.com/glance-go/glance/core/config"
	"github.com/glance-go/glance/core/registry"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

const usage = `usage: glance-manage [-config FILE] db migrate|version`

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("glance-manage", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprintln(stderr, usage); fs.PrintDefaults() }
	cfgPath := fs.String("config", "config.hcl", "configuration file (its registry {} block is used)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	rest := fs.Args()
	if len(rest) != 2 || rest[0] != "db" || (rest[1] != "migrate" && rest[1] != "version") {
		fmt.Fprintln(stderr, usage)
		return 2
	}
	cfg, diags := config.Load(*cfgPath)
	if diags.HasErrors() {
		cfg.WriteDiagnostics(stderr, diags)
		return 1
	}
	logger := hclog.New(&hclog.LoggerOptions{Name: "glance-manage", Output: stderr, Level: hclog.Info})
	// Open without the version check: both commands must work on a
	// database of any version (version reports it; migrate refuses a newer
	// one itself, below).
	db, err := registry.Open(ctx, cfg.Registry.Driver, cfg.Registry.DSN, registry.OpenOptions{SkipSchemaCheck: true, Logger: logger})
	if err != nil {
		fmt.Fprintln(stderr, "glance-manage:", err)
		return 1
	}
	defer db.Close()
	cur, known, err := db.Version(ctx)
	if err != nil {
		fmt.Fprintln(stderr, "glance-manage:", err)
		return 1
	}
	switch rest[1] {
	case "version":
		fmt.Fprintf(stdout, "%d\n", cur)
		switch {
		case cur < known:
			fmt.Fprintf(stderr, "the database is at version %d; this glance-go needs %d: run `glance-manage -config %s db migrate`\n", cur, known, *cfgPath)
		case cur > known:
			fmt.Fprintf(stderr, "the database is at version %d, newer than this glance-go knows (%d): upgrade glance-go\n", cur, known)
		}
		return 0
	case "migrate":
		if cur > known {
			fmt.Fprintln(stderr, "glance-manage:", fmt.Errorf("%w: the database is at version %d, this glance-manage knows up to %d: upgrade glance-go", registry.ErrSchemaTooNew, cur, known))
			return 1
		}
		if err := db.Migrate(ctx); err != nil {
			if errors.Is(err, context.Canceled) {
				fmt.Fprintln(stderr, "glance-manage: interrupted")
				return 1
			}
			fmt.Fprintln(stderr, "glance-manage:", err)
			return 1
		}
		now, _, err := db.Version(ctx)
		if err != nil {
			fmt.Fprintln(stderr, "glance-manage:", err)
			return 1
		}
		fmt.Fprintf(stdout, "database migrated from version %d to %d (%s)\n", cur, now, cfg.Registry.Driver)
		return 0
	}
	return 2
}

// Command bench-registry measures the registry's list, create and update
// paths at scale: it bulk-loads N images (with properties, tags and
// members) into a fresh database, then times pages of 25 through
// registry.List, the code path GET /v2/images uses, and prints p50/p99,
// the create and update rates, and the query plans. It asserts nothing.
//
//	bench-registry -driver postgres -dsn "host=… dbname=…" [-n 100000]
//	bench-registry -driver sqlite -dsn /tmp/x/glance.db
package main

import (
	"context"
	"database/sql"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	_ "github.com/lib/pq"
	_ "modernc.org/sqlite"

	"github.com/glance-go/glance/core/image"
	"github.com/glance-go/glance/core/registry"
)

func main() {
	driver := flag.String("driver", "sqlite", "sqlite or postgres")
	dsn := flag.String("dsn", "", "database (an empty one: it is migrated and filled)")
	n := flag.Int("n", 100000, "images to load")
	iters := flag.Int("iters", 200, "timed pages per scenario")
	creates := flag.Int("creates", 500, "images created (then updated twice) for the write rates")
	reuse := flag.Bool("reuse", false, "the database already holds this -n's images (a previous run): skip the load")
	flag.Parse()
	if err := run(context.Background(), *driver, *dsn, *n, *iters, *creates, *reuse); err != nil {
		fmt.Fprintln(os.Stderr, "bench-registry:", err)
		os.Exit(1)
	}
}

const (
	projects = 200
	tagPool  = 100
)

// row is one generated image.
type row struct {
	id, name, owner, vis, status, disk string
	size                               int64
	hidden                             bool
	created                            time.Time
	tags                               []string
	props                              map[string]string
	members                            []member
}

type member struct{ project, status string }

func generate(n int) []row {
	r := rand.New(rand.NewPCG(1, 2))
	base := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	vis := []string{"public", "private", "private", "private", "private", "shared", "shared", "shared", "shared", "community"}
	disks := []string{"qcow2", "raw", "vmdk", "iso"}
	distros := []string{"ubuntu", "debian", "fedora", "centos", "cirros", "arch", "alpine", "rhel", "suse", "windows"}
	rows := make([]row, n)
	for i := range rows {
		rw := row{
			id:    randomUUID(r),
			name:  fmt.Sprintf("img-%08x", r.Uint32()),
			owner: fmt.Sprintf("proj-%03d", r.IntN(projects)),
			vis:   vis[r.IntN(len(vis))],
			disk:  disks[r.IntN(len(disks))],
			size:  r.Int64N(10 << 30),
			// Two images a second: created_at ties are common, as in a
			// busy cloud, and id must break them.
			created: base.Add(time.Duration(i/2) * time.Second),
			hidden:  r.IntN(100) == 0,
			status:  "active",
			props: map[string]string{
				"os_distro":   distros[r.IntN(len(distros))],
				"hw_disk_bus": "virtio",
				"build":       fmt.Sprint(i),
			},
		}
		if r.IntN(10) == 0 {
			rw.status = "queued"
		}
		t1, t2 := r.IntN(tagPool), r.IntN(tagPool)
		rw.tags = []string{fmt.Sprintf("tag-%02d", t1)}
		if t2 != t1 {
			rw.tags = append(rw.tags, fmt.Sprintf("tag-%02d", t2))
		}
		if rw.vis == "shared" {
			for k := 0; k < 1+r.IntN(2); k++ {
				p := fmt.Sprintf("proj-%03d", r.IntN(projects))
				if p != rw.owner && !slices.ContainsFunc(rw.members, func(m member) bool { return m.project == p }) {
					st := "accepted"
					if r.IntN(4) == 0 {
						st = "pending"
					}
					rw.members = append(rw.members, member{p, st})
				}
			}
		}
		rows[i] = rw
	}
	return rows
}

// randomUUID is a version-4 UUID from r, so that runs generate the same
// catalogue.
func randomUUID(r *rand.Rand) string {
	var b [16]byte
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	b[6], b[8] = b[6]&0x0f|0x40, b[8]&0x3f|0x80
	return uuid.UUID(b).String()
}

// rawDSN is how the loader opens the same database beside the registry:
// SQLite with the registry's timestamp format, so that keys compare alike.
func rawDSN(driver, dsn string) string {
	if driver == registry.DriverSQLite {
		// A large page cache: index maintenance on random UUID keys is
		// what a bulk load spends its time on. No fsync: a throwaway file.
		return dsn + "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=cache_size(-524288)&_pragma=synchronous(OFF)&_time_format=datetime"
	}
	return dsn
}

func load(ctx context.Context, driver, dsn string, rows []row) error {
	db, err := sql.Open(driver, rawDSN(driver, dsn))
	if err != nil {
		return err
	}
	defer db.Close()
	if driver == registry.DriverPostgres {
		return loadCopy(ctx, db, rows)
	}
	return loadInserts(ctx, db, rows)
}

// loadCopy bulk-loads PostgreSQL with COPY, the secondary indexes dropped
// meanwhile and rebuilt from their own definitions afterwards (a sorted
// build is much faster than 660k random insertions).
func loadCopy(ctx context.Context, db *sql.DB, rows []row) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var defs []string
	idx, err := tx.QueryContext(ctx, `SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema()
		AND tablename IN ('images', 'image_properties', 'image_tags', 'image_members') AND indexname NOT LIKE '%_pkey'`)
	if err != nil {
		return err
	}
	var names []string
	for idx.Next() {
		var name, def string
		if err := idx.Scan(&name, &def); err != nil {
			idx.Close()
			return err
		}
		names, defs = append(names, name), append(defs, def)
	}
	if err := idx.Close(); err != nil {
		return err
	}
	for _, name := range names {
		if _, err := tx.ExecContext(ctx, "DROP INDEX "+name); err != nil {
			return err
		}
	}
	copyIn := func(table string, cols []string, each func(add func(...any) error) error) error {
		st, err := tx.PrepareContext(ctx, "COPY "+table+" ("+strings.Join(cols, ", ")+") FROM STDIN")
		if err != nil {
			return fmt.Errorf("copy %s: %w", table, err)
		}
		add := func(v ...any) error { _, err := st.ExecContext(ctx, v...); return err }
		if err := each(add); err != nil {
			return fmt.Errorf("copy %s: %w", table, err)
		}
		if _, err := st.ExecContext(ctx); err != nil {
			return fmt.Errorf("copy %s: %w", table, err)
		}
		return st.Close()
	}
	err = copyIn("images", []string{"id", "name", "status", "visibility", "protected", "os_hidden", "size", "disk_format", "container_format",
		"min_disk", "min_ram", "owner", "created_at", "updated_at", "deleted"}, func(add func(...any) error) error {
		for _, r := range rows {
			if err := add(r.id, r.name, r.status, r.vis, false, r.hidden, r.size, r.disk, "bare", 0, 0, r.owner, r.created, r.created, false); err != nil {
				return err
			}
		}
		return nil
	})
	if err == nil {
		err = copyIn("image_properties", []string{"image_id", "name", "value"}, func(add func(...any) error) error {
			for _, r := range rows {
				for k, v := range r.props {
					if err := add(r.id, k, v); err != nil {
						return err
					}
				}
			}
			return nil
		})
	}
	if err == nil {
		err = copyIn("image_tags", []string{"image_id", "value", "image_created_at"}, func(add func(...any) error) error {
			for _, r := range rows {
				for _, t := range r.tags {
					if err := add(r.id, t, r.created); err != nil {
						return err
					}
				}
			}
			return nil
		})
	}
	if err == nil {
		err = copyIn("image_members", []string{"id", "image_id", "member", "status", "can_share", "created_at", "updated_at", "deleted"},
			func(add func(...any) error) error {
				for _, r := range rows {
					for _, m := range r.members {
						if err := add(uuid.NewString(), r.id, m.project, m.status, false, r.created, r.created, false); err != nil {
							return err
						}
					}
				}
				return nil
			})
	}
	if err != nil {
		return err
	}
	for _, def := range defs {
		if _, err := tx.ExecContext(ctx, def); err != nil {
			return fmt.Errorf("rebuild index: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	_, err = db.ExecContext(ctx, "ANALYZE")
	return err
}

// loadInserts bulk-loads SQLite with multi-row INSERTs in one transaction.
func loadInserts(ctx context.Context, db *sql.DB, rows []row) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	// batch inserts up to 500 rows (SQLite's 32766 variables allow that
	// for the widest table).
	batch := func(prefix string, width int, vals [][]any) error {
		for len(vals) > 0 {
			k := min(500, len(vals))
			ph := "(" + strings.TrimSuffix(strings.Repeat("?, ", width), ", ") + ")"
			var args []any
			for _, v := range vals[:k] {
				args = append(args, v...)
			}
			if _, err := tx.ExecContext(ctx, prefix+strings.TrimSuffix(strings.Repeat(ph+", ", k), ", "), args...); err != nil {
				return err
			}
			vals = vals[k:]
		}
		return nil
	}
	var imgs, props, tags, members [][]any
	for _, r := range rows {
		imgs = append(imgs, []any{r.id, r.name, r.status, r.vis, false, r.hidden, r.size, r.disk, "bare", 0, 0, r.owner, r.created, r.created, false})
		for k, v := range r.props {
			props = append(props, []any{r.id, k, v})
		}
		for _, t := range r.tags {
			tags = append(tags, []any{r.id, t, r.created})
		}
		for _, m := range r.members {
			members = append(members, []any{uuid.NewString(), r.id, m.project, m.status, false, r.created, r.created, false})
		}
	}
	for _, b := range []struct {
		prefix string
		width  int
		vals   [][]any
	}{
		{"INSERT INTO images (id, name, status, visibility, protected, os_hidden, size, disk_format, container_format, min_disk, min_ram, owner, created_at, updated_at, deleted) VALUES ", 15, imgs},
		{"INSERT INTO image_properties (image_id, name, value) VALUES ", 3, props},
		{"INSERT INTO image_tags (image_id, value, image_created_at) VALUES ", 3, tags},
		{"INSERT INTO image_members (id, image_id, member, status, can_share, created_at, updated_at, deleted) VALUES ", 8, members},
	} {
		if err := batch(b.prefix, b.width, b.vals); err != nil {
			return err
		}
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	_, err = db.ExecContext(ctx, "ANALYZE")
	return err
}

// deepMarkers returns ids at depths 40%…90% of the default order (what a
// client paging far into the catalogue sends).
func deepMarkers(rows []row) []string {
	sorted := deepOrder(rows)
	var out []string
	for i := 0; i < 20; i++ {
		out = append(out, sorted[len(sorted)*(40+i*50/20)/100].id)
	}
	return out
}

type scenario struct {
	name    string
	q       registry.ListQuery
	markers []string // cycled through, when set
}

func percentile(d []time.Duration, p float64) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[min(len(s)-1, int(float64(len(s))*p))]
}

func run(ctx context.Context, driver, dsn string, n, iters, creates int, reuse bool) error {
	db, err := registry.Open(ctx, driver, dsn, registry.OpenOptions{AutoMigrate: true})
	if err != nil {
		return err
	}
	defer db.Close()

	start := time.Now()
	rows := generate(n) // deterministic: a reused database holds the same
	if !reuse {
		if err := load(ctx, driver, dsn, rows); err != nil {
			return fmt.Errorf("bulk load: %w", err)
		}
	}
	var nprops, ntags, nmembers int
	for _, r := range rows {
		nprops, ntags, nmembers = nprops+len(r.props), ntags+len(r.tags), nmembers+len(r.members)
	}
	verb := "loaded"
	if reuse {
		verb = "reused"
	}
	fmt.Printf("%s: %s %d images, %d properties, %d tags, %d members in %s\n",
		driver, verb, n, nprops, ntags, nmembers, time.Since(start).Round(time.Millisecond))

	admin := registry.Caller{Admin: true, Project: "admin"}
	notHidden := image.Ptr(false)
	page := func(q registry.ListQuery) registry.ListQuery {
		q.Limit, q.OSHidden = 25, notHidden
		return q
	}
	// A project's deep marker must be an image it sees: one of its own.
	var own []string
	for _, r := range deepOrder(rows) {
		if r.owner == "proj-042" && !r.hidden && r.status != "killed" {
			own = append(own, r.id)
		}
	}
	ownDeep := own[len(own)/2:]
	scenarios := []scenario{
		{name: "first page (admin)", q: page(registry.ListQuery{Caller: admin})},
		{name: "deep marker page (admin)", q: page(registry.ListQuery{Caller: admin}), markers: deepMarkers(rows)},
		{name: "owner+visibility filter", q: page(registry.ListQuery{Caller: admin, Visibility: "private",
			Filters: []registry.Filter{{Column: "owner", Op: registry.OpEq, Values: []any{"proj-042"}}}})},
		{name: "tag filter", q: page(registry.ListQuery{Caller: admin, Tags: []string{"tag-07"}})},
		{name: "tag filter, deep marker", q: page(registry.ListQuery{Caller: admin, Tags: []string{"tag-07"}}), markers: taggedDeep(rows, "tag-07")},
		{name: "tag filter asc, deep marker", q: page(registry.ListQuery{Caller: admin, Tags: []string{"tag-07"},
			SortKeys: []string{"created_at"}, SortDirs: []string{"asc"}}), markers: taggedDeep(rows, "tag-07")},
		{name: "tag filter, sort=name:asc", q: page(registry.ListQuery{Caller: admin, Tags: []string{"tag-07"},
			SortKeys: []string{"name"}, SortDirs: []string{"asc"}})},
		{name: "project scope first page", q: page(registry.ListQuery{Caller: registry.Caller{Project: "proj-042"}})},
		{name: "project scope deep marker", q: page(registry.ListQuery{Caller: registry.Caller{Project: "proj-042"}}), markers: ownDeep},
		{name: "sort=name:asc first page", q: page(registry.ListQuery{Caller: admin, SortKeys: []string{"name"}, SortDirs: []string{"asc"}})},
		{name: "property filter os_distro", q: page(registry.ListQuery{Caller: admin, Properties: map[string]string{"os_distro": "cirros"}})},
	}
	fmt.Printf("\n%-32s %10s %10s %10s  (%d pages of 25 each)\n", "list scenario", "p50", "p99", "max", iters)
	for _, sc := range scenarios {
		var lat []time.Duration
		for i := 0; i < iters+20; i++ {
			q := sc.q
			if len(sc.markers) > 0 {
				q.Marker = sc.markers[i%len(sc.markers)]
			}
			t0 := time.Now()
			imgs, err := db.List(ctx, q)
			d := time.Since(t0)
			if err != nil {
				return fmt.Errorf("%s: %w", sc.name, err)
			}
			if len(imgs) == 0 {
				return fmt.Errorf("%s: empty page", sc.name)
			}
			if i >= 20 { // the first 20 warm the caches
				lat = append(lat, d)
			}
		}
		fmt.Printf("%-32s %10s %10s %10s\n", sc.name, percentile(lat, 0.50).Round(time.Microsecond),
			percentile(lat, 0.99).Round(time.Microsecond), percentile(lat, 1).Round(time.Microsecond))
	}

	// Create rate: one image with 3 properties and 2 tags per Create.
	ids := make([]string, creates)
	t0 := time.Now()
	for i := range ids {
		img := &image.Image{ID: uuid.NewString(), Name: image.Ptr(fmt.Sprintf("new-%d", i)), Status: image.StatusQueued,
			Visibility: image.VisibilityShared, Owner: image.Ptr("proj-001"), DiskFormat: image.Ptr("raw"), ContainerFormat: image.Ptr("bare"),
			Tags: []string{"a", "b"}, Properties: map[string]string{"os_distro": "cirros", "hw_disk_bus": "virtio", "build": fmt.Sprint(i)}}
		if err := db.Create(ctx, img); err != nil {
			return fmt.Errorf("create: %w", err)
		}
		ids[i] = img.ID
	}
	createRate := float64(creates) / time.Since(t0).Seconds()
	// Update rate: status compare-and-set, queued → saving → queued.
	t0 = time.Now()
	for _, id := range ids {
		if err := db.SetStatus(ctx, id, image.StatusQueued, image.StatusSaving); err != nil {
			return fmt.Errorf("update: %w", err)
		}
		if err := db.SetStatus(ctx, id, image.StatusSaving, image.StatusQueued); err != nil {
			return fmt.Errorf("update: %w", err)
		}
	}
	updateRate := float64(2*creates) / time.Since(t0).Seconds()
	fmt.Printf("\ncreate rate (image + 3 properties + 2 tags, one transaction each): %.0f/s\n", createRate)
	fmt.Printf("update rate (status compare-and-set UPDATE … WHERE id AND status): %.0f/s\n", updateRate)

	fmt.Printf("\nquery plans (%s)\n", map[bool]string{true: "EXPLAIN (ANALYZE, BUFFERS)", false: "EXPLAIN QUERY PLAN"}[driver == registry.DriverPostgres])
	for _, sc := range scenarios {
		q := sc.q
		if len(sc.markers) > 0 {
			q.Marker = sc.markers[0]
		}
		plan, err := db.ExplainList(ctx, q)
		if err != nil {
			return fmt.Errorf("explain %s: %w", sc.name, err)
		}
		fmt.Printf("\n-- %s\n%s\n", sc.name, indent(plan))
	}
	return nil
}

// deepOrder is rows in the default list order: created_at, id descending.
func deepOrder(rows []row) []row {
	sorted := slices.Clone(rows)
	slices.SortFunc(sorted, func(a, b row) int {
		if c := b.created.Compare(a.created); c != 0 {
			return c
		}
		return strings.Compare(b.id, a.id)
	})
	return sorted
}

// taggedDeep returns markers halfway and further into the tag's list.
func taggedDeep(rows []row, tag string) []string {
	var ids []string
	for _, r := range deepOrder(rows) {
		if slices.Contains(r.tags, tag) && !r.hidden && r.status != "killed" && r.vis != "community" {
			ids = append(ids, r.id)
		}
	}
	return ids[len(ids)/2 : len(ids)/2+20]
}

func indent(s string) string { return "   " + strings.ReplaceAll(s, "\n", "\n   ") }

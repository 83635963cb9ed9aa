package registry

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/glance-go/glance/core/image"
)

// testDriver returns the driver and a fresh database to test on: SQLite in
// a temporary directory, or, when GLANCE_TEST_POSTGRES_DSN is set, a new
// schema of that PostgreSQL database.
func testDriver(t *testing.T) (driver, dsn string) {
	t.Helper()
	base := os.Getenv("GLANCE_TEST_POSTGRES_DSN")
	if base == "" {
		if os.Getenv("GLANCE_REQUIRE_POSTGRES") != "" {
			t.Fatal("GLANCE_REQUIRE_POSTGRES is set but GLANCE_TEST_POSTGRES_DSN is empty")
		}
		return DriverSQLite, filepath.Join(t.TempDir(), "sub", "glance.db")
	}
	admin, err := sql.Open("postgres", base)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	schema := "t_" + strings.ReplaceAll(uuid.NewString(), "-", "")
	if _, err := admin.Exec("CREATE SCHEMA " + schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if a, err := sql.Open("postgres", base); err == nil {
			a.Exec("DROP SCHEMA " + schema + " CASCADE")
			a.Close()
		}
	})
	return DriverPostgres, base + " search_path=" + schema
}

func openTest(t *testing.T, opts ...OpenOptions) (*DB, string) {
	t.Helper()
	driver, dsn := testDriver(t)
	o := OpenOptions{AutoMigrate: true}
	if len(opts) > 0 {
		o = opts[0]
	}
	db, err := Open(context.Background(), driver, dsn, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db, dsn
}

func newImage(name string) *image.Image {
	return &image.Image{
		ID: uuid.NewString(), Name: image.Ptr(name), Status: image.StatusQueued, Visibility: image.VisibilityShared,
		DiskFormat: image.Ptr("raw"), ContainerFormat: image.Ptr("bare"), Owner: image.Ptr("admin"),
		Tags: []string{"b", "a"}, Properties: map[string]string{"os_distro": "cirros"},
	}
}

func TestMigrateAndVersion(t *testing.T) {
	ctx := context.Background()
	driver, dsn := testDriver(t)

	// A fresh database needs migrations: refused without AutoMigrate.
	if _, err := Open(ctx, driver, dsn); !errors.Is(err, ErrSchemaOutdated) {
		t.Fatalf("open without migrations: %v, want ErrSchemaOutdated", err)
	}
	db, err := Open(ctx, driver, dsn, OpenOptions{SkipSchemaCheck: true})
	if err != nil {
		t.Fatal(err)
	}
	cur, known, err := db.Version(ctx)
	if err != nil || cur != 0 || known < 1 {
		t.Fatalf("version of an empty db: %d/%d %v", cur, known, err)
	}
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if err := db.Migrate(ctx); err != nil { // idempotent
		t.Fatal(err)
	}
	if cur, known, err = db.Version(ctx); err != nil || cur != known {
		t.Fatalf("after migrate: %d/%d %v", cur, known, err)
	}
	// A schema newer than the binary is refused.
	if _, err := db.w.ExecContext(ctx, db.q("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, 'future', ?)"), known+1, time.Now().UTC()); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if _, err := Open(ctx, driver, dsn, OpenOptions{AutoMigrate: true}); !errors.Is(err, ErrSchemaTooNew) {
		t.Fatalf("open a newer schema: %v, want ErrSchemaTooNew", err)
	}
	if _, err := Open(ctx, "mysql", "x"); !errors.Is(err, ErrUnsupportedDriver) {
		t.Fatalf("mysql: %v", err)
	}
}

func TestRebind(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"SELECT 1", "SELECT 1"},
		{"a = ? AND b IN (?, ?)", "a = $1 AND b IN ($2, $3)"},
	} {
		if got := postgresDialect.rebind(tc.in); got != tc.want {
			t.Errorf("rebind(%q) = %q, want %q", tc.in, got, tc.want)
		}
		if got := sqliteDialect.rebind(tc.in); got != tc.in {
			t.Errorf("sqlite rebind changed %q", tc.in)
		}
	}
}

func TestCreateGetDuplicate(t *testing.T) {
	ctx := context.Background()
	db, _ := openTest(t)
	img := newImage("one")
	if err := db.Create(ctx, img); err != nil {
		t.Fatal(err)
	}
	got, err := db.Get(ctx, img.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != img.ID || *got.Name != "one" || got.Status != image.StatusQueued || got.Visibility != image.VisibilityShared ||
		*got.DiskFormat != "raw" || *got.ContainerFormat != "bare" || *got.Owner != "admin" || got.Size != nil || got.Checksum != nil {
		t.Fatalf("got %+v", got)
	}
	if fmt.Sprint(got.Tags) != "[a b]" || got.Properties["os_distro"] != "cirros" || len(got.Locations) != 0 {
		t.Fatalf("children: %v %v %v", got.Tags, got.Properties, got.Locations)
	}
	if !got.CreatedAt.Equal(img.CreatedAt) || got.CreatedAt.Location() != time.UTC || got.CreatedAt.Nanosecond() != 0 {
		t.Fatalf("created_at %v, want %v in UTC whole seconds", got.CreatedAt, img.CreatedAt)
	}
	if _, err := db.Get(ctx, uuid.NewString()); !errors.Is(err, ErrNotFound) {
		t.Fatalf("get unknown: %v", err)
	}
	dup := newImage("dup")
	dup.ID = img.ID
	if err := db.Create(ctx, dup); !errors.Is(err, ErrDuplicate) {
		t.Fatalf("duplicate: %v", err)
	}
	// A deleted image's id stays taken.
	if _, err := db.Delete(ctx, img.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Get(ctx, img.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("get deleted: %v", err)
	}
	if err := db.Create(ctx, dup); !errors.Is(err, ErrDuplicate) {
		t.Fatalf("reuse of a deleted id: %v", err)
	}
}

func TestSetStatusCAS(t *testing.T) {
	ctx := context.Background()
	db, _ := openTest(t)
	img := newImage("cas")
	img.Size = image.Ptr(int64(5))
	if err := db.Create(ctx, img); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		id       string
		from, to image.Status
		want     error
		actual   image.Status
	}{
		{"queued to saving", img.ID, image.StatusQueued, image.StatusSaving, nil, ""},
		{"stale from", img.ID, image.StatusQueued, image.StatusSaving, ErrConflict, image.StatusSaving},
		{"back to queued", img.ID, image.StatusSaving, image.StatusQueued, nil, ""},
		{"unknown image", uuid.NewString(), image.StatusQueued, image.StatusSaving, ErrNotFound, ""},
	}
	for _, tc := range tests {
		err := db.SetStatus(ctx, tc.id, tc.from, tc.to)
		if !errors.Is(err, tc.want) || (tc.want == nil && err != nil) {
			t.Fatalf("%s: %v, want %v", tc.name, err, tc.want)
		}
		var ce *ConflictError
		if tc.actual != "" && (!errors.As(err, &ce) || ce.Actual != tc.actual) {
			t.Fatalf("%s: conflict %v, want actual status %s", tc.name, err, tc.actual)
		}
	}
	got, _ := db.Get(ctx, img.ID)
	if got.Status != image.StatusQueued || got.Size != nil {
		t.Fatalf("after restore to queued: status %s size %v", got.Status, got.Size)
	}
}

// TestSetStatusRace: of 32 concurrent queued→saving attempts exactly one
// wins; the others see ErrConflict.
func TestSetStatusRace(t *testing.T) {
	ctx := context.Background()
	db, _ := openTest(t)
	img := newImage("race")
	if err := db.Create(ctx, img); err != nil {
		t.Fatal(err)
	}
	const n = 32
	var wg sync.WaitGroup
	errs := make([]error, n)
	start := make(chan struct{})
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			errs[i] = db.SetStatus(ctx, img.ID, image.StatusQueued, image.StatusSaving)
		}()
	}
	close(start)
	wg.Wait()
	wins := 0
	for _, err := range errs {
		switch {
		case err == nil:
			wins++
		case errors.Is(err, ErrConflict):
		default:
			t.Fatalf("unexpected error: %v", err)
		}
	}
	if wins != 1 {
		t.Fatalf("%d winners, want exactly 1", wins)
	}
}

func upload(url string) UploadResult {
	return UploadResult{Size: 64, VirtualSize: image.Ptr(int64(64)), Checksum: "cf9084a56845b3330ac46ccd96e8047f", HashAlgo: "sha512", HashValue: "89e6",
		Location: image.Location{URL: url, StoreID: "fast", Metadata: map[string]string{"store": "fast"}}}
}

func TestCommitUpload(t *testing.T) {
	ctx := context.Background()
	db, _ := openTest(t)
	img := newImage("commit")
	if err := db.Create(ctx, img); err != nil {
		t.Fatal(err)
	}
	// Not saving: refused, nothing changed.
	err := db.CommitUpload(ctx, img.ID, upload("file:///x"))
	var ce *ConflictError
	if !errors.As(err, &ce) || ce.Actual != image.StatusQueued {
		t.Fatalf("commit on a queued image: %v", err)
	}
	if got, _ := db.Get(ctx, img.ID); got.Status != image.StatusQueued || got.Size != nil || got.Checksum != nil || len(got.Locations) != 0 {
		t.Fatalf("a failed commit changed the image: %+v", got)
	}
	if locs, _ := db.Locations(ctx, img.ID); len(locs) != 0 {
		t.Fatalf("a failed commit left locations %v", locs)
	}

	if err := db.SetStatus(ctx, img.ID, image.StatusQueued, image.StatusSaving); err != nil {
		t.Fatal(err)
	}
	if err := db.CommitUpload(ctx, img.ID, upload("file:///data/"+img.ID)); err != nil {
		t.Fatal(err)
	}
	got, _ := db.Get(ctx, img.ID)
	if got.Status != image.StatusActive || *got.Size != 64 || *got.VirtualSize != 64 || *got.Checksum != "cf9084a56845b3330ac46ccd96e8047f" ||
		*got.OSHashAlgo != "sha512" || *got.OSHashValue != "89e6" {
		t.Fatalf("after commit: %+v", got)
	}
	if len(got.Locations) != 1 || got.Locations[0].URL != "file:///data/"+img.ID || got.Locations[0].StoreID != "fast" ||
		got.Locations[0].Metadata["store"] != "fast" || got.Locations[0].Status != "active" {
		t.Fatalf("locations %+v", got.Locations)
	}
	// A second commit loses: the image is no longer saving.
	if err := db.CommitUpload(ctx, img.ID, upload("file:///other")); !errors.Is(err, ErrConflict) {
		t.Fatalf("second commit: %v", err)
	}
	if locs, _ := db.Locations(ctx, img.ID); len(locs) != 1 {
		t.Fatalf("second commit added a location: %v", locs)
	}

	// Deleted during the upload: ErrNotFound, no location recorded.
	img2 := newImage("deleted-while-saving")
	db.Create(ctx, img2)
	db.SetStatus(ctx, img2.ID, image.StatusQueued, image.StatusSaving)
	if _, err := db.Delete(ctx, img2.ID); err != nil {
		t.Fatal(err)
	}
	if err := db.CommitUpload(ctx, img2.ID, upload("file:///late")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("commit after delete: %v", err)
	}
	var n int
	db.r.QueryRow(db.q("SELECT COUNT(*) FROM image_locations WHERE image_id = ?"), img2.ID).Scan(&n)
	if n != 0 {
		t.Fatalf("commit after delete left %d location rows", n)
	}
}

func TestDelete(t *testing.T) {
	ctx := context.Background()
	db, _ := openTest(t)
	img := newImage("del")
	db.Create(ctx, img)
	db.SetStatus(ctx, img.ID, image.StatusQueued, image.StatusSaving)
	if err := db.CommitUpload(ctx, img.ID, upload("file:///data/"+img.ID)); err != nil {
		t.Fatal(err)
	}
	locs, err := db.Delete(ctx, img.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(locs) != 1 || locs[0].URL != "file:///data/"+img.ID || locs[0].StoreID != "fast" {
		t.Fatalf("delete returned %+v", locs)
	}
	if _, err := db.Delete(ctx, img.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second delete: %v", err)
	}
	if _, err := db.Locations(ctx, img.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("locations of a deleted image: %v", err)
	}
	var status string
	var deletedAt dbTime
	db.r.QueryRow(db.q("SELECT status, deleted_at FROM images WHERE id = ?"), img.ID).Scan(&status, &deletedAt)
	if status != "deleted" || !deletedAt.valid {
		t.Fatalf("soft delete row: status %q deleted_at %v", status, deletedAt)
	}

	prot := newImage("protected")
	prot.Protected = true
	db.Create(ctx, prot)
	if _, err := db.Delete(ctx, prot.ID); !errors.Is(err, ErrProtected) {
		t.Fatalf("delete protected: %v", err)
	}
	if _, err := db.Get(ctx, prot.ID); err != nil {
		t.Fatalf("protected image gone: %v", err)
	}
}

func TestListPaging(t *testing.T) {
	ctx := context.Background()
	clock := time.Date(2026, 11, 26, 11, 44, 45, 0, time.UTC)
	var mu sync.Mutex
	db, _ := openTest(t, OpenOptions{AutoMigrate: true, Now: func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		return clock
	}})
	// 7 images over 3 distinct seconds: ties are broken by id.
	for i := 0; i < 7; i++ {
		if i == 3 || i == 5 {
			mu.Lock()
			clock = clock.Add(time.Second)
			mu.Unlock()
		}
		img := newImage(fmt.Sprintf("page-%d", i))
		if err := db.Create(ctx, img); err != nil {
			t.Fatal(err)
		}
	}
	hidden := newImage("hidden")
	hidden.OSHidden = true
	db.Create(ctx, hidden)
	deleted := newImage("deleted")
	db.Create(ctx, deleted)
	db.Delete(ctx, deleted.ID)

	all, err := db.List(ctx, ListQuery{Caller: admin, OSHidden: image.Ptr(false)})
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 7 {
		t.Fatalf("listed %d images, want 7", len(all))
	}
	for i := 1; i < len(all); i++ {
		a, b := all[i-1], all[i]
		if a.CreatedAt.Before(b.CreatedAt) || (a.CreatedAt.Equal(b.CreatedAt) && a.ID < b.ID) {
			t.Fatalf("order broken at %d: %v/%s before %v/%s", i, a.CreatedAt, a.ID, b.CreatedAt, b.ID)
		}
	}
	var paged []string
	marker := ""
	for pages := 0; ; pages++ {
		page, err := db.List(ctx, ListQuery{Caller: admin, Limit: 3, Marker: marker, OSHidden: image.Ptr(false)})
		if err != nil {
			t.Fatal(err)
		}
		for _, img := range page {
			paged = append(paged, img.ID)
			if img.Properties["os_distro"] != "cirros" || len(img.Tags) != 2 {
				t.Fatalf("children not loaded in list: %+v", img)
			}
		}
		if len(page) < 3 {
			break
		}
		marker = page[len(page)-1].ID
		if pages > 5 {
			t.Fatal("paging does not end")
		}
	}
	var want []string
	for _, img := range all {
		want = append(want, img.ID)
	}
	if fmt.Sprint(paged) != fmt.Sprint(want) {
		t.Fatalf("paged\n%v\nwant\n%v", paged, want)
	}
	if _, err := db.List(ctx, ListQuery{Caller: admin, Marker: uuid.NewString()}); !errors.Is(err, ErrInvalidMarker) {
		t.Fatalf("unknown marker: %v", err)
	}
	withHidden, _ := db.List(ctx, ListQuery{Caller: admin})
	if len(withHidden) != 8 {
		t.Fatalf("without the os_hidden filter: %d images, want 8", len(withHidden))
	}
}

func TestConcurrentReadsAndWrites(t *testing.T) {
	ctx := context.Background()
	db, _ := openTest(t)
	var wg sync.WaitGroup
	errc := make(chan error, 64)
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 20; i++ {
				img := newImage("c")
				if err := db.Create(ctx, img); err != nil {
					errc <- err
					return
				}
				if _, err := db.Get(ctx, img.ID); err != nil {
					errc <- err
					return
				}
				if _, err := db.List(ctx, ListQuery{Caller: admin, Limit: 5}); err != nil {
					errc <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
}

var admin = Caller{Admin: true, Project: "admin"}

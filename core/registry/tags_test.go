package registry

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/glance-go/glance/core/image"
)

// tagRowsOff counts the image_tags rows whose image_created_at is not
// their image's created_at, and returns the number of rows.
func tagRowsOff(t *testing.T, db *DB) (off, total int) {
	t.Helper()
	ctx := context.Background()
	if err := db.r.QueryRowContext(ctx, "SELECT COUNT(*) FROM image_tags t JOIN images i ON i.id = t.image_id "+
		"WHERE t.image_created_at <> i.created_at").Scan(&off); err != nil {
		t.Fatal(err)
	}
	if err := db.r.QueryRowContext(ctx, "SELECT COUNT(*) FROM image_tags").Scan(&total); err != nil {
		t.Fatal(err)
	}
	return off, total
}

func listIDs(t *testing.T, db *DB, q ListQuery) []string {
	t.Helper()
	imgs, err := db.List(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, img := range imgs {
		ids = append(ids, img.ID)
	}
	return ids
}

// TestTagCreatedAtFollowsImage: tags added at create and later by update
// carry the image's created_at (not the time of the update), removed tags
// leave the tag list, and tag pages stay in created_at, id order.
func TestTagCreatedAtFollowsImage(t *testing.T) {
	ctx := context.Background()
	clock := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	db, _ := openTest(t, OpenOptions{AutoMigrate: true, Now: func() time.Time { return clock }})
	var imgs []*image.Image
	for i := 0; i < 6; i++ {
		img := newImage(fmt.Sprintf("t-%d", i)) // tags a, b
		img.CreatedAt = clock.Add(time.Duration(i/2) * time.Second)
		if err := db.Create(ctx, img); err != nil {
			t.Fatal(err)
		}
		imgs = append(imgs, img)
	}
	clock = clock.Add(time.Hour)
	// Later: c is added to 0, 3 and 5 (one update also removes a), b is
	// removed from 1.
	for _, i := range []int{0, 3, 5} {
		if _, err := db.Update(ctx, imgs[i].ID, func(img *image.Image) error {
			img.Tags = append(img.Tags, "c")
			if i == 3 {
				img.Tags = slices.DeleteFunc(img.Tags, func(s string) bool { return s == "a" })
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.Update(ctx, imgs[1].ID, func(img *image.Image) error {
		img.Tags = slices.DeleteFunc(img.Tags, func(s string) bool { return s == "b" })
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if off, total := tagRowsOff(t, db); off != 0 || total != 13 {
		t.Fatalf("image_tags: %d of %d rows off their image's created_at, want 0 of 13", off, total)
	}

	// Expected lists, by the Go order of (created_at, id) descending.
	want := func(desc bool, keep func(i int) bool) []string {
		var sel []*image.Image
		for i, img := range imgs {
			if keep(i) {
				sel = append(sel, img)
			}
		}
		slices.SortFunc(sel, func(a, b *image.Image) int {
			c := a.CreatedAt.Compare(b.CreatedAt)
			if c == 0 {
				c = strings.Compare(a.ID, b.ID)
			}
			if desc {
				c = -c
			}
			return c
		})
		var ids []string
		for _, img := range sel {
			ids = append(ids, img.ID)
		}
		return ids
	}
	for _, tc := range []struct {
		tags []string
		keep func(i int) bool
	}{
		{[]string{"c"}, func(i int) bool { return i == 0 || i == 3 || i == 5 }},
		{[]string{"a"}, func(i int) bool { return i != 3 }},
		{[]string{"b"}, func(i int) bool { return i != 1 }},
		{[]string{"c", "a"}, func(i int) bool { return i == 0 || i == 5 }},
		{[]string{"b", "c"}, func(i int) bool { return i == 0 || i == 3 || i == 5 }},
		{[]string{"a", "b"}, func(i int) bool { return i != 1 && i != 3 }},
	} {
		for _, desc := range []bool{true, false} {
			dirs := []string{"desc"}
			if !desc {
				dirs = []string{"asc"}
			}
			exp := want(desc, tc.keep)
			base := ListQuery{Caller: admin, Tags: tc.tags, SortKeys: []string{"created_at"}, SortDirs: dirs}
			if got := listIDs(t, db, base); !slices.Equal(got, exp) {
				t.Fatalf("tags %v %s: got %v, want %v", tc.tags, dirs[0], got, exp)
			}
			// Paged one by one, from markers that carry the tag.
			var paged []string
			q := base
			q.Limit = 1
			for n := 0; n < 10; n++ {
				page := listIDs(t, db, q)
				if len(page) == 0 {
					break
				}
				paged = append(paged, page...)
				q.Marker = page[0]
			}
			if !slices.Equal(paged, exp) {
				t.Fatalf("tags %v %s paged: got %v, want %v", tc.tags, dirs[0], paged, exp)
			}
		}
	}
	// A marker without the tag still places the page (Glance's marker is
	// any image the caller sees): after image 1 (no b), b's list goes on
	// with the images after 1 in created_at, id order.
	all := want(true, func(int) bool { return true })
	after := all[slices.Index(all, imgs[1].ID)+1:] // every other image has b
	if len(after) == 0 {
		after = nil
	}
	if got := listIDs(t, db, ListQuery{Caller: admin, Tags: []string{"b"}, Marker: imgs[1].ID}); !slices.Equal(got, after) {
		t.Fatalf("after an untagged marker: %v, want %v", got, after)
	}
	// A deleted image leaves its tag lists.
	if _, err := db.Delete(ctx, imgs[5].ID); err != nil {
		t.Fatal(err)
	}
	if got := listIDs(t, db, ListQuery{Caller: admin, Tags: []string{"c"}}); slices.Contains(got, imgs[5].ID) || len(got) != 2 {
		t.Fatalf("after delete: %v", got)
	}
}

// TestMigration3BackfillsTagCreatedAt: tags stored by schema version 2
// get their image's created_at from migration 3, and list by tag.
func TestMigration3BackfillsTagCreatedAt(t *testing.T) {
	ctx := context.Background()
	driver, dsn := testDriver(t)
	db, err := Open(ctx, driver, dsn, OpenOptions{SkipSchemaCheck: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ms, err := migrations()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.w.ExecContext(ctx, createMigrationsTable); err != nil {
		t.Fatal(err)
	}
	for _, m := range ms[:2] {
		for _, s := range m.stmts {
			if _, err := db.w.ExecContext(ctx, s); err != nil {
				t.Fatalf("%s: %v", m.name, err)
			}
		}
		if _, err := db.w.ExecContext(ctx, db.q("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)"),
			m.version, m.name, time.Now().UTC().Truncate(time.Second)); err != nil {
			t.Fatal(err)
		}
	}
	// Version-2 rows, written as version 2's Create did.
	t0 := time.Date(2025, 5, 5, 5, 5, 5, 0, time.UTC)
	var ids []string
	for i := 0; i < 4; i++ {
		id := uuid.NewString()
		ids = append(ids, id)
		if _, err := db.w.ExecContext(ctx, db.q("INSERT INTO images (id, status, visibility, created_at, updated_at) VALUES (?, 'active', 'public', ?, ?)"),
			id, t0.Add(time.Duration(i)*time.Minute), t0); err != nil {
			t.Fatal(err)
		}
		for _, tag := range []string{"old", fmt.Sprint("n", i%2)} {
			if _, err := db.w.ExecContext(ctx, db.q("INSERT INTO image_tags (image_id, value) VALUES (?, ?)"), id, tag); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if cur, known, err := db.Version(ctx); err != nil || cur != known || cur < 3 {
		t.Fatalf("version after migrate: %d/%d %v", cur, known, err)
	}
	if off, total := tagRowsOff(t, db); off != 0 || total != 8 {
		t.Fatalf("after migration 3: %d of %d tag rows off their image's created_at, want 0 of 8", off, total)
	}
	if got, want := listIDs(t, db, ListQuery{Caller: admin, Tags: []string{"old"}}), []string{ids[3], ids[2], ids[1], ids[0]}; !slices.Equal(got, want) {
		t.Fatalf("list by tag after migration: %v, want %v", got, want)
	}
	if got, want := listIDs(t, db, ListQuery{Caller: admin, Tags: []string{"n1", "old"}, Limit: 1, Marker: ids[3]}), []string{ids[1]}; !slices.Equal(got, want) {
		t.Fatalf("tag page after migration: %v, want %v", got, want)
	}
	// A tag added after the migration gets created_at too.
	if _, err := db.Update(ctx, ids[0], func(img *image.Image) error { img.Tags = append(img.Tags, "new"); return nil }); err != nil {
		t.Fatal(err)
	}
	if off, total := tagRowsOff(t, db); off != 0 || total != 9 {
		t.Fatalf("after update: %d of %d tag rows off, want 0 of 9", off, total)
	}
}

package registry

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/glance-go/glance/core/image"
)

// listFixture is a catalogue exercising every list rule; images are named
// by one letter (label) and created one second apart in label order.
type listFixture struct {
	db    *DB
	t0    time.Time
	ids   map[string]string // label → id
	label map[string]string // id → label
}

type fixImage struct {
	label, name, owner string
	vis                image.Visibility
	status             image.Status
	size               int64 // 0: null
	disk               string
	hidden, protected  bool
	checksum, hash     string
	tags               []string
	props              map[string]string
	member             string // proj-a's membership status, "" none
}

var fixImages = []fixImage{
	{label: "a", name: "alpha", owner: "proj-a", vis: image.VisibilityPublic, status: image.StatusActive, size: 10, disk: "raw",
		tags: []string{"x", "y"}, props: map[string]string{"os_distro": "cirros"}},
	{label: "b", name: "beta", owner: "proj-a", vis: image.VisibilityPrivate, status: image.StatusActive, size: 100, disk: "qcow2", tags: []string{"x"}},
	{label: "c", owner: "proj-b", vis: image.VisibilityShared, status: image.StatusQueued, member: "accepted"},
	{label: "d", name: "delta,comma", owner: "proj-b", vis: image.VisibilityShared, status: image.StatusQueued, size: 50, disk: "raw", member: "pending",
		props: map[string]string{"os_distro": "debian"}},
	{label: "e", name: "echo", owner: "proj-b", vis: image.VisibilityCommunity, status: image.StatusQueued},
	{label: "f", name: "fox", owner: "proj-a", vis: image.VisibilityCommunity, status: image.StatusQueued},
	{label: "g", name: "golf", owner: "proj-b", vis: image.VisibilityPrivate, status: image.StatusQueued, hidden: true},
	{label: "h", name: "hotel", owner: "proj-b", vis: image.VisibilityPublic, status: image.StatusActive, size: 64, protected: true,
		checksum: "abc", hash: "h1", tags: []string{"y"}},
	{label: "k", name: "killed", owner: "proj-a", vis: image.VisibilityPublic, status: image.StatusKilled},
	{label: "i", name: "india", owner: "proj-b", vis: image.VisibilityShared, status: image.StatusQueued, member: "rejected"},
	{label: "z", name: "zulu", owner: "proj-a", vis: image.VisibilityPublic, status: image.StatusQueued},
}

func newListFixture(t *testing.T) *listFixture {
	t.Helper()
	ctx := context.Background()
	db, _ := openTest(t)
	f := &listFixture{db: db, t0: time.Date(2026, 11, 26, 11, 0, 0, 0, time.UTC), ids: map[string]string{}, label: map[string]string{}}
	for i, fi := range fixImages {
		img := &image.Image{ID: uuid.NewString(), Status: fi.status, Visibility: fi.vis, Owner: image.Ptr(fi.owner),
			OSHidden: fi.hidden, Protected: fi.protected, Tags: fi.tags, Properties: fi.props,
			CreatedAt: f.t0.Add(time.Duration(i) * time.Second)}
		if fi.name != "" {
			img.Name = image.Ptr(fi.name)
		}
		if fi.size != 0 {
			img.Size = image.Ptr(fi.size)
		}
		if fi.disk != "" {
			img.DiskFormat = image.Ptr(fi.disk)
		}
		if fi.checksum != "" {
			img.Checksum, img.OSHashValue = image.Ptr(fi.checksum), image.Ptr(fi.hash)
		}
		if err := db.Create(ctx, img); err != nil {
			t.Fatal(err)
		}
		f.ids[fi.label], f.label[img.ID] = img.ID, fi.label
		if fi.member != "" {
			if _, err := db.AddMember(ctx, img.ID, "proj-a"); err != nil {
				t.Fatal(err)
			}
			if _, err := db.SetMemberStatus(ctx, img.ID, "proj-a", image.MemberStatus(fi.member)); err != nil {
				t.Fatal(err)
			}
		}
	}
	// z is deleted; a deleted membership of proj-a on g shows nothing.
	if _, err := db.Delete(ctx, f.ids["z"]); err != nil {
		t.Fatal(err)
	}
	if _, err := db.AddMember(ctx, f.ids["g"], "proj-a"); err != nil {
		t.Fatal(err)
	}
	if err := db.DeleteMember(ctx, f.ids["g"], "proj-a"); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *listFixture) labels(imgs []*image.Image) string {
	var out []string
	for _, img := range imgs {
		out = append(out, f.label[img.ID])
	}
	return strings.Join(out, ",")
}

var notHidden = image.Ptr(false)

func TestListRules(t *testing.T) {
	ctx := context.Background()
	f := newListFixture(t)
	projA := Caller{Project: "proj-a"}
	projB := Caller{Project: "proj-b"}
	at := func(sec int) time.Time { return f.t0.Add(time.Duration(sec) * time.Second) }
	eq := func(col string, v any) Filter { return Filter{Column: col, Op: OpEq, Values: []any{v}} }
	tests := []struct {
		name string
		q    ListQuery
		want string // labels in order
	}{
		// Scope and visibility.
		{"admin default: no hidden, killed, deleted or others' community", ListQuery{Caller: admin, OSHidden: notHidden}, "i,h,d,c,b,a"},
		{"admin visibility=all", ListQuery{Caller: admin, OSHidden: notHidden, Visibility: "all"}, "i,h,f,e,d,c,b,a"},
		{"admin visibility=community", ListQuery{Caller: admin, OSHidden: notHidden, Visibility: "community"}, "f,e"},
		{"admin member_status ignored", ListQuery{Caller: admin, OSHidden: notHidden, MemberStatus: "pending"}, "i,h,d,c,b,a"},
		{"os_hidden=true", ListQuery{Caller: admin, OSHidden: image.Ptr(true)}, "g"},
		{"os_hidden unset", ListQuery{Caller: admin}, "i,h,g,d,c,b,a"},
		{"member default: public, own (own community too), accepted shares", ListQuery{Caller: projA, OSHidden: notHidden}, "h,f,c,b,a"},
		{"member_status=pending", ListQuery{Caller: projA, OSHidden: notHidden, MemberStatus: "pending"}, "h,f,d,b,a"},
		{"member_status=rejected", ListQuery{Caller: projA, OSHidden: notHidden, MemberStatus: "rejected"}, "i,h,f,b,a"},
		{"member_status=all", ListQuery{Caller: projA, OSHidden: notHidden, MemberStatus: "all"}, "i,h,f,d,c,b,a"},
		{"non-admin visibility=community", ListQuery{Caller: projA, OSHidden: notHidden, Visibility: "community"}, "f,e"},
		{"non-admin visibility=shared", ListQuery{Caller: projA, OSHidden: notHidden, Visibility: "shared"}, "c"},
		{"non-admin visibility=private", ListQuery{Caller: projA, OSHidden: notHidden, Visibility: "private"}, "b"},
		{"non-admin visibility=all", ListQuery{Caller: projA, OSHidden: notHidden, Visibility: "all"}, "h,f,e,c,b,a"},
		{"owner sees own hidden", ListQuery{Caller: projB, OSHidden: image.Ptr(true)}, "g"},
		{"other project", ListQuery{Caller: projB, OSHidden: notHidden}, "i,h,e,d,c,a"},
		{"no project: public only", ListQuery{OSHidden: notHidden}, "h,a"},
		{"no project, community", ListQuery{OSHidden: notHidden, Visibility: "community"}, "f,e"},

		// Filters (admin, every visibility).
		{"name in with a comma", ListQuery{Caller: admin, Visibility: "all", Filters: []Filter{{Column: "name", Op: OpIn, Values: []any{"alpha", "delta,comma"}}}}, "d,a"},
		{"name eq", ListQuery{Caller: admin, Visibility: "all", Filters: []Filter{eq("name", "alpha")}}, "a"},
		{"id in", ListQuery{Caller: admin, Visibility: "all", Filters: []Filter{{Column: "id", Op: OpIn, Values: []any{f.ids["b"], f.ids["e"]}}}}, "e,b"},
		{"status in", ListQuery{Caller: admin, Visibility: "all", Filters: []Filter{{Column: "status", Op: OpIn, Values: []any{"active"}}}}, "h,b,a"},
		{"status killed never listed", ListQuery{Caller: admin, Visibility: "all", Filters: []Filter{eq("status", "killed")}}, ""},
		{"disk_format", ListQuery{Caller: admin, Visibility: "all", Filters: []Filter{eq("disk_format", "raw")}}, "d,a"},
		{"size_min", ListQuery{Caller: admin, Visibility: "all", Filters: []Filter{{Column: "size", Op: OpGte, Values: []any{int64(50)}}}}, "h,d,b"},
		{"size_min and size_max", ListQuery{Caller: admin, Visibility: "all", Filters: []Filter{
			{Column: "size", Op: OpGte, Values: []any{int64(11)}}, {Column: "size", Op: OpLte, Values: []any{int64(64)}}}}, "h,d"},
		{"created_at gt", ListQuery{Caller: admin, Visibility: "all", Filters: []Filter{{Column: "created_at", Op: OpGt, Values: []any{at(7)}}}}, "i"},
		{"created_at gte", ListQuery{Caller: admin, Visibility: "all", Filters: []Filter{{Column: "created_at", Op: OpGte, Values: []any{at(7)}}}}, "i,h"},
		{"created_at lt", ListQuery{Caller: admin, Visibility: "all", Filters: []Filter{{Column: "created_at", Op: OpLt, Values: []any{at(1)}}}}, "a"},
		{"created_at lte", ListQuery{Caller: admin, Visibility: "all", Filters: []Filter{{Column: "created_at", Op: OpLte, Values: []any{at(1)}}}}, "b,a"},
		{"created_at eq", ListQuery{Caller: admin, Visibility: "all", Filters: []Filter{{Column: "created_at", Op: OpEq, Values: []any{at(3)}}}}, "d"},
		{"created_at neq", ListQuery{Caller: admin, Visibility: "all", OSHidden: notHidden, Filters: []Filter{{Column: "created_at", Op: OpNeq, Values: []any{at(3)}}}}, "i,h,f,e,c,b,a"},
		{"created_at in another zone", ListQuery{Caller: admin, Visibility: "all", Filters: []Filter{
			{Column: "created_at", Op: OpEq, Values: []any{at(3).In(time.FixedZone("x", 3600))}}}}, "d"},
		{"created_at lt a fraction above", ListQuery{Caller: admin, Visibility: "all", Filters: []Filter{{Column: "created_at", Op: OpLt, Values: []any{at(1).Add(time.Millisecond)}}}}, "b,a"},
		{"created_at gte a fraction above", ListQuery{Caller: admin, Visibility: "all", Filters: []Filter{{Column: "created_at", Op: OpGte, Values: []any{at(7).Add(time.Millisecond)}}}}, "i"},
		{"created_at eq a fraction", ListQuery{Caller: admin, Visibility: "all", Filters: []Filter{{Column: "created_at", Op: OpEq, Values: []any{at(3).Add(time.Millisecond)}}}}, ""},
		{"updated_at gte", ListQuery{Caller: admin, Visibility: "all", Filters: []Filter{{Column: "updated_at", Op: OpGte, Values: []any{at(9)}}}}, "i"},
		{"one tag", ListQuery{Caller: admin, Visibility: "all", Tags: []string{"x"}}, "b,a"},
		{"tags are ANDed", ListQuery{Caller: admin, Visibility: "all", Tags: []string{"x", "y"}}, "a"},
		{"unknown tag", ListQuery{Caller: admin, Visibility: "all", Tags: []string{"x", "nope"}}, ""},
		{"property", ListQuery{Caller: admin, Visibility: "all", Properties: map[string]string{"os_distro": "cirros"}}, "a"},
		{"property, other value", ListQuery{Caller: admin, Visibility: "all", Properties: map[string]string{"os_distro": "debian"}}, "d"},
		{"owner", ListQuery{Caller: admin, Visibility: "all", OSHidden: notHidden, Filters: []Filter{eq("owner", "proj-b")}}, "i,h,e,d,c"},
		{"owner and visibility", ListQuery{Caller: admin, Visibility: "private", Filters: []Filter{eq("owner", "proj-a")}}, "b"},
		{"protected", ListQuery{Caller: admin, Visibility: "all", Filters: []Filter{eq("protected", true)}}, "h"},
		{"not protected", ListQuery{Caller: admin, Visibility: "public", Filters: []Filter{eq("protected", false)}}, "a"},
		{"checksum", ListQuery{Caller: admin, Visibility: "all", Filters: []Filter{eq("checksum", "abc")}}, "h"},
		{"os_hash_value", ListQuery{Caller: admin, Visibility: "all", Filters: []Filter{eq("os_hash_value", "h1")}}, "h"},
		{"filters within scope", ListQuery{Caller: projA, OSHidden: notHidden, Tags: []string{"y"}}, "h,a"},
		{"limit", ListQuery{Caller: admin, OSHidden: notHidden, Limit: 2}, "i,h"},

		// Sorts: NULL sorts as '' / 0; created_at then id break ties in
		// the single direction given.
		{"name asc", ListQuery{Caller: admin, Visibility: "all", OSHidden: notHidden, SortKeys: []string{"name"}, SortDirs: []string{"asc"}}, "c,a,b,d,e,f,h,i"},
		{"name desc", ListQuery{Caller: admin, Visibility: "all", OSHidden: notHidden, SortKeys: []string{"name"}}, "i,h,f,e,d,b,a,c"},
		{"size asc, ties by created_at asc", ListQuery{Caller: admin, Visibility: "all", OSHidden: notHidden, SortKeys: []string{"size"}, SortDirs: []string{"asc"}}, "c,e,f,i,a,d,h,b"},
		{"size desc", ListQuery{Caller: admin, Visibility: "all", OSHidden: notHidden, SortKeys: []string{"size"}, SortDirs: []string{"desc"}}, "b,h,d,a,i,f,e,c"},
		{"status asc, name desc", ListQuery{Caller: admin, Visibility: "all", OSHidden: notHidden, SortKeys: []string{"status", "name"}, SortDirs: []string{"asc", "desc"}}, "h,b,a,i,f,e,d,c"},
		{"disk_format asc, one dir for every key", ListQuery{Caller: admin, Visibility: "all", OSHidden: notHidden, SortKeys: []string{"disk_format", "name"}, SortDirs: []string{"asc"}}, "c,e,f,h,i,b,a,d"},
		{"created_at asc", ListQuery{Caller: admin, OSHidden: notHidden, SortKeys: []string{"created_at"}, SortDirs: []string{"asc"}}, "a,b,c,d,h,i"},
		{"id asc", ListQuery{Caller: admin, Visibility: "all", OSHidden: notHidden, Filters: []Filter{eq("owner", "proj-a")}, SortKeys: []string{"id"}, SortDirs: []string{"asc"}}, sortedLabels(f, "a", "b", "f")},
		{"updated_at desc", ListQuery{Caller: admin, OSHidden: notHidden, SortKeys: []string{"updated_at"}, Limit: 1}, "i"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := f.db.List(ctx, tc.q)
			if err != nil {
				t.Fatal(err)
			}
			if s := f.labels(got); s != tc.want {
				t.Fatalf("got %s, want %s", s, tc.want)
			}
		})
	}
}

// sortedLabels orders labels by their image ids.
func sortedLabels(f *listFixture, labels ...string) string {
	ids := make([]string, len(labels))
	for i, l := range labels {
		ids[i] = f.ids[l]
	}
	for i := range ids {
		for j := i + 1; j < len(ids); j++ {
			if ids[j] < ids[i] {
				ids[i], ids[j] = ids[j], ids[i]
			}
		}
	}
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = f.label[id]
	}
	return strings.Join(out, ",")
}

// TestListKeysetPaging pages through every sort (one direction, mixed
// directions, nullable keys) and scope: the pages, joined, are the
// unpaged list.
func TestListKeysetPaging(t *testing.T) {
	ctx := context.Background()
	f := newListFixture(t)
	// Many equal sort values, so that ties cross page boundaries.
	for i := 0; i < 12; i++ {
		img := newImage(fmt.Sprintf("dup-%d", i%3))
		img.Owner = image.Ptr("proj-a")
		img.Visibility = image.VisibilityPublic
		img.CreatedAt = f.t0.Add(time.Duration(i%4) * time.Second)
		if i%2 == 0 {
			img.Size = image.Ptr(int64(i % 3))
		}
		if err := f.db.Create(ctx, img); err != nil {
			t.Fatal(err)
		}
		f.label[img.ID] = img.ID[:4]
	}
	sorts := []struct{ keys, dirs []string }{
		{nil, nil},
		{[]string{"created_at"}, []string{"asc"}},
		{[]string{"created_at", "name"}, []string{"desc", "asc"}},
		{[]string{"created_at", "id"}, []string{"asc", "desc"}},
		{[]string{"name"}, []string{"asc"}},
		{[]string{"name"}, nil},
		{[]string{"size", "name"}, []string{"asc", "desc"}},
		{[]string{"status", "size"}, []string{"desc"}},
		{[]string{"disk_format", "container_format", "id"}, []string{"asc", "desc", "asc"}},
		{[]string{"updated_at", "name"}, []string{"asc", "asc"}},
	}
	callers := []Caller{admin, {Project: "proj-a"}, {Project: "proj-b"}, {}}
	// Tag lists are paged from the tag's index for created_at sorts: they
	// must be the untagged list's images that carry the tags, in its order.
	tagSets := [][]string{nil, {"a"}, {"x"}, {"b", "a"}, {"y", "x"}}
	for _, s := range sorts {
		for _, c := range callers {
			untagged, err := f.db.List(ctx, ListQuery{Caller: c, OSHidden: notHidden, SortKeys: s.keys, SortDirs: s.dirs, Visibility: "all"})
			if err != nil {
				t.Fatal(err)
			}
			for _, tags := range tagSets {
				var want []*image.Image
				for _, img := range untagged {
					if !slices.ContainsFunc(tags, func(tag string) bool { return !slices.Contains(img.Tags, tag) }) {
						want = append(want, img)
					}
				}
				for _, limit := range []int{1, 2, 5} {
					pageThrough(ctx, t, f, ListQuery{Caller: c, OSHidden: notHidden, SortKeys: s.keys, SortDirs: s.dirs, Visibility: "all", Tags: tags}, limit, want)
				}
			}
		}
	}
}

// pageThrough lists base whole and by pages of limit: both must be want.
func pageThrough(ctx context.Context, t *testing.T, f *listFixture, base ListQuery, limit int, want []*image.Image) {
	t.Helper()
	what := fmt.Sprintf("sort %v %v caller %+v tags %v limit %d", base.SortKeys, base.SortDirs, base.Caller, base.Tags, limit)
	all, err := f.db.List(ctx, base)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	if got, want := f.labels(all), f.labels(want); got != want {
		t.Fatalf("%s:\nlisted %s\nwant   %s", what, got, want)
	}
	var paged []*image.Image
	q := base
	q.Limit = limit
	for n := 0; ; n++ {
		page, err := f.db.List(ctx, q)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		paged = append(paged, page...)
		if len(page) < limit || n > 40 {
			break
		}
		q.Marker = page[len(page)-1].ID
	}
	if got, want := f.labels(paged), f.labels(all); got != want {
		t.Fatalf("%s:\npaged %s\nwant  %s", what, got, want)
	}
}

func TestListErrors(t *testing.T) {
	ctx := context.Background()
	f := newListFixture(t)
	tests := []struct {
		name string
		q    ListQuery
		want error
	}{
		{"unknown marker", ListQuery{Caller: admin, Marker: uuid.NewString()}, ErrInvalidMarker},
		{"marker invisible to the caller", ListQuery{Caller: Caller{Project: "proj-a"}, Marker: f.ids["g"]}, ErrInvalidMarker},
		{"deleted marker for a non-admin", ListQuery{Caller: Caller{Project: "proj-a"}, Marker: f.ids["z"]}, ErrInvalidMarker},
		{"bad sort key", ListQuery{Caller: admin, SortKeys: []string{"owner"}}, ErrInvalidQuery},
		{"bad sort dir", ListQuery{Caller: admin, SortKeys: []string{"name"}, SortDirs: []string{"up"}}, ErrInvalidQuery},
		{"dirs do not match keys", ListQuery{Caller: admin, SortKeys: []string{"name", "size", "id"}, SortDirs: []string{"asc", "desc"}}, ErrInvalidQuery},
		{"unknown filter column", ListQuery{Caller: admin, Filters: []Filter{{Column: "deleted; DROP TABLE images", Op: OpEq, Values: []any{"x"}}}}, ErrInvalidQuery},
		{"unknown operator", ListQuery{Caller: admin, Filters: []Filter{{Column: "name", Op: "like", Values: []any{"x"}}}}, ErrInvalidQuery},
		{"wrong value type", ListQuery{Caller: admin, Filters: []Filter{{Column: "size", Op: OpGte, Values: []any{"ten"}}}}, ErrInvalidQuery},
		{"bad visibility", ListQuery{Caller: admin, Visibility: "secret"}, ErrInvalidQuery},
		{"bad member status", ListQuery{Caller: Caller{Project: "p"}, MemberStatus: "maybe"}, ErrInvalidQuery},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := f.db.List(ctx, tc.q); !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
	// Markers that work: a visible shared image, and for an admin a
	// deleted one (Glance's can_see_deleted).
	if _, err := f.db.List(ctx, ListQuery{Caller: Caller{Project: "proj-a"}, Marker: f.ids["d"]}); err != nil {
		t.Fatalf("pending member's marker: %v", err)
	}
	page, err := f.db.List(ctx, ListQuery{Caller: admin, Marker: f.ids["z"], Visibility: "all", OSHidden: notHidden, SortKeys: []string{"created_at"}, SortDirs: []string{"asc"}})
	if err != nil || f.labels(page) != "" {
		t.Fatalf("deleted marker for an admin: %s %v", f.labels(page), err)
	}
}

// TestListChildren: a listed image carries what Get returns: properties,
// tags and active locations with their metadata.
func TestListChildren(t *testing.T) {
	ctx := context.Background()
	db, _ := openTest(t)
	img := newImage("children")
	img.Properties["k2"] = "v with \"quotes\" and é"
	if err := db.Create(ctx, img); err != nil {
		t.Fatal(err)
	}
	if err := db.SetStatus(ctx, img.ID, image.StatusQueued, image.StatusSaving); err != nil {
		t.Fatal(err)
	}
	if err := db.CommitUpload(ctx, img.ID, upload("file:///data/"+img.ID)); err != nil {
		t.Fatal(err)
	}
	bare := newImage("bare")
	bare.Tags, bare.Properties = nil, nil
	if err := db.Create(ctx, bare); err != nil {
		t.Fatal(err)
	}
	got, err := db.Get(ctx, img.ID)
	if err != nil {
		t.Fatal(err)
	}
	listed, err := db.List(ctx, ListQuery{Caller: admin, SortKeys: []string{"name"}, SortDirs: []string{"asc"}})
	if err != nil || len(listed) != 2 {
		t.Fatalf("list: %v %v", listed, err)
	}
	if !reflect.DeepEqual(listed[1], got) {
		t.Fatalf("listed\n%+v\nget\n%+v", listed[1], got)
	}
	if b := listed[0]; len(b.Tags) != 0 || b.Tags == nil || len(b.Properties) != 0 || b.Properties == nil || len(b.Locations) != 0 {
		t.Fatalf("an image without children: %+v", b)
	}
}

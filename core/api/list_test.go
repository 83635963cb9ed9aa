package api

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/glance-go/glance/core/image"
	"github.com/glance-go/glance/core/registry"
)

// listAuth is the transcript's stand-in for keystone: X-Auth-Token
// user:project:role,role; anything else is the admin.
func listAuth(r *http.Request) (Identity, error) {
	parts := strings.Split(r.Header.Get("X-Auth-Token"), ":")
	if len(parts) != 3 {
		return NoAuthIdentity(), nil
	}
	roles := strings.Split(parts[2], ",")
	return Identity{UserID: parts[0], ProjectID: parts[1], Roles: roles, IsAdmin: slices.Contains(roles, "admin")}, nil
}

// listEnv is an API over a catalogue of images, by name:
//
//	name      owner   visibility  size  tags        extra
//	page-0    admin   shared      -     -           -
//	page-1    admin   shared      -     -           -
//	page-2    admin   shared      -     -           -
//	tx-1      admin   private     64    beta,gamma  os_distro=cirros, protected
//	a,b       proj-a  public      -     beta        -
//	comm-a    proj-a  community   -     -           -
//	shared-b  proj-b  shared      -     -           proj-a a pending member
//	hidden-1  admin   shared      -     -           os_hidden
type listEnv struct {
	*env
	ids   map[string]string
	names map[string]string
}

func newListEnv(t *testing.T) *listEnv {
	e := newEnv(t, func(o *Options) { o.Authenticate = listAuth })
	le := &listEnv{env: e, ids: map[string]string{}, names: map[string]string{}}
	ctx := context.Background()
	t0 := time.Now().UTC().Truncate(time.Second).Add(-time.Hour)
	n := 0
	// Created through the registry, one second apart, so that the
	// default order is certain without sleeping.
	add := func(img image.Image) string {
		img.ID = fmt.Sprintf("%08d-0000-4000-8000-%012d", n, n)
		img.CreatedAt = t0.Add(time.Duration(n) * time.Second)
		n++
		if img.Status == "" {
			img.Status = image.StatusQueued
		}
		if img.Visibility == "" {
			img.Visibility = image.VisibilityShared
		}
		if img.Owner == nil {
			img.Owner = image.Ptr("admin")
		}
		if err := e.reg.Create(ctx, &img); err != nil {
			t.Fatal(err)
		}
		le.ids[*img.Name], le.names[img.ID] = img.ID, *img.Name
		return img.ID
	}
	raw, bare := image.Ptr("raw"), image.Ptr("bare")
	add(image.Image{Name: image.Ptr("page-0"), DiskFormat: raw, ContainerFormat: bare})
	add(image.Image{Name: image.Ptr("page-1"), DiskFormat: raw, ContainerFormat: bare})
	add(image.Image{Name: image.Ptr("page-2"), DiskFormat: raw, ContainerFormat: bare})
	tx := add(image.Image{Name: image.Ptr("tx-1"), DiskFormat: raw, ContainerFormat: bare, Visibility: image.VisibilityPrivate,
		Tags: []string{"beta", "gamma"}, Properties: map[string]string{"os_distro": "cirros"}, Protected: true})
	add(image.Image{Name: image.Ptr("a,b"), Owner: image.Ptr("proj-a"), Visibility: image.VisibilityPublic, Tags: []string{"beta"}})
	add(image.Image{Name: image.Ptr("comm-a"), Owner: image.Ptr("proj-a"), Visibility: image.VisibilityCommunity})
	shared := add(image.Image{Name: image.Ptr("shared-b"), Owner: image.Ptr("proj-b")})
	add(image.Image{Name: image.Ptr("hidden-1"), OSHidden: true})
	if resp, b := e.upload(tx, []byte(data64), nil); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("upload: %d %s", resp.StatusCode, b)
	}
	if _, err := e.reg.AddMember(context.Background(), shared, "proj-a"); err != nil {
		t.Fatal(err)
	}
	return le
}

// list GETs /v2/images?query as token and returns the names listed and
// the body.
func (le *listEnv) list(t *testing.T, query, token string) (int, []string, map[string]any, string) {
	t.Helper()
	hdr := map[string]string{"Accept": "application/json"}
	if token != "" {
		hdr["X-Auth-Token"] = token
	}
	resp, b := le.do("GET", "/v2/images?"+query, nil, hdr)
	if resp.StatusCode != http.StatusOK {
		return resp.StatusCode, nil, nil, string(b)
	}
	body := decode(t, b)
	var names []string
	for _, img := range body["images"].([]any) {
		names = append(names, img.(map[string]any)["name"].(string))
	}
	return resp.StatusCode, names, body, string(b)
}

func TestListAPI(t *testing.T) {
	le := newListEnv(t)
	alice := "alice:proj-a:member"
	bob := "bob:proj-b:member"
	tests := []struct {
		name, query, token string
		want               string // names, comma-joined by |
	}{
		{"default order, no hidden, no others' community", "", "", "shared-b|a,b|tx-1|page-2|page-1|page-0"},
		{"limit", "limit=2", "", "shared-b|a,b"},
		{"visibility all", "visibility=all", "", "shared-b|comm-a|a,b|tx-1|page-2|page-1|page-0"},
		{"visibility community", "visibility=community", "", "comm-a"},
		{"visibility private", "visibility=private", "", "tx-1"},
		{"os_hidden=true", "os_hidden=true", "", "hidden-1"},
		{"os_hidden=TRUE (lowered, as Glance)", "os_hidden=TRUE", "", "hidden-1"},
		{"name eq", "name=tx-1", "", "tx-1"},
		{"name in", "name=in:tx-1,page-0", "", "tx-1|page-0"},
		{"name in with a quoted comma", `name=in:"a,b",page-1`, "", "a,b|page-1"},
		{"status in", "status=in:active", "", "tx-1"},
		{"disk_format", "disk_format=raw&sort=name:asc", "", "page-0|page-1|page-2|tx-1"},
		{"tags are ANDed", "tag=beta&tag=gamma", "", "tx-1"},
		{"one tag", "tag=beta", "", "a,b|tx-1"},
		{"property", "os_distro=cirros", "", "tx-1"},
		{"property without match", "os_distro=debian", "", ""},
		{"size range", "size_min=1&size_max=100", "", "tx-1"},
		{"size range excludes", "size_min=65", "", ""},
		{"protected", "protected=true", "", "tx-1"},
		{"owner", "owner=proj-a&visibility=all", "", "comm-a|a,b"},
		{"owner and visibility", "owner=proj-a&visibility=public", "", "a,b"},
		{"checksum", "checksum=" + md5of64, "", "tx-1"},
		{"os_hash_value", "os_hash_value=" + sha512of64, "", "tx-1"},
		{"created_at gte", "created_at=gte:2000-01-01T00:00:00Z&limit=1", "", "shared-b"},
		{"created_at lt", "created_at=lt:2000-01-01T00:00:00Z", "", ""},
		{"updated_at neq", "updated_at=neq:2000-01-01T00:00:00Z&name=page-0", "", "page-0"},
		{"sort_key asc", "sort_key=name&sort_dir=asc&limit=3", "", "a,b|page-0|page-1"},
		{"sort new syntax", "status=queued&sort=name:asc,created_at:desc&limit=5", "", "a,b|page-0|page-1|page-2|shared-b"},
		{"two sort keys, one dir", "sort_key=status&sort_key=name&sort_dir=desc", "", "shared-b|page-2|page-1|page-0|a,b|tx-1"},
		{"sort default dir desc", "sort=name", "", "tx-1|shared-b|page-2|page-1|page-0|a,b"},
		{"deleted=true is ignored", "deleted=true&name=page-0", "", "page-0"},
		// A member of project proj-a: public, own (community too), shares
		// it accepted (none yet).
		{"member default", "", alice, "comm-a|a,b"},
		{"member pending", "member_status=pending", alice, "shared-b|comm-a|a,b"},
		{"member all", "member_status=all&visibility=shared", alice, "shared-b"},
		{"member community", "visibility=community", alice, "comm-a"},
		{"owner of a shared image", "", bob, "shared-b|a,b"},
		{"other project, community asked", "visibility=community", bob, "comm-a"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, names, _, raw := le.list(t, tc.query, tc.token)
			if code != http.StatusOK {
				t.Fatalf("%d %s", code, raw)
			}
			if got := strings.Join(names, "|"); got != tc.want {
				t.Fatalf("got %s, want %s", got, tc.want)
			}
		})
	}
}

// TestListLinks: first and next as the transcript shows them (48-58).
func TestListLinks(t *testing.T) {
	le := newListEnv(t)
	for _, tc := range []struct {
		query, first string
		next         string // "" none; "LAST" = …&marker=<last listed id>
	}{
		{"", "/v2/images", ""},
		{"limit=2", "/v2/images?limit=2", "/v2/images?limit=2&marker=LAST"},
		{"name=tx-1", "/v2/images?name=tx-1", ""},
		{"status=queued&sort=name:asc,created_at:desc&limit=5", "/v2/images?status=queued&sort=name%3Aasc%2Ccreated_at%3Adesc&limit=5",
			"/v2/images?status=queued&sort=name%3Aasc%2Ccreated_at%3Adesc&limit=5&marker=LAST"},
		{"sort_key=name&sort_dir=asc&limit=3", "/v2/images?sort_key=name&sort_dir=asc&limit=3", "/v2/images?sort_key=name&sort_dir=asc&limit=3&marker=LAST"},
		{"tag=beta&tag=gamma", "/v2/images?tag=gamma", ""},
		{"name=in:tx-1,page-0", "/v2/images?name=in%3Atx-1%2Cpage-0", ""},
		{"created_at=gte:2000-01-01T00:00:00Z&limit=1", "/v2/images?created_at=gte%3A2000-01-01T00%3A00%3A00Z&limit=1",
			"/v2/images?created_at=gte%3A2000-01-01T00%3A00%3A00Z&limit=1&marker=LAST"},
		{"os_distro=cirros", "/v2/images?os_distro=cirros", ""},
		// The marker is dropped from first and comes back last in next.
		{"marker=MARK&limit=1", "/v2/images?limit=1", "/v2/images?limit=1&marker=LAST"},
		// A full last page still gets next (no look-ahead), which then
		// lists nothing.
		{"limit=6", "/v2/images?limit=6", "/v2/images?limit=6&marker=LAST"},
	} {
		query := strings.ReplaceAll(tc.query, "MARK", le.ids["tx-1"])
		code, _, body, raw := le.list(t, query, "")
		if code != http.StatusOK {
			t.Fatalf("%s: %d %s", query, code, raw)
		}
		if body["first"] != tc.first || body["schema"] != "/v2/schemas/images" {
			t.Errorf("%s: first %v, want %s", query, body["first"], tc.first)
		}
		imgs := body["images"].([]any)
		next, hasNext := body["next"].(string)
		switch {
		case tc.next == "" && hasNext:
			t.Errorf("%s: unexpected next %s", query, next)
		case tc.next != "":
			want := strings.ReplaceAll(tc.next, "LAST", imgs[len(imgs)-1].(map[string]any)["id"].(string))
			if next != want {
				t.Errorf("%s: next %q, want %q", query, next, want)
			}
		}
	}
	// Following next links visits every image once, in order.
	var seen []string
	path := "/v2/images?limit=2&sort=name:asc&visibility=all"
	for i := 0; path != "" && i < 10; i++ {
		u, _ := url.Parse(path)
		_, names, body, raw := le.list(t, u.RawQuery, "")
		if body == nil {
			t.Fatalf("%s: %s", path, raw)
		}
		seen = append(seen, names...)
		path, _ = body["next"].(string)
	}
	if got := strings.Join(seen, "|"); got != "a,b|comm-a|page-0|page-1|page-2|shared-b|tx-1" {
		t.Fatalf("paged by name: %s", got)
	}
}

func TestListAPIErrors(t *testing.T) {
	le := newListEnv(t)
	for _, tc := range []struct{ query, token, msg string }{
		{"limit=abc", "", "limit param must be an integer"},
		{"limit=-1", "", "limit param must be positive"},
		{"marker=00000000-0000-0000-0000-000000000000", "", "No image found with ID 00000000-0000-0000-0000-000000000000"},
		{"marker=" + le.ids["tx-1"], "bob:proj-b:member", "No image found with ID " + le.ids["tx-1"]},
		{"sort_key=bogus", "", "Invalid sort key: bogus. It must be one of the following: name, status, container_format, disk_format, size, id, created_at, updated_at."},
		{"sort=owner:asc", "", "Invalid sort key: owner."},
		{"sort_key=name&sort_dir=up", "", "Invalid sort direction: up"},
		{"sort=name:sideways", "", "Invalid sort direction: sideways"},
		{"sort=name&sort_key=size", "", "Old and new sorting syntax cannot be combined"},
		{"sort=name&sort_dir=asc", "", "Old and new sorting syntax cannot be combined"},
		{"sort_key=name&sort_key=size&sort_key=id&sort_dir=asc&sort_dir=desc", "", "Number of sort dirs does not match the number of sort keys"},
		{"changes-since=2000-01-01T00:00:00Z", "", `The \"changes-since\" filter is no longer available on v2.`},
		{"visibility=secret", "", "Invalid visibility value: secret"},
		{"member_status=maybe", "", "Invalid status: maybe"},
		{"os_hidden=maybe", "", "Invalid value 'maybe' for 'os_hidden' filter. Valid values are 'true' or 'false'."},
		{"protected=True", "", "Invalid value 'True' for 'protected' filter. Valid values are 'true' or 'false'."},
		{"size_min=ten", "", "Unable to filter on a range with a non-numeric value."},
		{"created_at=gte:yesterday", "", `Bad \"created_at\" query filter format. Use ISO 8601 DateTime notation.`},
		{"updated_at=around:2000-01-01T00:00:00Z", "", "Unable to filter on a unknown operator."},
		{"name=like:page", "", "Unable to filter by unknown operator 'like'."},
		{`name=in:"a,b`, "", "The quote is not closed."},
		{`name=in:x"a",b`, "", "There is no comma before opening quotation mark."},
		{`name=in:"a"x,b`, "", "There is no comma after closing quotation mark."},
		{"min_ram=lots", "", "Invalid value 'lots' for 'min_ram' filter."},
	} {
		code, _, _, raw := le.list(t, tc.query, tc.token)
		if code != http.StatusBadRequest || !strings.Contains(raw, tc.msg) {
			t.Errorf("%s: %d %s, want 400 with %q", tc.query, code, raw, tc.msg)
		}
	}
}

func TestParseListQuery(t *testing.T) {
	parse := func(raw string) registry.ListQuery {
		t.Helper()
		pairs, err := parsePairs(raw)
		if err != nil {
			t.Fatal(err)
		}
		q, err := parseListQuery(pairs, registry.Caller{Project: "p"})
		if err != nil {
			t.Fatalf("%s: %v", raw, err)
		}
		return q
	}
	if q := parse(""); q.Limit != 25 || *q.OSHidden || q.MemberStatus != "accepted" || q.SortKeys != nil || q.Caller.Project != "p" {
		t.Errorf("defaults: %+v", q)
	}
	if q := parse("limit=5000"); q.Limit != 1000 {
		t.Errorf("limit cap: %d", q.Limit)
	}
	if q := parse("limit=+7"); q.Limit != 7 {
		t.Errorf("limit +7: %d", q.Limit)
	}
	q := parse("sort_key=name&sort_key=size&sort_dir=asc")
	if fmt.Sprint(q.SortKeys, q.SortDirs) != "[name size] [asc]" {
		t.Errorf("classic sort: %v %v", q.SortKeys, q.SortDirs)
	}
	q = parse("sort=name:asc,+size")
	if fmt.Sprint(q.SortKeys, q.SortDirs) != "[name size] [asc desc]" {
		t.Errorf("new sort: %v %v", q.SortKeys, q.SortDirs)
	}
	q = parse("tag=+a+&tag=b&hw_cpu_max=4&cpu_min=2&x=1&x=2")
	if fmt.Sprint(q.Tags) != "[a b]" || fmt.Sprint(q.Properties) != "map[cpu_min:2 hw_cpu_max:4 x:2]" {
		t.Errorf("tags %q properties %v", q.Tags, q.Properties)
	}
	q = parse("created_at=2026-11-26T11:44:45Z&updated_at=lte:2026-11-26T12:44:45%2B01:00")
	if len(q.Filters) != 2 || q.Filters[0].Op != "eq" || q.Filters[1].Op != "lte" ||
		!q.Filters[0].Values[0].(time.Time).Equal(q.Filters[1].Values[0].(time.Time)) {
		t.Errorf("time filters %+v", q.Filters)
	}
	q = parse("min_disk=3&virtual_size_max=9")
	if fmt.Sprint(q.Filters) != "[{min_disk eq [3]} {virtual_size lte [9]}]" {
		t.Errorf("int filters %v", q.Filters)
	}
}

func TestSplitQuoted(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"a,b", []string{"a", "b"}},
		{`"a,b",c`, []string{"a,b", "c"}},
		{`c,"a,b"`, []string{"c", "a,b"}},
		{`"a\"b",c`, []string{`a\"b`, "c"}},
		{"a,,b", []string{"a", "", "b"}},
		{"single", []string{"single"}},
	} {
		got, err := splitQuoted(tc.in)
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("splitQuoted(%q) = %q %v, want %q", tc.in, got, err, tc.want)
		}
	}
}

func TestParseISOTime(t *testing.T) {
	want := time.Date(2026, 11, 26, 11, 44, 45, 0, time.UTC)
	for _, s := range []string{"2026-11-26T11:44:45Z", "2026-11-26T11:44:45", "2026-11-26 11:44:45", "2026-11-26T12:44:45+01:00",
		"2026-11-26T10:44:45-0100", "20261126T114445Z", "2026-11-26T11:44:45.000Z"} {
		if got, err := parseISOTime(s); err != nil || !got.Equal(want) {
			t.Errorf("%s: %v %v", s, got, err)
		}
	}
	if got, err := parseISOTime("2026-11-26"); err != nil || !got.Equal(time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("date only: %v %v", got, err)
	}
	for _, s := range []string{"", "yesterday", "2026-13-01", "2026-02-30T00:00:00Z", "2026-11-26T25:00:00Z"} {
		if _, err := parseISOTime(s); err == nil {
			t.Errorf("%q parsed", s)
		}
	}
	if op, v := splitFilterOp("2026-11-26T11:44:45Z"); op != "eq" || v != "2026-11-26T11:44:45Z" {
		t.Errorf("a bare time: %s %s", op, v)
	}
	if op, v := splitFilterOp("gt:2026-11-26T11:44:45Z"); op != "gt" || v != "2026-11-26T11:44:45Z" {
		t.Errorf("gt: %s %s", op, v)
	}
}

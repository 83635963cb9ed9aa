package registry

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/glance-go/glance/core/image"
)

// ErrInvalidQuery is a list query the registry refuses: an unknown sort
// key, direction, filter column or operator, or a value of the wrong type.
// The wrapping error's message is fit for the API user.
var ErrInvalidQuery = errors.New("registry: invalid list query")

// invalidQuery is an ErrInvalidQuery with a message for the API user.
type invalidQuery struct{ msg string }

func (e *invalidQuery) Error() string        { return e.msg }
func (e *invalidQuery) Is(target error) bool { return target == ErrInvalidQuery }

func invalidf(format string, args ...any) error {
	return &invalidQuery{msg: fmt.Sprintf(format, args...)}
}

// Caller is who lists, which decides what the list may show.
type Caller struct {
	// Admin sees every live image (Glance's is_admin context).
	Admin bool
	// Project is the caller's project (Glance's context.owner); "" when the
	// caller has none.
	Project string
}

// ListQuery selects a page of images. Its zero value lists, for a caller
// without project or admin rights, the first public images, newest first.
type ListQuery struct {
	// Limit is the page size; <= 0 means no limit.
	Limit int
	// Marker is the id of the last image of the previous page.
	Marker string
	// SortKeys are among SortKeys; empty means created_at. SortDirs are
	// "asc" or "desc", one per key, or a single one for every key, or none
	// (desc). created_at and id are appended as tie-breakers, in the single
	// direction given, else desc (glance.db.sqlalchemy.api.image_get_all).
	SortKeys []string
	SortDirs []string
	// Caller decides the scope: an admin sees all images; anyone else the
	// public ones, their project's own, the shared ones their project is a
	// member of with MemberStatus, and community ones as Visibility says.
	Caller Caller
	// Visibility is "" (Glance's default: no other project's community
	// images), "all", or one visibility to keep.
	Visibility string
	// MemberStatus is the membership status that makes a shared image
	// appear in a non-admin's list: "" (accepted), pending, accepted,
	// rejected or "all".
	MemberStatus string
	// OSHidden, when set, keeps only images whose os_hidden equals it.
	OSHidden *bool
	// Filters are conditions on image columns, all of which must hold.
	Filters []Filter
	// Tags must all be on the image.
	Tags []string
	// Properties must all be extra properties of the image, with exactly
	// these values.
	Properties map[string]string
}

// Filter operators.
const (
	OpIn  = "in"
	OpEq  = "eq"
	OpNeq = "neq"
	OpLt  = "lt"
	OpLte = "lte"
	OpGt  = "gt"
	OpGte = "gte"
)

// Filter is a condition on an image column: Column Op Values[0], or Column
// IN Values. Values are string for text columns, int64 for sizes, bool for
// flags and time.Time for created_at/updated_at.
type Filter struct {
	Column string
	Op     string
	Values []any
}

type columnKind int

const (
	kindText columnKind = iota
	kindInt
	kindBool
	kindTime
)

// filterColumns are the image columns a Filter may name.
var filterColumns = map[string]columnKind{
	"id": kindText, "name": kindText, "status": kindText, "visibility": kindText, "owner": kindText,
	"container_format": kindText, "disk_format": kindText, "checksum": kindText,
	"os_hash_algo": kindText, "os_hash_value": kindText,
	"size": kindInt, "virtual_size": kindInt, "min_disk": kindInt, "min_ram": kindInt,
	"protected": kindBool, "os_hidden": kindBool,
	"created_at": kindTime, "updated_at": kindTime,
}

// SortKeys are Glance's _available_sort_keys, in its order (the 400
// message lists them so).
var SortKeys = []string{"name", "status", "container_format", "disk_format", "size", "id", "created_at", "updated_at"}

// sortExpr is the SQL a sort key orders by. Nullable columns are ordered
// as COALESCE(col, empty string) or COALESCE(size, 0): that is how Glance's
// marker comparison treats NULL, and what the ix_images_live_* expression
// indexes hold, so that the order is one total order on both engines.
func sortExpr(key string) (string, columnKind, bool) {
	switch key {
	case "name", "container_format", "disk_format":
		return "COALESCE(" + key + ", '')", kindText, true
	case "size":
		return "COALESCE(size, 0)", kindInt, true
	case "status", "id":
		return key, kindText, true
	case "created_at", "updated_at":
		return key, kindTime, true
	}
	return "", 0, false
}

// sortSpec is one ORDER BY term.
type sortSpec struct {
	key string
	// expr is the key's expression on an images row (also the marker's,
	// mk); col is what the page orders and pages by, expr unless a tag
	// drives the page (see tagDriven).
	expr string
	col  string
	kind columnKind
	desc bool
}

// normalizeSort applies Glance's defaults and tie-breakers.
func normalizeSort(keys, dirs []string) ([]sortSpec, error) {
	if len(keys) == 0 {
		keys = []string{"created_at"}
	}
	def := "desc"
	switch {
	case len(dirs) == 0:
	case len(dirs) == 1:
		def = dirs[0]
	case len(dirs) != len(keys):
		return nil, invalidf("Number of sort dirs does not match the number of sort keys")
	}
	var out []sortSpec
	seen := map[string]bool{}
	add := func(key, dir string) error {
		expr, kind, ok := sortExpr(key)
		if !ok {
			return invalidf("Invalid sort key: %s. It must be one of the following: %s.", key, strings.Join(SortKeys, ", "))
		}
		if dir != "asc" && dir != "desc" {
			return invalidf("Invalid sort direction: %s", dir)
		}
		seen[key] = true
		out = append(out, sortSpec{key: key, expr: expr, col: expr, kind: kind, desc: dir == "desc"})
		return nil
	}
	for i, k := range keys {
		d := def
		if len(dirs) > 1 {
			d = dirs[i]
		}
		if err := add(k, d); err != nil {
			return nil, err
		}
	}
	for _, k := range []string{"created_at", "id"} {
		if !seen[k] {
			if err := add(k, def); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

// listSQL accumulates a WHERE clause and its arguments.
type listSQL struct {
	where []string
	args  []any
}

func (b *listSQL) add(cond string, args ...any) {
	b.where = append(b.where, cond)
	b.args = append(b.args, args...)
}

// checkValue reports whether v has the Go type of the column kind.
func checkValue(kind columnKind, v any) bool {
	switch kind {
	case kindText:
		_, ok := v.(string)
		return ok
	case kindInt:
		_, ok := v.(int64)
		return ok
	case kindBool:
		_, ok := v.(bool)
		return ok
	case kindTime:
		_, ok := v.(time.Time)
		return ok
	}
	return false
}

var sqlOps = map[string]string{OpEq: "=", OpNeq: "<>", OpLt: "<", OpLte: "<=", OpGt: ">", OpGte: ">="}

func (b *listSQL) filter(f Filter) error {
	kind, ok := filterColumns[f.Column]
	if !ok {
		return invalidf("Unable to filter on %s", f.Column)
	}
	for i, v := range f.Values {
		if t, isTime := v.(time.Time); isTime {
			// Stored timestamps are UTC; compare like with like.
			f.Values[i] = t.UTC()
		}
		if !checkValue(kind, f.Values[i]) {
			return invalidf("Invalid value for filter %s", f.Column)
		}
	}
	if f.Op == OpIn {
		if len(f.Values) == 0 {
			b.add("1 = 0")
			return nil
		}
		b.add(f.Column+" IN ("+placeholders(len(f.Values))+")", f.Values...)
		return nil
	}
	op, ok := sqlOps[f.Op]
	if !ok {
		return invalidf("Unable to filter by unknown operator '%s'.", f.Op)
	}
	if len(f.Values) != 1 {
		return invalidf("Filter %s %s takes one value", f.Column, f.Op)
	}
	if t, isTime := f.Values[0].(time.Time); isTime && t.Nanosecond() != 0 {
		// Stored times are whole seconds (and SQLite's text form drops a
		// fraction), so compare with the whole second below t instead.
		floor := t.Truncate(time.Second)
		switch f.Op {
		case OpEq:
			b.add("1 = 0")
			return nil
		case OpNeq:
			return nil
		case OpLt, OpLte:
			op = "<="
		case OpGt, OpGte:
			op = ">"
		}
		f.Values[0] = floor
	}
	b.add(f.Column+" "+op+" ?", f.Values[0])
	return nil
}

// scope restricts the list to what the caller may see, then applies the
// visibility rule, as _select_images_query and image_get_all do.
func (b *listSQL) scope(q ListQuery) error {
	ms := q.MemberStatus
	if ms == "" {
		ms = string(image.MemberAccepted)
	}
	if ms != "all" && !image.MemberStatus(ms).Valid() {
		return invalidf("Invalid status: %s", ms)
	}
	p := q.Caller.Project
	if !q.Caller.Admin {
		if p == "" {
			b.add("visibility IN ('public', 'community')")
		} else {
			member := "EXISTS (SELECT 1 FROM image_members m WHERE m.image_id = images.id AND m.member = ? AND m.deleted = FALSE"
			args := []any{p, p}
			if ms != "all" {
				member += " AND m.status = ?"
				args = append(args, ms)
			}
			b.add("(visibility IN ('public', 'community') OR owner = ? OR (visibility = 'shared' AND "+member+")))", args...)
		}
	}
	switch q.Visibility {
	case "all":
	case "":
		// Other projects' community images only when asked for.
		if p == "" {
			b.add("visibility <> 'community'")
		} else {
			b.add("(visibility <> 'community' OR owner = ?)", p)
		}
	case string(image.VisibilityPublic), string(image.VisibilityCommunity), string(image.VisibilityShared), string(image.VisibilityPrivate):
		b.add("visibility = ?", q.Visibility)
	default:
		return invalidf("Invalid visibility value: %s", q.Visibility)
	}
	return nil
}

// checkMarker reports ErrInvalidMarker unless the marker is an image the
// caller may see (an admin's may be deleted, as in Glance).
func (db *DB) checkMarker(ctx context.Context, q ListQuery) error {
	var (
		deleted bool
		vis     string
		owner   sql.NullString
	)
	err := db.r.QueryRowContext(ctx, db.q("SELECT deleted, visibility, owner FROM images WHERE id = ?"), q.Marker).Scan(&deleted, &vis, &owner)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("%w: %s", ErrInvalidMarker, q.Marker)
	}
	if err != nil {
		return fmt.Errorf("registry: read marker %s: %w", q.Marker, err)
	}
	if q.Caller.Admin {
		return nil
	}
	visible := !deleted && (vis == string(image.VisibilityPublic) || vis == string(image.VisibilityCommunity) ||
		!owner.Valid || (q.Caller.Project != "" && owner.String == q.Caller.Project))
	if !deleted && !visible && q.Caller.Project != "" {
		var n int
		if err := db.r.QueryRowContext(ctx, db.q("SELECT COUNT(*) FROM image_members WHERE image_id = ? AND member = ? AND deleted = FALSE"),
			q.Marker, q.Caller.Project).Scan(&n); err != nil {
			return fmt.Errorf("registry: read marker %s: %w", q.Marker, err)
		}
		visible = n > 0
	}
	if !visible {
		return fmt.Errorf("%w: %s", ErrInvalidMarker, q.Marker)
	}
	return nil
}

// markerSub is a scalar subquery reading expr from the marker row, when
// the caller may see it (Glance's _image_get with its visibility check;
// an admin's marker may even be deleted). An invisible or unknown marker
// makes it NULL, so the page comes back empty and List then tells the
// two apart.
func markerSub(q ListQuery, expr string) (string, []any) {
	sub := "(SELECT " + expr + " FROM images mk WHERE mk.id = ?"
	args := []any{q.Marker}
	if !q.Caller.Admin {
		sub += " AND mk.deleted = FALSE AND (mk.visibility IN ('public', 'community') OR mk.owner IS NULL"
		if p := q.Caller.Project; p != "" {
			sub += " OR mk.owner = ? OR EXISTS (SELECT 1 FROM image_members mm WHERE mm.image_id = mk.id AND mm.member = ? AND mm.deleted = FALSE)"
			args = append(args, p, p)
		}
		sub += ")"
	}
	return sub + ")", args
}

// keyset adds "after the marker in this order", reading the marker's
// values in the same statement. When every key has one direction it is a
// row-value comparison, which both engines turn into the start of an
// index range scan; otherwise the lexicographic OR-expansion, plus a
// redundant bound on the first key so that the scan still starts at the
// marker.
func (b *listSQL) keyset(q ListQuery, sorts []sortSpec) {
	same := true
	for _, s := range sorts[1:] {
		if s.desc != sorts[0].desc {
			same = false
		}
	}
	cmp := func(desc bool) string {
		if desc {
			return "<"
		}
		return ">"
	}
	if same {
		cols := make([]string, len(sorts))
		exprs := make([]string, len(sorts))
		for i, s := range sorts {
			cols[i], exprs[i] = s.col, s.expr
		}
		sub, args := markerSub(q, strings.Join(exprs, ", "))
		b.add("("+strings.Join(cols, ", ")+") "+cmp(sorts[0].desc)+" "+sub, args...)
		return
	}
	var ors []string
	var args []any
	for i := range sorts {
		var ands []string
		for j := 0; j < i; j++ {
			sub, a := markerSub(q, sorts[j].expr)
			ands = append(ands, sorts[j].col+" = "+sub)
			args = append(args, a...)
		}
		sub, a := markerSub(q, sorts[i].expr)
		ands = append(ands, sorts[i].col+" "+cmp(sorts[i].desc)+" "+sub)
		args = append(args, a...)
		ors = append(ors, "("+strings.Join(ands, " AND ")+")")
	}
	b.add("("+strings.Join(ors, " OR ")+")", args...)
	sub, a := markerSub(q, sorts[0].expr)
	b.add(sorts[0].col+" "+cmp(sorts[0].desc)+"= "+sub, a...)
}

// tagDriven makes the first tag of q drive the page when the sort leads
// with created_at (the default): images are joined to that tag's
// image_tags rows (t0), and the page orders and pages by t0's copy of
// created_at and t0.image_id, the same values, so that it is a range scan
// of ix_image_tags_value_created (value, image_created_at, image_id) from
// the marker, forward or backward, each hit joined to its image; the
// other tags are checked per image. The image_tags primary key (image_id,
// value) keeps the join from repeating an image. It returns the join
// clause and the tags left to check. Other sorts check every tag per
// image and walk their own images index, which an engine may also trade
// for the tag's rows and a sort.
func tagDriven(q ListQuery, sorts []sortSpec) (string, []any, []string) {
	if len(q.Tags) == 0 || sorts[0].key != "created_at" {
		return "", nil, q.Tags
	}
	for i := range sorts {
		switch sorts[i].key {
		case "created_at":
			sorts[i].col = "t0.image_created_at"
		case "id":
			sorts[i].col = "t0.image_id"
		}
	}
	return " JOIN image_tags t0 ON t0.image_id = images.id AND t0.value = ?", []any{q.Tags[0]}, q.Tags[1:]
}

// childColumns aggregate each listed image's properties, tags and active
// locations as JSON arrays, so that a page is one statement: one round
// trip, one snapshot, no transaction.
func (db *DB) childColumns() string {
	if db.d.dollar {
		return "(SELECT json_agg(json_build_array(p.name, p.value)) FROM image_properties p WHERE p.image_id = images.id), " +
			"(SELECT json_agg(t.value ORDER BY t.value) FROM image_tags t WHERE t.image_id = images.id), " +
			"(SELECT json_agg(json_build_array(l.id, l.url, l.metadata, l.status, l.store_id, l.created_at) ORDER BY l.created_at, l.id) " +
			"FROM image_locations l WHERE l.image_id = images.id AND l.status = 'active')"
	}
	return "(SELECT json_group_array(json_array(p.name, p.value)) FROM image_properties p WHERE p.image_id = images.id), " +
		"(SELECT json_group_array(t.value ORDER BY t.value) FROM image_tags t WHERE t.image_id = images.id), " +
		"(SELECT json_group_array(json_array(l.id, l.url, l.metadata, l.status, l.store_id, l.created_at) ORDER BY l.created_at, l.id) " +
		"FROM image_locations l WHERE l.image_id = images.id AND l.status = 'active')"
}

// listQuery builds the page statement: the page of images (filtered,
// scoped, after the marker, ordered, limited) in a derived table, then
// their children.
func (db *DB) listQuery(q ListQuery) (string, []any, error) {
	sorts, err := normalizeSort(q.SortKeys, q.SortDirs)
	if err != nil {
		return "", nil, err
	}
	join, joinArgs, tags := tagDriven(q, sorts)
	b := listSQL{args: joinArgs}
	// Killed images are never listed (_make_conditions_from_filters).
	b.add("deleted = FALSE")
	b.add("status <> ?", string(image.StatusKilled))
	if q.OSHidden != nil {
		b.add("os_hidden = ?", *q.OSHidden)
	}
	for _, f := range q.Filters {
		if err := b.filter(f); err != nil {
			return "", nil, err
		}
	}
	for _, t := range tags {
		b.add("EXISTS (SELECT 1 FROM image_tags t WHERE t.image_id = images.id AND t.value = ?)", t)
	}
	for k, v := range q.Properties {
		b.add("EXISTS (SELECT 1 FROM image_properties p WHERE p.image_id = images.id AND p.name = ? AND p.value = ?)", k, v)
	}
	if err := b.scope(q); err != nil {
		return "", nil, err
	}
	if q.Marker != "" {
		b.keyset(q, sorts)
	}
	order := make([]string, len(sorts))
	outer := make([]string, len(sorts))
	for i, s := range sorts {
		order[i], outer[i] = s.col, s.expr
		if s.desc {
			order[i] += " DESC"
			outer[i] += " DESC"
		}
	}
	page := "SELECT " + imageColumns + " FROM images" + join + " WHERE " + strings.Join(b.where, " AND ") + " ORDER BY " + strings.Join(order, ", ")
	if q.Limit > 0 {
		page += " LIMIT ?"
		b.args = append(b.args, q.Limit)
	}
	// The outer ORDER BY re-sorts at most a page: a derived table's order
	// is not guaranteed to survive.
	query := "SELECT " + imageColumns + ", " + db.childColumns() + " FROM (" + page + ") images ORDER BY " + strings.Join(outer, ", ")
	return db.q(query), b.args, nil
}

// jsonText scans a JSON column (NULL, text or bytes).
type jsonText []byte

func (j *jsonText) Scan(v any) error {
	switch x := v.(type) {
	case nil:
		*j = nil
	case string:
		*j = []byte(x)
	case []byte:
		*j = append((*j)[:0], x...)
	default:
		return fmt.Errorf("registry: unreadable JSON of type %T", v)
	}
	return nil
}

// scanListed reads a page row: the image, then its children as JSON.
func scanListed(rows *sql.Rows) (*image.Image, error) {
	var props, tags, locs jsonText
	img, err := scanImage(withExtra{rows, []any{&props, &tags, &locs}})
	if err != nil {
		return nil, err
	}
	if len(props) > 0 {
		var kv [][2]string
		if err := json.Unmarshal(props, &kv); err != nil {
			return nil, fmt.Errorf("properties of %s: %w", img.ID, err)
		}
		for _, p := range kv {
			img.Properties[p[0]] = p[1]
		}
	}
	if len(tags) > 0 {
		if err := json.Unmarshal(tags, &img.Tags); err != nil {
			return nil, fmt.Errorf("tags of %s: %w", img.ID, err)
		}
	}
	if len(locs) > 0 {
		var ls [][6]*string
		if err := json.Unmarshal(locs, &ls); err != nil {
			return nil, fmt.Errorf("locations of %s: %w", img.ID, err)
		}
		for _, l := range ls {
			loc := image.Location{ID: deref(l[0]), URL: deref(l[1]), Status: deref(l[3]), StoreID: deref(l[4])}
			if m := deref(l[2]); m != "" && m != "{}" {
				if err := json.Unmarshal([]byte(m), &loc.Metadata); err != nil {
					return nil, fmt.Errorf("location %s metadata: %w", loc.ID, err)
				}
			}
			var ct dbTime
			if err := ct.Scan(deref(l[5])); err != nil {
				return nil, err
			}
			loc.CreatedAt = ct.t
			img.Locations = append(img.Locations, loc)
		}
	}
	return img, nil
}

// withExtra scans the image columns, then extra.
type withExtra struct {
	s     scanner
	extra []any
}

func (w withExtra) Scan(dest ...any) error { return w.s.Scan(append(dest, w.extra...)...) }

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// List implements Repository. A page is one statement (see listQuery);
// only an empty page after a marker costs a second one, to tell the end of
// the list from an unknown or invisible marker.
func (db *DB) List(ctx context.Context, lq ListQuery) ([]*image.Image, error) {
	query, args, err := db.listQuery(lq)
	if err != nil {
		return nil, err
	}
	rows, err := db.r.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("registry: list images: %w", err)
	}
	var imgs []*image.Image
	for rows.Next() {
		img, err := scanListed(rows)
		if err != nil {
			rows.Close()
			return nil, fmt.Errorf("registry: list images: %w", err)
		}
		imgs = append(imgs, img)
	}
	if err := closeRows(rows); err != nil {
		return nil, fmt.Errorf("registry: list images: %w", err)
	}
	if len(imgs) == 0 && lq.Marker != "" {
		if err := db.checkMarker(ctx, lq); err != nil {
			return nil, err
		}
	}
	return imgs, nil
}

// ExplainList returns the engine's plan of the query List would run for
// q (EXPLAIN ANALYZE on PostgreSQL, EXPLAIN QUERY PLAN on SQLite), for the
// benchmark to show which indexes serve the list.
func (db *DB) ExplainList(ctx context.Context, q ListQuery) (string, error) {
	query, args, err := db.listQuery(q)
	if err != nil {
		return "", err
	}
	var out []string
	err = db.readTx(ctx, func(tx *sql.Tx) error {
		prefix := "EXPLAIN QUERY PLAN "
		if db.d.dollar {
			prefix = "EXPLAIN (ANALYZE, BUFFERS) "
		}
		rows, err := tx.QueryContext(ctx, prefix+query, args...)
		if err != nil {
			return fmt.Errorf("registry: explain: %w", err)
		}
		cols, _ := rows.Columns()
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				rows.Close()
				return fmt.Errorf("registry: explain: %w", err)
			}
			// PostgreSQL: one text column; SQLite: id, parent, notused, detail.
			line := fmt.Sprint(vals[len(vals)-1])
			if b, ok := vals[len(vals)-1].([]byte); ok {
				line = string(b)
			}
			out = append(out, line)
		}
		return closeRows(rows)
	})
	return strings.Join(out, "\n"), err
}

package api

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/glance-go/glance/core/image"
	"github.com/glance-go/glance/core/policy"
	"github.com/glance-go/glance/core/registry"
)

// listError is a 400 with Glance's message.
type listError struct{ msg string }

func (e *listError) Error() string { return e.msg }

func badList(format string, args ...any) error {
	return &listError{msg: fmt.Sprintf(format, args...)}
}

// param is one query parameter, in request order.
type param struct{ key, value string }

// parsePairs decodes a query string as webob does, keeping repeated keys
// and their order.
func parsePairs(raw string) ([]param, error) {
	var out []param
	for _, part := range strings.Split(raw, "&") {
		if part == "" {
			continue
		}
		k, v, _ := strings.Cut(part, "=")
		k, err := url.QueryUnescape(k)
		if err != nil {
			return nil, err
		}
		if v, err = url.QueryUnescape(v); err != nil {
			return nil, err
		}
		out = append(out, param{k, v})
	}
	return out, nil
}

// multi is the request's parameters as webob's MultiDict.
type multi []param

// pop removes the first value of key (MultiDict.pop).
func (m *multi) pop(key string) (string, bool) {
	for i, p := range *m {
		if p.key == key {
			*m = append((*m)[:i:i], (*m)[i+1:]...)
			return p.value, true
		}
	}
	return "", false
}

// popAll removes every value of key, in order.
func (m *multi) popAll(key string) []string {
	var vals []string
	for {
		v, ok := m.pop(key)
		if !ok {
			return vals
		}
		vals = append(vals, v)
	}
}

func (m multi) has(key string) bool {
	for _, p := range m {
		if p.key == key {
			return true
		}
	}
	return false
}

// last returns the last value of each remaining key, in order of first
// appearance (what dict(params) gives).
func (m multi) last() ([]string, map[string]string) {
	var keys []string
	vals := map[string]string{}
	for _, p := range m {
		if _, ok := vals[p.key]; !ok {
			keys = append(keys, p.key)
		}
		vals[p.key] = p.value
	}
	return keys, vals
}

// Glance's list rules (images.py RequestDeserializer.index, the
// controller and db.sqlalchemy.api._make_conditions_from_filters).
var (
	inColumns    = map[string]bool{"name": true, "id": true, "status": true, "container_format": true, "disk_format": true}
	rangeColumns = map[string]bool{"size": true, "virtual_size": true, "min_disk": true, "min_ram": true}
	textColumns  = map[string]bool{"owner": true, "checksum": true, "os_hash_value": true, "os_hash_algo": true}
)

// parseListQuery maps GET /v2/images parameters to a registry query, with
// Glance's 400s.
func parseListQuery(pairs []param, caller registry.Caller) (registry.ListQuery, error) {
	q := registry.ListQuery{Limit: defaultListLimit, Caller: caller}
	params := multi(pairs)
	limit, hasLimit := params.pop("limit")
	marker, _ := params.pop("marker")
	memberStatus, ok := params.pop("member_status")
	if !ok {
		memberStatus = string(image.MemberAccepted)
	}
	for _, t := range params.popAll("tag") {
		q.Tags = append(q.Tags, strings.TrimSpace(t))
	}
	keys, filters := params.last()
	// _get_filters.
	if v := filters["visibility"]; v != "" {
		switch v {
		case "community", "public", "private", "shared", "all":
		default:
			return q, badList("Invalid visibility value: %s", v)
		}
		q.Visibility = v
	}
	if filters["changes-since"] != "" {
		return q, badList(`The "changes-since" filter is no longer available on v2.`)
	}
	switch memberStatus {
	case "pending", "accepted", "rejected", "all":
		q.MemberStatus = memberStatus
	default:
		return q, badList("Invalid status: %s", memberStatus)
	}
	q.Marker = marker
	if hasLimit {
		n, err := strconv.Atoi(strings.TrimSpace(limit))
		if err != nil {
			return q, badList("limit param must be an integer")
		}
		if n < 0 {
			return q, badList("limit param must be positive")
		}
		q.Limit = min(n, maxListLimit)
	}
	var err error
	if q.SortKeys, q.SortDirs, err = sortParams(&params); err != nil {
		return q, err
	}
	// The controller: os_hidden (default false) and protected.
	hidden := strings.ToLower(valueOr(filters, "os_hidden", "false"))
	if hidden != "true" && hidden != "false" {
		return q, badList("Invalid value '%s' for 'os_hidden' filter. Valid values are 'true' or 'false'.", filters["os_hidden"])
	}
	q.OSHidden = image.Ptr(hidden == "true")
	if p, ok := filters["protected"]; ok {
		if p != "true" && p != "false" {
			return q, badList("Invalid value '%s' for 'protected' filter. Valid values are 'true' or 'false'.", p)
		}
		q.Filters = append(q.Filters, registry.Filter{Column: "protected", Op: registry.OpEq, Values: []any{p == "true"}})
	}
	for _, k := range keys {
		v := filters[k]
		switch {
		case k == "visibility", k == "changes-since", k == "os_hidden", k == "protected",
			k == "sort", k == "sort_key", k == "sort_dir":
			// Handled above.
		case k == "deleted":
			// The controller forces deleted=False whatever was asked.
		case strings.HasSuffix(k, "_min") || strings.HasSuffix(k, "_max"):
			col := k[:len(k)-4]
			if !rangeColumns[col] {
				addProperty(&q, k, v)
				continue
			}
			n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			if err != nil {
				return q, badList("Unable to filter on a range with a non-numeric value.")
			}
			op := registry.OpGte
			if strings.HasSuffix(k, "_max") {
				op = registry.OpLte
			}
			q.Filters = append(q.Filters, registry.Filter{Column: col, Op: op, Values: []any{n}})
		case k == "created_at" || k == "updated_at":
			op, value := splitFilterOp(v)
			t, err := parseISOTime(value)
			if err != nil {
				return q, badList(`Bad "%s" query filter format. Use ISO 8601 DateTime notation.`, k)
			}
			switch op {
			case registry.OpEq, registry.OpNeq, registry.OpLt, registry.OpLte, registry.OpGt, registry.OpGte:
			default:
				return q, badList("Unable to filter on a unknown operator.")
			}
			q.Filters = append(q.Filters, registry.Filter{Column: k, Op: op, Values: []any{t}})
		case inColumns[k]:
			op, value := splitFilterOp(v)
			switch op {
			case "in":
				vals, err := splitQuoted(value)
				if err != nil {
					return q, err
				}
				anys := make([]any, len(vals))
				for i, s := range vals {
					anys[i] = s
				}
				q.Filters = append(q.Filters, registry.Filter{Column: k, Op: registry.OpIn, Values: anys})
			case "eq":
				q.Filters = append(q.Filters, registry.Filter{Column: k, Op: registry.OpEq, Values: []any{value}})
			default:
				return q, badList("Unable to filter by unknown operator '%s'.", op)
			}
		case textColumns[k]:
			q.Filters = append(q.Filters, registry.Filter{Column: k, Op: registry.OpEq, Values: []any{v}})
		case rangeColumns[k]:
			n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			if err != nil {
				return q, badList("Invalid value '%s' for '%s' filter.", v, k)
			}
			q.Filters = append(q.Filters, registry.Filter{Column: k, Op: registry.OpEq, Values: []any{n}})
		default:
			// Any other key is an extra property, matched exactly.
			addProperty(&q, k, v)
		}
	}
	return q, nil
}

func valueOr(m map[string]string, k, def string) string {
	if v, ok := m[k]; ok {
		return v
	}
	return def
}

func addProperty(q *registry.ListQuery, k, v string) {
	if q.Properties == nil {
		q.Properties = map[string]string{}
	}
	q.Properties[k] = v
}

// Glance's _available_sort_keys, in its order (the 400 lists them so).
var listSortKeys = registry.SortKeys

func validSortKey(k string) error {
	for _, s := range listSortKeys {
		if s == k {
			return nil
		}
	}
	return badList("Invalid sort key: %s. It must be one of the following: %s.", k, strings.Join(listSortKeys, ", "))
}

func validSortDir(d string) error {
	if d != "asc" && d != "desc" {
		return badList("Invalid sort direction: %s", d)
	}
	return nil
}

// sortParams is _get_sorting_params: sort=k1:dir,k2 (default desc) or the
// classic repeated sort_key/sort_dir, never both.
func sortParams(params *multi) (keys, dirs []string, err error) {
	if params.has("sort") {
		if params.has("sort_key") || params.has("sort_dir") {
			return nil, nil, badList("Old and new sorting syntax cannot be combined")
		}
		v, _ := params.pop("sort")
		for _, part := range strings.Split(strings.TrimSpace(v), ",") {
			k, d, _ := strings.Cut(part, ":")
			if d == "" {
				d = "desc"
			}
			k, d = strings.TrimSpace(k), strings.TrimSpace(d)
			if err := validSortKey(k); err != nil {
				return nil, nil, err
			}
			if err := validSortDir(d); err != nil {
				return nil, nil, err
			}
			keys, dirs = append(keys, k), append(dirs, d)
		}
		return keys, dirs, nil
	}
	for _, k := range params.popAll("sort_key") {
		k = strings.TrimSpace(k)
		if err := validSortKey(k); err != nil {
			return nil, nil, err
		}
		keys = append(keys, k)
	}
	for _, d := range params.popAll("sort_dir") {
		d = strings.TrimSpace(d)
		if err := validSortDir(d); err != nil {
			return nil, nil, err
		}
		dirs = append(dirs, d)
	}
	if len(dirs) > 1 && len(dirs) != len(keys) {
		return nil, nil, badList("Number of sort dirs does not match the number of sort keys")
	}
	return keys, dirs, nil
}

// splitFilterOp is glance.common.utils.split_filter_op: "op:value", but a
// whole value that is an ISO 8601 time (it holds colons) is "eq".
func splitFilterOp(expr string) (op, value string) {
	left, right, found := strings.Cut(expr, ":")
	if !found {
		return "eq", expr
	}
	if _, err := parseISOTime(expr); err == nil {
		return "eq", expr
	}
	return left, right
}

var isoTimeRe = regexp.MustCompile(`^(\d{4})-?(\d{2})-?(\d{2})(?:[T ](\d{2}):?(\d{2})(?::?(\d{2})(?:[.,](\d+))?)?)?\s*(Z|[+-]\d{2}(?::?\d{2})?)?$`)

// parseISOTime parses what iso8601.parse_date accepts (a date, a time to
// the minute, second or fraction, Z or an offset); no zone means UTC.
func parseISOTime(s string) (time.Time, error) {
	m := isoTimeRe.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		return time.Time{}, fmt.Errorf("not an ISO 8601 time: %q", s)
	}
	num := func(s string) int {
		n, _ := strconv.Atoi(s)
		return n
	}
	nsec := 0
	if m[7] != "" {
		frac := (m[7] + "000000000")[:9]
		nsec = num(frac)
	}
	loc := time.UTC
	if z := m[8]; z != "" && z != "Z" {
		sign := 1
		if z[0] == '-' {
			sign = -1
		}
		digits := strings.ReplaceAll(z[1:], ":", "")
		h, mm := num(digits[:2]), 0
		if len(digits) == 4 {
			mm = num(digits[2:])
		}
		loc = time.FixedZone(z, sign*(h*3600+mm*60))
	}
	year, month, day := num(m[1]), num(m[2]), num(m[3])
	t := time.Date(year, time.Month(month), day, num(m[4]), num(m[5]), num(m[6]), nsec, loc)
	if t.Month() != time.Month(month) || t.Day() != day || num(m[4]) > 23 || num(m[5]) > 59 || num(m[6]) > 59 {
		return time.Time{}, fmt.Errorf("not a valid time: %q", s)
	}
	return t.UTC(), nil
}

// splitQuoted is split_filter_value_for_quotes: "in:" values split at
// commas, except inside double quotes (validate_quotes first).
var quotedRe = regexp.MustCompile(`"([^"\\]*(?:\\.[^"\\]*)*)",?|([^,]+),?|,`)

func splitQuoted(v string) ([]string, error) {
	open := true
	for i := 0; i < len(v); i++ {
		if v[i] != '"' {
			continue
		}
		if i > 0 && v[i-1] == '\\' {
			continue
		}
		if open {
			if i > 0 && v[i-1] != ',' {
				return nil, badList("Invalid filter value %s. There is no comma before opening quotation mark.", v)
			}
		} else if i+1 != len(v) && v[i+1] != ',' {
			return nil, badList("Invalid filter value %s. There is no comma after closing quotation mark.", v)
		}
		open = !open
	}
	if !open {
		return nil, badList("Invalid filter value %s. The quote is not closed.", v)
	}
	var out []string
	for _, m := range quotedRe.FindAllStringSubmatch(v, -1) {
		if m[1] != "" {
			out = append(out, m[1])
		} else {
			out = append(out, m[2])
		}
	}
	return out, nil
}

// listImages is GET /v2/images: Glance's filters, sorts and keyset pages
// over what the caller may see, with relative first/next links that
// re-encode the query as Glance does (dict(request.params): each key once,
// with its last value, in order of first appearance).
func (s *server) listImages(c *gin.Context) {
	pairs, err := parsePairs(c.Request.URL.RawQuery)
	if err != nil {
		fail(c, newError(http.StatusBadRequest, "Invalid query string"))
		return
	}
	links := linkParams(pairs)
	who := identity(c)
	if !s.allowed(who, "get_images", policy.Target{"project_id": who.ProjectID}) {
		fail(c, newError(http.StatusForbidden, notAuthorizedF, "get_images"))
		return
	}
	lq, err := parseListQuery(pairs, registry.Caller{Admin: s.isAdmin(who), Project: who.ProjectID})
	var le *listError
	if errors.As(err, &le) {
		fail(c, newError(http.StatusBadRequest, "%s", le.msg))
		return
	}
	var imgs []*image.Image
	if lq.Limit > 0 {
		imgs, err = s.reg.List(c.Request.Context(), lq)
	}
	switch {
	case errors.Is(err, registry.ErrInvalidMarker):
		fail(c, newError(http.StatusBadRequest, "No image found with ID %s", lq.Marker))
		return
	case errors.Is(err, registry.ErrInvalidQuery):
		fail(c, newError(http.StatusBadRequest, "%s", err.Error()))
		return
	case err != nil:
		s.imageError(c, "", err)
		return
	}
	items := make([]byte, 0, 1024*len(imgs))
	items = append(items, '[')
	for i, img := range imgs {
		if i > 0 {
			items = append(items, ',')
		}
		items = append(items, s.imageJSON(img)...)
	}
	items = append(items, ']')
	var o object
	o.raw("images", items)
	first := "/v2/images"
	if q := links.encode("marker"); q != "" {
		first += "?" + q
	}
	o.field("first", first)
	o.field("schema", "/v2/schemas/images")
	// Glance emits next whenever the page is full, without looking ahead.
	if len(imgs) > 0 && len(imgs) == lq.Limit {
		// dict order: marker was popped, so it comes back last.
		next := "/v2/images?"
		if q := links.encode("marker"); q != "" {
			next += q + "&"
		}
		o.field("next", next+"marker="+url.QueryEscape(imgs[len(imgs)-1].ID))
	}
	writeJSON(c, http.StatusOK, pythonize(o.bytes()))
}

// queryParams are query parameters in their order of first appearance,
// each with its last value: Python's dict(request.params), which Glance
// re-encodes into the first and next links.
type queryParams struct {
	keys []string
	vals map[string]string
}

// linkParams keeps, of pairs, each key once with its last value.
func linkParams(pairs []param) queryParams {
	q := queryParams{vals: map[string]string{}}
	for _, p := range pairs {
		if _, ok := q.vals[p.key]; !ok {
			q.keys = append(q.keys, p.key)
		}
		q.vals[p.key] = p.value
	}
	return q
}

func (q queryParams) encode(skip string) string {
	var parts []string
	for _, k := range q.keys {
		if k != skip {
			parts = append(parts, url.QueryEscape(k)+"="+url.QueryEscape(q.vals[k]))
		}
	}
	return strings.Join(parts, "&")
}

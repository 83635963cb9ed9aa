package rbd

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"

	"github.com/glance-go/glance/sdk/store"
)

// snapName is the snapshot Glance makes of every image, and that clones
// are made from.
const snapName = "snap"

var idRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$`)

// validID checks an image id against the rule in the package doc.
func validID(id string) error {
	if !idRE.MatchString(id) {
		if len(id) > 80 {
			id = id[:80] + "…"
		}
		return fmt.Errorf("%w: image id %q: want 1 to 64 of [A-Za-z0-9_-], starting with a letter or digit", store.ErrInvalidArgument, id)
	}
	return nil
}

// loc is a parsed rbd location.
type loc struct {
	fsid  string // empty for the legacy form
	pool  string // empty for the legacy form
	image string
	snap  string // empty for the legacy form
}

// String writes the location as Glance does: every part URL-quoted.
func (l loc) String() string {
	if l.fsid == "" && l.pool == "" && l.snap == "" {
		return "rbd://" + url.PathEscape(l.image)
	}
	return "rbd://" + quote(l.fsid) + "/" + quote(l.pool) + "/" + quote(l.image) + "/" + quote(l.snap)
}

// quote escapes like urllib.parse.quote(s, safe="") in Python: everything
// but letters, digits and _.-~.
func quote(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("_.-~", c) >= 0 {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// parseLocation parses rbd://<fsid>/<pool>/<image>/<snap> or the legacy
// rbd://<image>. It checks the form only; the caller checks fsid and pool
// against the cluster.
func parseLocation(s string) (loc, error) {
	bad := func(why string) (loc, error) {
		q := s
		if len(q) > 200 {
			q = q[:200] + "…"
		}
		return loc{}, fmt.Errorf("%w: %q: %s", store.ErrInvalidLocation, q, why)
	}
	rest, ok := strings.CutPrefix(s, "rbd://")
	if !ok {
		return bad("not an rbd:// location")
	}
	if strings.ContainsAny(rest, "?#\x00") {
		return bad("only rbd://<fsid>/<pool>/<image>/<snapshot> is allowed")
	}
	raw := strings.Split(rest, "/")
	parts := make([]string, len(raw))
	for i, p := range raw {
		u, err := url.PathUnescape(p)
		if err != nil {
			return bad("bad escape")
		}
		if u == "" || u == "." || u == ".." || strings.ContainsAny(u, "/@\x00") {
			return bad(fmt.Sprintf("part %d is empty or not a name", i+1))
		}
		parts[i] = u
	}
	var l loc
	switch len(parts) {
	case 1:
		l.image = parts[0]
	case 4:
		l = loc{fsid: parts[0], pool: parts[1], image: parts[2], snap: parts[3]}
	default:
		return bad("want rbd://<fsid>/<pool>/<image>/<snapshot>")
	}
	if validID(l.image) != nil {
		return bad("not an image name of this store")
	}
	return l, nil
}

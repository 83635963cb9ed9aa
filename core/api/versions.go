package api

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
)

// apiVersion is one entry of the versions document.
type apiVersion struct {
	ID     string        `json:"id"`
	Status string        `json:"status"`
	Links  []versionLink `json:"links"`
}

type versionLink struct {
	Rel  string `json:"rel"`
	Href string `json:"href"`
}

// supportedMinors are the v2 minor versions served, newest (CURRENT)
// first. 2.8 and 2.9 are multi-store, which is native here. Later API
// slices (import, cache, locations) raise this.
func supportedMinors() []int { return []int{9, 8, 7, 6, 5, 4, 3, 2, 1, 0} }

// knownVersion reports whether v is "v2" or "v2.N" for a served N.
func knownVersion(v string) bool {
	if v == "v2" {
		return true
	}
	minor, ok := strings.CutPrefix(v, "v2.")
	return ok && knownMinor(minor)
}

func knownMinor(s string) bool {
	n, err := strconv.Atoi(s)
	if err != nil || strconv.Itoa(n) != s {
		return false
	}
	for _, m := range supportedMinors() {
		if m == n {
			return true
		}
	}
	return false
}

func (s *server) versionsDoc(r *http.Request) []byte {
	href := s.baseURL(r) + "/v2/"
	var vs []apiVersion
	for i, m := range supportedMinors() {
		st := "SUPPORTED"
		if i == 0 {
			st = "CURRENT"
		}
		vs = append(vs, apiVersion{ID: "v2." + strconv.Itoa(m), Status: st, Links: []versionLink{{Rel: "self", Href: href}}})
	}
	b, _ := marshal(struct {
		Versions []apiVersion `json:"versions"`
	}{vs})
	return b
}

// versions serves the versions document: 300 at /, 200 at /versions.
func (s *server) versions(status int) gin.HandlerFunc {
	return func(c *gin.Context) { writeJSON(c, status, s.versionsDoc(c.Request)) }
}

// versionsUnknown answers a URL naming an unknown version (300).
func (s *server) versionsUnknown(w http.ResponseWriter, r *http.Request) {
	b := s.versionsDoc(r)
	w.Header().Set("X-Openstack-Request-Id", "req-"+uuid.NewString())
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(http.StatusMultipleChoices)
	w.Write(b)
}

// v2Redirect sends /v2 to /v2/ (302), as Glance's router does.
func (s *server) v2Redirect(c *gin.Context) {
	c.Header("Location", s.baseURL(c.Request)+"/v2/")
	c.Header("Content-Type", "text/plain; charset=utf8")
	c.Header("Content-Length", "0")
	c.Status(http.StatusFound)
	c.Writer.WriteHeaderNow()
}

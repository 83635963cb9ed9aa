package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"testing"
)

// caller is one static token of the policy tests' glance-api.
type caller struct {
	name, token, project string
	roles                []string
}

// The callers of the permission matrix. The image is owned by project
// "own"; pen, acc and rej are member projects of the image (while it is
// shared) whose membership is pending, accepted and rejected.
var (
	cAdmin    = caller{"admin", "tok-admin-0000000000", "adm", []string{"admin", "member", "reader"}}
	cOwner    = caller{"owner", "tok-owner-0000000000", "own", []string{"member", "reader"}}
	cReader   = caller{"reader", "tok-reader-000000000", "own", []string{"reader"}}
	cOther    = caller{"other", "tok-other-0000000000", "oth", []string{"member", "reader"}}
	cPending  = caller{"pending", "tok-pending-00000000", "pen", []string{"member", "reader"}}
	cAccepted = caller{"accepted", "tok-accepted-0000000", "acc", []string{"member", "reader"}}
	cRejected = caller{"rejected", "tok-rejected-0000000", "rej", []string{"member", "reader"}}
	cNoRoles  = caller{"noroles", "tok-noroles-00000000", "own", nil}

	matrixCallers = []caller{cAdmin, cOwner, cReader, cOther, cPending, cAccepted, cRejected, cNoRoles}
	visibilities  = []string{"private", "shared", "community", "public"}
)

// tokensAuth is the auth block giving every caller its static token.
func tokensAuth(callers ...caller) string {
	var b strings.Builder
	b.WriteString("auth {\n  mode = \"tokens\"\n")
	for _, c := range callers {
		roles, _ := json.Marshal(c.roles)
		if c.roles == nil {
			roles = []byte("[]")
		}
		fmt.Fprintf(&b, "  token {\n    value   = %q\n    user    = %q\n    project = %q\n    roles   = %s\n  }\n", c.token, c.name, c.project, roles)
	}
	b.WriteString("}\n")
	return b.String()
}

// as sends a request as c; the body, if any, is sent with ctype. It
// returns the status and body.
func (s *server) as(c caller, method, path, ctype, body string) (int, string) {
	s.t.Helper()
	hdr := map[string]string{"X-Auth-Token": c.token, "Accept": "application/json"}
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
		hdr["Content-Type"] = ctype
	}
	resp := s.do(method, path, r, hdr)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp.StatusCode, string(b)
}

// must sends a request as c and fails the test unless it answers want.
func (s *server) must(c caller, want int, method, path, ctype, body string) string {
	s.t.Helper()
	status, b := s.as(c, method, path, ctype, body)
	if status != want {
		s.t.Fatalf("setup: %s %s as %s: %d %s, want %d", method, path, c.name, status, b, want)
	}
	return b
}

const (
	ctJSON  = "application/json"
	ctPatch = "application/openstack-images-v2.1-json-patch"
	ctData  = "application/octet-stream"
)

// imageSetup says how to prepare the image of a cell.
type imageSetup struct {
	queued      bool // no data
	protected   bool
	deactivated bool
}

// newMatrixImage makes an image of project "own" with visibility vis: the
// owner creates it shared with tag t0 (and data unless queued), adds the
// members pen, acc, rej, which set their status, then the admin sets the
// visibility (memberships stay when an image stops being shared, and must
// then grant nothing).
func newMatrixImage(s *server, vis string, o imageSetup) string {
	s.t.Helper()
	body := fmt.Sprintf(`{"name": "m-%s", "disk_format": "raw", "container_format": "bare", "visibility": "shared", "tags": ["t0"], "protected": %t}`, vis, o.protected)
	var img struct{ ID string }
	if err := json.Unmarshal([]byte(s.must(cOwner, 201, "POST", "/v2/images", ctJSON, body)), &img); err != nil {
		s.t.Fatal(err)
	}
	id := img.ID
	if !o.queued {
		s.must(cOwner, 204, "PUT", "/v2/images/"+id+"/file", ctData, "0123456789abcdef")
	}
	for _, m := range []caller{cPending, cAccepted, cRejected} {
		s.must(cOwner, 200, "POST", "/v2/images/"+id+"/members", ctJSON, `{"member": "`+m.project+`"}`)
	}
	s.must(cAccepted, 200, "PUT", "/v2/images/"+id+"/members/acc", ctJSON, `{"status": "accepted"}`)
	s.must(cRejected, 200, "PUT", "/v2/images/"+id+"/members/rej", ctJSON, `{"status": "rejected"}`)
	if vis != "shared" {
		s.must(cAdmin, 200, "PATCH", "/v2/images/"+id, ctPatch, `[{"op": "replace", "path": "/visibility", "value": "`+vis+`"}]`)
	}
	if o.deactivated {
		s.must(cAdmin, 204, "POST", "/v2/images/"+id+"/actions/deactivate", "", "")
	}
	return id
}

// Listed and notListed are the list cells: whether the image is in the
// caller's default GET /v2/images (a 403 is a 403).
const (
	listed    = 1
	notListed = 0
)

// matrixOp is one operation of the matrix and its expected statuses.
type matrixOp struct {
	name string
	// setup prepares the image; shared means one image per visibility
	// serves every caller (the operation changes nothing).
	setup  imageSetup
	shared bool
	// noImage: the operation needs no image (create).
	noImage bool
	// do runs the operation on image id as c; it returns the status (for
	// list: listed or notListed unless the list failed) and the body.
	do func(s *server, c caller, id, vis string) (int, string)
	// want is, per caller (matrixCallers' order), the statuses for
	// private, shared, community, public.
	want [8][4]int
}

func simple(method, suffix, ctype, body string) func(*server, caller, string, string) (int, string) {
	return func(s *server, c caller, id, _ string) (int, string) {
		return s.as(c, method, "/v2/images/"+id+suffix, ctype, body)
	}
}

// The matrix, from shared/reference/glance-secure-rbac.md. Rows are the
// callers admin, owner, reader, other, pending, accepted, rejected,
// noroles; columns the visibilities private, shared, community, public.
//
// Reading guide: 404 is "cannot see" (private: other projects; shared:
// projects without a membership; and the no-roles caller, whom get_image
// refuses, for every operation but show); 403 is "sees it, policy says
// no". Member calls on an image that is not shared are 403 for whoever
// sees the image (404 for showing a member).
var matrixOps = []matrixOp{
	{name: "show", shared: true, do: simple("GET", "", "", ""), want: [8][4]int{
		{200, 200, 200, 200}, // admin
		{200, 200, 200, 200}, // owner
		{200, 200, 200, 200}, // reader
		{404, 404, 200, 200}, // other
		{404, 200, 200, 200}, // pending
		{404, 200, 200, 200}, // accepted
		{404, 200, 200, 200}, // rejected
		{403, 403, 403, 403}, // noroles
	}},
	{name: "list", shared: true, do: func(s *server, c caller, id, _ string) (int, string) {
		status, b := s.as(c, "GET", "/v2/images?limit=1000", "", "")
		if status != 200 {
			return status, b
		}
		if strings.Contains(b, id) {
			return listed, ""
		}
		return notListed, ""
	}, want: [8][4]int{
		{1, 1, 0, 1}, // admin: not other projects' community images
		{1, 1, 1, 1},
		{1, 1, 1, 1},
		{0, 0, 0, 1},
		{0, 0, 0, 1}, // pending: only once accepted
		{0, 1, 0, 1},
		{0, 0, 0, 1},
		{403, 403, 403, 403},
	}},
	{name: "create", shared: true, noImage: true, do: func(s *server, c caller, _, vis string) (int, string) {
		return s.as(c, "POST", "/v2/images", ctJSON, `{"name": "new", "visibility": "`+vis+`"}`)
	}, want: [8][4]int{
		{201, 201, 201, 201},
		{201, 201, 201, 403}, // only admin publicizes
		{403, 403, 403, 403}, // readers create nothing
		{201, 201, 201, 403},
		{201, 201, 201, 403},
		{201, 201, 201, 403},
		{201, 201, 201, 403},
		{403, 403, 403, 403},
	}},
	{name: "update", do: simple("PATCH", "", ctPatch, `[{"op": "replace", "path": "/name", "value": "x"}]`), want: ownerWrite(200)},
	{name: "protect", do: simple("PATCH", "", ctPatch, `[{"op": "replace", "path": "/protected", "value": true}]`), want: ownerWrite(200)},
	{name: "communitize", do: simple("PATCH", "", ctPatch, `[{"op": "replace", "path": "/visibility", "value": "community"}]`), want: ownerWrite(200)},
	{name: "publicize", do: simple("PATCH", "", ctPatch, `[{"op": "replace", "path": "/visibility", "value": "public"}]`), want: [8][4]int{
		{200, 200, 200, 200},
		{403, 403, 403, 403}, // even when already public
		{403, 403, 403, 403},
		{404, 404, 403, 403},
		{404, 403, 403, 403},
		{404, 403, 403, 403},
		{404, 403, 403, 403},
		{404, 404, 404, 404},
	}},
	{name: "delete", do: simple("DELETE", "", "", ""), want: ownerWrite(204)},
	{name: "delete-protected", setup: imageSetup{protected: true}, shared: true, do: simple("DELETE", "", "", ""), want: [8][4]int{
		{403, 403, 403, 403}, // protected: not even admin
		{403, 403, 403, 403},
		{403, 403, 403, 403},
		{404, 404, 403, 403},
		{404, 403, 403, 403},
		{404, 403, 403, 403},
		{404, 403, 403, 403},
		{404, 404, 404, 404},
	}},
	{name: "upload", setup: imageSetup{queued: true}, do: simple("PUT", "/file", ctData, "fedcba9876543210"), want: ownerWrite(204)},
	{name: "download", shared: true, do: simple("GET", "/file", "", ""), want: [8][4]int{
		{200, 200, 200, 200},
		{200, 200, 200, 200},
		{403, 403, 403, 403}, // readers never download
		{404, 404, 200, 200},
		{404, 200, 200, 200}, // status does not matter
		{404, 200, 200, 200},
		{404, 200, 200, 200},
		{404, 404, 404, 404},
	}},
	{name: "download-deactivated", setup: imageSetup{deactivated: true}, shared: true, do: simple("GET", "/file", "", ""), want: [8][4]int{
		{200, 200, 200, 200}, // only admin
		{403, 403, 403, 403},
		{403, 403, 403, 403},
		{404, 404, 403, 403},
		{404, 403, 403, 403},
		{404, 403, 403, 403},
		{404, 403, 403, 403},
		{404, 404, 404, 404},
	}},
	{name: "tag-add", do: simple("PUT", "/tags/t1", "", ""), want: ownerWrite(204)},
	{name: "tag-delete", do: simple("DELETE", "/tags/t0", "", ""), want: ownerWrite(204)},
	{name: "deactivate", do: simple("POST", "/actions/deactivate", "", ""), want: ownerWrite(204)},
	{name: "reactivate", setup: imageSetup{deactivated: true}, do: simple("POST", "/actions/reactivate", "", ""), want: ownerWrite(204)},
	{name: "member-add", do: simple("POST", "/members", ctJSON, `{"member": "new"}`), want: [8][4]int{
		{403, 200, 403, 403},
		{403, 200, 403, 403},
		{403, 403, 403, 403},
		{404, 404, 403, 403},
		{404, 403, 403, 403},
		{404, 403, 403, 403},
		{404, 403, 403, 403},
		{403, 404, 403, 403}, // not shared: refused before policy
	}},
	{name: "member-list", shared: true, do: simple("GET", "/members", "", ""), want: [8][4]int{
		{403, 200, 403, 403},
		{403, 200, 403, 403},
		{403, 200, 403, 403},
		{404, 404, 403, 403},
		{404, 200, 403, 403},
		{404, 200, 403, 403},
		{404, 200, 403, 403},
		{403, 404, 403, 403},
	}},
	{name: "member-show", shared: true, do: simple("GET", "/members/acc", "", ""), want: [8][4]int{
		{404, 200, 404, 404},
		{404, 200, 404, 404},
		{404, 200, 404, 404},
		{404, 404, 404, 404},
		{404, 404, 404, 404}, // another member's record
		{404, 200, 404, 404}, // its own
		{404, 404, 404, 404},
		{404, 404, 404, 404},
	}},
	{name: "member-update", do: simple("PUT", "/members/pen", ctJSON, `{"status": "accepted"}`), want: [8][4]int{
		{403, 200, 403, 403},
		{403, 403, 403, 403}, // the owner may not
		{403, 403, 403, 403},
		{404, 404, 403, 403},
		{404, 200, 403, 403}, // its own
		{404, 404, 403, 403}, // another member's record
		{404, 404, 403, 403},
		{403, 404, 403, 403},
	}},
	{name: "member-delete", do: simple("DELETE", "/members/acc", "", ""), want: [8][4]int{
		{403, 204, 403, 403},
		{403, 204, 403, 403},
		{403, 403, 403, 403},
		{404, 404, 403, 403},
		{404, 404, 403, 403},
		{404, 403, 403, 403}, // may not remove itself
		{404, 404, 403, 403},
		{403, 404, 403, 403},
	}},
}

// ownerWrite is the row set of an operation that the admin and the owning
// project's members may do (modify_image and its kin), answering ok.
func ownerWrite(ok int) [8][4]int {
	return [8][4]int{
		{ok, ok, ok, ok},
		{ok, ok, ok, ok},
		{403, 403, 403, 403}, // owner-project reader
		{404, 404, 403, 403},
		{404, 403, 403, 403},
		{404, 403, 403, 403},
		{404, 403, 403, 403},
		{404, 404, 404, 404}, // no roles: get_image refused, so not found
	}
}

// TestPolicyMatrix runs every operation as every caller on an image of
// every visibility against the real glance-api in auth mode "tokens", and
// checks each status against the table above.
func TestPolicyMatrix(t *testing.T) {
	s := startServerWith(t, Options{Auth: tokensAuth(matrixCallers...)})
	cells, failed := 0, 0
	var summary strings.Builder
	for _, op := range matrixOps {
		fmt.Fprintf(&summary, "%-20s", op.name)
		for vi, vis := range visibilities {
			var sharedID string
			if op.shared && !op.noImage {
				sharedID = newMatrixImage(s, vis, op.setup)
			}
			summary.WriteString(" |")
			for ci, c := range matrixCallers {
				id := sharedID
				if !op.shared {
					id = newMatrixImage(s, vis, op.setup)
				}
				got, body := op.do(s, c, id, vis)
				want := op.want[ci][vi]
				cells++
				mark := fmt.Sprint(got)
				if got != want {
					failed++
					mark = fmt.Sprintf("%d!%d", got, want)
					t.Errorf("%s on a %s image as %s: %d, want %d\n%s", op.name, vis, c.name, got, want, body)
				}
				summary.WriteString(" " + mark)
			}
		}
		summary.WriteString("\n")
	}
	t.Logf("policy matrix: %d operations × %d callers × %d visibilities = %d cells checked, %d wrong\n"+
		"columns per visibility (%s): %s\n%s",
		len(matrixOps), len(matrixCallers), len(visibilities), cells, failed,
		strings.Join(visibilities, ", "), callerNames(), summary.String())
	fmt.Printf("TestPolicyMatrix: %d cells checked (%d operations × %d callers × %d visibilities), %d wrong\n",
		cells, len(matrixOps), len(matrixCallers), len(visibilities), failed)
}

func callerNames() string {
	names := make([]string, len(matrixCallers))
	for i, c := range matrixCallers {
		names[i] = c.name
	}
	return strings.Join(names, " ")
}

package api

import (
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/glance-go/glance/core/policy"
)

const (
	bob   = "bob:proj-b:member"
	carol = "carol:proj-c:member"
)

func (e *env) member(method, path, body, token string) (*http.Response, []byte) {
	e.t.Helper()
	h := map[string]string{"Accept": "application/json"}
	if token != "" {
		h["X-Auth-Token"] = token
	}
	var r *strings.Reader
	if body != "" {
		r = strings.NewReader(body)
		h["Content-Type"] = "application/json"
	}
	if r == nil {
		return e.do(method, path, nil, h)
	}
	return e.do(method, path, r, h)
}

var memberTimeRe = regexp.MustCompile(`"(created_at|updated_at)": "\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"`)

// TestMembersTranscript follows the transcript's sharing exchanges
// #63-#76 with an owner alice (proj-a) and a consumer bob (proj-b).
func TestMembersTranscript(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.Authenticate = tokenAuth })
	resp, b := e.do("POST", "/v2/images", strings.NewReader(`{"name": "shared-1", "disk_format": "raw", "container_format": "bare", "visibility": "shared"}`),
		map[string]string{"X-Auth-Token": alice})
	if resp.StatusCode != 201 {
		t.Fatalf("create: %d %s", resp.StatusCode, b)
	}
	id := decode(t, b)["id"].(string)
	members := "/v2/images/" + id + "/members"

	// #64: 200, pending, Glance's key order.
	resp, b = e.member("POST", members, `{"member": "proj-b"}`, alice)
	want := `{"member_id": "proj-b", "image_id": "` + id + `", "status": "pending", "created_at": "T", "updated_at": "T", "schema": "/v2/schemas/member"}`
	if got := memberTimeRe.ReplaceAllString(string(b), `"$1": "T"`); resp.StatusCode != 200 || got != want {
		t.Fatalf("add: %d %s\nwant %s", resp.StatusCode, got, want)
	}
	// #65: duplicate.
	resp, b = e.member("POST", members, `{"member": "proj-b"}`, alice)
	if resp.StatusCode != 409 || !strings.Contains(string(b), "Member proj-b is duplicated for image "+id) {
		t.Fatalf("duplicate: %d %s", resp.StatusCode, b)
	}
	// #66
	resp, b = e.member("GET", members, "", alice)
	if resp.StatusCode != 200 || !strings.HasPrefix(string(b), `{"members": [{"member_id": "proj-b", "image_id": "`+id+`", "status": "pending"`) ||
		!strings.HasSuffix(string(b), `"schema": "/v2/schemas/member"}], "schema": "/v2/schemas/members"}`) {
		t.Fatalf("list: %d %s", resp.StatusCode, b)
	}
	listed := func(token, query string) bool {
		t.Helper()
		resp, b := e.member("GET", "/v2/images"+query, "", token)
		if resp.StatusCode != 200 {
			t.Fatalf("list images%s: %d %s", query, resp.StatusCode, b)
		}
		return strings.Contains(string(b), id)
	}
	// #67, #68: pending is listed only with member_status=pending (or all).
	if !listed(bob, "?member_status=pending") || listed(bob, "") || !listed(bob, "?member_status=all") || listed(bob, "?visibility=shared") {
		t.Fatal("pending member's lists")
	}
	// A pending member already sees and downloads the image.
	if resp, b := e.member("GET", "/v2/images/"+id, "", bob); resp.StatusCode != 200 {
		t.Fatalf("show as pending member: %d %s", resp.StatusCode, b)
	}
	// #69: bob accepts.
	resp, b = e.member("PUT", members+"/proj-b", `{"status": "accepted"}`, bob)
	if resp.StatusCode != 200 || !strings.Contains(string(b), `"status": "accepted"`) {
		t.Fatalf("accept: %d %s", resp.StatusCode, b)
	}
	if !listed(bob, "") || !listed(bob, "?visibility=shared") || listed(bob, "?member_status=pending") {
		t.Fatal("accepted member's lists")
	}
	// #70
	resp, b = e.member("GET", members+"/proj-b", "", bob)
	if resp.StatusCode != 200 || !strings.Contains(string(b), `"member_id": "proj-b"`) {
		t.Fatalf("show member: %d %s", resp.StatusCode, b)
	}
	// #71: the owner may not set a member's status.
	resp, b = e.member("PUT", members+"/proj-b", `{"status": "accepted"}`, alice)
	if resp.StatusCode != 403 || !strings.Contains(string(b), "Not allowed to update members for image "+id+".") {
		t.Fatalf("owner sets status: %d %s", resp.StatusCode, b)
	}
	// A member changes its status in any direction, and sees only itself.
	for _, st := range []string{"rejected", "accepted", "pending", "accepted"} {
		if resp, b := e.member("PUT", members+"/proj-b", `{"status": "`+st+`"}`, bob); resp.StatusCode != 200 {
			t.Fatalf("bob → %s: %d %s", st, resp.StatusCode, b)
		}
	}
	if resp, b := e.member("POST", members, `{"member": "proj-c"}`, alice); resp.StatusCode != 200 {
		t.Fatalf("add proj-c: %d %s", resp.StatusCode, b)
	}
	resp, b = e.member("GET", members, "", bob)
	if resp.StatusCode != 200 || strings.Contains(string(b), "proj-c") || !strings.Contains(string(b), "proj-b") {
		t.Fatalf("bob's member list: %d %s", resp.StatusCode, b)
	}
	for _, tc := range []struct {
		method, path, body, token string
		status                    int
		msg                       string
	}{
		{"GET", members + "/proj-c", "", bob, 404, "proj-c not found in the member list of the image " + id + "."},
		{"PUT", members + "/proj-c", `{"status": "accepted"}`, bob, 404, "proj-c not found in the member list"},
		{"DELETE", members + "/proj-c", "", bob, 404, "proj-c not found in the member list"},
		{"DELETE", members + "/proj-b", "", bob, 403, "Not allowed to delete members for image " + id + "."},
		{"POST", members, `{"member": "proj-d"}`, bob, 403, "Not allowed to create members for image " + id + "."},
		{"GET", members + "/proj-x", "", alice, 404, "proj-x not found in the member list"},
		{"PUT", members + "/proj-b", `{"status": "maybe"}`, bob, 400, `Incorrect request: Status must be \"pending\", \"accepted\" or \"rejected\".`},
		{"PUT", members + "/proj-b", `{"state": "accepted"}`, bob, 400, "Status not specified"},
		{"PUT", members + "/proj-b", `["accepted"]`, bob, 400, `Expected a status in the form: {\"status\": \"status\"}`},
		{"POST", members, `{}`, alice, 400, "Member to be added not specified"},
		{"POST", members, `{"member": ""}`, alice, 400, "Member can't be empty"},
		{"POST", members, `{"member": 7}`, alice, 400, `Expected a member in the form: {\"member\": \"image_id\"}`},
		{"POST", members, `"proj-d"`, alice, 400, `Expected a member in the form`},
		{"POST", members, `{"member": `, alice, 400, "Malformed JSON in request body."},
		{"POST", members, "", alice, 400, "Body expected in request."},
		{"GET", members, "", "dave:proj-d:member", 404, "Image " + id + " not found."},
		{"POST", members, `{"member": "proj-d"}`, "dave:proj-d:member", 404, "Image " + id + " not found."},
		{"GET", members + "/proj-b", "", "dave:proj-d:member", 404, "Image " + id + " not found."},
		{"GET", "/v2/images/00000000-0000-0000-0000-000000000000/members", "", alice, 404, "not found."},
		// The admin sets any member's status.
		{"PUT", members + "/proj-c", `{"status": "rejected"}`, "", 200, `"status": "rejected"`},
	} {
		resp, b := e.member(tc.method, tc.path, tc.body, tc.token)
		if resp.StatusCode != tc.status || !strings.Contains(string(b), tc.msg) {
			t.Errorf("%s %s %s as %q: %d %s, want %d with %q", tc.method, tc.path, tc.body, tc.token, resp.StatusCode, b, tc.status, tc.msg)
		}
	}
	// #73: a member cannot delete the image.
	if resp, b := e.member("DELETE", "/v2/images/"+id, "", bob); resp.StatusCode != 403 {
		t.Fatalf("delete image as member: %d %s", resp.StatusCode, b)
	}
	// #75, then #76: bob no longer sees the image.
	if resp, b := e.member("DELETE", members+"/proj-b", "", alice); resp.StatusCode != 204 || len(b) != 0 {
		t.Fatalf("delete member: %d %s", resp.StatusCode, b)
	}
	if resp, b := e.member("POST", "/v2/images/"+id+"/actions/deactivate", "", bob); resp.StatusCode != 404 || !strings.Contains(string(b), "No image found with ID "+id) {
		t.Fatalf("deactivate after removal: %d %s", resp.StatusCode, b)
	}
	// Re-adding works (soft delete) and starts pending again.
	resp, b = e.member("POST", members, `{"member": "proj-b"}`, alice)
	if resp.StatusCode != 200 || !strings.Contains(string(b), `"status": "pending"`) {
		t.Fatalf("re-add: %d %s", resp.StatusCode, b)
	}
	// #74: members only on shared images.
	e.patch(id, image21, `[{"op": "replace", "path": "/visibility", "value": "private"}]`, "X-Auth-Token", alice)
	for _, tc := range []struct {
		method, path, body string
		status             int
		msg                string
	}{
		{"POST", members, `{"member": "proj-c"}`, 403, "Not allowed to create members for image " + id + "."},
		{"GET", members, "", 403, "Not allowed to list members for image " + id + ": Only shared images have members."},
		{"GET", members + "/proj-b", "", 404, "Only shared images have members."},
		{"PUT", members + "/proj-b", `{"status": "accepted"}`, 403, "Not allowed to update members for image " + id + "."},
		{"DELETE", members + "/proj-b", "", 403, "Not allowed to delete members for image " + id + "."},
	} {
		resp, b := e.member(tc.method, tc.path, tc.body, alice)
		if resp.StatusCode != tc.status || !strings.Contains(string(b), tc.msg) {
			t.Errorf("private: %s %s: %d %s, want %d with %q", tc.method, tc.path, resp.StatusCode, b, tc.status, tc.msg)
		}
	}
}

const image21 = "application/openstack-images-v2.1-json-patch"

func TestMemberQuota(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.Authenticate = tokenAuth; o.MemberQuota = 2 })
	id := e.create(`{"name": "q", "visibility": "shared"}`)["id"].(string)
	members := "/v2/images/" + id + "/members"
	for _, p := range []string{"p1", "p2"} {
		if resp, b := e.member("POST", members, `{"member": "`+p+`"}`, ""); resp.StatusCode != 200 {
			t.Fatalf("add %s: %d %s", p, resp.StatusCode, b)
		}
	}
	resp, b := e.member("POST", members, `{"member": "p3"}`, "")
	want := "Image member limit exceeded for image " + id + ": The limit has been exceeded on the number of allowed image members for this image. Attempted: 3, Maximum: 2:"
	if resp.StatusCode != 413 || !strings.Contains(string(b), want) {
		t.Fatalf("over quota: %d %s", resp.StatusCode, b)
	}
	// A removed member frees its place.
	if resp, b := e.member("DELETE", members+"/p1", "", ""); resp.StatusCode != 204 {
		t.Fatalf("delete: %d %s", resp.StatusCode, b)
	}
	if resp, b := e.member("POST", members, `{"member": "p3"}`, ""); resp.StatusCode != 200 {
		t.Fatalf("add after delete: %d %s", resp.StatusCode, b)
	}
	// Unlimited.
	e = newEnv(t, func(o *Options) { o.MemberQuota = -1 })
	id = e.create(`{"name": "q", "visibility": "shared"}`)["id"].(string)
	for i := 0; i < 130; i++ {
		if resp, b := e.member("POST", "/v2/images/"+id+"/members", `{"member": "p`+strings.Repeat("x", i)+`"}`, ""); resp.StatusCode != 200 {
			t.Fatalf("add %d: %d %s", i, resp.StatusCode, b)
		}
	}
}

// TestPolicyOverride: an operator's rules replace the defaults.
func TestPolicyOverride(t *testing.T) {
	pol, err := policy.New(map[string]string{
		"publicize_image": "role:admin or role:member",
		"download_image":  "role:admin",
		"get_images":      "@",
	})
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, func(o *Options) { o.Authenticate = tokenAuth; o.Policy = pol })
	resp, b := e.do("POST", "/v2/images", strings.NewReader(`{"name": "p", "visibility": "public", "disk_format": "raw", "container_format": "bare"}`),
		map[string]string{"X-Auth-Token": alice})
	if resp.StatusCode != 201 {
		t.Fatalf("member publicizes on create: %d %s", resp.StatusCode, b)
	}
	id := decode(t, b)["id"].(string)
	if resp, b := e.upload(id, []byte(data64), map[string]string{"X-Auth-Token": alice}); resp.StatusCode != 204 {
		t.Fatalf("upload: %d %s", resp.StatusCode, b)
	}
	resp, b = e.do("GET", "/v2/images/"+id+"/file", nil, map[string]string{"X-Auth-Token": alice})
	if resp.StatusCode != 403 || !strings.Contains(string(b), "You are not authorized to complete download_image action.") {
		t.Fatalf("owner downloads with download_image admin-only: %d %s", resp.StatusCode, b)
	}
	if resp, b := e.do("GET", "/v2/images", nil, map[string]string{"X-Auth-Token": "x:proj-x:"}); resp.StatusCode != 200 {
		t.Fatalf("list with get_images @, no roles: %d %s", resp.StatusCode, b)
	}
	// Defaults: no roles, no list.
	e = newEnv(t, func(o *Options) { o.Authenticate = tokenAuth })
	resp, b = e.do("GET", "/v2/images", nil, map[string]string{"X-Auth-Token": "x:proj-x:"})
	if resp.StatusCode != 403 || !strings.Contains(string(b), "You are not authorized to complete get_images action.") {
		t.Fatalf("list, no roles: %d %s", resp.StatusCode, b)
	}
}

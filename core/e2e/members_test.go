package e2e

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"
)

// TestMembers walks the image members API on the real glance-api with
// static tokens: the owner shares an image with project "oth", whose
// member status decides only whether the image is in its lists.
func TestMembers(t *testing.T) {
	s := startServerWith(t, Options{Auth: tokensAuth(cAdmin, cOwner, cOther, cAccepted)})
	var img struct{ ID string }
	if err := json.Unmarshal([]byte(s.must(cOwner, 201, "POST", "/v2/images", ctJSON,
		`{"name": "shared-1", "disk_format": "raw", "container_format": "bare", "visibility": "shared"}`)), &img); err != nil {
		t.Fatal(err)
	}
	id := img.ID
	s.must(cOwner, 204, "PUT", "/v2/images/"+id+"/file", ctData, "0123456789abcdef")
	members := "/v2/images/" + id + "/members"

	// Not yet a member: the image does not exist for oth.
	if status, b := s.as(cOther, "GET", "/v2/images/"+id, "", ""); status != 404 || !strings.Contains(b, "No image found with ID "+id) {
		t.Fatalf("show before sharing: %d %s", status, b)
	}

	// Add: 200 with Glance's member body.
	b := s.must(cOwner, 200, "POST", members, ctJSON, `{"member": "oth"}`)
	re := regexp.MustCompile(`^\{"member_id": "oth", "image_id": "` + id + `", "status": "pending", ` +
		`"created_at": "\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", "updated_at": "\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", "schema": "/v2/schemas/member"\}$`)
	if !re.MatchString(b) {
		t.Fatalf("add member body: %s", b)
	}
	if status, b := s.as(cOwner, "POST", members, ctJSON, `{"member": "oth"}`); status != 409 || !strings.Contains(b, "Member oth is duplicated for image "+id) {
		t.Fatalf("duplicate member: %d %s", status, b)
	}
	if status, b := s.as(cOwner, "POST", members, ctJSON, `{"memb": "oth"}`); status != 400 || !strings.Contains(b, "Member to be added not specified") {
		t.Fatalf("bad body: %d %s", status, b)
	}
	s.must(cOwner, 200, "POST", members, ctJSON, `{"member": "acc"}`)

	var list struct {
		Members []struct {
			MemberID string `json:"member_id"`
			Status   string
		}
		Schema string
	}
	if err := json.Unmarshal([]byte(s.must(cOwner, 200, "GET", members, "", "")), &list); err != nil {
		t.Fatal(err)
	}
	ids := map[string]bool{}
	for _, m := range list.Members {
		ids[m.MemberID] = m.Status == "pending"
	}
	if len(list.Members) != 2 || !ids["acc"] || !ids["oth"] || list.Schema != "/v2/schemas/members" {
		t.Fatalf("owner's member list: %+v", list)
	}
	// A member sees only its own record.
	if err := json.Unmarshal([]byte(s.must(cOther, 200, "GET", members, "", "")), &list); err != nil {
		t.Fatal(err)
	}
	if len(list.Members) != 1 || list.Members[0].MemberID != "oth" {
		t.Fatalf("member's member list: %+v", list)
	}
	s.must(cOther, 404, "GET", members+"/acc", "", "")

	// lists says, for oth, in which of its lists the image is.
	lists := func() string {
		t.Helper()
		var in []string
		for _, q := range []string{"", "member_status=pending", "member_status=accepted", "member_status=rejected", "member_status=all", "visibility=shared"} {
			if strings.Contains(s.must(cOther, 200, "GET", "/v2/images?"+q, "", ""), id) {
				if q == "" {
					q = "default"
				}
				in = append(in, q)
			}
		}
		return strings.Join(in, " ")
	}
	for _, step := range []struct {
		status string
		lists  string
	}{
		{"", "member_status=pending member_status=all"}, // as added
		{"accepted", "default member_status=accepted member_status=all visibility=shared"},
		{"rejected", "member_status=rejected member_status=all"},
		{"accepted", "default member_status=accepted member_status=all visibility=shared"}, // rejected → accepted
		{"pending", "member_status=pending member_status=all"},
	} {
		if step.status != "" {
			b := s.must(cOther, 200, "PUT", members+"/oth", ctJSON, `{"status": "`+step.status+`"}`)
			if !strings.Contains(b, `"status": "`+step.status+`"`) {
				t.Fatalf("set %s: %s", step.status, b)
			}
		}
		if got := lists(); got != step.lists {
			t.Errorf("member status %q: listed in %q, want %q", step.status, got, step.lists)
		}
		// Whatever the status, the member sees and downloads the image.
		s.must(cOther, 200, "GET", "/v2/images/"+id, "", "")
		if b := s.must(cOther, 200, "GET", "/v2/images/"+id+"/file", "", ""); b != "0123456789abcdef" {
			t.Errorf("download as member: %q", b)
		}
	}
	for _, tc := range []struct {
		c                  caller
		method, path, body string
		status             int
		msg                string
	}{
		{cOwner, "PUT", members + "/oth", `{"status": "accepted"}`, 403, "Not allowed to update members for image " + id + "."},
		{cOther, "PUT", members + "/oth", `{"status": "maybe"}`, 400, "Status must be"},
		{cOther, "DELETE", members + "/oth", "", 403, "Not allowed to delete members for image " + id + "."},
		{cOther, "DELETE", "/v2/images/" + id, "", 403, "You are not authorized to complete delete_image action."},
		{cAdmin, "PUT", members + "/oth", `{"status": "accepted"}`, 200, `"status": "accepted"`},
	} {
		if status, b := s.as(tc.c, tc.method, tc.path, ctJSON, tc.body); status != tc.status || !strings.Contains(b, tc.msg) {
			t.Errorf("%s %s as %s: %d %s, want %d with %q", tc.method, tc.path, tc.c.name, status, b, tc.status, tc.msg)
		}
	}

	// Removed: the image is gone for oth again.
	s.must(cOwner, 204, "DELETE", members+"/oth", "", "")
	if status, b := s.as(cOther, "POST", "/v2/images/"+id+"/actions/deactivate", "", ""); status != 404 || !strings.Contains(b, "No image found with ID "+id) {
		t.Fatalf("deactivate after removal: %d %s", status, b)
	}
	// Only shared images have members.
	s.must(cAdmin, 200, "PATCH", "/v2/images/"+id, ctPatch, `[{"op": "replace", "path": "/visibility", "value": "private"}]`)
	if status, b := s.as(cOwner, "GET", members, "", ""); status != 403 || !strings.Contains(b, "Only shared images have members.") {
		t.Fatalf("members of a private image: %d %s", status, b)
	}
	for _, name := range []string{"member", "members"} {
		var sch struct{ Name string }
		if err := json.Unmarshal([]byte(s.must(cOther, 200, "GET", "/v2/schemas/"+name, "", "")), &sch); err != nil || sch.Name != name {
			t.Errorf("schema %s: %v %+v", name, err, sch)
		}
	}
}

// TestPolicyAndMemberQuotaFromConfig checks that config.hcl's policy rules
// and images { member_quota } reach the running server: with the default
// rules an owner may not publicize, with the override it may; the third
// member is refused with 413.
func TestPolicyAndMemberQuotaFromConfig(t *testing.T) {
	create := `{"name": "q", "disk_format": "raw", "container_format": "bare", "visibility": "shared"}`
	publicize := `[{"op": "replace", "path": "/visibility", "value": "public"}]`
	for _, tc := range []struct {
		name, extra   string
		publicize     int
		thirdMember   int
		thirdContains string
	}{
		{"defaults", "", 403, 200, "pen"},
		{"configured", "images {\n  member_quota = 2\n}\npolicy {\n  rules = {\n    publicize_image = \"role:admin or (role:member and project_id:%(project_id)s)\"\n  }\n}\n",
			200, 413, "Image member limit exceeded for image"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := startServerWith(t, Options{Auth: tokensAuth(cOwner), Extra: tc.extra})
			var img struct{ ID string }
			if err := json.Unmarshal([]byte(s.must(cOwner, 201, "POST", "/v2/images", ctJSON, create)), &img); err != nil {
				t.Fatal(err)
			}
			members := "/v2/images/" + img.ID + "/members"
			s.must(cOwner, 200, "POST", members, ctJSON, `{"member": "oth"}`)
			s.must(cOwner, 200, "POST", members, ctJSON, `{"member": "acc"}`)
			if status, b := s.as(cOwner, "POST", members, ctJSON, `{"member": "pen"}`); status != tc.thirdMember || !strings.Contains(b, tc.thirdContains) {
				t.Fatalf("third member: %d %s", status, b)
			}
			if status, b := s.as(cOwner, "PATCH", "/v2/images/"+img.ID, "application/openstack-images-v2.1-json-patch", publicize); status != tc.publicize {
				t.Fatalf("owner publicizes: %d %s", status, b)
			}
		})
	}
}

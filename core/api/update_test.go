package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/glance-go/glance/core/image"
)

// tokenAuth is the reference recipe's keystone stand-in: X-Auth-Token
// "user:project:role[,role]" picks the caller; anything else is admin.
func tokenAuth(r *http.Request) (Identity, error) {
	parts := strings.Split(r.Header.Get("X-Auth-Token"), ":")
	if len(parts) != 3 {
		return NoAuthIdentity(), nil
	}
	roles := strings.Split(parts[2], ",")
	id := Identity{UserID: parts[0], ProjectID: parts[1], Roles: roles}
	for _, r := range roles {
		id.IsAdmin = id.IsAdmin || r == "admin"
	}
	return id, nil
}

const alice = "alice:proj-a:member"

func (e *env) patch(id, ctype, body string, hdr ...string) (*http.Response, []byte) {
	e.t.Helper()
	h := map[string]string{"Content-Type": ctype}
	for i := 0; i+1 < len(hdr); i += 2 {
		h[hdr[i]] = hdr[i+1]
	}
	return e.do("PATCH", "/v2/images/"+id, strings.NewReader(body), h)
}

func (e *env) active(body string) string {
	e.t.Helper()
	id := e.create(body)["id"].(string)
	if resp, b := e.upload(id, []byte(data64), nil); resp.StatusCode != 204 {
		e.t.Fatalf("upload: %d %s", resp.StatusCode, b)
	}
	return id
}

func (e *env) show(id string, hdr ...string) map[string]any {
	e.t.Helper()
	h := map[string]string{}
	for i := 0; i+1 < len(hdr); i += 2 {
		h[hdr[i]] = hdr[i+1]
	}
	resp, b := e.do("GET", "/v2/images/"+id, nil, h)
	if resp.StatusCode != 200 {
		e.t.Fatalf("show %s: %d %s", id, resp.StatusCode, b)
	}
	return decode(e.t, b)
}

// htmlBody is webob's HTML error page around a body.
func htmlBody(status, body string) string {
	return "<html>\n <head>\n  <title>" + status + "</title>\n </head>\n <body>\n  <h1>" + status + "</h1>\n  " + body + "\n </body>\n</html>"
}

func TestSchemas(t *testing.T) {
	e := newEnv(t)
	// Content-Length of exchanges #10–#14 (tasks is not in the transcript).
	for _, tc := range []struct {
		name   string
		length int
		keys   string
	}{
		{"image", 6083, "[name properties additionalProperties links]"},
		{"images", 6371, "[name properties links]"},
		{"member", 678, "[name properties]"},
		{"members", 839, "[name properties links]"},
		{"task", 1539, "[name properties]"},
		{"tasks", -1, "[name properties links]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, b := e.do("GET", "/v2/schemas/"+tc.name, nil, nil)
			if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" {
				t.Fatalf("%d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
			}
			if tc.length >= 0 && len(b) != tc.length {
				t.Errorf("length %d, want %d", len(b), tc.length)
			}
			if got := fmt.Sprint(keyOrder(t, b)); got != tc.keys {
				t.Errorf("keys %s, want %s", got, tc.keys)
			}
			if resp, _ := e.do("GET", "/v2/schemas/"+tc.name, strings.NewReader("{}"), nil); resp.StatusCode != 400 {
				t.Errorf("body on GET: %d", resp.StatusCode)
			}
		})
	}
	if resp, _ := e.do("GET", "/v2/schemas/nothing", nil, nil); resp.StatusCode != 404 {
		t.Errorf("unknown schema: %d", resp.StatusCode)
	}
	// The deployment's formats are the schema's enums.
	custom := newEnv(t, func(o *Options) { o.Rules.DiskFormats = []string{"raw", "qcow2"} })
	_, b := custom.do("GET", "/v2/schemas/image", nil, nil)
	if !strings.Contains(string(b), `"enum": [null, "raw", "qcow2"]`) {
		t.Errorf("custom disk formats not in the schema")
	}
}

func TestPatchTranscript(t *testing.T) {
	e := newEnv(t)
	id := e.active(`{"name": "tx-1", "disk_format": "raw", "container_format": "bare", "visibility": "private",
		"tags": ["alpha"], "os_distro": "cirros", "custom_prop": "v1"}`)
	// #38: legacy media type.
	resp, b := e.patch(id, image.PatchMediaType20, `[{"replace": "/name", "value": "legacy-name"}]`)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("#38: %d %s", resp.StatusCode, b)
	}
	if keys := keyOrder(t, b); fmt.Sprint(keys[:3]) != "[custom_prop os_distro name]" {
		t.Errorf("#38 key order %v", keys)
	}
	checkFields(t, "#38", decode(t, b), map[string]any{"name": "legacy-name", "status": "active", "size": json.Number("64")})
	// #39: replace/add/remove, tags replaced as a whole.
	resp, b = e.patch(id, image.PatchMediaType21, `[{"op": "replace", "path": "/name", "value": "tx-1-renamed"},
		{"op": "add", "path": "/hw_disk_bus", "value": "scsi"}, {"op": "remove", "path": "/custom_prop"},
		{"op": "replace", "path": "/min_ram", "value": 512}, {"op": "replace", "path": "/tags", "value": ["alpha", "beta"]}]`)
	if resp.StatusCode != 200 {
		t.Fatalf("#39: %d %s", resp.StatusCode, b)
	}
	got := decode(t, b)
	checkFields(t, "#39", got, map[string]any{"name": "tx-1-renamed", "hw_disk_bus": "scsi", "min_ram": json.Number("512"), "os_distro": "cirros"})
	if _, ok := got["custom_prop"]; ok {
		t.Error("#39: custom_prop not removed")
	}
	if tags := fmt.Sprint(got["tags"]); tags != "[alpha beta]" {
		t.Errorf("#39 tags %s", tags)
	}
	// #40–#44, byte for byte where the transcript shows the body.
	for _, tc := range []struct {
		name, ctype, body string
		status            int
		page              string // the whole HTML body, or
		contains          string
	}{
		{"#40 tags pointer", image.PatchMediaType21, `[{"op": "replace", "path": "/name", "value": "never-applied"}, {"op": "add", "path": "/tags/-", "value": "x"}]`,
			400, htmlBody("400 Bad Request", "Invalid JSON pointer for this resource: &#x27;/tags/-&#x27;<br /><br />\n\n\n"), ""},
		{"#41 json content type", "application/json", `[]`,
			415, htmlBody("415 Unsupported Media Type", "The request media type application/json is not supported by this server.\n<br /><br />\n"), ""},
		{"#42 read-only status", image.PatchMediaType21, `[{"op": "replace", "path": "/status", "value": "queued"}]`,
			403, htmlBody("403 Forbidden", "Attribute &#x27;status&#x27; is read-only.<br /><br />\n\n\n"), ""},
		{"#43 remove missing", image.PatchMediaType21, `[{"op": "remove", "path": "/nonexistent_prop"}]`,
			409, htmlBody("409 Conflict", "There was a conflict when trying to complete your request.<br /><br />\nProperty nonexistent_prop does not exist.\n\n"), ""},
		{"#44 bad visibility", image.PatchMediaType21, `[{"op": "replace", "path": "/visibility", "value": "bogus"}]`,
			400, "", "Provided object does not match schema &#x27;image&#x27;: &#x27;bogus&#x27; is not one of [&#x27;community&#x27;, &#x27;public&#x27;, &#x27;private&#x27;, &#x27;shared&#x27;]"},
		{"replace missing", image.PatchMediaType21, `[{"op": "replace", "path": "/nope", "value": "x"}]`, 409, "", "Property nope does not exist."},
		{"reserved namespace", image.PatchMediaType21, `[{"op": "add", "path": "/os_glance_x", "value": "x"}]`, 403, "", "Attribute &#x27;os_glance_x&#x27; is reserved."},
		{"reserved deleted", image.PatchMediaType21, `[{"op": "add", "path": "/deleted", "value": "x"}]`, 403, "", "Attribute &#x27;deleted&#x27; is reserved."},
		{"remove base", image.PatchMediaType21, `[{"op": "remove", "path": "/name"}]`, 403, "", "Property name may not be removed."},
		{"add existing in v2.0", image.PatchMediaType20, `[{"add": "/os_distro", "value": "x"}]`, 409, "", "Property os_distro already present."},
		{"add base in v2.0", image.PatchMediaType20, `[{"add": "/name", "value": "x"}]`, 409, "", "Property name already present."},
		{"disk_format once active", image.PatchMediaType21, `[{"op": "replace", "path": "/disk_format", "value": "qcow2"}]`, 403, "", "Attribute disk_format can be only replaced for a queued image."},
		{"bad disk_format", image.PatchMediaType21, `[{"op": "replace", "path": "/disk_format", "value": "nope"}]`, 400, "", "is not one of"},
		{"unknown op", image.PatchMediaType21, `[{"op": "move", "path": "/name"}]`, 400, "", "Invalid operation: `move`. It must be one of the following: add, remove, replace."},
		{"no op", image.PatchMediaType21, `[{"path": "/name"}]`, 400, "", "Unable to find `op` in JSON Schema change."},
		{"no value", image.PatchMediaType21, `[{"op": "add", "path": "/x"}]`, 400, "", "Operation &quot;add&quot; requires a member named &quot;value&quot;."},
		{"not a list", image.PatchMediaType21, `{"op": "add"}`, 400, "", "Request body must be a JSON array of operation objects."},
		{"not objects", image.PatchMediaType21, `["x"]`, 400, "", "Operations must be JSON objects."},
		{"malformed", image.PatchMediaType21, `[{`, 400, "", "Malformed JSON in request body."},
		{"empty body", image.PatchMediaType21, ``, 400, "", "Body expected in request."},
		{"bad pointer", image.PatchMediaType21, `[{"op": "add", "path": "name", "value": "x"}]`, 400, "", "does not start with"},
		{"bad escape", image.PatchMediaType21, `[{"op": "add", "path": "/a~2b", "value": "x"}]`, 400, "", "not part of a recognized escape sequence"},
		{"two ops in v2.0", image.PatchMediaType20, `[{"add": "/a", "replace": "/b", "value": "x"}]`, 400, "", "must contain only one member"},
		{"negative min_ram", image.PatchMediaType21, `[{"op": "replace", "path": "/min_ram", "value": -1}]`, 400, "", "Cannot be a negative value"},
		{"non-string property", image.PatchMediaType21, `[{"op": "add", "path": "/x", "value": 1}]`, 400, "", "is not of type &#x27;string&#x27;"},
		{"locations invisible", image.PatchMediaType21, `[{"op": "add", "path": "/locations/-", "value": {"url": "x", "metadata": {}}}]`, 403, "", "It&#x27;s not allowed to add locations if locations are invisible."},
		{"locations emptied", image.PatchMediaType21, `[{"op": "replace", "path": "/locations", "value": []}]`, 403, "", "Cannot set locations to empty list."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, b := e.patch(id, tc.ctype, tc.body)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.status, b)
			}
			if tc.page != "" && string(b) != tc.page {
				t.Errorf("body:\n%q\nwant\n%q", b, tc.page)
			}
			if !strings.Contains(string(b), tc.contains) {
				t.Errorf("body %s\nlacks %q", b, tc.contains)
			}
		})
	}
	resp, _ = e.patch(id, "application/json", `[]`)
	if resp.Header.Get("Accept-Patch") != "application/openstack-images-v2.0-json-patch, application/openstack-images-v2.1-json-patch" ||
		resp.Header.Get("Content-Length") != "219" {
		t.Errorf("415 headers: %v", resp.Header)
	}
	// Nothing of the refused patches was applied (#40 all-or-nothing).
	if name := e.show(id)["name"]; name != "tx-1-renamed" {
		t.Errorf("name %v after refused patches", name)
	}
	if resp, _ := e.patch("00000000-0000-0000-0000-000000000000", image.PatchMediaType21, `[]`); resp.StatusCode != 404 {
		t.Errorf("unknown image: %d", resp.StatusCode)
	}
}

func TestPatchSemantics(t *testing.T) {
	e := newEnv(t, func(o *Options) {
		o.Authenticate = tokenAuth
		o.Rules.PropertyQuota = 3
		o.Rules.TagQuota = 2
	})
	id := e.create(`{"name": "q", "os_distro": "cirros"}`)["id"].(string)
	p21 := image.PatchMediaType21
	for _, tc := range []struct {
		name   string
		body   string
		hdr    []string
		status int
		want   map[string]any
		msg    string
	}{
		{"formats while queued", `[{"op": "add", "path": "/disk_format", "value": "qcow2"}, {"op": "add", "path": "/container_format", "value": "bare"}]`, nil,
			200, map[string]any{"disk_format": "qcow2", "container_format": "bare"}, ""},
		{"escaped pointer", `[{"op": "add", "path": "/a~1b~0c", "value": "v"}]`, nil, 200, map[string]any{"a/b~c": "v"}, ""},
		{"add replaces in v2.1", `[{"op": "add", "path": "/os_distro", "value": "debian"}]`, nil, 200, map[string]any{"os_distro": "debian"}, ""},
		{"protected and hidden", `[{"op": "replace", "path": "/protected", "value": true}, {"op": "replace", "path": "/os_hidden", "value": true}]`, nil,
			200, map[string]any{"protected": true, "os_hidden": true}, ""},
		{"property quota", `[{"op": "add", "path": "/p2", "value": "x"}, {"op": "add", "path": "/p3", "value": "x"}]`, nil,
			413, nil, "The limit has been exceeded on the number of allowed image properties. Attempted: 4, Maximum: 3"},
		{"tag quota", `[{"op": "replace", "path": "/tags", "value": ["a", "b", "c"]}]`, nil,
			413, nil, "The limit has been exceeded on the number of allowed image tags. Attempted: 3, Maximum: 2"},
		// alice cannot see the shared image of another project.
		{"invisible to another project", `[{"op": "replace", "path": "/owner", "value": "proj-a"}]`, []string{"X-Auth-Token", alice}, 404, nil, "No image found with ID"},
		{"owner by admin", `[{"op": "replace", "path": "/owner", "value": "proj-a"}]`, nil, 200, map[string]any{"owner": "proj-a"}, ""},
		{"owner by non admin", `[{"op": "replace", "path": "/owner", "value": "proj-b"}]`, []string{"X-Auth-Token", alice}, 403, nil, "Owner can&#x27;t be updated by non admin."},
		{"publicize by member", `[{"op": "replace", "path": "/visibility", "value": "public"}]`, []string{"X-Auth-Token", alice},
			403, nil, "publicize_image"},
		{"owner's member edits", `[{"op": "replace", "path": "/name", "value": "by-alice"}]`, []string{"X-Auth-Token", alice},
			200, map[string]any{"name": "by-alice"}, ""},
		{"other project, shared", `[{"op": "replace", "path": "/name", "value": "x"}]`, []string{"X-Auth-Token", "bob:proj-b:member"}, 404, nil, "No image found with ID"},
		{"publicize by admin", `[{"op": "replace", "path": "/visibility", "value": "public"}]`, nil, 200, map[string]any{"visibility": "public"}, ""},
		{"publicize again by owner", `[{"op": "replace", "path": "/visibility", "value": "public"}]`, []string{"X-Auth-Token", alice},
			403, nil, "publicize_image"},
		{"other project, public", `[{"op": "replace", "path": "/name", "value": "x"}]`, []string{"X-Auth-Token", "bob:proj-b:member"}, 403, nil, "modify_image"},
		{"owner's reader", `[{"op": "replace", "path": "/name", "value": "x"}]`, []string{"X-Auth-Token", "carol:proj-a:reader"}, 403, nil, "modify_image"},
		{"communitize by owner", `[{"op": "replace", "path": "/visibility", "value": "community"}]`, []string{"X-Auth-Token", alice},
			200, map[string]any{"visibility": "community"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, b := e.patch(id, p21, tc.body, tc.hdr...)
			if resp.StatusCode != tc.status || !strings.Contains(string(b), tc.msg) {
				t.Fatalf("%d %s", resp.StatusCode, b)
			}
			if tc.want != nil {
				checkFields(t, tc.name, decode(t, b), tc.want)
			}
		})
	}
	// Protected: no delete until unprotected.
	if resp, b := e.do("DELETE", "/v2/images/"+id, nil, nil); resp.StatusCode != 403 || !strings.Contains(string(b), "is protected and cannot be deleted.") {
		t.Fatalf("delete protected: %d %s", resp.StatusCode, b)
	}
	e.patch(id, p21, `[{"op": "replace", "path": "/protected", "value": false}]`)
	if resp, _ := e.do("DELETE", "/v2/images/"+id, nil, nil); resp.StatusCode != 204 {
		t.Fatalf("delete unprotected: %d", resp.StatusCode)
	}
	// updated_at moves only when something changed.
	id2 := e.create(`{"name": "same"}`)["id"].(string)
	before := e.show(id2)["updated_at"]
	if resp, b := e.patch(id2, p21, `[]`); resp.StatusCode != 200 || decode(t, b)["updated_at"] != before {
		t.Fatalf("empty patch: %d %s", resp.StatusCode, b)
	}
}

func TestTags(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.Rules.TagQuota = 2; o.Authenticate = tokenAuth })
	id := e.create(`{"name": "t", "tags": ["alpha"], "visibility": "public"}`)["id"].(string)
	const missing = "00000000-0000-0000-0000-000000000000"
	for _, tc := range []struct {
		method, path string
		hdr          map[string]string
		status       int
		msg          string
	}{
		{"PUT", id + "/tags/gamma", nil, 204, ""},                                    // #45
		{"PUT", id + "/tags/gamma", nil, 204, ""},                                    // idempotent
		{"PUT", id + "/tags/a%2Fb", nil, 413, "Image tag limit exceeded"},            // quota 2
		{"DELETE", id + "/tags/alpha", nil, 204, ""},                                 // #46
		{"DELETE", id + "/tags/alpha", nil, 404, "The resource could not be found."}, // #47
		{"PUT", id + "/tags/a%2Fb", nil, 204, ""},
		{"PUT", id + "/tags/" + strings.Repeat("x", 256), nil, 400, "is too long"},
		{"PUT", missing + "/tags/x", nil, 404, "Image " + missing + " not found."},
		{"DELETE", missing + "/tags/x", nil, 404, "Image " + missing + " not found."},
		{"PUT", id + "/tags/x", map[string]string{"X-Auth-Token": "bob:proj-b:member"}, 403, "Not allowed to update tags"},
		{"DELETE", id + "/tags/gamma", map[string]string{"X-Auth-Token": "bob:proj-b:member"}, 403, "Not allowed to delete tags"},
	} {
		resp, b := e.do(tc.method, "/v2/images/"+tc.path, nil, tc.hdr)
		if resp.StatusCode != tc.status || !strings.Contains(string(b), tc.msg) {
			t.Fatalf("%s %s: %d %s", tc.method, tc.path, resp.StatusCode, b)
		}
		if tc.status == 204 && (resp.Header.Get("Content-Type") != "text/html; charset=UTF-8" || len(b) != 0) {
			t.Fatalf("%s %s: 204 headers %v", tc.method, tc.path, resp.Header)
		}
	}
	if tags := fmt.Sprint(e.show(id)["tags"]); tags != "[a/b gamma]" {
		t.Fatalf("tags %s", tags)
	}
}

func TestDeactivateReactivate(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.Authenticate = tokenAuth })
	id := e.active(`{"name": "d", "disk_format": "raw", "container_format": "bare", "owner": "proj-a"}`)
	queued := e.create(`{"name": "q"}`)["id"].(string)
	act := func(id, action string, hdr map[string]string) (*http.Response, []byte) {
		return e.do("POST", "/v2/images/"+id+"/actions/"+action, nil, hdr)
	}
	asAlice := map[string]string{"X-Auth-Token": alice}
	for _, tc := range []struct {
		id, action string
		hdr        map[string]string
		status     int
		msg        string
		after      string
	}{
		{queued, "deactivate", nil, 403, "Not allowed to deactivate image in status &#x27;queued&#x27;", "queued"},
		{queued, "reactivate", nil, 403, "Not allowed to reactivate image in status &#x27;queued&#x27;", "queued"},
		{id, "reactivate", asAlice, 204, "", "active"},      // already active: no-op
		{id, "deactivate", asAlice, 204, "", "deactivated"}, // #77
		{id, "deactivate", nil, 204, "", "deactivated"},     // #78 idempotent
		// #76: another project cannot see the shared image.
		{id, "deactivate", map[string]string{"X-Auth-Token": "bob:proj-b:member"}, 404, "No image found with ID", "deactivated"},
		{id, "reactivate", map[string]string{"X-Auth-Token": "carol:proj-a:reader"}, 403, "You are not authorized to complete reactivate action.", "deactivated"},
		{"00000000-0000-0000-0000-000000000000", "deactivate", nil, 404, "No image found with ID", ""},
	} {
		resp, b := act(tc.id, tc.action, tc.hdr)
		if resp.StatusCode != tc.status || !strings.Contains(string(b), tc.msg) {
			t.Fatalf("%s %s: %d %s", tc.action, tc.id, resp.StatusCode, b)
		}
		if tc.after != "" && e.status(tc.id) != tc.after {
			t.Fatalf("%s %s: status %s, want %s", tc.action, tc.id, e.status(tc.id), tc.after)
		}
	}
	if resp, _ := e.do("POST", "/v2/images/"+id+"/actions/deactivate", strings.NewReader("{}"), nil); resp.StatusCode != 400 {
		t.Fatalf("body on an action: %d", resp.StatusCode)
	}
	// #80, #81: data of a deactivated image.
	resp, b := e.do("GET", "/v2/images/"+id+"/file", nil, asAlice)
	if resp.StatusCode != 403 || !strings.Contains(string(b), "The requested image has been deactivated. Image data download is forbidden.") {
		t.Fatalf("#80: %d %s", resp.StatusCode, b)
	}
	if resp, b := e.do("GET", "/v2/images/"+id+"/file", nil, nil); resp.StatusCode != 200 || string(b) != data64 {
		t.Fatalf("#81: %d", resp.StatusCode)
	}
	// #82.
	if resp, _ := act(id, "reactivate", asAlice); resp.StatusCode != 204 || e.status(id) != "active" {
		t.Fatalf("#82: %d %s", resp.StatusCode, e.status(id))
	}
	if resp, _ := e.do("GET", "/v2/images/"+id+"/actions/deactivate", nil, nil); resp.StatusCode != 405 || resp.Header.Get("Allow") != "POST" {
		t.Fatalf("GET on an action: %d %q", resp.StatusCode, resp.Header.Get("Allow"))
	}
}

func TestVersionNegotiation(t *testing.T) {
	e := newEnv(t)
	id := e.createRaw()
	for _, tc := range []struct {
		path, accept string
		status       int
	}{
		{"/v2/images/" + id, "", 200},
		{"/v2.3/images/" + id, "", 200},
		{"/v2.0/images/" + id, "", 200},
		{"/images/" + id, "application/vnd.openstack.images-v2.1", 200},
		{"/images/" + id, "application/vnd.openstack.images-v2", 200},
		{"/images/" + id, "application/vnd.openstack.images-v3.0", 300},
		{"/v2/images/" + id, "application/vnd.openstack.images-v2.1", 404}, // → /v2/v2/images
		{"/images/" + id, "", 300},
		{"/v3/images", "", 300},
		{"/v2.99/images", "", 300},
		{"/v2.01/images", "", 300},
		{"/v2/", "", 404},
		{"/versions", "", 200},
		{"/", "", 300},
	} {
		h := map[string]string{}
		if tc.accept != "" {
			h["Accept"] = tc.accept
		}
		resp, b := e.do("GET", tc.path, nil, h)
		if resp.StatusCode != tc.status {
			t.Errorf("%s (Accept %q): %d, want %d", tc.path, tc.accept, resp.StatusCode, tc.status)
		}
		if tc.status == 300 && !strings.Contains(string(b), `"versions"`) {
			t.Errorf("%s: not the versions document", tc.path)
		}
	}
}

func TestConditionalDownload(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.CacheControl = "public, max-age=31536000, immutable" })
	id := e.active(`{"name": "c", "disk_format": "raw", "container_format": "bare"}`)
	etag := `"` + md5of64 + `"`
	for _, tc := range []struct {
		name   string
		hdr    map[string]string
		status int
		body   string
	}{
		{"plain", nil, 200, data64},
		{"if-none-match hit", map[string]string{"If-None-Match": etag}, 304, ""},
		{"if-none-match list and weak", map[string]string{"If-None-Match": `"x", W/` + etag}, 304, ""},
		{"if-none-match star", map[string]string{"If-None-Match": "*"}, 304, ""},
		{"if-none-match miss", map[string]string{"If-None-Match": `"other"`}, 200, data64},
		{"if-range match", map[string]string{"Range": "bytes=10-19", "If-Range": etag}, 206, data64[10:20]},
		{"if-range other etag", map[string]string{"Range": "bytes=10-19", "If-Range": `"other"`}, 200, data64},
		{"if-range weak", map[string]string{"Range": "bytes=10-19", "If-Range": "W/" + etag}, 200, data64},
		{"if-range date", map[string]string{"Range": "bytes=10-19", "If-Range": "Thu, 26 Nov 2026 11:44:45 GMT"}, 200, data64},
		{"if-none-match beats range", map[string]string{"Range": "bytes=0-1", "If-None-Match": etag}, 304, ""},
		{"body on GET", map[string]string{"Content-Length": "2"}, 400, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var body *strings.Reader
			if tc.status == 400 {
				body = strings.NewReader("{}")
			}
			var resp *http.Response
			var b []byte
			if body != nil {
				resp, b = e.do("GET", "/v2/images/"+id+"/file", body, tc.hdr)
			} else {
				resp, b = e.do("GET", "/v2/images/"+id+"/file", nil, tc.hdr)
			}
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.status, b)
			}
			if tc.status == 400 {
				if !strings.Contains(string(b), "A body is not expected with this request.") {
					t.Fatalf("body %s", b)
				}
				return
			}
			if string(b) != tc.body {
				t.Fatalf("body %q, want %q", b, tc.body)
			}
			if resp.Header.Get("ETag") != etag || resp.Header.Get("Cache-Control") != "public, max-age=31536000, immutable" {
				t.Fatalf("validators: %v", resp.Header)
			}
		})
	}
	// Body refused on show and delete too (body_reject routes).
	for _, m := range []string{"GET", "DELETE"} {
		if resp, _ := e.do(m, "/v2/images/"+id, strings.NewReader("x"), nil); resp.StatusCode != 400 {
			t.Errorf("%s with a body: %d", m, resp.StatusCode)
		}
	}
}

func TestStorageQuota(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.StorageQuota = 100; o.Authenticate = tokenAuth })
	as := map[string]string{"X-Auth-Token": alice}
	mk := func() string {
		resp, b := e.do("POST", "/v2/images", strings.NewReader(`{"name": "s", "disk_format": "raw", "container_format": "bare"}`), as)
		if resp.StatusCode != 201 {
			t.Fatalf("create: %d %s", resp.StatusCode, b)
		}
		return decode(t, b)["id"].(string)
	}
	first := mk()
	if resp, b := e.upload(first, []byte(data64), as); resp.StatusCode != 204 {
		t.Fatalf("first upload: %d %s", resp.StatusCode, b)
	}
	second := mk()
	resp, b := e.upload(second, []byte(data64), as)
	if resp.StatusCode != 413 || !strings.Contains(string(b), "storage quota") || !strings.Contains(string(b), "36 bytes remaining") {
		t.Fatalf("second upload: %d %s", resp.StatusCode, b)
	}
	if e.status(second) != "queued" {
		t.Fatalf("status after refusal: %s", e.status(second))
	}
	// Chunked: the quota stops the stream.
	req, _ := http.NewRequest("PUT", e.srv.URL+"/v2/images/"+second+"/file", struct{ *bytes.Reader }{bytes.NewReader([]byte(data64))})
	req.Header.Set("Content-Type", "application/octet-stream")
	req.Header.Set("X-Auth-Token", alice)
	r2, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	r2.Body.Close()
	if r2.StatusCode != 413 || e.status(second) != "queued" {
		t.Fatalf("chunked upload over quota: %d %s", r2.StatusCode, e.status(second))
	}
	// Another project is not affected; deleting frees the room.
	if resp, _ := e.do("DELETE", "/v2/images/"+first, nil, as); resp.StatusCode != 204 {
		t.Fatal("delete")
	}
	if resp, b := e.upload(second, []byte(data64), as); resp.StatusCode != 204 {
		t.Fatalf("upload after delete: %d %s", resp.StatusCode, b)
	}
}

func TestLocations(t *testing.T) {
	e := newEnv(t, func(o *Options) {
		o.ShowMultipleLocations, o.ShowImageDirectURL, o.LocationQuota = true, true, 2
		o.Authenticate = tokenAuth
	})
	src := e.active(`{"name": "src", "disk_format": "raw", "container_format": "bare"}`)
	srcImg := e.show(src)
	url := "mem://fast/" + src
	if fmt.Sprint(srcImg["locations"]) != "[map[metadata:map[kind:mem store:fast] url:"+url+"]]" || srcImg["direct_url"] != url {
		t.Fatalf("locations %v direct_url %v", srcImg["locations"], srcImg["direct_url"])
	}
	// A second copy in the other store, to add as a location.
	other := e.create(`{"name": "o", "disk_format": "raw", "container_format": "bare"}`)["id"].(string)
	e.upload(other, []byte(data64), map[string]string{"X-Image-Meta-Store": "cheap"})
	otherURL := "mem://cheap/" + other

	dst := e.create(`{"name": "dst", "disk_format": "raw", "container_format": "bare"}`)["id"].(string)
	if l := e.show(dst)["locations"]; fmt.Sprint(l) != "[]" {
		t.Fatalf("queued image locations %v", l)
	}
	p21 := image.PatchMediaType21
	add := func(u string) string {
		return `[{"op": "add", "path": "/locations/-", "value": {"url": "` + u + `", "metadata": {}, "validation_data": {"os_hash_algo": "sha512", "os_hash_value": "` + sha512of64 + `", "checksum": "` + md5of64 + `"}}}]`
	}
	for _, tc := range []struct {
		name, body string
		status     int
		msg        string
	}{
		{"remove on queued", `[{"op": "remove", "path": "/locations/0"}]`, 409, "It&#x27;s not allowed to remove locations if image status is queued."},
		{"unknown url", add("mem://fast/nothing"), 400, "The Store URI was malformed"},
		{"add activates", add(url), 200, ""},
		{"duplicate", add(url), 400, "already exists"},
		{"second", add(otherURL), 200, ""},
		{"quota", add("mem://fast/x"), 413, "The limit has been exceeded on the number of allowed image locations. Attempted: 3, Maximum: 2"},
		{"bad position", `[{"op": "remove", "path": "/locations/7"}]`, 400, "Invalid position for removing a location."},
		{"remove first", `[{"op": "remove", "path": "/locations/0"}]`, 200, ""},
		{"remove last", `[{"op": "remove", "path": "/locations/0"}]`, 403, "Cannot remove last location in the image."},
	} {
		resp, b := e.patch(dst, p21, tc.body)
		if resp.StatusCode != tc.status || !strings.Contains(string(b), tc.msg) {
			t.Fatalf("%s: %d %s", tc.name, resp.StatusCode, b)
		}
	}
	got := e.show(dst)
	checkFields(t, "dst", got, map[string]any{"status": "active", "size": json.Number("64"), "checksum": md5of64, "direct_url": otherURL})
	// The data of the removed location went with it (Glance deletes it).
	if e.mem.has(url) {
		t.Error("data of a removed location kept")
	}
	if resp, b := e.do("GET", "/v2/images/"+dst+"/file", nil, nil); resp.StatusCode != 200 || string(b) != data64 {
		t.Fatalf("download via the added location: %d", resp.StatusCode)
	}

	// The 2.17 API.
	q := e.create(`{"name": "q", "disk_format": "raw", "container_format": "bare", "owner": "proj-a"}`)["id"].(string)
	post := func(id, body string, hdr map[string]string) (*http.Response, []byte) {
		return e.do("POST", "/v2/images/"+id+"/locations", strings.NewReader(body), hdr)
	}
	if resp, b := post(q, `{"url": "`+otherURL+`"}`, map[string]string{"X-Auth-Token": alice}); resp.StatusCode != 403 {
		t.Fatalf("POST locations as member: %d %s", resp.StatusCode, b)
	}
	if resp, b := post(q, `{"url": "`+otherURL+`"}`, map[string]string{"X-Auth-Token": "nova:proj-a:service"}); resp.StatusCode != 202 || len(b) != 0 {
		t.Fatalf("POST locations as service: %d %s", resp.StatusCode, b)
	}
	if e.status(q) != "active" {
		t.Fatalf("status after POST locations: %s", e.status(q))
	}
	if resp, b := post(q, `{"url": "`+otherURL+`"}`, nil); resp.StatusCode != 409 || !strings.Contains(string(b), "image status is active") {
		t.Fatalf("POST locations on active: %d %s", resp.StatusCode, b)
	}
	if resp, _ := post("00000000-0000-0000-0000-000000000000", `{"url": "x"}`, nil); resp.StatusCode != 404 {
		t.Fatalf("POST locations, unknown image: %d", resp.StatusCode)
	}
	if resp, _ := post(q, `{"nourl": 1}`, nil); resp.StatusCode != 400 {
		t.Fatalf("POST locations without url: %d", resp.StatusCode)
	}
	resp, b := e.do("GET", "/v2/images/"+q+"/locations", nil, nil)
	if resp.StatusCode != 200 || string(b) != `[{"url": "`+otherURL+`", "metadata": {"store": "cheap"}}]` {
		t.Fatalf("GET locations: %d %s", resp.StatusCode, b)
	}
	if resp, _ := e.do("GET", "/v2/images/"+q+"/locations", nil, map[string]string{"X-Auth-Token": alice}); resp.StatusCode != 403 {
		t.Fatalf("GET locations as member: %d", resp.StatusCode)
	}
	if resp, _ := e.do("GET", "/v2/images/00000000-0000-0000-0000-000000000000/locations", nil, nil); resp.StatusCode != 404 {
		t.Fatalf("GET locations, unknown image: %d", resp.StatusCode)
	}

	// Off by default: no locations, no direct_url.
	plain := newEnv(t)
	pid := plain.active(`{"name": "p", "disk_format": "raw", "container_format": "bare"}`)
	img := plain.show(pid)
	for _, k := range []string{"locations", "direct_url"} {
		if _, ok := img[k]; ok {
			t.Errorf("%s shown by default", k)
		}
	}
}

// TestUnauthenticated: every route of this slice answers 401 to a caller
// the auth layer refuses, before looking at the image.
func TestUnauthenticated(t *testing.T) {
	e := newEnv(t, func(o *Options) {
		o.Authenticate = func(*http.Request) (Identity, error) {
			return Identity{}, fmt.Errorf("no token: %w", ErrUnauthenticated)
		}
	})
	const id = "00000000-0000-0000-0000-000000000000"
	for _, r := range []struct{ method, path string }{
		{"PATCH", "/v2/images/" + id}, {"PUT", "/v2/images/" + id + "/tags/x"}, {"DELETE", "/v2/images/" + id + "/tags/x"},
		{"POST", "/v2/images/" + id + "/actions/deactivate"}, {"POST", "/v2/images/" + id + "/actions/reactivate"},
		{"POST", "/v2/images/" + id + "/locations"}, {"GET", "/v2/images/" + id + "/locations"}, {"GET", "/v2/schemas/image"},
	} {
		if resp, _ := e.do(r.method, r.path, nil, nil); resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("%s %s: %d", r.method, r.path, resp.StatusCode)
		}
	}
}

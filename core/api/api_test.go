package api

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha512"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/glance-go/glance/core/registry"
	"github.com/glance-go/glance/sdk/store"
)

// data64 is the transcript's test image.
const data64 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz-\n"

const (
	md5of64    = "cf9084a56845b3330ac46ccd96e8047f"
	sha512of64 = "89e6bfc7df84aa74d4733ac84fe35e72880c6831892f51c65996a02d922679fecb8051a58e9e33e348ed4c3f0156fd3c3b8cbf09b89600055ac196c1ecc30026"
)

var reqIDRe = regexp.MustCompile(`^req-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

type env struct {
	t    *testing.T
	srv  *httptest.Server
	reg  *registry.DB
	mem  *memStore // "fast", the default: streams through Get
	disk fileStore // "cheap": a LocalFiler
}

func newEnv(t *testing.T, mutate ...func(*Options)) *env {
	t.Helper()
	ctx := context.Background()
	reg, err := registry.Open(ctx, registry.DriverSQLite, filepath.Join(t.TempDir(), "glance.db"), registry.OpenOptions{AutoMigrate: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { reg.Close() })
	e := &env{t: t, reg: reg, mem: newMemStore("fast", ""), disk: fileStore{newMemStore("cheap", t.TempDir())}}
	o := Options{
		Registry: reg,
		Stores:   &testStores{def: "fast", m: map[string]store.Backend{"fast": e.mem, "cheap": e.disk}},
		Logger:   hclog.New(&hclog.LoggerOptions{Level: hclog.Warn, Output: testLogOutput()}),
	}
	for _, m := range mutate {
		m(&o)
	}
	e.srv = httptest.NewServer(New(o))
	t.Cleanup(e.srv.Close)
	return e
}

func (e *env) do(method, path string, body io.Reader, hdr map[string]string) (*http.Response, []byte) {
	e.t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path, body)
	if err != nil {
		e.t.Fatal(err)
	}
	for k, v := range hdr {
		if k == "Content-Length" {
			fmt.Sscan(v, &req.ContentLength)
			continue
		}
		req.Header.Set(k, v)
	}
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatalf("%s %s: reading body: %v", method, path, err)
	}
	if !reqIDRe.MatchString(resp.Header.Get("X-Openstack-Request-Id")) {
		e.t.Errorf("%s %s: x-openstack-request-id %q", method, path, resp.Header.Get("X-Openstack-Request-Id"))
	}
	return resp, b
}

func decode(t *testing.T, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("not a JSON object: %v\n%s", err, b)
	}
	return m
}

func (e *env) create(body string) map[string]any {
	e.t.Helper()
	resp, b := e.do("POST", "/v2/images", strings.NewReader(body), map[string]string{"Content-Type": "application/json"})
	if resp.StatusCode != http.StatusCreated {
		e.t.Fatalf("create: %d %s", resp.StatusCode, b)
	}
	return decode(e.t, b)
}

func (e *env) createRaw() string {
	return e.create(`{"name": "x", "disk_format": "raw", "container_format": "bare"}`)["id"].(string)
}

func (e *env) upload(id string, data []byte, hdr map[string]string) (*http.Response, []byte) {
	h := map[string]string{"Content-Type": "application/octet-stream"}
	for k, v := range hdr {
		h[k] = v
	}
	return e.do("PUT", "/v2/images/"+id+"/file", bytes.NewReader(data), h)
}

func (e *env) status(id string) string {
	e.t.Helper()
	resp, b := e.do("GET", "/v2/images/"+id, nil, nil)
	if resp.StatusCode != http.StatusOK {
		e.t.Fatalf("show %s: %d", id, resp.StatusCode)
	}
	return decode(e.t, b)["status"].(string)
}

func TestVersionsHealthcheck(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct {
		path   string
		status int
	}{{"/", 300}, {"/versions", 200}, {"/v2.99/images", 300}} {
		resp, b := e.do("GET", tc.path, nil, nil)
		if resp.StatusCode != tc.status || resp.Header.Get("Content-Type") != "application/json" {
			t.Fatalf("%s: %d %s", tc.path, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		want := fmt.Sprintf(`{"versions": [{"id": "v2.9", "status": "CURRENT", "links": [{"rel": "self", "href": "%s/v2/"}]}, {"id": "v2.8", "status": "SUPPORTED"`, e.srv.URL)
		if !strings.HasPrefix(string(b), want) || !strings.HasSuffix(string(b), `{"id": "v2.0", "status": "SUPPORTED", "links": [{"rel": "self", "href": "`+e.srv.URL+`/v2/"}]}]}`) {
			t.Fatalf("%s body:\n%s", tc.path, b)
		}
	}
	pub := newEnv(t, func(o *Options) { o.PublicEndpoint = "https://glance.example.com/" })
	if _, b := pub.do("GET", "/versions", nil, nil); !strings.Contains(string(b), `"href": "https://glance.example.com/v2/"`) {
		t.Fatalf("public endpoint not used: %s", b)
	}
	resp, b := e.do("GET", "/healthcheck", nil, nil)
	if resp.StatusCode != 200 || string(b) != "OK" || resp.Header.Get("Content-Type") != "text/plain; charset=UTF-8" {
		t.Fatalf("healthcheck: %d %q", resp.StatusCode, b)
	}
	client := *e.srv.Client()
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	r2, err := client.Get(e.srv.URL + "/v2")
	if err != nil {
		t.Fatal(err)
	}
	r2.Body.Close()
	if r2.StatusCode != http.StatusFound || r2.Header.Get("Location") != e.srv.URL+"/v2/" {
		t.Fatalf("/v2: %d %s", r2.StatusCode, r2.Header.Get("Location"))
	}
	// A versioned prefix reaches the same routes.
	id := e.createRaw()
	if resp, _ := e.do("GET", "/v2.1/images/"+id, nil, nil); resp.StatusCode != 200 {
		t.Fatalf("/v2.1/images/{id}: %d", resp.StatusCode)
	}
}

// baseOrder is the order of the base keys in Glance's image JSON.
var baseOrder = []string{"name", "disk_format", "container_format", "visibility", "size", "virtual_size", "status", "checksum",
	"protected", "min_ram", "min_disk", "owner", "os_hidden", "os_hash_algo", "os_hash_value", "id", "created_at", "updated_at",
	"tags", "self", "file", "schema"}

// keyOrder returns the top-level keys of a JSON object in order.
func keyOrder(t *testing.T, b []byte) []string {
	dec := json.NewDecoder(bytes.NewReader(b))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("not an object: %s", b)
	}
	var keys []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, tok.(string))
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			t.Fatal(err)
		}
	}
	return keys
}

func TestCreateShowMatchTranscript(t *testing.T) {
	e := newEnv(t)
	// Exchange #15.
	resp, b := e.do("POST", "/v2/images", strings.NewReader(`{"name": "tx-1", "disk_format": "raw", "container_format": "bare",
		"visibility": "private", "tags": ["alpha"], "min_ram": 0, "os_distro": "cirros", "custom_prop": "v1"}`),
		map[string]string{"Content-Type": "application/json"})
	if resp.StatusCode != http.StatusCreated || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("create: %d %s\n%s", resp.StatusCode, resp.Header.Get("Content-Type"), b)
	}
	got := decode(t, b)
	id := got["id"].(string)
	if resp.Header.Get("Location") != e.srv.URL+"/v2/images/"+id {
		t.Errorf("Location %q", resp.Header.Get("Location"))
	}
	if resp.Header.Get("OpenStack-image-store-ids") != "cheap,fast" {
		t.Errorf("OpenStack-image-store-ids %q", resp.Header.Get("OpenStack-image-store-ids"))
	}
	want := map[string]any{
		"os_distro": "cirros", "custom_prop": "v1", "name": "tx-1", "disk_format": "raw", "container_format": "bare",
		"visibility": "private", "size": nil, "virtual_size": nil, "status": "queued", "checksum": nil, "protected": false,
		"min_ram": json.Number("0"), "min_disk": json.Number("0"), "owner": "admin", "os_hidden": false, "os_hash_algo": nil,
		"os_hash_value": nil, "tags": []any{"alpha"}, "self": "/v2/images/" + id, "file": "/v2/images/" + id + "/file",
		"schema": "/v2/schemas/image",
	}
	checkFields(t, "create", got, want)
	if keys := keyOrder(t, b); fmt.Sprint(keys[2:]) != fmt.Sprint(baseOrder) || fmt.Sprint(keys[:2]) != "[custom_prop os_distro]" {
		t.Errorf("key order %v", keys)
	}
	if !strings.Contains(string(b), `"name": "tx-1", "disk_format": "raw"`) {
		t.Errorf("not Python's separators: %s", b)
	}
	// Exchange #16: show gives the same body.
	resp, b2 := e.do("GET", "/v2/images/"+id, nil, nil)
	if resp.StatusCode != 200 || string(b2) != string(b) {
		t.Fatalf("show: %d\n%s\nwant\n%s", resp.StatusCode, b2, b)
	}
	// Exchange #35: defaults, and Content-Type is ignored.
	resp, b = e.do("POST", "/v2/images", strings.NewReader(`{"name": "no-ctype"}`), map[string]string{"Content-Type": "application/x-www-form-urlencoded"})
	if resp.StatusCode != 201 {
		t.Fatalf("create without json content type: %d", resp.StatusCode)
	}
	checkFields(t, "defaults", decode(t, b), map[string]any{"visibility": "shared", "disk_format": nil, "container_format": nil, "tags": []any{}, "protected": false})
}

func checkFields(t *testing.T, what string, got, want map[string]any) {
	t.Helper()
	for k, w := range want {
		g, ok := got[k]
		if !ok {
			t.Errorf("%s: key %q missing", what, k)
			continue
		}
		if fmt.Sprintf("%#v", g) != fmt.Sprintf("%#v", w) {
			t.Errorf("%s: %s = %#v, want %#v", what, k, g, w)
		}
	}
	for _, k := range []string{"created_at", "updated_at"} {
		if s, _ := got[k].(string); !regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$`).MatchString(s) {
			t.Errorf("%s: %s = %v", what, k, got[k])
		}
	}
}

func TestCreateErrors(t *testing.T) {
	e := newEnv(t)
	existing := e.createRaw()
	long := strings.Repeat("n", 256)
	tests := []struct {
		name, body string
		status     int
		message    string
	}{
		{"invalid disk_format", `{"name": "bad", "disk_format": "floppy"}`, 400, "Provided object does not match schema 'image': 'floppy' is not one of [None, 'ami', 'ari', 'aki', 'vhd', 'vhdx', 'vmdk', 'raw', 'qcow2', 'vdi', 'iso', 'ploop']"},
		{"invalid container_format", `{"container_format": "tar"}`, 400, "is not one of"},
		{"read-only status", `{"name": "bad", "status": "active"}`, 403, "Attribute 'status' is read-only."},
		{"read-only checksum", `{"checksum": "x"}`, 403, "read-only"},
		{"read-only size", `{"size": 5}`, 403, "read-only"},
		{"disallowed self", `{"self": "/x"}`, 403, "Attribute 'self' is read-only."},
		{"duplicate id", `{"id": "` + existing + `", "name": "dup"}`, 409, "Image ID " + existing + " already exists!"},
		{"id not a uuid", `{"id": "abc"}`, 400, "does not match"},
		{"name too long", `{"name": "` + long + `"}`, 400, "is too long"},
		{"negative min_ram", `{"min_ram": -1}`, 400, "Cannot be a negative value"},
		{"min_disk not an integer", `{"min_disk": "1"}`, 400, "is not of type 'integer'"},
		{"min_disk a float", `{"min_disk": 1.5}`, 400, "is not of type"},
		{"bad visibility", `{"visibility": "everyone"}`, 400, "is not one of ['community', 'public', 'private', 'shared']"},
		{"protected not bool", `{"protected": "yes"}`, 400, "boolean"},
		{"reserved os_glance_", `{"os_glance_import_task": "x"}`, 403, "Attribute 'os_glance_import_task' is reserved."},
		{"reserved deleted", `{"deleted": "x"}`, 403, "is reserved"},
		{"reserved locations", `{"locations": []}`, 403, "is reserved"},
		{"non-string property", `{"hw_disk_bus": 5}`, 400, "5 is not of type 'string'"},
		{"tags not an array", `{"tags": "a"}`, 400, "is not of type 'array'"},
		{"body is an array", `[1, 2]`, 400, "is not of type 'object'"},
		{"body not JSON", `{"name": `, 400, "Malformed JSON in request body."},
		{"empty body", ``, 400, "Body expected in request."},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, b := e.do("POST", "/v2/images", strings.NewReader(tc.body), map[string]string{"Content-Type": "application/json", "Accept": "application/json"})
			if resp.StatusCode != tc.status || !strings.Contains(string(b), tc.message) {
				t.Fatalf("status %d, want %d; body:\n%s\nwant it to contain %q", resp.StatusCode, tc.status, b, tc.message)
			}
		})
	}
}

func TestErrorBodies(t *testing.T) {
	e := newEnv(t)
	const id = "00000000-0000-0000-0000-000000000000"
	// Exchange #36, byte for byte.
	resp, b := e.do("GET", "/v2/images/"+id, nil, nil)
	wantHTML := "<html>\n <head>\n  <title>404 Not Found</title>\n </head>\n <body>\n  <h1>404 Not Found</h1>\n  No image found with ID " + id + "<br /><br />\n\n\n\n </body>\n</html>"
	if resp.StatusCode != 404 || string(b) != wantHTML || resp.Header.Get("Content-Type") != "text/html; charset=UTF-8" || len(b) != 181 {
		t.Fatalf("404 html: %d %q (%d bytes)", resp.StatusCode, b, len(b))
	}
	// Exchange #37.
	resp, b = e.do("GET", "/v2/images/"+id, nil, map[string]string{"Accept": "application/json"})
	wantJSON := `{"message": "No image found with ID ` + id + `<br /><br />\n\n\n", "code": "404 Not Found", "title": "Not Found"}`
	if resp.StatusCode != 404 || string(b) != wantJSON || resp.Header.Get("Content-Type") != "application/json" || len(b) != 139 {
		t.Fatalf("404 json: %d %s (%d bytes)", resp.StatusCode, b, len(b))
	}
	resp, b = e.do("GET", "/v2/images/"+id, nil, map[string]string{"Accept": "text/plain"})
	if resp.StatusCode != 404 || !strings.HasPrefix(string(b), "404 Not Found\n\nNo image found") {
		t.Fatalf("404 plain: %q", b)
	}
	// Unknown route, wrong method.
	if resp, _ := e.do("GET", "/v2/nothing", nil, nil); resp.StatusCode != 404 {
		t.Fatalf("unknown route: %d", resp.StatusCode)
	}
	if resp, _ := e.do("GET", "/v2/", nil, nil); resp.StatusCode != 404 {
		t.Fatalf("/v2/: %d", resp.StatusCode)
	}
	resp, b = e.do("PUT", "/v2/images", nil, nil)
	if resp.StatusCode != 405 || resp.Header.Get("Allow") != "GET, POST" || !strings.Contains(string(b), "The method PUT is not allowed for this resource.") {
		t.Fatalf("405: %d Allow=%q %s", resp.StatusCode, resp.Header.Get("Allow"), b)
	}
	if resp, _ := e.do("HEAD", "/v2/images", nil, nil); resp.StatusCode != 405 {
		t.Fatalf("HEAD /v2/images: %d", resp.StatusCode)
	}
	// Request ids: a fresh one on every response; too long → 431.
	r1, _ := e.do("GET", "/v2/images", nil, map[string]string{"X-Openstack-Request-Id": "req-" + "0123456789abcdef0123456789abcdef0123"})
	if r1.StatusCode != 200 {
		t.Fatalf("valid inbound request id: %d", r1.StatusCode)
	}
	resp, _ = e.do("GET", "/v2/images", nil, map[string]string{"X-Openstack-Request-Id": strings.Repeat("x", 65)})
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Fatalf("long request id: %d", resp.StatusCode)
	}
}

func TestUploadDownloadRoundTrip(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct {
		name, store string
		data        []byte
	}{
		{"transcript-64B-mem", "", []byte(data64)},
		{"transcript-64B-localfile", "cheap", []byte(data64)},
		{"3MiB-mem", "", randomBytes(3<<20+17, 1)},
		{"3MiB-localfile", "cheap", randomBytes(3<<20+17, 2)},
		{"empty", "", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id := e.createRaw()
			if resp, _ := e.do("GET", "/v2/images/"+id+"/file", nil, nil); resp.StatusCode != 204 || resp.Header.Get("Content-Type") != "" {
				t.Fatalf("download before upload: %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
			}
			hdr := map[string]string{}
			if tc.store != "" {
				hdr["X-Image-Meta-Store"] = tc.store
			}
			resp, b := e.upload(id, tc.data, hdr)
			if resp.StatusCode != 204 || len(b) != 0 || resp.Header.Get("Content-Type") != "text/html; charset=UTF-8" {
				t.Fatalf("upload: %d %q %s", resp.StatusCode, resp.Header.Get("Content-Type"), b)
			}
			md := md5.Sum(tc.data)
			sh := sha512.Sum512(tc.data)
			_, b = e.do("GET", "/v2/images/"+id, nil, nil)
			img := decode(t, b)
			wantStore := "fast"
			if tc.store != "" {
				wantStore = tc.store
			}
			checkFields(t, "active", img, map[string]any{
				"status": "active", "size": json.Number(fmt.Sprint(len(tc.data))), "virtual_size": json.Number(fmt.Sprint(len(tc.data))),
				"checksum": hex.EncodeToString(md[:]), "os_hash_algo": "sha512", "os_hash_value": hex.EncodeToString(sh[:]), "stores": wantStore,
			})
			if len(tc.data) == 64 && (img["checksum"] != md5of64 || img["os_hash_value"] != sha512of64) {
				t.Fatalf("transcript checksums differ: %v %v", img["checksum"], img["os_hash_value"])
			}
			getsBefore := e.disk.getCalls()
			resp, body := e.do("GET", "/v2/images/"+id+"/file", nil, nil)
			if resp.StatusCode != 200 || !bytes.Equal(body, tc.data) {
				t.Fatalf("download: %d, %d bytes (want %d)", resp.StatusCode, len(body), len(tc.data))
			}
			for k, v := range map[string]string{
				"Content-Type": "application/octet-stream", "Content-MD5": hex.EncodeToString(md[:]),
				"ETag": `"` + hex.EncodeToString(md[:]) + `"`, "Content-Length": fmt.Sprint(len(tc.data)),
			} {
				if resp.Header.Get(k) != v {
					t.Errorf("%s = %q, want %q", k, resp.Header.Get(k), v)
				}
			}
			if tc.store == "cheap" && e.disk.getCalls() != getsBefore {
				t.Errorf("the local file store was read through Get, not its file")
			}
		})
	}
}

func TestRanges(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.CacheControl = "no-cache" })
	for _, st := range []string{"fast", "cheap"} {
		id := e.createRaw()
		if resp, b := e.upload(id, []byte(data64), map[string]string{"X-Image-Meta-Store": st}); resp.StatusCode != 204 {
			t.Fatalf("upload: %d %s", resp.StatusCode, b)
		}
		tests := []struct {
			header, value string
			status        int
			body, crange  string
		}{
			{"Range", "bytes=10-19", 206, "ABCDEFGHIJ", "bytes 10-19/64"},
			{"Range", "bytes=-5", 206, "xyz-\n", "bytes 59-63/64"},
			{"Range", "bytes=60-", 206, "yz-\n", "bytes 60-63/64"},
			{"Range", "bytes=10-1000", 206, data64[10:], "bytes 10-63/64"},
			{"Range", "bytes=-100", 206, data64, "bytes 0-63/64"},
			{"Range", "bytes=63-63", 206, "\n", "bytes 63-63/64"},
			{"Range", "bytes=100-200", 416, "Invalid start position in Range header. Start position MUST be in the inclusive range [0, 63].", ""},
			{"Range", "bytes=64-", 416, "Invalid start position", ""},
			{"Range", "bytes=5-2", 416, "Invalid Range header.", ""},
			{"Range", "pages=1-2", 416, "Invalid Range header.", ""},
			{"Range", "bytes=0-1,5-6", 400, "Requests with multiple ranges are not supported in Glance. You may make multiple single-range requests instead.", ""},
			{"Content-Range", "bytes 1-3/64", 206, "123", "bytes 1-3/64"},
			{"Content-Range", "bytes 70-80/*", 416, "Invalid stop position", ""},
		}
		for _, tc := range tests {
			resp, b := e.do("GET", "/v2/images/"+id+"/file", nil, map[string]string{tc.header: tc.value})
			if resp.StatusCode != tc.status {
				t.Errorf("%s %s: %s: status %d, want %d (%s)", st, tc.header, tc.value, resp.StatusCode, tc.status, b)
				continue
			}
			if tc.status != 206 {
				if !strings.Contains(string(b), tc.body) {
					t.Errorf("%s %s: body %q lacks %q", st, tc.value, b, tc.body)
				}
				continue
			}
			if string(b) != tc.body || resp.Header.Get("Content-Range") != tc.crange || resp.Header.Get("Content-MD5") != md5of64 ||
				resp.Header.Get("Content-Length") != fmt.Sprint(len(tc.body)) || resp.Header.Get("Cache-Control") != "no-cache" {
				t.Errorf("%s %s: %q Content-Range %q Content-MD5 %q Content-Length %q Cache-Control %q", st, tc.value, b,
					resp.Header.Get("Content-Range"), resp.Header.Get("Content-MD5"), resp.Header.Get("Content-Length"), resp.Header.Get("Cache-Control"))
			}
		}
	}
	if e.mem.getCalls() == 0 {
		t.Error("the streaming store was never read")
	}
}

func TestParseRangeSuffixOnEmpty(t *testing.T) {
	if _, err := parseRange(http.Header{"Range": {"bytes=0-"}}, 0); err == nil || err.status != 416 {
		t.Fatalf("range on an empty image: %v", err)
	}
	r, err := parseRange(http.Header{}, 10)
	if err != nil || r.partial || r.length != 10 {
		t.Fatalf("no range: %+v %v", r, err)
	}
}

func TestUploadErrors(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.SizeCap = 1000 })
	id := e.createRaw()
	noFormats := e.create(`{"name": "noformats"}`)["id"].(string)
	diskOnly := e.create(`{"name": "d", "disk_format": "raw"}`)["id"].(string)

	tests := []struct {
		name   string
		id     string
		data   []byte
		hdr    map[string]string
		status int
		msg    string
	}{
		{"415 json", id, []byte("{}"), map[string]string{"Content-Type": "application/json"}, 415,
			"<h1>415 Unsupported Media Type</h1>\n  The request media type application/json is not supported by this server.\n<br /><br />\n\n </body>"},
		{"no formats", noFormats, []byte(data64), nil, 400, "Properties disk_format, container_format must be set prior to saving data."},
		{"no container format", diskOnly, []byte(data64), nil, 400, "Property container_format must be set prior to saving data."},
		{"size header not an integer", id, []byte(data64), map[string]string{"X-Openstack-Image-Size": "big"}, 400, "Invalid or missing image size in request headers."},
		{"size header mismatch", id, []byte(data64), map[string]string{"X-Openstack-Image-Size": "63"}, 400, "does not match"},
		{"content-length over the cap", id, make([]byte, 1001), nil, 413, "The incoming image is too large"},
		{"unknown store", id, []byte(data64), map[string]string{"X-Image-Meta-Store": "nope"}, 400, "Store for identifier nope not found"},
		{"unknown image", "00000000-0000-0000-0000-000000000000", []byte(data64), nil, 404, "No image found"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, b := e.upload(tc.id, tc.data, tc.hdr)
			if resp.StatusCode != tc.status || !strings.Contains(string(b), tc.msg) {
				t.Fatalf("status %d, want %d; body %q, want %q", resp.StatusCode, tc.status, b, tc.msg)
			}
		})
	}
	if st := e.status(id); st != "queued" {
		t.Fatalf("after refused uploads: %s", st)
	}
	if k := e.mem.keys(); len(k) != 0 {
		t.Fatalf("store holds %v", k)
	}

	// Chunked bodies: checked while streaming.
	chunked := func(data []byte, hdr map[string]string) (*http.Response, []byte) {
		h := map[string]string{"Content-Type": "application/octet-stream"}
		for k, v := range hdr {
			h[k] = v
		}
		return e.do("PUT", "/v2/images/"+id+"/file", io.MultiReader(bytes.NewReader(data)), h) // no length: chunked
	}
	resp, b := chunked(make([]byte, 5000), nil)
	if resp.StatusCode != 413 || !strings.Contains(string(b), "too large") {
		t.Fatalf("chunked over the cap: %d %s", resp.StatusCode, b)
	}
	resp, b = chunked([]byte(data64), map[string]string{"X-Openstack-Image-Size": "70"})
	if resp.StatusCode != 400 || !strings.Contains(string(b), "does not match") {
		t.Fatalf("chunked size mismatch: %d %s", resp.StatusCode, b)
	}
	if st := e.status(id); st != "queued" {
		t.Fatalf("after failed streams: %s", st)
	}
	if k := e.mem.keys(); len(k) != 0 {
		t.Fatalf("store holds %v after failed streams", k)
	}
	// A chunked upload with a matching size header works (exchange #28).
	resp, b = chunked([]byte(data64), map[string]string{"X-Openstack-Image-Size": "64"})
	if resp.StatusCode != 204 {
		t.Fatalf("chunked upload: %d %s", resp.StatusCode, b)
	}
	// Exchange #27: a second upload is refused.
	resp, b = e.upload(id, []byte(data64), nil)
	if resp.StatusCode != 409 || !strings.Contains(string(b), "Image status transition from active to saving is not allowed") {
		t.Fatalf("second upload: %d %s", resp.StatusCode, b)
	}
}

func TestStoreFailures(t *testing.T) {
	for _, tc := range []struct {
		err    error
		status int
		msg    string
	}{
		{store.ErrStorageFull, 413, "Image storage media is full"},
		{store.ErrUnavailable, 503, `Image store &quot;fast&quot; is unavailable`},
		{fmt.Errorf("plugin exited: %w", io.ErrUnexpectedEOF), 500, "Failed to upload image data to store"},
	} {
		t.Run(fmt.Sprint(tc.status), func(t *testing.T) {
			e := newEnv(t)
			e.mem.failAfter, e.mem.failErr = 100, tc.err
			id := e.createRaw()
			resp, b := e.upload(id, randomBytes(3<<20, 3), nil)
			if resp.StatusCode != tc.status || !strings.Contains(string(b), tc.msg) {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.status, b)
			}
			if st := e.status(id); st != "queued" {
				t.Fatalf("status after a store failure: %s", st)
			}
			if k := e.mem.keys(); len(k) != 0 {
				t.Fatalf("store holds %v", k)
			}
			// The image can be uploaded again once the store recovers.
			e.mem.failAfter = -1
			if resp, b := e.upload(id, []byte(data64), nil); resp.StatusCode != 204 {
				t.Fatalf("retry: %d %s", resp.StatusCode, b)
			}
		})
	}
}

// TestClientDisconnect: a client that sends half its body and closes leaves
// the image queued and nothing in the store.
func TestClientDisconnect(t *testing.T) {
	e := newEnv(t)
	id := e.createRaw()
	started := make(chan struct{}, 1)
	e.mem.putStarted = started
	conn, err := net.Dial("tcp", e.srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	const size = 4 << 20
	fmt.Fprintf(conn, "PUT /v2/images/%s/file HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\nContent-Length: %d\r\n\r\n", id, size)
	if _, err := conn.Write(randomBytes(size/2, 4)); err != nil {
		t.Fatal(err)
	}
	<-started
	waitFor(t, "the image to be saving", func() bool { return e.status(id) == "saving" })
	conn.Close()
	waitFor(t, "the image to be queued again", func() bool { return e.status(id) == "queued" })
	if k := e.mem.keys(); len(k) != 0 {
		t.Fatalf("store holds %v", k)
	}
	e.mem.putStarted = nil
	if resp, b := e.upload(id, []byte(data64), nil); resp.StatusCode != 204 {
		t.Fatalf("upload after the disconnect: %d %s", resp.StatusCode, b)
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestConcurrentUploads: two uploads race for one image; one wins, the other
// gets 409.
func TestConcurrentUploads(t *testing.T) {
	e := newEnv(t)
	id := e.createRaw()
	gate := make(chan struct{})
	started := make(chan struct{}, 2)
	e.mem.putGate, e.mem.putStarted = gate, started
	var wg sync.WaitGroup
	codes := make(chan int, 2)
	wg.Add(1)
	go func() {
		defer wg.Done()
		resp, _ := e.upload(id, []byte(data64), nil)
		codes <- resp.StatusCode
	}()
	<-started // the first upload holds the image in saving
	resp, b := e.upload(id, []byte(data64), nil)
	if resp.StatusCode != 409 || !strings.Contains(string(b), "Image status transition from saving to saving is not allowed") {
		t.Fatalf("second upload: %d %s", resp.StatusCode, b)
	}
	close(gate)
	wg.Wait()
	if c := <-codes; c != 204 {
		t.Fatalf("first upload: %d", c)
	}
}

// TestDeleteDuringUpload: the registry refuses to commit an upload of an
// image deleted meanwhile; the stored object is removed and the client gets
// 410.
func TestDeleteDuringUpload(t *testing.T) {
	e := newEnv(t)
	id := e.createRaw()
	gate := make(chan struct{})
	started := make(chan struct{}, 1)
	e.mem.putGate, e.mem.putStarted = gate, started
	done := make(chan *http.Response, 1)
	go func() {
		resp, _ := e.upload(id, []byte(data64), nil)
		done <- resp
	}()
	<-started
	if resp, b := e.do("DELETE", "/v2/images/"+id, nil, nil); resp.StatusCode != 204 {
		t.Fatalf("delete during upload: %d %s", resp.StatusCode, b)
	}
	close(gate)
	if resp := <-done; resp.StatusCode != http.StatusGone {
		t.Fatalf("upload of a deleted image: %d", resp.StatusCode)
	}
	if k := e.mem.keys(); len(k) != 0 {
		t.Fatalf("store holds %v", k)
	}
}

func TestDelete(t *testing.T) {
	e := newEnv(t)
	for _, st := range []string{"fast", "cheap"} {
		id := e.createRaw()
		if resp, _ := e.upload(id, []byte(data64), map[string]string{"X-Image-Meta-Store": st}); resp.StatusCode != 204 {
			t.Fatal("upload failed")
		}
		resp, b := e.do("DELETE", "/v2/images/"+id, nil, nil)
		if resp.StatusCode != 204 || len(b) != 0 {
			t.Fatalf("delete: %d %s", resp.StatusCode, b)
		}
		if resp, _ := e.do("GET", "/v2/images/"+id, nil, nil); resp.StatusCode != 404 {
			t.Fatalf("show after delete: %d", resp.StatusCode)
		}
		if resp, _ := e.do("DELETE", "/v2/images/"+id, nil, nil); resp.StatusCode != 404 {
			t.Fatalf("second delete: %d", resp.StatusCode)
		}
	}
	if len(e.mem.keys()) != 0 || len(e.disk.keys()) != 0 {
		t.Fatalf("data left: %v %v", e.mem.keys(), e.disk.keys())
	}
	prot := e.create(`{"name": "p", "protected": true}`)["id"].(string)
	resp, b := e.do("DELETE", "/v2/images/"+prot, nil, nil)
	if resp.StatusCode != 403 || !strings.Contains(string(b), "Image "+prot+" is protected and cannot be deleted.") {
		t.Fatalf("delete protected: %d %s", resp.StatusCode, b)
	}
}

func TestList(t *testing.T) {
	e := newEnv(t)
	var ids []string
	for i := 0; i < 5; i++ {
		ids = append(ids, e.create(fmt.Sprintf(`{"name": "page-%d"}`, i))["id"].(string))
	}
	e.create(`{"name": "hidden", "os_hidden": true}`)
	seen := map[string]bool{}
	path := "/v2/images?limit=2"
	for pages := 0; path != ""; pages++ {
		resp, b := e.do("GET", path, nil, nil)
		if resp.StatusCode != 200 {
			t.Fatalf("%s: %d %s", path, resp.StatusCode, b)
		}
		body := decode(t, b)
		if body["first"] != "/v2/images?limit=2" || body["schema"] != "/v2/schemas/images" {
			t.Fatalf("links: %v %v", body["first"], body["schema"])
		}
		if keys := keyOrder(t, b); keys[0] != "images" {
			t.Fatalf("key order %v", keys)
		}
		for _, img := range body["images"].([]any) {
			m := img.(map[string]any)
			if m["name"] == "hidden" {
				t.Fatal("os_hidden image listed by default")
			}
			seen[m["id"].(string)] = true
		}
		next, _ := body["next"].(string)
		if next != "" && !strings.HasPrefix(next, "/v2/images?limit=2&marker=") {
			t.Fatalf("next %q", next)
		}
		path = next
		if pages > 5 {
			t.Fatal("paging does not end")
		}
	}
	for _, id := range ids {
		if !seen[id] {
			t.Fatalf("image %s never listed", id)
		}
	}
	_, b := e.do("GET", "/v2/images?os_hidden=true", nil, nil)
	if imgs := decode(t, b)["images"].([]any); len(imgs) != 1 {
		t.Fatalf("os_hidden=true listed %d images", len(imgs))
	}
	for _, tc := range []struct{ q, msg string }{
		{"limit=abc", "limit param must be an integer"},
		{"limit=-1", "limit param must be positive"},
		{"marker=00000000-0000-0000-0000-000000000000", "No image found with ID 00000000-0000-0000-0000-000000000000"},
		{"os_hidden=maybe", "os_hidden"},
	} {
		resp, b := e.do("GET", "/v2/images?"+tc.q, nil, nil)
		if resp.StatusCode != 400 || !strings.Contains(string(b), tc.msg) {
			t.Errorf("%s: %d %s", tc.q, resp.StatusCode, b)
		}
	}
}

func TestPythonize(t *testing.T) {
	b, err := marshal(map[string]any{"a": []any{"x,y: z", "é😀", `q"\`, "<&>"}})
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"a": ["x,y: z", "\u00e9\ud83d\ude00", "q\"\\", "<&>"]}`; string(b) != want {
		t.Fatalf("got  %s\nwant %s", b, want)
	}
}

func TestNegotiate(t *testing.T) {
	for accept, want := range map[string]string{
		"": "text/html", "*/*": "text/html", "application/json": "application/json", "text/plain": "",
		"application/json, text/html": "text/html", "text/html;q=0.5, application/json": "application/json",
		"application/*": "application/json",
	} {
		if got := negotiate(accept); got != want {
			t.Errorf("negotiate(%q) = %q, want %q", accept, got, want)
		}
	}
}

func randomBytes(n int, seed uint64) []byte {
	b := make([]byte, n)
	rand.NewChaCha8([32]byte{byte(seed)}).Read(b)
	return b
}

// testLogOutput shows the server's warnings with go test -v.
func testLogOutput() io.Writer {
	if testing.Verbose() {
		return os.Stderr
	}
	return io.Discard
}

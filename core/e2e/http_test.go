package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestHTTPStoreIsReadOnly: glance-api running examples/deploy/http.hcl's
// stores (a filesystem default and the read-only http store) starts with
// both healthy; an upload aimed at the http store is refused with 410 and
// a message, the image stays queued, and the default store still takes
// the upload.
func TestHTTPStoreIsReadOnly(t *testing.T) {
	dataDir := filepath.Join(t.TempDir(), "images")
	s := startServerWith(t, Options{
		Stores: exampleStores(t, "http.hcl"),
		Env:    []string{"GLANCE_DATA_DIR=" + dataDir},
	})
	img := s.createImage("http-readonly")
	data := randomBytes(1<<20, 7)
	resp := s.do("PUT", "/v2/images/"+img.ID+"/file", bytes.NewReader(data), map[string]string{
		"Content-Type": "application/octet-stream", "X-Image-Meta-Store": "http",
	})
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusGone || !strings.Contains(string(b), "disabled") {
		t.Errorf("upload to the http store: %d %s, want 410 saying writes are disabled", resp.StatusCode, b)
	}
	if st := s.getImage(img.ID).Status; st != "queued" {
		t.Errorf("status after the refused upload %q, want queued", st)
	}
	s.mustUpload(img.ID, data, "upload to the default store")
	if files := dataFiles(t, dataDir); len(files) != 1 {
		t.Errorf("the filesystem store holds %q", files)
	}
	s.stop()
	if log := s.log.String(); strings.Contains(log, "unhealthy") {
		t.Errorf("a store is unhealthy:\n%s", log)
	}
}

// TestHTTPExampleConfigValidates: examples/deploy/http.hcl passes
// `glance-api validate` as is.
func TestHTTPExampleConfigValidates(t *testing.T) {
	example, err := filepath.Abs("../../examples/deploy/http.hcl")
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(filepath.Join(binDir, "glance-api"), "validate", "-config", example).CombinedOutput()
	if err != nil {
		t.Fatalf("glance-api validate %s: %v\n%s", example, err, out)
	}
	if !strings.Contains(string(out), "2 store(s)") {
		t.Errorf("validate: %s", out)
	}
}

// origin is a loopback web server holding image data for http locations:
// /image.raw is served by http.ServeContent (HEAD, Range), /missing is a
// 404, and /hop/N redirects N times before reaching /image.raw. It records
// the method and Range header of every request. /empty holds no bytes.
type origin struct {
	*httptest.Server
	data []byte
	mu   sync.Mutex
	reqs []string // "METHOD path range"
}

func newOrigin(t *testing.T, data []byte) *origin {
	t.Helper()
	o := &origin{data: data}
	modTime := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	o.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		o.mu.Lock()
		o.reqs = append(o.reqs, strings.TrimSpace(r.Method+" "+r.URL.Path+" "+r.Header.Get("Range")))
		o.mu.Unlock()
		switch p := r.URL.Path; {
		case p == "/image.raw" && (r.Method == http.MethodGet || r.Method == http.MethodHead):
			http.ServeContent(w, r, "image.raw", modTime, bytes.NewReader(o.data))
		case p == "/empty" && (r.Method == http.MethodGet || r.Method == http.MethodHead):
			http.ServeContent(w, r, "empty", modTime, bytes.NewReader(nil))
		case strings.HasPrefix(p, "/hop/"):
			n, err := strconv.Atoi(strings.TrimPrefix(p, "/hop/"))
			switch {
			case err != nil || n < 0:
				http.NotFound(w, r)
			case n == 0:
				http.Redirect(w, r, "/image.raw", http.StatusFound)
			default:
				http.Redirect(w, r, fmt.Sprintf("/hop/%d", n-1), http.StatusFound)
			}
		case r.Method != http.MethodGet && r.Method != http.MethodHead:
			http.Error(w, "read-only", http.StatusMethodNotAllowed)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(o.Close)
	return o
}

// requests returns the requests seen so far and forgets them.
func (o *origin) requests() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	r := o.reqs
	o.reqs = nil
	return r
}

// patchLocation adds url as a location of image id by JSON patch.
func (s *server) patchLocation(id, url string) (int, string) {
	s.t.Helper()
	body := fmt.Sprintf(`[{"op": "add", "path": "/locations/-", "value": {"url": %q, "metadata": {}}}]`, url)
	resp := s.do("PATCH", "/v2/images/"+id, strings.NewReader(body), map[string]string{
		"Content-Type": "application/openstack-images-v2.1-json-patch",
	})
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp.StatusCode, string(b)
}

// TestHTTPStoreLocations: glance-api with examples/deploy/http.hcl's stores
// (a filesystem default and the http store) and show_multiple_locations.
// An http location added to a queued image by JSON patch makes it active
// with the size the server reports (and, as Glance's patch path, no
// checksum: Glance only records hashes given as validation_data); the data
// downloads byte-identical through the API, single ranges (suffix ones
// too) are answered 206 with the right bytes and are passed on to the web
// server as HTTP Range requests; an upload beside it goes to the
// filesystem store; deleting the image answers 204 and leaves the remote
// file alone. A location answering 404, or holding no bytes, is refused
// with 400 and the image stays queued; the 2.17 POST /locations follows 5 redirects and refuses 6.
func TestHTTPStoreLocations(t *testing.T) {
	data := randomBytes(6<<20+321, 11)
	web := newOrigin(t, data)
	dataDir := filepath.Join(t.TempDir(), "images")
	s := startServerWith(t, Options{
		Stores: exampleStores(t, "http.hcl"),
		Extra:  "images {\n  show_multiple_locations = true\n}\n",
		Env:    []string{"GLANCE_DATA_DIR=" + dataDir},
	})
	imageURL := web.URL + "/image.raw"

	// A location whose server answers 404: Glance's BadStoreUri, 400.
	img := s.createImage("http-location")
	if code, body := s.patchLocation(img.ID, web.URL+"/missing"); code != http.StatusBadRequest {
		t.Errorf("add a 404 location: %d %s, want 400", code, body)
	}
	// An empty resource: Glance's _check_location_uri wants a size > 0.
	if code, body := s.patchLocation(img.ID, web.URL+"/empty"); code != http.StatusBadRequest {
		t.Errorf("add an empty location: %d %s, want 400", code, body)
	}
	if got := s.getImage(img.ID); got.Status != "queued" || got.Size != nil {
		t.Errorf("after the refused locations: %+v, want queued without a size", got)
	}

	// The http location: active, with the size the server reports.
	web.requests()
	code, body := s.patchLocation(img.ID, imageURL)
	if code != http.StatusOK {
		t.Fatalf("add the location: %d %s", code, body)
	}
	var patched struct {
		image
		Locations []struct {
			URL      string            `json:"url"`
			Metadata map[string]string `json:"metadata"`
		} `json:"locations"`
	}
	if err := json.Unmarshal([]byte(body), &patched); err != nil {
		t.Fatalf("PATCH answer %s: %v", body, err)
	}
	if len(patched.Locations) != 1 || patched.Locations[0].URL != imageURL || patched.Locations[0].Metadata["store"] != "http" {
		t.Errorf("locations %+v, want just %s in store http", patched.Locations, imageURL)
	}
	got := s.getImage(img.ID)
	if got.Status != "active" || got.Size == nil || *got.Size != int64(len(data)) {
		t.Fatalf("after adding the location: %+v, want active with size %d", got, len(data))
	}
	if got.Checksum != nil || got.OsHashAlgo != nil || got.OsHashValue != nil {
		t.Errorf("checksum %v, os_hash %v/%v: Glance sets none for a location added without validation_data",
			got.Checksum, got.OsHashAlgo, got.OsHashValue)
	}
	if reqs := web.requests(); !slices.Contains(reqs, "HEAD /image.raw") {
		t.Errorf("the web server saw %q, want a HEAD of /image.raw", reqs)
	}

	// Download, whole and in ranges.
	resp := s.do("GET", "/v2/images/"+img.ID+"/file", nil, nil)
	whole, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK || !bytes.Equal(whole, data) {
		t.Fatalf("download: %d, %v, %d bytes (identical: %v)", resp.StatusCode, err, len(whole), bytes.Equal(whole, data))
	}
	if h := resp.Header.Get("Content-Length"); h != strconv.Itoa(len(data)) {
		t.Errorf("Content-Length %q, want %d", h, len(data))
	}
	web.requests()
	for _, r := range []byteRange{
		{"bytes=0-0", 0, 0},
		{"bytes=1048570-2097169", 1048570, 2097169},
		{"bytes=-4096", len(data) - 4096, len(data) - 1},
		{fmt.Sprintf("bytes=%d-", len(data)-100), len(data) - 100, len(data) - 1},
		{fmt.Sprintf("bytes=100-%d", 10*len(data)), 100, len(data) - 1}, // end clamped
	} {
		if !s.checkRange(img.ID, data, r) {
			continue
		}
		// The store asks the web server for those bytes only.
		want := fmt.Sprintf("GET /image.raw bytes=%d-%d", r.start, r.end)
		if reqs := web.requests(); !slices.Contains(reqs, want) {
			t.Errorf("%s: the web server saw %q, want %q", r.header, reqs, want)
		}
	}
	resp = s.do("GET", "/v2/images/"+img.ID+"/file", nil, map[string]string{"Range": fmt.Sprintf("bytes=%d-", len(data))})
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestedRangeNotSatisfiable {
		t.Errorf("a range past the end: %d, want 416", resp.StatusCode)
	}

	// An upload beside it goes to the default (filesystem) store.
	up := s.createImage("uploaded")
	updata := randomBytes(1<<20+7, 12)
	s.mustUpload(up.ID, updata, "upload to the default store")
	if got := s.getImage(up.ID); got.Status != "active" || got.Size == nil || *got.Size != int64(len(updata)) || got.Checksum == nil {
		t.Errorf("after upload: %+v", got)
	}
	if files := dataFiles(t, dataDir); len(files) != 1 || files[0] != up.ID {
		t.Errorf("the filesystem store holds %q, want just %s", files, up.ID)
	}
	resp = s.do("GET", "/v2/images/"+up.ID+"/file", nil, nil)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !bytes.Equal(b, updata) {
		t.Errorf("download of the uploaded image: %d, %d bytes (identical: %v)", resp.StatusCode, len(b), bytes.Equal(b, updata))
	}

	// Delete: 204; the http store cannot delete, the remote file stays.
	web.requests()
	s.mustDelete(img.ID, "delete")
	resp = s.do("GET", "/v2/images/"+img.ID, nil, nil)
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("show after delete: %d, want 404", resp.StatusCode)
	}
	for _, r := range web.requests() {
		if !strings.HasPrefix(r, "GET ") && !strings.HasPrefix(r, "HEAD ") {
			t.Errorf("deleting the image sent %q to the web server", r)
		}
	}
	if resp, err := http.Get(imageURL); err != nil {
		t.Errorf("the remote file after delete: %v", err)
	} else {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !bytes.Equal(b, data) {
			t.Errorf("the remote file after delete: %d, %d bytes", resp.StatusCode, len(b))
		}
	}
	if files := dataFiles(t, dataDir); len(files) != 1 || files[0] != up.ID {
		t.Errorf("after the delete the filesystem store holds %q, want just %s", files, up.ID)
	}

	// The 2.17 location API: 5 redirects are followed, 6 are refused.
	hop5 := s.createImage("five-redirects")
	resp = s.do("POST", "/v2/images/"+hop5.ID+"/locations", strings.NewReader(fmt.Sprintf(`{"url": %q}`, web.URL+"/hop/4")),
		map[string]string{"Content-Type": "application/json"})
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Errorf("POST a location 5 redirects away: %d %s, want 202", resp.StatusCode, b)
	} else if got := s.getImage(hop5.ID); got.Status != "active" || got.Size == nil || *got.Size != int64(len(data)) {
		t.Errorf("after the location 5 redirects away: %+v", got)
	} else {
		resp = s.do("GET", "/v2/images/"+hop5.ID+"/file", nil, map[string]string{"Range": "bytes=-1000"})
		b, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusPartialContent || !bytes.Equal(b, data[len(data)-1000:]) {
			t.Errorf("a range through 5 redirects: %d, %d bytes", resp.StatusCode, len(b))
		}
	}
	hop6 := s.createImage("six-redirects")
	web.requests()
	start := time.Now()
	resp = s.do("POST", "/v2/images/"+hop6.ID+"/locations", strings.NewReader(fmt.Sprintf(`{"url": %q}`, web.URL+"/hop/5")),
		map[string]string{"Content-Type": "application/json"})
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("POST a location 6 redirects away: %d %s, want 400", resp.StatusCode, b)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("refusing the redirect chain took %v", d)
	}
	if reqs := web.requests(); len(reqs) > 6 || slices.Contains(reqs, "HEAD /image.raw") {
		t.Errorf("the web server saw %q for the 6-redirect location", reqs)
	}
	if got := s.getImage(hop6.ID); got.Status != "queued" || got.Size != nil {
		t.Errorf("after the refused redirect chain: %+v, want queued without a size", got)
	}
	// The same chain by JSON patch is refused too.
	if code, body := s.patchLocation(hop6.ID, web.URL+"/hop/5"); code != http.StatusBadRequest {
		t.Errorf("add a location 6 redirects away by patch: %d %s, want 400", code, body)
	}

	s.stop()
	if log := s.log.String(); strings.Contains(log, "unhealthy") || strings.Contains(log, "panic") {
		t.Errorf("glance-api log:\n%s", log)
	}
}

// TestLocationReplaceChangesMetadataOnly: as Glance since OSSN-0090, a
// replace of /locations on an image that has locations may change their
// metadata (kept, and shown afterwards) but not drop or swap a URL (400,
// locations unchanged): removing one is delete_image_location's business.
func TestLocationReplaceChangesMetadataOnly(t *testing.T) {
	data := randomBytes(1<<20+5, 12)
	web := newOrigin(t, data)
	s := startServerWith(t, Options{
		Stores: exampleStores(t, "http.hcl"),
		Extra:  "images {\n  show_multiple_locations = true\n}\n",
		Env:    []string{"GLANCE_DATA_DIR=" + filepath.Join(t.TempDir(), "images")},
	})
	first, second := web.URL+"/image.raw", web.URL+"/hop/0"
	img := s.createImage("replace-locations")
	for _, u := range []string{first, second} {
		if code, body := s.patchLocation(img.ID, u); code != http.StatusOK {
			t.Fatalf("add %s: %d %s", u, code, body)
		}
	}
	type loc struct {
		URL      string            `json:"url"`
		Metadata map[string]string `json:"metadata"`
	}
	locations := func() []loc {
		resp := s.do("GET", "/v2/images/"+img.ID, nil, nil)
		defer resp.Body.Close()
		var v struct {
			Locations []loc `json:"locations"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
			t.Fatal(err)
		}
		return v.Locations
	}
	replace := func(locs ...loc) (int, string) {
		b, _ := json.Marshal([]map[string]any{{"op": "replace", "path": "/locations", "value": locs}})
		resp := s.do("PATCH", "/v2/images/"+img.ID, bytes.NewReader(b), map[string]string{
			"Content-Type": "application/openstack-images-v2.1-json-patch",
		})
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	want := locations()
	if len(want) != 2 || want[0].URL != first || want[1].URL != second {
		t.Fatalf("locations after adding: %+v", want)
	}
	want[0].Metadata["date"] = "2015-10-15"
	if code, body := replace(want...); code != http.StatusOK {
		t.Fatalf("replace with new metadata: %d %s", code, body)
	}
	if got := locations(); !reflect.DeepEqual(got, want) {
		t.Fatalf("after the metadata change: %+v, want %+v", got, want)
	}
	for _, tc := range []struct {
		name string
		locs []loc
	}{
		{"drop one", []loc{want[0]}},
		{"swap a URL", []loc{want[0], {URL: web.URL + "/hop/1", Metadata: map[string]string{}}}},
		{"duplicate", []loc{want[0], want[0]}},
	} {
		code, body := replace(tc.locs...)
		if code != http.StatusBadRequest {
			t.Errorf("replace, %s: %d %s, want 400", tc.name, code, body)
		}
		if tc.name != "duplicate" && !strings.Contains(body, "Original locations is not empty") {
			t.Errorf("replace, %s: body %s", tc.name, body)
		}
	}
	if got := locations(); !reflect.DeepEqual(got, want) {
		t.Fatalf("after the refused replaces: %+v, want %+v", got, want)
	}
}

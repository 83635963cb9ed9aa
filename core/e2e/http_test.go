package e2e

import (
	"bytes"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
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
	resp = s.do("PUT", "/v2/images/"+img.ID+"/file", bytes.NewReader(data), map[string]string{"Content-Type": "application/octet-stream"})
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("upload to the default store: %d", resp.StatusCode)
	}
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

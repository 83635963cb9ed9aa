package e2e

import (
	"bytes"
	"crypto/md5"
	"crypto/sha512"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func syscallKill(pid int) { syscall.Kill(pid, syscall.SIGKILL) }

// randomBytes returns n deterministic pseudo-random bytes.
func randomBytes(n int, seed uint64) []byte {
	b := make([]byte, n)
	r := rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8)})
	r.Read(b)
	return b
}

type image struct {
	ID          string  `json:"id"`
	Status      string  `json:"status"`
	Size        *int64  `json:"size"`
	Checksum    *string `json:"checksum"`
	OsHashAlgo  *string `json:"os_hash_algo"`
	OsHashValue *string `json:"os_hash_value"`
}

func (s *server) createImage(name string) image {
	s.t.Helper()
	body := fmt.Sprintf(`{"name": %q, "disk_format": "raw", "container_format": "bare"}`, name)
	resp := s.do("POST", "/v2/images", strings.NewReader(body), map[string]string{"Content-Type": "application/json"})
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		b, _ := io.ReadAll(resp.Body)
		s.t.Fatalf("create: %d %s", resp.StatusCode, b)
	}
	var img image
	if err := json.NewDecoder(resp.Body).Decode(&img); err != nil {
		s.t.Fatal(err)
	}
	if img.Status != "queued" {
		s.t.Fatalf("new image status %q, want queued", img.Status)
	}
	return img
}

func (s *server) getImage(id string) image {
	s.t.Helper()
	resp := s.do("GET", "/v2/images/"+id, nil, nil)
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		s.t.Fatalf("show %s: %d", id, resp.StatusCode)
	}
	var img image
	if err := json.NewDecoder(resp.Body).Decode(&img); err != nil {
		s.t.Fatal(err)
	}
	return img
}

// dataFiles lists what is in the store's data_dir, temporary files included.
func dataFiles(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// TestImageLifecycle: create, upload 64 MiB, download byte-identical with
// the right Content-MD5, a Range gives 206 with the right bytes, delete
// removes the file from data_dir.
func TestImageLifecycle(t *testing.T) { imageLifecycle(t, startServer(t)) }

// imageLifecycle is TestImageLifecycle's scenario on a running server (also
// run with the PostgreSQL registry: postgres_test.go).
func imageLifecycle(t *testing.T, s *server) {
	img := s.createImage("lifecycle")
	data := randomBytes(64<<20, 1)
	md5sum := md5.Sum(data)
	sha := sha512.Sum512(data)

	s.mustUpload(img.ID, data, "upload")

	got := s.getImage(img.ID)
	if got.Status != "active" || got.Size == nil || *got.Size != int64(len(data)) {
		t.Fatalf("after upload: %+v", got)
	}
	if got.Checksum == nil || *got.Checksum != hex.EncodeToString(md5sum[:]) {
		t.Errorf("checksum %v, want %x", got.Checksum, md5sum)
	}
	if got.OsHashAlgo == nil || *got.OsHashAlgo != "sha512" || got.OsHashValue == nil || *got.OsHashValue != hex.EncodeToString(sha[:]) {
		t.Errorf("os_hash %v/%v, want sha512/%x", got.OsHashAlgo, got.OsHashValue, sha)
	}
	if files := dataFiles(t, s.DataDir); len(files) != 1 || files[0] != img.ID {
		t.Errorf("data_dir holds %v, want just %s", files, img.ID)
	}

	resp := s.do("GET", "/v2/images/"+img.ID+"/file", nil, nil)
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("download: %d %v", resp.StatusCode, err)
	}
	if !bytes.Equal(body, data) {
		t.Fatalf("downloaded %d bytes differ from the %d uploaded", len(body), len(data))
	}
	if h := resp.Header.Get("Content-MD5"); h != hex.EncodeToString(md5sum[:]) {
		t.Errorf("Content-MD5 %q, want %x", h, md5sum)
	}
	if h := resp.Header.Get("Content-Length"); h != fmt.Sprint(len(data)) {
		t.Errorf("Content-Length %q", h)
	}

	for _, r := range []byteRange{
		{"bytes=10-19", 10, 19},
		{"bytes=-5", len(data) - 5, len(data) - 1},
		{fmt.Sprintf("bytes=%d-", len(data)-1000), len(data) - 1000, len(data) - 1},
		{"bytes=33554432-33558527", 33554432, 33558527},
	} {
		s.checkRange(img.ID, data, r)
	}

	s.mustDelete(img.ID, "delete")
	if files := dataFiles(t, s.DataDir); len(files) != 0 {
		t.Errorf("data_dir after delete holds %v", files)
	}
	resp = s.do("GET", "/v2/images/"+img.ID, nil, nil)
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("show after delete: %d, want 404", resp.StatusCode)
	}
}

// TestPluginKilledDuringUpload: kill -9 of the store plugin mid-upload fails
// that request with a 5xx and a message, puts the image back to queued,
// leaves no partial file, restarts the plugin, and the next upload works;
// glance-api itself keeps running.
func TestPluginKilledDuringUpload(t *testing.T) { pluginKilledDuringUpload(t, startServer(t)) }

// pluginKilledDuringUpload is TestPluginKilledDuringUpload's scenario on a
// running server.
func pluginKilledDuringUpload(t *testing.T, s *server) {
	apiPid := s.cmd.Process.Pid
	pids := pluginPids(apiPid)
	if len(pids) != 1 {
		t.Fatalf("want one plugin process under glance-api, found %v", pids)
	}
	img := s.createImage("killed")

	pr, pw := io.Pipe()
	type result struct {
		status int
		body   string
		err    error
	}
	done := make(chan result, 1)
	go func() {
		req, _ := http.NewRequest("PUT", s.URL+"/v2/images/"+img.ID+"/file", pr)
		req.Header.Set("Content-Type", "application/octet-stream")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			done <- result{err: err}
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		done <- result{status: resp.StatusCode, body: string(b)}
	}()
	chunk := randomBytes(1<<20, 2)
	for i := 0; i < 8; i++ {
		if _, err := pw.Write(chunk); err != nil {
			t.Fatalf("writing body: %v", err)
		}
	}
	// The plugin now holds a partial temporary file.
	waitFor(t, 10*time.Second, "the image to be saving", func() bool { return s.getImage(img.ID).Status == "saving" })
	syscallKill(pids[0])

	// Keep feeding until the server gives up on the request.
	go func() {
		for {
			if _, err := pw.Write(chunk); err != nil {
				return
			}
		}
	}()
	var r result
	select {
	case r = <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("upload did not fail within 30s of the plugin's death")
	}
	pw.CloseWithError(io.ErrClosedPipe)
	if r.err == nil && (r.status < 500 || r.status > 599) {
		t.Errorf("upload during plugin death: status %d, want 5xx; body %q", r.status, r.body)
	}
	if r.err == nil && !strings.Contains(strings.ToLower(r.body), "store") {
		t.Errorf("error body does not say what failed: %q", r.body)
	}
	if st := s.getImage(img.ID).Status; st != "queued" {
		t.Errorf("status after failed upload %q, want queued", st)
	}

	var newPids []int
	waitFor(t, 20*time.Second, "a new plugin process", func() bool {
		newPids = pluginPids(apiPid)
		return len(newPids) == 1 && newPids[0] != pids[0]
	})
	// The restarted plugin sweeps what its predecessor left half-written.
	waitFor(t, 10*time.Second, "the partial file to be removed", func() bool { return len(dataFiles(t, s.DataDir)) == 0 })

	data := randomBytes(3<<20+17, 3)
	s.mustUpload(img.ID, data, "upload after restart")
	if st := s.getImage(img.ID).Status; st != "active" {
		t.Errorf("status %q, want active", st)
	}
	if got := s.cmd.Process.Pid; got != apiPid || !processAlive(apiPid) {
		t.Errorf("glance-api restarted or died")
	}
	if files := dataFiles(t, s.DataDir); len(files) != 1 || files[0] != img.ID {
		t.Errorf("data_dir holds %v, want just %s", files, img.ID)
	}
}

func waitFor(t *testing.T, d time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestValidateNamesMisspeltLine: a misspelt attribute inside a store's
// config {} makes `glance-api validate` fail and name its line.
func TestValidateNamesMisspeltLine(t *testing.T) {
	dir := t.TempDir()
	good := writeConfig(t, dir, "127.0.0.1:9292", Options{})
	out, err := exec.Command(filepath.Join(binDir, "glance-api"), "validate", "-config", good).CombinedOutput()
	if err != nil {
		t.Fatalf("validate of a good config failed: %v\n%s", err, out)
	}

	src, _ := os.ReadFile(good)
	bad := strings.Replace(string(src), "data_dir =", "data_dri =", 1)
	line := 1 + strings.Count(bad[:strings.Index(bad, "data_dri")], "\n")
	if err := os.WriteFile(good, []byte(bad), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err = exec.Command(filepath.Join(binDir, "glance-api"), "validate", "-config", good).CombinedOutput()
	if err == nil {
		t.Fatalf("validate accepted a misspelt attribute:\n%s", out)
	}
	want := fmt.Sprintf("config.hcl:%d:", line)
	if !strings.Contains(string(out), want) || !strings.Contains(string(out), "data_dri") {
		t.Errorf("validate output does not name %s and data_dri:\n%s", want, out)
	}
}

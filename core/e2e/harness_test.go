package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// binDir holds glance-api and the store plugins built for this test run.
var binDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "glance-e2e-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binDir = dir
	cmd := exec.Command("go", "build", "-o", dir+"/",
		"github.com/glance-go/glance/core/cmd/glance-api",
		"github.com/glance-go/glance/plugins/filesystem/cmd/glance-store-filesystem",
		"github.com/glance-go/glance/plugins/s3/cmd/glance-store-s3",
		"github.com/glance-go/glance/plugins/swift/cmd/glance-store-swift",
		"github.com/glance-go/glance/plugins/http/cmd/glance-store-http")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building binaries:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// server is one glance-api process.
type server struct {
	t       *testing.T
	cmd     *exec.Cmd
	URL     string
	DataDir string
	log     *bytes.Buffer
	exited  chan struct{}
	stopped sync.Once
}

// freeAddr returns a loopback address that was free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// Options shape one glance-api run. Empty fields take the defaults: an
// SQLite registry and a filesystem store "local" in the test's directory.
type Options struct {
	// Stores is the HCL of the store blocks.
	Stores string
	// Registry is the HCL of the registry block.
	Registry string
	// Extra is more HCL (images {}, …).
	Extra string
	// Env is added to glance-api's environment (for env() in the config).
	Env []string
	// Auth is the HCL of the auth block; "" means noauth.
	Auth string
}

// filesystemStore is the default store block, rooted at dir/images.
func filesystemStore(dir string) string {
	return fmt.Sprintf(`store "local" {
  plugin  = "filesystem"
  default = true
  config {
    data_dir = %q
  }
}
`, filepath.Join(dir, "images"))
}

// writeConfig writes dir/config.hcl for a server bound to addr.
func writeConfig(t *testing.T, dir, addr string, o Options) string {
	t.Helper()
	if o.Stores == "" {
		o.Stores = filesystemStore(dir)
	}
	if o.Registry == "" {
		o.Registry = fmt.Sprintf("registry {\n  driver = \"sqlite\"\n  dsn    = %q\n}\n", filepath.Join(dir, "glance.db"))
	}
	if o.Auth == "" {
		o.Auth = "auth { mode = \"noauth\" }\n"
	}
	cfg := fmt.Sprintf("plugin_dir = %q\napi { bind = %q }\n%s%s%s%s", binDir, addr, o.Registry, o.Auth, o.Stores, o.Extra)
	path := filepath.Join(dir, "config.hcl")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// startServer runs glance-api with the default options.
func startServer(t *testing.T) *server { return startServerWith(t, Options{}) }

// startServerWith runs glance-api on a fresh directory and waits until it
// answers. It is stopped, and its plugins checked gone, at the test's end.
func startServerWith(t *testing.T, o Options) *server {
	t.Helper()
	dir := t.TempDir()
	addr := freeAddr(t)
	cfg := writeConfig(t, dir, addr, o)
	s := &server{t: t, URL: "http://" + addr, DataDir: filepath.Join(dir, "images"), log: &bytes.Buffer{}, exited: make(chan struct{})}
	s.cmd = exec.Command(filepath.Join(binDir, "glance-api"), "-config", cfg)
	s.cmd.Env = append(os.Environ(), o.Env...)
	s.cmd.Stdout, s.cmd.Stderr = s.log, s.log
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { s.cmd.Wait(); close(s.exited) }()
	t.Cleanup(s.stop)
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(s.URL + "/healthcheck")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return s
			}
		}
		select {
		case <-s.exited:
			t.Fatalf("glance-api exited at start:\n%s", s.log)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("glance-api did not answer within 30s:\n%s", s.log)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stop ends glance-api with SIGTERM and checks that no plugin outlives it.
// Only the first call does anything.
func (s *server) stop() { s.stopped.Do(s.stopOnce) }

func (s *server) stopOnce() {
	pid := s.cmd.Process.Pid
	children := pluginPids(pid)
	s.cmd.Process.Signal(os.Interrupt)
	select {
	case <-s.exited:
	case <-time.After(20 * time.Second):
		s.cmd.Process.Kill()
		<-s.exited
		s.t.Errorf("glance-api did not stop within 20s of SIGINT")
	}
	for _, c := range children {
		deadline := time.Now().Add(5 * time.Second)
		for processAlive(c) && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
		}
		if processAlive(c) {
			s.t.Errorf("plugin process %d outlived glance-api", c)
			syscallKill(c)
		}
	}
	if s.t.Failed() {
		s.t.Logf("glance-api log:\n%s", s.log)
	}
}

// pluginPids lists the store plugin processes whose parent is pid.
func pluginPids(parent int) []int {
	var out []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid …; comm may hold spaces, so cut at the last ')'.
		s := string(stat)
		i := strings.LastIndexByte(s, ')')
		if i < 0 || !strings.Contains(s[:i], "glance-store-") {
			continue
		}
		f := strings.Fields(s[i+1:])
		if len(f) > 1 && f[1] == strconv.Itoa(parent) {
			out = append(out, pid)
		}
	}
	return out
}

func processAlive(pid int) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(stat)
	i := strings.LastIndexByte(s, ')')
	return i >= 0 && !strings.HasPrefix(strings.TrimSpace(s[i+1:]), "Z")
}

// do sends a request and returns the response; the caller closes the body.
func (s *server) do(method, path string, body io.Reader, hdr map[string]string) *http.Response {
	s.t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), method, s.URL+path, body)
	if err != nil {
		s.t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatalf("%s %s: %v", method, path, err)
	}
	return resp
}

// upload PUTs data as image id's file and returns the status and body.
func (s *server) upload(id string, data []byte) (int, string) {
	s.t.Helper()
	resp := s.do("PUT", "/v2/images/"+id+"/file", bytes.NewReader(data), map[string]string{"Content-Type": "application/octet-stream"})
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// mustUpload uploads data as image id's file and fails the test at once
// unless the answer is 204; what says which upload it was.
func (s *server) mustUpload(id string, data []byte, what string) {
	s.t.Helper()
	if code, b := s.upload(id, data); code != http.StatusNoContent {
		s.t.Fatalf("%s: %d %s", what, code, b)
	}
}

// mustDelete deletes image id and fails the test at once unless the
// answer is 204; what says which delete it was.
func (s *server) mustDelete(id, what string) {
	s.t.Helper()
	resp := s.do("DELETE", "/v2/images/"+id, nil, nil)
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		s.t.Fatalf("%s: %d, want 204", what, resp.StatusCode)
	}
}

// byteRange is a Range header and the inclusive span of the image it must
// return.
type byteRange struct {
	header     string
	start, end int
}

// checkRange GETs image id's data with one Range header and checks the 206,
// its Content-Range and the bytes against data. It reports whether the
// answer was a 206, so a caller can check more of it.
func (s *server) checkRange(id string, data []byte, r byteRange) bool {
	s.t.Helper()
	resp := s.do("GET", "/v2/images/"+id+"/file", nil, map[string]string{"Range": r.header})
	part, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusPartialContent {
		s.t.Errorf("%s: status %d, want 206", r.header, resp.StatusCode)
		return false
	}
	if want := fmt.Sprintf("bytes %d-%d/%d", r.start, r.end, len(data)); resp.Header.Get("Content-Range") != want {
		s.t.Errorf("%s: Content-Range %q, want %q", r.header, resp.Header.Get("Content-Range"), want)
	}
	if !bytes.Equal(part, data[r.start:r.end+1]) {
		s.t.Errorf("%s: wrong bytes (%d received)", r.header, len(part))
	}
	return true
}

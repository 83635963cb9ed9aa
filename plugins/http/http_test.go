package httpstore

import (
	"bytes"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/glance-go/glance/sdk/store"
	"github.com/glance-go/glance/sdk/storetest"
)

// fileServer serves the files of dir under /images/ with ranges and HEAD
// (http.ServeContent), on 127.0.0.1.
func fileServer(t testing.TB, dir string) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.StripPrefix("/images/", http.FileServer(http.Dir(dir))))
	t.Cleanup(srv.Close)
	return srv
}

// suiteConfig: the store reads what Preload writes into a directory served
// by a local HTTP server.
func suiteConfig() storetest.Config {
	var dir, base string
	return storetest.Config{
		Setup: func(t testing.TB) ([]byte, func() ([]string, error)) {
			dir = t.TempDir()
			base = fileServer(t, dir).URL + "/images/"
			return []byte(`{"read_timeout": "10s"}`), nil
		},
		New: func() store.Backend { return New(nil) },
		Preload: func(t testing.TB, id string, size int64, data io.Reader) string {
			f, err := os.Create(filepath.Join(dir, id))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if n, err := io.Copy(f, data); err != nil || n != size {
				t.Fatalf("preload %s: %d bytes, %v", id, n, err)
			}
			return base + id
		},
		MaxSize: 64 << 20,
	}
}

func TestConformance(t *testing.T) {
	storetest.Run(t, suiteConfig())
}

func TestConformanceGRPC(t *testing.T) {
	cfg := suiteConfig()
	cfg.MaxSize = 8 << 20
	storetest.RunGRPC(t, cfg)
}

func TestConformanceBinary(t *testing.T) {
	storetest.RunBinary(t, pluginBinary(t), suiteConfig())
}

// pluginBinary returns $GLANCE_PLUGIN_DIR/glance-store-http when set, else
// a binary built now.
func pluginBinary(t *testing.T) string {
	t.Helper()
	const name = "glance-store-http"
	if dir := os.Getenv("GLANCE_PLUGIN_DIR"); dir != "" {
		p := filepath.Join(dir, name)
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("GLANCE_PLUGIN_DIR is set but holds no plugin: %v", err)
		}
		return p
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("building the plugin needs the go command: %v", err)
	}
	p := filepath.Join(t.TempDir(), name)
	out, err := exec.CommandContext(t.Context(), goTool, "build", "-o", p, "./cmd/"+name).CombinedOutput()
	if err != nil {
		t.Fatalf("go build ./cmd/%s: %v\n%s", name, err, out)
	}
	return p
}

func newStore(t *testing.T, cfg string) *Store {
	t.Helper()
	s := New(nil)
	if _, err := s.Configure(t.Context(), store.Config{JSON: []byte(cfg)}); err != nil {
		t.Fatalf("Configure(%s): %v", cfg, err)
	}
	return s
}

func read(t *testing.T, s *Store, loc string, r store.Range) (string, int64, error) {
	t.Helper()
	rc, oi, err := s.Get(t.Context(), loc, r)
	if err != nil {
		return "", 0, err
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	return string(b), oi.Size, err
}

func TestValidateConfig(t *testing.T) {
	cases := []struct {
		name, cfg, wantPath string // wantPath "" means valid
	}{
		{"empty", `{}`, ""},
		{"all", `{"insecure_skip_verify": true, "connect_timeout": "1s", "read_timeout": "2m", "max_redirects": 0}`, ""},
		{"bad_timeout", `{"read_timeout": "soon"}`, "read_timeout"},
		{"negative_timeout", `{"connect_timeout": "-1s"}`, "connect_timeout"},
		{"too_many_redirects", `{"max_redirects": 6}`, "max_redirects"},
		{"negative_redirects", `{"max_redirects": -1}`, "max_redirects"},
		{"missing_ca_file", `{"ca_file": "/nonexistent/ca.pem"}`, "ca_file"},
		{"unknown", `{"proxy": "http://x"}`, "proxy"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := New(nil).ValidateConfig(t.Context(), store.Config{JSON: []byte(tc.cfg)})
			if tc.wantPath == "" {
				if d.HasErrors() {
					t.Errorf("ValidateConfig(%s): %v", tc.cfg, d.Err())
				}
				return
			}
			if !d.HasErrors() || len(d[0].Path) != 1 || d[0].Path[0] != tc.wantPath {
				t.Errorf("ValidateConfig(%s) = %+v, want an error at %s", tc.cfg, d, tc.wantPath)
			}
			if _, err := New(nil).Configure(t.Context(), store.Config{JSON: []byte(tc.cfg)}); !errors.Is(err, store.ErrInvalidConfig) {
				t.Errorf("Configure: %v, want ErrInvalidConfig", err)
			}
		})
	}
}

func TestInvalidLocations(t *testing.T) {
	s := newStore(t, `{}`)
	for _, loc := range []string{
		"", "ftp://127.0.0.1/x", "file:///etc/passwd", "http://", "http:///x", "http:x",
		"http://user:secret@127.0.0.1/x", "http://127.0.0.1/x\x00", "http://127.0.0.1/x\r\nHost: evil",
		"/relative/path", "swift://c/o",
	} {
		if _, err := s.Stat(t.Context(), loc); !errors.Is(err, store.ErrInvalidLocation) {
			t.Errorf("Stat(%q): %v, want ErrInvalidLocation", loc, err)
		} else if strings.Contains(err.Error(), "secret") {
			t.Errorf("Stat(%q): the error shows the password: %v", loc, err)
		}
		if _, _, err := s.Get(t.Context(), loc, store.Whole); !errors.Is(err, store.ErrInvalidLocation) {
			t.Errorf("Get(%q): %v, want ErrInvalidLocation", loc, err)
		}
	}
}

func TestWritesRefused(t *testing.T) {
	s := newStore(t, `{}`)
	caps, _ := s.Configure(t.Context(), store.Config{JSON: []byte(`{}`)})
	if caps.Write || caps.WriteUnknownSize || caps.Delete || !caps.Read || !caps.ReadRange {
		t.Errorf("capabilities %+v, want read-only", caps)
	}
	if _, err := s.Put(t.Context(), store.PutRequest{ImageID: "x", Size: 1}, strings.NewReader("x")); !errors.Is(err, store.ErrUnsupported) {
		t.Errorf("Put: %v", err)
	}
	if err := s.Delete(t.Context(), "http://127.0.0.1/x"); !errors.Is(err, store.ErrUnsupported) {
		t.Errorf("Delete: %v", err)
	}
}

// TestRedirects: up to max_redirects hops are followed, one more is not.
func TestRedirects(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/hop/{n}", func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(r.PathValue("n"))
		if n == 0 {
			http.ServeContent(w, r, "data", time.Time{}, strings.NewReader("0123456789"))
			return
		}
		http.Redirect(w, r, fmt.Sprintf("/hop/%d", n-1), http.StatusFound)
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	cases := []struct {
		cfg  string
		hops int
		ok   bool
	}{
		{`{}`, 0, true},
		{`{}`, 5, true},
		{`{}`, 6, false},
		{`{"max_redirects": 1}`, 1, true},
		{`{"max_redirects": 1}`, 2, false},
		{`{"max_redirects": 0}`, 1, false},
	}
	for _, tc := range cases {
		t.Run(fmt.Sprintf("%s_%d", tc.cfg, tc.hops), func(t *testing.T) {
			s := newStore(t, tc.cfg)
			loc := fmt.Sprintf("%s/hop/%d", srv.URL, tc.hops)
			got, size, err := read(t, s, loc, store.Range{Offset: 2, Length: 3})
			if tc.ok && (err != nil || got != "234" || size != 10) {
				t.Errorf("Get after %d redirects: %q, %d, %v", tc.hops, got, size, err)
			}
			if !tc.ok && !errors.Is(err, store.ErrInvalidLocation) {
				t.Errorf("Get after %d redirects: %v, want ErrInvalidLocation", tc.hops, err)
			}
			_, err = s.Stat(t.Context(), loc)
			if tc.ok != (err == nil) {
				t.Errorf("Stat after %d redirects: %v", tc.hops, err)
			}
		})
	}
}

// TestTLS: certificates are verified by default; ca_file or
// insecure_skip_verify make a private CA acceptable; https never
// redirects to http.
func TestTLS(t *testing.T) {
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.ServeContent(w, r, "x", time.Time{}, strings.NewReader("plain"))
	}))
	defer plain.Close()
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/downgrade" {
			http.Redirect(w, r, plain.URL+"/x", http.StatusFound)
			return
		}
		http.ServeContent(w, r, "x", time.Time{}, strings.NewReader("secure data"))
	}))
	defer srv.Close()
	ca := filepath.Join(t.TempDir(), "ca.pem")
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	if err := os.WriteFile(ca, pemBytes, 0o600); err != nil {
		t.Fatal(err)
	}
	caCfg, _ := json.Marshal(map[string]any{"ca_file": ca})
	cases := []struct {
		name, cfg, path string
		want            error // nil: reads "secure data"
	}{
		{"verified_by_default", `{}`, "/x", store.ErrUnavailable},
		{"ca_file", string(caCfg), "/x", nil},
		{"insecure_skip_verify", `{"insecure_skip_verify": true}`, "/x", nil},
		{"no_downgrade", `{"insecure_skip_verify": true}`, "/downgrade", store.ErrInvalidLocation},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, _, err := read(t, newStore(t, tc.cfg), srv.URL+tc.path, store.Whole)
			if tc.want == nil && (err != nil || got != "secure data") {
				t.Errorf("Get: %q, %v", got, err)
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Errorf("Get: %q, %v, want %v", got, err, tc.want)
			}
		})
	}
}

// TestTimeouts: a server that stalls before its headers or in its body is
// given up after read_timeout; a closed port is unavailable at once.
func TestTimeouts(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/stall-headers" {
			select {
			case <-release:
			case <-r.Context().Done():
			}
			return
		}
		w.Header().Set("Content-Length", "100")
		w.Write(bytes.Repeat([]byte("x"), 10))
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	s := newStore(t, `{"read_timeout": "300ms", "connect_timeout": "1s"}`)
	start := time.Now()
	if _, _, err := s.Get(t.Context(), srv.URL+"/stall-headers", store.Whole); !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("Get of a server stalling before headers: %v, want ErrUnavailable", err)
	}
	rc, oi, err := s.Get(t.Context(), srv.URL+"/stall-body", store.Whole)
	if err != nil || oi.Size != 100 {
		t.Fatalf("Get: %v, %+v", err, oi)
	}
	_, err = io.ReadAll(rc)
	rc.Close()
	if !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("reading a stalled body: %v, want ErrUnavailable", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("the timeouts took %v", d)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + l.Addr().String() + "/x"
	l.Close()
	if _, err := s.Stat(t.Context(), closed); !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("Stat on a closed port: %v, want ErrUnavailable", err)
	}
}

// TestServerWithoutRanges: a server that ignores Range still gives the
// right bytes; statuses map to the store's errors.
func TestServerWithoutRanges(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/gone":
			w.WriteHeader(http.StatusGone)
		case "/forbidden":
			w.WriteHeader(http.StatusForbidden)
		case "/broken":
			w.WriteHeader(http.StatusBadGateway)
		default:
			w.Header().Set("Content-Length", "10")
			io.WriteString(w, "0123456789")
		}
	}))
	defer srv.Close()
	s := newStore(t, `{}`)
	cases := []struct {
		r    store.Range
		want string
		err  error
	}{
		{store.Whole, "0123456789", nil},
		{store.Range{Offset: 3, Length: 4}, "3456", nil},
		{store.Range{Offset: 7, Length: -1}, "789", nil},
		{store.Range{Offset: 10, Length: -1}, "", nil},
		{store.Range{Offset: 11, Length: -1}, "", store.ErrOutOfRange},
	}
	for _, tc := range cases {
		got, size, err := read(t, s, srv.URL+"/data", tc.r)
		if tc.err != nil {
			if !errors.Is(err, tc.err) {
				t.Errorf("Get(%+v): %v, want %v", tc.r, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want || size != 10 {
			t.Errorf("Get(%+v) = %q, %d, %v; want %q", tc.r, got, size, err, tc.want)
		}
	}
	for path, want := range map[string]error{"/gone": store.ErrNotFound, "/forbidden": store.ErrForbidden, "/broken": store.ErrUnavailable} {
		if _, err := s.Stat(t.Context(), srv.URL+path); !errors.Is(err, want) {
			t.Errorf("Stat(%s): %v, want %v", path, err, want)
		}
	}
}

func TestParseContentRange(t *testing.T) {
	cases := []struct {
		in               string
		start, end, size int64
		ok               bool
	}{
		{"bytes 0-9/10", 0, 9, 10, true},
		{"bytes 5-5/*", 5, 5, -1, true},
		{"bytes 0-10/10", 0, 0, 0, false},
		{"bytes 9-5/10", 0, 0, 0, false},
		{"bytes */10", 0, 0, 0, false},
		{"items 0-1/2", 0, 0, 0, false},
		{"", 0, 0, 0, false},
	}
	for _, tc := range cases {
		s, e, n, ok := parseContentRange(tc.in)
		if ok != tc.ok || (ok && (s != tc.start || e != tc.end || n != tc.size)) {
			t.Errorf("parseContentRange(%q) = %d, %d, %d, %v", tc.in, s, e, n, ok)
		}
	}
}

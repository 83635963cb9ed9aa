package filesystem

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/glance-go/glance/sdk/store"
	"github.com/glance-go/glance/sdk/storetest"
)

// suiteConfig is the conformance suite's view of the store: a data_dir in a
// fresh temporary directory, and a lister that reports every file and
// directory under it (temporary files included).
func suiteConfig(extra map[string]any) storetest.Config {
	return storetest.Config{
		Setup: func(t testing.TB) ([]byte, func() ([]string, error)) {
			root := t.TempDir()
			dataDir := filepath.Join(root, "images") // Configure must create it
			cfg := map[string]any{"data_dir": dataDir}
			for k, v := range extra {
				cfg[k] = v
			}
			js, err := json.Marshal(cfg)
			if err != nil {
				t.Fatal(err)
			}
			return js, func() ([]string, error) { return listTree(root, dataDir) }
		},
		New: func() store.Backend { return New(nil) },
	}
}

// listTree lists everything under root except root and keep.
func listTree(root, keep string) ([]string, error) {
	var out []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p != root && p != keep {
			out = append(out, p)
		}
		return nil
	})
	return out, err
}

func TestConformance(t *testing.T) {
	storetest.Run(t, suiteConfig(nil))
}

func TestConformanceThin(t *testing.T) {
	cfg := suiteConfig(map[string]any{"thin_provisioning": true, "file_perm": "0600"})
	cfg.MaxSize = 64 << 20 // the 1 GiB case of TestConformance covers the dense path
	storetest.Run(t, cfg)
}

// The same suite through the gRPC adapters, in this process, with the
// LocalPut fast path (the default) and without it. The counts prove which
// path the uploads took: with it, the store's Put is never called.
func TestConformanceGRPC(t *testing.T) {
	for _, local := range []bool{true, false} {
		t.Run(map[bool]string{true: "local_put", false: "stream_put"}[local], func(t *testing.T) {
			cfg := suiteConfig(nil)
			cfg.MaxSize = 64 << 20 // 1 GiB crosses the wire in TestConformanceBinary
			cfg.NoLocalPut = !local
			var cs *countingStore
			cfg.New = func() store.Backend { cs = &countingStore{Store: New(nil)}; return cs }
			storetest.RunGRPC(t, cfg)
			puts, begins := cs.puts.Load(), cs.begins.Load()
			t.Logf("Put called %d times, BeginLocalPut %d times", puts, begins)
			if local && (puts != 0 || begins == 0) {
				t.Errorf("with the fast path: Put called %d times, BeginLocalPut %d times; want 0 and more", puts, begins)
			}
			if !local && (puts == 0 || begins != 0) {
				t.Errorf("without the fast path: Put called %d times, BeginLocalPut %d times; want more and 0", puts, begins)
			}
		})
	}
}

// countingStore counts the two ways an upload reaches the store.
type countingStore struct {
	*Store
	puts, begins atomic.Int64
}

func (c *countingStore) Put(ctx context.Context, req store.PutRequest, body io.Reader) (store.PutResult, error) {
	c.puts.Add(1)
	return c.Store.Put(ctx, req, body)
}

func (c *countingStore) BeginLocalPut(ctx context.Context, req store.PutRequest) (store.LocalPut, error) {
	c.begins.Add(1)
	return c.Store.BeginLocalPut(ctx, req)
}

// The same suite against the real plugin process, started as glance-api
// starts it: uploads through the LocalPut fast path (the default), and
// streamed over gRPC, each with a plugin killed mid-upload (KilledMidPut).
func TestConformanceBinary(t *testing.T) {
	storetest.RunBinary(t, pluginBinary(t), suiteConfig(nil))
}

func TestConformanceBinaryStreamPut(t *testing.T) {
	cfg := suiteConfig(nil)
	cfg.NoLocalPut = true
	storetest.RunBinary(t, pluginBinary(t), cfg)
}

// local_put = false withdraws the capability: the suite then streams.
func TestConformanceBinaryLocalPutOff(t *testing.T) {
	cfg := suiteConfig(map[string]any{"local_put": false})
	cfg.MaxSize = 64 << 20
	storetest.RunBinary(t, pluginBinary(t), cfg)
}

// pluginBinary returns $GLANCE_PLUGIN_DIR/glance-store-filesystem when
// GLANCE_PLUGIN_DIR is set (make build's bin/), else a binary built now
// from this tree.
func pluginBinary(t *testing.T) string {
	t.Helper()
	const name = "glance-store-filesystem"
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

// newStore returns a configured store on a fresh data_dir.
func newStore(t *testing.T, extra map[string]any) (*Store, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "images")
	cfg := map[string]any{"data_dir": dir}
	for k, v := range extra {
		cfg[k] = v
	}
	js, _ := json.Marshal(cfg)
	s := New(nil)
	if _, err := s.Configure(t.Context(), store.Config{StoreID: "t", JSON: js}); err != nil {
		t.Fatalf("Configure: %v", err)
	}
	return s, dir
}

func put(t *testing.T, s *Store, id string, data []byte) store.PutResult {
	t.Helper()
	res, err := s.Put(t.Context(), store.PutRequest{ImageID: id, Size: int64(len(data))}, bytes.NewReader(data))
	if err != nil {
		t.Fatalf("Put(%s): %v", id, err)
	}
	return res
}

func readAll(t *testing.T, s *Store, loc string) []byte {
	t.Helper()
	rc, _, err := s.Get(t.Context(), loc, store.Whole)
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	return b
}

func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var n []string
	for _, e := range es {
		n = append(n, e.Name())
	}
	return n
}

func TestValidID(t *testing.T) {
	cases := []struct {
		id string
		ok bool
	}{
		{"7c2a1d0e-4f6b-4e8a-9b1c-2d3e4f5a6b7c", true},
		{"a", true},
		{"Image_01-x", true},
		{strings.Repeat("a", 64), true},
		{strings.Repeat("a", 65), false},
		{"", false},
		{".", false},
		{"..", false},
		{"...", false},
		{"../x", false},
		{"a/b", false},
		{"/abs", false},
		{`a\b`, false},
		{".tmp-x", false},
		{"-rf", false},
		{"_x", false},
		{"a.b", false},
		{"a b", false},
		{"a\x00b", false},
		{"é", false},
	}
	for _, tc := range cases {
		err := validID(tc.id)
		if (err == nil) != tc.ok {
			t.Errorf("validID(%q) = %v, want ok=%v", tc.id, err, tc.ok)
		}
		if err != nil && !errors.Is(err, store.ErrInvalidArgument) {
			t.Errorf("validID(%q) = %v, want ErrInvalidArgument", tc.id, err)
		}
	}
}

func TestLocationEscapes(t *testing.T) {
	s, dir := newStore(t, nil)
	const id = "0b6f3c1e-7a6d-4c43-9e0f-8a1b2c3d4e5f"
	res := put(t, s, id, []byte("image data"))
	if want := "file://" + dir + "/" + id; res.Location != want {
		t.Fatalf("location %q, want %q", res.Location, want)
	}

	// A secret outside data_dir, and links and a directory planted inside
	// it under valid image ids.
	secret := filepath.Join(filepath.Dir(dir), "secret")
	if err := os.WriteFile(secret, []byte("secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	const linkID, dirID, dirLinkID = "11111111-2222-4333-8444-555555555555", "22222222-2222-4333-8444-555555555555", "33333333-2222-4333-8444-555555555555"
	if err := os.Symlink(secret, filepath.Join(dir, linkID)); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, dirID), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Dir(dir), filepath.Join(dir, dirLinkID)); err != nil {
		t.Fatal(err)
	}

	locs := map[string]string{
		"etc_passwd":          "file:///etc/passwd",
		"dotdot":              "file://" + dir + "/../secret",
		"dotdot_encoded":      "file://" + dir + "/%2e%2e/secret",
		"dot":                 "file://" + dir + "/./" + id,
		"double_slash":        "file://" + dir + "//" + id,
		"trailing_slash":      "file://" + dir + "/" + id + "/",
		"subdir":              "file://" + dir + "/" + dirID + "/" + id,
		"through_dir_link":    "file://" + dir + "/" + dirLinkID + "/secret",
		"data_dir_itself":     "file://" + dir,
		"symlink_inside":      "file://" + dir + "/" + linkID,
		"directory_inside":    "file://" + dir + "/" + dirID,
		"other_host":          "file://example.com" + dir + "/" + id,
		"user":                "file://root@" + dir + "/" + id,
		"opaque":              "file:" + dir[1:] + "/" + id,
		"relative":            "file:images/" + id,
		"query":               "file://" + dir + "/" + id + "?x=1",
		"fragment":            "file://" + dir + "/" + id + "#x",
		"other_scheme":        "http://localhost" + dir + "/" + id,
		"plain_path":          dir + "/" + id,
		"sibling_with_prefix": "file://" + dir + "x/" + id,
		"tmp_name":            "file://" + dir + "/.tmp-" + id + "-1",
	}
	for name, loc := range locs {
		t.Run(name, func(t *testing.T) {
			ctx := t.Context()
			if _, err := s.Stat(ctx, loc); !errors.Is(err, store.ErrInvalidLocation) {
				t.Errorf("Stat(%q) = %v, want ErrInvalidLocation", loc, err)
			}
			if rc, _, err := s.Get(ctx, loc, store.Whole); !errors.Is(err, store.ErrInvalidLocation) {
				if err == nil {
					rc.Close()
				}
				t.Errorf("Get(%q) = %v, want ErrInvalidLocation", loc, err)
			}
			if p, err := s.LocalFile(ctx, loc); !errors.Is(err, store.ErrInvalidLocation) {
				t.Errorf("LocalFile(%q) = %q, %v, want ErrInvalidLocation", loc, p, err)
			}
			if err := s.Delete(ctx, loc); !errors.Is(err, store.ErrInvalidLocation) {
				t.Errorf("Delete(%q) = %v, want ErrInvalidLocation", loc, err)
			}
		})
	}
	// Nothing was removed, through a link or otherwise.
	if b, err := os.ReadFile(secret); err != nil || string(b) != "secret" {
		t.Errorf("the file outside data_dir: %q, %v", b, err)
	}
	if got := dirNames(t, dir); len(got) != 4 {
		t.Errorf("data_dir holds %q, want the image, two links and a directory", got)
	}
	// The good location still works, also spelled with localhost.
	for _, loc := range []string{res.Location, "file://localhost" + dir + "/" + id} {
		if got := readAll(t, s, loc); string(got) != "image data" {
			t.Errorf("Get(%q) = %q", loc, got)
		}
	}
}

func TestLocationEscapesSpecialCharacters(t *testing.T) {
	root := filepath.Join(t.TempDir(), "a dir with %20, #, ? and é")
	js, _ := json.Marshal(map[string]any{"data_dir": root})
	s := New(nil)
	if _, err := s.Configure(t.Context(), store.Config{JSON: js}); err != nil {
		t.Fatal(err)
	}
	res := put(t, s, "img", []byte("x"))
	if strings.ContainsAny(strings.TrimPrefix(res.Location, "file://"), " #?") {
		t.Errorf("location %q is not escaped", res.Location)
	}
	p, err := s.LocalFile(t.Context(), res.Location)
	if err != nil || p != filepath.Join(root, "img") {
		t.Errorf("LocalFile = %q, %v; want %q", p, err, filepath.Join(root, "img"))
	}
	if got := readAll(t, s, res.Location); string(got) != "x" {
		t.Errorf("Get = %q", got)
	}
}

func TestStorageFull(t *testing.T) {
	s, dir := newStore(t, map[string]any{"min_free_bytes": int64(1) << 62})
	for _, size := range []int64{10, store.UnknownSize} {
		_, err := s.Put(t.Context(), store.PutRequest{ImageID: "img", Size: size}, strings.NewReader("0123456789"))
		if !errors.Is(err, store.ErrStorageFull) {
			t.Errorf("Put(size %d) with min_free_bytes 2^62: %v, want ErrStorageFull", size, err)
		}
	}
	if got := dirNames(t, dir); len(got) != 0 {
		t.Errorf("data_dir holds %q after refused Puts", got)
	}
}

func TestValidateConfig(t *testing.T) {
	tmp := t.TempDir()
	file := filepath.Join(tmp, "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name     string
		cfg      string
		wantPath string // "" means no error
	}{
		{"ok_existing", `{"data_dir": "` + tmp + `"}`, ""},
		{"ok_creatable", `{"data_dir": "` + tmp + `/new/images", "thin_provisioning": true, "min_free_bytes": 1e9, "file_perm": "0600"}`, ""},
		{"missing_data_dir", `{}`, "data_dir"},
		{"empty_data_dir", `{"data_dir": " "}`, "data_dir"},
		{"data_dir_is_file", `{"data_dir": "` + file + `"}`, "data_dir"},
		{"data_dir_below_file", `{"data_dir": "` + file + `/images"}`, "data_dir"},
		{"file_perm_not_octal", `{"data_dir": "` + tmp + `", "file_perm": "rw-r-----"}`, "file_perm"},
		{"file_perm_too_big", `{"data_dir": "` + tmp + `", "file_perm": "10640"}`, "file_perm"},
		{"file_perm_owner_cannot_write", `{"data_dir": "` + tmp + `", "file_perm": "0444"}`, "file_perm"},
		{"min_free_negative", `{"data_dir": "` + tmp + `", "min_free_bytes": -1}`, "min_free_bytes"},
		{"min_free_fraction", `{"data_dir": "` + tmp + `", "min_free_bytes": 1.5}`, "min_free_bytes"},
		{"unknown_attribute", `{"data_dir": "` + tmp + `", "data_directory": "x"}`, "data_directory"},
		{"wrong_type", `{"data_dir": 3}`, ""},
	}
	s := New(nil)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := store.Config{StoreID: "t", JSON: []byte(tc.cfg)}
			d := s.ValidateConfig(t.Context(), cfg)
			if tc.name == "wrong_type" {
				// A type error is the host's to catch against the schema;
				// the store must still refuse it.
				if !d.HasErrors() {
					t.Errorf("ValidateConfig(%s): no error", tc.cfg)
				}
				return
			}
			if tc.wantPath == "" {
				if d.HasErrors() {
					t.Errorf("ValidateConfig(%s): %v", tc.cfg, d.Err())
				}
				return
			}
			if !d.HasErrors() {
				t.Fatalf("ValidateConfig(%s): no error, want one about %s", tc.cfg, tc.wantPath)
			}
			for _, x := range d {
				if x.Severity == store.SeverityError && !slices.Equal(x.Path, []string{tc.wantPath}) {
					t.Errorf("diagnostic %q has path %q, want [%s]", x.Summary, x.Path, tc.wantPath)
				}
			}
			// Configure refuses the same config.
			if _, err := New(nil).Configure(t.Context(), cfg); !errors.Is(err, store.ErrInvalidConfig) {
				t.Errorf("Configure: %v, want ErrInvalidConfig", err)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(tmp, "new")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("ValidateConfig created data_dir: %v", err)
	}
}

func TestConfigureCreatesDataDir(t *testing.T) {
	_, dir := newStore(t, nil)
	fi, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !fi.IsDir() || fi.Mode().Perm()&0o027 != 0 {
		t.Errorf("data_dir mode %v, want a directory no wider than 0750", fi.Mode())
	}
}

func TestNotConfigured(t *testing.T) {
	s := New(nil)
	ctx := t.Context()
	if err := s.Probe(ctx); !errors.Is(err, store.ErrNotConfigured) {
		t.Errorf("Probe: %v", err)
	}
	if _, err := s.Put(ctx, store.PutRequest{ImageID: "a", Size: 0}, strings.NewReader("")); !errors.Is(err, store.ErrNotConfigured) {
		t.Errorf("Put: %v", err)
	}
	if _, _, err := s.Get(ctx, "file:///x/a", store.Whole); !errors.Is(err, store.ErrNotConfigured) {
		t.Errorf("Get: %v", err)
	}
	if err := s.Delete(ctx, "file:///x/a"); !errors.Is(err, store.ErrNotConfigured) {
		t.Errorf("Delete: %v", err)
	}
}

// TestOrphanTempFilesSwept: Configure removes the temporary files of
// uploads whose writer died (nobody holds their lock), however young, and
// keeps those a live upload still holds.
func TestOrphanTempFilesSwept(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "images")
	if err := os.MkdirAll(dir, 0o750); err != nil {
		t.Fatal(err)
	}
	orphan := filepath.Join(dir, ".tmp-img-123")
	live := filepath.Join(dir, ".tmp-img-456")
	image := filepath.Join(dir, "img") // old, but an image: kept
	for _, p := range []string{orphan, live, image} {
		if err := os.WriteFile(p, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	past := time.Now().Add(-2 * time.Hour)
	if err := os.Chtimes(image, past, past); err != nil {
		t.Fatal(err)
	}
	// A live upload in another process holds its file's lock.
	f, err := os.OpenFile(live, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := lockExclusive(f); err != nil {
		t.Fatal(err)
	}
	js, _ := json.Marshal(map[string]any{"data_dir": dir})
	if _, err := New(nil).Configure(t.Context(), store.Config{JSON: js}); err != nil {
		t.Fatal(err)
	}
	if got, want := dirNames(t, dir), []string{".tmp-img-456", "img"}; !slices.Equal(got, want) {
		t.Errorf("data_dir holds %q, want %q", got, want)
	}
}

// TestLocalFileOff: local_file = false withdraws the capability and the
// fast path.
func TestLocalFileOff(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "images")
	s := New(nil)
	js, _ := json.Marshal(map[string]any{"data_dir": dir, "local_file": false})
	caps, err := s.Configure(t.Context(), store.Config{JSON: js})
	if err != nil {
		t.Fatal(err)
	}
	if caps.LocalFile {
		t.Error("capability LocalFile still offered")
	}
	res := put(t, s, "img", []byte("data"))
	if _, err := s.LocalFile(t.Context(), res.Location); !errors.Is(err, store.ErrUnsupported) {
		t.Errorf("LocalFile = %v, want ErrUnsupported", err)
	}
}

func TestFilePermAndLocalFile(t *testing.T) {
	s, dir := newStore(t, map[string]any{"file_perm": "0604"})
	res := put(t, s, "img", []byte("data"))
	p, err := s.LocalFile(t.Context(), res.Location)
	if err != nil || p != filepath.Join(dir, "img") {
		t.Fatalf("LocalFile = %q, %v", p, err)
	}
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o604 {
		t.Errorf("mode %v, want 0604 (umask must not apply)", fi.Mode().Perm())
	}
	if err := s.Delete(t.Context(), res.Location); err != nil {
		t.Fatal(err)
	}
	if _, err := s.LocalFile(t.Context(), res.Location); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("LocalFile after Delete: %v, want ErrNotFound", err)
	}
}

// errBody yields data then err.
type errBody struct {
	r   io.Reader
	err error
}

func (b errBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if err == io.EOF {
		err = b.err
	}
	return n, err
}

func TestPutFailuresKeepSentinels(t *testing.T) {
	s, dir := newStore(t, nil)
	data := bytes.Repeat([]byte("x"), 3<<20)
	cases := []struct {
		name string
		size int64
		body io.Reader
		want error
	}{
		{"aborted", int64(len(data)), errBody{bytes.NewReader(data[:1<<20]), store.ErrAborted}, store.ErrAborted},
		{"checksum", int64(len(data)), errBody{bytes.NewReader(data), store.ErrChecksumMismatch}, store.ErrChecksumMismatch},
		{"unexpected_eof_is_not_eof", store.UnknownSize, errBody{bytes.NewReader(data), io.ErrUnexpectedEOF}, io.ErrUnexpectedEOF},
		{"short", int64(len(data)) + 1, bytes.NewReader(data), store.ErrSizeMismatch},
		{"long", int64(len(data)) - 1, bytes.NewReader(data), store.ErrSizeMismatch},
		{"negative_size", -2, bytes.NewReader(data), store.ErrInvalidArgument},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.Put(t.Context(), store.PutRequest{ImageID: "img", Size: tc.size}, tc.body)
			if !errors.Is(err, tc.want) {
				t.Errorf("Put: %v, want %v", err, tc.want)
			}
			if got := dirNames(t, dir); len(got) != 0 {
				t.Errorf("data_dir holds %q", got)
			}
		})
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := s.Put(ctx, store.PutRequest{ImageID: "img", Size: 1}, strings.NewReader("x")); !errors.Is(err, context.Canceled) {
		t.Errorf("Put with a cancelled context: %v", err)
	}
}

// TestLocalPutCapability: local_put (default on) offers the LocalPut fast
// path; local_put = false and thin_provisioning withdraw it, and a direct
// BeginLocalPut is then refused with ErrUnsupported.
func TestLocalPutCapability(t *testing.T) {
	for _, tc := range []struct {
		extra map[string]any
		want  bool
	}{
		{nil, true},
		{map[string]any{"local_put": false}, false},
		{map[string]any{"thin_provisioning": true}, false},
	} {
		dir := filepath.Join(t.TempDir(), "images")
		cfg := map[string]any{"data_dir": dir}
		for k, v := range tc.extra {
			cfg[k] = v
		}
		js, _ := json.Marshal(cfg)
		s := New(nil)
		caps, err := s.Configure(t.Context(), store.Config{JSON: js})
		if err != nil {
			t.Fatal(err)
		}
		if caps.LocalPut != tc.want {
			t.Errorf("%v: LocalPut capability %v, want %v", tc.extra, caps.LocalPut, tc.want)
		}
		lp, err := s.BeginLocalPut(t.Context(), store.PutRequest{ImageID: "img", Size: 1})
		if tc.want && err == nil {
			lp.Abort()
		}
		if !tc.want && !errors.Is(err, store.ErrUnsupported) {
			t.Errorf("%v: BeginLocalPut = %v, want ErrUnsupported", tc.extra, err)
		}
		if got := dirNames(t, dir); len(got) != 0 {
			t.Errorf("%v: data_dir holds %q", tc.extra, got)
		}
	}
}

// TestLocalPutStorageFull: min_free_bytes holds for local puts, checked at
// BeginLocalPut against the declared size, and at Commit against what the
// host wrote (the store did not watch those writes).
func TestLocalPutStorageFull(t *testing.T) {
	const mib = 1 << 20
	free := int64(100 * mib)
	freeSpace = func(string) (int64, bool) { return free, true }
	t.Cleanup(func() { freeSpace = freeBytes })
	s, dir := newStore(t, map[string]any{"min_free_bytes": 50 * mib})

	if _, err := s.BeginLocalPut(t.Context(), store.PutRequest{ImageID: "img", Size: 60 * mib}); !errors.Is(err, store.ErrStorageFull) {
		t.Errorf("BeginLocalPut of 60 MiB with 100 MiB free and min_free_bytes 50 MiB: %v, want ErrStorageFull", err)
	}
	lp, err := s.BeginLocalPut(t.Context(), store.PutRequest{ImageID: "img", Size: store.UnknownSize})
	if err != nil {
		t.Fatalf("BeginLocalPut of an unknown size: %v", err)
	}
	if err := os.WriteFile(lp.Path(), []byte("0123456789"), 0o600); err != nil {
		t.Fatal(err)
	}
	free = 40 * mib // the host's writes filled the disk
	if _, err := lp.Commit(t.Context(), 10); !errors.Is(err, store.ErrStorageFull) {
		t.Errorf("Commit below min_free_bytes: %v, want ErrStorageFull", err)
	}
	if got := dirNames(t, dir); len(got) != 0 {
		t.Errorf("data_dir holds %q after a refused commit", got)
	}

	// With room again, the same id goes through, and a duplicate is
	// refused at the start with the original intact.
	free = 100 * mib
	lp, err = s.BeginLocalPut(t.Context(), store.PutRequest{ImageID: "img", Size: 4})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(lp.Path(), []byte("data"), 0o600); err != nil {
		t.Fatal(err)
	}
	res, err := lp.Commit(t.Context(), 4)
	if err != nil {
		t.Fatalf("Commit: %v", err)
	}
	if _, err := s.BeginLocalPut(t.Context(), store.PutRequest{ImageID: "img", Size: 1}); !errors.Is(err, store.ErrAlreadyExists) {
		t.Errorf("BeginLocalPut of an existing id: %v, want ErrAlreadyExists", err)
	}
	if got := readAll(t, s, res.Location); string(got) != "data" {
		t.Errorf("the image holds %q", got)
	}
	if got := dirNames(t, dir); !slices.Equal(got, []string{"img"}) {
		t.Errorf("data_dir holds %q, want only the image", got)
	}
}

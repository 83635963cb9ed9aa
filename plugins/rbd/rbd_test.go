package rbd

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ceph/go-ceph/rados"
	"github.com/ceph/go-ceph/rbd"

	"github.com/glance-go/glance/sdk/store"
	"github.com/glance-go/glance/sdk/storetest"
)

// The cluster tests need a Ceph cluster: CEPH_CONF, CEPH_GLANCE_USER (or
// CEPH_USER) and CEPH_POOL, as scripts/ceph-micro.sh exports them. Without
// CEPH_CONF they are skipped, unless CI=true, where that is a failure.
type testCluster struct {
	conf, user, pool string
}

func needCluster(t *testing.T) testCluster {
	t.Helper()
	conf := os.Getenv("CEPH_CONF")
	if conf == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("CEPH_CONF is not set: no Ceph cluster to test against (scripts/ceph-micro.sh up DIR)")
		}
		t.Skip("CEPH_CONF is not set: no Ceph cluster (eval \"$(scripts/ceph-micro.sh up /tmp/ceph)\")")
	}
	tc := testCluster{conf: conf, user: os.Getenv("CEPH_GLANCE_USER"), pool: os.Getenv("CEPH_POOL")}
	if tc.user == "" {
		tc.user = os.Getenv("CEPH_USER")
	}
	if tc.pool == "" {
		tc.pool = defaultPool
	}
	return tc
}

func (tc testCluster) configJSON(t testing.TB, extra map[string]any) []byte {
	cfg := map[string]any{"ceph_conf": tc.conf, "user": tc.user, "pool": tc.pool, "connect_timeout": "20s"}
	for k, v := range extra {
		cfg[k] = v
	}
	js, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return js
}

// housekeeping are the objects of an RBD pool that no image owns.
var housekeeping = []string{"rbd_directory", "rbd_info", "rbd_trash", "rbd_children", "rbd_mirroring", "rbd_namespace", "rbd_task"}

// leftovers lists what images left in the pool: images, trash entries and
// every RADOS object but the pool's own.
func (tc testCluster) leftovers(t testing.TB) func() ([]string, error) {
	conn, err := rados.NewConnWithUser(tc.user)
	if err != nil {
		t.Fatal(err)
	}
	if err := conn.ReadConfigFile(tc.conf); err != nil {
		t.Fatal(err)
	}
	if err := conn.Connect(); err != nil {
		t.Fatalf("connecting to ceph: %v", err)
	}
	ioctx, err := conn.OpenIOContext(tc.pool)
	if err != nil {
		conn.Shutdown()
		t.Fatal(err)
	}
	t.Cleanup(func() { ioctx.Destroy(); conn.Shutdown() })
	return func() ([]string, error) {
		var out []string
		names, err := rbd.GetImageNames(ioctx)
		if err != nil {
			return nil, err
		}
		for _, n := range names {
			out = append(out, "image "+n)
		}
		trash, err := rbd.GetTrashList(ioctx)
		if err != nil {
			return nil, err
		}
		for _, e := range trash {
			out = append(out, "trash "+e.Name)
		}
		err = ioctx.ListObjects(func(oid string) {
			if !slices.Contains(housekeeping, oid) {
				out = append(out, "object "+oid)
			}
		})
		slices.Sort(out)
		return out, err
	}
}

func suiteConfig(t *testing.T, maxSize int64) storetest.Config {
	tc := needCluster(t)
	return storetest.Config{
		Setup: func(t testing.TB) ([]byte, func() ([]string, error)) {
			return tc.configJSON(t, nil), tc.leftovers(t)
		},
		New:           func() store.Backend { return New(nil) },
		MaxSize:       maxSize,
		SettleTimeout: 10 * time.Second,
		// TestStaleTemporaryImagesSwept proves the sweep instead.
		KillNotSwept: "a pool is shared by every glance-api node, so only temporary images older than an hour " +
			"and watched by no client are removed; a killed writer's watch lingers for 30 s",
	}
}

func TestConformance(t *testing.T) {
	storetest.Run(t, suiteConfig(t, 64<<20))
}

func TestConformanceGRPC(t *testing.T) {
	storetest.RunGRPC(t, suiteConfig(t, 64<<20))
}

// The full suite, 1 GiB known and unknown size included, against the real
// plugin process started as glance-api starts it.
func TestConformanceBinary(t *testing.T) {
	cfg := suiteConfig(t, 0)
	storetest.RunBinary(t, pluginBinary(t), cfg)
}

// pluginBinary returns $GLANCE_PLUGIN_DIR/glance-store-rbd when set, else a
// binary built now with -tags pacific.
func pluginBinary(t *testing.T) string {
	t.Helper()
	const name = "glance-store-rbd"
	if dir := os.Getenv("GLANCE_PLUGIN_DIR"); dir != "" {
		p := filepath.Join(dir, name)
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("GLANCE_PLUGIN_DIR is set but holds no plugin: %v", err)
		}
		return p
	}
	p := filepath.Join(t.TempDir(), name)
	out, err := exec.CommandContext(t.Context(), "go", "build", "-tags", "pacific", "-o", p, "./cmd/"+name).CombinedOutput()
	if err != nil {
		t.Fatalf("go build ./cmd/%s: %v\n%s", name, err, out)
	}
	return p
}

func newStore(t *testing.T, tc testCluster, extra map[string]any) *Store {
	t.Helper()
	s := New(nil)
	if _, err := s.Configure(t.Context(), store.Config{StoreID: "t", JSON: tc.configJSON(t, extra)}); err != nil {
		t.Fatalf("Configure: %v", err)
	}
	t.Cleanup(func() { s.Shutdown(context.Background()) })
	return s
}

// rbdCLI runs the rbd tool as the test user.
func (tc testCluster) rbdCLI(t *testing.T, args ...string) string {
	t.Helper()
	full := append([]string{"-c", tc.conf}, args...)
	if tc.user != "" {
		full = append([]string{"--id", tc.user}, full...)
	}
	cmd := exec.CommandContext(t.Context(), "rbd", full...)
	// CEPH_KEYRING would override the user's keyring from ceph.conf.
	cmd.Env = slices.DeleteFunc(os.Environ(), func(e string) bool {
		return strings.HasPrefix(e, "CEPH_KEYRING=") || strings.HasPrefix(e, "CEPH_ARGS=")
	})
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("rbd %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// TestCloneBlocksDelete: a clone of the protected snapshot (what Nova and
// Cinder make) makes Delete fail with ErrInUse and keeps the data; once the
// clone is flattened and removed, Delete succeeds and nothing remains.
func TestCloneBlocksDelete(t *testing.T) {
	tc := needCluster(t)
	s := newStore(t, tc, nil)
	list := tc.leftovers(t)
	before, err := list()
	if err != nil {
		t.Fatal(err)
	}
	const id = "c10e0000-0000-4000-8000-000000000001"
	data := bytes.Repeat([]byte("glance-rbd-clone "), 1<<20) // 17 MiB: several objects
	res, err := s.Put(t.Context(), store.PutRequest{ImageID: id, Size: int64(len(data))}, bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(res.Location, "/"+tc.pool+"/"+id+"/snap") || !strings.HasPrefix(res.Location, "rbd://") {
		t.Fatalf("location %q", res.Location)
	}
	info := tc.rbdCLI(t, "snap", "ls", "--all", tc.pool+"/"+id)
	if !strings.Contains(info, "snap") {
		t.Fatalf("rbd snap ls: %s", info)
	}
	child := tc.pool + "/" + id + "-child"
	tc.rbdCLI(t, "clone", tc.pool+"/"+id+"@snap", child)

	err = s.Delete(t.Context(), res.Location)
	if !errors.Is(err, store.ErrInUse) {
		t.Fatalf("Delete with a clone: %v, want ErrInUse", err)
	}
	t.Logf("Delete with a clone: %v", err)
	// Intact: the snapshot is still protected and the data reads back.
	if out := tc.rbdCLI(t, "info", tc.pool+"/"+id+"@snap"); !strings.Contains(out, "protected: True") {
		t.Errorf("the snapshot is no longer protected:\n%s", out)
	}
	rc, _, err := s.Get(t.Context(), res.Location, store.Whole)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(rc)
	rc.Close()
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read back after refused Delete: %d bytes, %v", len(got), err)
	}

	tc.rbdCLI(t, "flatten", child)
	tc.rbdCLI(t, "rm", child)
	if err := s.Delete(t.Context(), res.Location); err != nil {
		t.Fatalf("Delete after the clone went: %v", err)
	}
	if err := s.Delete(t.Context(), res.Location); err != nil {
		t.Errorf("Delete again: %v", err)
	}
	if _, err := s.Stat(t.Context(), res.Location); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Stat after Delete: %v, want ErrNotFound", err)
	}
	after, err := list()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(before, after) {
		t.Errorf("the pool held %q before and %q after", before, after)
	}
	if out := strings.TrimSpace(tc.rbdCLI(t, "ls", tc.pool)); out != "" {
		t.Errorf("rbd ls %s: %q", tc.pool, out)
	}
}

// TestOtherSnapshotBlocksDelete: a user snapshot besides "snap" is in use
// too (Glance: HasSnapshot, 409).
func TestOtherSnapshotBlocksDelete(t *testing.T) {
	tc := needCluster(t)
	s := newStore(t, tc, nil)
	const id = "c10e0000-0000-4000-8000-000000000002"
	res, err := s.Put(t.Context(), store.PutRequest{ImageID: id, Size: 5}, strings.NewReader("hello"))
	if err != nil {
		t.Fatal(err)
	}
	tc.rbdCLI(t, "snap", "create", tc.pool+"/"+id+"@backup")
	if err := s.Delete(t.Context(), res.Location); !errors.Is(err, store.ErrInUse) {
		t.Errorf("Delete with another snapshot: %v, want ErrInUse", err)
	}
	tc.rbdCLI(t, "snap", "rm", tc.pool+"/"+id+"@backup")
	if err := s.Delete(t.Context(), res.Location); err != nil {
		t.Errorf("Delete: %v", err)
	}
}

// TestUnknownSizeGrowsAndShrinks: an upload of unknown size ends as an
// image of exactly its size, with the layering feature and object size of
// the config.
func TestUnknownSizeGrowsAndShrinks(t *testing.T) {
	tc := needCluster(t)
	s := newStore(t, tc, map[string]any{"chunk_size": 4 << 20})
	const id = "c10e0000-0000-4000-8000-000000000003"
	size := int64(70<<20 + 12345) // past the first growth step
	body := io.LimitReader(&counting{}, size)
	res, err := s.Put(t.Context(), store.PutRequest{ImageID: id, Size: store.UnknownSize}, body)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Delete(context.Background(), res.Location)
	out := tc.rbdCLI(t, "info", "--format", "json", tc.pool+"/"+id)
	var info struct {
		Size     int64    `json:"size"`
		Order    int      `json:"order"`
		Features []string `json:"features"`
	}
	if err := json.Unmarshal([]byte(out), &info); err != nil {
		t.Fatalf("rbd info: %v\n%s", err, out)
	}
	if info.Size != size || info.Order != 22 || !slices.Contains(info.Features, "layering") {
		t.Errorf("rbd info: %+v, want size %d, order 22, layering", info, size)
	}
	rc, oi, err := s.Get(t.Context(), res.Location, store.Range{Offset: size - 10, Length: -1})
	if err != nil {
		t.Fatal(err)
	}
	tail, _ := io.ReadAll(rc)
	rc.Close()
	want, _ := io.ReadAll(io.NewSectionReader(readerAt{}, size-10, 10))
	if oi.Size != size || !bytes.Equal(tail, want) {
		t.Errorf("tail %x (size %d), want %x (%d)", tail, oi.Size, want, size)
	}
}

// counting yields byte i = i*7 mod 251; readerAt is the same at any offset.
type counting struct{ off int64 }

func (c *counting) Read(p []byte) (int, error) {
	n, _ := readerAt{}.ReadAt(p, c.off)
	c.off += int64(n)
	return n, nil
}

type readerAt struct{}

func (readerAt) ReadAt(p []byte, off int64) (int, error) {
	for i := range p {
		p[i] = byte((off + int64(i)) * 7 % 251)
	}
	return len(p), nil
}

func TestProbeMissingPool(t *testing.T) {
	tc := needCluster(t)
	s := New(nil)
	if _, err := s.Configure(t.Context(), store.Config{JSON: tc.configJSON(t, map[string]any{"pool": "no-such-pool"})}); err != nil {
		t.Fatalf("Configure: %v (a missing pool is a probe failure)", err)
	}
	defer s.Shutdown(context.Background())
	err := s.Probe(t.Context())
	if !errors.Is(err, store.ErrUnavailable) || !strings.Contains(err.Error(), `pool "no-such-pool" does not exist`) {
		t.Errorf("Probe: %v, want ErrUnavailable naming the pool", err)
	}
}

func TestLocationOfOtherClusterOrPool(t *testing.T) {
	tc := needCluster(t)
	s := newStore(t, tc, nil)
	const id = "c10e0000-0000-4000-8000-000000000004"
	res, err := s.Put(t.Context(), store.PutRequest{ImageID: id, Size: 3}, strings.NewReader("abc"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Delete(context.Background(), res.Location)
	l, err := parseLocation(res.Location)
	if err != nil {
		t.Fatal(err)
	}
	other := l
	other.fsid = "00000000-0000-4000-8000-000000000000"
	pool := l
	pool.pool = "other"
	for _, bad := range []loc{other, pool} {
		if _, err := s.Stat(t.Context(), bad.String()); !errors.Is(err, store.ErrInvalidLocation) {
			t.Errorf("Stat(%s): %v, want ErrInvalidLocation", bad, err)
		}
		if err := s.Delete(t.Context(), bad.String()); !errors.Is(err, store.ErrInvalidLocation) {
			t.Errorf("Delete(%s): %v, want ErrInvalidLocation", bad, err)
		}
	}
	// The legacy form names the image in the store's pool.
	if oi, err := s.Stat(t.Context(), "rbd://"+id); err != nil || oi.Size != 3 {
		t.Errorf("Stat(legacy) = %+v, %v", oi, err)
	}
}

// --- without a cluster -------------------------------------------------

func TestParseConfig(t *testing.T) {
	conf := filepath.Join(t.TempDir(), "ceph.conf")
	if err := os.WriteFile(conf, []byte("[global]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name     string
		cfg      string
		wantPath string // "" means valid
		check    func(config) bool
	}{
		{"defaults", `{"ceph_conf": "` + conf + `"}`, "", func(c config) bool {
			return c.pool == "images" && c.order == 23 && c.user == "" && c.connectTimeout == 30*time.Second
		}},
		{"all", `{"ceph_conf": "` + conf + `", "user": "client.glance", "pool": "imgs", "chunk_size": 4194304, "connect_timeout": "5s"}`, "", func(c config) bool {
			return c.pool == "imgs" && c.order == 22 && c.user == "glance" && c.connectTimeout == 5*time.Second
		}},
		{"chunk_float", `{"ceph_conf": "` + conf + `", "chunk_size": 8.388608e+06}`, "", func(c config) bool { return c.order == 23 }},
		{"chunk_min", `{"ceph_conf": "` + conf + `", "chunk_size": 4096}`, "", func(c config) bool { return c.order == 12 }},
		{"chunk_max", `{"ceph_conf": "` + conf + `", "chunk_size": 33554432}`, "", func(c config) bool { return c.order == 25 }},
		{"chunk_not_power", `{"ceph_conf": "` + conf + `", "chunk_size": 5000000}`, "chunk_size", nil},
		{"chunk_too_small", `{"ceph_conf": "` + conf + `", "chunk_size": 2048}`, "chunk_size", nil},
		{"chunk_too_big", `{"ceph_conf": "` + conf + `", "chunk_size": 67108864}`, "chunk_size", nil},
		{"chunk_negative", `{"ceph_conf": "` + conf + `", "chunk_size": -4096}`, "chunk_size", nil},
		{"chunk_fraction", `{"ceph_conf": "` + conf + `", "chunk_size": 4096.5}`, "chunk_size", nil},
		{"timeout_bad", `{"ceph_conf": "` + conf + `", "connect_timeout": "soon"}`, "connect_timeout", nil},
		{"timeout_short", `{"ceph_conf": "` + conf + `", "connect_timeout": "10ms"}`, "connect_timeout", nil},
		{"user_bad", `{"ceph_conf": "` + conf + `", "user": "a b"}`, "user", nil},
		{"pool_bad", `{"ceph_conf": "` + conf + `", "pool": "a/b"}`, "pool", nil},
		{"conf_missing", `{"ceph_conf": "` + conf + `.missing"}`, "ceph_conf", nil},
		{"unknown_attribute", `{"ceph_conf": "` + conf + `", "keyring": "/x"}`, "keyring", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := store.Config{JSON: []byte(tc.cfg)}
			d := New(nil).ValidateConfig(t.Context(), cfg)
			if tc.wantPath == "" {
				if d.HasErrors() {
					t.Fatalf("ValidateConfig: %v", d.Err())
				}
				c, _ := parseConfig(cfg)
				if !tc.check(c) {
					t.Errorf("parsed %+v", c)
				}
				return
			}
			if !d.HasErrors() {
				t.Fatalf("no error, want one about %s", tc.wantPath)
			}
			for _, x := range d {
				if x.Severity == store.SeverityError && !slices.Equal(x.Path, []string{tc.wantPath}) {
					t.Errorf("diagnostic %q has path %q, want [%s]", x.Summary, x.Path, tc.wantPath)
				}
			}
			if _, err := New(nil).Configure(t.Context(), cfg); !errors.Is(err, store.ErrInvalidConfig) {
				t.Errorf("Configure: %v, want ErrInvalidConfig", err)
			}
		})
	}
}

func TestLocations(t *testing.T) {
	const fsid = "6b1c2d3e-0000-4000-8000-123456789abc"
	const id = "7c2a1d0e-4f6b-4e8a-9b1c-2d3e4f5a6b7c"
	good := []struct {
		in   string
		want loc
	}{
		{"rbd://" + fsid + "/images/" + id + "/snap", loc{fsid, "images", id, "snap"}},
		{"rbd://" + fsid + "/my%20pool/" + id + "/snap", loc{fsid, "my pool", id, "snap"}},
		{"rbd://" + id, loc{image: id}},
	}
	for _, g := range good {
		l, err := parseLocation(g.in)
		if err != nil || l != g.want {
			t.Errorf("parseLocation(%q) = %+v, %v; want %+v", g.in, l, err, g.want)
		}
	}
	bad := []string{
		"", "rbd://", "rbd:///", "file:///x", "rbd:" + id, "RBD://" + id,
		"rbd://" + fsid + "/images/" + id,
		"rbd://" + fsid + "/images/" + id + "/snap/x",
		"rbd://" + fsid + "//" + id + "/snap",
		"rbd://" + fsid + "/images/../snap",
		"rbd://" + fsid + "/images/" + id + "/snap?x=1",
		"rbd://" + fsid + "/images/" + id + "/snap#x",
		"rbd://" + fsid + "/images/a%2Fb/snap",
		"rbd://" + fsid + "/images/" + id + "%00/snap",
		"rbd://" + fsid + "/images/%zz/snap",
		"rbd://" + fsid + "/images/.tmp/snap",
		"rbd:///../../../x/" + id,
	}
	for _, b := range bad {
		if l, err := parseLocation(b); !errors.Is(err, store.ErrInvalidLocation) {
			t.Errorf("parseLocation(%q) = %+v, %v; want ErrInvalidLocation", b, l, err)
		}
	}
	// Glance's quoting, and a round trip.
	l := loc{fsid, "pool x/é", id, "snap"}
	s := l.String()
	if want := "rbd://" + fsid + "/pool%20x%2F%C3%A9/" + id + "/snap"; s != want {
		t.Errorf("String() = %q, want %q", s, want)
	}
}

type errnoErr int

func (e errnoErr) Error() string  { return fmt.Sprintf("errno %d", int(e)) }
func (e errnoErr) ErrorCode() int { return int(e) }

func TestCephErr(t *testing.T) {
	cases := []struct {
		err  error
		want error
	}{
		{errnoErr(-int(syscall.ENOENT)), store.ErrNotFound},
		{rbd.ErrNotFound, store.ErrNotFound},
		{errnoErr(-int(syscall.EEXIST)), store.ErrAlreadyExists},
		{errnoErr(-int(syscall.EBUSY)), store.ErrInUse},
		{errnoErr(-int(syscall.ENOSPC)), store.ErrStorageFull},
		{errnoErr(-int(syscall.EDQUOT)), store.ErrStorageFull},
		{errnoErr(-int(syscall.EACCES)), store.ErrForbidden},
		{errnoErr(-int(syscall.EPERM)), store.ErrForbidden},
		{errnoErr(-int(syscall.ETIMEDOUT)), store.ErrUnavailable},
		{fmt.Errorf("wrapped: %w", errnoErr(-int(syscall.EBUSY))), store.ErrInUse},
	}
	for _, tc := range cases {
		got := cephErr("op", tc.err)
		if !errors.Is(got, tc.want) || !errors.Is(got, tc.err) {
			t.Errorf("cephErr(%v) = %v, want %v wrapping the cause", tc.err, got, tc.want)
		}
	}
	if got := cephErr("op", errnoErr(-int(syscall.EIO))); !strings.Contains(got.Error(), "op") {
		t.Errorf("cephErr(EIO) = %v", got)
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
	if _, _, err := s.Get(ctx, "rbd://a", store.Whole); !errors.Is(err, store.ErrNotConfigured) {
		t.Errorf("Get: %v", err)
	}
	if err := s.Delete(ctx, "rbd://a"); !errors.Is(err, store.ErrNotConfigured) {
		t.Errorf("Delete: %v", err)
	}
}

// TestStaleTemporaryImagesSwept: Configure removes temporary images nobody
// has open, and keeps one a live upload (here: the test) holds open.
func TestStaleTemporaryImagesSwept(t *testing.T) {
	tc := needCluster(t)
	old := staleAge
	staleAge = 0
	defer func() { staleAge = old }()
	const orphan, live = tmpPrefix + "c10e0000-0000-4000-8000-000000000005.aa", tmpPrefix + "c10e0000-0000-4000-8000-000000000005.bb"
	for _, n := range []string{orphan, live} {
		tc.rbdCLI(t, "create", "--size", "4M", tc.pool+"/"+n)
	}
	list := tc.leftovers(t)
	conn, _ := rados.NewConnWithUser(tc.user)
	if err := conn.ReadConfigFile(tc.conf); err != nil {
		t.Fatal(err)
	}
	if err := conn.Connect(); err != nil {
		t.Fatal(err)
	}
	defer conn.Shutdown()
	ioctx, err := conn.OpenIOContext(tc.pool)
	if err != nil {
		t.Fatal(err)
	}
	defer ioctx.Destroy()
	img, err := rbd.OpenImage(ioctx, live, rbd.NoSnapshot)
	if err != nil {
		t.Fatal(err)
	}
	newStore(t, tc, nil)
	img.Close()
	got, err := list()
	if err != nil {
		t.Fatal(err)
	}
	tc.rbdCLI(t, "rm", tc.pool+"/"+live)
	if !slices.Contains(got, "image "+live) || slices.Contains(got, "image "+orphan) {
		t.Errorf("after Configure the pool holds %q; want %s kept and %s removed", got, live, orphan)
	}
}

// TestConcurrentDuplicatePuts: of two uploads of one image id at once,
// exactly one wins; the loser gets ErrAlreadyExists and its temporary
// image (with its protected snapshot) is gone.
func TestConcurrentDuplicatePuts(t *testing.T) {
	tc := needCluster(t)
	s := newStore(t, tc, nil)
	list := tc.leftovers(t)
	before, err := list()
	if err != nil {
		t.Fatal(err)
	}
	const id = "c10e0000-0000-4000-8000-000000000006"
	size := int64(20 << 20)
	errs := make(chan error, 2)
	locs := make(chan string, 2)
	for range 2 {
		go func() {
			res, err := s.Put(t.Context(), store.PutRequest{ImageID: id, Size: size}, io.LimitReader(&counting{}, size))
			locs <- res.Location
			errs <- err
		}()
	}
	var won int
	var loc string
	for range 2 {
		if l := <-locs; l != "" {
			loc = l
		}
		switch err := <-errs; {
		case err == nil:
			won++
		case !errors.Is(err, store.ErrAlreadyExists):
			t.Errorf("the losing Put: %v, want ErrAlreadyExists", err)
		}
	}
	if won != 1 {
		t.Fatalf("%d Puts succeeded, want 1", won)
	}
	got, _ := list()
	if want := append(slices.Clone(before), "image "+id); !slices.Contains(got, "image "+id) || len(slices.DeleteFunc(slices.Clone(got), func(e string) bool { return strings.HasPrefix(e, "object ") })) != len(want) {
		t.Errorf("the pool holds %q", got)
	}
	if err := s.Delete(t.Context(), loc); err != nil {
		t.Fatal(err)
	}
	if after, _ := list(); !slices.Equal(before, after) {
		t.Errorf("the pool held %q before and %q after", before, after)
	}
}

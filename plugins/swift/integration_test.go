//go:build integration

package swift

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	ncw "github.com/ncw/swift/v2"

	"github.com/glance-go/glance/sdk/store"
	"github.com/glance-go/glance/sdk/storeplugin"
	"github.com/glance-go/glance/sdk/storetest"
)

// The cluster tests need a Swift API: SWIFT_AUTH_URL, SWIFT_USER and
// SWIFT_KEY as scripts/swift-saio.sh (OpenStack Swift) or
// scripts/ceph-micro.sh (radosgw) export them, and optionally
// SWIFT_CONTAINER (default: a fresh container per run, removed at the end).
// Without SWIFT_AUTH_URL they fail: these files are the integration tier (build tag integration).
type testCluster struct {
	authURL, user, key string
	container          string // from SWIFT_CONTAINER, or ""
	c                  *ncw.Connection
}

func needCluster(t testing.TB) testCluster {
	t.Helper()
	tc := testCluster{
		authURL: os.Getenv("SWIFT_AUTH_URL"), user: os.Getenv("SWIFT_USER"), key: os.Getenv("SWIFT_KEY"),
		container: os.Getenv("SWIFT_CONTAINER"),
	}
	if tc.authURL == "" {
		t.Fatal("SWIFT_AUTH_URL is not set: no Swift to test against (eval \"$(scripts/swift-saio.sh up /tmp/saio)\")")
	}
	if tc.user == "" || tc.key == "" {
		t.Fatal("SWIFT_AUTH_URL is set but SWIFT_USER or SWIFT_KEY is not")
	}
	tc.c = tc.dial(t)
	return tc
}

// conn is a connection of the test's own, to look at the container
// through Swift's API rather than through the store.
func (tc testCluster) conn(t testing.TB) *ncw.Connection {
	if tc.c != nil {
		return tc.c
	}
	return tc.dial(t)
}

func (tc testCluster) dial(t testing.TB) *ncw.Connection {
	t.Helper()
	c := &ncw.Connection{AuthUrl: tc.authURL, UserName: tc.user, ApiKey: tc.key}
	if strings.Contains(tc.authURL, "v1") || !strings.Contains(tc.authURL, "v3") {
		c.AuthVersion = 1
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.Authenticate(ctx); err != nil {
		t.Fatalf("authenticating to %s as %s: %v", tc.authURL, tc.user, err)
	}
	return c
}

func randomName(prefix string) string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// newContainer returns the container for one run: SWIFT_CONTAINER, or a
// fresh one that is deleted, with whatever it holds, at the test's end.
func (tc testCluster) newContainer(t testing.TB) string {
	t.Helper()
	if tc.container != "" {
		return tc.container
	}
	name := randomName("glance-test-")
	t.Cleanup(func() {
		c := tc.conn(t)
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		names, err := c.ObjectNamesAll(ctx, name, nil)
		if statusOf(err) == 404 {
			return
		}
		for _, n := range names {
			_ = c.ObjectDelete(ctx, name, n)
		}
		if err := c.ContainerDelete(ctx, name); err != nil && statusOf(err) != 404 {
			t.Logf("removing test container %s: %v", name, err)
		}
	})
	return name
}

func (tc testCluster) configJSON(t testing.TB, container string, extra map[string]any) []byte {
	t.Helper()
	cfg := map[string]any{
		"auth_url": tc.authURL, "user": tc.user, "key": tc.key,
		"container": container, "create_container": true,
	}
	if !strings.Contains(tc.authURL, "v3") {
		cfg["auth_version"] = 1
	}
	for k, v := range extra {
		cfg[k] = v
	}
	js, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return js
}

// list lists every object in container (segments included), through
// Swift's own API.
func (tc testCluster) list(t testing.TB, container, prefix string) ([]string, error) {
	c := tc.conn(t)
	names, err := c.ObjectNamesAll(context.Background(), container, &ncw.ObjectsOpts{Prefix: prefix})
	if statusOf(err) == 404 {
		return nil, nil
	}
	return names, err
}

func (tc testCluster) suiteConfig(extra map[string]any) storetest.Config {
	return storetest.Config{
		Setup: func(t testing.TB) ([]byte, func() ([]string, error)) {
			container := tc.newContainer(t)
			return tc.configJSON(t, container, extra), func() ([]string, error) { return tc.list(t, container, "") }
		},
		New:           func() store.Backend { return New(nil) },
		SettleTimeout: 10 * time.Second,
	}
}

// TestConformanceBinary runs the suite against the real plugin process,
// 1 GiB round trips included (outside -short). Images above 32 MiB and
// those of unknown size go as SLOs of 16 MiB segments.
func TestConformanceBinary(t *testing.T) {
	tc := needCluster(t)
	cfg := tc.suiteConfig(map[string]any{"large_object_threshold": 32 << 20, "segment_size": 16 << 20})
	storetest.RunBinary(t, pluginBinary(t), cfg)
}

// TestConformanceSmallSegments runs the suite in process with 1 MiB
// segments above 1 MiB, so ranges, aborts and cancellations cross segment
// boundaries.
func TestConformanceSmallSegments(t *testing.T) {
	tc := needCluster(t)
	cfg := tc.suiteConfig(map[string]any{"large_object_threshold": 1 << 20, "segment_size": 1 << 20})
	cfg.MaxSize = 16 << 20
	storetest.Run(t, cfg)
}

// pluginBinary returns $GLANCE_PLUGIN_DIR/glance-store-swift when
// GLANCE_PLUGIN_DIR is set (make build's bin/), else a binary built now.
func pluginBinary(t *testing.T) string {
	t.Helper()
	const name = "glance-store-swift"
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

// startBinary starts the plugin binary as glance-api does and configures it.
func startBinary(t *testing.T, cfgJSON []byte) *storeplugin.Client {
	t.Helper()
	c, err := storeplugin.NewClient(storeplugin.ClientConfig{Path: pluginBinary(t), Logger: hclog.New(&hclog.LoggerOptions{Level: hclog.Warn, Output: os.Stderr})})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Kill)
	if _, err := c.Configure(t.Context(), store.Config{StoreID: "swift", JSON: cfgJSON}); err != nil {
		t.Fatal(err)
	}
	if err := c.Probe(t.Context()); err != nil {
		t.Fatal(err)
	}
	return c
}

// patternBody yields n bytes, then behaves as told: cancels ctx and goes on
// yielding, or fails with err.
type patternBody struct {
	n, sent int64
	cancel  context.CancelFunc
	err     error
}

func (p *patternBody) Read(b []byte) (int, error) {
	if p.sent >= p.n {
		if p.cancel != nil {
			p.cancel()
			time.Sleep(10 * time.Millisecond)
			return copy(b, make([]byte, min(len(b), 4096))), nil
		}
		return 0, p.err
	}
	k := int(min(int64(len(b)), p.n-p.sent))
	for i := range b[:k] {
		b[i] = byte(p.sent + int64(i))
	}
	p.sent += int64(k)
	return k, nil
}

// TestFailedUploadLeavesNoSegments: a large upload (several 1 MiB segments
// written) that is cancelled or aborted leaves no object and no segment, as
// Swift's own listing and HEAD show, through the real plugin process.
func TestFailedUploadLeavesNoSegments(t *testing.T) {
	tc := needCluster(t)
	container := tc.newContainer(t)
	c := startBinary(t, tc.configJSON(t, container, map[string]any{"large_object_threshold": 1 << 20, "segment_size": 1 << 20}))
	cases := []struct {
		name   string
		size   int64
		cancel bool
		err    error
	}{
		{"cancelled_unknown_size", store.UnknownSize, true, nil},
		{"cancelled_known_size", 8 << 20, true, nil},
		{"aborted_unknown_size", store.UnknownSize, false, store.ErrAborted},
		{"checksum_mismatch_known_size", 5<<20 + 3, false, store.ErrChecksumMismatch},
	}
	for _, tcase := range cases {
		t.Run(tcase.name, func(t *testing.T) {
			id := randomName("img-")
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			body := &patternBody{n: 5<<20 + 3, err: tcase.err}
			if tcase.cancel {
				body.cancel = cancel
			}
			res, err := c.Put(ctx, store.PutRequest{ImageID: id, Size: tcase.size}, body)
			if err == nil {
				t.Fatalf("Put succeeded: %q", res.Location)
			}
			if tcase.err != nil && !errors.Is(err, tcase.err) {
				t.Errorf("Put: %v, want %v", err, tcase.err)
			}
			// The plugin cleans up before answering; allow the listing to
			// catch up.
			var left []string
			for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
				left, err = tc.list(t, container, id)
				if err != nil {
					t.Fatal(err)
				}
				if len(left) == 0 || time.Now().After(deadline) {
					break
				}
			}
			if len(left) > 0 {
				t.Errorf("after the failed Put the container holds %q", left)
			}
			if _, _, err := tc.conn(t).Object(t.Context(), container, id); statusOf(err) != 404 {
				t.Errorf("HEAD of the image object: %v, want 404", err)
			}
		})
	}
}

// TestSLODeleteRemovesSegments: a segmented image is an SLO manifest whose
// Delete removes it and every segment.
func TestSLODeleteRemovesSegments(t *testing.T) {
	tc := needCluster(t)
	container := tc.newContainer(t)
	s := New(nil)
	if _, err := s.Configure(t.Context(), store.Config{JSON: tc.configJSON(t, container, map[string]any{"large_object_threshold": 1 << 20, "segment_size": 1 << 20})}); err != nil {
		t.Fatal(err)
	}
	if err := s.Probe(t.Context()); err != nil {
		t.Fatal(err)
	}
	for _, size := range []int64{3<<20 + 5, store.UnknownSize} {
		id := randomName("img-")
		res, err := s.Put(t.Context(), store.PutRequest{ImageID: id, Size: size}, io.LimitReader(&patternBody{n: 3<<20 + 5}, 3<<20+5))
		if err != nil {
			t.Fatalf("Put(size %d): %v", size, err)
		}
		if want := "swift://" + container + "/" + id; res.Location != want {
			t.Errorf("location %q, want %q", res.Location, want)
		}
		names, err := tc.list(t, container, id)
		if err != nil {
			t.Fatal(err)
		}
		if len(names) != 5 { // the manifest and 4 segments
			t.Errorf("size %d: container holds %q, want the manifest and 4 segments", size, names)
		}
		_, h, err := tc.conn(t).Object(t.Context(), container, id)
		if err != nil || !h.IsLargeObjectSLO() {
			t.Errorf("size %d: the image object is not an SLO manifest (%v, %v)", size, h, err)
		}
		rc, oi, err := s.Get(t.Context(), res.Location, store.Range{Offset: 1<<20 - 2, Length: 5})
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(rc)
		rc.Close()
		if oi.Size != 3<<20+5 || len(got) != 5 || got[0] != byte((1<<20-2)%256) {
			t.Errorf("range across a segment edge: size %d, %v", oi.Size, got)
		}
		if err := s.Delete(t.Context(), res.Location); err != nil {
			t.Fatal(err)
		}
		if names, _ := tc.list(t, container, id); len(names) != 0 {
			t.Errorf("after Delete the container holds %q", names)
		}
	}
}

// TestProbeReasons: wrong credentials and a missing container make Probe
// fail with a reason an operator can act on.
func TestProbeReasons(t *testing.T) {
	tc := needCluster(t)
	cases := []struct {
		name    string
		mutate  func(cfg map[string]any)
		want    error
		message string
	}{
		{"wrong_key", func(c map[string]any) { c["key"] = "not-the-key" }, store.ErrUnauthenticated, "authenticating as"},
		{"missing_container", func(c map[string]any) { c["container"] = randomName("missing-"); c["create_container"] = false }, store.ErrUnavailable, "does not exist"},
	}
	for _, tcase := range cases {
		t.Run(tcase.name, func(t *testing.T) {
			var cfg map[string]any
			if err := json.Unmarshal(tc.configJSON(t, "glance", nil), &cfg); err != nil {
				t.Fatal(err)
			}
			tcase.mutate(cfg)
			js, _ := json.Marshal(cfg)
			s := New(nil)
			if _, err := s.Configure(t.Context(), store.Config{JSON: js}); err != nil {
				t.Fatal(err)
			}
			err := s.Probe(t.Context())
			if !errors.Is(err, tcase.want) || !strings.Contains(err.Error(), tcase.message) {
				t.Errorf("Probe: %v, want %v mentioning %q", err, tcase.want, tcase.message)
			}
			if err != nil && strings.Contains(err.Error(), "not-the-key") {
				t.Errorf("Probe's error shows the key: %v", err)
			}
		})
	}
}

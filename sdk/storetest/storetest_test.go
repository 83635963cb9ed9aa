package storetest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/iotest"
	"time"

	"github.com/glance-go/glance/sdk/store"
)

// The suite's own tests: a correct in-memory store passes Run, and broken
// variants of it make the suite fail, each in the case meant to catch it.
// A failing suite run would fail this test too, so the broken variants run in
// a child process (this test binary re-executed with -test.run and an
// environment variable), whose exit status and `go test -v` output are
// checked. The child runs the real engine on a real *testing.T, so nothing
// here depends on a mock of testing's semantics (FailNow, Skip, Cleanup).

// --- an in-memory store --------------------------------------------------

// bucket is the backing store of memStore, named in its config the way an
// object store names a bucket. Uploads in flight live under tmp/, committed
// objects under obj/; the leftovers lister lists both.
type bucket struct {
	mu   sync.Mutex
	objs map[string][]byte
}

var (
	buckets   sync.Map // name → *bucket
	bucketSeq atomic.Int64
)

func (b *bucket) keys() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var k []string
	for n := range b.objs {
		k = append(k, n)
	}
	slices.Sort(k)
	return k
}

// memStore is a small, correct Backend unless broken names a flaw:
//
//	partial-commit     keeps what arrived when the body fails
//	ignore-offset      reads every range from offset 0
//	keep-after-delete  answers Delete with nil and keeps the object
type memStore struct {
	broken string
	name   string
	b      *bucket
	seq    atomic.Int64
}

var memIDRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$`)

func (m *memStore) Info() store.Info {
	return store.Info{
		Name: "memory", Version: "0.1.0", Schemes: []string{"mem"},
		ConfigSchema: store.Schema{Attributes: []store.Attribute{
			{Name: "bucket", Type: store.TypeString, Required: true},
			{Name: "access_key", Type: store.TypeString, Sensitive: true},
		}},
	}
}

type memConfig struct {
	Bucket    string `json:"bucket"`
	AccessKey string `json:"access_key"`
}

func (m *memStore) Configure(_ context.Context, cfg store.Config) (store.Capabilities, error) {
	var c memConfig
	if err := cfg.Decode(&c); err != nil {
		return store.Capabilities{}, err
	}
	b, ok := buckets.Load(c.Bucket)
	if !ok {
		return store.Capabilities{}, fmt.Errorf("%w: no bucket %q", store.ErrInvalidConfig, c.Bucket)
	}
	m.name, m.b = c.Bucket, b.(*bucket)
	return store.Capabilities{Read: true, ReadRange: true, Write: true, WriteUnknownSize: true, Delete: true, ConcurrentSafe: true}, nil
}

func (m *memStore) Probe(context.Context) error {
	if m.b == nil {
		return store.ErrNotConfigured
	}
	return nil
}

func (m *memStore) Put(ctx context.Context, req store.PutRequest, body io.Reader) (store.PutResult, error) {
	if m.b == nil {
		return store.PutResult{}, store.ErrNotConfigured
	}
	id := req.ImageID
	if !memIDRE.MatchString(id) {
		return store.PutResult{}, fmt.Errorf("%w: image id %q", store.ErrInvalidArgument, id)
	}
	key := "obj/" + id
	tmp := fmt.Sprintf("tmp/%s.%d", id, m.seq.Add(1))
	m.b.mu.Lock()
	_, exists := m.b.objs[key]
	if !exists {
		m.b.objs[tmp] = nil
	}
	m.b.mu.Unlock()
	if exists {
		return store.PutResult{}, fmt.Errorf("%w: %s", store.ErrAlreadyExists, id)
	}
	committed := false
	defer func() {
		if !committed {
			m.b.mu.Lock()
			delete(m.b.objs, tmp)
			m.b.mu.Unlock()
		}
	}()
	var data []byte
	buf := make([]byte, 256<<10)
	for {
		if err := ctx.Err(); err != nil {
			return store.PutResult{}, fmt.Errorf("mem: put %s: %w", id, err)
		}
		n, err := body.Read(buf)
		data = append(data, buf[:n]...)
		if req.Size >= 0 && int64(len(data)) > req.Size {
			return store.PutResult{}, fmt.Errorf("%w: more than %d bytes", store.ErrSizeMismatch, req.Size)
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			if m.broken == "partial-commit" {
				m.b.mu.Lock()
				m.b.objs[key] = data
				m.b.mu.Unlock()
			}
			return store.PutResult{}, fmt.Errorf("mem: put %s: %w", id, err)
		}
	}
	if req.Size >= 0 && int64(len(data)) != req.Size {
		return store.PutResult{}, fmt.Errorf("%w: %d bytes, declared %d", store.ErrSizeMismatch, len(data), req.Size)
	}
	if err := ctx.Err(); err != nil {
		return store.PutResult{}, fmt.Errorf("mem: put %s: %w", id, err)
	}
	m.b.mu.Lock()
	defer m.b.mu.Unlock()
	if _, ok := m.b.objs[key]; ok {
		return store.PutResult{}, fmt.Errorf("%w: %s", store.ErrAlreadyExists, id)
	}
	m.b.objs[key] = data
	delete(m.b.objs, tmp)
	committed = true
	loc := url.URL{Scheme: "mem", Host: m.name, Path: "/" + id}
	return store.PutResult{Location: loc.String(), Size: int64(len(data))}, nil
}

func (m *memStore) key(location string) (string, error) {
	if m.b == nil {
		return "", store.ErrNotConfigured
	}
	u, err := url.Parse(location)
	if err != nil || u.Scheme != "mem" || u.Host != m.name || !memIDRE.MatchString(strings.TrimPrefix(u.Path, "/")) {
		return "", fmt.Errorf("%w: %q", store.ErrInvalidLocation, location)
	}
	return "obj/" + strings.TrimPrefix(u.Path, "/"), nil
}

func (m *memStore) lookup(location string) ([]byte, error) {
	k, err := m.key(location)
	if err != nil {
		return nil, err
	}
	m.b.mu.Lock()
	defer m.b.mu.Unlock()
	d, ok := m.b.objs[k]
	if !ok {
		return nil, fmt.Errorf("%w: %s", store.ErrNotFound, location)
	}
	return d, nil
}

func (m *memStore) Get(_ context.Context, location string, r store.Range) (io.ReadCloser, store.ObjectInfo, error) {
	d, err := m.lookup(location)
	if err != nil {
		return nil, store.ObjectInfo{}, err
	}
	size := int64(len(d))
	switch {
	case r.Offset < 0:
		return nil, store.ObjectInfo{}, fmt.Errorf("%w: offset %d", store.ErrInvalidArgument, r.Offset)
	case r.Offset > size:
		return nil, store.ObjectInfo{}, fmt.Errorf("%w: offset %d of %d", store.ErrOutOfRange, r.Offset, size)
	}
	off := r.Offset
	if m.broken == "ignore-offset" {
		off = 0
	}
	end := size
	if r.Length >= 0 && off+r.Length < end {
		end = off + r.Length
	}
	return io.NopCloser(bytes.NewReader(d[off:end])), store.ObjectInfo{Size: size}, nil
}

func (m *memStore) Stat(_ context.Context, location string) (store.ObjectInfo, error) {
	d, err := m.lookup(location)
	if err != nil {
		return store.ObjectInfo{}, err
	}
	return store.ObjectInfo{Size: int64(len(d))}, nil
}

func (m *memStore) Delete(_ context.Context, location string) error {
	k, err := m.key(location)
	if err != nil {
		return err
	}
	if m.broken == "keep-after-delete" {
		return nil
	}
	m.b.mu.Lock()
	delete(m.b.objs, k)
	m.b.mu.Unlock()
	return nil
}

// memSuiteConfig returns the suite config for a memStore with the given
// flaw ("" for none).
func memSuiteConfig(broken string) Config {
	return Config{
		Setup: func(t testing.TB) ([]byte, func() ([]string, error)) {
			name := fmt.Sprintf("bucket-%d", bucketSeq.Add(1))
			b := &bucket{objs: map[string][]byte{}}
			buckets.Store(name, b)
			t.Cleanup(func() { buckets.Delete(name) })
			js, _ := json.Marshal(memConfig{Bucket: name, AccessKey: "s3cr3t-access-key"})
			return js, func() ([]string, error) { return b.keys(), nil }
		},
		New: func() store.Backend { return &memStore{broken: broken} },
		// Memory is the backing store here: 64 MiB shows the streaming
		// works without holding a GiB in RAM.
		MaxSize: 64 * mib,
	}
}

func TestMemoryStorePasses(t *testing.T) {
	Run(t, memSuiteConfig(""))
}

func TestMemoryStorePassesSmallChunks(t *testing.T) {
	cfg := memSuiteConfig("")
	cfg.ChunkSize = 4096 + 3 // odd, so chunk edges fall across every boundary
	cfg.MaxSize = 1 * mib
	Run(t, cfg)
}

// --- broken stores must fail ---------------------------------------------

const brokenEnv = "STORETEST_BROKEN_VARIANT"

// TestBrokenStoreHelper runs the suite against a broken store; it only does
// so in the child process started by TestSuiteCatchesBrokenStores.
func TestBrokenStoreHelper(t *testing.T) {
	v := os.Getenv(brokenEnv)
	if v == "" {
		t.Skip("runs in the child process of TestSuiteCatchesBrokenStores")
	}
	cfg := memSuiteConfig(v)
	cfg.MaxSize = 2 * mib
	cfg.SettleTimeout = 100 * time.Millisecond // nothing here is asynchronous
	Run(t, cfg)
}

func TestSuiteCatchesBrokenStores(t *testing.T) {
	const helper = "TestBrokenStoreHelper"
	cases := []brokenCase{
		{
			variant:  "partial-commit",
			wantFail: []string{"Abort/body_aborted_midway", "Abort/checksum_mismatch", "Deadline", "Leftovers"},
			wantPass: []string{"Info", "RoundTrip", "Range", "Abort/body_shorter_than_size", "Delete"},
		},
		{
			variant:  "ignore-offset",
			wantFail: []string{"Range/middle_across_chunks", "Range/offset_size-1", "Range/length_past_end"},
			wantPass: []string{"Range/offset_0_length_1", "Range/whole", "Range/offset_past_size", "RoundTrip", "Leftovers"},
		},
		{
			variant:  "keep-after-delete",
			wantFail: []string{"Delete", "Leftovers"},
			wantPass: []string{"Info", "RoundTrip", "Range", "NotFound"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.variant, func(t *testing.T) {
			t.Parallel()
			runBroken(t, helper, brokenEnv, "", tc)
		})
	}
}

// --- the data generator and checker ----------------------------------------

func TestPatternIsPositionAddressable(t *testing.T) {
	for _, sparse := range []bool{false, true} {
		p := pattern{seed: 42, sparse: sparse}
		whole := make([]byte, 3*sparseBlock+11)
		p.fill(whole, 0)
		for _, r := range [][2]int{{0, 1}, {1, 7}, {3, 20}, {8, 8}, {sparseBlock - 5, 10}, {100, 2*sparseBlock + 3}} {
			part := make([]byte, r[1])
			p.fill(part, int64(r[0]))
			if !bytes.Equal(part, whole[r[0]:r[0]+r[1]]) {
				t.Errorf("sparse=%v: fill at %d, %d bytes differs from the whole stream", sparse, r[0], r[1])
			}
		}
		zeros := bytes.Count(whole, []byte{0})
		if sparse && zeros < sparseBlock {
			t.Errorf("sparse pattern has only %d zero bytes", zeros)
		}
		if !sparse && zeros > len(whole)/100 {
			t.Errorf("dense pattern has %d zero bytes of %d", zeros, len(whole))
		}
	}
	a, b := make([]byte, 64), make([]byte, 64)
	pattern{seed: 1}.fill(a, 0)
	pattern{seed: 2}.fill(b, 0)
	if bytes.Equal(a, b) {
		t.Error("two seeds give the same stream")
	}
}

func TestVerify(t *testing.T) {
	p := pattern{seed: 7}
	const n = 3*mib + 5
	good := make([]byte, n)
	p.fill(good, 100)
	flipped := slices.Clone(good)
	flipped[2*mib+1] ^= 1
	cases := []struct {
		name string
		data []byte
		want string // substring of the error, "" for none
	}{
		{"good", good, ""},
		{"flipped", flipped, fmt.Sprintf("byte %d of the read (object offset %d)", 2*mib+1, 2*mib+101)},
		{"short", good[:n-1], "yields 3145732 bytes, want 3145733"},
		{"long", append(slices.Clone(good), 0), "more than the 3145733 bytes"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := verify(iotest.HalfReader(bytes.NewReader(tc.data)), p, 100, n) // short reads
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("verify: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("verify: %v, want an error with %q", err, tc.want)
			}
		})
	}
}

func TestNewImageID(t *testing.T) {
	re := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	a, b := newImageID(), newImageID()
	if !re.MatchString(a) || a == b {
		t.Errorf("newImageID: %q, %q", a, b)
	}
}

// brokenCase is a flawed store variant and what the suite must do with it.
type brokenCase struct {
	variant  string
	wantFail []string // subtests that must fail
	wantPass []string // subtests that must pass: the flaw is caught where it is
}

// runBroken re-runs this test binary with only the helper test and the
// variant named in env, and checks that the suite failed exactly where tc
// says. kind words the messages ("" or "read-only ").
func runBroken(t *testing.T, helper, env, kind string, tc brokenCase) {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), os.Args[0],
		"-test.run=^"+helper+"$", "-test.v", "-test.short", "-test.count=1", "-test.timeout=5m")
	cmd.Env = append(os.Environ(), env+"="+tc.variant)
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		t.Fatalf("the suite against a %s %sstore: want a failing exit status, got %v\n%s", tc.variant, kind, err, out)
	}
	for _, name := range tc.wantFail {
		if !bytes.Contains(out, []byte("--- FAIL: "+helper+"/"+name+" (")) {
			t.Errorf("subtest %s did not fail against a %s store", name, tc.variant)
		}
	}
	for _, name := range tc.wantPass {
		if !bytes.Contains(out, []byte("--- PASS: "+helper+"/"+name+" (")) {
			t.Errorf("subtest %s did not pass against a %s store", name, tc.variant)
		}
	}
	if t.Failed() {
		t.Logf("child output:\n%s", out)
	}
}

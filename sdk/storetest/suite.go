package storetest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/glance-go/glance/sdk/store"
)

// Run runs the conformance suite against cfg.New(), in this process.
func Run(t *testing.T, cfg Config) {
	t.Helper()
	if cfg.New == nil {
		t.Fatal("storetest: Config.New is nil")
	}
	runSuite(t, cfg, func(testing.TB) store.Backend { return cfg.New() }, nil)
}

const (
	defaultSettle = 5 * time.Second
	mib           = 1 << 20
	gib           = 1 << 30
)

// runSuite is the engine shared by Run, RunGRPC and RunBinary. open returns
// an unconfigured Backend; runSuite configures it with cfg.Setup's JSON and
// runs every case as a subtest.
func runSuite(t *testing.T, cfg Config, open func(t testing.TB) store.Backend, k *killer) {
	t.Helper()
	if cfg.Setup == nil {
		t.Fatal("storetest: Config.Setup is nil")
	}
	s := &suite{
		chunk:    cfg.ChunkSize,
		maxSize:  cfg.MaxSize,
		settle:   cfg.SettleTimeout,
		preload:  cfg.Preload,
		killer:   k,
		notSwept: cfg.KillNotSwept,
		created:  map[string]string{},
	}
	if s.chunk <= 0 {
		s.chunk = store.DefaultChunkSize
	}
	if s.maxSize <= 0 {
		s.maxSize = gib
		if testing.Short() {
			s.maxSize = 64 * mib
		}
	}
	if s.settle <= 0 {
		s.settle = defaultSettle
	}
	s.cfgJSON, s.leftovers = cfg.Setup(t)
	s.b = open(t)
	if s.b == nil {
		t.Fatal("storetest: the backend is nil")
	}
	s.info = s.b.Info()
	s.storeCfg = store.Config{StoreID: "storetest", JSON: s.cfgJSON, ChunkSize: s.chunk}
	s.secrets = s.info.ConfigSchema.SensitiveValues(s.cfgJSON)

	t.Run("Info", s.testInfo)
	t.Run("ValidateConfig", s.testValidateConfig)

	caps, err := s.b.Configure(t.Context(), s.storeCfg)
	if err != nil {
		t.Fatalf("Configure: %v", err)
	}
	s.caps = caps
	t.Logf("store %s %s, capabilities %+v", s.info.Name, s.info.Version, caps)

	t.Run("Probe", s.testProbe)
	if before := s.list(t); len(before) > 0 {
		t.Fatalf("the backing store from Setup is not empty: %q", before)
	}
	t.Run("RoundTrip", s.testRoundTrips)
	t.Run("Range", s.testRange)
	t.Run("DuplicateID", s.testDuplicate)
	t.Run("Abort", s.testAbort)
	t.Run("Deadline", s.testDeadline)
	t.Run("Delete", s.testDelete)
	t.Run("NotFound", s.testNotFound)
	t.Run("InvalidLocation", s.testInvalidLocation)
	t.Run("InvalidImageID", s.testInvalidImageID)
	t.Run("Concurrent", s.testConcurrent)
	t.Run("RefusedWrites", s.testRefusedWrites)
	t.Run("LocalWriter", s.testLocalWriter)
	t.Run("KilledMidPut", s.testKilledMidPut)
	t.Run("Leftovers", s.testLeftovers)
	if sd, ok := s.b.(store.Shutdowner); ok {
		t.Run("Shutdown", func(t *testing.T) {
			if err := sd.Shutdown(t.Context()); err != nil {
				t.Errorf("Shutdown: %v", err)
			}
		})
	}
}

type suite struct {
	b         store.Backend
	info      store.Info
	caps      store.Capabilities
	storeCfg  store.Config
	cfgJSON   []byte
	secrets   []string
	leftovers func() ([]string, error)
	chunk     int
	maxSize   int64
	settle    time.Duration
	preload   func(t testing.TB, id string, size int64, data io.Reader) string
	killer    *killer // RunBinary only
	notSwept  string  // Config.KillNotSwept

	seed atomic.Uint64

	mu      sync.Mutex
	created map[string]string // location → image id, for objects not yet deleted
}

var (
	nameRE   = regexp.MustCompile(`^[a-z][a-z0-9_-]*$`)
	semverRE = regexp.MustCompile(`^v?(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$`)
	schemeRE = regexp.MustCompile(`^[a-z][a-z0-9+.-]*$`)
)

// --- helpers -----------------------------------------------------------

func (s *suite) newPattern() pattern {
	return pattern{seed: s.seed.Add(0x5851f42d4c957f2d)}
}

// body returns p's first size bytes, in reads of at most one chunk, as the
// gRPC adapter yields them.
func (s *suite) body(p pattern, size int64) io.Reader {
	return newPatternReader(p, size, s.chunk)
}

// put calls Put and records every location it returns, so the final
// cleanup deletes it even when the test expected Put to fail.
func (s *suite) put(ctx context.Context, id string, size int64, body io.Reader) (store.PutResult, error) {
	res, err := s.b.Put(ctx, store.PutRequest{
		ImageID: id,
		Size:    size,
		Context: map[string]string{"request_id": "req-storetest"},
	}, body)
	if err == nil && res.Location != "" {
		s.mu.Lock()
		s.created[res.Location] = id
		s.mu.Unlock()
	}
	return res, err
}

// mustPut stores size bytes of p under id, declaring the size when known,
// and checks the result.
func (s *suite) mustPut(t *testing.T, id string, p pattern, size int64, known bool) store.PutResult {
	t.Helper()
	declared := size
	if !known {
		declared = store.UnknownSize
	}
	res, err := s.put(t.Context(), id, declared, s.body(p, size))
	if err != nil {
		t.Fatalf("Put(%s, %d bytes, declared %d): %v", id, size, declared, err)
	}
	s.checkLocation(t, res.Location)
	if res.Size != size {
		t.Errorf("PutResult.Size = %d, want %d", res.Size, size)
	}
	return res
}

func (s *suite) checkLocation(t *testing.T, loc string) {
	t.Helper()
	if loc == "" {
		t.Fatal("Put returned an empty location")
	}
	u, err := url.Parse(loc)
	if err != nil {
		t.Errorf("location %q does not parse as a URI: %v", loc, err)
	} else if !slices.Contains(s.info.Schemes, strings.ToLower(u.Scheme)) {
		t.Errorf("location %q: scheme %q is not one of Info.Schemes %q", loc, u.Scheme, s.info.Schemes)
	}
	for _, v := range s.secrets {
		if strings.Contains(loc, v) {
			t.Errorf("location %q carries the value of a sensitive config attribute", loc)
		}
	}
}

// checkGet reads the range r of the object at loc and checks it holds the
// bytes [off, off+n) of p and that the whole object is size bytes long.
func (s *suite) checkGet(t *testing.T, loc string, r store.Range, p pattern, off, n, size int64) {
	t.Helper()
	rc, oi, err := s.b.Get(t.Context(), loc, r)
	if err != nil {
		t.Errorf("Get(%+v): %v", r, err)
		return
	}
	defer rc.Close()
	if oi.Size != size {
		t.Errorf("Get(%+v): ObjectInfo.Size = %d, want %d", r, oi.Size, size)
	}
	if err := verify(rc, p, off, n); err != nil {
		t.Errorf("Get(%+v): %v", r, err)
	}
	if err := rc.Close(); err != nil {
		t.Errorf("Get(%+v): Close: %v", r, err)
	}
}

func (s *suite) checkStat(t *testing.T, loc string, size int64) {
	t.Helper()
	oi, err := s.b.Stat(t.Context(), loc)
	if err != nil {
		t.Errorf("Stat: %v", err)
	} else if oi.Size != size {
		t.Errorf("Stat: size %d, want %d", oi.Size, size)
	}
}

// remove deletes the object at loc and forgets it.
func (s *suite) remove(t *testing.T, loc string) {
	t.Helper()
	if err := s.b.Delete(t.Context(), loc); err != nil {
		t.Errorf("Delete(%s): %v", loc, err)
		return
	}
	s.mu.Lock()
	delete(s.created, loc)
	s.mu.Unlock()
}

// list returns what the leftovers lister sees, or nil without a lister.
func (s *suite) list(t *testing.T) []string {
	t.Helper()
	if s.leftovers == nil {
		return nil
	}
	l, err := s.leftovers()
	if err != nil {
		t.Fatalf("leftovers lister: %v", err)
	}
	return l
}

// expectNothingNew waits up to the settle timeout until the backing store
// holds nothing that was not in before, and fails naming what stayed.
func (s *suite) expectNothingNew(t *testing.T, before []string, after string) {
	t.Helper()
	if s.leftovers == nil {
		return
	}
	deadline := time.Now().Add(s.settle)
	for {
		var extra []string
		for _, e := range s.list(t) {
			if !slices.Contains(before, e) {
				extra = append(extra, e)
			}
		}
		if len(extra) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("after %s the backing store still holds %q", after, extra)
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// eventually retries f until it returns nil or the settle timeout passed.
func (s *suite) eventually(f func() error) error {
	deadline := time.Now().Add(s.settle)
	for {
		err := f()
		if err == nil || time.Now().After(deadline) {
			return err
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// isOneOf reports whether err matches one of the targets (any error when
// targets is empty).
func isOneOf(err error, targets []error) bool {
	if err == nil {
		return false
	}
	if len(targets) == 0 {
		return true
	}
	for _, x := range targets {
		if errors.Is(err, x) {
			return true
		}
	}
	return false
}

// needRW skips cases that write when the store cannot write, read and
// delete: the suite cannot clean up after itself otherwise.
func (s *suite) needRW(t *testing.T) {
	t.Helper()
	if !s.caps.Write || !s.caps.Read || !s.caps.Delete {
		t.Skipf("needs the read, write and delete capabilities (have %+v)", s.caps)
	}
}

// readOnly reports a store that cannot write but whose objects the suite
// can preload (Config.Preload).
func (s *suite) readOnly() bool { return !s.caps.Write && s.preload != nil }

// needRead skips cases that read objects the suite cannot make: a store
// that cannot write, read and delete, unless it is read-only with Preload.
func (s *suite) needRead(t *testing.T) {
	t.Helper()
	if s.readOnly() {
		if !s.caps.Read {
			t.Skipf("needs the read capability (have %+v)", s.caps)
		}
		return
	}
	s.needRW(t)
}

// object makes an object of size bytes of p under a new image id, through
// Put or, for a read-only store, Preload. done removes it when the store
// can.
func (s *suite) object(t *testing.T, p pattern, size int64) (id, loc string, done func()) {
	t.Helper()
	id = newImageID()
	if s.readOnly() {
		loc = s.preload(t, id, size, s.body(p, size))
		s.checkLocation(t, loc)
		return id, loc, func() {}
	}
	res := s.mustPut(t, id, p, size, true)
	return id, res.Location, func() { s.remove(t, res.Location) }
}

// --- cases -------------------------------------------------------------

func (s *suite) testInfo(t *testing.T) {
	i := s.info
	if !nameRE.MatchString(i.Name) {
		t.Errorf("Info.Name %q: want a non-empty lower-case name ([a-z][a-z0-9_-]*); the host runs glance-store-<name>", i.Name)
	}
	if !semverRE.MatchString(i.Version) {
		t.Errorf("Info.Version %q is not a semantic version (1.2.3)", i.Version)
	}
	if len(i.Schemes) == 0 {
		t.Error("Info.Schemes is empty")
	}
	for _, sc := range i.Schemes {
		if !schemeRE.MatchString(sc) {
			t.Errorf("Info.Schemes: %q is not a lower-case URI scheme", sc)
		}
	}
	if err := i.ConfigSchema.Validate(); err != nil {
		t.Errorf("Info.ConfigSchema: %v", err)
	}
}

func (s *suite) testValidateConfig(t *testing.T) {
	v, ok := s.b.(store.ConfigValidator)
	if !ok {
		t.Skip("the backend does not implement store.ConfigValidator")
	}
	if d := v.ValidateConfig(t.Context(), s.storeCfg); d.HasErrors() {
		t.Errorf("ValidateConfig rejects the config from Setup: %v", d.Err())
	}
}

func (s *suite) testProbe(t *testing.T) {
	err := s.eventually(func() error { return s.b.Probe(t.Context()) })
	if err != nil {
		t.Errorf("Probe after Configure: %v", err)
	}
}

func (s *suite) testRoundTrips(t *testing.T) {
	s.needRead(t)
	c := int64(s.chunk)
	var sizes []int64
	for _, n := range []int64{0, 1, c - 1, c, c + 1, 64 * mib, gib} {
		if n >= 0 && n <= s.maxSize && !slices.Contains(sizes, n) {
			sizes = append(sizes, n)
		}
	}
	if s.readOnly() {
		for _, size := range sizes {
			t.Run(fmt.Sprintf("size=%d/preloaded", size), func(t *testing.T) {
				p := s.newPattern()
				_, loc, done := s.object(t, p, size)
				defer done()
				s.checkStat(t, loc, size)
				s.checkGet(t, loc, store.Whole, p, 0, size, size)
			})
		}
		return
	}
	modes := []string{"known"}
	if s.caps.WriteUnknownSize {
		modes = append(modes, "unknown")
	}
	for _, size := range sizes {
		for _, mode := range modes {
			t.Run(fmt.Sprintf("size=%d/%s", size, mode), func(t *testing.T) {
				s.roundTrip(t, s.newPattern(), size, mode == "known")
			})
		}
	}
	// Zero runs catch stores that punch holes or skip zero chunks wrongly;
	// the object ends in zeros, so a hole must still count in its size.
	sparse := 4*c + 3*sparseBlock/2
	t.Run(fmt.Sprintf("sparse/size=%d", sparse), func(t *testing.T) {
		p := s.newPattern()
		p.sparse = true
		s.roundTrip(t, p, sparse, true)
	})
}

func (s *suite) roundTrip(t *testing.T, p pattern, size int64, known bool) {
	id := newImageID()
	res := s.mustPut(t, id, p, size, known)
	s.checkStat(t, res.Location, size)
	s.checkGet(t, res.Location, store.Whole, p, 0, size, size)
	s.remove(t, res.Location)
}

func (s *suite) testRange(t *testing.T) {
	s.needRead(t)
	if !s.caps.ReadRange {
		t.Skip("the store lacks the read-range capability")
	}
	c := int64(s.chunk)
	size := 2*c + 1001
	p := s.newPattern()
	_, loc, done := s.object(t, p, size)
	defer done()
	cases := []struct {
		name    string
		r       store.Range
		off, n  int64   // the bytes expected
		wantErr []error // when the range is refused
	}{
		{name: "offset_0_length_1", r: store.Range{Offset: 0, Length: 1}, off: 0, n: 1},
		{name: "whole", r: store.Whole, off: 0, n: size},
		{name: "middle_across_chunks", r: store.Range{Offset: c - 100, Length: c + 200}, off: c - 100, n: c + 200},
		{name: "offset_to_end", r: store.Range{Offset: c + 7, Length: -1}, off: c + 7, n: size - c - 7},
		{name: "length_0", r: store.Range{Offset: 5, Length: 0}, off: 5, n: 0},
		{name: "offset_size", r: store.Range{Offset: size, Length: -1}, off: size, n: 0},
		{name: "offset_size_length_10", r: store.Range{Offset: size, Length: 10}, off: size, n: 0},
		{name: "offset_size-1", r: store.Range{Offset: size - 1, Length: -1}, off: size - 1, n: 1},
		{name: "length_past_end", r: store.Range{Offset: 10, Length: size}, off: 10, n: size - 10},
		{name: "offset_past_size", r: store.Range{Offset: size + 1, Length: -1}, wantErr: []error{store.ErrOutOfRange}},
		{name: "offset_far_past_size", r: store.Range{Offset: size * 1000, Length: 1}, wantErr: []error{store.ErrOutOfRange}},
		{name: "negative_offset", r: store.Range{Offset: -1, Length: 1}, wantErr: []error{store.ErrOutOfRange, store.ErrInvalidArgument}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.wantErr == nil {
				s.checkGet(t, loc, tc.r, p, tc.off, tc.n, size)
				return
			}
			rc, _, err := s.b.Get(t.Context(), loc, tc.r)
			if err == nil {
				rc.Close()
				t.Fatalf("Get(%+v) of a %d-byte object succeeded, want %v", tc.r, size, tc.wantErr)
			}
			if !isOneOf(err, tc.wantErr) {
				t.Errorf("Get(%+v): %v, want %v", tc.r, err, tc.wantErr)
			}
		})
	}
}

func (s *suite) testDuplicate(t *testing.T) {
	s.needRW(t)
	size := int64(s.chunk) + 3
	id := newImageID()
	p := s.newPattern()
	res := s.mustPut(t, id, p, size, true)
	defer s.remove(t, res.Location)
	before := s.list(t)

	other := s.newPattern()
	for _, osize := range []int64{size, 100} {
		dup, err := s.put(t.Context(), id, osize, s.body(other, osize))
		if err == nil {
			t.Errorf("a second Put with the same image id succeeded (location %q), want ErrAlreadyExists", dup.Location)
		} else if !errors.Is(err, store.ErrAlreadyExists) {
			t.Errorf("a second Put with the same image id: %v, want ErrAlreadyExists", err)
		}
	}
	s.expectNothingNew(t, before, "refused duplicate Puts")
	s.checkStat(t, res.Location, size)
	s.checkGet(t, res.Location, store.Whole, p, 0, size, size)
}

func (s *suite) testAbort(t *testing.T) {
	s.needRW(t)
	size := 2*int64(s.chunk) + 17
	half := size / 2
	type bodyFunc func(p pattern, cancel context.CancelFunc) io.Reader
	cases := []struct {
		name     string
		declared int64
		body     bodyFunc
		want     []error // the errors Put may return; empty means any
		unknown  bool    // needs WriteUnknownSize
	}{
		{
			name: "body_aborted_midway", declared: size,
			body: func(p pattern, _ context.CancelFunc) io.Reader {
				return &failingBody{r: s.body(p, size), n: half, err: fmt.Errorf("storetest: stream ended without trailer: %w", store.ErrAborted)}
			},
		},
		{
			name: "body_aborted_midway_unknown_size", declared: store.UnknownSize, unknown: true,
			body: func(p pattern, _ context.CancelFunc) io.Reader {
				return &failingBody{r: s.body(p, size), n: half, err: fmt.Errorf("storetest: stream ended without trailer: %w", store.ErrAborted)}
			},
		},
		{
			name: "body_aborted_at_start", declared: size,
			body: func(p pattern, _ context.CancelFunc) io.Reader {
				return &failingBody{r: s.body(p, size), n: 0, err: store.ErrAborted}
			},
		},
		{
			// Every byte arrived but the trailer's checksum did not verify.
			name: "checksum_mismatch", declared: size,
			body: func(p pattern, _ context.CancelFunc) io.Reader {
				return &failingBody{r: s.body(p, size), n: size, err: fmt.Errorf("storetest: trailer: %w", store.ErrChecksumMismatch)}
			},
		},
		{
			name: "body_shorter_than_size", declared: size, want: []error{store.ErrSizeMismatch},
			body: func(p pattern, _ context.CancelFunc) io.Reader { return s.body(p, size-1) },
		},
		{
			name: "body_longer_than_size", declared: size, want: []error{store.ErrSizeMismatch},
			body: func(p pattern, _ context.CancelFunc) io.Reader { return s.body(p, size+1) },
		},
		{
			name: "empty_body_for_size", declared: size, want: []error{store.ErrSizeMismatch},
			body: func(p pattern, _ context.CancelFunc) io.Reader { return s.body(p, 0) },
		},
		{
			name: "context_cancelled_midway", declared: size,
			body: func(p pattern, cancel context.CancelFunc) io.Reader {
				return &cancellingBody{r: s.body(p, size), n: half, cancel: cancel}
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.unknown && !s.caps.WriteUnknownSize {
				t.Skip("the store lacks the write-unknown-size capability")
			}
			before := s.list(t)
			id := newImageID()
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			res, err := s.put(ctx, id, tc.declared, tc.body(s.newPattern(), cancel))
			if err == nil {
				t.Fatalf("Put succeeded (location %q), want an error", res.Location)
			}
			if !isOneOf(err, tc.want) {
				t.Errorf("Put: %v, want %v", err, tc.want)
			}
			t.Logf("Put: %v", err)
			s.expectNothingNew(t, before, "the failed Put")
			// A retry under the same image id must find nothing in its way.
			p := s.newPattern()
			retry := s.mustPut(t, id, p, size, true)
			s.checkGet(t, retry.Location, store.Whole, p, 0, size, size)
			s.remove(t, retry.Location)
		})
	}
}

func (s *suite) testDeadline(t *testing.T) {
	s.needRW(t)
	const deadline = 200 * time.Millisecond
	const patience = 5 * time.Second
	size := 4 * int64(s.chunk)
	before := s.list(t)
	id := newImageID()
	ctx, cancel := context.WithTimeout(t.Context(), deadline)
	defer cancel()
	release := make(chan struct{})
	defer close(release)
	// One chunk and a bit arrive, so the store has started writing, then
	// the sender goes silent.
	body := &stallingBody{r: s.body(s.newPattern(), size), n: int64(s.chunk) + 1, ctx: ctx, release: release}

	type result struct {
		res store.PutResult
		err error
	}
	done := make(chan result, 1)
	start := time.Now()
	go func() {
		res, err := s.put(ctx, id, size, body)
		done <- result{res, err}
	}()
	select {
	case r := <-done:
		elapsed := time.Since(start)
		if r.err == nil {
			t.Fatalf("Put with a stalled body succeeded (location %q)", r.res.Location)
		}
		t.Logf("Put returned after %v: %v", elapsed.Round(time.Millisecond), r.err)
	case <-time.After(patience):
		t.Fatalf("Put with a %v deadline and a stalled body has not returned after %v", deadline, patience)
	}
	s.expectNothingNew(t, before, "the timed-out Put")
	p := s.newPattern()
	retry := s.mustPut(t, id, p, 10, true)
	s.checkGet(t, retry.Location, store.Whole, p, 0, 10, 10)
	s.remove(t, retry.Location)
}

func (s *suite) testDelete(t *testing.T) {
	s.needRW(t)
	size := int64(s.chunk) + 1
	res := s.mustPut(t, newImageID(), s.newPattern(), size, true)
	loc := res.Location
	for i := 1; i <= 2; i++ {
		if err := s.b.Delete(t.Context(), loc); err != nil {
			t.Errorf("Delete #%d: %v", i, err)
		}
	}
	s.mu.Lock()
	delete(s.created, loc)
	s.mu.Unlock()
	s.expectNotFound(t, loc, "a deleted object")
}

// expectNotFound checks that Stat and Get of loc give ErrNotFound.
func (s *suite) expectNotFound(t *testing.T, loc, what string) {
	t.Helper()
	err := s.eventually(func() error {
		_, err := s.b.Stat(t.Context(), loc)
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		if err == nil {
			return errors.New("it succeeded")
		}
		return err
	})
	if err != nil {
		t.Errorf("Stat of %s: %v, want ErrNotFound", what, err)
	}
	rc, _, err := s.b.Get(t.Context(), loc, store.Whole)
	if err == nil {
		rc.Close()
		t.Errorf("Get of %s succeeded, want ErrNotFound", what)
	} else if !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Get of %s: %v, want ErrNotFound", what, err)
	}
}

func (s *suite) testNotFound(t *testing.T) {
	s.needRead(t)
	id, loc, done := s.object(t, s.newPattern(), 10)
	defer done()
	if !strings.Contains(loc, id) {
		t.Skipf("location %q does not contain the image id; cannot make a well-formed location that never existed", loc)
	}
	ghost := strings.ReplaceAll(loc, id, newImageID())
	s.expectNotFound(t, ghost, "a location that never existed")
	if !s.caps.Delete {
		return
	}
	if err := s.b.Delete(t.Context(), ghost); err != nil {
		t.Errorf("Delete of a location that never existed: %v, want nil", err)
	}
}

func (s *suite) testInvalidLocation(t *testing.T) {
	scheme := "x-storetest"
	if len(s.info.Schemes) > 0 {
		scheme = s.info.Schemes[0]
	}
	// The escaping paths name nothing that exists: a store that fails to
	// refuse them must not be able to harm the machine running the suite.
	nowhere := "storetest-nonexistent-" + newImageID()
	locs := []struct{ name, loc string }{
		{"empty", ""},
		{"words", "not a location"},
		{"colons", "::::"},
		{"bad_escape", "%zz"},
		{"unknown_scheme", "x-storetest-unknown-scheme://host/" + newImageID()},
		{"scheme_only", scheme + ":"},
		{"scheme_slashes", scheme + "://"},
		{"dotdot_escape", scheme + ":///../../../../../" + nowhere + "/" + newImageID()},
		{"nul", scheme + ":///" + nowhere + "/" + newImageID() + "\x00"},
	}
	for _, tc := range locs {
		loc := tc.loc
		t.Run(tc.name, func(t *testing.T) {
			want := []error{store.ErrInvalidLocation, store.ErrNotFound}
			if _, err := s.b.Stat(t.Context(), loc); !isOneOf(err, want) {
				t.Errorf("Stat: %v, want ErrInvalidLocation or ErrNotFound", err)
			}
			rc, _, err := s.b.Get(t.Context(), loc, store.Whole)
			if err == nil {
				rc.Close()
				t.Error("Get succeeded, want ErrInvalidLocation or ErrNotFound")
			} else if !isOneOf(err, want) {
				t.Errorf("Get: %v, want ErrInvalidLocation or ErrNotFound", err)
			}
			if s.caps.Delete {
				if err := s.b.Delete(t.Context(), loc); err != nil && !isOneOf(err, want) {
					t.Errorf("Delete: %v, want nil, ErrInvalidLocation or ErrNotFound", err)
				}
			}
		})
	}
}

func (s *suite) testInvalidImageID(t *testing.T) {
	s.needRW(t)
	ids := []struct{ name, id string }{
		{"empty", ""},
		{"dot", "."},
		{"dotdot", ".."},
		{"dotdot_slash_x", "../x"},
		{"dotdot_uuid", "../" + newImageID()},
		{"slash_inside", "a/b"},
		{"absolute", "/" + newImageID()},
		{"trailing_slash", newImageID() + "/"},
		{"nul", "x\x00y"},
		{"very_long", strings.Repeat("a", 1024)},
	}
	for _, tc := range ids {
		t.Run(tc.name, func(t *testing.T) {
			before := s.list(t)
			res, err := s.put(t.Context(), tc.id, 10, s.body(s.newPattern(), 10))
			if err == nil {
				t.Errorf("Put(%q) succeeded (location %q), want ErrInvalidArgument", tc.id, res.Location)
			} else if !errors.Is(err, store.ErrInvalidArgument) {
				t.Errorf("Put(%q): %v, want ErrInvalidArgument", tc.id, err)
			}
			s.expectNothingNew(t, before, "a refused image id")
		})
	}
}

func (s *suite) testConcurrent(t *testing.T) {
	s.needRW(t)
	if !s.caps.ConcurrentSafe {
		t.Skip("the store is not concurrent-safe")
	}
	const n = 8
	type obj struct {
		p    pattern
		size int64
		loc  string
	}
	objs := make([]obj, n)
	for i := range objs {
		objs[i] = obj{p: s.newPattern(), size: 2*int64(s.chunk) + int64(i)*4099}
	}
	t.Run("Puts", func(t *testing.T) {
		var wg sync.WaitGroup
		for i := range objs {
			wg.Go(func() {
				o := &objs[i]
				res, err := s.put(t.Context(), newImageID(), o.size, s.body(o.p, o.size))
				if err != nil {
					t.Errorf("concurrent Put #%d: %v", i, err)
					return
				}
				o.loc = res.Location
			})
		}
		wg.Wait()
		for _, o := range objs {
			if o.loc != "" {
				s.checkGet(t, o.loc, store.Whole, o.p, 0, o.size, o.size)
			}
		}
	})
	t.Run("Gets", func(t *testing.T) {
		o := objs[0]
		if o.loc == "" {
			t.Skip("the object to read was not stored")
		}
		var wg sync.WaitGroup
		for i := 0; i < n; i++ {
			wg.Go(func() {
				rc, oi, err := s.b.Get(t.Context(), o.loc, store.Whole)
				if err != nil {
					t.Errorf("concurrent Get #%d: %v", i, err)
					return
				}
				defer rc.Close()
				if oi.Size != o.size {
					t.Errorf("concurrent Get #%d: size %d, want %d", i, oi.Size, o.size)
				}
				if err := verify(rc, o.p, 0, o.size); err != nil {
					t.Errorf("concurrent Get #%d: %v", i, err)
				}
			})
		}
		wg.Wait()
	})
	for _, o := range objs {
		if o.loc != "" {
			s.remove(t, o.loc)
		}
	}
}

// testRefusedWrites checks that a store without the write (or delete)
// capability refuses Put (or Delete) with store.ErrUnsupported, leaving
// the backing store as it was.
func (s *suite) testRefusedWrites(t *testing.T) {
	if s.caps.Write && s.caps.Delete {
		t.Skip("the store writes and deletes")
	}
	before := s.list(t)
	if !s.caps.Write {
		res, err := s.put(t.Context(), newImageID(), 10, s.body(s.newPattern(), 10))
		if err == nil {
			t.Errorf("Put on a store without the write capability succeeded (location %q)", res.Location)
		} else if !errors.Is(err, store.ErrUnsupported) {
			t.Errorf("Put on a store without the write capability: %v, want ErrUnsupported", err)
		}
	}
	if !s.caps.Delete && s.readOnly() {
		p := s.newPattern()
		_, loc, done := s.object(t, p, 10)
		defer done()
		if err := s.b.Delete(t.Context(), loc); !errors.Is(err, store.ErrUnsupported) {
			t.Errorf("Delete on a store without the delete capability: %v, want ErrUnsupported", err)
		}
		s.checkGet(t, loc, store.Whole, p, 0, 10, 10)
		before = s.list(t)
	}
	s.expectNothingNew(t, before, "refused writes")
}

// testLeftovers deletes what the suite made and still knows of, then checks
// that the backing store is empty: temporary data, partial objects and
// objects that Delete forgot all show up here.
func (s *suite) testLeftovers(t *testing.T) {
	s.mu.Lock()
	locs := make([]string, 0, len(s.created))
	for l := range s.created {
		locs = append(locs, l)
	}
	s.mu.Unlock()
	slices.Sort(locs)
	for _, l := range locs {
		s.remove(t, l)
	}
	if s.leftovers == nil {
		t.Skip("Setup gave no leftovers lister")
	}
	if s.readOnly() {
		t.Skip("a read-only store cannot delete the objects the suite preloaded")
	}
	s.expectNothingNew(t, nil, "the suite deleted every object it made")
}

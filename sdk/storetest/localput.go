package storetest

import (
	"context"
	"errors"
	"io"
	"os"
	"testing"
	"time"

	"github.com/glance-go/glance/sdk/store"
)

// Cases for the LocalPut fast path (store.LocalWriter) and for a plugin
// process killed in the middle of an upload.

// testLocalWriter drives a store's LocalWriter directly, as the host side
// of storeplugin does over gRPC: commit, size checks, duplicate ids and
// abort, each leaving nothing behind when it fails. Over gRPC and against a
// binary, the whole suite's Puts go through the same path (unless
// Config.NoLocalPut), so this case only runs in process.
func (s *suite) testLocalWriter(t *testing.T) {
	s.needRW(t)
	lw, ok := s.b.(store.LocalWriter)
	_, client := s.b.(interface{ SetLocalPut(bool) })
	switch {
	case client:
		t.Skip("a gRPC client: its Puts throughout the suite take the LocalPut path when the store offers it")
	case s.caps.LocalPut && !ok:
		t.Fatal("the store claims the LocalPut capability but does not implement store.LocalWriter")
	case !s.caps.LocalPut:
		t.Skip("the store does not offer the LocalPut capability")
	}
	size := int64(s.chunk) + 5
	begin := func(t *testing.T, id string, declared int64) store.LocalPut {
		t.Helper()
		lp, err := lw.BeginLocalPut(t.Context(), store.PutRequest{ImageID: id, Size: declared})
		if err != nil {
			t.Fatalf("BeginLocalPut(%s): %v", id, err)
		}
		return lp
	}
	write := func(t *testing.T, lp store.LocalPut, p pattern, n int64) {
		t.Helper()
		f, err := os.OpenFile(lp.Path(), os.O_WRONLY, 0)
		if err != nil {
			t.Fatalf("opening the LocalPut path: %v", err)
		}
		defer f.Close()
		if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() || fi.Size() != 0 {
			t.Fatalf("the LocalPut path is not an empty regular file: %v, %v", fi, err)
		}
		if _, err := io.Copy(f, s.body(p, n)); err != nil {
			t.Fatalf("writing the LocalPut file: %v", err)
		}
	}

	t.Run("commit", func(t *testing.T) {
		before := s.list(t)
		id, p := newImageID(), s.newPattern()
		lp := begin(t, id, size)
		write(t, lp, p, size)
		res, err := lp.Commit(t.Context(), size)
		if err != nil {
			t.Fatalf("Commit: %v", err)
		}
		s.record(res.Location, id)
		s.checkLocation(t, res.Location)
		if res.Size != size {
			t.Errorf("PutResult.Size = %d, want %d", res.Size, size)
		}
		s.checkGet(t, res.Location, store.Whole, p, 0, size, size)
		// A duplicate is refused at Begin, and the original is intact.
		if lp, err := lw.BeginLocalPut(t.Context(), store.PutRequest{ImageID: id, Size: 3}); !errors.Is(err, store.ErrAlreadyExists) {
			t.Errorf("BeginLocalPut of an existing id: %v, want ErrAlreadyExists", err)
			if err == nil {
				lp.Abort()
			}
		}
		s.checkGet(t, res.Location, store.Whole, p, 0, size, size)
		s.remove(t, res.Location)
		s.expectNothingNew(t, before, "a committed and deleted LocalPut")
	})
	for _, tc := range []struct {
		name              string
		declared, written int64
		committed         int64
	}{
		{"short_for_declared", size, size - 1, size - 1},
		{"long_for_declared", size, size + 1, size + 1},
		{"commit_size_not_file_size", store.UnknownSize, size, size + 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := s.list(t)
			id := newImageID()
			lp := begin(t, id, tc.declared)
			write(t, lp, s.newPattern(), tc.written)
			res, err := lp.Commit(t.Context(), tc.committed)
			if err == nil {
				s.record(res.Location, id)
				t.Fatalf("Commit succeeded (location %q), want ErrSizeMismatch", res.Location)
			}
			if !errors.Is(err, store.ErrSizeMismatch) {
				t.Errorf("Commit: %v, want ErrSizeMismatch", err)
			}
			s.expectNothingNew(t, before, "a refused Commit")
		})
	}
	t.Run("abort", func(t *testing.T) {
		before := s.list(t)
		id := newImageID()
		lp := begin(t, id, size)
		write(t, lp, s.newPattern(), size/2)
		lp.Abort()
		s.expectNothingNew(t, before, "an aborted LocalPut")
		p := s.newPattern()
		retry := s.mustPut(t, id, p, size, true)
		s.checkGet(t, retry.Location, store.Whole, p, 0, size, size)
		s.remove(t, retry.Location)
	})
}

// record notes a location the suite must delete at the end.
func (s *suite) record(loc, id string) {
	if loc == "" {
		return
	}
	s.mu.Lock()
	s.created[loc] = id
	s.mu.Unlock()
}

// killer is how RunBinary lets the suite start extra plugin processes and
// kill one with SIGKILL.
type killer struct {
	open func(t testing.TB) store.Backend
	kill func(t testing.TB, b store.Backend)
}

// testKilledMidPut kills the plugin process (SIGKILL: no cleanup of its
// own) in the middle of an upload, through whichever path Put takes. The
// host's Put must fail, and the next process configured on the same
// backing store must sweep what the dead one left.
func (s *suite) testKilledMidPut(t *testing.T) {
	s.needRW(t)
	if s.killer == nil {
		t.Skip("only against a plugin binary")
	}
	if s.notSwept != "" {
		t.Skip("the store does not sweep at Configure: " + s.notSwept)
	}
	before := s.list(t)
	victim := s.killer.open(t)
	if _, err := victim.Configure(t.Context(), s.storeCfg); err != nil {
		t.Fatalf("Configure: %v", err)
	}
	size := 8 * int64(s.chunk)
	written := 2*int64(s.chunk) + 1
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	release := make(chan struct{})
	body := &gateBody{r: s.body(s.newPattern(), size), n: written, gate: release, reached: make(chan struct{})}
	done := make(chan error, 1)
	go func() {
		res, err := victim.Put(ctx, store.PutRequest{ImageID: newImageID(), Size: size}, body)
		if err == nil {
			s.record(res.Location, "")
		}
		done <- err
	}()
	// Wait until the data reached the backing store.
	select {
	case <-body.reached:
	case err := <-done:
		t.Fatalf("Put ended before the body was half read: %v", err)
	}
	// Wait a little for temporary data to show: a store that keeps
	// uploads in flight in its process's memory never shows any.
	for deadline := time.Now().Add(2 * time.Second); len(s.listNew(t, before)) == 0 && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
	}
	s.killer.kill(t, victim)
	close(release)
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("Put succeeded although its plugin process was killed")
		}
		t.Logf("Put: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("Put has not returned 30s after its plugin process was killed")
	}
	t.Logf("left by the killed process: %q", s.listNew(t, before))
	// A new process sweeps at Configure.
	heir := s.killer.open(t)
	if _, err := heir.Configure(t.Context(), s.storeCfg); err != nil {
		t.Fatalf("Configure after the kill: %v", err)
	}
	s.expectNothingNew(t, before, "a plugin process was killed mid-upload and a new one configured")
}

// listNew returns what the leftovers lister sees beyond before.
func (s *suite) listNew(t *testing.T, before []string) []string {
	var extra []string
	for _, e := range s.list(t) {
		if !contains(before, e) {
			extra = append(extra, e)
		}
	}
	return extra
}

func contains(l []string, x string) bool {
	for _, e := range l {
		if e == x {
			return true
		}
	}
	return false
}

// gateBody yields n bytes of r, signals reached, waits for gate, then
// yields the rest.
type gateBody struct {
	r       io.Reader
	n       int64
	gate    <-chan struct{}
	reached chan struct{}
	once    bool
}

func (g *gateBody) Read(b []byte) (int, error) {
	if g.n > 0 {
		if int64(len(b)) > g.n {
			b = b[:g.n]
		}
		k, err := g.r.Read(b)
		g.n -= int64(k)
		return k, err
	}
	if !g.once {
		g.once = true
		close(g.reached)
		<-g.gate
	}
	return g.r.Read(b)
}

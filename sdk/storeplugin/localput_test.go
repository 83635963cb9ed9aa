//go:build unix

package storeplugin

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/glance-go/glance/sdk/internal/gen/storev1"
	"github.com/glance-go/glance/sdk/store"
)

// localStore is the recorder with a LocalWriter over a temporary directory:
// Commit moves the file's bytes into the in-memory store. It counts begins,
// commits and aborts; the recorder counts the streamed Puts.
type localStore struct {
	*recorder
	dir     string
	symlink bool // hand out a symbolic link instead of the file
	begins  atomic.Int64
	commits atomic.Int64
	aborts  atomic.Int64
}

func (l *localStore) Configure(ctx context.Context, cfg store.Config) (store.Capabilities, error) {
	caps, err := l.recorder.Configure(ctx, cfg)
	caps.LocalPut = true
	return caps, err
}

func (l *localStore) BeginLocalPut(_ context.Context, req store.PutRequest) (store.LocalPut, error) {
	n := l.begins.Add(1)
	p := filepath.Join(l.dir, fmt.Sprintf(".tmp-%s-%d", req.ImageID, n))
	if err := os.WriteFile(p, nil, 0o600); err != nil {
		return nil, err
	}
	lp := &dirPut{l: l, req: req, path: p, given: p}
	if l.symlink {
		lp.given = p + ".link"
		if err := os.Symlink(p, lp.given); err != nil {
			return nil, err
		}
	}
	return lp, nil
}

type dirPut struct {
	l           *localStore
	req         store.PutRequest
	path, given string
}

func (d *dirPut) Path() string { return d.given }

func (d *dirPut) cleanup() {
	os.Remove(d.path)
	if d.given != d.path {
		os.Remove(d.given)
	}
}

func (d *dirPut) Commit(ctx context.Context, size int64) (store.PutResult, error) {
	defer d.cleanup()
	d.l.commits.Add(1)
	data, err := os.ReadFile(d.path)
	if err != nil {
		return store.PutResult{}, err
	}
	if int64(len(data)) != size || d.req.Size >= 0 && size != d.req.Size {
		return store.PutResult{}, fmt.Errorf("%w: %d bytes in the file, %d committed", store.ErrSizeMismatch, len(data), size)
	}
	// The embedded memstore, not the recorder: this is no Put call.
	return d.l.Store.Put(ctx, d.req, bytes.NewReader(data))
}

func (d *dirPut) Abort() {
	d.l.aborts.Add(1)
	d.cleanup()
}

func newLocalStore(t *testing.T) *localStore {
	return &localStore{recorder: newRecorder(), dir: t.TempDir()}
}

func dirEntries(t *testing.T, dir string) []string {
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

// TestLocalPutSkipsPutRPC: with the capability, Put goes through the local
// file and the plugin's Put is never called; the bytes arrive intact.
func TestLocalPutSkipsPutRPC(t *testing.T) {
	ls := newLocalStore(t)
	c := newPair(t, ls, testChunk)
	if !c.Capabilities().LocalPut {
		t.Fatal("the LocalPut capability did not cross the wire")
	}
	data := randBytes(5*testChunk + 7)
	for _, size := range []int64{int64(len(data)), store.UnknownSize} {
		id := fmt.Sprintf("img%d", size+1)
		res, err := c.Put(t.Context(), store.PutRequest{ImageID: id, Size: size}, bytes.NewReader(data))
		if err != nil {
			t.Fatalf("Put: %v", err)
		}
		if res.Size != int64(len(data)) {
			t.Errorf("PutResult.Size %d, want %d", res.Size, len(data))
		}
		rc, _, err := c.Get(t.Context(), res.Location, store.Whole)
		if err != nil {
			t.Fatal(err)
		}
		var got bytes.Buffer
		_, _ = got.ReadFrom(rc)
		rc.Close()
		if !bytes.Equal(got.Bytes(), data) {
			t.Errorf("Get returned %d bytes that differ from the %d put", got.Len(), len(data))
		}
	}
	if n := len(ls.started); n != 0 {
		t.Errorf("the plugin's Put was called %d times", n)
	}
	if ls.begins.Load() != 2 || ls.commits.Load() != 2 || ls.aborts.Load() != 0 {
		t.Errorf("begins %d, commits %d, aborts %d; want 2, 2, 0", ls.begins.Load(), ls.commits.Load(), ls.aborts.Load())
	}
	if left := dirEntries(t, ls.dir); len(left) != 0 {
		t.Errorf("temporary files left: %q", left)
	}
}

// TestLocalPutOptOut: a host that opted out, and a store without the
// capability, stream.
func TestLocalPutOptOut(t *testing.T) {
	ls := newLocalStore(t)
	c := newPair(t, ls, testChunk)
	c.SetLocalPut(false)
	if _, err := c.Put(t.Context(), store.PutRequest{ImageID: "a", Size: 3}, bytes.NewReader([]byte("abc"))); err != nil {
		t.Fatal(err)
	}
	if len(ls.started) != 1 || ls.begins.Load() != 0 {
		t.Errorf("Put RPCs %d, local begins %d; want 1 and 0", len(ls.started), ls.begins.Load())
	}
	plain := newPair(t, newRecorder(), testChunk)
	if plain.Capabilities().LocalPut {
		t.Error("a store without LocalWriter advertises LocalPut")
	}
}

// TestLocalPutFallsBack: when the host cannot use the plugin's file (here
// a symbolic link, refused by O_NOFOLLOW), the local put is aborted before
// a byte of the body was read, and Put streams instead, from then on.
func TestLocalPutFallsBack(t *testing.T) {
	ls := newLocalStore(t)
	ls.symlink = true
	c := newPair(t, ls, testChunk)
	data := randBytes(2*testChunk + 1)
	for i := range 2 {
		res, err := c.Put(t.Context(), store.PutRequest{ImageID: fmt.Sprintf("img%d", i), Size: int64(len(data))}, bytes.NewReader(data))
		if err != nil || res.Size != int64(len(data)) {
			t.Fatalf("Put #%d: %+v, %v", i, res, err)
		}
	}
	if len(ls.started) != 2 || ls.begins.Load() != 1 || ls.aborts.Load() != 1 || ls.commits.Load() != 0 {
		t.Errorf("Put RPCs %d, begins %d, aborts %d, commits %d; want 2, 1, 1, 0",
			len(ls.started), ls.begins.Load(), ls.aborts.Load(), ls.commits.Load())
	}
	if left := dirEntries(t, ls.dir); len(left) != 0 {
		t.Errorf("files left: %q", left)
	}
}

// TestLocalPutAborts: a body error, a wrong size and a cancelled context
// abort the local put, with the streaming path's errors, and the plugin has
// removed its file by the time Put returns (except after a cancel, when it
// may finish just after).
func TestLocalPutAborts(t *testing.T) {
	boom := errors.New("client went away")
	data := randBytes(3 * testChunk)
	cases := []struct {
		name   string
		size   int64
		body   func(cancel context.CancelFunc) *endBody
		want   []error
		cancel bool
	}{
		{"body_error", int64(len(data)), func(context.CancelFunc) *endBody {
			return &endBody{data: data[:testChunk+1], err: boom}
		}, []error{store.ErrAborted, boom}, false},
		{"short", int64(len(data)) + 1, func(context.CancelFunc) *endBody {
			return &endBody{data: data, err: io.EOF}
		}, []error{store.ErrSizeMismatch}, false},
		{"long", int64(len(data)) - 1, func(context.CancelFunc) *endBody {
			return &endBody{data: data, err: io.EOF}
		}, []error{store.ErrSizeMismatch}, false},
		{"cancelled", int64(len(data)), func(cancel context.CancelFunc) *endBody {
			return &endBody{data: data[:testChunk], err: io.EOF, onEnd: cancel}
		}, []error{store.ErrAborted, context.Canceled}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ls := newLocalStore(t)
			c := newPair(t, ls, testChunk)
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			_, err := c.Put(ctx, store.PutRequest{ImageID: "x", Size: tc.size}, tc.body(cancel))
			for _, w := range tc.want {
				if !errors.Is(err, w) {
					t.Errorf("Put: %v, want it to wrap %v", err, w)
				}
			}
			if !tc.cancel {
				if ls.aborts.Load() != 1 {
					t.Errorf("aborts %d when Put returned, want 1", ls.aborts.Load())
				}
				if left := dirEntries(t, ls.dir); len(left) != 0 {
					t.Errorf("files left when Put returned: %q", left)
				}
			}
			if ls.Len() != 0 || ls.commits.Load() != 0 || len(ls.started) != 0 {
				t.Errorf("objects %d, commits %d, Put RPCs %d; want none", ls.Len(), ls.commits.Load(), len(ls.started))
			}
		})
	}
}

// endBody yields data, then calls onEnd (if set) and returns err.
type endBody struct {
	data  []byte
	err   error
	onEnd func()
}

func (b *endBody) Read(p []byte) (int, error) {
	if len(b.data) == 0 {
		if b.onEnd != nil {
			b.onEnd()
		}
		return 0, b.err
	}
	n := copy(p, b.data)
	b.data = b.data[n:]
	return n, nil
}

// TestLocalPutProtocol: the plugin side of the raw stream. Whatever ends
// it before a commit aborts the upload and removes the file.
func TestLocalPutProtocol(t *testing.T) {
	hdr := &storev1.LocalPutRequest{Msg: &storev1.LocalPutRequest_Header{Header: &storev1.PutHeader{ImageId: "x"}}}
	for _, tc := range []struct {
		name string
		then func(s storev1.StoreService_LocalPutClient) error // after the ready message
		want codes.Code
	}{
		{"close_without_commit", func(s storev1.StoreService_LocalPutClient) error { return s.CloseSend() }, codes.Aborted},
		{"second_header", func(s storev1.StoreService_LocalPutClient) error { return s.Send(hdr) }, codes.InvalidArgument},
		{"negative_commit", func(s storev1.StoreService_LocalPutClient) error {
			return s.Send(&storev1.LocalPutRequest{Msg: &storev1.LocalPutRequest_Commit{Commit: &storev1.LocalPutCommit{SizeBytes: -1}}})
		}, codes.InvalidArgument},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ls := newLocalStore(t)
			c := newPair(t, ls, testChunk)
			s, err := c.store.LocalPut(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Send(hdr); err != nil {
				t.Fatal(err)
			}
			m, err := s.Recv()
			if err != nil || m.GetReady().GetPath() == "" {
				t.Fatalf("ready: %v, %v", m, err)
			}
			if err := tc.then(s); err != nil {
				t.Fatal(err)
			}
			_, err = s.Recv()
			if status.Code(err) != tc.want {
				t.Errorf("status %v, want %v", err, tc.want)
			}
			if ls.aborts.Load() != 1 || ls.commits.Load() != 0 {
				t.Errorf("aborts %d, commits %d; want 1 and 0", ls.aborts.Load(), ls.commits.Load())
			}
			if left := dirEntries(t, ls.dir); len(left) != 0 {
				t.Errorf("files left: %q", left)
			}
		})
	}
	// A store without the capability refuses the call.
	plain := newPair(t, newRecorder(), testChunk)
	s, err := plain.store.LocalPut(t.Context())
	if err == nil {
		_ = s.Send(hdr)
		_, err = s.Recv()
	}
	if !errors.Is(fromStatus(err), store.ErrUnsupported) {
		t.Errorf("LocalPut on a store without LocalWriter: %v, want ErrUnsupported", err)
	}
}

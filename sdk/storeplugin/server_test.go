package storeplugin

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/glance-go/glance/sdk/internal/gen/storev1"
	"github.com/glance-go/glance/sdk/store"
	"github.com/glance-go/glance/sdk/storeplugin/internal/memstore"
)

const testChunk = 64 << 10

// recorder is the in-memory store that also records how each Put body
// ended, panics on Stat of mem://panic, and counts Shutdown calls.
type recorder struct {
	*memstore.Store
	bodyEnd   chan error
	started   chan struct{} // one value per Put that reached the store
	shutdowns int
}

func newRecorder() *recorder {
	return &recorder{Store: memstore.New(), bodyEnd: make(chan error, 16), started: make(chan struct{}, 16)}
}

type endReader struct {
	r   io.Reader
	end error
}

func (e *endReader) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err != nil && e.end == nil {
		e.end = err
	}
	return n, err
}

func (r *recorder) Put(ctx context.Context, req store.PutRequest, body io.Reader) (store.PutResult, error) {
	er := &endReader{r: body}
	r.started <- struct{}{}
	res, err := r.Store.Put(ctx, req, er)
	r.bodyEnd <- er.end
	return res, err
}

func (r *recorder) Stat(ctx context.Context, location string) (store.ObjectInfo, error) {
	if location == "mem://panic" {
		panic("test panic")
	}
	return r.Store.Stat(ctx, location)
}

func (r *recorder) Shutdown(context.Context) error {
	r.shutdowns++
	return nil
}

// bodyEnd waits for the end of the next Put body.
func (r *recorder) nextBodyEnd(t *testing.T) error {
	t.Helper()
	select {
	case err := <-r.bodyEnd:
		return err
	case <-time.After(10 * time.Second):
		t.Fatal("the store's Put did not return")
		return nil
	}
}

func newPair(t *testing.T, b store.Backend, chunk int) *Client {
	t.Helper()
	c, err := NewInProcess(b, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Kill)
	if _, err := c.Configure(context.Background(), store.Config{StoreID: "test", ChunkSize: chunk}); err != nil {
		t.Fatal(err)
	}
	return c
}

func randBytes(n int) []byte {
	b := make([]byte, n)
	r := rand.NewChaCha8([32]byte{1})
	_, _ = r.Read(b)
	return b
}

func TestRoundTrip(t *testing.T) {
	c := newPair(t, memstore.New(), testChunk)
	if c.ChunkSize() != testChunk {
		t.Fatalf("chunk size %d", c.ChunkSize())
	}
	if info := c.Info(); info.Name != "memory" || len(info.ConfigSchema.Attributes) != 1 ||
		info.ConfigSchema.Attributes[0].Type != store.TypeString {
		t.Fatalf("info %+v", info)
	}
	if caps := c.Capabilities(); !caps.Write || !caps.ReadRange || caps.LocalFile {
		t.Fatalf("caps %+v", caps)
	}
	ctx := context.Background()
	for i, n := range []int{0, 1, testChunk - 1, testChunk, testChunk + 1, 3*testChunk + 5} {
		data := randBytes(n)
		size := int64(n)
		if i%2 == 1 {
			size = store.UnknownSize
		}
		id := fmt.Sprintf("img-%d", i)
		res, err := c.Put(ctx, store.PutRequest{ImageID: id, Size: size}, bytes.NewReader(data))
		if err != nil {
			t.Fatalf("put %d bytes: %v", n, err)
		}
		if res.Location != "mem://"+id || res.Size != int64(n) {
			t.Fatalf("put result %+v", res)
		}
		info, err := c.Stat(ctx, res.Location)
		if err != nil || info.Size != int64(n) {
			t.Fatalf("stat: %+v %v", info, err)
		}
		rc, info, err := c.Get(ctx, res.Location, store.Whole)
		if err != nil || info.Size != int64(n) {
			t.Fatalf("get: %+v %v", info, err)
		}
		var got bytes.Buffer
		if i%2 == 0 {
			_, err = io.Copy(&got, rc) // WriteTo
		} else {
			var b []byte
			b, err = io.ReadAll(rc) // Read
			got.Write(b)
		}
		_ = rc.Close()
		if err != nil || !bytes.Equal(got.Bytes(), data) {
			t.Fatalf("get %d bytes: got %d, err %v", n, got.Len(), err)
		}
		if n > 2 {
			rc, _, err := c.Get(ctx, res.Location, store.Range{Offset: 1, Length: int64(n - 2)})
			if err != nil {
				t.Fatal(err)
			}
			b, err := io.ReadAll(rc)
			if err != nil || !bytes.Equal(b, data[1:n-1]) {
				t.Fatalf("range: %d bytes, %v", len(b), err)
			}
		}
		if err := c.Delete(ctx, res.Location); err != nil {
			t.Fatal(err)
		}
		if err := c.Delete(ctx, res.Location); err != nil {
			t.Fatalf("second delete: %v", err)
		}
		if _, err := c.Stat(ctx, res.Location); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("stat after delete: %v", err)
		}
	}
	if _, _, err := c.Get(ctx, "mem://nope", store.Whole); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("get missing: %v", err)
	}
	if _, err := c.Stat(ctx, "s3://x"); !errors.Is(err, store.ErrInvalidLocation) || !strings.Contains(err.Error(), `"s3://x"`) {
		t.Fatalf("stat bad location: %v", err)
	}
	if _, err := c.Put(ctx, store.PutRequest{ImageID: "dup", Size: 1}, strings.NewReader("a")); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Put(ctx, store.PutRequest{ImageID: "dup", Size: 1}, strings.NewReader("b")); !errors.Is(err, store.ErrAlreadyExists) {
		t.Fatalf("duplicate: %v", err)
	}
	if _, _, err := c.Get(ctx, "mem://dup", store.Range{Offset: 2, Length: -1}); !errors.Is(err, store.ErrOutOfRange) {
		t.Fatalf("offset beyond size: %v", err)
	}
	rc, _, err := c.Get(ctx, "mem://dup", store.Range{Offset: 1, Length: -1})
	if err != nil {
		t.Fatal(err)
	}
	if b, err := io.ReadAll(rc); err != nil || len(b) != 0 {
		t.Fatalf("offset at size: %q %v", b, err)
	}
}

func TestConcurrentPuts(t *testing.T) {
	c := newPair(t, memstore.New(), testChunk)
	data := randBytes(2*testChunk + 7)
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Go(func() {
			loc := fmt.Sprintf("mem://c%d", i)
			if _, err := c.Put(context.Background(), store.PutRequest{ImageID: loc[6:], Size: int64(len(data))}, bytes.NewReader(data)); err != nil {
				t.Error(err)
				return
			}
			rc, _, err := c.Get(context.Background(), loc, store.Whole)
			if err != nil {
				t.Error(err)
				return
			}
			if b, err := io.ReadAll(rc); err != nil || !bytes.Equal(b, data) {
				t.Errorf("get %s: %d bytes, %v", loc, len(b), err)
			}
		})
	}
	wg.Wait()
}

type failingReader struct {
	data []byte
	err  error
	gate <-chan struct{} // if set, the error waits for it
}

func (f *failingReader) Read(p []byte) (int, error) {
	if len(f.data) == 0 {
		if f.gate != nil {
			<-f.gate
			f.gate = nil
		}
		return 0, f.err
	}
	n := copy(p, f.data)
	f.data = f.data[n:]
	return n, nil
}

func TestPutBodyErrorAborts(t *testing.T) {
	b := newRecorder()
	c := newPair(t, b, testChunk)
	boom := errors.New("client went away")
	// The error waits until the store is reading: an abort that overtakes
	// the header on a loaded machine never reaches the store at all.
	_, err := c.Put(context.Background(), store.PutRequest{ImageID: "x", Size: 10 * testChunk},
		&failingReader{data: randBytes(testChunk + testChunk/2), err: boom, gate: b.started})
	if !errors.Is(err, boom) || !errors.Is(err, store.ErrAborted) {
		t.Fatalf("put error %v", err)
	}
	end := b.nextBodyEnd(t)
	if end == nil || end == io.EOF || !errors.Is(end, store.ErrAborted) {
		t.Fatalf("the store's body ended with %v, want an abort", end)
	}
	if b.Len() != 0 {
		t.Fatal("an aborted put left an object")
	}
}

func TestPutContextCancelAborts(t *testing.T) {
	b := newRecorder()
	c := newPair(t, b, testChunk)
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	go func() {
		_, _ = pw.Write(randBytes(2 * testChunk))
		// Cancel only once the store is reading: a cancellation that
		// overtakes the header never reaches the store at all.
		<-b.started
		cancel()
		_ = pw.CloseWithError(context.Canceled)
	}()
	_, err := c.Put(ctx, store.PutRequest{ImageID: "x", Size: store.UnknownSize}, pr)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("put error %v", err)
	}
	if end := b.nextBodyEnd(t); !errors.Is(end, store.ErrAborted) {
		t.Fatalf("the store's body ended with %v", end)
	}
	if b.Len() != 0 {
		t.Fatal("a cancelled put left an object")
	}
}

// Raw protocol messages, for what the Client never sends.
func hdr(id string) *storev1.PutRequest {
	return &storev1.PutRequest{Msg: &storev1.PutRequest_Header{Header: &storev1.PutHeader{ImageId: id}}}
}

func chunk(b []byte) *storev1.PutRequest {
	return &storev1.PutRequest{Msg: &storev1.PutRequest_Chunk{Chunk: b}}
}

func trailer(n int64, data []byte) *storev1.PutRequest {
	return &storev1.PutRequest{Msg: &storev1.PutRequest_Trailer{Trailer: &storev1.PutTrailer{
		SizeBytes: n,
		Checksum: &storev1.Checksum{
			Algorithm: storev1.ChecksumAlgorithm_CHECKSUM_ALGORITHM_CRC32C,
			Value:     crcBytes(crc32.Checksum(data, castagnoli)),
		},
	}}}
}

func rawPut(t *testing.T, c *Client, msgs ...*storev1.PutRequest) error {
	t.Helper()
	stream, err := c.store.Put(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range msgs {
		if err := stream.Send(m); err != nil {
			break
		}
	}
	_, err = stream.CloseAndRecv()
	return fromStatus(err)
}

func TestPutProtocol(t *testing.T) {
	data := []byte("hello, world")
	cases := []struct {
		name     string
		msgs     []*storev1.PutRequest
		wantErr  error
		wantCode codes.Code
		wantBody error // how the store's body ends; nil: the store is not called
	}{
		{"ok", []*storev1.PutRequest{hdr("a"), chunk(data[:5]), chunk(data[5:]), trailer(12, data)}, nil, codes.OK, io.EOF},
		{"no header", []*storev1.PutRequest{chunk(data)}, store.ErrInvalidArgument, codes.InvalidArgument, nil},
		{"wrong size", []*storev1.PutRequest{hdr("b"), chunk(data), trailer(13, data)}, store.ErrSizeMismatch, codes.DataLoss, store.ErrSizeMismatch},
		{"wrong crc", []*storev1.PutRequest{hdr("c"), chunk(data), trailer(12, []byte("hello, World"))}, store.ErrChecksumMismatch, codes.DataLoss, store.ErrChecksumMismatch},
		{"no trailer", []*storev1.PutRequest{hdr("d"), chunk(data)}, store.ErrAborted, codes.Aborted, store.ErrAborted},
		{"data after trailer", []*storev1.PutRequest{hdr("e"), chunk(data), trailer(12, data), chunk(data)}, store.ErrInvalidArgument, codes.InvalidArgument, store.ErrInvalidArgument},
		{"chunk too big", []*storev1.PutRequest{hdr("f"), chunk(make([]byte, 1025)), trailer(1025, make([]byte, 1025))}, store.ErrInvalidArgument, codes.InvalidArgument, store.ErrInvalidArgument},
		{"second header", []*storev1.PutRequest{hdr("g"), hdr("g")}, store.ErrInvalidArgument, codes.InvalidArgument, store.ErrInvalidArgument},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := newRecorder()
			c := newPair(t, b, 1024)
			err := rawPut(t, c, tc.msgs...)
			if tc.wantErr == nil && err != nil || tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Fatalf("put error %v, want %v", err, tc.wantErr)
			}
			if status.Code(err) != tc.wantCode {
				t.Fatalf("code %v, want %v", status.Code(err), tc.wantCode)
			}
			if tc.wantBody == nil {
				return
			}
			end := b.nextBodyEnd(t)
			if !errors.Is(end, tc.wantBody) {
				t.Fatalf("the store's body ended with %v, want %v", end, tc.wantBody)
			}
			want := 0
			if tc.wantErr == nil {
				want = 1
			}
			if b.Len() != want {
				t.Fatalf("%d objects stored, want %d", b.Len(), want)
			}
		})
	}
}

// shortStore stops reading its body before the trailer, against the
// contract: the adapter must not report success.
type shortStore struct{ *memstore.Store }

func (s shortStore) Put(ctx context.Context, req store.PutRequest, body io.Reader) (store.PutResult, error) {
	return s.Store.Put(ctx, req, io.LimitReader(body, 3))
}

func TestPutStoreStopsEarly(t *testing.T) {
	s := shortStore{memstore.New()}
	c := newPair(t, s, 1024)
	_, err := c.Put(context.Background(), store.PutRequest{ImageID: "x", Size: store.UnknownSize}, strings.NewReader("abcdef"))
	if err == nil {
		t.Fatal("a store that stopped reading early reported success")
	}
	if s.Len() != 0 {
		t.Fatal("the partial object was not deleted")
	}
}

func TestPanicRecovery(t *testing.T) {
	c := newPair(t, newRecorder(), testChunk)
	ctx := context.Background()
	_, err := c.Stat(ctx, "mem://panic")
	if status.Code(err) != codes.Internal || !strings.Contains(err.Error(), "test panic") {
		t.Fatalf("panic became %v", err)
	}
	if _, err := c.Stat(ctx, "mem://other"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the next call: %v", err)
	}
}

func TestProbe(t *testing.T) {
	c, err := NewInProcess(memstore.New(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Kill()
	ctx := context.Background()
	err = c.Probe(ctx)
	if !errors.Is(err, store.ErrNotReady) || !strings.Contains(err.Error(), "not configured yet") {
		t.Fatalf("probe before configure: %v", err)
	}
	if _, err := c.Configure(ctx, store.Config{JSON: []byte(`{"nope": 1}`)}); !errors.Is(err, store.ErrInvalidConfig) {
		t.Fatalf("bad config: %v", err)
	}
	if _, err := c.Configure(ctx, store.Config{JSON: []byte(`{"label": "x"}`)}); err != nil {
		t.Fatal(err)
	}
	if err := c.Probe(ctx); err != nil {
		t.Fatalf("probe: %v", err)
	}
}

// extras implements the optional interfaces.
type extras struct {
	*recorder
	dir string
}

func (e extras) Configure(ctx context.Context, cfg store.Config) (store.Capabilities, error) {
	caps, err := e.recorder.Configure(ctx, cfg)
	caps.LocalFile = true
	return caps, err
}

func (e extras) ValidateConfig(_ context.Context, cfg store.Config) store.Diagnostics {
	var d store.Diagnostics
	if bytes.Contains(cfg.JSON, []byte("bad")) {
		d.Errorf("nested.attr", "bad value", "use a good one")
	}
	d = append(d, store.Diagnostic{Severity: store.SeverityWarning, Summary: "just saying"})
	return d
}

func (e extras) LocalFile(_ context.Context, location string) (string, error) {
	p := filepath.Join(e.dir, strings.TrimPrefix(location, "mem://"))
	return p, os.WriteFile(p, []byte("data"), 0o600)
}

func TestOptionalInterfaces(t *testing.T) {
	ctx := context.Background()
	plain := newPair(t, newRecorder(), testChunk)
	if d := plain.ValidateConfig(ctx, store.Config{JSON: []byte(`{}`)}); len(d) != 0 {
		t.Fatalf("diagnostics without a validator: %v", d)
	}
	if _, err := plain.LocalFile(ctx, "mem://x"); !errors.Is(err, store.ErrUnsupported) {
		t.Fatalf("local file without support: %v", err)
	}
	// Even when asked directly, the plugin says UNIMPLEMENTED.
	if _, err := plain.store.GetLocalFile(ctx, &storev1.GetLocalFileRequest{Location: "mem://x"}); status.Code(err) != codes.Unimplemented ||
		!errors.Is(fromStatus(err), store.ErrUnsupported) {
		t.Fatalf("raw local file: %v", err)
	}

	rec := newRecorder()
	x := newPair(t, extras{recorder: rec, dir: t.TempDir()}, testChunk)
	d := x.ValidateConfig(ctx, store.Config{JSON: []byte(`{"label": "bad"}`)})
	if len(d) != 2 || !d.HasErrors() || strings.Join(d[0].Path, ".") != "nested.attr" || d[0].Detail != "use a good one" ||
		d[1].Severity != store.SeverityWarning {
		t.Fatalf("diagnostics %+v", d)
	}
	p, err := x.LocalFile(ctx, "mem://img")
	if err != nil || !filepath.IsAbs(p) || filepath.Base(p) != "img" {
		t.Fatalf("local file %q %v", p, err)
	}
	if err := x.Shutdown(ctx); err != nil || rec.shutdowns != 1 {
		t.Fatalf("shutdown: %v, %d calls", err, rec.shutdowns)
	}
}

func TestConfigureChunkSize(t *testing.T) {
	for _, tc := range []struct{ ask, want int }{
		{0, store.DefaultChunkSize},
		{4096, 4096},
		{64 << 20, MaxMessageSize - messageOverhead},
	} {
		c := newPair(t, memstore.New(), tc.ask)
		if c.ChunkSize() != tc.want {
			t.Errorf("asked %d, got %d, want %d", tc.ask, c.ChunkSize(), tc.want)
		}
	}
	// A chunk at the limit goes through.
	c := newPair(t, memstore.New(), 64<<20)
	data := randBytes(c.ChunkSize() + 1)
	if _, err := c.Put(context.Background(), store.PutRequest{ImageID: "big", Size: int64(len(data))}, bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	rc, _, err := c.Get(context.Background(), "mem://big", store.Whole)
	if err != nil {
		t.Fatal(err)
	}
	if b, err := io.ReadAll(rc); err != nil || !bytes.Equal(b, data) {
		t.Fatalf("%d bytes, %v", len(b), err)
	}
}

func TestGetCancel(t *testing.T) {
	c := newPair(t, memstore.New(), testChunk)
	data := randBytes(8 * testChunk)
	if _, err := c.Put(context.Background(), store.PutRequest{ImageID: "x", Size: int64(len(data))}, bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	rc, _, err := c.Get(ctx, "mem://x", store.Whole)
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	_, err = io.ReadAll(rc)
	if !errors.Is(err, context.Canceled) || errors.Is(err, ErrPluginExited) {
		t.Fatalf("read after cancel: %v", err)
	}
	rc, _, err = c.Get(context.Background(), "mem://x", store.Whole)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 10)
	if _, err := rc.Read(buf); err != nil {
		t.Fatal(err)
	}
	_ = rc.Close()
	if _, err := rc.Read(buf); err == nil {
		t.Fatal("read after close succeeded")
	}
}

func TestInProcessKill(t *testing.T) {
	c, err := NewInProcess(memstore.New(), nil)
	if err != nil {
		t.Fatal(err)
	}
	c.Kill()
	c.Kill()
	if !c.Exited() {
		t.Fatal("not exited after Kill")
	}
	select {
	case <-c.Done():
	default:
		t.Fatal("Done not closed")
	}
	if _, err := c.Stat(context.Background(), "mem://x"); !errors.Is(err, ErrPluginExited) || !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("call after kill: %v", err)
	}
}

// fakeStore sends Get streams that break the protocol.
type fakeStore struct {
	storev1.UnimplementedStoreServiceServer
}

func (fakeStore) Get(req *storev1.GetRequest, s storev1.StoreService_GetServer) error {
	announced := map[string]int64{"short": 10, "long": 3}[req.GetLocation()]
	if err := s.Send(&storev1.GetResponse{Msg: &storev1.GetResponse_Header{Header: &storev1.GetHeader{
		ObjectSizeBytes: 10, ContentLength: announced,
	}}}); err != nil {
		return err
	}
	return s.Send(&storev1.GetResponse{Msg: &storev1.GetResponse_Chunk{Chunk: []byte("12345")}})
}

func TestGetContentLength(t *testing.T) {
	dir, err := os.MkdirTemp("", "gsp")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	lis, err := net.Listen("unix", filepath.Join(dir, "s"))
	if err != nil {
		t.Fatal(err)
	}
	g := grpc.NewServer()
	storev1.RegisterStoreServiceServer(g, fakeStore{})
	go func() { _ = g.Serve(lis) }()
	defer g.Stop()
	conn, err := grpc.NewClient("unix://"+filepath.Join(dir, "s"), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	c := newClient("fake", conn, make(chan struct{}), 0, func() bool { return false }, func() {})

	rc, _, err := c.Get(context.Background(), "short", store.Whole)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(rc)
	if !errors.Is(err, io.ErrUnexpectedEOF) || string(b) != "12345" {
		t.Fatalf("short stream: %q, %v", b, err)
	}
	rc, _, err = c.Get(context.Background(), "short", store.Whole)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := io.Copy(&buf, rc); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("short stream with WriteTo: %v", err)
	}

	rc, _, err = c.Get(context.Background(), "long", store.Whole)
	if err != nil {
		t.Fatal(err)
	}
	if _, err = io.ReadAll(rc); err == nil || !strings.Contains(err.Error(), "more data than it announced") {
		t.Fatalf("long stream: %v", err)
	}
}

// Close from another goroutine aborts a Read blocked on the stream.
func TestGetCloseAbortsRead(t *testing.T) {
	c := newPair(t, blockingStore{memstore.New()}, testChunk)
	rc, _, err := c.Get(context.Background(), "mem://block", store.Whole)
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() {
		_, err := io.Copy(io.Discard, rc)
		errc <- err
	}()
	time.Sleep(50 * time.Millisecond)
	start := time.Now()
	_ = rc.Close()
	select {
	case err := <-errc:
		if !errors.Is(err, errReadAfterClose) {
			t.Fatalf("read after close: %v", err)
		}
		if d := time.Since(start); d > exitWait/2 {
			t.Fatalf("the aborted read took %v", d)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not abort the read")
	}
}

// blockingStore's mem://block sends one chunk and then blocks until the
// call is cancelled.
type blockingStore struct{ *memstore.Store }

func (b blockingStore) Get(ctx context.Context, location string, r store.Range) (io.ReadCloser, store.ObjectInfo, error) {
	if location != "mem://block" {
		return b.Store.Get(ctx, location, r)
	}
	pr, pw := io.Pipe()
	go func() {
		_, _ = pw.Write(make([]byte, testChunk))
		<-ctx.Done()
		_ = pw.CloseWithError(ctx.Err())
	}()
	return pr, store.ObjectInfo{Size: 1 << 30}, nil
}

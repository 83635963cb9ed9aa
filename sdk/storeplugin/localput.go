package storeplugin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/glance-go/glance/sdk/internal/gen/storev1"
	"github.com/glance-go/glance/sdk/store"
)

// The host side of LocalPut: the write mirror of the LocalFile read path.
//
// Streaming an upload to the plugin costs every byte a protobuf copy, the
// AES-GCM of the AutoMTLS connection on both sides, a CRC32C on both sides
// and the plugin's own copy into its file: about as much CPU as Glance's
// md5+sha512 themselves. When the store's files are on this machine, the
// plugin instead hands the host an empty temporary file it created (and
// locks, so its crash sweep still works), the host writes the body into it
// with one write per buffer, and the plugin commits it exactly as its Put
// would. The stream stays open for the whole upload, so the plugin aborts
// when the host goes away, and the host stops when the plugin does.

// localPutWriteback is how much the host writes before it asks the kernel
// to start writing the file out, so that the plugin's fsync at the commit
// does not find a whole image dirty in the page cache (as the plugin's own
// writer does).
const localPutWriteback = 8 << 20

// abortWait bounds how long an aborting Put waits for the plugin to
// confirm it removed the temporary file.
const abortWait = 5 * time.Second

// errPluginEnded is why the host stops writing when the plugin ended the
// stream under it; the stream's own status says more.
var errPluginEnded = errors.New("the store plugin ended the local put")

// SetLocalPut turns the LocalPut fast path for Put on or off for this
// client. It is on unless ClientConfig.DisableLocalPut was set; it is only
// used when the store also offers the LocalPut capability.
func (c *Client) SetLocalPut(on bool) { c.noLocalPut.Store(!on) }

// useLocalPut reports whether Put should go through a local file.
func (c *Client) useLocalPut() bool {
	return localPutSupported && !c.noLocalPut.Load() && !c.localPutBroken.Load() && c.Capabilities().LocalPut
}

// localPutResult is what the plugin answered after the ready message.
type localPutResult struct {
	m   *storev1.LocalPutResponse
	err error
}

// localPut stores body through a file the plugin prepares. fallback is
// true, with nothing read from body, when this host cannot use the file
// (another mount namespace, another user): Put then streams instead.
func (c *Client) localPut(ctx context.Context, req store.PutRequest, body io.Reader) (res store.PutResult, fallback bool, err error) {
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := c.store.LocalPut(sctx)
	if err != nil {
		return store.PutResult{}, false, c.err(ctx, err)
	}
	if err := stream.Send(&storev1.LocalPutRequest{Msg: &storev1.LocalPutRequest_Header{Header: putHeader(req)}}); err != nil {
		if err == io.EOF {
			_, err = stream.Recv()
		}
		return store.PutResult{}, false, c.err(ctx, err)
	}
	m, err := stream.Recv()
	if err != nil {
		// The store refused at the start: duplicate id, no space, ...
		return store.PutResult{}, false, c.err(ctx, err)
	}
	ready := m.GetReady()
	if ready == nil || ready.GetPath() == "" {
		return store.PutResult{}, false, c.protocolErr("a local put stream did not answer its header with a path")
	}
	f, err := openLocalPut(ready.GetPath())
	if err != nil {
		// Nothing of body was read yet: abort the local put and let Put
		// stream the upload. A host that cannot open one file will not
		// open the next either, so stop trying.
		c.localPutBroken.Store(true)
		_ = stream.CloseSend()
		c.awaitAbort(func() { drain(stream) }, cancel)
		return store.PutResult{}, true, fmt.Errorf("store plugin %s: cannot write its local put file: %w", c.name, err)
	}

	// The plugin says nothing until the commit: an answer now means it
	// failed or died, and the writer must stop. This goroutine is the
	// stream's only reader from here on.
	results := make(chan localPutResult, 1)
	ended := make(chan struct{})
	go func() {
		m, err := stream.Recv()
		close(ended)
		results <- localPutResult{m, err}
	}()

	w := &localPutFile{f: f, ctx: ctx, ended: ended, limit: req.Size}
	n, werr := c.fillLocalPut(w, body)
	if cerr := f.Close(); werr == nil && cerr != nil {
		werr = fmt.Errorf("closing the local put file: %w", cerr)
	}
	if cerr := ctx.Err(); werr == nil && cerr != nil {
		// The caller gave up as the body ended: do not commit.
		werr = fmt.Errorf("%w: %w", store.ErrAborted, cerr)
	}
	if werr == nil && req.Size >= 0 && n != req.Size {
		werr = fmt.Errorf("%w: the body has %d bytes, %d were declared", store.ErrSizeMismatch, n, req.Size)
	}
	if werr != nil {
		if errors.Is(werr, errPluginEnded) {
			// The plugin's status says why (it died: ErrPluginExited).
			r := <-results
			if r.err == nil {
				return store.PutResult{}, false, c.protocolErr("a local put stream answered before its commit")
			}
			return store.PutResult{}, false, c.err(ctx, r.err)
		}
		// Ending the stream without a commit is the abort; wait for the
		// plugin to have removed its file, so that nothing is left
		// behind when Put returns.
		_ = stream.CloseSend()
		c.awaitAbort(func() { <-results }, cancel)
		return store.PutResult{}, false, werr
	}

	if err := stream.Send(&storev1.LocalPutRequest{Msg: &storev1.LocalPutRequest_Commit{
		Commit: &storev1.LocalPutCommit{SizeBytes: n},
	}}); err != nil && err != io.EOF {
		return store.PutResult{}, false, c.err(ctx, err)
	}
	// io.EOF from Send means the plugin already ended the stream; its
	// status is what Recv returns.
	_ = stream.CloseSend()
	var r localPutResult
	select {
	case r = <-results:
	case <-ctx.Done():
		select {
		case r = <-results: // committed (or failed) just as the caller gave up
		default:
			// The cancelled stream reaches the plugin, which honours it
			// up to the moment the object becomes visible.
			return store.PutResult{}, false, fmt.Errorf("%w: %w", store.ErrAborted, ctx.Err())
		}
	}
	if r.err != nil {
		return store.PutResult{}, false, c.err(ctx, r.err)
	}
	out := r.m.GetResult()
	if out == nil {
		return store.PutResult{}, false, c.protocolErr("a local put stream did not answer its commit with a result")
	}
	return putResultFromProto(out), false, nil
}

// awaitAbort waits, briefly, for wait to see the end of an aborted stream:
// the plugin removes the temporary file before it ends the stream. A
// stream whose context was cancelled ends at once, and the plugin then
// cleans up just after the host returned.
func (c *Client) awaitAbort(wait func(), cancel context.CancelFunc) {
	done := make(chan struct{})
	go func() { wait(); close(done) }()
	t := time.NewTimer(abortWait)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
	}
	cancel()
}

// drain receives until the stream ends.
func drain(stream storev1.StoreService_LocalPutClient) {
	for {
		if _, err := stream.Recv(); err != nil {
			return
		}
	}
}

// fillLocalPut copies body into w. A body that can write itself out (the
// host's hashing reader) hands over its own buffers; any other is read
// into one pooled buffer filled to the chunk size, so every write is large.
// Errors from body are aborts, as on the streaming path.
func (c *Client) fillLocalPut(w *localPutFile, body io.Reader) (int64, error) {
	if wt, ok := body.(io.WriterTo); ok {
		n, err := wt.WriteTo(w)
		if err != nil {
			return n, w.cause(err)
		}
		return n, w.err
	}
	bp := c.buffer()
	defer c.bufs.Put(bp)
	buf := *bp
	var n int64
	for {
		k, rerr := fill(body, buf)
		if k > 0 {
			wn, err := w.Write(buf[:k])
			n += int64(wn)
			if err != nil {
				return n, err
			}
		}
		if rerr == io.EOF {
			return n, nil
		}
		if rerr != nil {
			return n, w.cause(rerr)
		}
	}
}

// localPutFile is the host's end of the temporary file. Every write checks
// first that the caller and the plugin are both still there, and that the
// declared size is not exceeded.
type localPutFile struct {
	f       *os.File
	ctx     context.Context
	ended   <-chan struct{}
	limit   int64 // declared size, or store.UnknownSize
	n       int64
	flushed int64
	err     error // why Write failed, to tell it from a body error
}

func (w *localPutFile) Write(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	if err := w.ctx.Err(); err != nil {
		w.err = fmt.Errorf("%w: %w", store.ErrAborted, err)
		return 0, w.err
	}
	select {
	case <-w.ended:
		w.err = errPluginEnded
		return 0, w.err
	default:
	}
	if w.limit >= 0 && w.n+int64(len(p)) > w.limit {
		w.err = fmt.Errorf("%w: the body is longer than the declared %d bytes", store.ErrSizeMismatch, w.limit)
		return 0, w.err
	}
	k, err := w.f.Write(p)
	w.n += int64(k)
	if err != nil {
		if isNoSpace(err) {
			err = fmt.Errorf("%w: %w", store.ErrStorageFull, err)
		}
		w.err = fmt.Errorf("writing the local put file: %w", err)
		return k, w.err
	}
	if w.n-w.flushed >= localPutWriteback {
		startWriteback(w.f, w.flushed, w.n-w.flushed)
		w.flushed = w.n
	}
	return k, nil
}

// cause is the error to return when copying failed with err: the writer's
// own failure, or else the body's, as an abort.
func (w *localPutFile) cause(err error) error {
	if w.err != nil {
		return w.err
	}
	return fmt.Errorf("%w: reading the image data: %w", store.ErrAborted, err)
}

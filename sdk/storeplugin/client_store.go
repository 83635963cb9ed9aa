package storeplugin

import (
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"sync/atomic"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/glance-go/glance/sdk/internal/gen/storev1"
	"github.com/glance-go/glance/sdk/store"
)

// The store.Backend side of Client: each method is one call to the plugin.

// Configure sends the store's configuration and negotiates the chunk size:
// cfg.ChunkSize is the host's proposal (zero for store.DefaultChunkSize),
// the plugin's choice is then ChunkSize().
func (c *Client) Configure(ctx context.Context, cfg store.Config) (store.Capabilities, error) {
	req := &storev1.ConfigureRequest{
		StoreId:         cfg.StoreID,
		ConfigJson:      cfg.JSON,
		MaxMessageBytes: MaxMessageSize,
	}
	if cfg.ChunkSize > 0 {
		req.PreferredChunkBytes = uint32(min(cfg.ChunkSize, MaxMessageSize))
	}
	resp, err := c.store.Configure(ctx, req)
	if err != nil {
		return store.Capabilities{}, c.err(ctx, err)
	}
	if diags := diagsFromProto(resp.GetDiagnostics()); diags.HasErrors() {
		return store.Capabilities{}, diags.Err()
	}
	chunk := int(resp.GetChunkBytes())
	if chunk == 0 {
		chunk = store.DefaultChunkSize
	}
	if chunk > MaxMessageSize-messageOverhead {
		return store.Capabilities{}, c.protocolErr("chunk size %d is over the limit of %d", chunk, MaxMessageSize-messageOverhead)
	}
	caps := capsFromProto(resp.GetCapabilities())
	c.mu.Lock()
	c.caps, c.chunk = caps, chunk
	c.mu.Unlock()
	return caps, nil
}

// ValidateConfig asks the plugin to check a configuration without applying
// it. A failed call is reported as one error diagnostic.
func (c *Client) ValidateConfig(ctx context.Context, cfg store.Config) store.Diagnostics {
	resp, err := c.store.ValidateConfig(ctx, &storev1.ValidateConfigRequest{ConfigJson: cfg.JSON})
	if err != nil {
		return store.Diagnostics{{
			Severity: store.SeverityError,
			Summary:  "the store plugin could not validate the configuration",
			Detail:   c.err(ctx, err).Error(),
		}}
	}
	return diagsFromProto(resp.GetDiagnostics())
}

// Probe asks the plugin whether the store is ready: nil, an error wrapping
// store.ErrNotReady, or why it is unhealthy.
func (c *Client) Probe(ctx context.Context) error {
	resp, err := c.identity.Probe(ctx, &storev1.ProbeRequest{})
	if err != nil {
		return c.err(ctx, err)
	}
	if !resp.GetReady() {
		msg := resp.GetDetail()
		if msg == "" {
			msg = store.ErrNotReady.Error()
		}
		return &remoteError{st: status.New(codes.FailedPrecondition, msg), sentinels: []error{store.ErrNotReady}}
	}
	return nil
}

// Put stores body under req.ImageID.
//
// When the store offers the LocalPut capability (its files are on this
// machine) and the host has not opted out, the plugin prepares a temporary
// file and the host writes body into it itself, then asks the plugin to
// commit it: the bytes never cross the gRPC connection. Otherwise, or when
// this host cannot open the plugin's file, Put streams body to the plugin
// in chunks of ChunkSize, then a trailer with the size and CRC32C.
//
// Either way, if body fails or ctx ends first, nothing is committed: the
// plugin aborts, and the error returned wraps store.ErrAborted and the
// cause; the store's own errors (ErrAlreadyExists, ErrSizeMismatch,
// ErrStorageFull...) come back as they are.
func (c *Client) Put(ctx context.Context, req store.PutRequest, body io.Reader) (store.PutResult, error) {
	if c.useLocalPut() {
		res, fallback, err := c.localPut(ctx, req, body)
		if !fallback {
			return res, err
		}
		c.log.Warn("the host cannot write the store plugin's files; streaming uploads instead", "error", err)
	}
	return c.streamPut(ctx, req, body)
}

// streamPut is Put over the gRPC stream. If body fails or ctx ends first,
// no trailer is sent: the stream is cancelled and the plugin aborts.
func (c *Client) streamPut(ctx context.Context, req store.PutRequest, body io.Reader) (store.PutResult, error) {
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := c.store.Put(sctx)
	if err != nil {
		return store.PutResult{}, c.err(ctx, err)
	}
	if err := stream.Send(&storev1.PutRequest{Msg: &storev1.PutRequest_Header{Header: putHeader(req)}}); err != nil {
		return store.PutResult{}, c.putErr(ctx, stream, err)
	}

	bp := c.buffer()
	defer c.bufs.Put(bp)
	buf := *bp
	chunk := &storev1.PutRequest_Chunk{}
	msg := &storev1.PutRequest{Msg: chunk}
	var (
		n   int64
		crc uint32
	)
	for {
		k, rerr := fill(body, buf)
		if err := ctx.Err(); err != nil {
			cancel()
			return store.PutResult{}, fmt.Errorf("%w: %w", store.ErrAborted, err)
		}
		if k > 0 {
			chunk.Chunk = buf[:k]
			crc = crc32.Update(crc, castagnoli, chunk.Chunk)
			n += int64(k)
			// Send marshals the message before it returns, so buf can be reused.
			if err := stream.Send(msg); err != nil {
				return store.PutResult{}, c.putErr(ctx, stream, err)
			}
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			cancel()
			return store.PutResult{}, fmt.Errorf("%w: reading the image data: %w", store.ErrAborted, rerr)
		}
	}
	trailer := &storev1.PutTrailer{SizeBytes: n, Checksum: &storev1.Checksum{
		Algorithm: storev1.ChecksumAlgorithm_CHECKSUM_ALGORITHM_CRC32C,
		Value:     crcBytes(crc),
	}}
	if err := stream.Send(&storev1.PutRequest{Msg: &storev1.PutRequest_Trailer{Trailer: trailer}}); err != nil {
		return store.PutResult{}, c.putErr(ctx, stream, err)
	}
	resp, err := stream.CloseAndRecv()
	if err != nil {
		return store.PutResult{}, c.err(ctx, err)
	}
	return putResultFromProto(resp), nil
}

// putHeader is the header of a Put or LocalPut stream for req.
func putHeader(req store.PutRequest) *storev1.PutHeader {
	hdr := &storev1.PutHeader{ImageId: req.ImageID, Context: req.Context}
	if req.Size >= 0 {
		size := req.Size
		hdr.SizeBytes = &size
	}
	return hdr
}

// putErr maps a failed Send: io.EOF means the plugin ended the stream, and
// its status is what CloseAndRecv returns.
func (c *Client) putErr(ctx context.Context, stream storev1.StoreService_PutClient, err error) error {
	if err == io.EOF {
		if _, err = stream.CloseAndRecv(); err == nil {
			err = c.protocolErr("the plugin ended a put stream before its trailer")
		}
	}
	return c.err(ctx, err)
}

func (c *Client) buffer() *[]byte {
	n := c.ChunkSize()
	if p, ok := c.bufs.Get().(*[]byte); ok && len(*p) == n {
		return p
	}
	b := make([]byte, n)
	return &b
}

// Get opens a stream of the range r of the object at location. The reader
// returns exactly the announced number of bytes, then io.EOF; a stream that
// ends early is io.ErrUnexpectedEOF. Close cancels the stream.
func (c *Client) Get(ctx context.Context, location string, r store.Range) (io.ReadCloser, store.ObjectInfo, error) {
	sctx, cancel := context.WithCancel(ctx)
	req := &storev1.GetRequest{Location: location, Offset: r.Offset}
	if r.Length >= 0 {
		length := r.Length
		req.Length = &length
	}
	stream, err := c.store.Get(sctx, req)
	if err != nil {
		cancel()
		return nil, store.ObjectInfo{}, c.err(ctx, err)
	}
	m, err := stream.Recv()
	if err != nil {
		cancel()
		if err == io.EOF {
			err = c.protocolErr("a get stream ended before its header")
		}
		return nil, store.ObjectInfo{}, c.err(ctx, err)
	}
	h := m.GetHeader()
	if h == nil || h.GetContentLength() < 0 {
		cancel()
		return nil, store.ObjectInfo{}, c.protocolErr("a get stream did not start with a valid header")
	}
	g := &getReader{c: c, ctx: sctx, stream: stream, cancel: cancel, remaining: h.GetContentLength()}
	return g, store.ObjectInfo{Size: h.GetObjectSizeBytes(), Metadata: h.GetMetadata()}, nil
}

var errReadAfterClose = errors.New("storeplugin: read after Close")

// getReader reads the chunks of a Get stream. Like an HTTP body, it may be
// closed from another goroutine to abort a Read.
type getReader struct {
	c         *Client
	ctx       context.Context // the stream's, to tell a cancellation from a plugin exit
	stream    storev1.StoreService_GetClient
	cancel    context.CancelFunc
	closed    atomic.Bool
	remaining int64  // bytes announced and not yet received
	cur       []byte // rest of the current chunk
	err       error  // sticky
}

func (g *getReader) Read(p []byte) (int, error) {
	if g.closed.Load() {
		return 0, errReadAfterClose
	}
	for len(g.cur) == 0 {
		if g.err != nil {
			return 0, g.err
		}
		g.next()
	}
	n := copy(p, g.cur)
	g.cur = g.cur[n:]
	return n, nil
}

// WriteTo lets io.Copy write the chunks straight to the destination.
func (g *getReader) WriteTo(w io.Writer) (int64, error) {
	var total int64
	for {
		if g.closed.Load() {
			return total, errReadAfterClose
		}
		if len(g.cur) > 0 {
			n, err := w.Write(g.cur)
			total += int64(n)
			g.cur = g.cur[n:]
			if err != nil {
				return total, err
			}
			if len(g.cur) > 0 {
				return total, io.ErrShortWrite
			}
			continue
		}
		if g.err == io.EOF {
			return total, nil
		}
		if g.err != nil {
			return total, g.err
		}
		g.next()
	}
}

func (g *getReader) next() {
	m, err := g.stream.Recv()
	switch {
	case err == io.EOF && g.remaining > 0:
		g.fail(fmt.Errorf("store plugin %s: the object ended %d bytes early: %w", g.c.name, g.remaining, io.ErrUnexpectedEOF))
		return
	case err == io.EOF:
		g.fail(io.EOF)
		return
	case err != nil && g.closed.Load():
		g.fail(errReadAfterClose)
		return
	case err != nil:
		g.fail(g.c.err(g.ctx, err))
		return
	}
	chunk, ok := m.GetMsg().(*storev1.GetResponse_Chunk)
	if !ok {
		g.fail(g.c.protocolErr("a get stream sent a second header"))
		return
	}
	if int64(len(chunk.Chunk)) > g.remaining {
		g.fail(g.c.protocolErr("a get stream sent more data than it announced"))
		return
	}
	g.remaining -= int64(len(chunk.Chunk))
	g.cur = chunk.Chunk
}

func (g *getReader) fail(err error) {
	g.err = err
	g.cancel()
}

// Close cancels the stream if it has not ended.
func (g *getReader) Close() error {
	g.closed.Store(true)
	g.cancel()
	return nil
}

// Stat returns the size and metadata of the object at location.
func (c *Client) Stat(ctx context.Context, location string) (store.ObjectInfo, error) {
	resp, err := c.store.Stat(ctx, &storev1.StatRequest{Location: location})
	if err != nil {
		return store.ObjectInfo{}, c.err(ctx, err)
	}
	return store.ObjectInfo{Size: resp.GetSizeBytes(), Metadata: resp.GetMetadata()}, nil
}

// Delete removes the object at location; a missing object is not an error.
func (c *Client) Delete(ctx context.Context, location string) error {
	_, err := c.store.Delete(ctx, &storev1.DeleteRequest{Location: location})
	return c.err(ctx, err)
}

// LocalFile returns the path of the object's file on this machine, for
// stores with the LocalFile capability; store.ErrUnsupported otherwise.
func (c *Client) LocalFile(ctx context.Context, location string) (string, error) {
	if !c.Capabilities().LocalFile {
		return "", fmt.Errorf("%w: store plugin %s has no local files", store.ErrUnsupported, c.name)
	}
	resp, err := c.store.GetLocalFile(ctx, &storev1.GetLocalFileRequest{Location: location})
	if err != nil {
		return "", c.err(ctx, err)
	}
	return resp.GetPath(), nil
}

// Shutdown asks the plugin to release its resources. Call it after the
// calls in flight have returned, and before Kill.
func (c *Client) Shutdown(ctx context.Context) error {
	_, err := c.store.Shutdown(ctx, &storev1.ShutdownRequest{})
	return c.err(ctx, err)
}

func (c *Client) protocolErr(format string, args ...any) error {
	return fmt.Errorf("store plugin %s broke the protocol: %s", c.name, fmt.Sprintf(format, args...))
}

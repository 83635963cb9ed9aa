package storeplugin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"

	"github.com/hashicorp/go-hclog"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/glance-go/glance/sdk/internal/gen/storev1"
	"github.com/glance-go/glance/sdk/store"
)

// server adapts a store.Backend to the two protocol services.
type server struct {
	b      store.Backend
	logger hclog.Logger

	mu    sync.Mutex
	chunk int                // negotiated in Configure
	caps  store.Capabilities // from the last Configure
	bufs  sync.Pool          // *[]byte of len chunk, for Get
}

func newServer(b store.Backend, logger hclog.Logger) *server {
	if logger == nil {
		logger = hclog.NewNullLogger()
	}
	return &server{b: b, logger: logger, chunk: store.DefaultChunkSize}
}

func (s *server) chunkSize() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.chunk
}

func (s *server) capabilities() store.Capabilities {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.caps
}

// buffer returns a reusable buffer of the chunk size.
func (s *server) buffer() *[]byte {
	n := s.chunkSize()
	if p, ok := s.bufs.Get().(*[]byte); ok && len(*p) == n {
		return p
	}
	b := make([]byte, n)
	return &b
}

type identityServer struct {
	storev1.UnimplementedIdentityServiceServer
	*server
}

func (s identityServer) GetPluginInfo(context.Context, *storev1.GetPluginInfoRequest) (*storev1.GetPluginInfoResponse, error) {
	return infoToProto(s.b.Info()), nil
}

func (s identityServer) GetCapabilities(context.Context, *storev1.GetCapabilitiesRequest) (*storev1.GetCapabilitiesResponse, error) {
	return &storev1.GetCapabilitiesResponse{Capabilities: capsToProto(s.capabilities())}, nil
}

func (s identityServer) Probe(ctx context.Context, _ *storev1.ProbeRequest) (*storev1.ProbeResponse, error) {
	err := s.b.Probe(ctx)
	switch {
	case err == nil:
		return &storev1.ProbeResponse{Ready: true}, nil
	case errors.Is(err, store.ErrNotReady):
		return &storev1.ProbeResponse{Ready: false, Detail: err.Error()}, nil
	default:
		return nil, statusErr(err)
	}
}

type storeServer struct {
	storev1.UnimplementedStoreServiceServer
	*server
}

func (s storeServer) ValidateConfig(ctx context.Context, req *storev1.ValidateConfigRequest) (*storev1.ValidateConfigResponse, error) {
	v, ok := s.b.(store.ConfigValidator)
	if !ok {
		return &storev1.ValidateConfigResponse{}, nil
	}
	diags := v.ValidateConfig(ctx, store.Config{JSON: req.GetConfigJson()})
	return &storev1.ValidateConfigResponse{Diagnostics: diagsToProto(diags)}, nil
}

func (s storeServer) Configure(ctx context.Context, req *storev1.ConfigureRequest) (*storev1.ConfigureResponse, error) {
	chunk := int(req.GetPreferredChunkBytes())
	if chunk <= 0 {
		chunk = store.DefaultChunkSize
	}
	limit := MaxMessageSize - messageOverhead
	if m := int(req.GetMaxMessageBytes()); m > 0 {
		if m <= messageOverhead {
			return nil, status.Errorf(codes.InvalidArgument, "max_message_bytes %d leaves no room for data", m)
		}
		limit = min(limit, m-messageOverhead)
	}
	chunk = min(chunk, limit)
	caps, err := s.b.Configure(ctx, store.Config{
		StoreID:   req.GetStoreId(),
		JSON:      req.GetConfigJson(),
		ChunkSize: chunk,
	})
	if err != nil {
		return nil, statusErr(err)
	}
	if _, ok := s.b.(store.LocalFiler); !ok {
		caps.LocalFile = false
	}
	if _, ok := s.b.(store.LocalWriter); !ok {
		caps.LocalPut = false
	}
	s.mu.Lock()
	s.chunk, s.caps = chunk, caps
	s.mu.Unlock()
	return &storev1.ConfigureResponse{ChunkBytes: uint32(chunk), Capabilities: capsToProto(caps)}, nil
}

func (s storeServer) Put(stream storev1.StoreService_PutServer) error {
	ctx := stream.Context()
	first, err := stream.Recv()
	if err != nil {
		if err == io.EOF {
			return status.Error(codes.InvalidArgument, "put stream ended before its header")
		}
		return err
	}
	req, err := putRequest(first.GetHeader())
	if err != nil {
		return err
	}
	body := &putBody{stream: stream, ctx: ctx, max: s.chunkSize(), expect: req.Size}
	res, err := s.b.Put(ctx, req, body)
	if err != nil {
		if ctx.Err() != nil {
			return status.FromContextError(ctx.Err()).Err()
		}
		if body.err != nil && body.err != io.EOF && !errors.Is(err, body.err) {
			// The store hid why its body failed; say it.
			return statusErr(body.err)
		}
		return statusErr(err)
	}
	if !body.verified() {
		// A store must read its body to io.EOF: only then are size and
		// checksum known to be right. It did not; undo what it stored.
		s.logger.Error("store returned from Put before its body ended; deleting the object",
			"image_id", req.ImageID, "location", res.Location, "body_error", body.err)
		if derr := s.b.Delete(context.WithoutCancel(ctx), res.Location); derr != nil {
			s.logger.Error("delete after an unverified put failed", "location", res.Location, "error", derr)
		}
		if body.err != nil && body.err != io.EOF {
			return statusErr(body.err)
		}
		return status.Error(codes.Internal, "store returned from Put before reading its whole body")
	}
	return stream.SendAndClose(putResultToProto(res))
}

// putRequest checks the header of a Put or LocalPut stream.
func putRequest(h *storev1.PutHeader) (store.PutRequest, error) {
	if h == nil {
		return store.PutRequest{}, status.Error(codes.InvalidArgument, "the first message of a put stream must be its header")
	}
	req := store.PutRequest{ImageID: h.GetImageId(), Size: store.UnknownSize, Context: h.GetContext()}
	if h.SizeBytes != nil {
		if *h.SizeBytes < 0 {
			return store.PutRequest{}, status.Errorf(codes.InvalidArgument, "negative size %d in put header", *h.SizeBytes)
		}
		req.Size = *h.SizeBytes
	}
	return req, nil
}

// LocalPut is Put through a file the host writes itself. The plugin side
// stays in charge of everything that makes an object: it creates and holds
// the temporary file, checks the size at the commit, and links the object
// into place; the host only fills the file. Any ending of the stream other
// than a commit aborts the upload, so a host that dies or gives up leaves
// nothing behind.
func (s storeServer) LocalPut(stream storev1.StoreService_LocalPutServer) error {
	ctx := stream.Context()
	lw, ok := s.b.(store.LocalWriter)
	if !ok || !s.capabilities().LocalPut {
		return statusErr(fmt.Errorf("%w: this store takes no local puts", store.ErrUnsupported))
	}
	first, err := stream.Recv()
	if err != nil {
		if err == io.EOF {
			return status.Error(codes.InvalidArgument, "local put stream ended before its header")
		}
		return err
	}
	req, err := putRequest(first.GetHeader())
	if err != nil {
		return err
	}
	lp, err := lw.BeginLocalPut(ctx, req)
	if err != nil {
		if ctx.Err() != nil {
			return status.FromContextError(ctx.Err()).Err()
		}
		return statusErr(err)
	}
	settled := false
	defer func() {
		if !settled {
			lp.Abort()
		}
	}()
	path := lp.Path()
	if !filepath.IsAbs(path) {
		return status.Errorf(codes.Internal, "store returned a relative local put path %q", path)
	}
	if err := stream.Send(&storev1.LocalPutResponse{Msg: &storev1.LocalPutResponse_Ready{
		Ready: &storev1.LocalPutReady{Path: path},
	}}); err != nil {
		return sendErr(ctx, err)
	}
	// The host is writing the file now; the next message is its commit,
	// or the stream ends and the deferred Abort removes the file.
	m, err := stream.Recv()
	switch {
	case err == io.EOF:
		return statusErr(fmt.Errorf("%w: the local put stream ended without its commit", store.ErrAborted))
	case err != nil:
		if cerr := ctx.Err(); cerr != nil {
			return status.FromContextError(cerr).Err()
		}
		return statusErr(fmt.Errorf("%w: receiving: %v", store.ErrAborted, err))
	}
	commit := m.GetCommit()
	if commit == nil {
		return status.Error(codes.InvalidArgument, "the second message of a local put stream must be its commit")
	}
	if commit.GetSizeBytes() < 0 {
		return status.Errorf(codes.InvalidArgument, "negative size %d in local put commit", commit.GetSizeBytes())
	}
	settled = true // Commit cleans up after itself when it fails
	res, err := lp.Commit(ctx, commit.GetSizeBytes())
	if err != nil {
		if ctx.Err() != nil {
			return status.FromContextError(ctx.Err()).Err()
		}
		return statusErr(err)
	}
	if err := stream.Send(&storev1.LocalPutResponse{Msg: &storev1.LocalPutResponse_Result{Result: putResultToProto(res)}}); err != nil {
		// The host cannot learn the location, so it cannot record nor
		// delete the object: undo it here.
		if derr := s.b.Delete(context.WithoutCancel(ctx), res.Location); derr != nil {
			s.logger.Error("delete after an unreported local put failed", "location", res.Location, "error", derr)
		}
		return sendErr(ctx, err)
	}
	return nil
}

func (s storeServer) Get(req *storev1.GetRequest, stream storev1.StoreService_GetServer) error {
	ctx := stream.Context()
	r := store.Range{Offset: req.GetOffset(), Length: -1}
	if req.Length != nil {
		if *req.Length < 0 {
			return statusErr(fmt.Errorf("%w: negative length %d", store.ErrOutOfRange, *req.Length))
		}
		r.Length = *req.Length
	}
	if r.Offset < 0 {
		return statusErr(fmt.Errorf("%w: negative offset %d", store.ErrOutOfRange, r.Offset))
	}
	rc, info, err := s.b.Get(ctx, req.GetLocation(), r)
	if err != nil {
		if ctx.Err() != nil {
			return status.FromContextError(ctx.Err()).Err()
		}
		return statusErr(err)
	}
	defer func() { _ = rc.Close() }()

	remaining := max(info.Size-r.Offset, 0)
	if r.Length >= 0 && r.Length < remaining {
		remaining = r.Length
	}
	err = stream.Send(&storev1.GetResponse{Msg: &storev1.GetResponse_Header{Header: &storev1.GetHeader{
		ObjectSizeBytes: info.Size,
		ContentLength:   remaining,
		Metadata:        info.Metadata,
	}}})
	if err != nil {
		return sendErr(ctx, err)
	}
	if remaining == 0 {
		return nil
	}

	bp := s.buffer()
	defer s.bufs.Put(bp)
	buf := *bp
	chunk := &storev1.GetResponse_Chunk{}
	msg := &storev1.GetResponse{Msg: chunk}
	for remaining > 0 {
		want := buf
		if int64(len(want)) > remaining {
			want = want[:remaining]
		}
		n, rerr := fill(rc, want)
		if n > 0 {
			// Send marshals the message before it returns, so buf can be reused.
			chunk.Chunk = want[:n]
			if err := stream.Send(msg); err != nil {
				return sendErr(ctx, err)
			}
			remaining -= int64(n)
		}
		if rerr == io.EOF && remaining > 0 {
			rerr = fmt.Errorf("%w: the object ended %d bytes early", store.ErrSizeMismatch, remaining)
		}
		if rerr != nil && rerr != io.EOF {
			if ctx.Err() != nil {
				return status.FromContextError(ctx.Err()).Err()
			}
			return statusErr(rerr)
		}
	}
	return nil
}

// sendErr is the status to return after a failed Send.
func sendErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return status.FromContextError(ctx.Err()).Err()
	}
	return err
}

// fill reads into buf until it is full, r ends or fails. It returns io.EOF
// only when r ended, along with the bytes read before.
func fill(r io.Reader, buf []byte) (int, error) {
	n, empty := 0, 0
	for n < len(buf) {
		k, err := r.Read(buf[n:])
		n += k
		if err != nil {
			return n, err
		}
		if k > 0 {
			empty = 0
		} else if empty++; empty >= 100 {
			return n, io.ErrNoProgress
		}
	}
	return n, nil
}

func (s storeServer) Stat(ctx context.Context, req *storev1.StatRequest) (*storev1.StatResponse, error) {
	info, err := s.b.Stat(ctx, req.GetLocation())
	if err != nil {
		return nil, statusErr(err)
	}
	return &storev1.StatResponse{SizeBytes: info.Size, Metadata: info.Metadata}, nil
}

func (s storeServer) Delete(ctx context.Context, req *storev1.DeleteRequest) (*storev1.DeleteResponse, error) {
	if err := s.b.Delete(ctx, req.GetLocation()); err != nil {
		return nil, statusErr(err)
	}
	return &storev1.DeleteResponse{}, nil
}

func (s storeServer) GetLocalFile(ctx context.Context, req *storev1.GetLocalFileRequest) (*storev1.GetLocalFileResponse, error) {
	lf, ok := s.b.(store.LocalFiler)
	if !ok || !s.capabilities().LocalFile {
		return nil, statusErr(fmt.Errorf("%w: this store has no local files", store.ErrUnsupported))
	}
	path, err := lf.LocalFile(ctx, req.GetLocation())
	if err != nil {
		return nil, statusErr(err)
	}
	if !filepath.IsAbs(path) {
		return nil, status.Errorf(codes.Internal, "store returned a relative local file path %q", path)
	}
	fi, err := os.Stat(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			err = fmt.Errorf("%w: %v", store.ErrNotFound, err)
		}
		return nil, statusErr(err)
	}
	if !fi.Mode().IsRegular() {
		return nil, status.Errorf(codes.Internal, "local file %q is not a regular file", path)
	}
	return &storev1.GetLocalFileResponse{Path: path, SizeBytes: fi.Size()}, nil
}

func (s storeServer) Shutdown(ctx context.Context, _ *storev1.ShutdownRequest) (*storev1.ShutdownResponse, error) {
	if sd, ok := s.b.(store.Shutdowner); ok {
		if err := sd.Shutdown(ctx); err != nil {
			return nil, statusErr(err)
		}
	}
	return &storev1.ShutdownResponse{}, nil
}

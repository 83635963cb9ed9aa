package api

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/glance-go/glance/core/image"
	"github.com/glance-go/glance/core/image/checksum"
	"github.com/glance-go/glance/core/registry"
	"github.com/glance-go/glance/sdk/store"
)

// cleanupTimeout bounds the registry and store calls made after a request
// failed or its client left.
const cleanupTimeout = 30 * time.Second

// Errors of bodyGuard.
var (
	errTooLarge     = errors.New("the provided image is too large")
	errOverQuota    = errors.New("the upload exceeds the project's storage quota")
	errSizeMismatch = errors.New("size of uploaded data does not match the declared size")
	errClientRead   = errors.New("reading the request body")
	errStopped      = errors.New("upload stopped by the server")
)

// bodyGuard enforces the size cap and the declared size on an upload body,
// and remembers why it failed. It is read by the hashing goroutine and
// inspected by the handler, hence the lock.
type bodyGuard struct {
	r      io.Reader
	cap    int64
	expect int64 // -1: unknown
	// quotaCap: cap is what is left of the project's storage quota, not
	// the size cap.
	quotaCap bool

	mu      sync.Mutex
	n       int64
	err     error
	stopped bool
}

func (g *bodyGuard) Read(p []byte) (int, error) {
	g.mu.Lock()
	err, room := g.err, g.cap+1-g.n
	g.mu.Unlock()
	if err != nil {
		return 0, err
	}
	if int64(len(p)) > room {
		p = p[:room]
	}
	n, rerr := g.r.Read(p)

	g.mu.Lock()
	defer g.mu.Unlock()
	g.n += int64(n)
	switch {
	case g.n > g.cap && g.quotaCap:
		g.err = errOverQuota
	case g.n > g.cap:
		g.err = errTooLarge
	case g.expect >= 0 && g.n > g.expect:
		g.err = errSizeMismatch
	case rerr == io.EOF && g.expect >= 0 && g.n != g.expect:
		g.err = errSizeMismatch
	case rerr == io.EOF:
		return n, io.EOF
	case rerr != nil && g.stopped:
		g.err = errStopped
	case rerr != nil:
		g.err = fmt.Errorf("%w: %w", errClientRead, rerr)
	}
	if g.err != nil {
		return n, g.err
	}
	return n, nil
}

// stop marks later read errors as caused by the server giving up, and
// returns why the body failed so far (nil if it did not).
func (g *bodyGuard) stop() (received int64, err error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.stopped = true
	return g.n, g.err
}

// uploadData is PUT /v2/images/{id}/file.
func (s *server) uploadData(c *gin.Context) {
	id := c.Param("id")
	r := c.Request
	ctx := r.Context()

	if ct := r.Header.Get("Content-Type"); ct != "" {
		if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/octet-stream" {
			fail(c, &httpError{status: http.StatusUnsupportedMediaType,
				body: "The request media type " + ct + " is not supported by this server.\n<br /><br />\n"})
			return
		}
	}
	declared := int64(-1)
	if vs := r.Header.Values("X-Openstack-Image-Size"); len(vs) > 0 {
		n, err := strconv.ParseInt(strings.TrimSpace(vs[0]), 10, 64)
		if err != nil || n < 0 {
			fail(c, newError(http.StatusBadRequest, "Invalid or missing image size in request headers."))
			return
		}
		declared = n
	}
	if r.ContentLength > s.sizeCap || declared > s.sizeCap {
		fail(c, newError(http.StatusRequestEntityTooLarge, "The incoming image is too large: The provided image is too large."))
		return
	}
	if declared >= 0 && r.ContentLength >= 0 && declared != r.ContentLength {
		fail(c, newError(http.StatusBadRequest, "The x-openstack-image-size header (%d) does not match the Content-Length (%d).", declared, r.ContentLength))
		return
	}
	expect := declared
	if expect < 0 {
		expect = r.ContentLength // -1 when chunked
	}

	storeID := r.Header.Get("X-Image-Meta-Store")
	if storeID == "" {
		storeID = s.stores.DefaultStore()
	}
	backend, err := s.stores.Store(storeID)
	if err != nil {
		s.storeLookupError(c, storeID, err)
		return
	}

	a, ok := s.load(c, id, noImageFound)
	if !ok {
		return
	}
	if he := s.check(a, "upload_image", ""); he != nil {
		fail(c, he)
		return
	}
	img := a.img
	if err := image.CheckTransition(img, image.StatusSaving); err != nil {
		s.imageError(c, id, err)
		return
	}
	limit, quotaCap := s.sizeCap, false
	if s.quota > 0 && img.Owner != nil {
		used, err := s.reg.ProjectUsage(ctx, *img.Owner)
		if err != nil {
			s.log.Error("reading the project's storage usage", "owner", *img.Owner, "error", err)
			fail(c, newError(http.StatusInternalServerError, "Failed to upload image data due to internal error"))
			return
		}
		left := max(0, s.quota-used)
		if expect > left {
			fail(c, quotaError(expect, left))
			return
		}
		if left < limit {
			limit, quotaCap = left, true
		}
	}
	if err := s.reg.SetStatus(ctx, id, image.StatusQueued, image.StatusSaving); err != nil {
		var ce *registry.ConflictError
		if errors.As(err, &ce) {
			fail(c, newError(http.StatusConflict, "%s", (&image.TransitionError{From: ce.Actual, To: image.StatusSaving}).Error()))
			return
		}
		s.imageError(c, id, err)
		return
	}

	// From here on the image is saving: every failure restores queued.
	guard := &bodyGuard{r: r.Body, cap: limit, expect: expect, quotaCap: quotaCap}
	hr, err := checksum.NewReader(guard, checksum.Config{Algo: s.algo})
	if err != nil {
		s.restoreQueued(ctx, id)
		s.log.Error("cannot hash uploads", "error", err)
		fail(c, newError(http.StatusInternalServerError, "Failed to upload image data due to internal error"))
		return
	}
	size := store.UnknownSize
	if expect >= 0 {
		size = expect
	}
	who := identity(c)
	req := store.PutRequest{ImageID: id, Size: size, Context: map[string]string{
		"request_id": c.Writer.Header().Get("X-Openstack-Request-Id"), "project_id": who.ProjectID, "user_id": who.UserID,
	}}
	res, putErr := backend.Put(ctx, req, hr)
	var sums checksum.Sums
	if putErr == nil {
		sums, putErr = finishSums(hr, res.Size)
		if putErr != nil {
			s.deleteObject(ctx, storeID, backend, res.Location)
		}
	}
	if putErr != nil {
		// Note why the body failed, unblock a body read in progress (the
		// connection cannot be reused: the rest of the body is unread),
		// then stop the hashers.
		received, bodyErr := guard.stop()
		clientGone := ctx.Err() != nil
		c.Header("Connection", "close")
		http.NewResponseController(c.Writer).SetReadDeadline(time.Now())
		hr.Close()
		s.restoreQueued(ctx, id)
		s.uploadFailed(c, id, storeID, received, expect, clientGone, bodyErr, putErr)
		return
	}
	hr.Close()

	var vsize *int64
	if img.DiskFormat != nil && *img.DiskFormat == "raw" {
		vsize = image.Ptr(sums.Size)
	}
	err = s.reg.CommitUpload(context.WithoutCancel(ctx), id, registry.UploadResult{
		Size: sums.Size, VirtualSize: vsize, Checksum: sums.MD5, HashAlgo: sums.Algo, HashValue: sums.Hash,
		Location: image.Location{URL: res.Location, StoreID: storeID, Metadata: withStore(res.Metadata, storeID)},
	})
	if err != nil {
		s.deleteObject(ctx, storeID, backend, res.Location)
		switch {
		case errors.Is(err, registry.ErrNotFound):
			fail(c, &httpError{status: http.StatusGone, explanation: fmt.Sprintf("Image %s could not be found after upload. "+
				"The image may have been deleted during the upload, cleaning up the chunks uploaded.", id)})
		case errors.Is(err, registry.ErrConflict):
			var ce *registry.ConflictError
			errors.As(err, &ce)
			fail(c, newError(http.StatusConflict, "Image %s changed to status %s during the upload; its data was discarded.", id, ce.Actual))
		default:
			s.restoreQueued(ctx, id)
			s.log.Error("recording the upload failed", "image_id", id, "error", err)
			fail(c, newError(http.StatusInternalServerError, "Failed to upload image data due to internal error"))
		}
		return
	}
	s.log.Debug("image uploaded", "image_id", id, "store", storeID, "size", sums.Size)
	noContent(c)
}

// finishSums returns the digests after a Put that succeeded. A store that
// knew the size may have stopped reading before the end of the stream: the
// rest must then be empty.
func finishSums(hr *checksum.Reader, stored int64) (checksum.Sums, error) {
	sums, err := hr.Sum()
	if errors.Is(err, checksum.ErrIncomplete) {
		var n int64
		if n, err = io.Copy(io.Discard, hr); err == nil && n > 0 {
			err = fmt.Errorf("%w: the store returned before the last %d bytes", store.ErrSizeMismatch, n)
		}
		if err == nil {
			sums, err = hr.Sum()
		}
	}
	if err != nil {
		return sums, err
	}
	if stored != sums.Size {
		return sums, fmt.Errorf("%w: the store kept %d bytes of %d", store.ErrSizeMismatch, stored, sums.Size)
	}
	return sums, nil
}

func withStore(m map[string]string, storeID string) map[string]string {
	out := make(map[string]string, len(m)+1)
	for k, v := range m {
		out[k] = v
	}
	if _, ok := out["store"]; !ok {
		out["store"] = storeID
	}
	return out
}

// quotaError is the 413 of an upload beyond the project's storage quota
// (Glance's StorageQuotaFull, as its upload handler words it).
func quotaError(size, left int64) *httpError {
	if left < 0 {
		return newError(http.StatusRequestEntityTooLarge, "Denying attempt to upload image because it exceeds the storage quota: "+
			"more than %d bytes were sent and the project's storage quota has no room left for them.", size-1)
	}
	return newError(http.StatusRequestEntityTooLarge, "Denying attempt to upload image because it exceeds the storage quota: "+
		"The size of the data %d will exceed the limit. %d bytes remaining.", size, left)
}

// restoreQueued puts an image whose upload failed back to queued.
func (s *server) restoreQueued(ctx context.Context, id string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	if err := s.reg.SetStatus(ctx, id, image.StatusSaving, image.StatusQueued); err != nil && !errors.Is(err, registry.ErrNotFound) {
		s.log.Error("unable to restore image to queued", "image_id", id, "error", err)
	}
}

// deleteObject removes data whose upload could not be recorded.
func (s *server) deleteObject(ctx context.Context, storeID string, b store.Backend, location string) {
	if location == "" {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	if err := b.Delete(ctx, location); err != nil {
		s.log.Error("unable to delete unrecorded image data", "store", storeID, "location", location, "error", err)
	}
}

// deleteData deletes an image's data from its stores. It stops at, and
// returns, a store's in-use error, before anything else is deleted; other
// failures are logged, as Glance does, and leave orphaned data.
func (s *server) deleteData(ctx context.Context, id string, locs []image.Location) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	for _, l := range locs {
		b, err := s.stores.Store(l.StoreID)
		if err == nil {
			err = b.Delete(ctx, l.URL)
		}
		if errors.Is(err, store.ErrInUse) {
			return err
		}
		if err != nil {
			s.log.Error("unable to delete image data", "image_id", id, "store", l.StoreID, "location", l.URL, "error", err)
		}
	}
	return nil
}

func (s *server) storeLookupError(c *gin.Context, storeID string, err error) {
	switch {
	case errors.Is(err, store.ErrUnavailable), errors.Is(err, store.ErrNotReady):
		s.log.Warn("store unavailable", "store", storeID, "error", err)
		fail(c, newError(http.StatusServiceUnavailable, "Image store %q is unavailable: %v", storeID, err))
	default:
		fail(c, newError(http.StatusBadRequest, "Store for identifier %s not found", storeID))
	}
}

// uploadFailed answers an upload that did not reach the store, the image
// being back to queued.
func (s *server) uploadFailed(c *gin.Context, id, storeID string, received, expect int64, clientGone bool, bodyErr, err error) {
	log := s.log.With("image_id", id, "store", storeID, "error", err)
	switch {
	case errors.Is(bodyErr, errOverQuota):
		log.Warn("upload beyond the project's storage quota", "storage_quota", s.quota)
		fail(c, quotaError(received, -1))
	case errors.Is(bodyErr, errTooLarge):
		log.Warn("upload larger than the size cap", "size_cap", s.sizeCap)
		fail(c, newError(http.StatusRequestEntityTooLarge, "The incoming image is too large: The provided image is too large."))
	case errors.Is(bodyErr, errSizeMismatch):
		fail(c, newError(http.StatusBadRequest, "Size of uploaded data (%d bytes so far) does not match the x-openstack-image-size header (%d).", received, expect))
	case errors.Is(bodyErr, errClientRead), clientGone:
		log.Warn("client left during the upload; image restored to queued", "received", received)
		fail(c, newError(http.StatusBadRequest, "The client stopped sending image data before its end."))
	case errors.Is(err, store.ErrStorageFull):
		log.Error("store full")
		fail(c, newError(http.StatusRequestEntityTooLarge, "Image storage media is full: store %q has no room left", storeID))
	case errors.Is(err, store.ErrUnavailable), errors.Is(err, store.ErrNotReady):
		log.Error("store unavailable during upload")
		fail(c, newError(http.StatusServiceUnavailable, "Image store %q is unavailable; the upload was aborted, retry later", storeID))
	case errors.Is(err, store.ErrForbidden), errors.Is(err, store.ErrUnauthenticated):
		log.Error("store refused the write")
		fail(c, newError(http.StatusServiceUnavailable, "Insufficient permissions on image storage media of store %q", storeID))
	case errors.Is(err, store.ErrUnsupported):
		fail(c, &httpError{status: http.StatusGone, explanation: "Error in store configuration. Adding images to store is disabled."})
	case errors.Is(err, store.ErrAlreadyExists):
		log.Error("store already holds data for the image")
		fail(c, newError(http.StatusConflict, "Unable to upload duplicate image data for image %s: store %q already holds data for it", id, storeID))
	case errors.Is(err, store.ErrSizeMismatch), errors.Is(err, store.ErrChecksumMismatch), errors.Is(err, store.ErrInvalidArgument):
		log.Error("store rejected the data")
		fail(c, newError(http.StatusBadRequest, "Store %q rejected the image data: %v", storeID, err))
	default:
		log.Error("upload to store failed")
		fail(c, newError(http.StatusInternalServerError, "Failed to upload image data to store %q due to internal error", storeID))
	}
}

// downloadData is GET /v2/images/{id}/file.
func (s *server) downloadData(c *gin.Context) {
	id := c.Param("id")
	ctx := c.Request.Context()
	a, ok := s.load(c, id, noImageFound)
	if !ok {
		return
	}
	if he := s.check(a, "download_image", ""); he != nil {
		fail(c, he)
		return
	}
	img := a.img
	if img.Status == image.StatusDeactivated && !a.admin {
		fail(c, newError(http.StatusForbidden, "The requested image has been deactivated. Image data download is forbidden."))
		return
	}
	if len(img.Locations) == 0 || img.Size == nil ||
		(img.Status != image.StatusActive && img.Status != image.StatusDeactivated) {
		c.Status(http.StatusNoContent)
		c.Writer.WriteHeaderNow()
		return
	}
	size := *img.Size
	hdr := c.Request.Header
	if etag := imageETag(img); etag != "" {
		if inm := hdr.Get("If-None-Match"); inm != "" && etagListMatch(inm, etag) {
			s.notModified(c, etag)
			return
		}
		// If-Range: the range is for the representation the client has;
		// any other (another ETag, a date: we send no Last-Modified) gets
		// the whole image.
		if ir := hdr.Get("If-Range"); ir != "" && strings.TrimSpace(ir) != etag {
			hdr = hdr.Clone()
			hdr.Del("Range")
			hdr.Del("Content-Range")
		}
	} else if hdr.Get("If-Range") != "" {
		hdr = hdr.Clone()
		hdr.Del("Range")
		hdr.Del("Content-Range")
	}
	rng, herr := parseRange(hdr, size)
	if herr != nil {
		fail(c, herr)
		return
	}
	var lastErr error
	for _, loc := range img.Locations {
		backend, err := s.stores.Store(loc.StoreID)
		if err != nil {
			lastErr = err
			s.log.Warn("image location in an unknown store", "image_id", id, "store", loc.StoreID, "error", err)
			continue
		}
		if s.serveLocalFile(c, img, backend, loc, rng) {
			return
		}
		rc, _, err := backend.Get(ctx, loc.URL, store.Range{Offset: rng.offset, Length: rng.length})
		if err != nil {
			lastErr = err
			s.log.Warn("cannot read image data", "image_id", id, "store", loc.StoreID, "location", loc.URL, "error", err)
			continue
		}
		s.writeDataHeaders(c, img, rng)
		n, err := s.copyData(c, rc)
		rc.Close()
		if err != nil && ctx.Err() == nil {
			s.log.Error("image data stream broken", "image_id", id, "store", loc.StoreID, "sent", n, "want", rng.length, "error", err)
		}
		return
	}
	switch {
	case errors.Is(lastErr, store.ErrNotFound):
		c.Status(http.StatusNoContent)
		c.Writer.WriteHeaderNow()
	case errors.Is(lastErr, store.ErrOutOfRange):
		fail(c, &httpError{status: http.StatusRequestedRangeNotSatisfiable})
	case errors.Is(lastErr, store.ErrUnavailable), errors.Is(lastErr, store.ErrNotReady), errors.Is(lastErr, ErrUnknownStore):
		fail(c, newError(http.StatusServiceUnavailable, "The image data of %s is in no store available now", id))
	default:
		fail(c, newError(http.StatusInternalServerError, "Failed to read image data from the store"))
	}
}

// writeDataHeaders sends the status and headers of a data response.
func (s *server) writeDataHeaders(c *gin.Context, img *image.Image, rng byteRange) {
	h := c.Writer.Header()
	h.Set("Content-Type", "application/octet-stream")
	if rng.partial {
		h.Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", rng.offset, rng.offset+rng.length-1, *img.Size))
	}
	if img.Checksum != nil {
		h.Set("Content-MD5", *img.Checksum)
		h.Set("ETag", imageETag(img))
	}
	h.Set("Content-Length", strconv.FormatInt(rng.length, 10))
	if s.cache != "" {
		h.Set("Cache-Control", s.cache)
	}
	status := http.StatusOK
	if rng.partial {
		status = http.StatusPartialContent
	}
	c.Status(status)
	c.Writer.WriteHeaderNow()
}

// imageETag is the strong entity tag of an image's data: its MD5. The
// data of an image never changes once active, so the checksum identifies
// the bytes; "" when there is no checksum.
func imageETag(img *image.Image) string {
	if img.Checksum == nil || *img.Checksum == "" {
		return ""
	}
	return `"` + *img.Checksum + `"`
}

// etagListMatch is If-None-Match's weak comparison: "*" or any listed tag
// equal to etag, W/ prefixes ignored.
func etagListMatch(list, etag string) bool {
	for _, t := range strings.Split(list, ",") {
		t = strings.TrimSpace(t)
		if t == "*" || strings.TrimPrefix(t, "W/") == etag {
			return true
		}
	}
	return false
}

// notModified answers 304 with the validators a cache refreshes.
func (s *server) notModified(c *gin.Context, etag string) {
	h := c.Writer.Header()
	h.Set("ETag", etag)
	if s.cache != "" {
		h.Set("Cache-Control", s.cache)
	}
	c.Status(http.StatusNotModified)
	c.Writer.WriteHeaderNow()
}

// rawWriter is the net/http ResponseWriter under gin's, which implements
// io.ReaderFrom (sendfile for files).
func rawWriter(c *gin.Context) io.Writer {
	var w http.ResponseWriter = c.Writer
	for {
		u, ok := w.(interface{ Unwrap() http.ResponseWriter })
		if !ok {
			return w
		}
		w = u.Unwrap()
	}
}

// onlyWriter hides io.ReaderFrom so that io.CopyBuffer uses our buffer.
type onlyWriter struct{ io.Writer }

// copyData streams a store's reader to the client through a reused 1 MiB
// buffer (or sendfile when the reader is a file).
func (s *server) copyData(c *gin.Context, rc io.Reader) (int64, error) {
	w := rawWriter(c)
	if _, ok := rc.(*os.File); ok {
		return io.Copy(w, rc)
	}
	bp := s.bufs.Get().(*[]byte)
	defer s.bufs.Put(bp)
	return io.CopyBuffer(onlyWriter{w}, rc, *bp)
}

// serveLocalFile serves the data from the store's file on this host, with
// sendfile. It returns false, having written nothing, when the store has
// no such file or it is not what the registry recorded.
func (s *server) serveLocalFile(c *gin.Context, img *image.Image, b store.Backend, loc image.Location, rng byteRange) bool {
	lf, ok := b.(store.LocalFiler)
	if !ok {
		return false
	}
	path, err := lf.LocalFile(c.Request.Context(), loc.URL)
	if err != nil {
		return false
	}
	f, err := os.Open(path)
	if err != nil {
		s.log.Debug("local file unusable, streaming from the store", "path", path, "error", err)
		return false
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() || fi.Size() != *img.Size {
		s.log.Warn("local file does not match the image, streaming from the store", "image_id", img.ID, "path", path)
		return false
	}
	if rng.offset > 0 {
		if _, err := f.Seek(rng.offset, io.SeekStart); err != nil {
			return false
		}
	}
	s.writeDataHeaders(c, img, rng)
	n, err := io.Copy(rawWriter(c), &io.LimitedReader{R: f, N: rng.length})
	if err != nil && c.Request.Context().Err() == nil {
		s.log.Warn("sending image data failed", "image_id", img.ID, "sent", n, "error", err)
	}
	return true
}

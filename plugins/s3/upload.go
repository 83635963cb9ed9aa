package s3

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/glance-go/glance/sdk/store"
)

// abortTimeout bounds the cleanup of a failed upload, which runs even when
// the Put's context is done.
const abortTimeout = 30 * time.Second

// Put streams body to the object <prefix><image id>. A body that ends
// within the first part is sent with one PutObject; a longer one as a
// multipart upload whose parts are sent while the next one is read, at most
// parts_in_flight at a time, so an upload holds at most (parts_in_flight+1)
// part buffers whatever the image's size, known or not. Any failure, a
// cancelled context included, aborts the multipart upload: nothing is
// visible, nor takes space, unless Put returns nil.
func (s *Store) Put(ctx context.Context, req store.PutRequest, body io.Reader) (_ store.PutResult, err error) {
	st, err := s.state()
	if err != nil {
		return store.PutResult{}, err
	}
	if err := validID(req.ImageID); err != nil {
		return store.PutResult{}, err
	}
	if req.Size < store.UnknownSize {
		return store.PutResult{}, fmt.Errorf("%w: size %d", store.ErrInvalidArgument, req.Size)
	}
	c := &st.cfg
	key := c.prefix + req.ImageID
	defer func() {
		if err != nil {
			s.log.Debug("put failed", "image_id", req.ImageID, "error", err)
		}
	}()

	// A cheap check spares sending a whole image only to find the id
	// taken; If-None-Match on the final request is what closes the race.
	switch _, herr := st.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(c.bucket), Key: aws.String(key)}); {
	case herr == nil:
		return store.PutResult{}, fmt.Errorf("%w: image %s", store.ErrAlreadyExists, req.ImageID)
	case httpStatus(herr) != http.StatusNotFound:
		return store.PutResult{}, wrap("put", key, herr)
	}

	partSize, inFlight, err := c.plan(req.Size)
	if err != nil {
		return store.PutResult{}, err
	}
	defer budget.reserve(int64(inFlight+1) * partSize)()
	u := &upload{st: st, key: key, id: req.ImageID, size: req.Size, partSize: partSize}
	first := st.pool.get(partSize)
	n, eof, err := u.read(ctx, body, first)
	if err != nil {
		st.pool.put(first)
		return store.PutResult{}, err
	}
	if eof {
		defer st.pool.put(first)
		return u.putSingle(ctx, first[:n])
	}
	return u.putMultipart(ctx, body, first, inFlight)
}

// plan returns the part size and the parts in flight for an upload of size
// bytes (or unknown size): the configured part size, grown when a known
// size would need more than 10000 parts, with fewer parts in flight so that
// the memory bound stays that of the configuration.
func (c *config) plan(size int64) (partSize int64, inFlight int, err error) {
	partSize, inFlight = c.partSize, c.partsInFlight
	if size > partSize*maxParts {
		partSize = (size + maxParts - 1) / maxParts
		partSize = (partSize + mib - 1) / mib * mib
		if partSize > maxPartSize {
			return 0, 0, fmt.Errorf("%w: %d bytes is more than an S3 object can hold", store.ErrInvalidArgument, size)
		}
		inFlight = max(1, int(c.partSize*int64(c.partsInFlight)/partSize))
	}
	return partSize, inFlight, nil
}

// upload is one Put in progress.
type upload struct {
	st       *state
	key, id  string
	size     int64 // declared, or store.UnknownSize
	partSize int64
	n        int64 // bytes read from the body so far
}

// read fills buf from body. It returns the bytes read and whether the body
// ended (io.EOF) within them, and fails when the body fails, ctx is done,
// or the body goes past its declared size.
func (u *upload) read(ctx context.Context, body io.Reader, buf []byte) (int, bool, error) {
	k, idle := 0, 0
	for k < len(buf) {
		m, err := body.Read(buf[k:])
		k += m
		u.n += int64(m)
		if u.size >= 0 && u.n > u.size {
			return k, false, fmt.Errorf("%w: image %s: the body is longer than the declared %d bytes", store.ErrSizeMismatch, u.id, u.size)
		}
		if cerr := ctx.Err(); cerr != nil {
			return k, false, fmt.Errorf("s3: put %s: %w", u.id, cerr)
		}
		if err == io.EOF {
			if u.size >= 0 && u.n != u.size {
				return k, true, fmt.Errorf("%w: image %s: got %d bytes, declared %d", store.ErrSizeMismatch, u.id, u.n, u.size)
			}
			return k, true, nil
		}
		if err != nil {
			return k, false, fmt.Errorf("s3: put %s: reading the body: %w", u.id, err)
		}
		if m == 0 {
			if idle++; idle > 100 {
				return k, false, fmt.Errorf("s3: put %s: reading the body: %w", u.id, io.ErrNoProgress)
			}
		}
	}
	return k, false, nil
}

func (u *upload) result() store.PutResult {
	return store.PutResult{Location: u.st.cfg.location(u.key), Size: u.n}
}

// ifNoneMatch is the condition that refuses to replace an existing object.
func (u *upload) ifNoneMatch() *string {
	if u.st.cfg.conditional {
		return aws.String("*")
	}
	return nil
}

// putSingle stores a body that fits in one part with one request.
func (u *upload) putSingle(ctx context.Context, data []byte) (store.PutResult, error) {
	if err := ctx.Err(); err != nil {
		return store.PutResult{}, fmt.Errorf("s3: put %s: %w", u.id, err)
	}
	_, err := u.st.client.PutObject(ctx, &s3.PutObjectInput{
		Bucket:        aws.String(u.st.cfg.bucket),
		Key:           aws.String(u.key),
		Body:          bytes.NewReader(data),
		ContentLength: aws.Int64(int64(len(data))),
		ContentType:   aws.String("application/octet-stream"),
		IfNoneMatch:   u.ifNoneMatch(),
	})
	if err != nil {
		return store.PutResult{}, wrap("put", u.key, err)
	}
	return u.result(), nil
}

// putMultipart sends first and the rest of body as a multipart upload.
func (u *upload) putMultipart(ctx context.Context, body io.Reader, first []byte, inFlight int) (_ store.PutResult, err error) {
	st, c := u.st, &u.st.cfg
	created, cerr := st.client.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{
		Bucket:      aws.String(c.bucket),
		Key:         aws.String(u.key),
		ContentType: aws.String("application/octet-stream"),
	})
	if cerr != nil {
		st.pool.put(first)
		return store.PutResult{}, wrap("put", u.key, cerr)
	}
	uploadID := created.UploadId

	pctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		parts    []types.CompletedPart
		firstErr error
		slots    = make(chan struct{}, inFlight)
	)
	fail := func(e error) {
		mu.Lock()
		if firstErr == nil {
			firstErr = e
		}
		mu.Unlock()
		cancel()
	}
	failed := func() error {
		mu.Lock()
		defer mu.Unlock()
		return firstErr
	}
	// Whatever happens from here, a failure aborts the upload, once no
	// part is in flight any more (a part that lands after an abort could
	// otherwise be kept).
	defer func() {
		if err == nil {
			return
		}
		cancel()
		wg.Wait()
		actx, acancel := context.WithTimeout(context.WithoutCancel(ctx), abortTimeout)
		defer acancel()
		if _, aerr := st.client.AbortMultipartUpload(actx, &s3.AbortMultipartUploadInput{
			Bucket: aws.String(c.bucket), Key: aws.String(u.key), UploadId: uploadID,
		}); aerr != nil && httpStatus(aerr) != http.StatusNotFound {
			err = fmt.Errorf("%w (and aborting the multipart upload failed: %v)", err, mapErr(aerr))
		}
	}()

	send := func(num int32, buf []byte, n int) {
		defer wg.Done()
		defer func() { <-slots }()
		defer st.pool.put(buf)
		out, err := st.client.UploadPart(pctx, &s3.UploadPartInput{
			Bucket:        aws.String(c.bucket),
			Key:           aws.String(u.key),
			UploadId:      uploadID,
			PartNumber:    aws.Int32(num),
			Body:          bytes.NewReader(buf[:n]),
			ContentLength: aws.Int64(int64(n)),
		})
		if err != nil {
			fail(wrap(fmt.Sprintf("put part %d of", num), u.key, err))
			return
		}
		mu.Lock()
		parts = append(parts, types.CompletedPart{ETag: out.ETag, PartNumber: aws.Int32(num)})
		mu.Unlock()
	}

	buf, n, eof := first, len(first), false
	for num := int32(1); ; num++ {
		if num > maxParts {
			st.pool.put(buf)
			return store.PutResult{}, fmt.Errorf("%w: image %s: more than %d parts of %d bytes (raise part_size)", store.ErrStorageFull, u.id, maxParts, u.partSize)
		}
		select {
		case slots <- struct{}{}:
		case <-pctx.Done():
			st.pool.put(buf)
			return store.PutResult{}, u.stopped(ctx, failed())
		}
		wg.Add(1)
		go send(num, buf, n)
		if eof {
			break
		}
		buf = st.pool.get(u.partSize)
		var rerr error
		n, eof, rerr = u.read(pctx, body, buf)
		if rerr != nil {
			st.pool.put(buf)
			if e := failed(); e != nil {
				return store.PutResult{}, e // a part failed, which cancelled pctx
			}
			return store.PutResult{}, rerr
		}
		if eof && n == 0 {
			st.pool.put(buf)
			break
		}
	}
	wg.Wait()
	if e := failed(); e != nil {
		return store.PutResult{}, e
	}
	if e := ctx.Err(); e != nil {
		return store.PutResult{}, fmt.Errorf("s3: put %s: %w", u.id, e)
	}
	// radosgw (Ceph 16) ignores If-None-Match on this last request: look
	// again, so only an upload racing this very moment could slip by.
	if u.st.cfg.conditional {
		if _, herr := st.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(c.bucket), Key: aws.String(u.key)}); herr == nil {
			return store.PutResult{}, fmt.Errorf("%w: image %s (stored meanwhile by another upload)", store.ErrAlreadyExists, u.id)
		} else if httpStatus(herr) != http.StatusNotFound {
			return store.PutResult{}, wrap("put", u.key, herr)
		}
	}
	slices.SortFunc(parts, func(a, b types.CompletedPart) int { return int(aws.ToInt32(a.PartNumber) - aws.ToInt32(b.PartNumber)) })
	_, err = st.client.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
		Bucket:          aws.String(c.bucket),
		Key:             aws.String(u.key),
		UploadId:        uploadID,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: parts},
		IfNoneMatch:     u.ifNoneMatch(),
	})
	if err != nil {
		return store.PutResult{}, wrap("put (completing)", u.key, err)
	}
	return u.result(), nil
}

// stopped explains why the upload stopped: a part's failure, or ctx.
func (u *upload) stopped(ctx context.Context, partErr error) error {
	if partErr != nil {
		return partErr
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("s3: put %s: %w", u.id, err)
	}
	return errors.New("s3: put " + u.id + ": stopped")
}

// bufPool recycles part buffers of the configured size, so a long upload
// reuses the same few buffers instead of feeding the garbage collector.
type bufPool struct {
	free chan []byte
}

// newBufPool keeps up to n idle buffers: one upload's worth.
func newBufPool(n int) *bufPool { return &bufPool{free: make(chan []byte, n)} }

func (p *bufPool) get(size int64) []byte {
	for {
		select {
		case b := <-p.free:
			if int64(cap(b)) == size {
				return b[:size]
			}
			// A buffer of another part size (a grown part): drop it.
		default:
			return make([]byte, size)
		}
	}
}

func (p *bufPool) put(b []byte) {
	select {
	case p.free <- b[:cap(b)]:
	default:
	}
}

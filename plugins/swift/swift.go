package swift

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	ncw "github.com/ncw/swift/v2"

	"github.com/glance-go/glance/sdk/store"
)

const (
	// Version is the plugin's own version.
	Version = "1.0.0"
	// Scheme is the scheme of this store's locations: swift://container/id.
	Scheme = "swift"

	// defaultMaxSegments is Swift's default max_manifest_segments, used
	// when the cluster does not publish its own in /info.
	defaultMaxSegments = 1000
	// cleanupTimeout bounds removing the pieces of a failed upload, done
	// after the caller's context may have ended.
	cleanupTimeout = 2 * time.Minute
	peekBufSize    = 64 << 10
)

var (
	idRE                          = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$`)
	_       store.Backend         = (*Store)(nil)
	_       store.ConfigValidator = (*Store)(nil)
	allCaps                       = store.Capabilities{
		Read: true, ReadRange: true, Write: true, WriteUnknownSize: true, Delete: true, ConcurrentSafe: true,
	}
)

// Store is the Swift store. Its methods are safe for concurrent use once
// Configure returned.
type Store struct {
	log hclog.Logger
	st  atomic.Pointer[state]
}

type state struct {
	cfg         config
	conn        *ncw.Connection
	maxSegments atomic.Int64 // from /info, 0 until known
}

// New returns an unconfigured Store that logs to l (nil for none).
func New(l hclog.Logger) *Store {
	if l == nil {
		l = hclog.NewNullLogger()
	}
	return &Store{log: l}
}

// Info describes the plugin.
func (s *Store) Info() store.Info {
	return store.Info{
		Name:         "swift",
		Version:      Version,
		Schemes:      []string{Scheme},
		Description:  "Images as objects in an OpenStack Swift container (large ones as static large objects)",
		ConfigSchema: schema,
	}
}

// ValidateConfig checks cfg without contacting Swift.
func (s *Store) ValidateConfig(_ context.Context, cfg store.Config) store.Diagnostics {
	_, d := parseConfig(cfg)
	return d
}

// Configure applies cfg. It does not contact Swift: an unreachable or
// misconfigured cluster is reported by Probe, so glance-api can start and
// report the store unhealthy.
func (s *Store) Configure(_ context.Context, cfg store.Config) (store.Capabilities, error) {
	c, diags := parseConfig(cfg)
	if err := diags.Err(); err != nil {
		return store.Capabilities{}, err
	}
	tc, err := c.tlsConfig()
	if err != nil {
		return store.Capabilities{}, fmt.Errorf("%w: ca_file: %w", store.ErrInvalidConfig, err)
	}
	tr := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: c.connectTimeout, KeepAlive: 30 * time.Second}).DialContext,
		TLSClientConfig:       tc,
		TLSHandshakeTimeout:   c.connectTimeout,
		MaxIdleConnsPerHost:   64,
		IdleConnTimeout:       90 * time.Second,
		ExpectContinueTimeout: 5 * time.Second,
		ForceAttemptHTTP2:     false,
	}
	conn := &ncw.Connection{
		AuthUrl:        c.authURL,
		AuthVersion:    c.authVersion,
		UserName:       c.user,
		ApiKey:         c.key,
		Domain:         c.userDomain,
		Tenant:         c.project,
		TenantDomain:   c.projectDomain,
		Region:         c.region,
		EndpointType:   ncw.EndpointType(c.endpointType),
		ConnectTimeout: c.connectTimeout,
		Timeout:        c.timeout,
		UserAgent:      "glance-store-swift/" + Version,
		Transport:      tr,
	}
	s.st.Store(&state{cfg: c, conn: conn})
	s.log.Info("configured", "auth_url", c.authURL, "auth_version", c.authVersion, "user", c.user,
		"container", c.container, "create_container", c.create,
		"large_object_threshold", c.threshold, "segment_size", c.segmentSize)
	return allCaps, nil
}

func (s *Store) state() (*state, error) {
	st := s.st.Load()
	if st == nil {
		return nil, store.ErrNotConfigured
	}
	return st, nil
}

// Probe authenticates, checks the container (creating it when
// create_container is set) and reads the cluster's SLO limits.
func (s *Store) Probe(ctx context.Context) error {
	st, err := s.state()
	if err != nil {
		return err
	}
	c := &st.cfg
	if !st.conn.Authenticated() {
		if err := st.conn.Authenticate(ctx); err != nil {
			return mapErr(fmt.Sprintf("authenticating as %q at %s (auth v%d)", c.user, c.authURL, c.authVersion), err)
		}
	}
	_, _, err = st.conn.Container(ctx, c.container)
	switch {
	case statusOf(err) == 404 && c.create:
		if err := st.conn.ContainerCreate(ctx, c.container, nil); err != nil {
			return mapErr(fmt.Sprintf("creating container %q", c.container), err)
		}
		s.log.Info("created the container", "container", c.container)
	case statusOf(err) == 404:
		return fmt.Errorf("%w: swift: container %q does not exist in %s (create it, or set create_container = true)",
			store.ErrUnavailable, c.container, st.conn.StorageUrl)
	case err != nil:
		return mapErr(fmt.Sprintf("checking container %q", c.container), err)
	}
	if st.maxSegments.Load() == 0 {
		n := int64(defaultMaxSegments)
		if info, err := st.conn.QueryInfo(ctx); err == nil {
			if slo, ok := info["slo"].(map[string]any); ok {
				if v, ok := slo["max_manifest_segments"].(float64); ok && v >= 1 {
					n = int64(v)
				}
			}
		} else {
			s.log.Debug("no /info from the cluster; assuming Swift's default SLO limits", "error", err)
		}
		st.maxSegments.Store(n)
	}
	return nil
}

// validID checks an image id: Glance ids are UUIDs, and the rule keeps
// every id one plain object name that no segment name can equal.
func validID(id string) error {
	if !idRE.MatchString(id) {
		if len(id) > 80 {
			id = id[:80] + "…"
		}
		return fmt.Errorf("%w: image id %q: want 1 to 64 of [A-Za-z0-9_-], starting with a letter or digit", store.ErrInvalidArgument, id)
	}
	return nil
}

// location returns the location of object name in container.
func location(container, name string) string {
	return (&url.URL{Scheme: Scheme, Host: container, Path: "/" + name}).String()
}

// objectOf validates location and returns the object name it designates:
// swift://<the configured container>/<image id>, nothing else.
func (st *state) objectOf(location string) (string, error) {
	bad := func(why string) (string, error) {
		return "", fmt.Errorf("%w: %q: %s", store.ErrInvalidLocation, location, why)
	}
	u, err := url.Parse(location)
	if err != nil {
		return bad("not a URI")
	}
	if u.Scheme != Scheme {
		return bad("not a swift URI")
	}
	if u.Opaque != "" || u.User != nil || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || u.RawPath != "" {
		return bad("only swift://container/object is allowed")
	}
	if u.Host != st.cfg.container {
		return bad(fmt.Sprintf("not in this store's container %q", st.cfg.container))
	}
	name := strings.TrimPrefix(u.Path, "/")
	if validID(name) != nil {
		return bad("not an image object name")
	}
	return name, nil
}

// segmentPrefix is the prefix of every segment of the image name; a
// segment is <id>/<upload token>/<8-digit number>.
func segmentPrefix(name string) string { return name + "/" }

// call runs one request against the storage URL.
func (st *state) call(ctx context.Context, p ncw.RequestOpts) (*http.Response, ncw.Headers, error) {
	target, err := st.conn.GetStorageUrl(ctx)
	if err != nil {
		return nil, nil, err
	}
	conn := st.conn
	// Called by the library with its auth lock held, after re-authenticating.
	p.OnReAuth = func() (string, error) { return conn.StorageUrl, nil }
	return st.conn.Call(ctx, target, p)
}

// Put stores body as one object when its size is known and at most
// large_object_threshold, and otherwise as an SLO: segments first, under
// names that are not the image's, then the manifest at the image's name once
// the body ended and verified. Every failure removes what was written.
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
	name := req.ImageID
	what := "put " + name
	// An early check spares uploading a whole image only to find the name
	// taken; If-None-Match on the final PUT is what really guarantees it.
	if _, _, err := st.call(ctx, ncw.RequestOpts{Container: st.cfg.container, ObjectName: name, Operation: "HEAD", NoResponse: true}); err == nil {
		return store.PutResult{}, fmt.Errorf("%w: image %s", store.ErrAlreadyExists, name)
	} else if statusOf(err) != 404 {
		return store.PutResult{}, mapErr(what, err)
	}

	var n int64
	if req.Size >= 0 && req.Size <= st.cfg.threshold {
		n, err = s.putSingle(ctx, st, name, req.Size, body)
	} else {
		n, err = s.putSLO(ctx, st, name, req.Size, body)
	}
	if err != nil {
		s.log.Debug("put failed", "image_id", name, "error", err)
		return store.PutResult{}, mapErr(what, err)
	}
	// A cancellation that raced with the last request: the object must not
	// stay visible.
	if cerr := ctx.Err(); cerr != nil {
		s.removeObject(st, name)
		return store.PutResult{}, mapErr(what, cerr)
	}
	s.log.Debug("stored image", "image_id", name, "bytes", n)
	return store.PutResult{Location: location(st.cfg.container, name), Size: n}, nil
}

// putSingle uploads size bytes of body as one object.
func (s *Store) putSingle(ctx context.Context, st *state, name string, size int64, body io.Reader) (int64, error) {
	er := &exactReader{r: body, remain: size, ctx: ctx}
	var rb io.Reader = er
	if size == 0 {
		if err := er.expectEOF(); err != nil {
			return 0, err
		}
		rb = nil
	}
	_, _, err := st.call(ctx, ncw.RequestOpts{
		Container: st.cfg.container, ObjectName: name, Operation: "PUT", Body: rb, NoResponse: true,
		Headers: ncw.Headers{
			"Content-Length": strconv.FormatInt(size, 10),
			"Content-Type":   "application/octet-stream",
			"If-None-Match":  "*",
		},
		Retries: -1,
	})
	if er.err != nil {
		// The body's own failure explains the aborted request best.
		return 0, er.err
	}
	if err != nil {
		if statusOf(err) == 412 {
			return 0, fmt.Errorf("%w: image %s", store.ErrAlreadyExists, name)
		}
		return 0, err
	}
	return size, nil
}

// sloSegment is one entry of an SLO manifest.
type sloSegment struct {
	Path string `json:"path"`
	Etag string `json:"etag"`
	Size int64  `json:"size_bytes"`
}

// putSLO uploads body as segments and an SLO manifest. size may be
// store.UnknownSize.
func (s *Store) putSLO(ctx context.Context, st *state, name string, size int64, body io.Reader) (n int64, err error) {
	c := &st.cfg
	maxSegs := st.maxSegments.Load()
	if maxSegs <= 0 {
		maxSegs = defaultMaxSegments
	}
	segSize := c.segmentSize
	if size > 0 && (size+segSize-1)/segSize > maxSegs {
		// Known size: grow the segments rather than fail.
		segSize = (size + maxSegs - 1) / maxSegs
		if segSize > maxSingleObject {
			return 0, fmt.Errorf("%w: %d bytes need more than %d segments of at most 5 GiB", store.ErrInvalidArgument, size, maxSegs)
		}
	}
	tok := make([]byte, 8)
	_, _ = rand.Read(tok) // never fails (crypto/rand docs)
	prefix := segmentPrefix(name) + hex.EncodeToString(tok) + "/"

	var written []string
	defer func() {
		if err != nil {
			s.removeSegments(st, name, written)
		}
	}()

	br := bufio.NewReaderSize(&ctxReader{ctx: ctx, r: body}, peekBufSize)
	var segs []sloSegment
	var total int64
	for i := 1; ; i++ {
		if err := ctx.Err(); err != nil {
			return total, err
		}
		// Start a segment only when there is a byte for it: Swift refuses
		// empty segments, and the end of the body must be seen first.
		if _, perr := br.Peek(1); perr == io.EOF {
			break
		} else if perr != nil {
			return total, fmt.Errorf("reading the body: %w", perr)
		}
		want := segSize
		if size >= 0 {
			want = min(segSize, size-total)
			if want == 0 {
				return total, fmt.Errorf("%w: the body is longer than the declared %d bytes", store.ErrSizeMismatch, size)
			}
		}
		if int64(len(segs)) >= maxSegs {
			return total, fmt.Errorf("%w: image larger than %d segments of %d bytes (raise segment_size)", store.ErrStorageFull, maxSegs, segSize)
		}
		seg := fmt.Sprintf("%s%08d", prefix, i)
		written = append(written, seg)
		cr := &countReader{r: io.LimitReader(br, want)}
		h := ncw.Headers{"Content-Type": "application/octet-stream"}
		if size >= 0 {
			h["Content-Length"] = strconv.FormatInt(want, 10)
		}
		_, hdr, perr := st.call(ctx, ncw.RequestOpts{
			Container: c.container, ObjectName: seg, Operation: "PUT", Body: cr, Headers: h, NoResponse: true, Retries: -1,
		})
		if cr.err != nil {
			return total, fmt.Errorf("reading the body: %w", cr.err)
		}
		if perr != nil {
			if size >= 0 && cr.n < want && ctx.Err() == nil {
				return total, fmt.Errorf("%w: the body ended after %d of the declared %d bytes", store.ErrSizeMismatch, total+cr.n, size)
			}
			return total, fmt.Errorf("segment %d: %w", i, perr)
		}
		segs = append(segs, sloSegment{Path: "/" + c.container + "/" + seg, Etag: strings.Trim(hdr["Etag"], `"`), Size: cr.n})
		total += cr.n
		if cr.n < want {
			if size >= 0 {
				return total, fmt.Errorf("%w: the body ended after %d of the declared %d bytes", store.ErrSizeMismatch, total, size)
			}
			// Unknown size: a short segment is the last one, but only
			// the body's io.EOF (after its trailer verified) says so.
			if _, perr := br.Peek(1); perr != io.EOF {
				if perr == nil {
					return total, fmt.Errorf("swift accepted segment %d short (%d of %d bytes)", i, cr.n, want)
				}
				return total, fmt.Errorf("reading the body: %w", perr)
			}
			break
		}
	}
	if size >= 0 && total != size {
		return total, fmt.Errorf("%w: the body ended after %d of the declared %d bytes", store.ErrSizeMismatch, total, size)
	}
	if len(segs) == 0 {
		// An empty body of unknown size: an SLO needs a segment.
		return s.putSingle(ctx, st, name, 0, br)
	}
	manifest, err := json.Marshal(segs)
	if err != nil {
		return total, err
	}
	_, _, err = st.call(ctx, ncw.RequestOpts{
		Container: c.container, ObjectName: name, Operation: "PUT", NoResponse: true, Retries: -1,
		Parameters: url.Values{"multipart-manifest": {"put"}},
		Body:       bytes.NewReader(manifest),
		Headers: ncw.Headers{
			"Content-Length": strconv.Itoa(len(manifest)),
			"Content-Type":   "application/octet-stream",
			"If-None-Match":  "*",
		},
	})
	if err != nil {
		if statusOf(err) == 412 {
			return total, fmt.Errorf("%w: image %s", store.ErrAlreadyExists, name)
		}
		return total, fmt.Errorf("manifest: %w", err)
	}
	return total, nil
}

// removeSegments deletes the segments of a failed upload, and any other
// segment left under the same upload's prefix.
func (s *Store) removeSegments(st *state, name string, segs []string) {
	ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
	defer cancel()
	for _, seg := range segs {
		if err := st.deleteObject(ctx, seg); err != nil {
			s.log.Warn("cannot remove a segment of a failed upload", "image_id", name, "segment", seg, "error", err)
		}
	}
}

// removeObject deletes an object that must not stay, with its segments.
func (s *Store) removeObject(st *state, name string) {
	ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
	defer cancel()
	if err := s.deleteAll(ctx, st, name); err != nil {
		s.log.Warn("cannot remove an object whose upload was cancelled", "image_id", name, "error", err)
	}
}

// deleteObject deletes one object; a missing one is not an error.
func (st *state) deleteObject(ctx context.Context, name string) error {
	_, _, err := st.call(ctx, ncw.RequestOpts{Container: st.cfg.container, ObjectName: name, Operation: "DELETE", NoResponse: true})
	if err != nil && statusOf(err) != 404 {
		return err
	}
	return nil
}

// deleteAll deletes the object name (a manifest or a plain object) and then
// every segment under its prefix.
func (s *Store) deleteAll(ctx context.Context, st *state, name string) error {
	if err := st.deleteObject(ctx, name); err != nil {
		return err
	}
	segs, err := st.conn.ObjectNamesAll(ctx, st.cfg.container, &ncw.ObjectsOpts{Prefix: segmentPrefix(name)})
	if err != nil {
		if statusOf(err) == 404 {
			return nil
		}
		return err
	}
	for _, seg := range segs {
		if err := st.deleteObject(ctx, seg); err != nil {
			return err
		}
	}
	return nil
}

// Get opens the object for reading the range r, with an HTTP Range request.
func (s *Store) Get(ctx context.Context, location string, r store.Range) (io.ReadCloser, store.ObjectInfo, error) {
	st, err := s.state()
	if err != nil {
		return nil, store.ObjectInfo{}, err
	}
	name, err := st.objectOf(location)
	if err != nil {
		return nil, store.ObjectInfo{}, err
	}
	what := "get " + name
	if r.Offset < 0 {
		return nil, store.ObjectInfo{}, fmt.Errorf("%w: negative offset %d", store.ErrInvalidArgument, r.Offset)
	}
	// Ranges that HTTP cannot express, or that Swift answers with 416
	// although they are valid here, go by the object's size.
	emptyAt := func() (io.ReadCloser, store.ObjectInfo, error) {
		oi, err := s.Stat(ctx, location)
		if err != nil {
			return nil, store.ObjectInfo{}, err
		}
		if r.Offset > oi.Size {
			return nil, store.ObjectInfo{}, fmt.Errorf("swift: %s: %w: offset %d beyond the %d-byte object", what, store.ErrOutOfRange, r.Offset, oi.Size)
		}
		if r.Length == 0 || r.Offset == oi.Size {
			return io.NopCloser(strings.NewReader("")), oi, nil
		}
		return nil, store.ObjectInfo{}, fmt.Errorf("swift: %s: %w: range %d+%d refused", what, store.ErrOutOfRange, r.Offset, r.Length)
	}
	if r.Length == 0 {
		return emptyAt()
	}
	h := ncw.Headers{}
	switch {
	case r.Offset == 0 && r.Length < 0:
	case r.Length < 0:
		h["Range"] = fmt.Sprintf("bytes=%d-", r.Offset)
	default:
		h["Range"] = fmt.Sprintf("bytes=%d-%d", r.Offset, r.Offset+r.Length-1)
	}
	resp, hdr, err := st.call(ctx, ncw.RequestOpts{Container: st.cfg.container, ObjectName: name, Operation: "GET", Headers: h})
	if err != nil {
		if statusOf(err) == 416 {
			return emptyAt()
		}
		return nil, store.ObjectInfo{}, mapErr(what, err)
	}
	var size int64
	switch resp.StatusCode {
	case http.StatusPartialContent:
		cr := hdr["Content-Range"]
		i := strings.LastIndexByte(cr, '/')
		if i < 0 {
			resp.Body.Close()
			return nil, store.ObjectInfo{}, fmt.Errorf("swift: %s: bad Content-Range %q", what, cr)
		}
		if size, err = strconv.ParseInt(cr[i+1:], 10, 64); err != nil {
			resp.Body.Close()
			return nil, store.ObjectInfo{}, fmt.Errorf("swift: %s: bad Content-Range %q", what, cr)
		}
		return resp.Body, store.ObjectInfo{Size: size}, nil
	default:
		// The whole object (asked for, or the range was ignored).
		size = resp.ContentLength
		if size < 0 {
			if size, err = strconv.ParseInt(hdr["Content-Length"], 10, 64); err != nil {
				resp.Body.Close()
				return nil, store.ObjectInfo{}, fmt.Errorf("swift: %s: no Content-Length", what)
			}
		}
		if r.Offset > size {
			resp.Body.Close()
			return nil, store.ObjectInfo{}, fmt.Errorf("swift: %s: %w: offset %d beyond the %d-byte object", what, store.ErrOutOfRange, r.Offset, size)
		}
		if r.Offset > 0 {
			if _, err := io.CopyN(io.Discard, resp.Body, r.Offset); err != nil {
				resp.Body.Close()
				return nil, store.ObjectInfo{}, mapErr(what, err)
			}
		}
		var rd io.Reader = resp.Body
		if r.Length >= 0 {
			rd = io.LimitReader(resp.Body, r.Length)
		}
		return readCloser{Reader: rd, Closer: resp.Body}, store.ObjectInfo{Size: size}, nil
	}
}

type readCloser struct {
	io.Reader
	io.Closer
}

// Stat reports the object's size (the whole SLO's for a manifest).
func (s *Store) Stat(ctx context.Context, location string) (store.ObjectInfo, error) {
	st, err := s.state()
	if err != nil {
		return store.ObjectInfo{}, err
	}
	name, err := st.objectOf(location)
	if err != nil {
		return store.ObjectInfo{}, err
	}
	_, hdr, err := st.call(ctx, ncw.RequestOpts{Container: st.cfg.container, ObjectName: name, Operation: "HEAD", NoResponse: true})
	if err != nil {
		return store.ObjectInfo{}, mapErr("stat "+name, err)
	}
	size, err := strconv.ParseInt(hdr["Content-Length"], 10, 64)
	if err != nil {
		return store.ObjectInfo{}, fmt.Errorf("swift: stat %s: no Content-Length", name)
	}
	return store.ObjectInfo{Size: size}, nil
}

// Delete removes the object and, for an SLO, its segments; an object
// already gone is not an error (its leftover segments are still removed).
func (s *Store) Delete(ctx context.Context, location string) error {
	st, err := s.state()
	if err != nil {
		return err
	}
	name, err := st.objectOf(location)
	if err != nil {
		return err
	}
	return mapErr("delete "+name, s.deleteAll(ctx, st, name))
}

// exactReader yields exactly remain bytes of r. It hands over the last of
// them only once r has reached io.EOF, so the request carrying them
// completes only for a body that ended, verified, at the declared size.
type exactReader struct {
	r      io.Reader
	remain int64
	ctx    context.Context
	err    error // the first failure, kept for the caller
}

func (e *exactReader) fail(err error) (int, error) {
	if e.err == nil {
		e.err = err
	}
	return 0, e.err
}

func (e *exactReader) Read(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	if err := e.ctx.Err(); err != nil {
		return e.fail(err)
	}
	if e.remain == 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > e.remain {
		p = p[:e.remain]
	}
	n, err := e.r.Read(p)
	e.remain -= int64(n)
	switch {
	case err == io.EOF && e.remain > 0:
		return e.fail(fmt.Errorf("%w: the body ended %d bytes short of the declared size", store.ErrSizeMismatch, e.remain))
	case err != nil && err != io.EOF:
		return e.fail(fmt.Errorf("reading the body: %w", err))
	case e.remain == 0 && err == nil:
		if err := e.expectEOF(); err != nil {
			return 0, err
		}
	}
	return n, nil
}

// expectEOF checks that r has nothing more than what was read.
func (e *exactReader) expectEOF() error {
	var one [1]byte
	for idle := 0; ; {
		k, err := e.r.Read(one[:])
		if k > 0 {
			_, ferr := e.fail(fmt.Errorf("%w: the body is longer than the declared size", store.ErrSizeMismatch))
			return ferr
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			_, ferr := e.fail(fmt.Errorf("reading the body: %w", err))
			return ferr
		}
		if idle++; idle > 100 {
			_, ferr := e.fail(io.ErrNoProgress)
			return ferr
		}
	}
}

// countReader counts the bytes read and keeps the first non-EOF error.
type countReader struct {
	r   io.Reader
	n   int64
	err error
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	if err != nil && err != io.EOF && c.err == nil {
		c.err = err
	}
	return n, err
}

// ctxReader fails once ctx is done, so a cancelled upload stops at the
// next read even when the body goes on yielding data.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c *ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

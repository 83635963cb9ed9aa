package filesystem

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/glance-go/glance/sdk/store"
)

const (
	// Version is the plugin's own version.
	Version = "1.0.0"

	tmpPrefix = ".tmp-"
	// staleAge is how old a temporary file must be before Configure
	// removes it: younger ones may belong to an upload in flight in another
	// process sharing data_dir.
	staleAge = time.Hour
	// bufSize is the unit of reads from the body and writes to the file.
	bufSize = 1 << 20
	// holeGrain is the granularity of thin provisioning: an all-zero run
	// of this size, aligned, becomes a hole. 64 KiB spans the block size of
	// every common filesystem, so holes really free blocks.
	holeGrain = 64 << 10
	// spaceCheckEvery is how often, in bytes written, a Put re-checks
	// min_free_bytes when concurrent uploads share the filesystem.
	spaceCheckEvery = 64 << 20
)

var (
	idRE                          = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$`)
	zeros                         = make([]byte, holeGrain)
	bufPool                       = sync.Pool{New: func() any { b := make([]byte, bufSize); return &b }}
	_       store.Backend         = (*Store)(nil)
	_       store.ConfigValidator = (*Store)(nil)
	_       store.LocalFiler      = (*Store)(nil)
	_       store.LocalWriter     = (*Store)(nil)
	allCaps                       = store.Capabilities{
		Read: true, ReadRange: true, Write: true, WriteUnknownSize: true,
		Delete: true, ConcurrentSafe: true, LocalFile: true, LocalPut: true,
	}
)

// Store is the filesystem store. Its methods are safe for concurrent use
// once Configure returned.
type Store struct {
	log hclog.Logger
	cfg atomic.Pointer[config]
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
		Name:         "filesystem",
		Version:      Version,
		Schemes:      []string{"file"},
		Description:  "Images as files in a local or shared directory",
		ConfigSchema: schema,
	}
}

// ValidateConfig checks cfg, and whether data_dir is or can be made a
// writable directory, without creating anything.
func (s *Store) ValidateConfig(_ context.Context, cfg store.Config) store.Diagnostics {
	c, diags := parseConfig(cfg)
	if !diags.HasErrors() {
		checkDataDir(c.dir, &diags)
	}
	return diags
}

// Configure applies cfg: it creates data_dir when missing, checks that it
// is a writable directory, and removes stale temporary files.
func (s *Store) Configure(_ context.Context, cfg store.Config) (store.Capabilities, error) {
	c, diags := parseConfig(cfg)
	if err := diags.Err(); err != nil {
		return store.Capabilities{}, err
	}
	if err := os.MkdirAll(c.dir, 0o750); err != nil {
		return store.Capabilities{}, fmt.Errorf("%w: data_dir: %w", store.ErrInvalidConfig, err)
	}
	fi, err := os.Stat(c.dir)
	if err != nil {
		return store.Capabilities{}, fmt.Errorf("%w: data_dir: %w", store.ErrInvalidConfig, err)
	}
	if !fi.IsDir() {
		return store.Capabilities{}, fmt.Errorf("%w: data_dir %s is not a directory", store.ErrInvalidConfig, c.dir)
	}
	// Prove we can write, rather than guess from mode bits (ACLs, read-only
	// mounts, root squash on NFS).
	probe, err := os.CreateTemp(c.dir, tmpPrefix+"probe-*")
	if err != nil {
		return store.Capabilities{}, fmt.Errorf("%w: data_dir %s is not writable: %w", store.ErrInvalidConfig, c.dir, err)
	}
	probe.Close()
	os.Remove(probe.Name())

	s.sweepStale(c.dir)
	s.cfg.Store(&c)
	caps := allCaps
	caps.LocalFile = c.local
	caps.LocalPut = c.localPut()
	s.log.Info("configured", "data_dir", c.dir, "thin_provisioning", c.thin, "min_free_bytes", c.minFree, "file_perm", fmt.Sprintf("%#o", c.perm), "local_file", c.local, "local_put", c.localPut())
	return caps, nil
}

// sweepStale removes temporary files that a crashed upload left behind. A
// live upload holds an exclusive lock on its temporary file until the image
// is linked into place, so a file nobody locks is an orphan: its writer died
// (a plugin killed mid-upload). Where locks are not available, only files
// older than staleAge are taken for orphans.
func (s *Store) sweepStale(dir string) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		s.log.Warn("cannot list data_dir for stale temporary files", "error", err)
		return
	}
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), tmpPrefix) || !e.Type().IsRegular() {
			continue
		}
		fi, err := e.Info()
		if err != nil {
			continue
		}
		p := filepath.Join(dir, e.Name())
		if orphan, known := unlocked(p); known && !orphan || !known && time.Since(fi.ModTime()) < staleAge {
			continue
		}
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			s.log.Warn("cannot remove stale temporary file", "path", p, "error", err)
		} else {
			s.log.Info("removed stale temporary file", "path", p, "age", time.Since(fi.ModTime()).Round(time.Second))
		}
	}
}

func (s *Store) config() (*config, error) {
	c := s.cfg.Load()
	if c == nil {
		return nil, store.ErrNotConfigured
	}
	return c, nil
}

// Probe reports whether data_dir is still there.
func (s *Store) Probe(context.Context) error {
	c, err := s.config()
	if err != nil {
		return err
	}
	fi, err := os.Stat(c.dir)
	if err != nil {
		return fmt.Errorf("%w: data_dir: %w", store.ErrUnavailable, err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("%w: data_dir %s is not a directory", store.ErrUnavailable, c.dir)
	}
	return nil
}

// validID checks an image id against the rule in the package doc.
func validID(id string) error {
	if !idRE.MatchString(id) {
		if len(id) > 80 {
			id = id[:80] + "…"
		}
		return fmt.Errorf("%w: image id %q: want 1 to 64 of [A-Za-z0-9_-], starting with a letter or digit", store.ErrInvalidArgument, id)
	}
	return nil
}

// Put writes body to a temporary file and links it to data_dir/<id> once
// the whole body arrived and was verified.
func (s *Store) Put(ctx context.Context, req store.PutRequest, body io.Reader) (_ store.PutResult, err error) {
	up, err := s.begin(req)
	if err != nil {
		return store.PutResult{}, err
	}
	defer func() {
		up.cleanup()
		if err != nil {
			s.log.Debug("put failed", "image_id", req.ImageID, "error", err)
		}
	}()
	w := fileWriter{f: up.f, thin: up.c.thin}
	n, err := up.c.copyBody(ctx, &w, body, req.Size)
	if err != nil {
		return store.PutResult{}, fmt.Errorf("filesystem: put %s: %w", req.ImageID, err)
	}
	return up.commit(ctx, n)
}

// upload is a temporary file on its way to becoming an image: created and
// locked by begin, filled by Put (or by the host, see BeginLocalPut),
// linked into place by commit, removed by cleanup.
type upload struct {
	s     *Store
	c     *config
	req   store.PutRequest
	f     *os.File // nil once closed
	tmp   string
	final string
	done  bool // cleanup ran
}

// begin checks req and creates the locked temporary file.
func (s *Store) begin(req store.PutRequest) (*upload, error) {
	c, err := s.config()
	if err != nil {
		return nil, err
	}
	if err := validID(req.ImageID); err != nil {
		return nil, err
	}
	if req.Size < store.UnknownSize {
		return nil, fmt.Errorf("%w: size %d", store.ErrInvalidArgument, req.Size)
	}
	final := filepath.Join(c.dir, req.ImageID)
	// An early check spares writing a whole image only to find the name
	// taken; os.Link in commit is what really guarantees no clobbering.
	if _, err := os.Lstat(final); err == nil {
		return nil, fmt.Errorf("%w: image %s", store.ErrAlreadyExists, req.ImageID)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, osErr("put", err)
	}
	if err := c.checkSpace(req.Size); err != nil {
		return nil, err
	}
	f, err := os.CreateTemp(c.dir, tmpPrefix+req.ImageID+"-*")
	if err != nil {
		return nil, osErr("put", err)
	}
	tmp := f.Name()
	// Held until the image is linked into place: see sweepStale.
	if err := lockExclusive(f); err != nil {
		f.Close()
		os.Remove(tmp)
		return nil, osErr("put", err)
	}
	return &upload{s: s, c: c, req: req, f: f, tmp: tmp, final: final}, nil
}

// cleanup closes the file if commit did not, which releases the lock, and
// removes the temporary name (after a commit, the image keeps its link).
func (u *upload) cleanup() {
	if u.done {
		return
	}
	u.done = true
	if u.f != nil {
		u.f.Close()
		u.f = nil
	}
	if err := os.Remove(u.tmp); err != nil && !errors.Is(err, fs.ErrNotExist) {
		u.s.log.Warn("cannot remove temporary file", "path", u.tmp, "error", err)
	}
}

// commit makes the n bytes written to the temporary file durable and
// visible under the image id. The caller runs cleanup afterwards.
func (u *upload) commit(ctx context.Context, n int64) (store.PutResult, error) {
	req, c, f := u.req, u.c, u.f
	if req.Size >= 0 && n != req.Size {
		return store.PutResult{}, fmt.Errorf("%w: image %s: got %d bytes, declared %d", store.ErrSizeMismatch, req.ImageID, n, req.Size)
	}
	if c.thin {
		// Holes at the end were never written: set the length.
		if err := f.Truncate(n); err != nil {
			return store.PutResult{}, osErr("put", err)
		}
	}
	if err := f.Chmod(c.perm); err != nil {
		return store.PutResult{}, osErr("put", err)
	}
	if err := f.Sync(); err != nil {
		return store.PutResult{}, osErr("put", err)
	}
	// Last chance to honour a cancellation: after the link the image is
	// visible.
	if err := ctx.Err(); err != nil {
		return store.PutResult{}, fmt.Errorf("filesystem: put %s: %w", req.ImageID, err)
	}
	if err := os.Link(u.tmp, u.final); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return store.PutResult{}, fmt.Errorf("%w: image %s", store.ErrAlreadyExists, req.ImageID)
		}
		return store.PutResult{}, osErr("put", err)
	}
	// The cleanup removes the temporary name; make the new name durable
	// before reporting success.
	if err := syncDir(c.dir); err != nil {
		os.Remove(u.final)
		return store.PutResult{}, osErr("put", err)
	}
	// Closing releases the lock; the cleanup then removes the temporary
	// name.
	err := f.Close()
	u.f = nil
	if err != nil {
		os.Remove(u.final)
		return store.PutResult{}, osErr("put", err)
	}
	u.s.log.Debug("stored image", "image_id", req.ImageID, "bytes", n)
	return store.PutResult{Location: fileURI(u.final), Size: n}, nil
}

// BeginLocalPut prepares an upload that the host writes itself: the same
// checks and the same locked temporary file as Put, whose path the host
// fills. Offered when local_put is on and thin_provisioning is off (holes
// are made by this store's writer, which the host does not run).
func (s *Store) BeginLocalPut(_ context.Context, req store.PutRequest) (store.LocalPut, error) {
	c, err := s.config()
	if err != nil {
		return nil, err
	}
	if !c.localPut() {
		return nil, fmt.Errorf("%w: local puts are off (local_put = false, or thin_provisioning)", store.ErrUnsupported)
	}
	up, err := s.begin(req)
	if err != nil {
		return nil, err
	}
	return &localPut{up: up}, nil
}

// localPut is an upload the host writes through the file's path.
type localPut struct {
	up *upload
}

func (p *localPut) Path() string { return p.up.tmp }

// Commit checks that the host wrote size bytes, and min_free_bytes (the
// host's writes were not watched as copyBody watches its own), then
// commits as Put does.
func (p *localPut) Commit(ctx context.Context, size int64) (_ store.PutResult, err error) {
	up := p.up
	defer func() {
		up.cleanup()
		if err != nil {
			up.s.log.Debug("local put failed", "image_id", up.req.ImageID, "error", err)
		}
	}()
	fi, err := up.f.Stat()
	if err != nil {
		return store.PutResult{}, osErr("put", err)
	}
	if fi.Size() != size {
		return store.PutResult{}, fmt.Errorf("%w: image %s: the file holds %d bytes, the host wrote %d", store.ErrSizeMismatch, up.req.ImageID, fi.Size(), size)
	}
	if err := up.c.checkSpace(0); err != nil {
		return store.PutResult{}, err
	}
	return up.commit(ctx, size)
}

func (p *localPut) Abort() { p.up.cleanup() }

// copyBody copies body into w until io.EOF, refusing more than size bytes
// when size is known, and watching ctx and the free space as it goes.
func (c *config) copyBody(ctx context.Context, w *fileWriter, body io.Reader, size int64) (int64, error) {
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	buf := *bp
	var n, checked int64
	for {
		if err := ctx.Err(); err != nil {
			return n, err
		}
		k, rerr := fill(body, buf)
		if k > 0 {
			if size >= 0 && n+int64(k) > size {
				return n, fmt.Errorf("%w: the body is longer than the declared %d bytes", store.ErrSizeMismatch, size)
			}
			if err := w.write(buf[:k]); err != nil {
				if isNoSpace(err) {
					return n, fmt.Errorf("%w: %w", store.ErrStorageFull, err)
				}
				return n, err
			}
			n += int64(k)
			if n-checked >= spaceCheckEvery {
				checked = n
				if err := c.checkSpace(0); err != nil {
					return n, err
				}
			}
		}
		if rerr == io.EOF {
			return n, nil
		}
		if rerr != nil {
			return n, fmt.Errorf("reading the body: %w", rerr)
		}
	}
}

// fill reads into buf until it is full or r returns an error (io.EOF
// included), so writes are large and holes line up with holeGrain.
func fill(r io.Reader, buf []byte) (int, error) {
	n, idle := 0, 0
	for n < len(buf) {
		k, err := r.Read(buf[n:])
		n += k
		if err != nil {
			return n, err
		}
		if k == 0 {
			if idle++; idle > 100 {
				return n, io.ErrNoProgress
			}
		}
	}
	return n, nil
}

// freeSpace is freeBytes; tests replace it to play a filling disk.
var freeSpace = freeBytes

// checkSpace refuses to go on when writing more bytes would leave less than
// min_free_bytes free (or more than is free). Unknown free space passes:
// ENOSPC still stops the write.
func (c *config) checkSpace(more int64) error {
	if more < 0 {
		more = 0
	}
	free, ok := freeSpace(c.dir)
	if !ok {
		return nil
	}
	if free-more < c.minFree {
		return fmt.Errorf("%w: %d bytes free on the data_dir filesystem, %d more to write, min_free_bytes %d",
			store.ErrStorageFull, free, more, c.minFree)
	}
	return nil
}

// fileWriter writes a file sequentially; with thin provisioning it skips
// aligned all-zero runs, leaving holes.
type fileWriter struct {
	f       *os.File
	thin    bool
	pos     int64
	flushed int64 // bytes handed to writeback so far
}

// writebackEvery is how much written data the writer lets accumulate before
// asking the kernel to start writing it out. Without it a large machine
// keeps a whole image dirty in the page cache (writeback starts at 10% of
// RAM) and the final fsync does all the disk work after the upload; with it
// the disk writes while the image still streams in.
const writebackEvery = 8 << 20

func (w *fileWriter) write(p []byte) error {
	err := w.writeData(p)
	if err == nil && w.pos-w.flushed >= writebackEvery {
		startWriteback(w.f, w.flushed, w.pos-w.flushed)
		w.flushed = w.pos
	}
	return err
}

func (w *fileWriter) writeData(p []byte) error {
	if !w.thin {
		n, err := w.f.Write(p)
		w.pos += int64(n)
		return err
	}
	for len(p) > 0 {
		seg := min(len(p), holeGrain)
		if bytes.Equal(p[:seg], zeros[:seg]) {
			w.pos += int64(seg)
			p = p[seg:]
			continue
		}
		// Gather the following non-zero segments into one write.
		end := seg
		for end < len(p) {
			next := min(end+holeGrain, len(p))
			if bytes.Equal(p[end:next], zeros[:next-end]) {
				break
			}
			end = next
		}
		n, err := w.f.WriteAt(p[:end], w.pos)
		w.pos += int64(n)
		if err != nil {
			return err
		}
		p = p[end:]
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// fileURI returns the location of the file at the absolute path p.
func fileURI(p string) string {
	return (&url.URL{Scheme: "file", Path: filepath.ToSlash(p)}).String()
}

// pathOf validates location and returns the path of the object it names:
// a clean absolute file URI naming a valid id directly inside data_dir.
func (c *config) pathOf(location string) (string, error) {
	bad := func(why string) (string, error) {
		return "", fmt.Errorf("%w: %q: %s", store.ErrInvalidLocation, location, why)
	}
	u, err := url.Parse(location)
	if err != nil {
		return bad("not a URI")
	}
	if u.Scheme != "file" {
		return bad("not a file URI")
	}
	if u.Opaque != "" || u.User != nil || (u.Host != "" && u.Host != "localhost") || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" {
		return bad("only a path is allowed in a file URI")
	}
	p := filepath.FromSlash(u.Path)
	if !filepath.IsAbs(p) || filepath.Clean(p) != p || strings.ContainsRune(p, 0) {
		return bad("not a clean absolute path")
	}
	dir, name := filepath.Split(p)
	if filepath.Clean(dir) != c.dir {
		return bad("not in this store's data_dir")
	}
	if validID(name) != nil {
		return bad("not an image file name")
	}
	return p, nil
}

// object validates location and returns the object's path and file info.
// The object must be a regular file: a symbolic link, a directory or a
// device in data_dir is nothing this store wrote.
func (s *Store) object(location string) (string, fs.FileInfo, error) {
	c, err := s.config()
	if err != nil {
		return "", nil, err
	}
	p, err := c.pathOf(location)
	if err != nil {
		return "", nil, err
	}
	fi, err := os.Lstat(p)
	if err != nil {
		return p, nil, osErr("", err)
	}
	if !fi.Mode().IsRegular() {
		return p, nil, fmt.Errorf("%w: %q is not a regular file", store.ErrInvalidLocation, location)
	}
	return p, fi, nil
}

// Get opens the object for reading the range r.
func (s *Store) Get(ctx context.Context, location string, r store.Range) (io.ReadCloser, store.ObjectInfo, error) {
	if err := ctx.Err(); err != nil {
		return nil, store.ObjectInfo{}, err
	}
	p, _, err := s.object(location)
	if err != nil {
		return nil, store.ObjectInfo{}, err
	}
	f, err := os.OpenFile(p, os.O_RDONLY|oNoFollow, 0)
	if err != nil {
		if isSymlinkLoop(err) {
			return nil, store.ObjectInfo{}, fmt.Errorf("%w: %q is a symbolic link", store.ErrInvalidLocation, location)
		}
		return nil, store.ObjectInfo{}, osErr("get", err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, store.ObjectInfo{}, osErr("get", err)
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, store.ObjectInfo{}, fmt.Errorf("%w: %q is not a regular file", store.ErrInvalidLocation, location)
	}
	size := fi.Size()
	switch {
	case r.Offset < 0:
		f.Close()
		return nil, store.ObjectInfo{}, fmt.Errorf("%w: negative offset %d", store.ErrInvalidArgument, r.Offset)
	case r.Offset > size:
		f.Close()
		return nil, store.ObjectInfo{}, fmt.Errorf("%w: offset %d beyond the %d-byte object", store.ErrOutOfRange, r.Offset, size)
	}
	n := size - r.Offset
	if r.Length >= 0 && r.Length < n {
		n = r.Length
	}
	// SectionReader reads with pread into the caller's buffer: the gRPC
	// layer's 1 MiB buffers become 1 MiB reads.
	return &sectionFile{SectionReader: io.NewSectionReader(f, r.Offset, n), f: f}, store.ObjectInfo{Size: size}, nil
}

type sectionFile struct {
	*io.SectionReader
	f *os.File
}

func (s *sectionFile) Close() error { return s.f.Close() }

// Stat reports the object's size.
func (s *Store) Stat(_ context.Context, location string) (store.ObjectInfo, error) {
	_, fi, err := s.object(location)
	if err != nil {
		return store.ObjectInfo{}, err
	}
	return store.ObjectInfo{Size: fi.Size()}, nil
}

// Delete removes the object; an object already gone is not an error.
func (s *Store) Delete(_ context.Context, location string) error {
	p, _, err := s.object(location)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return osErr("delete", err)
	}
	if err := syncDir(filepath.Dir(p)); err != nil {
		return osErr("delete", err)
	}
	return nil
}

// LocalFile returns the absolute path of the object, for the host to serve
// it itself.
func (s *Store) LocalFile(_ context.Context, location string) (string, error) {
	if c, err := s.config(); err != nil {
		return "", err
	} else if !c.local {
		return "", fmt.Errorf("%w: local_file is off", store.ErrUnsupported)
	}
	p, _, err := s.object(location)
	return p, err
}

// osErr wraps an OS error with the store sentinel it amounts to.
func osErr(op string, err error) error {
	if op != "" {
		op = "filesystem: " + op + ": "
	} else {
		op = "filesystem: "
	}
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("%s%w: %w", op, store.ErrNotFound, err)
	case errors.Is(err, fs.ErrPermission):
		return fmt.Errorf("%s%w: %w", op, store.ErrForbidden, err)
	case isNoSpace(err):
		return fmt.Errorf("%s%w: %w", op, store.ErrStorageFull, err)
	}
	return fmt.Errorf("%s%w", op, err)
}

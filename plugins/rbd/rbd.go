package rbd

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/ceph/go-ceph/rbd"
	"github.com/hashicorp/go-hclog"

	"github.com/glance-go/glance/sdk/store"
)

const (
	// Version is the plugin's own version.
	Version = "1.0.0"

	// writeDepth is how many object-sized writes a Put keeps in flight,
	// and readDepth how many objects a Get reads ahead.
	writeDepth = 4
	readDepth  = 4
	// growMin and growMax bound the steps an upload of unknown size grows
	// its image by (Glance doubles, capped at 8 GiB).
	growMin = 64 << 20
	growMax = 8 << 30
	// cleanupTimeout bounds the removal of a failed upload's image.
	cleanupTimeout = 2 * time.Minute
	// configureConnectTimeout bounds Configure's first connection attempt.
	configureConnectTimeout = 10 * time.Second
	// tmpPrefix starts the names of images being uploaded.
	tmpPrefix = "glance-tmp."
)

// staleAge is how old a temporary image must be before Configure takes it
// for an orphan (a variable for the tests).
var staleAge = time.Hour

var (
	_       store.Backend         = (*Store)(nil)
	_       store.ConfigValidator = (*Store)(nil)
	_       store.Shutdowner      = (*Store)(nil)
	allCaps                       = store.Capabilities{
		Read: true, ReadRange: true, Write: true, WriteUnknownSize: true,
		Delete: true, ConcurrentSafe: true,
	}
)

// Store is the RBD store. Its methods are safe for concurrent use once
// Configure returned.
type Store struct {
	log hclog.Logger
	cfg atomic.Pointer[config]

	mu sync.Mutex // serialises connecting
	cl atomic.Pointer[cluster]
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
		Name:         "rbd",
		Version:      Version,
		Schemes:      []string{"rbd"},
		Description:  "Images as Ceph RBD images with a protected snapshot, cloneable by Nova and Cinder",
		ConfigSchema: schema,
	}
}

// ValidateConfig checks cfg and that ceph_conf is readable, without
// connecting.
func (s *Store) ValidateConfig(_ context.Context, cfg store.Config) store.Diagnostics {
	c, diags := parseConfig(cfg)
	if !diags.HasErrors() {
		checkFiles(c, &diags)
	}
	return diags
}

// Configure applies cfg and connects. A cluster that cannot be reached now
// is not a configuration error: the store connects on first use, and Probe
// reports why it is not ready meanwhile.
func (s *Store) Configure(ctx context.Context, cfg store.Config) (store.Capabilities, error) {
	c, diags := parseConfig(cfg)
	if !diags.HasErrors() {
		checkFiles(c, &diags)
	}
	if err := diags.Err(); err != nil {
		return store.Capabilities{}, err
	}
	if old := s.cl.Swap(nil); old != nil {
		old.close()
	}
	s.cfg.Store(&c)
	s.log.Info("configured", "ceph_conf", c.cephConf, "user", c.user, "pool", c.pool, "chunk_size", strconv.Itoa(c.chunk()), "connect_timeout", c.connectTimeout.String())
	// Bounded well inside the host's start timeout: a cluster that is down
	// must not keep the plugin from starting.
	cctx, cancel := context.WithTimeout(ctx, min(c.connectTimeout, configureConnectTimeout))
	defer cancel()
	if _, err := s.cluster(cctx); err != nil {
		if errors.Is(err, store.ErrInvalidConfig) {
			return store.Capabilities{}, err
		}
		s.log.Warn("ceph is not reachable yet; connecting on first use", "error", err)
	}
	return allCaps, nil
}

// Shutdown closes the connection.
func (s *Store) Shutdown(context.Context) error {
	if cl := s.cl.Swap(nil); cl != nil {
		cl.close()
	}
	return nil
}

func (s *Store) config() (*config, error) {
	c := s.cfg.Load()
	if c == nil {
		return nil, store.ErrNotConfigured
	}
	return c, nil
}

// cluster returns the connection, connecting when there is none.
func (s *Store) cluster(ctx context.Context) (*cluster, error) {
	c, err := s.config()
	if err != nil {
		return nil, err
	}
	if cl := s.cl.Load(); cl != nil {
		return cl, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if cl := s.cl.Load(); cl != nil {
		return cl, nil
	}
	ctx, cancel := context.WithTimeout(ctx, c.connectTimeout+5*time.Second)
	defer cancel()
	cl, err := connect(ctx, c)
	if err != nil {
		return nil, err
	}
	s.cl.Store(cl)
	s.log.Info("connected", "fsid", cl.fsid, "pool", c.pool)
	s.sweepStale(cl)
	return cl, nil
}

// Probe connects when needed and checks that the pool is there.
func (s *Store) Probe(ctx context.Context) error {
	cl, err := s.cluster(ctx)
	if err != nil {
		return err
	}
	c, _ := s.config()
	done := make(chan error, 1)
	go func() {
		if _, err := cl.conn.GetPoolByName(c.pool); err != nil {
			if errno(err) == syscall.ENOENT {
				done <- fmt.Errorf("%w: pool %q does not exist (any more)", store.ErrUnavailable, c.pool)
				return
			}
			done <- cephErr("looking up pool "+c.pool, err)
			return
		}
		// One small request to an OSD: the pool's PGs serve requests.
		// Whether the object exists does not matter.
		if _, err := cl.ioctx.Stat("rbd_directory"); err != nil && errno(err) != syscall.ENOENT {
			done <- cephErr("reading pool "+c.pool, err)
			return
		}
		done <- nil
	}()
	select {
	case err := <-done:
		if err != nil && !errors.Is(err, store.ErrUnavailable) && !errors.Is(err, store.ErrForbidden) {
			err = fmt.Errorf("%w: %w", store.ErrUnavailable, err)
		}
		return err
	case <-ctx.Done():
		return fmt.Errorf("%w: ceph did not answer: %w", store.ErrUnavailable, ctx.Err())
	}
}

// features returns the features of new images: ceph.conf's
// rbd_default_features, as Glance takes them, always with layering (the
// protected snapshot and its clones need it).
func (cl *cluster) features() uint64 {
	f := rbd.FeatureLayering
	v, err := cl.conn.GetConfigOption("rbd_default_features")
	if err != nil {
		return f
	}
	if n, err := strconv.ParseUint(v, 10, 64); err == nil {
		return f | n
	}
	fs := rbd.FeatureSetFromNames(splitList(v))
	return f | uint64(fs)
}

func splitList(v string) []string {
	var out []string
	start := 0
	for i := 0; i <= len(v); i++ {
		if i == len(v) || v[i] == ',' || v[i] == ' ' {
			if i > start {
				out = append(out, v[start:i])
			}
			start = i + 1
		}
	}
	return out
}

// Put writes body into the new image req.ImageID, then snapshots and
// protects it.
func (s *Store) Put(ctx context.Context, req store.PutRequest, body io.Reader) (_ store.PutResult, err error) {
	c, err := s.config()
	if err != nil {
		return store.PutResult{}, err
	}
	if err := validID(req.ImageID); err != nil {
		return store.PutResult{}, err
	}
	if req.Size < store.UnknownSize {
		return store.PutResult{}, fmt.Errorf("%w: size %d", store.ErrInvalidArgument, req.Size)
	}
	if err := ctx.Err(); err != nil {
		return store.PutResult{}, err
	}
	cl, err := s.cluster(ctx)
	if err != nil {
		return store.PutResult{}, err
	}
	id := req.ImageID
	size := uint64(0)
	if req.Size > 0 {
		size = uint64(req.Size)
	}
	opts := rbd.NewRbdImageOptions()
	defer opts.Destroy()
	if err := opts.SetUint64(rbd.ImageOptionOrder, uint64(c.order)); err != nil {
		return store.PutResult{}, cephErr("image options", err)
	}
	if err := opts.SetUint64(rbd.ImageOptionFeatures, cl.features()); err != nil {
		return store.PutResult{}, cephErr("image options", err)
	}
	// An early check spares writing a whole image only to find the name
	// taken; the rename below is what really guarantees no clobbering.
	if img, err := rbd.OpenImageReadOnly(cl.ioctx, id, rbd.NoSnapshot); err == nil {
		img.Close()
		return store.PutResult{}, fmt.Errorf("%w: image %s", store.ErrAlreadyExists, id)
	} else if errno(err) != syscall.ENOENT {
		return store.PutResult{}, cephErr("looking up image "+id, err)
	}
	// The image is written under a temporary name and renamed once complete,
	// so nothing is ever visible at the location of an unfinished upload,
	// and a retry after an abort never meets the remains of the first try.
	tmp := tmpName(id)
	if err := rbd.CreateImage(cl.ioctx, tmp, size, opts); err != nil {
		return store.PutResult{}, cephErr("creating image "+tmp, err)
	}
	// From here on the temporary image is ours: any failure removes it.
	var img *rbd.Image
	defer func() {
		if img != nil {
			img.Close()
		}
		if err != nil {
			s.log.Debug("put failed; removing the temporary image", "image_id", id, "tmp", tmp, "error", err)
			cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
			defer cancel()
			if derr := s.remove(cctx, cl, tmp, snapName); derr != nil {
				s.log.Error("cannot remove the temporary image of a failed upload", "image_id", id, "tmp", tmp, "error", derr)
			}
		}
	}()
	img, err = rbd.OpenImage(cl.ioctx, tmp, rbd.NoSnapshot)
	if err != nil {
		return store.PutResult{}, cephErr("opening image "+tmp, err)
	}
	w := &writer{img: img, size: size, known: req.Size >= 0, chunk: c.chunk()}
	n, err := w.copy(ctx, body)
	if err != nil {
		return store.PutResult{}, fmt.Errorf("rbd: put %s: %w", id, err)
	}
	if req.Size >= 0 && n != req.Size {
		return store.PutResult{}, fmt.Errorf("%w: image %s: got %d bytes, declared %d", store.ErrSizeMismatch, id, n, req.Size)
	}
	if w.size != uint64(n) {
		if err := img.Resize(uint64(n)); err != nil {
			return store.PutResult{}, cephErr("shrinking image "+tmp, err)
		}
	}
	if err := img.Flush(); err != nil {
		return store.PutResult{}, cephErr("flushing image "+tmp, err)
	}
	snap, err := img.CreateSnapshot(snapName)
	if err != nil {
		return store.PutResult{}, cephErr("snapshotting image "+tmp, err)
	}
	if err := snap.Protect(); err != nil {
		return store.PutResult{}, cephErr("protecting the snapshot of image "+tmp, err)
	}
	rbdID, err := img.GetId()
	if err != nil {
		return store.PutResult{}, cephErr("reading the id of image "+tmp, err)
	}
	err = img.Close()
	img = nil
	if err != nil {
		return store.PutResult{}, cephErr("closing image "+tmp, err)
	}
	// Last chance to honour a cancellation: after the rename the image is
	// visible.
	if err := ctx.Err(); err != nil {
		return store.PutResult{}, fmt.Errorf("rbd: put %s: %w", id, err)
	}
	if err := s.rename(cl, tmp, id, rbdID); err != nil {
		return store.PutResult{}, err
	}
	l := loc{fsid: cl.fsid, pool: c.pool, image: id, snap: snapName}
	s.log.Debug("stored image", "image_id", id, "bytes", n)
	return store.PutResult{Location: l.String(), Size: n}, nil
}

// rename renames the temporary image tmp, whose RBD id is rbdID, to id,
// or fails with ErrAlreadyExists when id is taken. librbd checks the new
// name before renaming, but two renames to one name can both pass that
// check, and librbd then reports the loser's EEXIST as success (it treats
// it as an idempotent replay): so the winner is told by the RBD id the
// name ends up with.
func (s *Store) rename(cl *cluster, tmp, id, rbdID string) error {
	if err := rbd.GetImage(cl.ioctx, tmp).Rename(id); err != nil {
		if errno(err) == syscall.EEXIST {
			return fmt.Errorf("%w: image %s", store.ErrAlreadyExists, id)
		}
		return cephErr("renaming image "+tmp+" to "+id, err)
	}
	img, err := rbd.OpenImageReadOnly(cl.ioctx, id, rbd.NoSnapshot)
	if err != nil {
		return cephErr("opening image "+id+" after renaming "+tmp, err)
	}
	got, err := img.GetId()
	img.Close()
	if err != nil {
		return cephErr("reading the id of image "+id, err)
	}
	if got != rbdID {
		return fmt.Errorf("%w: image %s (written concurrently by another upload)", store.ErrAlreadyExists, id)
	}
	return nil
}

// tmpName is the name an upload writes under: never a valid image id
// (those have no dots), unique per upload.
func tmpName(id string) string {
	var b [6]byte
	rand.Read(b[:])
	return tmpPrefix + id + "." + hex.EncodeToString(b[:])
}

// sweepStale removes the temporary images of uploads whose writer died (a
// plugin killed mid-upload): older than staleAge and open by nobody. A
// live upload holds its image open, which registers a watcher.
func (s *Store) sweepStale(cl *cluster) {
	names, err := rbd.GetImageNames(cl.ioctx)
	if err != nil {
		s.log.Warn("cannot list the pool for stale temporary images", "error", err)
		return
	}
	for _, name := range names {
		if !strings.HasPrefix(name, tmpPrefix) {
			continue
		}
		img, err := rbd.OpenImageReadOnly(cl.ioctx, name, rbd.NoSnapshot)
		if err != nil {
			continue
		}
		ts, terr := img.GetCreateTimestamp()
		ws, werr := img.ListWatchers()
		img.Close()
		if terr != nil || werr != nil || len(ws) > 0 || time.Since(time.Unix(ts.Sec, ts.Nsec)) < staleAge {
			continue
		}
		if err := s.remove(context.Background(), cl, name, snapName); err != nil {
			s.log.Warn("cannot remove stale temporary image", "image", name, "error", err)
		} else {
			s.log.Info("removed stale temporary image", "image", name)
		}
	}
}

// writer copies a body into an image in chunk-sized writes, writeDepth of
// them in flight, growing the image when its size is not known.
type writer struct {
	img   *rbd.Image
	size  uint64 // the image's current size
	known bool
	chunk int

	wg   sync.WaitGroup
	once sync.Once
	werr error
	fail atomic.Bool
}

func (w *writer) setErr(err error) {
	w.once.Do(func() { w.werr = err; w.fail.Store(true) })
}

func (w *writer) copy(ctx context.Context, body io.Reader) (n int64, err error) {
	free := make(chan []byte, writeDepth)
	for range writeDepth {
		free <- make([]byte, w.chunk)
	}
	defer w.wg.Wait() // no write may outlive the image handle
	for {
		if err := ctx.Err(); err != nil {
			return n, err
		}
		if w.fail.Load() {
			w.wg.Wait()
			return n, w.werr
		}
		var buf []byte
		select {
		case buf = <-free:
		case <-ctx.Done():
			return n, ctx.Err()
		}
		k, rerr := fill(body, buf)
		if k > 0 {
			end := uint64(n) + uint64(k)
			if end > w.size {
				if w.known {
					return n, fmt.Errorf("%w: the body is longer than the declared %d bytes", store.ErrSizeMismatch, w.size)
				}
				// Grow in large steps; in-flight writes lie below the old size.
				step := min(max(w.size, growMin), growMax)
				next := max(w.size+uint64(step), end)
				if err := w.img.Resize(next); err != nil {
					return n, cephErr("growing the image", err)
				}
				w.size = next
			}
			off := n
			w.wg.Add(1)
			go func(b []byte, k int) {
				defer w.wg.Done()
				if _, err := w.img.WriteAt(b[:k], off); err != nil {
					w.setErr(cephErr("writing", err))
				}
				free <- b
			}(buf, k)
			n += int64(k)
		} else {
			free <- buf
		}
		if rerr == io.EOF {
			w.wg.Wait()
			if w.fail.Load() {
				return n, w.werr
			}
			return n, nil
		}
		if rerr != nil {
			return n, fmt.Errorf("reading the body: %w", rerr)
		}
	}
}

// fill reads into buf until it is full or r returns an error (io.EOF
// included), so writes are whole objects.
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

// resolve parses location and checks that it belongs to this store's
// cluster and pool.
func (s *Store) resolve(ctx context.Context, location string) (*cluster, loc, error) {
	c, err := s.config()
	if err != nil {
		return nil, loc{}, err
	}
	l, err := parseLocation(location)
	if err != nil {
		return nil, loc{}, err
	}
	cl, err := s.cluster(ctx)
	if err != nil {
		return nil, loc{}, err
	}
	if l.fsid != "" && l.fsid != cl.fsid {
		return nil, loc{}, fmt.Errorf("%w: %q is in cluster %s, this store's is %s", store.ErrInvalidLocation, location, l.fsid, cl.fsid)
	}
	if l.pool != "" && l.pool != c.pool {
		return nil, loc{}, fmt.Errorf("%w: %q is in pool %s, this store's is %s", store.ErrInvalidLocation, location, l.pool, c.pool)
	}
	return cl, l, nil
}

// open opens the image (at its snapshot) read-only.
func (s *Store) open(ctx context.Context, location string) (*rbd.Image, error) {
	cl, l, err := s.resolve(ctx, location)
	if err != nil {
		return nil, err
	}
	img, err := rbd.OpenImageReadOnly(cl.ioctx, l.image, l.snap)
	if err != nil {
		return nil, cephErr("opening "+l.image+"@"+l.snap, err)
	}
	return img, nil
}

// Stat reports the image's size.
func (s *Store) Stat(ctx context.Context, location string) (store.ObjectInfo, error) {
	img, err := s.open(ctx, location)
	if err != nil {
		return store.ObjectInfo{}, err
	}
	defer img.Close()
	size, err := img.GetSize()
	if err != nil {
		return store.ObjectInfo{}, cephErr("stat", err)
	}
	return store.ObjectInfo{Size: int64(size)}, nil
}

// Get opens the image for reading the range r.
func (s *Store) Get(ctx context.Context, location string, r store.Range) (io.ReadCloser, store.ObjectInfo, error) {
	if err := ctx.Err(); err != nil {
		return nil, store.ObjectInfo{}, err
	}
	c, err := s.config()
	if err != nil {
		return nil, store.ObjectInfo{}, err
	}
	img, err := s.open(ctx, location)
	if err != nil {
		return nil, store.ObjectInfo{}, err
	}
	us, err := img.GetSize()
	if err != nil {
		img.Close()
		return nil, store.ObjectInfo{}, cephErr("stat", err)
	}
	size := int64(us)
	switch {
	case r.Offset < 0:
		img.Close()
		return nil, store.ObjectInfo{}, fmt.Errorf("%w: negative offset %d", store.ErrInvalidArgument, r.Offset)
	case r.Offset > size:
		img.Close()
		return nil, store.ObjectInfo{}, fmt.Errorf("%w: offset %d beyond the %d-byte image", store.ErrOutOfRange, r.Offset, size)
	}
	n := size - r.Offset
	if r.Length >= 0 && r.Length < n {
		n = r.Length
	}
	return newReader(img, r.Offset, r.Offset+n, c.chunk()), store.ObjectInfo{Size: size}, nil
}

// Delete unprotects and removes the snapshot, then removes the image. An
// image with clones, other snapshots or watchers is in use and stays as it
// was.
func (s *Store) Delete(ctx context.Context, location string) error {
	cl, l, err := s.resolve(ctx, location)
	if err != nil {
		return err
	}
	return s.remove(ctx, cl, l.image, l.snap)
}

// remove deletes image id and its snapshot snap; what is gone is not an
// error.
func (s *Store) remove(_ context.Context, cl *cluster, id, snap string) error {
	img, err := rbd.OpenImage(cl.ioctx, id, rbd.NoSnapshot)
	if errno(err) == syscall.ENOENT {
		return nil
	}
	if err != nil {
		return cephErr("opening image "+id, err)
	}
	closed := false
	defer func() {
		if !closed {
			img.Close()
		}
	}()
	snaps, err := img.GetSnapshotNames()
	if err != nil {
		return cephErr("listing the snapshots of image "+id, err)
	}
	var others []string
	hasSnap := false
	for _, si := range snaps {
		if snap != "" && si.Name == snap {
			hasSnap = true
		} else {
			others = append(others, si.Name)
		}
	}
	if len(others) > 0 {
		return fmt.Errorf("%w: image %s has snapshots %q besides %q", store.ErrInUse, id, others, snap)
	}
	if hasSnap {
		sn := img.GetSnapshot(snap)
		prot, err := sn.IsProtected()
		if err != nil {
			return cephErr("reading the protection of "+id+"@"+snap, err)
		}
		if prot {
			if err := sn.Unprotect(); err != nil {
				if errno(err) == syscall.EBUSY {
					return fmt.Errorf("%w: image %s: snapshot %s has clones", store.ErrInUse, id, snap)
				}
				return cephErr("unprotecting "+id+"@"+snap, err)
			}
		}
		if err := sn.Remove(); err != nil && errno(err) != syscall.ENOENT {
			return cephErr("removing "+id+"@"+snap, err)
		}
	}
	closed = true
	if err := img.Close(); err != nil {
		return cephErr("closing image "+id, err)
	}
	if err := rbd.RemoveImage(cl.ioctx, id); err != nil {
		switch errno(err) {
		case syscall.ENOENT:
			return nil
		case syscall.EBUSY:
			return fmt.Errorf("%w: image %s is open by another client (watchers)", store.ErrInUse, id)
		}
		return cephErr("removing image "+id, err)
	}
	return nil
}

// Package checksum computes an image's checksums while its data streams
// through: the MD5 Glance shows as "checksum" and the os_hash_value of the
// configured hashing algorithm (sha512 by default), each in its own
// goroutine, so the two digests cost the time of the slower one rather than
// their sum, and neither waits for the consumer of the bytes.
//
// A Reader reads its source once, into a small ring of reused buffers; each
// buffer is handed to both hashers and to the consumer without being copied
// again (WriteTo) or with one copy into the caller's slice (Read). Memory is
// bounded by Slots*SlotSize whatever the size of the stream.
package checksum

import (
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"strings"
	"sync"
	"sync/atomic"
)

// Defaults of Config.
const (
	DefaultAlgo     = "sha512"
	DefaultSlotSize = 256 << 10
	DefaultSlots    = 8
)

// Errors.
var (
	// ErrIncomplete is returned by Sum before the source was read to its
	// end.
	ErrIncomplete = errors.New("checksum: stream not read to its end")
	// ErrClosed is what Read returns after Close stopped the reader early.
	ErrClosed = errors.New("checksum: reader closed")
	// ErrUnknownAlgo is a hashing algorithm this package does not know.
	ErrUnknownAlgo = errors.New("checksum: unknown hashing algorithm")
)

// NewHash returns a hash for one of Glance's usual hashing_algorithm values
// (Python hashlib names).
func NewHash(algo string) (hash.Hash, error) {
	switch strings.ToLower(algo) {
	case "md5":
		return md5.New(), nil
	case "sha1":
		return sha1.New(), nil
	case "sha224":
		return sha256.New224(), nil
	case "sha256":
		return sha256.New(), nil
	case "sha384":
		return sha512.New384(), nil
	case "sha512":
		return sha512.New(), nil
	}
	return nil, fmt.Errorf("%w: %q", ErrUnknownAlgo, algo)
}

// Sums are the digests of a whole stream.
type Sums struct {
	Size int64
	MD5  string // hex, Glance's "checksum"
	Algo string // Glance's "os_hash_algo"
	Hash string // hex, Glance's "os_hash_value"
}

// Config tunes a Reader. The zero value means the defaults.
type Config struct {
	Algo     string // hashing algorithm of Sums.Hash; default sha512
	SlotSize int    // bytes per ring buffer
	Slots    int    // number of ring buffers (at least 2)
}

type slot struct {
	buf  []byte
	n    int
	refs atomic.Int32
}

// Reader passes a source through while hashing it. Read and WriteTo are for
// one consumer goroutine; Close may be called from any goroutine.
type Reader struct {
	src    io.Reader
	algo   string
	hashes []hash.Hash

	free  chan *slot // empty slots
	ready chan *slot // filled slots for the consumer, closed by the producer
	work  []chan *slot
	done  chan struct{}
	once  sync.Once
	pwg   sync.WaitGroup // producer
	hwg   sync.WaitGroup // hashers

	// Written by the producer before it closes ready.
	srcErr error
	size   int64

	// Consumer state.
	cur  *slot
	off  int
	err  error
	sums Sums
	ok   bool
}

// NewReader starts reading src in the background, at most cfg.Slots buffers
// ahead of the consumer and of the slower hasher. Read it to io.EOF, then
// call Sum; call Close when done either way.
func NewReader(src io.Reader, cfg Config) (*Reader, error) {
	if cfg.Algo == "" {
		cfg.Algo = DefaultAlgo
	}
	if cfg.SlotSize <= 0 {
		cfg.SlotSize = DefaultSlotSize
	}
	if cfg.Slots < 2 {
		cfg.Slots = DefaultSlots
	}
	multi, err := NewHash(cfg.Algo)
	if err != nil {
		return nil, err
	}
	r := &Reader{
		src:    src,
		algo:   strings.ToLower(cfg.Algo),
		hashes: []hash.Hash{md5.New(), multi},
		free:   make(chan *slot, cfg.Slots),
		ready:  make(chan *slot, cfg.Slots),
		done:   make(chan struct{}),
	}
	for i := 0; i < cfg.Slots; i++ {
		r.free <- &slot{buf: make([]byte, cfg.SlotSize)}
	}
	for _, h := range r.hashes {
		w := make(chan *slot, cfg.Slots)
		r.work = append(r.work, w)
		r.hwg.Add(1)
		go r.hash(h, w)
	}
	r.pwg.Add(1)
	go r.produce()
	return r, nil
}

func (r *Reader) release(s *slot) {
	if s.refs.Add(-1) == 0 {
		r.free <- s // never blocks: free holds every slot at most once
	}
}

func (r *Reader) produce() {
	defer r.pwg.Done()
	defer func() {
		close(r.ready)
		for _, w := range r.work {
			close(w)
		}
	}()
	for {
		var s *slot
		select {
		case s = <-r.free:
		case <-r.done:
			r.srcErr = ErrClosed
			return
		}
		n, err := fill(r.src, s.buf)
		if n > 0 {
			s.n = n
			s.refs.Store(int32(len(r.work) + 1))
			r.size += int64(n)
			for _, w := range r.work {
				w <- s
			}
			r.ready <- s
		} else {
			r.free <- s
		}
		if err != nil {
			r.srcErr = err
			return
		}
		select {
		case <-r.done:
			r.srcErr = ErrClosed
			return
		default:
		}
	}
}

// fill reads into buf until it is full or src fails or ends.
func fill(src io.Reader, buf []byte) (int, error) {
	n, empty := 0, 0
	for n < len(buf) {
		m, err := src.Read(buf[n:])
		n += m
		if err != nil {
			return n, err
		}
		if m == 0 {
			if empty++; empty >= 100 {
				return n, io.ErrNoProgress
			}
		}
	}
	return n, nil
}

func (r *Reader) hash(h hash.Hash, w chan *slot) {
	defer r.hwg.Done()
	for s := range w {
		select {
		case <-r.done:
		default:
			h.Write(s.buf[:s.n])
		}
		r.release(s)
	}
}

// next makes the next filled slot current, or ends the stream.
func (r *Reader) next() error {
	s, ok := <-r.ready
	if !ok {
		return r.finish()
	}
	r.cur, r.off = s, 0
	return nil
}

// finish runs once the producer is gone: on a clean end it waits for the
// hashers and records the sums.
func (r *Reader) finish() error {
	if r.srcErr != io.EOF {
		return r.srcErr
	}
	r.hwg.Wait()
	select {
	case <-r.done:
		return ErrClosed
	default:
	}
	r.sums = Sums{
		Size: r.size,
		MD5:  hex.EncodeToString(r.hashes[0].Sum(nil)),
		Algo: r.algo,
		Hash: hex.EncodeToString(r.hashes[1].Sum(nil)),
	}
	r.ok = true
	return io.EOF
}

// Read copies the next bytes of the source into p. It returns io.EOF only
// once the source ended cleanly and both digests are complete; any error of
// the source is returned as is.
func (r *Reader) Read(p []byte) (int, error) {
	if r.err != nil {
		return 0, r.err
	}
	if len(p) == 0 {
		return 0, nil
	}
	if r.cur == nil {
		if err := r.next(); err != nil {
			r.err = err
			return 0, err
		}
	}
	n := copy(p, r.cur.buf[r.off:r.cur.n])
	r.off += n
	if r.off == r.cur.n {
		r.release(r.cur)
		r.cur = nil
	}
	return n, nil
}

// WriteTo writes the rest of the stream to w straight from the ring
// buffers. It returns a nil error at a clean end of the source.
func (r *Reader) WriteTo(w io.Writer) (int64, error) {
	var total int64
	for {
		if r.err != nil {
			if r.err == io.EOF {
				return total, nil
			}
			return total, r.err
		}
		if r.cur == nil {
			if err := r.next(); err != nil {
				r.err = err
				continue
			}
		}
		n, err := w.Write(r.cur.buf[r.off:r.cur.n])
		total += int64(n)
		r.off += n
		if r.off == r.cur.n {
			r.release(r.cur)
			r.cur = nil
		}
		if err != nil {
			return total, err
		}
		if n == 0 {
			return total, io.ErrShortWrite
		}
	}
}

// Sum returns the digests once Read or WriteTo reached the clean end of the
// source, else ErrIncomplete.
func (r *Reader) Sum() (Sums, error) {
	if !r.ok {
		return Sums{}, ErrIncomplete
	}
	return r.sums, nil
}

// Close stops the background goroutines and waits for them. A Read of the
// source in progress is waited for: to abort promptly, make it return (for
// an HTTP request body, set a read deadline). Close is idempotent.
func (r *Reader) Close() error {
	r.once.Do(func() { close(r.done) })
	r.pwg.Wait()
	r.hwg.Wait()
	return nil
}

package storetest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"io"

	"github.com/glance-go/glance/sdk/store"
)

// pattern is a deterministic pseudo-random byte stream that can be generated
// from any offset: byte o is byte o%8 (little-endian) of splitmix64 applied
// to the word index o/8. Reads at any offset, of any range, can so be checked
// without keeping the object around, and it runs at several GB/s.
type pattern struct {
	seed uint64
	// sparse zeroes two 64 KiB blocks in every three, so stores that punch
	// holes or skip zero chunks are checked too.
	sparse bool
}

const sparseBlock = 64 << 10

func (p pattern) word(i uint64) uint64 {
	z := p.seed + (i+1)*0x9e3779b97f4a7c15
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// fill writes the bytes of the stream at [off, off+len(b)) into b.
func (p pattern) fill(b []byte, off int64) {
	o, rest := off, b
	for len(rest) > 0 && o%8 != 0 {
		rest[0] = byte(p.word(uint64(o/8)) >> (8 * (o % 8)))
		rest, o = rest[1:], o+1
	}
	w := uint64(o / 8)
	for len(rest) >= 8 {
		binary.LittleEndian.PutUint64(rest, p.word(w))
		rest, w = rest[8:], w+1
	}
	if len(rest) > 0 {
		v := p.word(w)
		for i := range rest {
			rest[i] = byte(v >> (8 * i))
		}
	}
	if p.sparse {
		for i := int64(0); i < int64(len(b)); {
			blk := (off + i) / sparseBlock
			end := min((blk+1)*sparseBlock-off, int64(len(b)))
			if blk%3 != 0 {
				clear(b[i:end])
			}
			i = end
		}
	}
}

// patternReader yields the stream from off to end, at most maxRead bytes a
// Read, the way a network body does.
type patternReader struct {
	p       pattern
	off     int64
	end     int64
	maxRead int
}

func newPatternReader(p pattern, size int64, maxRead int) *patternReader {
	return &patternReader{p: p, end: size, maxRead: maxRead}
}

func (r *patternReader) Read(b []byte) (int, error) {
	if r.off >= r.end {
		return 0, io.EOF
	}
	n := int64(len(b))
	if r.maxRead > 0 && n > int64(r.maxRead) {
		n = int64(r.maxRead)
	}
	n = min(n, r.end-r.off)
	r.p.fill(b[:n], r.off)
	r.off += n
	return int(n), nil
}

// failingBody yields r until n bytes went by, then err instead of more data
// or io.EOF: the way the host's body reports an upload that was given up
// (store.ErrAborted) or whose trailer did not verify (store.ErrChecksumMismatch).
type failingBody struct {
	r   io.Reader
	n   int64
	err error
}

func (f *failingBody) Read(b []byte) (int, error) {
	if f.n <= 0 {
		return 0, f.err
	}
	if int64(len(b)) > f.n {
		b = b[:f.n]
	}
	k, err := f.r.Read(b)
	f.n -= int64(k)
	if err == io.EOF {
		err = f.err
	}
	return k, err
}

// cancellingBody cancels the Put's context once n bytes went by and then
// goes on yielding data as if nothing happened, so only a store that watches
// its context notices.
type cancellingBody struct {
	r      io.Reader
	n      int64
	cancel context.CancelFunc
}

func (c *cancellingBody) Read(b []byte) (int, error) {
	k, err := c.r.Read(b)
	c.n -= int64(k)
	if c.n <= 0 {
		c.cancel()
	}
	return k, err
}

// stallingBody yields r until n bytes went by, then blocks until ctx is done
// (or release is closed) and fails the way a network body whose peer went
// silent does once the call's deadline passed.
type stallingBody struct {
	r       io.Reader
	n       int64
	ctx     context.Context
	release <-chan struct{}
}

func (s *stallingBody) Read(b []byte) (int, error) {
	if s.n > 0 {
		if int64(len(b)) > s.n {
			b = b[:s.n]
		}
		k, err := s.r.Read(b)
		s.n -= int64(k)
		return k, err
	}
	select {
	case <-s.ctx.Done():
		return 0, fmt.Errorf("%w: %w", store.ErrAborted, s.ctx.Err())
	case <-s.release:
		return 0, store.ErrAborted
	}
}

// verify reads r to its end and checks that it yields exactly the n bytes
// of p starting at off. The error names the first differing offset.
func verify(r io.Reader, p pattern, off, n int64) error {
	const bufSize = 1 << 20
	got := make([]byte, bufSize)
	want := make([]byte, bufSize)
	var pos int64
	idle := 0
	for {
		k, err := r.Read(got)
		if k > 0 {
			idle = 0
			if pos+int64(k) > n {
				return fmt.Errorf("read yields more than the %d bytes expected (at least %d)", n, pos+int64(k))
			}
			p.fill(want[:k], off+pos)
			if !bytes.Equal(got[:k], want[:k]) {
				i := 0
				for got[i] == want[i] {
					i++
				}
				return fmt.Errorf("byte %d of the read (object offset %d) is %#02x, want %#02x",
					pos+int64(i), off+pos+int64(i), got[i], want[i])
			}
			pos += int64(k)
		} else if err == nil {
			if idle++; idle > 100 {
				return fmt.Errorf("after %d bytes: %w", pos, io.ErrNoProgress)
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("read failed after %d of %d bytes: %w", pos, n, err)
		}
	}
	if pos != n {
		return fmt.Errorf("read yields %d bytes, want %d", pos, n)
	}
	return nil
}

// newImageID returns a random version 4 UUID, the shape of Glance image ids.
func newImageID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand docs)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

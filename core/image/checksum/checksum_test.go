package checksum

import (
	"bytes"
	"crypto/md5"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"math/rand/v2"
	"runtime"
	"testing"
	"time"
)

func randomBytes(n int, seed uint64) []byte {
	b := make([]byte, n)
	rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8)}).Read(b)
	return b
}

// chunkyReader returns at most max bytes per Read, to exercise partial
// fills.
type chunkyReader struct {
	r   io.Reader
	max int
}

func (c *chunkyReader) Read(p []byte) (int, error) {
	if len(p) > c.max {
		p = p[:c.max]
	}
	return c.r.Read(p)
}

func hexSum(h hash.Hash, b []byte) string {
	h.Write(b)
	return hex.EncodeToString(h.Sum(nil))
}

func TestSums(t *testing.T) {
	const slot = 1024
	for _, size := range []int{0, 1, slot - 1, slot, slot + 1, 3*slot + 7, 40 * slot, 1<<20 + 3} {
		data := randomBytes(size, uint64(size))
		for _, mode := range []string{"read", "writeto"} {
			t.Run(fmt.Sprintf("%d/%s", size, mode), func(t *testing.T) {
				r, err := NewReader(&chunkyReader{bytes.NewReader(data), 333}, Config{SlotSize: slot, Slots: 3})
				if err != nil {
					t.Fatal(err)
				}
				defer r.Close()
				var out bytes.Buffer
				if mode == "read" {
					buf := make([]byte, 700) // not a multiple of the slot size
					for {
						n, err := r.Read(buf)
						out.Write(buf[:n])
						if err == io.EOF {
							break
						}
						if err != nil {
							t.Fatal(err)
						}
					}
				} else if _, err := io.Copy(&out, r); err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(out.Bytes(), data) {
					t.Fatalf("passed through %d bytes, not the %d given", out.Len(), len(data))
				}
				s, err := r.Sum()
				if err != nil {
					t.Fatal(err)
				}
				want := Sums{Size: int64(size), MD5: hexSum(md5.New(), data), Algo: "sha512", Hash: hexSum(sha512.New(), data)}
				if s != want {
					t.Fatalf("sums %+v, want %+v", s, want)
				}
			})
		}
	}
}

func TestAlgo(t *testing.T) {
	data := randomBytes(5000, 9)
	r, err := NewReader(bytes.NewReader(data), Config{Algo: "sha256", SlotSize: 512})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if _, err := io.Copy(io.Discard, r); err != nil {
		t.Fatal(err)
	}
	s, _ := r.Sum()
	if s.Algo != "sha256" || s.Hash != hexSum(sha256.New(), data) {
		t.Fatalf("got %+v", s)
	}
	if _, err := NewReader(bytes.NewReader(nil), Config{Algo: "crc99"}); !errors.Is(err, ErrUnknownAlgo) {
		t.Fatalf("unknown algo: %v", err)
	}
}

type failingReader struct {
	data []byte
	err  error
}

func (f *failingReader) Read(p []byte) (int, error) {
	if len(f.data) == 0 {
		return 0, f.err
	}
	n := copy(p, f.data)
	f.data = f.data[n:]
	return n, nil
}

func TestSourceErrorIsNotEOF(t *testing.T) {
	boom := errors.New("client went away")
	r, err := NewReader(&failingReader{data: randomBytes(10000, 1), err: boom}, Config{SlotSize: 1024, Slots: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	n, err := io.Copy(io.Discard, r)
	if !errors.Is(err, boom) {
		t.Fatalf("copy: %d, %v; want the source error", n, err)
	}
	if _, err := r.Sum(); !errors.Is(err, ErrIncomplete) {
		t.Fatalf("Sum after a failed source: %v", err)
	}
	if _, err := r.Read(make([]byte, 10)); !errors.Is(err, boom) {
		t.Fatalf("Read keeps failing: %v", err)
	}
}

// blockingReader yields data forever until closed.
type endlessReader struct{}

func (endlessReader) Read(p []byte) (int, error) { return len(p), nil }

func TestCloseEarlyStopsGoroutines(t *testing.T) {
	before := runtime.NumGoroutine()
	for i := 0; i < 20; i++ {
		r, err := NewReader(endlessReader{}, Config{SlotSize: 4096, Slots: 4})
		if err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 10000)
		if _, err := io.ReadFull(r, buf); err != nil {
			t.Fatal(err)
		}
		r.Close()
		if _, err := r.Read(buf); err == nil {
			// Buffered data may still be served; then the reader must end.
			if _, err := io.Copy(io.Discard, r); !errors.Is(err, ErrClosed) {
				t.Fatalf("after Close: %v", err)
			}
		}
		if _, err := r.Sum(); !errors.Is(err, ErrIncomplete) {
			t.Fatalf("Sum after Close: %v", err)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		t.Fatalf("%d goroutines left running (before: %d)", n, before)
	}
}

// repeatReader yields n bytes copied from a fixed random block, as a network
// body would (one copy per byte into the caller's buffer).
type repeatReader struct {
	block []byte
	left  int64
	off   int
}

func (r *repeatReader) Read(p []byte) (int, error) {
	if r.left <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > r.left {
		p = p[:r.left]
	}
	total := 0
	for len(p) > 0 {
		n := copy(p, r.block[r.off:])
		r.off = (r.off + n) % len(r.block)
		p = p[n:]
		total += n
	}
	r.left -= int64(total)
	return total, nil
}

const benchSize = 1 << 30

// BenchmarkHash1GiB compares md5+sha512 of 1 GiB computed serially through
// an io.MultiWriter with the parallel Reader (consumer copies with io.Copy,
// and with Read into a 1 MiB buffer as a store plugin client does).
func BenchmarkHash1GiB(b *testing.B) {
	block := randomBytes(1<<20, 42)
	for _, algo := range []string{"md5", "sha512"} {
		b.Run(algo+"-only", func(b *testing.B) {
			b.SetBytes(benchSize)
			buf := make([]byte, 1<<20)
			for i := 0; i < b.N; i++ {
				h, _ := NewHash(algo)
				if _, err := io.CopyBuffer(h, &repeatReader{block: block, left: benchSize}, buf); err != nil {
					b.Fatal(err)
				}
				h.Sum(nil)
			}
		})
	}
	b.Run("serial-multiwriter", func(b *testing.B) {
		b.SetBytes(benchSize)
		for i := 0; i < b.N; i++ {
			m, s := md5.New(), sha512.New()
			buf := make([]byte, 1<<20)
			if _, err := io.CopyBuffer(io.MultiWriter(m, s), &repeatReader{block: block, left: benchSize}, buf); err != nil {
				b.Fatal(err)
			}
			m.Sum(nil)
			s.Sum(nil)
		}
	})
	b.Run("parallel-writeto", func(b *testing.B) {
		b.SetBytes(benchSize)
		for i := 0; i < b.N; i++ {
			r, err := NewReader(&repeatReader{block: block, left: benchSize}, Config{})
			if err != nil {
				b.Fatal(err)
			}
			if _, err := io.Copy(io.Discard, r); err != nil {
				b.Fatal(err)
			}
			if _, err := r.Sum(); err != nil {
				b.Fatal(err)
			}
			r.Close()
		}
	})
	b.Run("parallel-read1MiB", func(b *testing.B) {
		b.SetBytes(benchSize)
		buf := make([]byte, 1<<20)
		for i := 0; i < b.N; i++ {
			r, err := NewReader(&repeatReader{block: block, left: benchSize}, Config{})
			if err != nil {
				b.Fatal(err)
			}
			for {
				_, err := io.ReadFull(r, buf)
				if err == io.EOF || err == io.ErrUnexpectedEOF {
					break
				}
				if err != nil {
					b.Fatal(err)
				}
			}
			if _, err := r.Sum(); err != nil {
				b.Fatal(err)
			}
			r.Close()
		}
	})
}

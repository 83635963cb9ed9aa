package rbd

import (
	"io"
	"sync"

	"github.com/ceph/go-ceph/rbd"
)

// reader reads [pos, end) of an open image in blocks of one object,
// readDepth of them ahead, and returns them in order.
type reader struct {
	img   *rbd.Image
	block int64

	queue chan chan block // the pending blocks, in order
	stop  chan struct{}
	wg    sync.WaitGroup // the read-ahead goroutines
	once  sync.Once

	cur  []byte // what is left of the current block
	buf  []byte // the current block's buffer, to recycle
	pool sync.Pool
	err  error
}

type block struct {
	buf []byte
	n   int
	err error
}

func newReader(img *rbd.Image, pos, end int64, chunk int) *reader {
	r := &reader{img: img, block: int64(chunk), queue: make(chan chan block, readDepth), stop: make(chan struct{})}
	r.pool.New = func() any { return make([]byte, chunk) }
	r.wg.Add(1)
	go r.dispatch(pos, end)
	return r
}

// dispatch starts one read per block, at most readDepth ahead of the
// consumer (the queue's capacity), and closes the queue at the end.
func (r *reader) dispatch(pos, end int64) {
	defer r.wg.Done()
	defer close(r.queue)
	for pos < end {
		// Align reads on object boundaries after the first.
		n := min(r.block-pos%r.block, end-pos)
		ch := make(chan block, 1)
		select {
		case r.queue <- ch:
		case <-r.stop:
			return
		}
		r.wg.Add(1)
		go func(off, n int64) {
			defer r.wg.Done()
			b := r.pool.Get().([]byte)
			k, err := r.img.ReadAt(b[:n], off)
			if err == nil && int64(k) < n {
				err = io.ErrUnexpectedEOF
			}
			ch <- block{buf: b, n: k, err: err}
		}(pos, n)
		pos += n
	}
}

func (r *reader) Read(p []byte) (int, error) {
	for len(r.cur) == 0 {
		if r.err != nil {
			return 0, r.err
		}
		if r.buf != nil {
			r.pool.Put(r.buf) //nolint:staticcheck // a []byte header is small
			r.buf = nil
		}
		ch, ok := <-r.queue
		if !ok {
			r.err = io.EOF
			continue
		}
		b := <-ch
		r.buf = b.buf
		r.cur = b.buf[:b.n]
		if b.err != nil {
			r.err = cephErr("reading", b.err)
		}
	}
	n := copy(p, r.cur)
	r.cur = r.cur[n:]
	return n, nil
}

// Close stops the read-ahead, waits for the reads in flight and closes
// the image.
func (r *reader) Close() error {
	var err error
	r.once.Do(func() {
		close(r.stop)
		// Drain so dispatch is not blocked; in-flight reads finish.
		go func() {
			for range r.queue {
			}
		}()
		r.wg.Wait()
		err = r.img.Close()
	})
	return err
}

package storeplugin

import (
	"context"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"

	"github.com/glance-go/glance/sdk/internal/gen/storev1"
	"github.com/glance-go/glance/sdk/store"
)

// castagnoli is the CRC32C table. The checksum in a Put trailer is the
// CRC32C of every chunk, 4 bytes big-endian.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func crcBytes(sum uint32) []byte { return binary.BigEndian.AppendUint32(nil, sum) }

// putBody is the io.Reader a Backend's Put reads on the plugin side. It
// hands out the chunks as they arrive, counts them and computes their
// CRC32C, and returns io.EOF only after the trailer arrived, matched, and
// nothing followed it. Any other ending is an error the store must treat as
// an abort.
type putBody struct {
	stream storev1.StoreService_PutServer
	ctx    context.Context
	max    int   // negotiated chunk size
	expect int64 // size announced in the header, or store.UnknownSize

	cur []byte // rest of the current chunk
	n   int64
	crc uint32
	err error // sticky: io.EOF once verified, else why the body failed
}

func (b *putBody) Read(p []byte) (int, error) {
	for len(b.cur) == 0 {
		if b.err != nil {
			return 0, b.err
		}
		b.next()
	}
	n := copy(p, b.cur)
	b.cur = b.cur[n:]
	return n, nil
}

// WriteTo lets io.Copy write the received chunks straight to the store's
// destination, without the copy Read makes.
func (b *putBody) WriteTo(w io.Writer) (int64, error) {
	var total int64
	for {
		if len(b.cur) > 0 {
			n, err := w.Write(b.cur)
			total += int64(n)
			b.cur = b.cur[n:]
			if err != nil {
				return total, err
			}
			if len(b.cur) > 0 {
				return total, io.ErrShortWrite
			}
			continue
		}
		if b.err == io.EOF {
			return total, nil
		}
		if b.err != nil {
			return total, b.err
		}
		b.next()
	}
}

// verified reports whether the whole body was read and checked. It reads
// the end of the stream if the store stopped just before it.
func (b *putBody) verified() bool {
	if b.err == nil && len(b.cur) == 0 {
		b.next()
	}
	return b.err == io.EOF && len(b.cur) == 0
}

// next receives one message and sets cur or err.
func (b *putBody) next() {
	m, err := b.stream.Recv()
	if err != nil {
		b.err = b.recvErr(err)
		return
	}
	switch x := m.GetMsg().(type) {
	case *storev1.PutRequest_Chunk:
		if len(x.Chunk) > b.max {
			b.err = fmt.Errorf("%w: a chunk of %d bytes exceeds the negotiated %d", store.ErrInvalidArgument, len(x.Chunk), b.max)
			return
		}
		b.n += int64(len(x.Chunk))
		if b.expect >= 0 && b.n > b.expect {
			b.err = fmt.Errorf("%w: received more than the %d bytes announced", store.ErrSizeMismatch, b.expect)
			return
		}
		b.crc = crc32.Update(b.crc, castagnoli, x.Chunk)
		b.cur = x.Chunk
	case *storev1.PutRequest_Trailer:
		b.err = b.finish(x.Trailer)
	case *storev1.PutRequest_Header:
		b.err = fmt.Errorf("%w: a second header in a put stream", store.ErrInvalidArgument)
	default:
		b.err = fmt.Errorf("%w: an empty message in a put stream", store.ErrInvalidArgument)
	}
}

// finish checks the trailer and that the stream ends right after it.
func (b *putBody) finish(t *storev1.PutTrailer) error {
	if t.GetSizeBytes() != b.n {
		return fmt.Errorf("%w: received %d bytes, the trailer says %d", store.ErrSizeMismatch, b.n, t.GetSizeBytes())
	}
	if b.expect >= 0 && b.n != b.expect {
		return fmt.Errorf("%w: received %d bytes, the header announced %d", store.ErrSizeMismatch, b.n, b.expect)
	}
	cs := t.GetChecksum()
	if cs.GetAlgorithm() != storev1.ChecksumAlgorithm_CHECKSUM_ALGORITHM_CRC32C || len(cs.GetValue()) != 4 {
		return fmt.Errorf("%w: the put trailer needs a 4-byte CRC32C checksum", store.ErrInvalidArgument)
	}
	if got := binary.BigEndian.Uint32(cs.GetValue()); got != b.crc {
		return fmt.Errorf("%w: CRC32C of the received data is %08x, the trailer says %08x", store.ErrChecksumMismatch, b.crc, got)
	}
	_, err := b.stream.Recv()
	switch {
	case err == io.EOF:
		return io.EOF
	case err != nil:
		return b.recvErr(err)
	default:
		return fmt.Errorf("%w: data after the trailer of a put stream", store.ErrInvalidArgument)
	}
}

func (b *putBody) recvErr(err error) error {
	if err == io.EOF {
		return fmt.Errorf("%w: the stream ended without its trailer", store.ErrAborted)
	}
	if cerr := b.ctx.Err(); cerr != nil {
		return fmt.Errorf("%w: %w", store.ErrAborted, cerr)
	}
	return fmt.Errorf("%w: receiving: %v", store.ErrAborted, err)
}

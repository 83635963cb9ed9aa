//go:build linux || darwin

package filesystem

import (
	"bytes"
	"os"
	"syscall"
	"testing"
)

// allocated returns the bytes the filesystem allocated to the file at p.
func allocated(t *testing.T, p string) int64 {
	t.Helper()
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Sys().(*syscall.Stat_t).Blocks * 512
}

func TestThinProvisioningMakesHoles(t *testing.T) {
	const size = 8 << 20
	data := make([]byte, size) // zeros, but for 4 KiB in the middle and the last byte
	copy(data[3<<20:], bytes.Repeat([]byte{0xab}, 4096))
	data[size-1] = 1
	tail := make([]byte, size) // zeros but the first byte: the file ends in a hole
	tail[0] = 1

	for _, tc := range []struct {
		name string
		data []byte
	}{{"data_in_middle", data}, {"hole_at_end", tail}} {
		t.Run(tc.name, func(t *testing.T) {
			s, _ := newStore(t, map[string]any{"thin_provisioning": true})
			res := put(t, s, "img", tc.data)
			p, err := s.LocalFile(t.Context(), res.Location)
			if err != nil {
				t.Fatal(err)
			}
			if a := allocated(t, p); a >= 1<<20 {
				t.Errorf("a mostly-zero %d-byte image takes %d bytes on disk, want holes", size, a)
			}
			if oi, err := s.Stat(t.Context(), res.Location); err != nil || oi.Size != size {
				t.Errorf("Stat = %+v, %v; want size %d", oi, err, size)
			}
			if got := readAll(t, s, res.Location); !bytes.Equal(got, tc.data) {
				t.Error("the image reads back different")
			}
		})
	}

	// Without thin provisioning the zeros are written out.
	s, _ := newStore(t, nil)
	res := put(t, s, "img", data)
	p, _ := s.LocalFile(t.Context(), res.Location)
	if a := allocated(t, p); a < size {
		t.Logf("note: a dense write took only %d bytes on disk (the filesystem compresses or dedupes)", a)
	}
}

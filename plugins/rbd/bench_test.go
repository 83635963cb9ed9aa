package rbd

import (
	"io"
	"os"
	"testing"
	"time"

	"github.com/glance-go/glance/sdk/store"
)

// TestThroughput prints in-process Put and Get rates of RBD_BENCH_MB MiB
// (no gRPC, no HTTP): the plugin's own ceiling. Runs only with RBD_BENCH_MB.
func TestThroughput(t *testing.T) {
	mb := os.Getenv("RBD_BENCH_MB")
	if mb == "" {
		t.Skip("RBD_BENCH_MB is not set")
	}
	tc := needCluster(t)
	s := newStore(t, tc, nil)
	var size int64
	for _, c := range mb {
		size = size*10 + int64(c-'0')
	}
	size <<= 20
	const id = "bench0000-0000-4000-8000-000000000000"
	t0 := time.Now()
	res, err := s.Put(t.Context(), store.PutRequest{ImageID: id, Size: size}, io.LimitReader(&counting{}, size))
	if err != nil {
		t.Fatal(err)
	}
	up := time.Since(t0)
	defer s.Delete(t.Context(), res.Location)
	t0 = time.Now()
	rc, _, err := s.Get(t.Context(), res.Location, store.Whole)
	if err != nil {
		t.Fatal(err)
	}
	n, err := io.CopyBuffer(io.Discard, rc, make([]byte, 1<<20))
	rc.Close()
	down := time.Since(t0)
	if err != nil || n != size {
		t.Fatalf("read %d bytes, %v", n, err)
	}
	t.Logf("Put %.0f MB/s (%v), Get %.0f MB/s (%v)", float64(size)/up.Seconds()/1e6, up.Round(time.Millisecond), float64(size)/down.Seconds()/1e6, down.Round(time.Millisecond))
}

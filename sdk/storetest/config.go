package storetest

import (
	"io"
	"testing"
	"time"

	"github.com/glance-go/glance/sdk/store"
)

// Config tells the suite how to make the store under test.
type Config struct {
	// Setup prepares a fresh, empty backing store (a directory, a bucket)
	// for one suite run. It returns the store's config {} block as JSON and
	// a function that lists everything physically left in the backing store
	// (files, objects, temporary data). The suite fails when that list is not
	// empty once every object it made was deleted.
	Setup func(t testing.TB) (configJSON []byte, leftovers func() ([]string, error))

	// New returns an unconfigured Backend; used by Run and RunGRPC.
	New func() store.Backend

	// ChunkSize is the chunk size whose edges are tested; 0 means
	// store.DefaultChunkSize.
	ChunkSize int

	// SkipRange skips the range cases for stores without ReadRange.
	SkipRange bool

	// MaxSize caps the largest round trip, for backing stores with a small
	// test quota. 0 means 1 GiB, or 64 MiB with -short.
	MaxSize int64

	// Preload is for read-only stores, which lack the write capability (an
	// HTTP store reads what an operator put elsewhere). It places the size
	// bytes of data in the backing store, under a name that contains id, as
	// an operator would, and returns the location the store reads them at.
	// With it, the suite runs its read cases (round trips, ranges, not
	// found) on preloaded objects, and checks that Put, and Delete when the
	// store cannot delete, are refused with store.ErrUnsupported. Stores
	// that write leave it nil; it is not used when the store can write.
	Preload func(t testing.TB, id string, size int64, data io.Reader) (location string)

	// NoLocalPut makes the client of RunGRPC and RunBinary stream every Put
	// over gRPC even when the store offers the LocalPut fast path, so that
	// a store that offers it can be tested both ways.
	NoLocalPut bool

	// KillNotSwept, when set, says why a store cannot remove at its next
	// Configure what a writer killed mid-upload left (a backend shared by
	// several hosts cannot tell a dead writer's temporary data from a live
	// one's at once: Ceph keeps a killed client's watch for 30 s). The
	// KilledMidPut case is then skipped with this reason, and the store
	// must prove its own, later sweep.
	KillNotSwept string

	// SettleTimeout is how long the suite waits for cleanup to become
	// visible through the leftovers lister and Stat: a plugin process may
	// still be removing temporary data when the host's call has returned,
	// and some object stores list eventually. 0 means 5 seconds.
	SettleTimeout time.Duration
}

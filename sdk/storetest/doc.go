// Package storetest is the conformance suite every glance-go store must
// pass.
//
// A store's test calls Run with a Config whose Setup makes a fresh, empty
// backing store and whose New makes the Backend:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, storetest.Config{
//			Setup: func(t testing.TB) ([]byte, func() ([]string, error)) {
//				dir := t.TempDir()
//				return []byte(`{"data_dir":"` + dir + `"}`), func() ([]string, error) { return listFiles(dir) }
//			},
//			New: func() store.Backend { return mystore.New(hclog.NewNullLogger()) },
//		})
//	}
//
// The same cases run through the gRPC adapters (RunGRPC) and against a
// built plugin binary (RunBinary). They cover the Backend contract as its
// doc comments state it: round trips at chunk edges and large sizes, range
// edges, duplicate image ids, aborted uploads (body error, bad checksum,
// wrong size, cancelled context, deadline) leaving nothing behind, the
// LocalPut fast path (store.LocalWriter in process; through Client.Put over
// gRPC, unless Config.NoLocalPut), a plugin binary killed with SIGKILL in the
// middle of an upload and swept by the next process, idempotent
// Delete, NotFound and invalid locations, concurrent use, hostile image ids,
// and a final check through the Setup's leftovers lister that the backing
// store is empty again once the suite deleted everything it made.
//
// Test data is a position-addressable pseudo-random stream, generated and
// compared on the fly, so a 1 GiB round trip never holds more than a few
// MiB in memory and a mismatch reports its exact offset.
package storetest

// Package storeplugin carries a store.Backend across a process boundary:
// Serve runs a store as a hashicorp/go-plugin gRPC plugin, and NewClient
// starts such a plugin from the host and returns a *Client that is itself a
// store.Backend.
//
// A plugin's main is one line:
//
//	func main() { storeplugin.Serve(storeplugin.ServeConfig{New: mystore.New}) }
//
// Serve sets explicit 16 MiB gRPC message limits, recovers panics per call,
// logs hclog JSON to stderr (level from GLANCE_PLUGIN_LOG_LEVEL), exits
// when its host dies, and answers `<binary> describe` with the store's Info
// as JSON. Nothing may be printed to stdout: it carries the handshake.
//
// Image data moves in chunks of the size negotiated by Configure. A Put is
// a header, chunks, then a trailer with the size and CRC32C; the store's
// body reader returns io.EOF only once the trailer checked out, and any
// other ending is an abort (store.ErrAborted, ErrSizeMismatch,
// ErrChecksumMismatch). Errors cross as gRPC codes plus an ErrorInfo and
// come back as the same store.Err… sentinels with the same message.
//
// Files: serve.go (plugin main), describe.go, watchdog.go, grpc.go (server
// options, go-plugin glue), server.go and body.go (plugin-side adapter),
// client.go and client_store.go (host side), inprocess.go (the same over an
// in-process connection), errors.go (the error table), convert.go.
package storeplugin

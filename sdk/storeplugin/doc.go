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
// ErrChecksumMismatch).
//
// Stores whose files are on the host's own disk may offer two fast paths:
// LocalFile (store.LocalFiler: the host reads the object's file itself)
// and LocalPut (store.LocalWriter: Client.Put asks the plugin for an empty
// temporary file, writes the body into it itself, and has the plugin
// commit it). LocalPut keeps the bytes off the gRPC connection, whose
// encryption, copies and CRC32C on both sides cost as much CPU as Glance's
// md5 and sha512; the plugin still owns the file's name, lock, size check,
// fsync and link. The host opts out with ClientConfig.DisableLocalPut.
//
// Errors cross as gRPC codes plus an ErrorInfo and
// come back as the same store.Err… sentinels with the same message.
//
// Files: serve.go (plugin main), describe.go, watchdog.go, grpc.go (server
// options, go-plugin glue), server.go and body.go (plugin-side adapter),
// client.go, client_store.go and localput*.go (host side), inprocess.go (the same over an
// in-process connection), errors.go (the error table), convert.go.
package storeplugin

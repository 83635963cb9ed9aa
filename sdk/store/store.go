package store

import (
	"context"
	"io"
)

// Backend is implemented by every store. Methods may be called concurrently
// when the store reports Capabilities.ConcurrentSafe; otherwise the host
// serialises calls.
type Backend interface {
	// Info describes the store. It is static and needs no configuration.
	Info() Info

	// Configure applies the decoded config.hcl block. It is called once,
	// before any data call, and returns the effective capabilities.
	Configure(ctx context.Context, cfg Config) (Capabilities, error)

	// Probe reports readiness: nil when ready, ErrNotReady while starting,
	// any other error when unhealthy (with a reason an operator can act on).
	Probe(ctx context.Context) error

	// Put stores body under req.ImageID. body yields io.EOF only once the
	// whole object has arrived and was verified; any other error from body
	// means abort. Nothing may be visible at the returned location, nor take
	// space in the store, unless Put returns nil. An existing object for the
	// same image id gives ErrAlreadyExists and stays intact. When req.Size is
	// known, a body of another length gives ErrSizeMismatch.
	Put(ctx context.Context, req PutRequest, body io.Reader) (PutResult, error)

	// Get opens the object at location for reading the range r. An offset
	// equal to the size gives an empty reader; beyond it, ErrOutOfRange.
	// The returned ObjectInfo.Size is the size of the whole object.
	Get(ctx context.Context, location string, r Range) (io.ReadCloser, ObjectInfo, error)

	// Stat reports the object's size, or ErrNotFound.
	Stat(ctx context.Context, location string) (ObjectInfo, error)

	// Delete removes the object. Deleting what is already gone is not an
	// error.
	Delete(ctx context.Context, location string) error
}

// ConfigValidator is an optional interface: a Backend that implements it can
// check a configuration without applying it (glance-api validate).
type ConfigValidator interface {
	ValidateConfig(ctx context.Context, cfg Config) Diagnostics
}

// Shutdowner is an optional interface: Shutdown is called once, after the
// host has drained every in-flight call, before the plugin process ends.
type Shutdowner interface {
	Shutdown(ctx context.Context) error
}

// LocalFiler is an optional interface for stores whose objects are plain
// files on the host's own disk. The host may then read the file itself
// (sendfile) instead of streaming it over gRPC. The path must be absolute
// and the object must be complete and immutable.
type LocalFiler interface {
	LocalFile(ctx context.Context, location string) (path string, err error)
}

// LocalWriter is an optional interface for stores whose objects are plain
// files on the host's own disk: the mirror of LocalFiler for writes. Over
// gRPC, the host then writes an upload straight into a temporary file the
// store prepared, instead of streaming it to the plugin process, which
// would copy, checksum and write every byte a second time. The store keeps
// every guarantee of Put: it owns the temporary file (its name, lock and
// crash sweep), checks the size, and makes the object durable and visible
// only in Commit.
type LocalWriter interface {
	// BeginLocalPut checks req as Put would (image id, duplicate, free
	// space for req.Size when known) and creates an empty temporary file
	// for the object. Errors are Put's: ErrAlreadyExists, ErrStorageFull,
	// ErrInvalidArgument, and ErrUnsupported when the store cannot take
	// this upload locally (the host then streams it with Put).
	BeginLocalPut(ctx context.Context, req PutRequest) (LocalPut, error)
}

// LocalPut is one upload in progress through a local file. Exactly one of
// Commit and Abort is called, once.
type LocalPut interface {
	// Path is the absolute path of the empty regular file the host writes
	// the object into, from offset 0. It is never the object's location.
	Path() string
	// Commit is Put's success path once the host has written size bytes
	// and closed the file: the store checks that the file holds size bytes
	// (ErrSizeMismatch otherwise, also when the PutRequest declared another
	// size), makes it durable, and makes it visible under the image id
	// without clobbering (ErrAlreadyExists). On error nothing remains.
	Commit(ctx context.Context, size int64) (PutResult, error)
	// Abort discards the temporary file: the upload failed or was
	// cancelled.
	Abort()
}

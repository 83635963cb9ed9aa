package store

import "errors"

// Sentinel errors. Stores wrap them with %w; the host tests them with
// errors.Is. sdk/storeplugin maps each to one gRPC code and back, so an error
// keeps its identity across the plugin boundary.
var (
	ErrNotFound         = errors.New("store: not found")
	ErrAlreadyExists    = errors.New("store: already exists")
	ErrInvalidArgument  = errors.New("store: invalid argument")
	ErrInvalidLocation  = errors.New("store: invalid location")
	ErrInvalidConfig    = errors.New("store: invalid configuration")
	ErrOutOfRange       = errors.New("store: range out of bounds")
	ErrStorageFull      = errors.New("store: storage full")
	ErrForbidden        = errors.New("store: forbidden")
	ErrUnauthenticated  = errors.New("store: backend rejected credentials")
	ErrUnsupported      = errors.New("store: operation not supported")
	ErrNotConfigured    = errors.New("store: not configured")
	ErrNotReady         = errors.New("store: not ready")
	ErrInUse            = errors.New("store: object in use")
	ErrUnavailable      = errors.New("store: backend unavailable")
	ErrSizeMismatch     = errors.New("store: size mismatch")
	ErrChecksumMismatch = errors.New("store: checksum mismatch")
	// ErrAborted is what a Put body yields when the sender gave up before
	// the end (cancelled, or the stream ended without its trailer).
	ErrAborted = errors.New("store: upload aborted")
)

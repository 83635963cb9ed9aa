package swift

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"

	ncw "github.com/ncw/swift/v2"

	"github.com/glance-go/glance/sdk/store"
)

// statusOf returns the HTTP status of a Swift error, or 0.
func statusOf(err error) int {
	var se *ncw.Error
	if errors.As(err, &se) {
		return se.StatusCode
	}
	return 0
}

// mapErr wraps err with the store sentinel it amounts to. what names the
// operation and object for the message; it never holds credentials.
func mapErr(what string, err error) error {
	if err == nil {
		return nil
	}
	// Errors that already carry a sentinel (from the body, or our own) and
	// context errors keep their identity.
	for _, s := range []error{
		store.ErrAborted, store.ErrChecksumMismatch, store.ErrSizeMismatch, store.ErrInvalidArgument,
		store.ErrAlreadyExists, store.ErrNotFound, store.ErrOutOfRange, store.ErrUnavailable,
		store.ErrUnauthenticated, store.ErrForbidden, store.ErrStorageFull, store.ErrInvalidLocation,
	} {
		if errors.Is(err, s) {
			return fmt.Errorf("swift: %s: %w", what, err)
		}
	}
	if errors.Is(err, context.Canceled) {
		return fmt.Errorf("swift: %s: %w", what, err)
	}
	var sentinel error
	switch code := statusOf(err); {
	case code == 401:
		sentinel = store.ErrUnauthenticated
	case code == 403:
		sentinel = store.ErrForbidden
	case code == 404:
		sentinel = store.ErrNotFound
	case code == 412:
		sentinel = store.ErrAlreadyExists
	case code == 413:
		sentinel = store.ErrStorageFull
	case code == 416:
		sentinel = store.ErrOutOfRange
	case code == 408, code == 429, code == 498, code >= 500:
		sentinel = store.ErrUnavailable
	case code == 0 && isNetErr(err):
		// Timeouts of the transport too (they match
		// context.DeadlineExceeded as well).
		sentinel = store.ErrUnavailable
	}
	if sentinel == nil {
		return fmt.Errorf("swift: %s: %w", what, err)
	}
	return fmt.Errorf("swift: %s: %w: %w", what, sentinel, err)
}

// isNetErr reports a failure to reach the endpoint.
func isNetErr(err error) bool {
	var ne net.Error
	var oe *net.OpError
	var ue *url.Error
	var de *net.DNSError
	return errors.As(err, &oe) || errors.As(err, &de) || errors.As(err, &ne) || errors.As(err, &ue) || errors.Is(err, ncw.TimeoutError)
}

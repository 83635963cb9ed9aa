package image

import (
	"errors"
	"fmt"
)

// Error kinds. An *Error wraps exactly one of them.
var (
	// ErrInvalid is a request that breaks the image schema (HTTP 400).
	ErrInvalid = errors.New("image: invalid")
	// ErrForbidden is an attempt to set a read-only or reserved attribute
	// (HTTP 403).
	ErrForbidden = errors.New("image: forbidden")
	// ErrInvalidTransition is a status change the status machine refuses
	// (HTTP 409).
	ErrInvalidTransition = errors.New("image: invalid status transition")
	// ErrConflict is a change that contradicts the image's current state,
	// such as removing a property it does not have (HTTP 409).
	ErrConflict = errors.New("image: conflict")
	// ErrLimitExceeded is a quota such as image_property_quota (HTTP 413).
	ErrLimitExceeded = errors.New("image: limit exceeded")
)

// Error is a domain error whose message is fit for the API user.
type Error struct {
	Kind error
	Msg  string
	// Detail marks a message Glance gives as the webob detail (after the
	// status's default explanation) rather than as the explanation.
	Detail bool
}

func (e *Error) Error() string { return e.Msg }

// Unwrap returns the kind.
func (e *Error) Unwrap() error { return e.Kind }

// Errorf builds an *Error of the given kind.
func Errorf(kind error, format string, args ...any) error {
	return &Error{Kind: kind, Msg: fmt.Sprintf(format, args...)}
}

// TransitionError is a refused status change.
type TransitionError struct {
	From, To Status
}

func (e *TransitionError) Error() string {
	return fmt.Sprintf("Image status transition from %s to %s is not allowed", e.From, e.To)
}

// Is reports whether target is ErrInvalidTransition.
func (e *TransitionError) Is(target error) bool { return target == ErrInvalidTransition }

// Detailf builds an *Error whose message Glance shows as the detail.
func Detailf(kind error, format string, args ...any) error {
	return &Error{Kind: kind, Msg: fmt.Sprintf(format, args...), Detail: true}
}

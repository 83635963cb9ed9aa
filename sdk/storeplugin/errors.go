package storeplugin

import (
	"context"
	"errors"
	"strings"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/glance-go/glance/sdk/store"
)

// ErrPluginExited is wrapped, together with store.ErrUnavailable, by every
// error a Client returns because its plugin process is gone.
var ErrPluginExited = errors.New("storeplugin: plugin exited")

// errorDomain names the ErrorInfo details this package attaches to a status,
// so a sentinel that shares its gRPC code with others (INVALID_ARGUMENT,
// FAILED_PRECONDITION, DATA_LOSS) comes back as itself. A plugin written in
// another language sets the same ErrorInfo to be understood as precisely.
const errorDomain = "glance.store.v1"

// errorKind ties one sentinel to its gRPC code and ErrorInfo reason.
type errorKind struct {
	err    error
	code   codes.Code
	reason string
}

// errorKinds is the one table used in both directions. For a code shared by
// several sentinels, the first row is the one assumed when a status carries
// no ErrorInfo.
var errorKinds = []errorKind{
	{store.ErrNotFound, codes.NotFound, "NOT_FOUND"},
	{store.ErrAlreadyExists, codes.AlreadyExists, "ALREADY_EXISTS"},
	{store.ErrInvalidArgument, codes.InvalidArgument, "INVALID_ARGUMENT"},
	{store.ErrInvalidLocation, codes.InvalidArgument, "INVALID_LOCATION"},
	{store.ErrInvalidConfig, codes.InvalidArgument, "INVALID_CONFIG"},
	{store.ErrOutOfRange, codes.OutOfRange, "OUT_OF_RANGE"},
	{store.ErrStorageFull, codes.ResourceExhausted, "STORAGE_FULL"},
	{store.ErrForbidden, codes.PermissionDenied, "FORBIDDEN"},
	{store.ErrUnauthenticated, codes.Unauthenticated, "UNAUTHENTICATED"},
	{store.ErrUnsupported, codes.Unimplemented, "UNSUPPORTED"},
	{store.ErrNotConfigured, codes.FailedPrecondition, "NOT_CONFIGURED"},
	{store.ErrInUse, codes.FailedPrecondition, "IN_USE"},
	{store.ErrNotReady, codes.FailedPrecondition, "NOT_READY"},
	{store.ErrUnavailable, codes.Unavailable, "UNAVAILABLE"},
	{store.ErrSizeMismatch, codes.DataLoss, "SIZE_MISMATCH"},
	{store.ErrChecksumMismatch, codes.DataLoss, "CHECKSUM_MISMATCH"},
	{store.ErrAborted, codes.Aborted, "ABORTED"},
	{context.DeadlineExceeded, codes.DeadlineExceeded, "DEADLINE_EXCEEDED"},
	{context.Canceled, codes.Canceled, "CANCELED"},
}

// toStatus turns an error from a Backend into the status sent to the host:
// the code of the first sentinel it wraps, its message unchanged, and an
// ErrorInfo naming every sentinel it wraps.
func toStatus(err error) *status.Status {
	if err == nil {
		return nil
	}
	var reasons []string
	code := codes.Unknown
	for _, k := range errorKinds {
		if errors.Is(err, k.err) {
			if reasons == nil {
				code = k.code
			}
			reasons = append(reasons, k.reason)
		}
	}
	if reasons == nil {
		if st, ok := status.FromError(err); ok {
			return st
		}
		return status.New(codes.Unknown, err.Error())
	}
	info := &errdetails.ErrorInfo{Reason: reasons[0], Domain: errorDomain}
	if len(reasons) > 1 {
		info.Metadata = map[string]string{"also": strings.Join(reasons[1:], ",")}
	}
	st := status.New(code, err.Error())
	if withInfo, derr := st.WithDetails(info); derr == nil {
		return withInfo
	}
	return st
}

// statusErr is toStatus(err).Err().
func statusErr(err error) error {
	if err == nil {
		return nil
	}
	return toStatus(err).Err()
}

// fromStatus turns a status received from a plugin back into an error that
// wraps the same sentinels (errors.Is) and carries the same message. Errors
// that are not statuses are returned as they are.
func fromStatus(err error) error {
	if err == nil {
		return nil
	}
	st, ok := status.FromError(err)
	if !ok {
		return err
	}
	if st.Code() == codes.OK {
		return nil
	}
	e := &remoteError{st: st}
	if info := errorInfo(st); info != nil {
		reasons := []string{info.Reason}
		if also := info.Metadata["also"]; also != "" {
			reasons = append(reasons, strings.Split(also, ",")...)
		}
		for _, r := range reasons {
			for _, k := range errorKinds {
				if k.reason == r {
					e.sentinels = append(e.sentinels, k.err)
					break
				}
			}
		}
	}
	if len(e.sentinels) == 0 {
		for _, k := range errorKinds {
			if k.code == st.Code() {
				e.sentinels = append(e.sentinels, k.err)
				break
			}
		}
	}
	return e
}

// errorInfo returns the status's ErrorInfo in this package's domain.
func errorInfo(st *status.Status) *errdetails.ErrorInfo {
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok && info.Domain == errorDomain {
			return info
		}
	}
	return nil
}

// remoteError is an error that crossed the plugin boundary.
type remoteError struct {
	st        *status.Status
	sentinels []error
}

func (e *remoteError) Error() string { return e.st.Message() }

// Unwrap exposes the sentinels to errors.Is.
func (e *remoteError) Unwrap() []error { return e.sentinels }

// GRPCStatus keeps status.Code and status.FromError working.
func (e *remoteError) GRPCStatus() *status.Status { return e.st }

// exitedError is what a Client returns once its plugin process is gone.
type exitedError struct {
	name   string
	detail string
}

func (e *exitedError) Error() string {
	msg := "store plugin " + e.name + " exited"
	if e.detail != "" {
		msg += ": " + e.detail
	}
	return msg
}

func (e *exitedError) Unwrap() []error { return []error{ErrPluginExited, store.ErrUnavailable} }

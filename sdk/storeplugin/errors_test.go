package storeplugin

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/glance-go/glance/sdk/store"
)

func TestErrorTableRoundTrip(t *testing.T) {
	for _, k := range errorKinds {
		t.Run(k.reason, func(t *testing.T) {
			orig := fmt.Errorf("%w: image 42 at mem://x", k.err)
			st := toStatus(orig)
			if st.Code() != k.code {
				t.Fatalf("code %v, want %v", st.Code(), k.code)
			}
			got := fromStatus(st.Err())
			if !errors.Is(got, k.err) {
				t.Fatalf("errors.Is(%v, %v) is false", got, k.err)
			}
			if got.Error() != orig.Error() {
				t.Fatalf("message %q, want %q", got.Error(), orig.Error())
			}
			if status.Code(got) != k.code {
				t.Fatalf("status.Code after round trip %v", status.Code(got))
			}
			// A sentinel sharing the code must not come back instead.
			for _, other := range errorKinds {
				if other.err != k.err && errors.Is(got, other.err) {
					t.Fatalf("%v also matches %v", got, other.err)
				}
			}
		})
	}
}

func TestErrorSeveralSentinels(t *testing.T) {
	orig := fmt.Errorf("%w: %w", store.ErrAborted, context.Canceled)
	got := fromStatus(toStatus(orig).Err())
	if !errors.Is(got, store.ErrAborted) || !errors.Is(got, context.Canceled) {
		t.Fatalf("lost a sentinel: %v", got)
	}
	if got.Error() != orig.Error() {
		t.Fatalf("message %q", got.Error())
	}
}

func TestErrorWithoutDetails(t *testing.T) {
	// A status from a plugin that sets no ErrorInfo (or from the transport)
	// maps to the first sentinel of its code.
	got := fromStatus(status.Error(codes.FailedPrecondition, "nope"))
	if !errors.Is(got, store.ErrNotConfigured) || got.Error() != "nope" {
		t.Fatalf("got %v", got)
	}
	got = fromStatus(status.Error(codes.Internal, "boom"))
	for _, k := range errorKinds {
		if errors.Is(got, k.err) {
			t.Fatalf("internal error matches %v", k.err)
		}
	}
	if status.Code(got) != codes.Internal || got.Error() != "boom" {
		t.Fatalf("got %v", got)
	}
	if st := toStatus(errors.New("plain")); st.Code() != codes.Unknown || st.Message() != "plain" {
		t.Fatalf("plain error became %v", st)
	}
	if toStatus(nil) != nil || fromStatus(nil) != nil {
		t.Fatal("nil must stay nil")
	}
}

func TestExitedError(t *testing.T) {
	err := error(&exitedError{name: "memory", detail: "connection reset"})
	if !errors.Is(err, ErrPluginExited) || !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("%v does not wrap both sentinels", err)
	}
	if err.Error() != "store plugin memory exited: connection reset" {
		t.Fatalf("message %q", err.Error())
	}
}

// errStore fails Stat of err/<n> with the n-th sentinel of the table.
type errStore struct{ *recorder }

func (e errStore) Stat(ctx context.Context, location string) (store.ObjectInfo, error) {
	var i int
	if _, err := fmt.Sscanf(location, "err/%d", &i); err == nil {
		return store.ObjectInfo{}, fmt.Errorf("%w: about %s", errorKinds[i].err, location)
	}
	return e.recorder.Stat(ctx, location)
}

// Every sentinel crosses a real gRPC connection and comes back as itself.
func TestErrorTableOverTheWire(t *testing.T) {
	c := newPair(t, errStore{newRecorder()}, testChunk)
	for i, k := range errorKinds {
		loc := fmt.Sprintf("err/%d", i)
		start := time.Now()
		_, err := c.Stat(context.Background(), loc)
		want := fmt.Sprintf("%v: about %s", k.err, loc)
		if !errors.Is(err, k.err) || err.Error() != want || status.Code(err) != k.code {
			t.Errorf("%s: got %v (code %v), want %q", k.reason, err, status.Code(err), want)
		}
		if errors.Is(err, ErrPluginExited) || time.Since(start) > exitWait/2 {
			t.Errorf("%s: taken for a plugin exit", k.reason)
		}
	}
}

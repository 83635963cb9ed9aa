package s3

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/glance-go/glance/sdk/store"
	"github.com/glance-go/glance/sdk/storetest"
)

func cfgJSON(t testing.TB, extra map[string]any) []byte {
	t.Helper()
	cfg := map[string]any{
		"endpoint": "http://127.0.0.1:7480", "bucket": "images", "path_style": true,
		"access_key": "AKIDEXAMPLE", "secret_key": "very-secret",
	}
	for k, v := range extra {
		if v == nil {
			delete(cfg, k)
		} else {
			cfg[k] = v
		}
	}
	js, err := json.Marshal(cfg)
	if err != nil {
		panic(err)
	}
	return js
}

func TestValidateConfig(t *testing.T) {
	pem := filepath.Join(t.TempDir(), "notpem")
	if err := os.WriteFile(pem, []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name     string
		extra    map[string]any
		wantPath string // "" means valid
	}{
		{"ok", nil, ""},
		{"ok_aws_default_endpoint", map[string]any{"endpoint": nil, "region": "eu-west-1"}, ""},
		{"ok_all", map[string]any{"prefix": "glance/images", "part_size": 1.6e7, "parts_in_flight": 8, "create_bucket": true, "connect_timeout": "3s", "conditional_writes": false, "session_token": "tok"}, ""},
		{"missing_bucket", map[string]any{"bucket": nil}, "bucket"},
		{"bad_bucket", map[string]any{"bucket": "Images_1"}, "bucket"},
		{"short_bucket", map[string]any{"bucket": "ab"}, "bucket"},
		{"missing_access_key", map[string]any{"access_key": nil}, "access_key"},
		{"empty_secret_key", map[string]any{"secret_key": " "}, "secret_key"},
		{"endpoint_not_http", map[string]any{"endpoint": "ftp://host"}, "endpoint"},
		{"endpoint_no_host", map[string]any{"endpoint": "http://"}, "endpoint"},
		{"endpoint_with_credentials", map[string]any{"endpoint": "http://key:secret@host"}, "endpoint"},
		{"endpoint_with_query", map[string]any{"endpoint": "http://host/?x=1"}, "endpoint"},
		{"bad_region", map[string]any{"region": "US East"}, "region"},
		{"prefix_dotdot", map[string]any{"prefix": "a/../b"}, "prefix"},
		{"prefix_empty_segment", map[string]any{"prefix": "a//b"}, "prefix"},
		{"prefix_control", map[string]any{"prefix": "a\nb"}, "prefix"},
		{"part_size_too_small", map[string]any{"part_size": 1 << 20}, "part_size"},
		{"part_size_too_big", map[string]any{"part_size": 6 << 30}, "part_size"},
		{"part_size_fraction", map[string]any{"part_size": 5242880.5}, "part_size"},
		{"parts_in_flight_zero", map[string]any{"parts_in_flight": 0}, "parts_in_flight"},
		{"parts_in_flight_huge", map[string]any{"parts_in_flight": 1000}, "parts_in_flight"},
		{"ca_file_missing", map[string]any{"ca_file": "/nonexistent/ca.pem"}, "ca_file"},
		{"ca_file_not_pem", map[string]any{"ca_file": pem}, "ca_file"},
		{"connect_timeout_bad", map[string]any{"connect_timeout": "soon"}, "connect_timeout"},
		{"unknown_attribute", map[string]any{"buckett": "x"}, "buckett"},
	}
	s := New(nil)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := store.Config{StoreID: "t", JSON: cfgJSON(t, tc.extra)}
			d := s.ValidateConfig(t.Context(), cfg)
			if tc.wantPath == "" {
				if d.HasErrors() {
					t.Fatalf("ValidateConfig: %v", d.Err())
				}
				return
			}
			if !d.HasErrors() {
				t.Fatalf("ValidateConfig: no error, want one about %s", tc.wantPath)
			}
			for _, x := range d {
				if x.Severity == store.SeverityError && !slices.Equal(x.Path, []string{tc.wantPath}) {
					t.Errorf("diagnostic %q has path %q, want [%s]", x.Summary, x.Path, tc.wantPath)
				}
				if strings.Contains(x.Summary+x.Detail, "very-secret") {
					t.Errorf("diagnostic %q repeats the secret", x.Summary)
				}
			}
			if _, err := New(nil).Configure(t.Context(), cfg); !errors.Is(err, store.ErrInvalidConfig) {
				t.Errorf("Configure: %v, want ErrInvalidConfig", err)
			}
		})
	}
}

func TestSchemaMarksKeysSensitive(t *testing.T) {
	info := New(nil).Info()
	if err := info.ConfigSchema.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"access_key", "secret_key", "session_token"} {
		if a, ok := info.ConfigSchema.Attribute(name); !ok || !a.Sensitive {
			t.Errorf("attribute %s is not sensitive", name)
		}
	}
}

func configured(t *testing.T, extra map[string]any) *Store {
	t.Helper()
	s := New(nil)
	if _, err := s.Configure(t.Context(), store.Config{StoreID: "t", JSON: cfgJSON(t, extra)}); err != nil {
		t.Fatal(err)
	}
	return s
}

func TestLocations(t *testing.T) {
	const id = "7c2a1d0e-4f6b-4e8a-9b1c-2d3e4f5a6b7c"
	for _, prefix := range []string{"", "glance/images"} {
		t.Run("prefix="+prefix, func(t *testing.T) {
			s := configured(t, map[string]any{"prefix": "/" + prefix + "/"})
			c := &s.st.Load().cfg
			key := id
			if prefix != "" {
				key = prefix + "/" + id
			}
			loc := c.location(key)
			if want := "s3://images/" + key; loc != want {
				t.Fatalf("location %q, want %q", loc, want)
			}
			if strings.Contains(loc, "AKIDEXAMPLE") || strings.Contains(loc, "very-secret") || strings.Contains(loc, "127.0.0.1") {
				t.Errorf("location %q carries credentials or the endpoint", loc)
			}
			if got, err := c.keyOf(loc); err != nil || got != key {
				t.Errorf("keyOf(%q) = %q, %v", loc, got, err)
			}
			p := ""
			if prefix != "" {
				p = prefix + "/"
			}
			bad := []string{
				"", "s3:", "s3://", "s3://images", "s3://images/",
				"s3://other/" + p + id,
				"http://images/" + p + id,
				"s3://key:secret@images/" + p + id,
				"s3://images:80/" + p + id,
				"s3://images/" + p + id + "?versionId=1",
				"s3://images/" + p + id + "#x",
				"s3://images/" + p + "../" + id,
				"s3://images/" + p + id + "/x",
				"s3://images/" + p + "%2e%2e",
				"s3://images/" + p + "a%2Fb",
				"s3://images/other/" + id,
				"s3:images/" + p + id,
			}
			if prefix != "" {
				bad = append(bad, "s3://images/"+id)
			}
			for _, l := range bad {
				if k, err := c.keyOf(l); !errors.Is(err, store.ErrInvalidLocation) {
					t.Errorf("keyOf(%q) = %q, %v; want ErrInvalidLocation", l, k, err)
				}
			}
		})
	}
}

func TestPlan(t *testing.T) {
	c := config{partSize: 16 << 20, partsInFlight: 4}
	cases := []struct {
		size     int64
		part     int64
		inFlight int
		err      error
	}{
		{store.UnknownSize, 16 << 20, 4, nil},
		{0, 16 << 20, 4, nil},
		{1 << 30, 16 << 20, 4, nil},
		{16 << 20 * maxParts, 16 << 20, 4, nil},
		{16<<20*maxParts + 1, 17 << 20, 3, nil},
		{1 << 40, 105 << 20, 1, nil},
		{maxPartSize*maxParts + 1, 0, 0, store.ErrInvalidArgument},
	}
	for _, tc := range cases {
		part, inFlight, err := c.plan(tc.size)
		if !errors.Is(err, tc.err) || err == nil && (part != tc.part || inFlight != tc.inFlight) {
			t.Errorf("plan(%d) = %d, %d, %v; want %d, %d, %v", tc.size, part, inFlight, err, tc.part, tc.inFlight, tc.err)
		}
		if err == nil && tc.size > 0 && (tc.size+part-1)/part > maxParts {
			t.Errorf("plan(%d): %d-byte parts make more than %d parts", tc.size, part, maxParts)
		}
	}
}

func TestTotalFromContentRange(t *testing.T) {
	cases := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"bytes 0-9/100", 100, true},
		{"bytes 5-5/6", 6, true},
		{"bytes */100", 100, true},
		{"bytes 0-9/*", 0, false},
		{"", 0, false},
		{"0-9/100", 0, false},
	}
	for _, tc := range cases {
		got, ok := totalFromContentRange(tc.in)
		if got != tc.want || ok != tc.ok {
			t.Errorf("totalFromContentRange(%q) = %d, %v; want %d, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

// apiErr builds the error the SDK returns for an S3 error answer.
func apiErr(status int, code string) error {
	var err error = &smithy.GenericAPIError{Code: code, Message: "m"}
	return &smithyhttp.ResponseError{Response: &smithyhttp.Response{Response: &http.Response{StatusCode: status}}, Err: err}
}

func TestMapErr(t *testing.T) {
	cases := []struct {
		err  error
		want error
	}{
		{apiErr(404, "NoSuchKey"), store.ErrNotFound},
		{apiErr(404, "NotFound"), store.ErrNotFound},
		{apiErr(404, "NoSuchBucket"), store.ErrNotFound},
		{apiErr(403, "InvalidAccessKeyId"), store.ErrUnauthenticated},
		{apiErr(403, "SignatureDoesNotMatch"), store.ErrUnauthenticated},
		{apiErr(403, "AccessDenied"), store.ErrForbidden},
		{apiErr(403, "QuotaExceeded"), store.ErrStorageFull},
		{apiErr(412, "PreconditionFailed"), store.ErrAlreadyExists},
		{apiErr(416, "InvalidRange"), store.ErrOutOfRange},
		{apiErr(503, "SlowDown"), store.ErrUnavailable},
		{apiErr(500, "InternalError"), store.ErrUnavailable},
		{fmt.Errorf("op: %w", errors.New("dial tcp: connection refused")), store.ErrUnavailable},
		{fmt.Errorf("op: %w", context.Canceled), context.Canceled},
	}
	for _, tc := range cases {
		if got := mapErr(tc.err); !errors.Is(got, tc.want) || !errors.Is(got, tc.err) {
			t.Errorf("mapErr(%v) = %v, want %v wrapping the original", tc.err, got, tc.want)
		}
	}
	if got := mapErr(fmt.Errorf("x: %w", context.Canceled)); errors.Is(got, store.ErrUnavailable) {
		t.Errorf("a cancellation became %v", got)
	}
}

func TestNotConfigured(t *testing.T) {
	s := New(nil)
	ctx := t.Context()
	if err := s.Probe(ctx); !errors.Is(err, store.ErrNotConfigured) {
		t.Errorf("Probe: %v", err)
	}
	if _, err := s.Put(ctx, store.PutRequest{ImageID: "a", Size: 0}, strings.NewReader("")); !errors.Is(err, store.ErrNotConfigured) {
		t.Errorf("Put: %v", err)
	}
	if _, _, err := s.Get(ctx, "s3://images/a", store.Whole); !errors.Is(err, store.ErrNotConfigured) {
		t.Errorf("Get: %v", err)
	}
	if err := s.Delete(ctx, "s3://images/a"); !errors.Is(err, store.ErrNotConfigured) {
		t.Errorf("Delete: %v", err)
	}
}

// An endpoint where nothing listens: Configure succeeds (glance-api
// starts), Probe says the endpoint cannot be reached, and calls fail with
// ErrUnavailable without naming a secret.
func TestUnreachableEndpoint(t *testing.T) {
	s := configured(t, map[string]any{"endpoint": "http://127.0.0.1:1", "connect_timeout": "1s"})
	err := s.Probe(t.Context())
	if !errors.Is(err, store.ErrUnavailable) || !strings.Contains(err.Error(), "cannot reach http://127.0.0.1:1") {
		t.Errorf("Probe: %v", err)
	}
	_, err = s.Put(t.Context(), store.PutRequest{ImageID: "img", Size: 3}, strings.NewReader("abc"))
	if !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("Put: %v, want ErrUnavailable", err)
	}
	if _, err := s.Stat(t.Context(), "s3://images/img"); !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("Stat: %v, want ErrUnavailable", err)
	}
	for _, e := range []error{err} {
		if e != nil && strings.Contains(e.Error(), "very-secret") {
			t.Errorf("error carries the secret: %v", e)
		}
	}
}

func TestPutRefusesBadRequests(t *testing.T) {
	s := configured(t, map[string]any{"endpoint": "http://127.0.0.1:1"})
	cases := []struct {
		name string
		req  store.PutRequest
		want error
	}{
		{"empty_id", store.PutRequest{ImageID: "", Size: 1}, store.ErrInvalidArgument},
		{"slash", store.PutRequest{ImageID: "a/b", Size: 1}, store.ErrInvalidArgument},
		{"dotdot", store.PutRequest{ImageID: "..", Size: 1}, store.ErrInvalidArgument},
		{"long", store.PutRequest{ImageID: strings.Repeat("a", 65), Size: 1}, store.ErrInvalidArgument},
		{"negative_size", store.PutRequest{ImageID: "img", Size: -2}, store.ErrInvalidArgument},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := s.Put(t.Context(), tc.req, strings.NewReader("x")); !errors.Is(err, tc.want) {
				t.Errorf("Put: %v, want %v", err, tc.want)
			}
		})
	}
}

// fakeSuite is the conformance suite's view of the store on an in-memory
// fake S3, for `make test`: the store's own logic (single and multipart
// uploads, aborts, ranges, locations) without a service.
func fakeSuite(extra map[string]any) storetest.Config {
	return storetest.Config{
		Setup: func(t testing.TB) ([]byte, func() ([]string, error)) {
			f, url := newFakeS3(t, "images")
			cfg := map[string]any{"endpoint": url, "part_size": 5 << 20, "parts_in_flight": 3}
			for k, v := range extra {
				cfg[k] = v
			}
			return cfgJSON(t, cfg), func() ([]string, error) { return f.contents(), nil }
		},
		New:     func() store.Backend { return New(nil) },
		MaxSize: 64 << 20,
	}
}

func TestConformanceFake(t *testing.T) {
	storetest.Run(t, fakeSuite(nil))
}

func TestConformanceFakeGRPC(t *testing.T) {
	storetest.RunGRPC(t, fakeSuite(map[string]any{"prefix": "glance/images", "conditional_writes": false}))
}

// errAfter yields n bytes of zeros, then err (io.EOF: a clean end).
type errAfter struct {
	n   int64
	err error
}

func (e *errAfter) Read(b []byte) (int, error) {
	if e.n <= 0 {
		return 0, e.err
	}
	k := int(min(int64(len(b)), e.n))
	clear(b[:k])
	e.n -= int64(k)
	return k, nil
}

// TestMultipartFailuresAbort: every way a multipart upload can fail aborts
// it, leaving neither object nor pending upload, with the right sentinel.
func TestMultipartFailuresAbort(t *testing.T) {
	const part = 5 << 20
	cases := []struct {
		name     string
		size     int64
		body     func(cancel context.CancelFunc) io.Reader
		failPart int
		want     error
	}{
		{"body_aborted", 4 * part, func(context.CancelFunc) io.Reader { return &errAfter{n: 2*part + 7, err: store.ErrAborted} }, 0, store.ErrAborted},
		{"checksum_mismatch_unknown_size", store.UnknownSize, func(context.CancelFunc) io.Reader { return &errAfter{n: 3 * part, err: store.ErrChecksumMismatch} }, 0, store.ErrChecksumMismatch},
		{"shorter_than_declared", 4 * part, func(context.CancelFunc) io.Reader { return &errAfter{n: 3*part + 1, err: io.EOF} }, 0, store.ErrSizeMismatch},
		{"longer_than_declared", 2*part + 1, func(context.CancelFunc) io.Reader { return &errAfter{n: 3 * part, err: io.EOF} }, 0, store.ErrSizeMismatch},
		{"cancelled", store.UnknownSize, func(cancel context.CancelFunc) io.Reader {
			return io.MultiReader(&errAfter{n: 2 * part, err: io.EOF}, readerFunc(func(b []byte) (int, error) { cancel(); return len(b), nil }))
		}, 0, context.Canceled},
		{"part_fails", 4 * part, func(context.CancelFunc) io.Reader { return &errAfter{n: 4 * part, err: io.EOF} }, 2, store.ErrUnavailable},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f, url := newFakeS3(t, "images")
			f.failPart = tc.failPart
			s := configured(t, map[string]any{"endpoint": url, "part_size": part, "parts_in_flight": 2})
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			_, err := s.Put(ctx, store.PutRequest{ImageID: "img", Size: tc.size}, tc.body(cancel))
			if !errors.Is(err, tc.want) {
				t.Errorf("Put: %v, want %v", err, tc.want)
			}
			if left := f.contents(); len(left) != 0 {
				t.Errorf("the bucket holds %q", left)
			}
		})
	}
	// And one that works, of unknown size, ending exactly on a part edge.
	f, url := newFakeS3(t, "images")
	s := configured(t, map[string]any{"endpoint": url, "part_size": part, "parts_in_flight": 2})
	res, err := s.Put(t.Context(), store.PutRequest{ImageID: "img", Size: store.UnknownSize}, &errAfter{n: 3 * part, err: io.EOF})
	if err != nil || res.Size != 3*part || res.Location != "s3://images/img" {
		t.Fatalf("Put: %+v, %v", res, err)
	}
	if got := f.contents(); !slices.Equal(got, []string{"object img"}) || len(f.objects["img"]) != 3*part {
		t.Errorf("the bucket holds %q", got)
	}
}

type readerFunc func([]byte) (int, error)

func (f readerFunc) Read(b []byte) (int, error) { return f(b) }

// TestTLSOptions: an https endpoint with a private CA is trusted through
// ca_file, refused without it, and accepted with insecure_skip_verify.
func TestTLSOptions(t *testing.T) {
	f := &fakeS3{bucket: "images", objects: map[string][]byte{}, uploads: map[string]*fakeUpload{}}
	srv := httptest.NewTLSServer(f)
	defer srv.Close()
	ca := filepath.Join(t.TempDir(), "ca.pem")
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	if err := os.WriteFile(ca, pemBytes, 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name  string
		extra map[string]any
		ok    bool
	}{
		{"ca_file", map[string]any{"ca_file": ca}, true},
		{"system_roots", nil, false},
		{"insecure_skip_verify", map[string]any{"insecure_skip_verify": true}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			extra := map[string]any{"endpoint": srv.URL}
			for k, v := range tc.extra {
				extra[k] = v
			}
			err := configured(t, extra).Probe(t.Context())
			if tc.ok && err != nil {
				t.Errorf("Probe: %v", err)
			}
			if !tc.ok && !errors.Is(err, store.ErrUnavailable) {
				t.Errorf("Probe: %v, want ErrUnavailable (unknown authority)", err)
			}
		})
	}
}

package swift

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/iotest"

	ncw "github.com/ncw/swift/v2"

	"github.com/glance-go/glance/sdk/store"
)

// Unit tests: no Swift needed. The cluster tests are in integration_test.go.

func cfgJSON(t *testing.T, extra map[string]any) []byte {
	t.Helper()
	cfg := map[string]any{"auth_url": "http://127.0.0.1:8080/auth/v1.0", "user": "test:tester", "key": "testing"}
	for k, v := range extra {
		if v == nil {
			delete(cfg, k)
		} else {
			cfg[k] = v
		}
	}
	js, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return js
}

func TestValidateConfig(t *testing.T) {
	cases := []struct {
		name     string
		extra    map[string]any
		wantPath string // "" means valid
	}{
		{"minimal_v1", nil, ""},
		{"v3", map[string]any{"auth_url": "https://keystone:5000/v3", "user": "glance", "user_domain": "Default", "project": "service", "endpoint_type": "internal"}, ""},
		{"explicit_version", map[string]any{"auth_url": "http://proxy/tokens", "auth_version": 1}, ""},
		{"radosgw_auth", map[string]any{"auth_url": "http://127.0.0.1:7480/auth/1.0"}, ""},
		{"all_sizes", map[string]any{"large_object_threshold": 5 << 30, "segment_size": 1, "create_container": true, "container": "images.v2", "timeout": "5m"}, ""},
		{"missing_auth_url", map[string]any{"auth_url": nil}, "auth_url"},
		{"ftp_auth_url", map[string]any{"auth_url": "ftp://x/v1"}, "auth_url"},
		{"credentials_in_auth_url", map[string]any{"auth_url": "http://u:p@x/auth/v1.0"}, "auth_url"},
		{"no_version", map[string]any{"auth_url": "http://proxy/tokens"}, "auth_version"},
		{"bad_version", map[string]any{"auth_version": 4}, "auth_version"},
		{"missing_user", map[string]any{"user": ""}, "user"},
		{"v1_user_without_account", map[string]any{"user": "tester"}, "user"},
		{"missing_key", map[string]any{"key": nil}, "key"},
		{"bad_endpoint_type", map[string]any{"endpoint_type": "private"}, "endpoint_type"},
		{"container_with_slash", map[string]any{"container": "a/b"}, "container"},
		{"empty_container", map[string]any{"container": ""}, "container"},
		{"threshold_over_5g", map[string]any{"large_object_threshold": 6 << 30}, "large_object_threshold"},
		{"threshold_fraction", map[string]any{"large_object_threshold": 1.5}, "large_object_threshold"},
		{"segment_zero", map[string]any{"segment_size": 0}, "segment_size"},
		{"bad_timeout", map[string]any{"connect_timeout": "soon"}, "connect_timeout"},
		{"missing_ca_file", map[string]any{"ca_file": "/nonexistent/ca.pem"}, "ca_file"},
		{"unknown_attribute", map[string]any{"password": "x"}, "password"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := store.Config{JSON: cfgJSON(t, tc.extra)}
			d := New(nil).ValidateConfig(t.Context(), cfg)
			if tc.wantPath == "" {
				if d.HasErrors() {
					t.Errorf("ValidateConfig: %v", d.Err())
				}
				return
			}
			found := false
			for _, x := range d {
				if x.Severity == store.SeverityError && len(x.Path) == 1 && x.Path[0] == tc.wantPath {
					found = true
				}
			}
			if !found {
				t.Errorf("ValidateConfig = %+v, want an error at %s", d, tc.wantPath)
			}
			if _, err := New(nil).Configure(t.Context(), cfg); !errors.Is(err, store.ErrInvalidConfig) {
				t.Errorf("Configure: %v, want ErrInvalidConfig", err)
			}
			if err := d.Err(); err != nil && strings.Contains(err.Error(), "testing") {
				t.Errorf("a diagnostic shows the key: %v", err)
			}
		})
	}
}

func TestSchemaMarksKeySensitive(t *testing.T) {
	s := New(nil).Info().ConfigSchema
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	if a, ok := s.Attribute("key"); !ok || !a.Sensitive {
		t.Errorf("the key attribute is not sensitive: %+v", a)
	}
	for _, a := range s.Attributes {
		if a.Name != "key" && a.Sensitive {
			t.Errorf("%s is sensitive", a.Name)
		}
	}
}

func TestLocations(t *testing.T) {
	st := &state{cfg: config{container: "glance"}}
	const id = "0b6f3c1e-7a6d-4c43-9e0f-8a1b2c3d4e5f"
	if loc := location("glance", id); loc != "swift://glance/"+id {
		t.Fatalf("location = %q", loc)
	}
	cases := []struct {
		loc string
		ok  bool
	}{
		{"swift://glance/" + id, true},
		{"swift://other/" + id, false},
		{"swift://glance/" + id + "/0001", false},
		{"swift://glance/" + id + "?x=1", false},
		{"swift://glance/" + id + "#f", false},
		{"swift://user:key@glance/" + id, false},
		{"swift://glance/../" + id, false},
		{"swift://glance/%2e%2e", false},
		{"swift://glance/a%2Fb", false},
		{"swift://glance/", false},
		{"swift://glance", false},
		{"swift:glance/" + id, false},
		{"swift+http://glance/" + id, false},
		{"http://glance/" + id, false},
		{"", false},
		{"%zz", false},
		{"swift://glance/" + id + "\x00", false},
	}
	for _, tc := range cases {
		name, err := st.objectOf(tc.loc)
		if tc.ok && (err != nil || name != id) {
			t.Errorf("objectOf(%q) = %q, %v", tc.loc, name, err)
		}
		if !tc.ok && !errors.Is(err, store.ErrInvalidLocation) {
			t.Errorf("objectOf(%q) = %q, %v; want ErrInvalidLocation", tc.loc, name, err)
		}
	}
}

func TestValidID(t *testing.T) {
	for id, ok := range map[string]bool{
		"7c2a1d0e-4f6b-4e8a-9b1c-2d3e4f5a6b7c": true, "a": true, strings.Repeat("a", 64): true,
		"": false, ".": false, "..": false, "a/b": false, "a b": false, strings.Repeat("a", 65): false, "-x": false, "x\x00": false,
	} {
		if err := validID(id); (err == nil) != ok || (err != nil && !errors.Is(err, store.ErrInvalidArgument)) {
			t.Errorf("validID(%q) = %v, want ok=%v", id, err, ok)
		}
	}
}

func TestMapErr(t *testing.T) {
	cases := []struct {
		err  error
		want error
	}{
		{ncw.AuthorizationFailed, store.ErrUnauthenticated},
		{ncw.Forbidden, store.ErrForbidden},
		{ncw.ObjectNotFound, store.ErrNotFound},
		{ncw.ContainerNotFound, store.ErrNotFound},
		{&ncw.Error{StatusCode: 412}, store.ErrAlreadyExists},
		{ncw.TooLargeObject, store.ErrStorageFull},
		{&ncw.Error{StatusCode: 416}, store.ErrOutOfRange},
		{&ncw.Error{StatusCode: 503}, store.ErrUnavailable},
		{ncw.TimeoutError, store.ErrUnavailable},
		{ncw.RateLimit, store.ErrUnavailable},
		{&net.OpError{Op: "dial", Err: errors.New("connection refused")}, store.ErrUnavailable},
		{fmt.Errorf("body: %w", store.ErrAborted), store.ErrAborted},
		{fmt.Errorf("body: %w", store.ErrChecksumMismatch), store.ErrChecksumMismatch},
		{context.Canceled, context.Canceled},
	}
	for _, tc := range cases {
		if got := mapErr("op", tc.err); !errors.Is(got, tc.want) {
			t.Errorf("mapErr(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
	if mapErr("op", nil) != nil {
		t.Error("mapErr(nil) is not nil")
	}
}

// TestExactReader: the last bytes are handed over only once the body ended
// at the declared size; anything else fails before them.
func TestExactReader(t *testing.T) {
	data := bytes.Repeat([]byte("0123456789"), 1000)
	fail := errors.New("body failed")
	cases := []struct {
		name string
		body io.Reader
		size int64
		want error // nil: all bytes then io.EOF
	}{
		{"exact", bytes.NewReader(data), int64(len(data)), nil},
		{"exact_one_byte_reads", iotest.OneByteReader(bytes.NewReader(data)), int64(len(data)), nil},
		{"exact_data_eof", iotest.DataErrReader(bytes.NewReader(data)), int64(len(data)), nil},
		{"short", bytes.NewReader(data[:9999]), int64(len(data)), store.ErrSizeMismatch},
		{"long", bytes.NewReader(append(data, 'x')), int64(len(data)), store.ErrSizeMismatch},
		{"error_after_all_bytes", io.MultiReader(bytes.NewReader(data), iotest.ErrReader(store.ErrChecksumMismatch)), int64(len(data)), store.ErrChecksumMismatch},
		{"error_midway", io.MultiReader(bytes.NewReader(data[:500]), iotest.ErrReader(fail)), int64(len(data)), fail},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			er := &exactReader{r: tc.body, remain: tc.size, ctx: t.Context()}
			got, err := io.ReadAll(er)
			if tc.want == nil {
				if err != nil || !bytes.Equal(got, data) {
					t.Errorf("read %d bytes, %v", len(got), err)
				}
				return
			}
			if !errors.Is(err, tc.want) || !errors.Is(er.err, tc.want) {
				t.Errorf("error %v (kept %v), want %v", err, er.err, tc.want)
			}
			if len(got) >= len(data) {
				t.Errorf("all %d bytes were handed over before the failure", len(got))
			}
		})
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := io.ReadAll(&exactReader{r: bytes.NewReader(data), remain: 10, ctx: ctx}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
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
	if _, _, err := s.Get(ctx, "swift://glance/a", store.Whole); !errors.Is(err, store.ErrNotConfigured) {
		t.Errorf("Get: %v", err)
	}
	if err := s.Delete(ctx, "swift://glance/a"); !errors.Is(err, store.ErrNotConfigured) {
		t.Errorf("Delete: %v", err)
	}
}

// fakeCluster is a tiny Keystone v3 and tempauth v1 in front of a Swift
// that only answers HEAD of one container, enough to check how Probe
// authenticates and what it reports.
type fakeCluster struct {
	srv       *httptest.Server
	container string
	v3Body    map[string]any // the last v3 auth request
}

func newFakeCluster(t *testing.T) *fakeCluster {
	f := &fakeCluster{container: "glance"}
	mux := http.NewServeMux()
	mux.HandleFunc("/v3/auth/tokens", func(w http.ResponseWriter, r *http.Request) {
		json.NewDecoder(r.Body).Decode(&f.v3Body)
		b, _ := json.Marshal(f.v3Body)
		if !strings.Contains(string(b), `"password":"secret"`) {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.Header().Set("X-Subject-Token", "tok-v3")
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		fmt.Fprintf(w, `{"token": {"expires_at": "2099-01-01T00:00:00.000000Z", "catalog": [{"type": "object-store", "endpoints": [
			{"interface": "public", "region": "RegionOne", "url": "%[1]s/v1/AUTH_public"},
			{"interface": "internal", "region": "RegionOne", "url": "%[1]s/v1/AUTH_proj"}]}]}}`, f.srv.URL)
	})
	mux.HandleFunc("/auth/v1.0", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Auth-User") != "test:tester" || r.Header.Get("X-Auth-Key") != "secret" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.Header().Set("X-Auth-Token", "tok-v1")
		w.Header().Set("X-Storage-Url", f.srv.URL+"/v1/AUTH_proj")
		w.WriteHeader(http.StatusOK)
	})
	mux.HandleFunc("/v1/AUTH_proj/{container}", func(w http.ResponseWriter, r *http.Request) {
		if tok := r.Header.Get("X-Auth-Token"); tok != "tok-v1" && tok != "tok-v3" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		if r.PathValue("container") != f.container {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		w.Header().Set("X-Container-Bytes-Used", "0")
		w.Header().Set("X-Container-Object-Count", "0")
		w.WriteHeader(http.StatusNoContent)
	})
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

func TestProbe(t *testing.T) {
	f := newFakeCluster(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + l.Addr().String()
	l.Close()
	v3 := map[string]any{"auth_url": f.srv.URL + "/v3", "user": "glance", "key": "secret",
		"user_domain": "Default", "project": "service", "project_domain": "Default", "endpoint_type": "internal"}
	cases := []struct {
		name   string
		cfg    map[string]any
		want   error // nil: healthy
		reason string
	}{
		{"v1", map[string]any{"auth_url": f.srv.URL + "/auth/v1.0", "key": "secret"}, nil, ""},
		{"v1_wrong_key", map[string]any{"auth_url": f.srv.URL + "/auth/v1.0", "key": "wrong"}, store.ErrUnauthenticated, `authenticating as "test:tester"`},
		{"v3", v3, nil, ""},
		{"v3_wrong_password", merge(v3, map[string]any{"key": "wrong"}), store.ErrUnauthenticated, "auth v3"},
		{"missing_container", map[string]any{"auth_url": f.srv.URL + "/auth/v1.0", "key": "secret", "container": "nope"}, store.ErrUnavailable, `container "nope" does not exist`},
		{"unreachable", map[string]any{"auth_url": closed + "/auth/v1.0", "key": "secret"}, store.ErrUnavailable, "connection refused"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := New(nil)
			if _, err := s.Configure(t.Context(), store.Config{JSON: cfgJSON(t, tc.cfg)}); err != nil {
				t.Fatal(err)
			}
			err := s.Probe(t.Context())
			if tc.want == nil {
				if err != nil {
					t.Errorf("Probe: %v", err)
				}
				return
			}
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.reason) {
				t.Errorf("Probe: %v, want %v mentioning %q", err, tc.want, tc.reason)
			}
			if strings.Contains(err.Error(), "secret") || strings.Contains(err.Error(), "wrong") {
				t.Errorf("Probe's error shows the key: %v", err)
			}
		})
	}
	// The v3 request carried the domains and the project scope.
	b, _ := json.Marshal(f.v3Body)
	for _, want := range []string{`"name":"glance"`, `"name":"service"`, `"name":"Default"`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("the v3 auth request %s lacks %s", b, want)
		}
	}
}

func merge(a, b map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = v
	}
	return out
}

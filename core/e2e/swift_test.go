//go:build integration

package e2e

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	ncw "github.com/ncw/swift/v2"
)

// The Swift tests need a Swift API: SWIFT_AUTH_URL, SWIFT_USER and
// SWIFT_KEY as scripts/swift-saio.sh (or scripts/ceph-micro.sh, for
// radosgw's Swift API) exports them. Without SWIFT_AUTH_URL they fail: these files are the integration tier (build tag integration).
type swiftService struct {
	authURL, user, key string
}

func needSwift(t *testing.T) swiftService {
	t.Helper()
	sv := swiftService{os.Getenv("SWIFT_AUTH_URL"), os.Getenv("SWIFT_USER"), os.Getenv("SWIFT_KEY")}
	if sv.authURL == "" {
		t.Fatal("SWIFT_AUTH_URL is not set: no Swift to test against (eval \"$(scripts/swift-saio.sh up /tmp/saio)\")")
	}
	if sv.user == "" || sv.key == "" {
		t.Fatal("SWIFT_AUTH_URL is set but SWIFT_USER or SWIFT_KEY is not")
	}
	return sv
}

// conn is the test's own view of the account, through Swift's API.
func (sv swiftService) conn(t *testing.T) *ncw.Connection {
	t.Helper()
	c := &ncw.Connection{AuthUrl: sv.authURL, UserName: sv.user, ApiKey: sv.key}
	if !strings.Contains(sv.authURL, "v3") {
		c.AuthVersion = 1
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.Authenticate(ctx); err != nil {
		t.Fatalf("authenticating to %s: %v", sv.authURL, err)
	}
	return c
}

// env is glance-api's environment for the example's swift store block.
func (sv swiftService) env(container string) []string {
	return []string{"SWIFT_AUTH_URL=" + sv.authURL, "SWIFT_USER=" + sv.user, "SWIFT_KEY=" + sv.key, "SWIFT_CONTAINER=" + container}
}

func swiftSuffix() string {
	var b [6]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// swiftContents lists every object of container, segments included.
func swiftContents(t *testing.T, c *ncw.Connection, container string) []string {
	t.Helper()
	names, err := c.ObjectNamesAll(t.Context(), container, nil)
	if err != nil {
		t.Fatalf("listing %s: %v", container, err)
	}
	return names
}

func removeContainer(c *ncw.Connection, container string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if names, err := c.ObjectNamesAll(ctx, container, nil); err == nil {
		for _, n := range names {
			c.ObjectDelete(ctx, container, n)
		}
	}
	c.ContainerDelete(ctx, container)
}

// TestSwiftImageLifecycle: glance-api running examples/deploy/swift.hcl's
// store (large objects from 4 MiB, 1 MiB segments): create, upload with a
// known size (one object) and of unknown size (chunked: an SLO), download
// byte-identical with its Content-MD5, Range reads across segments, delete;
// the container is then empty, segments included, as Swift lists it.
func TestSwiftImageLifecycle(t *testing.T) {
	sv := needSwift(t)
	c := sv.conn(t)
	container := "glance-e2e-" + swiftSuffix()
	t.Cleanup(func() { removeContainer(c, container) })
	stores := exampleStores(t, "swift.hcl",
		"large_object_threshold = 1073741824", "large_object_threshold = 4194304",
		"segment_size           = 209715200", "segment_size           = 1048576")
	s := startServerWith(t, Options{Stores: stores, Env: sv.env(container)})

	for _, tc := range []struct {
		name    string
		size    int
		chunked bool
		objects int // in the container once uploaded
	}{
		{"known_size", 3<<20 + 17, false, 1},
		{"unknown_size", 5<<20 + 123, true, 7}, // the manifest and 6 segments
	} {
		t.Run(tc.name, func(t *testing.T) {
			img := s.createImage("swift-" + tc.name)
			data := randomBytes(tc.size, uint64(tc.size))
			var body io.Reader = bytes.NewReader(data)
			if tc.chunked {
				body = io.MultiReader(body) // no length: sent chunked
			}
			resp := s.do("PUT", "/v2/images/"+img.ID+"/file", body, map[string]string{"Content-Type": "application/octet-stream"})
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusNoContent {
				t.Fatalf("upload: %d %s", resp.StatusCode, b)
			}
			got := s.getImage(img.ID)
			if got.Status != "active" || got.Size == nil || *got.Size != int64(tc.size) {
				t.Fatalf("after upload: %+v", got)
			}
			if names := swiftContents(t, c, container); len(names) != tc.objects {
				t.Errorf("the container holds %q, want %d objects", names, tc.objects)
			}

			resp = s.do("GET", "/v2/images/"+img.ID+"/file", nil, nil)
			b, _ = io.ReadAll(resp.Body)
			resp.Body.Close()
			sum := md5.Sum(data)
			if resp.StatusCode != http.StatusOK || !bytes.Equal(b, data) {
				t.Errorf("download: %d, %d bytes, equal=%v", resp.StatusCode, len(b), bytes.Equal(b, data))
			}
			if h := resp.Header.Get("Content-MD5"); h != hex.EncodeToString(sum[:]) {
				t.Errorf("Content-MD5 %q", h)
			}

			for _, r := range [][2]int{{0, 0}, {1<<20 - 10, 1<<20 + 10}, {tc.size - 5, tc.size - 1}} {
				s.checkRange(img.ID, data, byteRange{fmt.Sprintf("bytes=%d-%d", r[0], r[1]), r[0], r[1]})
			}

			s.mustDelete(img.ID, "delete")
			waitFor(t, 10*time.Second, "the container to be empty", func() bool { return len(swiftContents(t, c, container)) == 0 })
		})
	}
	s.stop()
	if strings.Contains(s.log.String(), sv.key) {
		t.Errorf("glance-api's log shows the Swift key")
	}
}

// TestSwiftUnhealthyStore: wrong credentials, a missing container (without
// create_container) or an unreachable endpoint leave the store unhealthy at
// start with a clear reason in the log; the API stays up, and an upload
// fails with 503 and a message. The unreachable case needs no Swift.
func TestSwiftUnhealthyStore(t *testing.T) {
	const wrongKey = "wrong-key-0123456789"
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := l.Addr().String()
	l.Close()
	cases := []struct {
		name       string
		needsSwift bool
		env        []string // overrides
		noCreate   bool
		reason     string // in glance-api's log
	}{
		{"wrong_credentials", true, []string{"SWIFT_KEY=" + wrongKey}, false, "authenticating as"},
		{"missing_container", true, []string{"SWIFT_CONTAINER=glance-e2e-missing-" + swiftSuffix()}, true, "does not exist"},
		{"unreachable_endpoint", false, []string{"SWIFT_AUTH_URL=http://" + closed + "/auth/v1.0"}, false, "connection refused"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			env := []string{"SWIFT_AUTH_URL=http://127.0.0.1:1/auth/v1.0", "SWIFT_USER=test:tester", "SWIFT_KEY=testing", "SWIFT_CONTAINER=glance"}
			key := "testing"
			if tc.needsSwift {
				sv := needSwift(t)
				env, key = sv.env("glance-e2e-"+swiftSuffix()), sv.key
			}
			env = append(env, tc.env...)
			repl := []string{`connect_timeout = "10s"`, `connect_timeout = "2s"`}
			if tc.noCreate {
				repl = append(repl, "create_container = true", "create_container = false")
			}
			s := startServerWith(t, Options{Stores: exampleStores(t, "swift.hcl", repl...), Env: env})
			s.checkUnhealthyUpload(tc.reason, key, wrongKey)
		})
	}
}

// TestSwiftExampleConfigValidates: examples/deploy/swift.hcl, with the
// variables scripts/swift-saio.sh exports, passes `glance-api validate`
// against the real plugin's schema; without them, validate names what is
// missing. Validation does not contact Swift.
func TestSwiftExampleConfigValidates(t *testing.T) {
	example, err := filepath.Abs("../../examples/deploy/swift.hcl")
	if err != nil {
		t.Fatal(err)
	}
	env := []string{"SWIFT_AUTH_URL=http://127.0.0.1:8080/auth/v1.0", "SWIFT_USER=test:tester", "SWIFT_KEY=example-key"}
	if os.Getenv("SWIFT_AUTH_URL") != "" {
		env = nil // the real ones
	}
	cmd := exec.Command(filepath.Join(binDir, "glance-api"), "validate", "-config", example)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("glance-api validate %s: %v\n%s", example, err, out)
	}
	if strings.Contains(string(out), "example-key") || (os.Getenv("SWIFT_KEY") != "" && strings.Contains(string(out), os.Getenv("SWIFT_KEY"))) {
		t.Errorf("validate prints the key:\n%s", out)
	}
	cmd = exec.Command(filepath.Join(binDir, "glance-api"), "validate", "-config", example)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "SWIFT_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	out, err = cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || !strings.Contains(string(out), "SWIFT_AUTH_URL") {
		t.Errorf("validate without SWIFT_AUTH_URL: %v\n%s", err, out)
	}
}

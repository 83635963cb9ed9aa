//go:build integration

package e2e

import (
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

// The RBD tests need a Ceph cluster (CEPH_CONF, CEPH_GLANCE_USER, CEPH_POOL
// as scripts/ceph-micro.sh exports them) and Ceph's dev packages to build
// plugins/rbd, its own module. Without CEPH_CONF they are skipped, unless
// CI=true. scripts/integration/35-rbd.sh runs them.

var (
	rbdBuildOnce sync.Once
	rbdBuildErr  error
)

// buildRBDPlugin builds glance-store-rbd from plugins/rbd into binDir, where
// glance-api finds its plugins.
func buildRBDPlugin(t *testing.T) {
	t.Helper()
	rbdBuildOnce.Do(func() {
		if dir := os.Getenv("GLANCE_PLUGIN_DIR"); dir != "" {
			if b, err := os.ReadFile(filepath.Join(dir, "glance-store-rbd")); err == nil {
				rbdBuildErr = os.WriteFile(filepath.Join(binDir, "glance-store-rbd"), b, 0o755)
				return
			}
		}
		cmd := exec.Command("go", "build", "-tags", "pacific", "-o", binDir+"/", "./cmd/glance-store-rbd")
		cmd.Dir = filepath.Join("..", "..", "plugins", "rbd")
		out, err := cmd.CombinedOutput()
		if err != nil {
			rbdBuildErr = fmt.Errorf("go build -tags pacific plugins/rbd: %v\n%s", err, out)
		}
	})
	if rbdBuildErr != nil {
		t.Fatal(rbdBuildErr)
	}
}

type cephEnv struct{ conf, user, pool string }

func needCeph(t *testing.T) cephEnv {
	t.Helper()
	e := cephEnv{os.Getenv("CEPH_CONF"), os.Getenv("CEPH_GLANCE_USER"), os.Getenv("CEPH_POOL")}
	if e.conf == "" || e.user == "" || e.pool == "" {
		t.Fatal("no Ceph cluster: CEPH_CONF, CEPH_GLANCE_USER and CEPH_POOL must be set (scripts/integration/35-rbd.sh sets them)")
	}
	return e
}

// rbd runs the rbd tool as the glance user.
func (e cephEnv) rbd(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command("rbd", append([]string{"--id", e.user, "-c", e.conf}, args...)...)
	cmd.Env = slices.DeleteFunc(os.Environ(), func(v string) bool { return strings.HasPrefix(v, "CEPH_KEYRING=") })
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("rbd %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// rbdStore is the store block of an RBD deployment, as in
// examples/deploy/rbd.hcl.
const rbdStore = `store "ceph" {
  plugin  = "rbd"
  default = true
  config {
    ceph_conf = env("CEPH_CONF")
    user      = env("CEPH_GLANCE_USER")
    pool      = env("CEPH_POOL")
  }
}
`

// TestRBDImageLifecycle: glance-api with an rbd store: create, upload,
// download, Range, delete; the image is an RBD image with a protected
// snapshot "snap" while it lives and nothing remains after.
func TestRBDImageLifecycle(t *testing.T) {
	e := needCeph(t)
	buildRBDPlugin(t)
	s := startServerWith(t, Options{Stores: rbdStore})

	img := s.createImage("rbd-lifecycle")
	data := randomBytes(48<<20+4321, 7)
	md5sum := md5.Sum(data)
	s.mustUpload(img.ID, data, "upload")
	got := s.getImage(img.ID)
	if got.Status != "active" || got.Size == nil || *got.Size != int64(len(data)) {
		t.Fatalf("after upload: %+v", got)
	}
	if got.Checksum == nil || *got.Checksum != hex.EncodeToString(md5sum[:]) {
		t.Errorf("checksum %v, want %x", got.Checksum, md5sum)
	}
	if ls := e.rbd(t, "ls", e.pool); !slices.Contains(strings.Fields(ls), img.ID) {
		t.Errorf("rbd ls %s: %q, want %s", e.pool, ls, img.ID)
	}
	if info := e.rbd(t, "info", e.pool+"/"+img.ID+"@snap"); !strings.Contains(info, "protected: True") || !strings.Contains(info, "layering") {
		t.Errorf("rbd info %s@snap:\n%s", img.ID, info)
	}

	resp := s.do("GET", "/v2/images/"+img.ID+"/file", nil, nil)
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK || !bytes.Equal(body, data) {
		t.Fatalf("download: %d, %d bytes, %v; equal %v", resp.StatusCode, len(body), err, bytes.Equal(body, data))
	}
	if h := resp.Header.Get("Content-MD5"); h != hex.EncodeToString(md5sum[:]) {
		t.Errorf("Content-MD5 %q, want %x", h, md5sum)
	}
	for _, r := range []byteRange{
		{"bytes=10-19", 10, 19},
		{"bytes=-5", len(data) - 5, len(data) - 1},
		{"bytes=8388600-8388615", 8388600, 8388615}, // across an object boundary
		{fmt.Sprintf("bytes=%d-", len(data)-1000), len(data) - 1000, len(data) - 1},
	} {
		s.checkRange(img.ID, data, r)
	}

	s.mustDelete(img.ID, "delete")
	if ls := e.rbd(t, "ls", e.pool); ls != "" {
		t.Errorf("rbd ls %s after delete: %q", e.pool, ls)
	}
	resp = s.do("GET", "/v2/images/"+img.ID, nil, nil)
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("show after delete: %d, want 404", resp.StatusCode)
	}
}

// TestRBDDeleteImageWithClone: Glance answers 409 to DELETE of an image
// whose snapshot has clones, and the image stays active with its data.
func TestRBDDeleteImageWithClone(t *testing.T) {
	e := needCeph(t)
	buildRBDPlugin(t)
	s := startServerWith(t, Options{Stores: rbdStore})

	img := s.createImage("rbd-clone")
	data := randomBytes(3<<20, 9)
	s.mustUpload(img.ID, data, "upload")
	child := e.pool + "/" + img.ID + "-vm-disk"
	e.rbd(t, "clone", e.pool+"/"+img.ID+"@snap", child)
	removeChild := func() { e.rbd(t, "flatten", child); e.rbd(t, "rm", child) }

	resp := s.do("DELETE", "/v2/images/"+img.ID, nil, nil)
	msg, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusConflict {
		removeChild()
		e.rbd(t, "snap", "unprotect", e.pool+"/"+img.ID+"@snap")
		e.rbd(t, "snap", "purge", e.pool+"/"+img.ID)
		e.rbd(t, "rm", e.pool+"/"+img.ID)
		t.Fatalf("DELETE of an image with a clone: %d %s, want 409 as Glance", resp.StatusCode, msg)
	}
	t.Logf("DELETE with a clone: 409 %s", msg)
	if got := s.getImage(img.ID); got.Status != "active" {
		t.Errorf("after the refused delete the image is %q, want active", got.Status)
	}
	resp = s.do("GET", "/v2/images/"+img.ID+"/file", nil, nil)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !bytes.Equal(body, data) {
		t.Errorf("data after the refused delete: %d bytes, differ", len(body))
	}
	removeChild()
	s.mustDelete(img.ID, "delete after the clone went")
	if ls := e.rbd(t, "ls", e.pool); ls != "" {
		t.Errorf("rbd ls %s after delete: %q", e.pool, ls)
	}
}

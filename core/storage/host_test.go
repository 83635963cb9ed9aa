package storage_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/glance-go/glance/core/storage"
	"github.com/glance-go/glance/sdk/store"
)

var pluginDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "glance-storage-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	pluginDir = dir
	cmd := exec.Command("go", "build", "-o", dir+"/", "github.com/glance-go/glance/plugins/filesystem/cmd/glance-store-filesystem")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building the plugin:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func spec(t *testing.T) storage.Spec {
	t.Helper()
	path, err := storage.ResolveBinary(pluginDir, "filesystem")
	if err != nil {
		t.Fatal(err)
	}
	js, _ := json.Marshal(map[string]any{"data_dir": filepath.Join(t.TempDir(), "images")})
	return storage.Spec{ID: "local", Plugin: "filesystem", Path: path, ConfigJSON: js, Default: true}
}

func start(t *testing.T, s storage.Spec, opts storage.Options) *storage.Host {
	t.Helper()
	h, err := storage.Start(t.Context(), []storage.Spec{s}, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close(context.Background()) })
	return h
}

func put(t *testing.T, b store.Backend, id string, data []byte) store.PutResult {
	t.Helper()
	res, err := b.Put(t.Context(), store.PutRequest{ImageID: id, Size: int64(len(data))}, bytes.NewReader(data))
	if err != nil {
		t.Fatalf("put %s: %v", id, err)
	}
	return res
}

func TestRestartAfterKill(t *testing.T) {
	h := start(t, spec(t), storage.Options{MinBackoff: 20 * time.Millisecond})
	b, err := h.Store(h.DefaultStore())
	if err != nil {
		t.Fatal(err)
	}
	m, _ := h.Managed("local")
	res := put(t, b, "before", []byte("kept across the restart"))
	pid := m.Pid()
	if pid == 0 {
		t.Fatal("no plugin pid")
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	// A call made right after the death waits for the restart instead of
	// failing.
	rc, info, err := b.Get(t.Context(), res.Location, store.Whole)
	if err != nil {
		t.Fatalf("get across the restart: %v", err)
	}
	got, _ := io.ReadAll(rc)
	rc.Close()
	if string(got) != "kept across the restart" || info.Size != int64(len(got)) {
		t.Errorf("read %q (size %d)", got, info.Size)
	}
	if m.Pid() == pid || m.Pid() == 0 {
		t.Errorf("pid %d after restart, was %d", m.Pid(), pid)
	}
	if m.Restarts() != 1 {
		t.Errorf("restarts = %d, want 1", m.Restarts())
	}
	if err := m.Health(); err != nil {
		t.Errorf("health after restart: %v", err)
	}
	put(t, b, "after", []byte("new process works"))
}

func TestPutFailsWhenPluginDies(t *testing.T) {
	h := start(t, spec(t), storage.Options{MinBackoff: 20 * time.Millisecond})
	b, _ := h.Store("local")
	m, _ := h.Managed("local")
	pr, pw := io.Pipe()
	errc := make(chan error, 1)
	go func() {
		_, err := b.Put(context.Background(), store.PutRequest{ImageID: "dying", Size: store.UnknownSize}, pr)
		errc <- err
	}()
	pw.Write(make([]byte, 3<<20))
	syscall.Kill(m.Pid(), syscall.SIGKILL)
	go func() {
		for {
			if _, err := pw.Write(make([]byte, 1<<20)); err != nil {
				return
			}
		}
	}()
	select {
	case err := <-errc:
		if !errors.Is(err, store.ErrUnavailable) {
			t.Errorf("put during death: %v, want ErrUnavailable", err)
		}
		if !strings.Contains(err.Error(), "exited") {
			t.Errorf("error does not say the plugin exited: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("put did not fail after the plugin died")
	}
	pw.CloseWithError(io.ErrClosedPipe)
	if err := m.WaitReady(t.Context()); err != nil {
		t.Fatal(err)
	}
	// Nothing of the dead upload is visible: the same id can be stored.
	put(t, b, "dying", []byte("second try"))
}

func TestCloseDrainsInflight(t *testing.T) {
	s := spec(t)
	h, err := storage.Start(t.Context(), []storage.Spec{s}, storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := h.Store("local")
	m, _ := h.Managed("local")
	pid := m.Pid()
	data := bytes.Repeat([]byte("x"), 4<<20)
	res := put(t, b, "img", data)
	rc, _, err := b.Get(t.Context(), res.Location, store.Whole)
	if err != nil {
		t.Fatal(err)
	}
	closed := make(chan struct{})
	go func() { h.Close(context.Background()); close(closed) }()
	select {
	case <-closed:
		t.Fatal("Close returned while a read was in flight")
	case <-time.After(300 * time.Millisecond):
	}
	// The in-flight read still completes.
	got, err := io.ReadAll(rc)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("in-flight read: %d bytes, %v", len(got), err)
	}
	rc.Close()
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not return after the read finished")
	}
	if _, err := b.Stat(t.Context(), res.Location); !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("call after Close: %v, want ErrUnavailable", err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for syscall.Kill(pid, 0) == nil && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if syscall.Kill(pid, 0) == nil {
		// A zombie is reaped by go-plugin; a live process is a leak.
		if st, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); !strings.Contains(string(st), ") Z") {
			t.Errorf("plugin %d still running after Close", pid)
		}
	}
}

func TestChecksumRefused(t *testing.T) {
	s := spec(t)
	s.SHA256 = bytes.Repeat([]byte{0xab}, 32)
	_, err := storage.Start(t.Context(), []storage.Spec{s}, storage.Options{})
	if err == nil || !strings.Contains(err.Error(), "sha256") {
		t.Fatalf("Start with a wrong sha256: %v", err)
	}
	good, err := storage.ParseSHA256(sha256File(t, s.Path))
	if err != nil {
		t.Fatal(err)
	}
	s.SHA256 = good
	start(t, s, storage.Options{})
}

func sha256File(t *testing.T, path string) string {
	out, err := exec.Command("sha256sum", path).Output()
	if err != nil {
		t.Fatal(err)
	}
	return strings.Fields(string(out))[0]
}

func TestBadConfigRefused(t *testing.T) {
	s := spec(t)
	s.ConfigJSON = []byte(`{"data_dir": ""}`)
	_, err := storage.Start(t.Context(), []storage.Spec{s}, storage.Options{})
	if !errors.Is(err, store.ErrInvalidConfig) {
		t.Fatalf("Start with a bad config: %v, want ErrInvalidConfig", err)
	}
}

func TestUnknownStore(t *testing.T) {
	h := start(t, spec(t), storage.Options{})
	if _, err := h.Store("nope"); !errors.Is(err, storage.ErrUnknownStore) {
		t.Errorf("Store(nope) = %v", err)
	}
}

func TestResolveBinary(t *testing.T) {
	dir := t.TempDir()
	outside := filepath.Join(t.TempDir(), "glance-store-evil")
	os.WriteFile(outside, []byte("#!/bin/sh\n"), 0o755)
	os.Symlink(outside, filepath.Join(dir, "glance-store-link"))
	os.WriteFile(filepath.Join(dir, "glance-store-noexec"), []byte("x"), 0o644)
	os.WriteFile(filepath.Join(dir, "glance-store-ok"), []byte("#!/bin/sh\n"), 0o755)
	os.WriteFile(filepath.Join(dir, "glance-store-open"), []byte("#!/bin/sh\n"), 0o755)
	os.Chmod(filepath.Join(dir, "glance-store-open"), 0o777)
	for _, tc := range []struct {
		name string
		ok   bool
	}{
		{"ok", true}, {"link", false}, {"noexec", false}, {"missing", false},
		{"open", false}, {"../ok", false}, {"Ok", false}, {"", false},
	} {
		_, err := storage.ResolveBinary(dir, tc.name)
		if (err == nil) != tc.ok {
			t.Errorf("ResolveBinary(%q) = %v, want ok=%v", tc.name, err, tc.ok)
		}
	}
}

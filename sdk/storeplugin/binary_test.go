package storeplugin_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/glance-go/glance/sdk/store"
	"github.com/glance-go/glance/sdk/storeplugin"
	"github.com/glance-go/glance/sdk/storetest"
)

// testPlugin is the path of the test plugin binary, built by TestMain.
var testPlugin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "storeplugin-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	testPlugin = filepath.Join(dir, "glance-store-testplugin")
	build := exec.Command("go", "build", "-o", testPlugin, "github.com/glance-go/glance/sdk/storeplugin/internal/testplugin")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building the test plugin:", err)
		os.Exit(1)
	}
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// logBuffer collects the host's log, shown when a test fails.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func startPlugin(t *testing.T, cfg storeplugin.ClientConfig) *storeplugin.Client {
	t.Helper()
	logs := &logBuffer{}
	cfg.Path = testPlugin
	cfg.Logger = hclog.New(&hclog.LoggerOptions{Name: "host", Output: logs, Level: hclog.Debug})
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("host log:\n%s", logs)
		}
	})
	c, err := storeplugin.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Kill)
	if _, err := c.Configure(context.Background(), store.Config{StoreID: "t"}); err != nil {
		t.Fatal(err)
	}
	return c
}

func TestDescribe(t *testing.T) {
	out, err := exec.Command(testPlugin, "describe").Output()
	if err != nil {
		t.Fatal(err)
	}
	var d storeplugin.Description
	if err := json.Unmarshal(out, &d); err != nil {
		t.Fatalf("%v in %s", err, out)
	}
	if d.Name != "memory" || d.Version != "0.1.0" || d.ProtocolVersion != storeplugin.ProtocolVersion ||
		d.ProtocolMinor != storeplugin.ProtocolMinor || len(d.ConfigSchema.Attributes) != 1 {
		t.Fatalf("describe: %s", out)
	}
	if !bytes.Contains(out, []byte(`"protocol_version": 1`)) || !bytes.Contains(out, []byte(`"type": "string"`)) {
		t.Fatalf("describe output: %s", out)
	}
}

func TestRunByHand(t *testing.T) {
	cmd := exec.Command(testPlugin)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 || len(out) != 0 || !strings.Contains(stderr.String(), "describe") {
		t.Fatalf("err %v, stdout %q, stderr %q", err, out, stderr.String())
	}
}

func TestBinaryPutGet(t *testing.T) {
	bin, err := os.ReadFile(testPlugin)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(bin)
	c := startPlugin(t, storeplugin.ClientConfig{SHA256: sum[:]})
	if c.Info().Name != "memory" || c.Pid() <= 0 || c.Pid() == os.Getpid() || c.Exited() {
		t.Fatalf("info %+v pid %d", c.Info(), c.Pid())
	}
	ctx := context.Background()
	data := bytes.Repeat([]byte("0123456789abcdef"), 3<<16+7) // 3 MiB + 112 bytes
	res, err := c.Put(ctx, store.PutRequest{ImageID: "img", Size: int64(len(data))}, bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	rc, info, err := c.Get(ctx, res.Location, store.Whole)
	if err != nil || info.Size != int64(len(data)) {
		t.Fatalf("get: %+v %v", info, err)
	}
	got, err := io.ReadAll(rc)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read %d bytes, %v", len(got), err)
	}
	if _, err := c.Stat(ctx, "mem://none"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("stat: %v", err)
	}
	if err := c.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	c.Kill()
	select {
	case <-c.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("Done not closed after Kill")
	}
	if !c.Exited() {
		t.Fatal("not exited after Kill")
	}
}

func TestBinaryKilledMidGet(t *testing.T) {
	c := startPlugin(t, storeplugin.ClientConfig{})
	rc, _, err := c.Get(context.Background(), "mem://block", store.Whole)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(rc, make([]byte, 1<<20)); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(c.Pid(), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_, err = io.Copy(io.Discard, rc)
	if !errors.Is(err, storeplugin.ErrPluginExited) || !errors.Is(err, store.ErrUnavailable) ||
		!strings.Contains(err.Error(), "store plugin memory exited") {
		t.Fatalf("read after kill: %v", err)
	}
	if _, err := c.Stat(context.Background(), "mem://x"); !errors.Is(err, storeplugin.ErrPluginExited) {
		t.Fatalf("call after kill: %v", err)
	}
	if !c.Exited() {
		t.Fatal("Exited() is false")
	}
}

func TestBinaryWrongSHA256(t *testing.T) {
	dir := t.TempDir()
	marker := filepath.Join(dir, "ran")
	script := filepath.Join(dir, "glance-store-evil")
	if err := os.WriteFile(script, []byte("#!/bin/sh\ntouch "+marker+"\n"), 0o700); err != nil {
		t.Fatal(err)
	}
	_, err := storeplugin.NewClient(storeplugin.ClientConfig{Path: script, SHA256: make([]byte, 32)})
	if err == nil || !strings.Contains(err.Error(), script) || !strings.Contains(err.Error(), "sha256") {
		t.Fatalf("wrong sha256: %v", err)
	}
	if _, err := os.Stat(marker); err == nil {
		t.Fatal("the binary ran despite its wrong checksum")
	}
}

// TestWatchdog starts the plugin from a shell that exits at once: the
// plugin, re-parented, must notice and exit.
func TestWatchdog(t *testing.T) {
	// The shell waits for the handshake line, printed after the plugin
	// noted its parent, then exits.
	handshake := filepath.Join(t.TempDir(), "handshake")
	cmd := exec.Command("sh", "-c", `"$0" >"$1" 2>/dev/null </dev/null & echo $!
		while [ ! -s "$1" ]; do sleep 0.05; done`, testPlugin, handshake)
	cmd.Env = append(os.Environ(), storeplugin.Handshake.MagicCookieKey+"="+storeplugin.Handshake.MagicCookieValue)
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(out)))
	if err != nil {
		t.Fatalf("pid %q: %v", out, err)
	}
	t.Cleanup(func() { _ = syscall.Kill(pid, syscall.SIGKILL) })
	deadline := time.Now().Add(10 * time.Second)
	for alive(pid) {
		if time.Now().After(deadline) {
			t.Fatal("the orphaned plugin is still running")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// alive reports whether pid runs (a zombie left for an absent reaper is not).
func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return syscall.Kill(pid, 0) == nil
	}
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	return len(f) > 0 && f[0] != "Z" && f[0] != "X"
}

// The test plugin passes the conformance suite as a real plugin process.
func TestBinaryConformance(t *testing.T) {
	storetest.RunBinary(t, testPlugin, storetest.Config{
		Setup: func(testing.TB) ([]byte, func() ([]string, error)) {
			return []byte(`{"label": "conformance"}`), nil
		},
		MaxSize: 16 << 20,
	})
}

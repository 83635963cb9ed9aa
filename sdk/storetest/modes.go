package storetest

import (
	"os"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/glance-go/glance/sdk/store"
	"github.com/glance-go/glance/sdk/storeplugin"
)

// RunGRPC runs the conformance suite against cfg.New() served over a real
// gRPC connection inside the test process: the same server options,
// adapters, error mapping and client as a plugin process, without building
// a binary.
func RunGRPC(t *testing.T, cfg Config) {
	t.Helper()
	if cfg.New == nil {
		t.Fatal("storetest: Config.New is nil")
	}
	runSuite(t, cfg, func(t testing.TB) store.Backend {
		c, err := storeplugin.NewInProcess(cfg.New(), testLogger())
		if err != nil {
			t.Fatalf("storetest: serving the store over gRPC: %v", err)
		}
		c.SetLocalPut(!cfg.NoLocalPut)
		t.Cleanup(c.Kill)
		return c
	}, nil)
}

// RunBinary runs the conformance suite against the plugin binary at path,
// started as glance-api starts it (storeplugin.NewClient: handshake, mutual
// TLS, unix socket). cfg.New is not used. The suite fails if the plugin
// process exits before the end, except for the processes its KilledMidPut
// case starts and kills on purpose.
func RunBinary(t *testing.T, path string, cfg Config) {
	t.Helper()
	var killed sync.Map // *storeplugin.Client → true
	open := func(t testing.TB) store.Backend {
		c, err := storeplugin.NewClient(storeplugin.ClientConfig{Path: path, Logger: testLogger(), DisableLocalPut: cfg.NoLocalPut})
		if err != nil {
			t.Fatalf("storetest: starting %s: %v", path, err)
		}
		t.Cleanup(func() {
			if _, ok := killed.Load(c); !ok && c.Exited() {
				t.Errorf("storetest: the plugin process %s exited during the suite", path)
			}
			c.Kill()
		})
		return c
	}
	kill := func(t testing.TB, b store.Backend) {
		c := b.(*storeplugin.Client)
		killed.Store(c, true)
		p, err := os.FindProcess(c.Pid())
		if err == nil {
			err = p.Kill() // SIGKILL on unix: the plugin cleans nothing up
		}
		if err != nil {
			t.Fatalf("killing the plugin process %d: %v", c.Pid(), err)
		}
		select {
		case <-c.Done():
		case <-time.After(10 * time.Second):
			t.Fatalf("the plugin process %d has not exited 10s after SIGKILL", c.Pid())
		}
	}
	runSuite(t, cfg, open, &killer{open: open, kill: kill})
}

// testLogger logs the host's and the plugin's messages to stderr, at the
// level in GLANCE_PLUGIN_LOG_LEVEL or warn.
func testLogger() hclog.Logger {
	level := hclog.LevelFromString(os.Getenv(storeplugin.EnvLogLevel))
	if level == hclog.NoLevel {
		level = hclog.Warn
	}
	return hclog.New(&hclog.LoggerOptions{Name: "storetest", Output: os.Stderr, Level: level})
}

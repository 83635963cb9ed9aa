package storeplugin

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
)

// EnvLogLevel names the environment variable with the plugin's log level
// (trace, debug, info, warn, error); info when unset.
const EnvLogLevel = "GLANCE_PLUGIN_LOG_LEVEL"

// drainTimeout bounds the wait for store calls in flight once the gRPC
// server stopped; go-plugin's Kill waits 2 s before it kills the process.
const drainTimeout = 1500 * time.Millisecond

// Serve runs a store plugin; call it from main and nothing else. Run by
// hand as `<binary> describe`, it prints the store's Info as JSON. Started
// by a host, it serves the store over gRPC until the host stops it or dies.
// It never returns.
func Serve(cfg ServeConfig) {
	cookie := os.Getenv(Handshake.MagicCookieKey)
	if len(os.Args) > 1 && os.Args[1] == "describe" && cookie == "" {
		os.Exit(describe(cfg, os.Stdout, os.Stderr))
	}
	if cookie != Handshake.MagicCookieValue {
		bin := filepath.Base(os.Args[0])
		fmt.Fprintf(os.Stderr, "%s is a glance-go store plugin: glance-api starts it.\n"+
			"Run `%s describe` to see what it is.\n", bin, bin)
		os.Exit(1)
	}

	// Once the host is gone, writing to its stderr pipe must not kill the
	// plugin before it has cleaned up.
	signal.Ignore(syscall.SIGPIPE)

	p, err := newPluginServer(cfg, newLogger(os.Stderr))
	if err != nil {
		p.logger.Error("cannot start the store", "error", err)
		os.Exit(1)
	}
	// Read the parent now, before the handshake, so that a host dying at
	// any time after it is noticed.
	go watchParent(os.Getppid(), parentPollInterval, func(ppid int) {
		p.logger.Warn("the host process exited; stopping", "host_pid", ppid)
		p.stop()
		time.AfterFunc(drainTimeout+time.Second, func() { os.Exit(1) })
	})
	plugin.Serve(p.serveConfig())
	p.mu.Lock()
	started := p.grpc != nil
	p.mu.Unlock()
	if !started {
		os.Exit(1) // plugin.Serve failed before serving, and logged why
	}
	// plugin.Serve returns once the gRPC server has stopped: let the
	// store's calls clean up (temporary data of cancelled uploads).
	if !waitInflight(&p.inflight, drainTimeout) {
		p.logger.Warn("store calls still running at exit")
	}
	os.Exit(0)
}

// ServeConfigFor builds the store with cfg.New and returns the go-plugin
// configuration Serve uses, without the parent watchdog and the `describe`
// mode. Tests can set its Test field to serve the plugin in-process.
func ServeConfigFor(cfg ServeConfig) (*plugin.ServeConfig, error) {
	p, err := newPluginServer(cfg, newLogger(os.Stderr))
	if err != nil {
		return nil, err
	}
	return p.serveConfig(), nil
}

// pluginServer is the plugin side of one process.
type pluginServer struct {
	logger   hclog.Logger
	srv      *server
	inflight sync.WaitGroup

	mu   sync.Mutex
	grpc *grpc.Server
}

func newPluginServer(cfg ServeConfig, logger hclog.Logger) (*pluginServer, error) {
	p := &pluginServer{logger: logger}
	if cfg.New == nil {
		return p, errors.New("storeplugin: ServeConfig.New is nil")
	}
	b, err := cfg.New(logger)
	if err != nil {
		return p, err
	}
	if b == nil {
		return p, errors.New("storeplugin: ServeConfig.New returned no store")
	}
	p.srv = newServer(b, logger)
	return p, nil
}

func (p *pluginServer) serveConfig() *plugin.ServeConfig {
	return &plugin.ServeConfig{
		HandshakeConfig:  Handshake,
		VersionedPlugins: map[int]plugin.PluginSet{ProtocolVersion: {PluginName: &grpcPlugin{srv: p.srv}}},
		GRPCServer: func(opts []grpc.ServerOption) *grpc.Server {
			g := grpc.NewServer(append(opts, serverOptions(p.logger, &p.inflight)...)...)
			p.mu.Lock()
			p.grpc = g
			p.mu.Unlock()
			return g
		},
		Logger: p.logger,
	}
}

// stop stops the gRPC server, which makes plugin.Serve return.
func (p *pluginServer) stop() {
	p.mu.Lock()
	g := p.grpc
	p.mu.Unlock()
	if g == nil {
		os.Exit(1)
	}
	g.Stop()
}

// newLogger is the plugin's logger: hclog JSON, which the host parses and
// re-emits under its own logger.
func newLogger(w io.Writer) hclog.Logger {
	level := hclog.Info
	if l := hclog.LevelFromString(os.Getenv(EnvLogLevel)); l != hclog.NoLevel {
		level = l
	}
	return hclog.New(&hclog.LoggerOptions{Output: w, Level: level, JSONFormat: true})
}

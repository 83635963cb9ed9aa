package storeplugin

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/glance-go/glance/sdk/internal/gen/storev1"
	"github.com/glance-go/glance/sdk/store"
)

// ClientConfig says how to start a store plugin process.
type ClientConfig struct {
	// Path is the plugin binary.
	Path string
	// Args are passed to the binary.
	Args []string
	// SHA256, when set, is the expected checksum of the binary; it is
	// checked before the process starts.
	SHA256 []byte
	// Logger receives the host's messages about the plugin and the
	// plugin's own log lines. Nil discards them.
	Logger hclog.Logger
	// SocketDir is where a private directory for the plugin's unix socket
	// is made; keep it short (socket paths are limited to 104-108 bytes).
	// Empty means os.TempDir().
	SocketDir string
	// Env is added to the plugin's environment (which starts as the host's).
	Env []string
	// StartTimeout bounds the start and the first GetPluginInfo call;
	// zero means 20 seconds.
	StartTimeout time.Duration
	// DisableLocalPut makes Put always stream to the plugin, even when the
	// store offers the LocalPut capability (see Client.Put).
	DisableLocalPut bool
}

// Client is a running store plugin seen from the host. It implements
// store.Backend, store.ConfigValidator, store.LocalFiler and
// store.Shutdowner, so the host can use it like an in-process store.
//
// Errors come back as the plugin's store.Err… sentinels. Once the plugin
// process is gone, every call fails with an error wrapping ErrPluginExited
// and store.ErrUnavailable; a new Client must be made to restart it.
type Client struct {
	name     string
	info     store.Info
	identity storev1.IdentityServiceClient
	store    storev1.StoreServiceClient
	done     <-chan struct{}
	pid      int
	exited   func() bool
	kill     func()

	log hclog.Logger
	// noLocalPut: the host opted out of the LocalPut fast path.
	noLocalPut atomic.Bool
	// localPutBroken: this host could not open a plugin's local put file,
	// so Put streams from now on.
	localPutBroken atomic.Bool

	mu    sync.Mutex
	caps  store.Capabilities
	chunk int
	bufs  sync.Pool // *[]byte of len chunk, for Put
}

var (
	_ store.Backend         = (*Client)(nil)
	_ store.ConfigValidator = (*Client)(nil)
	_ store.LocalFiler      = (*Client)(nil)
	_ store.Shutdowner      = (*Client)(nil)
)

// NewClient verifies and starts the plugin binary, connects to it over gRPC
// (mutual TLS on a unix socket) and fetches its Info.
func NewClient(cfg ClientConfig) (*Client, error) {
	name := filepath.Base(cfg.Path)
	logger := cfg.Logger
	if logger == nil {
		logger = hclog.NewNullLogger()
	}
	timeout := cfg.StartTimeout
	if timeout <= 0 {
		timeout = 20 * time.Second
	}

	var secure *plugin.SecureConfig
	if len(cfg.SHA256) > 0 {
		secure = &plugin.SecureConfig{Checksum: cfg.SHA256, Hash: sha256.New()}
	}

	// go-plugin only honours UnixSocketConfig.TempDir with a RunnerFunc, so
	// give the plugin its socket directory through the environment.
	sockDir, err := os.MkdirTemp(cfg.SocketDir, "gsp")
	if err != nil {
		return nil, fmt.Errorf("store plugin %s: socket directory: %w", name, err)
	}
	cmd := exec.Command(cfg.Path, cfg.Args...)
	cmd.Env = append(append(os.Environ(), cfg.Env...), plugin.EnvUnixSocketDir+"="+sockDir)

	pc := plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig:  Handshake,
		VersionedPlugins: map[int]plugin.PluginSet{ProtocolVersion: {PluginName: &grpcPlugin{}}},
		Cmd:              cmd,
		SkipHostEnv:      true, // already in cmd.Env, before cfg.Env
		SecureConfig:     secure,
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		AutoMTLS:         true,
		StartTimeout:     timeout,
		Logger:           logger,
		SyncStdout:       logger.Named(name).StandardWriter(&hclog.StandardLoggerOptions{ForceLevel: hclog.Debug}),
		SyncStderr:       logger.Named(name).StandardWriter(&hclog.StandardLoggerOptions{ForceLevel: hclog.Debug}),
		GRPCDialOptions: []grpc.DialOption{grpc.WithDefaultCallOptions(
			grpc.MaxCallRecvMsgSize(MaxMessageSize),
			grpc.MaxCallSendMsgSize(MaxMessageSize),
		)},
	})
	fail := func(err error) (*Client, error) {
		pc.Kill()
		_ = os.RemoveAll(sockDir)
		return nil, fmt.Errorf("store plugin %s (%s): %w", name, cfg.Path, err)
	}
	rpc, err := pc.Client()
	if errors.Is(err, plugin.ErrChecksumsDoNotMatch) {
		return fail(fmt.Errorf("the sha256 of the binary does not match the configured one: %w", err))
	}
	if err != nil {
		return fail(err)
	}
	raw, err := rpc.Dispense(PluginName)
	if err != nil {
		return fail(err)
	}
	d, ok := raw.(*dispensed)
	if !ok {
		return fail(fmt.Errorf("unexpected plugin type %T", raw))
	}
	go func() {
		<-d.done
		_ = os.RemoveAll(sockDir)
	}()
	pid := 0
	if rc := pc.ReattachConfig(); rc != nil {
		pid = rc.Pid
	}
	c := newClient(name, d.conn, d.done, pid, pc.Exited, pc.Kill)
	c.log = logger.Named(name)
	c.noLocalPut.Store(cfg.DisableLocalPut)

	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := c.loadInfo(ctx); err != nil {
		return fail(err)
	}
	return c, nil
}

func newClient(name string, conn grpc.ClientConnInterface, done <-chan struct{}, pid int, exited func() bool, kill func()) *Client {
	return &Client{
		name:     name,
		identity: storev1.NewIdentityServiceClient(conn),
		store:    storev1.NewStoreServiceClient(conn),
		done:     done,
		pid:      pid,
		exited:   exited,
		kill:     kill,
		log:      hclog.NewNullLogger(),
		chunk:    store.DefaultChunkSize,
	}
}

func (c *Client) loadInfo(ctx context.Context) error {
	resp, err := c.identity.GetPluginInfo(ctx, &storev1.GetPluginInfoRequest{})
	if err != nil {
		return c.err(ctx, err)
	}
	c.info = infoFromProto(resp)
	if c.info.Name != "" {
		c.name = c.info.Name
	}
	return nil
}

// Info returns the plugin's Info, fetched once when the client started.
func (c *Client) Info() store.Info { return c.info }

// Capabilities returns the capabilities from the last Configure.
func (c *Client) Capabilities() store.Capabilities {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.caps
}

// ChunkSize returns the chunk size negotiated in the last Configure.
func (c *Client) ChunkSize() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.chunk
}

// Pid returns the plugin's process id.
func (c *Client) Pid() int { return c.pid }

// Exited reports whether the plugin process has exited.
func (c *Client) Exited() bool { return c.exited() }

// Done is closed when the plugin process has exited.
func (c *Client) Done() <-chan struct{} { return c.done }

// Kill stops the plugin process: it closes the connection, which asks the
// plugin to stop, and kills it if it has not exited after 2 seconds. Calls
// in flight fail; drain them and call Shutdown first. Kill may be called
// more than once.
func (c *Client) Kill() { c.kill() }

// exitWait is how long an UNAVAILABLE or CANCELED error waits to see
// whether the plugin process is exiting.
const exitWait = 500 * time.Millisecond

// err maps an error from a call made with ctx: a status becomes the
// plugin's sentinel, and a broken connection to an exited plugin becomes an
// error wrapping ErrPluginExited and store.ErrUnavailable.
func (c *Client) err(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	select {
	case <-c.done:
		return &exitedError{name: c.name, detail: errDetail(err)}
	default:
	}
	if c.mayHaveExited(ctx, err) {
		t := time.NewTimer(exitWait)
		defer t.Stop()
		select {
		case <-c.done:
			return &exitedError{name: c.name, detail: errDetail(err)}
		case <-t.C:
		}
	}
	return fromStatus(err)
}

// mayHaveExited reports whether err is how a call fails when the plugin
// dies under it: UNAVAILABLE or CANCELED from the transport, not from the
// plugin's own adapter, and not because the caller gave up.
func (c *Client) mayHaveExited(ctx context.Context, err error) bool {
	if ctx.Err() != nil {
		return false
	}
	var re *remoteError
	if errors.As(err, &re) {
		return false
	}
	st, ok := status.FromError(err)
	if !ok || errorInfo(st) != nil {
		return false
	}
	return st.Code() == codes.Unavailable || st.Code() == codes.Canceled
}

func errDetail(err error) string {
	if st, ok := status.FromError(err); ok {
		return st.Message()
	}
	return err.Error()
}

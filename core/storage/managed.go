package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/glance-go/glance/sdk/store"
	"github.com/glance-go/glance/sdk/storeplugin"
)

type state int

const (
	stateDown      state = iota // no process; a restart is under way
	stateReady                  // process up, probe passed
	stateUnhealthy              // process up, probe failed
	stateClosed
)

// Managed is one supervised store plugin. It is a store.Backend whose calls
// go to the current plugin process.
type Managed struct {
	spec Spec
	opts Options
	log  hclog.Logger

	mu       sync.Mutex
	state    state
	reason   error // why the store is not ready
	client   *storeplugin.Client
	caps     store.Capabilities
	info     store.Info
	changed  chan struct{} // closed and replaced on every state change
	restarts int
	inflight sync.WaitGroup
}

func newManaged(s Spec, opts Options) *Managed {
	return &Managed{
		spec:    s,
		opts:    opts,
		log:     opts.Logger.Named("store").With("store", s.ID, "plugin", s.Plugin),
		changed: make(chan struct{}),
		reason:  errors.New("starting"),
	}
}

// setLocked moves to a new state and wakes the waiters. m.mu must be held.
func (m *Managed) setLocked(s state, reason error) {
	m.state, m.reason = s, reason
	close(m.changed)
	m.changed = make(chan struct{})
}

func (m *Managed) setDown(reason error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.state != stateClosed {
		m.setLocked(stateDown, reason)
	}
}

// start launches a plugin process, configures and probes it.
func (m *Managed) start(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, m.opts.StartTimeout)
	defer cancel()
	c, err := storeplugin.NewClient(storeplugin.ClientConfig{
		Path:         m.spec.Path,
		SHA256:       m.spec.SHA256,
		Logger:       m.log,
		SocketDir:    m.opts.SocketDir,
		StartTimeout: m.opts.StartTimeout,
	})
	if err != nil {
		return err
	}
	if info := c.Info(); info.Name != m.spec.Plugin {
		c.Kill()
		return fmt.Errorf("%w: binary %s says it is plugin %q", ErrBadPlugin, m.spec.Path, info.Name)
	}
	caps, err := c.Configure(ctx, store.Config{StoreID: m.spec.ID, JSON: m.spec.ConfigJSON, ChunkSize: m.opts.ChunkSize})
	if err != nil {
		c.Kill()
		return fmt.Errorf("configure: %w", err)
	}
	perr := c.Probe(ctx)

	m.mu.Lock()
	if m.state == stateClosed {
		m.mu.Unlock()
		c.Kill()
		return errors.New("store closed")
	}
	m.client, m.caps, m.info = c, caps, c.Info()
	if perr != nil {
		m.setLocked(stateUnhealthy, perr)
	} else {
		m.setLocked(stateReady, nil)
	}
	m.mu.Unlock()

	if perr != nil {
		m.log.Error("store is unhealthy", "reason", perr)
		go m.reprobe(c)
	} else {
		m.log.Info("store ready", "pid", c.Pid(), "version", c.Info().Version)
	}
	go m.watch(c)
	return nil
}

// watch waits for the process to end and restarts it unless we stopped it.
func (m *Managed) watch(c *storeplugin.Client) {
	<-c.Done()
	m.mu.Lock()
	if m.state == stateClosed || m.client != c {
		m.mu.Unlock()
		return
	}
	m.client = nil
	m.setLocked(stateDown, fmt.Errorf("store plugin %s exited", m.spec.Plugin))
	m.mu.Unlock()
	m.log.Error("store plugin exited unexpectedly; restarting")
	m.restartLoop()
}

// restartLoop starts a new process, backing off between failures.
func (m *Managed) restartLoop() {
	backoff := m.opts.MinBackoff
	for {
		m.mu.Lock()
		closed := m.state == stateClosed
		m.mu.Unlock()
		if closed {
			return
		}
		err := m.start(context.Background())
		if err == nil {
			m.mu.Lock()
			m.restarts++
			m.mu.Unlock()
			return
		}
		m.log.Error("store plugin restart failed", "error", err, "retry_in", backoff)
		m.setDown(err)
		time.Sleep(backoff)
		backoff = min(backoff*2, m.opts.MaxBackoff)
	}
}

// reprobe probes an unhealthy store until it is ready or replaced.
func (m *Managed) reprobe(c *storeplugin.Client) {
	backoff := m.opts.MinBackoff
	for {
		time.Sleep(backoff)
		backoff = min(backoff*2, m.opts.MaxBackoff)
		m.mu.Lock()
		if m.client != c || m.state != stateUnhealthy {
			m.mu.Unlock()
			return
		}
		m.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), m.opts.StartTimeout)
		err := c.Probe(ctx)
		cancel()
		m.mu.Lock()
		if m.client == c && m.state == stateUnhealthy {
			if err == nil {
				m.setLocked(stateReady, nil)
				m.log.Info("store is healthy again")
			} else {
				m.reason = err
			}
		}
		m.mu.Unlock()
		if err == nil {
			return
		}
	}
}

// acquire returns the current client and counts the call as in flight.
// While the plugin restarts it waits up to RestartWait; an unhealthy or
// closed store fails at once.
func (m *Managed) acquire(ctx context.Context) (*storeplugin.Client, func(), error) {
	timer := time.NewTimer(m.opts.RestartWait)
	defer timer.Stop()
	for {
		m.mu.Lock()
		switch m.state {
		case stateReady:
			c := m.client
			if c.Exited() {
				// The watcher has not seen the death yet: wait for it
				// and the restart rather than fail on a dead client.
				break
			}
			m.inflight.Add(1)
			m.mu.Unlock()
			return c, m.inflight.Done, nil
		case stateUnhealthy:
			reason := m.reason
			m.mu.Unlock()
			return nil, nil, m.unavailable(reason)
		case stateClosed:
			m.mu.Unlock()
			return nil, nil, m.unavailable(errors.New("shutting down"))
		}
		wait, reason := m.changed, m.reason
		m.mu.Unlock()
		select {
		case <-wait:
		case <-timer.C:
			return nil, nil, m.unavailable(reason)
		case <-ctx.Done():
			return nil, nil, ctx.Err()
		}
	}
}

func (m *Managed) unavailable(reason error) error {
	if errors.Is(reason, store.ErrUnavailable) {
		return fmt.Errorf("store %q: %w", m.spec.ID, reason)
	}
	return fmt.Errorf("%w: store %q: %v", store.ErrUnavailable, m.spec.ID, reason)
}

// retry runs an idempotent call, once more after a restart when the plugin
// died under it.
func retry[T any](ctx context.Context, m *Managed, call func(*storeplugin.Client) (T, error)) (T, error) {
	var zero T
	for attempt := 0; ; attempt++ {
		c, release, err := m.acquire(ctx)
		if err != nil {
			return zero, err
		}
		v, err := call(c)
		release()
		if err != nil && attempt == 0 && errors.Is(err, storeplugin.ErrPluginExited) {
			continue
		}
		return v, err
	}
}

// Info describes the plugin.
func (m *Managed) Info() store.Info {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.info
}

// Capabilities returns the store's effective capabilities.
func (m *Managed) Capabilities() store.Capabilities {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.caps
}

// Configure is done by the host from config.hcl; a second configuration is
// refused.
func (m *Managed) Configure(context.Context, store.Config) (store.Capabilities, error) {
	return store.Capabilities{}, fmt.Errorf("%w: store %q is configured from config.hcl", store.ErrUnsupported, m.spec.ID)
}

// Probe reports the store's health as last seen, asking the plugin when it
// is up.
func (m *Managed) Probe(ctx context.Context) error {
	_, err := retry(ctx, m, func(c *storeplugin.Client) (struct{}, error) { return struct{}{}, c.Probe(ctx) })
	return err
}

// Health returns nil when the store is ready, else why not.
func (m *Managed) Health() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.state == stateReady {
		return nil
	}
	return m.reason
}

// Put streams body to the plugin. It is not retried: the body cannot be
// replayed.
func (m *Managed) Put(ctx context.Context, req store.PutRequest, body io.Reader) (store.PutResult, error) {
	c, release, err := m.acquire(ctx)
	if err != nil {
		return store.PutResult{}, err
	}
	defer release()
	return c.Put(ctx, req, body)
}

// Get opens a reader; the call stays in flight until the reader is closed.
func (m *Managed) Get(ctx context.Context, location string, r store.Range) (io.ReadCloser, store.ObjectInfo, error) {
	for attempt := 0; ; attempt++ {
		c, release, err := m.acquire(ctx)
		if err != nil {
			return nil, store.ObjectInfo{}, err
		}
		rc, info, err := c.Get(ctx, location, r)
		if err != nil {
			release()
			if attempt == 0 && errors.Is(err, storeplugin.ErrPluginExited) {
				continue
			}
			return nil, info, err
		}
		return &inflightReader{ReadCloser: rc, release: release}, info, nil
	}
}

type inflightReader struct {
	io.ReadCloser
	once    sync.Once
	release func()
}

func (r *inflightReader) Close() error {
	err := r.ReadCloser.Close()
	r.once.Do(r.release)
	return err
}

// WriteTo lets io.Copy use the client reader's own WriteTo when it has one.
func (r *inflightReader) WriteTo(w io.Writer) (int64, error) {
	if wt, ok := r.ReadCloser.(io.WriterTo); ok {
		return wt.WriteTo(w)
	}
	return io.Copy(w, struct{ io.Reader }{r.ReadCloser})
}

// Stat reports an object's size.
func (m *Managed) Stat(ctx context.Context, location string) (store.ObjectInfo, error) {
	return retry(ctx, m, func(c *storeplugin.Client) (store.ObjectInfo, error) { return c.Stat(ctx, location) })
}

// Delete removes an object; it is idempotent, so it is retried after a
// restart.
func (m *Managed) Delete(ctx context.Context, location string) error {
	_, err := retry(ctx, m, func(c *storeplugin.Client) (struct{}, error) { return struct{}{}, c.Delete(ctx, location) })
	return err
}

// LocalFile returns the path of an object's file when the plugin offers
// the local fast path.
func (m *Managed) LocalFile(ctx context.Context, location string) (string, error) {
	if !m.Capabilities().LocalFile {
		return "", fmt.Errorf("%w: store %q has no local files", store.ErrUnsupported, m.spec.ID)
	}
	return retry(ctx, m, func(c *storeplugin.Client) (string, error) { return c.LocalFile(ctx, location) })
}

// Pid returns the plugin's process id, or 0 while it is down.
func (m *Managed) Pid() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.client == nil {
		return 0
	}
	return m.client.Pid()
}

// Restarts counts the restarts after unexpected exits.
func (m *Managed) Restarts() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.restarts
}

// WaitReady blocks until the store is ready or ctx ends.
func (m *Managed) WaitReady(ctx context.Context) error {
	for {
		m.mu.Lock()
		st, wait, reason := m.state, m.changed, m.reason
		m.mu.Unlock()
		if st == stateReady {
			return nil
		}
		select {
		case <-wait:
		case <-ctx.Done():
			return fmt.Errorf("%w (last reason: %v)", ctx.Err(), reason)
		}
	}
}

// close stops admitting calls, drains, shuts the plugin down and kills it.
func (m *Managed) close(ctx context.Context) {
	m.mu.Lock()
	if m.state == stateClosed {
		m.mu.Unlock()
		return
	}
	c := m.client
	m.setLocked(stateClosed, errors.New("closed"))
	m.mu.Unlock()

	drained := make(chan struct{})
	go func() { m.inflight.Wait(); close(drained) }()
	select {
	case <-drained:
	case <-time.After(m.opts.DrainTimeout):
		m.log.Warn("in-flight calls still running after the drain timeout; stopping the plugin anyway")
	case <-ctx.Done():
	}
	if c != nil {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if err := c.Shutdown(sctx); err != nil {
			m.log.Debug("plugin shutdown call failed", "error", err)
		}
		cancel()
		c.Kill()
	}
}

var _ store.Backend = (*Managed)(nil)
var _ store.LocalFiler = (*Managed)(nil)

package storage

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sort"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"

	"github.com/glance-go/glance/sdk/store"
)

// ErrUnknownStore is returned for a store id that config.hcl does not declare.
var ErrUnknownStore = errors.New("storage: unknown store")

// Spec is one store "id" {} block, resolved.
type Spec struct {
	ID         string
	Plugin     string // plugin name, as written in config.hcl
	Path       string // the plugin binary, from ResolveBinary
	SHA256     []byte // when set, the binary must hash to it
	ConfigJSON []byte // the config {} block decoded against the plugin's schema
	Default    bool
}

// Options tune the host. Zero values take the defaults in parentheses.
type Options struct {
	Logger hclog.Logger
	// SocketDir holds the plugins' unix sockets; it must be short (sockets
	// paths are limited to 108 bytes). ("": a private directory under /tmp)
	SocketDir string
	// ChunkSize proposed to plugins (store.DefaultChunkSize).
	ChunkSize int
	// MinBackoff and MaxBackoff bound the delay between restarts (100ms, 10s).
	MinBackoff, MaxBackoff time.Duration
	// RestartWait is how long a call waits for a restarting plugin (10s).
	RestartWait time.Duration
	// DrainTimeout bounds how long Close waits for in-flight calls (30s).
	DrainTimeout time.Duration
	// StartTimeout bounds a plugin's start, configure and first probe (30s).
	StartTimeout time.Duration
}

func (o *Options) setDefaults() {
	if o.Logger == nil {
		o.Logger = hclog.NewNullLogger()
	}
	if o.ChunkSize <= 0 {
		o.ChunkSize = store.DefaultChunkSize
	}
	if o.MinBackoff <= 0 {
		o.MinBackoff = 100 * time.Millisecond
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = 10 * time.Second
	}
	if o.RestartWait <= 0 {
		o.RestartWait = 10 * time.Second
	}
	if o.DrainTimeout <= 0 {
		o.DrainTimeout = 30 * time.Second
	}
	if o.StartTimeout <= 0 {
		o.StartTimeout = 30 * time.Second
	}
}

// Host supervises the store plugins of one glance-api process.
type Host struct {
	opts      Options
	stores    map[string]*Managed
	defaultID string
	ownDir    string // socket dir we made and must remove
}

// Start launches every store. It fails when a binary cannot be used or a
// store rejects its configuration: those are operator errors to fix before
// serving. A store whose backend is unreachable starts unhealthy instead;
// its calls fail with store.ErrUnavailable until a probe succeeds.
func Start(ctx context.Context, specs []Spec, opts Options) (*Host, error) {
	opts.setDefaults()
	if len(specs) == 0 {
		return nil, errors.New("storage: no store configured")
	}
	h := &Host{opts: opts, stores: map[string]*Managed{}}
	if h.opts.SocketDir == "" {
		dir, err := os.MkdirTemp("", "glp")
		if err != nil {
			return nil, fmt.Errorf("storage: socket dir: %w", err)
		}
		h.opts.SocketDir, h.ownDir = dir, dir
	}
	for _, s := range specs {
		if _, dup := h.stores[s.ID]; dup {
			h.Close(ctx)
			return nil, fmt.Errorf("storage: store %q declared twice", s.ID)
		}
		if s.Default || len(specs) == 1 {
			h.defaultID = s.ID
		}
		m := newManaged(s, h.opts)
		h.stores[s.ID] = m
		if err := VerifySHA256(s.Path, s.SHA256); err != nil {
			h.Close(ctx)
			return nil, fmt.Errorf("storage: store %q: %w", s.ID, err)
		}
		if err := m.start(ctx); err != nil {
			if isOperatorError(err) {
				h.Close(ctx)
				return nil, fmt.Errorf("storage: store %q (plugin %s): %w", s.ID, s.Plugin, err)
			}
			m.log.Error("store plugin failed to start; retrying in the background", "error", err)
			m.setDown(err)
			go m.restartLoop()
		}
	}
	if h.defaultID == "" {
		h.Close(ctx)
		return nil, errors.New("storage: no default store")
	}
	return h, nil
}

// isOperatorError tells failures that retrying cannot fix.
func isOperatorError(err error) bool {
	return errors.Is(err, store.ErrInvalidConfig) || errors.Is(err, ErrBadPlugin) || errors.Is(err, errChecksum) || errors.Is(err, plugin.ErrChecksumsDoNotMatch)
}

// DefaultStore returns the id of the default store.
func (h *Host) DefaultStore() string { return h.defaultID }

// Store returns the store with the given id.
func (h *Host) Store(id string) (store.Backend, error) {
	m, ok := h.stores[id]
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrUnknownStore, id)
	}
	return m, nil
}

// Managed returns the supervised store with the given id, for operational
// detail (pid, restarts, health).
func (h *Host) Managed(id string) (*Managed, bool) {
	m, ok := h.stores[id]
	return m, ok
}

// IDs returns the store ids in sorted order.
func (h *Host) IDs() []string {
	ids := make([]string, 0, len(h.stores))
	for id := range h.stores {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// Health returns each store's health: nil when ready.
func (h *Host) Health() map[string]error {
	out := map[string]error{}
	for id, m := range h.stores {
		out[id] = m.Health()
	}
	return out
}

// Close stops admitting calls, drains in-flight ones (bounded by
// DrainTimeout), shuts every plugin down and stops its process.
func (h *Host) Close(ctx context.Context) {
	done := make(chan struct{}, len(h.stores))
	for _, m := range h.stores {
		go func() { m.close(ctx); done <- struct{}{} }()
	}
	for range h.stores {
		<-done
	}
	if h.ownDir != "" {
		os.RemoveAll(h.ownDir)
	}
}

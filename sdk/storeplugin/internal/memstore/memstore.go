// Package memstore is a tiny in-memory store.Backend for the storeplugin
// tests and test plugin. Locations are mem://<image id>.
package memstore

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"regexp"
	"strings"
	"sync"

	"github.com/glance-go/glance/sdk/store"
)

var idRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$`)

// Store keeps objects in a map.
type Store struct {
	mu         sync.Mutex
	configured bool
	objs       map[string][]byte
}

// New returns an empty, unconfigured Store.
func New() *Store { return &Store{objs: map[string][]byte{}} }

// Info implements store.Backend.
func (s *Store) Info() store.Info {
	return store.Info{
		Name:        "memory",
		Version:     "0.1.0",
		Schemes:     []string{"mem"},
		Description: "in-memory test store",
		ConfigSchema: store.Schema{Attributes: []store.Attribute{
			{Name: "label", Type: store.TypeString, Description: "a free label"},
		}},
	}
}

// Configure implements store.Backend.
func (s *Store) Configure(_ context.Context, cfg store.Config) (store.Capabilities, error) {
	var c struct {
		Label string `json:"label"`
	}
	if err := cfg.Decode(&c); err != nil {
		return store.Capabilities{}, err
	}
	s.mu.Lock()
	s.configured = true
	s.mu.Unlock()
	return store.Capabilities{Read: true, ReadRange: true, Write: true, WriteUnknownSize: true, Delete: true, ConcurrentSafe: true}, nil
}

// Probe implements store.Backend.
func (s *Store) Probe(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.configured {
		return fmt.Errorf("%w: not configured yet", store.ErrNotReady)
	}
	return nil
}

func (s *Store) key(location string) (string, error) {
	id, ok := strings.CutPrefix(location, "mem://")
	if !ok || !idRE.MatchString(id) {
		return "", fmt.Errorf("%w: %q", store.ErrInvalidLocation, location)
	}
	return id, nil
}

// Put implements store.Backend.
func (s *Store) Put(_ context.Context, req store.PutRequest, body io.Reader) (store.PutResult, error) {
	if !idRE.MatchString(req.ImageID) {
		return store.PutResult{}, fmt.Errorf("%w: image id %q", store.ErrInvalidArgument, req.ImageID)
	}
	s.mu.Lock()
	_, exists := s.objs[req.ImageID]
	s.mu.Unlock()
	if exists {
		return store.PutResult{}, fmt.Errorf("%w: image %s", store.ErrAlreadyExists, req.ImageID)
	}
	var buf bytes.Buffer
	if _, err := io.Copy(&buf, body); err != nil {
		return store.PutResult{}, err
	}
	if req.Size >= 0 && int64(buf.Len()) != req.Size {
		return store.PutResult{}, fmt.Errorf("%w: got %d bytes, expected %d", store.ErrSizeMismatch, buf.Len(), req.Size)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, exists := s.objs[req.ImageID]; exists {
		return store.PutResult{}, fmt.Errorf("%w: image %s", store.ErrAlreadyExists, req.ImageID)
	}
	s.objs[req.ImageID] = buf.Bytes()
	return store.PutResult{Location: "mem://" + req.ImageID, Size: int64(buf.Len())}, nil
}

func (s *Store) get(location string) ([]byte, error) {
	id, err := s.key(location)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.objs[id]
	if !ok {
		return nil, fmt.Errorf("%w: %s", store.ErrNotFound, location)
	}
	return b, nil
}

// Get implements store.Backend.
func (s *Store) Get(_ context.Context, location string, r store.Range) (io.ReadCloser, store.ObjectInfo, error) {
	b, err := s.get(location)
	if err != nil {
		return nil, store.ObjectInfo{}, err
	}
	size := int64(len(b))
	if r.Offset < 0 || r.Offset > size {
		return nil, store.ObjectInfo{}, fmt.Errorf("%w: offset %d of %d bytes", store.ErrOutOfRange, r.Offset, size)
	}
	end := size
	if r.Length >= 0 && r.Offset+r.Length < size {
		end = r.Offset + r.Length
	}
	return io.NopCloser(bytes.NewReader(b[r.Offset:end])), store.ObjectInfo{Size: size}, nil
}

// Stat implements store.Backend.
func (s *Store) Stat(_ context.Context, location string) (store.ObjectInfo, error) {
	b, err := s.get(location)
	if err != nil {
		return store.ObjectInfo{}, err
	}
	return store.ObjectInfo{Size: int64(len(b))}, nil
}

// Delete implements store.Backend.
func (s *Store) Delete(_ context.Context, location string) error {
	id, err := s.key(location)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.objs, id)
	return nil
}

// Len returns the number of objects stored.
func (s *Store) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.objs)
}

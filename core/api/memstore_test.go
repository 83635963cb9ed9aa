package api

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/glance-go/glance/sdk/store"
)

// memStore is an in-memory store.Backend for the API tests. With dir set it
// keeps objects as files and implements store.LocalFiler.
type memStore struct {
	id  string
	dir string // "" : memory only

	mu      sync.Mutex
	objects map[string][]byte // location → data (memory mode)
	gets    int               // Get calls
	puts    int

	// Failure injection: after failAfter bytes, Put fails with failErr.
	failAfter int64
	failErr   error
	// putGate, when set, is waited for after the body was read and before
	// Put returns (to race things against an upload).
	putGate chan struct{}
	// putStarted is signalled when a Put begins.
	putStarted chan struct{}
}

func newMemStore(id, dir string) *memStore {
	return &memStore{id: id, dir: dir, objects: map[string][]byte{}, failAfter: -1}
}

func (m *memStore) Info() store.Info {
	return store.Info{Name: "mem", Version: "0", Schemes: []string{"mem"}}
}
func (m *memStore) Configure(context.Context, store.Config) (store.Capabilities, error) {
	return store.Capabilities{Read: true, ReadRange: true, Write: true, WriteUnknownSize: true, Delete: true, ConcurrentSafe: true}, nil
}
func (m *memStore) Probe(context.Context) error { return nil }

func (m *memStore) location(id string) string { return "mem://" + m.id + "/" + id }

func (m *memStore) path(loc string) (string, error) {
	id, ok := strings.CutPrefix(loc, "mem://"+m.id+"/")
	if !ok || strings.Contains(id, "/") {
		return "", fmt.Errorf("%w: %s", store.ErrInvalidLocation, loc)
	}
	return filepath.Join(m.dir, id), nil
}

func (m *memStore) Put(ctx context.Context, req store.PutRequest, body io.Reader) (store.PutResult, error) {
	m.mu.Lock()
	m.puts++
	started := m.putStarted
	m.mu.Unlock()
	if started != nil {
		started <- struct{}{}
	}
	loc := m.location(req.ImageID)
	if m.has(loc) {
		return store.PutResult{}, fmt.Errorf("%w: %s", store.ErrAlreadyExists, req.ImageID)
	}
	var buf bytes.Buffer
	var err error
	if m.failAfter >= 0 {
		_, err = io.CopyN(&buf, body, m.failAfter)
		if err == nil {
			err = m.failErr
		}
	} else {
		_, err = io.Copy(&buf, body) // uses the reader's WriteTo
	}
	if err != nil {
		return store.PutResult{}, fmt.Errorf("%w: %w", store.ErrAborted, err)
	}
	if req.Size >= 0 && int64(buf.Len()) != req.Size {
		return store.PutResult{}, fmt.Errorf("%w: got %d, want %d", store.ErrSizeMismatch, buf.Len(), req.Size)
	}
	if m.putGate != nil {
		select {
		case <-m.putGate:
		case <-ctx.Done():
			return store.PutResult{}, fmt.Errorf("%w: %w", store.ErrAborted, ctx.Err())
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.dir != "" {
		p, _ := m.path(loc)
		if err := os.WriteFile(p, buf.Bytes(), 0o600); err != nil {
			return store.PutResult{}, err
		}
	} else {
		m.objects[loc] = buf.Bytes()
	}
	return store.PutResult{Location: loc, Size: int64(buf.Len()), Metadata: map[string]string{"kind": "mem"}}, nil
}

func (m *memStore) has(loc string) bool {
	_, err := m.read(loc)
	return err == nil
}

func (m *memStore) read(loc string) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.dir != "" {
		p, err := m.path(loc)
		if err != nil {
			return nil, err
		}
		b, err := os.ReadFile(p)
		if os.IsNotExist(err) {
			return nil, fmt.Errorf("%w: %s", store.ErrNotFound, loc)
		}
		return b, err
	}
	b, ok := m.objects[loc]
	if !ok {
		return nil, fmt.Errorf("%w: %s", store.ErrNotFound, loc)
	}
	return b, nil
}

func (m *memStore) Get(ctx context.Context, loc string, r store.Range) (io.ReadCloser, store.ObjectInfo, error) {
	m.mu.Lock()
	m.gets++
	m.mu.Unlock()
	b, err := m.read(loc)
	if err != nil {
		return nil, store.ObjectInfo{}, err
	}
	if r.Offset > int64(len(b)) {
		return nil, store.ObjectInfo{}, store.ErrOutOfRange
	}
	part := b[r.Offset:]
	if r.Length >= 0 && r.Length < int64(len(part)) {
		part = part[:r.Length]
	}
	return io.NopCloser(bytes.NewReader(part)), store.ObjectInfo{Size: int64(len(b))}, nil
}

func (m *memStore) Stat(ctx context.Context, loc string) (store.ObjectInfo, error) {
	b, err := m.read(loc)
	return store.ObjectInfo{Size: int64(len(b))}, err
}

func (m *memStore) Delete(ctx context.Context, loc string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.dir != "" {
		p, err := m.path(loc)
		if err != nil {
			return err
		}
		if err := os.Remove(p); err != nil && !os.IsNotExist(err) {
			return err
		}
		return nil
	}
	delete(m.objects, loc)
	return nil
}

// keys lists the stored objects.
func (m *memStore) keys() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	if m.dir != "" {
		entries, _ := os.ReadDir(m.dir)
		for _, e := range entries {
			out = append(out, e.Name())
		}
	} else {
		for k := range m.objects {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

func (m *memStore) getCalls() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.gets
}

// fileStore is a memStore on disk that offers its files (store.LocalFiler).
type fileStore struct{ *memStore }

func (f fileStore) LocalFile(ctx context.Context, loc string) (string, error) {
	p, err := f.path(loc)
	if err != nil {
		return "", err
	}
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("%w: %s", store.ErrNotFound, loc)
	}
	return p, nil
}

// testStores is an api.Stores over a fixed map.
type testStores struct {
	def string
	m   map[string]store.Backend
}

func (s *testStores) DefaultStore() string { return s.def }

func (s *testStores) Store(id string) (store.Backend, error) {
	b, ok := s.m[id]
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrUnknownStore, id)
	}
	return b, nil
}

func (s *testStores) IDs() []string {
	var ids []string
	for id := range s.m {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

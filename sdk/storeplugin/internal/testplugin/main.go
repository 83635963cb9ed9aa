// Command testplugin is the store plugin the storeplugin tests build and
// run: the in-memory store, plus the location mem://block whose reader
// sends 1.5 MiB and then blocks until the call is cancelled.
package main

import (
	"context"
	"io"

	"github.com/hashicorp/go-hclog"

	"github.com/glance-go/glance/sdk/store"
	"github.com/glance-go/glance/sdk/storeplugin"
	"github.com/glance-go/glance/sdk/storeplugin/internal/memstore"
)

type testStore struct{ *memstore.Store }

func (s testStore) Get(ctx context.Context, location string, r store.Range) (io.ReadCloser, store.ObjectInfo, error) {
	if location != "mem://block" {
		return s.Store.Get(ctx, location, r)
	}
	return io.NopCloser(&blockingReader{ctx: ctx, left: 3 << 19}), store.ObjectInfo{Size: 1 << 30}, nil
}

type blockingReader struct {
	ctx  context.Context
	left int
}

func (b *blockingReader) Read(p []byte) (int, error) {
	if b.left == 0 {
		<-b.ctx.Done()
		return 0, b.ctx.Err()
	}
	n := min(len(p), b.left)
	clear(p[:n])
	b.left -= n
	return n, nil
}

func main() {
	storeplugin.Serve(storeplugin.ServeConfig{New: func(hclog.Logger) (store.Backend, error) {
		return testStore{memstore.New()}, nil
	}})
}

package storeplugin

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"

	"github.com/glance-go/glance/sdk/store"
	"github.com/glance-go/glance/sdk/storeplugin/internal/memstore"
)

// ServeConfigFor serves in-process under go-plugin's test mode, and a
// go-plugin client reattaches to it.
func TestServeConfigFor(t *testing.T) {
	sc, err := ServeConfigFor(ServeConfig{New: func(hclog.Logger) (store.Backend, error) { return newRecorder(), nil }})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	reattach := make(chan *plugin.ReattachConfig, 1)
	closed := make(chan struct{})
	sc.Test = &plugin.ServeTestConfig{Context: ctx, ReattachConfigCh: reattach, CloseCh: closed}
	go plugin.Serve(sc)
	defer func() { cancel(); <-closed }()

	pc := plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig:  Handshake,
		Plugins:          plugin.PluginSet{PluginName: &grpcPlugin{}}, // reattach ignores VersionedPlugins
		Reattach:         <-reattach,
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		Logger:           hclog.NewNullLogger(),
	})
	rpc, err := pc.Client()
	if err != nil {
		t.Fatal(err)
	}
	defer rpc.Close()
	raw, err := rpc.Dispense(PluginName)
	if err != nil {
		t.Fatal(err)
	}
	d := raw.(*dispensed)
	c := newClient("test", d.conn, d.done, 0, pc.Exited, func() {})
	if err := c.loadInfo(ctx); err != nil || c.Info().Name != "memory" {
		t.Fatalf("info %+v, %v", c.Info(), err)
	}
	if _, err := c.Configure(ctx, store.Config{}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Put(ctx, store.PutRequest{ImageID: "x", Size: 3}, strings.NewReader("abc")); err != nil {
		t.Fatal(err)
	}
	rc, _, err := c.Get(ctx, "mem://x", store.Whole)
	if err != nil {
		t.Fatal(err)
	}
	if b, err := io.ReadAll(rc); err != nil || string(b) != "abc" {
		t.Fatalf("%q %v", b, err)
	}
}

func TestServeConfigForErrors(t *testing.T) {
	if _, err := ServeConfigFor(ServeConfig{}); err == nil {
		t.Fatal("no New: no error")
	}
	if _, err := ServeConfigFor(ServeConfig{New: func(hclog.Logger) (store.Backend, error) { return nil, nil }}); err == nil {
		t.Fatal("nil backend: no error")
	}
}

func TestDescribeFunc(t *testing.T) {
	var out, errOut bytes.Buffer
	code := describe(ServeConfig{New: func(hclog.Logger) (store.Backend, error) { return memstore.New(), nil }}, &out, &errOut)
	if code != 0 || !strings.Contains(out.String(), `"name": "memory"`) || !strings.Contains(out.String(), `"protocol_minor": 1`) {
		t.Fatalf("code %d, out %s, err %s", code, out.String(), errOut.String())
	}
}

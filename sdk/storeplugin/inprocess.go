package storeplugin

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/glance-go/glance/sdk/store"
)

// NewInProcess serves b inside this process over a real gRPC connection on
// a private unix socket, with the same server options, adapters and client
// as a plugin process, and returns the connected Client. It is meant for
// tests (storetest.RunGRPC) and for debugging a store without a binary.
// Kill stops the server; Pid is this process.
func NewInProcess(b store.Backend, logger hclog.Logger) (*Client, error) {
	if logger == nil {
		logger = hclog.NewNullLogger()
	}
	dir, err := os.MkdirTemp("", "gsp")
	if err != nil {
		return nil, fmt.Errorf("storeplugin: in-process socket directory: %w", err)
	}
	sock := filepath.Join(dir, "s")
	lis, err := net.Listen("unix", sock)
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("storeplugin: in-process listener: %w", err)
	}
	var inflight sync.WaitGroup
	g := grpc.NewServer(serverOptions(logger, &inflight)...)
	newServer(b, logger).register(g)
	go func() { _ = g.Serve(lis) }()

	conn, err := grpc.NewClient("unix://"+sock,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(MaxMessageSize), grpc.MaxCallSendMsgSize(MaxMessageSize)),
	)
	if err != nil {
		g.Stop()
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("storeplugin: in-process client: %w", err)
	}
	done := make(chan struct{})
	var once sync.Once
	kill := func() {
		once.Do(func() {
			_ = conn.Close()
			g.Stop()
			_ = os.RemoveAll(dir)
			close(done)
		})
	}
	exited := func() bool {
		select {
		case <-done:
			return true
		default:
			return false
		}
	}
	c := newClient("in-process", conn, done, os.Getpid(), exited, kill)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.loadInfo(ctx); err != nil {
		kill()
		return nil, err
	}
	return c, nil
}

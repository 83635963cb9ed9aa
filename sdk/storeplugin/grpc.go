package storeplugin

import (
	"context"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/glance-go/glance/sdk/internal/gen/storev1"
)

// MaxMessageSize is the gRPC message limit both sides set explicitly, for
// receiving and sending. gRPC's own server default (4 MiB) is too small for
// a 4 MiB chunk plus framing.
const MaxMessageSize = 16 << 20

// messageOverhead is what a chunk leaves free in a message for framing.
const messageOverhead = 64 << 10

// storeMethodPrefix selects the calls the SDK owns, as opposed to go-plugin's
// own services (health, broker, stdio, controller).
const storeMethodPrefix = "/glance.store.v1."

// grpcPlugin is the go-plugin GRPCPlugin for the store protocol. On the
// plugin side it registers the adapter around a Backend; on the host side it
// hands back the connection and go-plugin's exit context.
type grpcPlugin struct {
	plugin.NetRPCUnsupportedPlugin
	srv *server // plugin side only
}

var _ plugin.GRPCPlugin = (*grpcPlugin)(nil)

func (p *grpcPlugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	p.srv.register(s)
	return nil
}

// dispensed is what the host gets from go-plugin's Dispense.
type dispensed struct {
	conn *grpc.ClientConn
	done <-chan struct{}
}

func (p *grpcPlugin) GRPCClient(ctx context.Context, _ *plugin.GRPCBroker, conn *grpc.ClientConn) (any, error) {
	return &dispensed{conn: conn, done: ctx.Done()}, nil
}

// serverOptions are the options of every gRPC server the SDK builds: explicit
// message limits and an interceptor that turns a panic in one call into an
// INTERNAL status, so the process keeps serving the others, and counts the
// store calls in flight.
func serverOptions(logger hclog.Logger, inflight *sync.WaitGroup) []grpc.ServerOption {
	return []grpc.ServerOption{
		grpc.MaxRecvMsgSize(MaxMessageSize),
		grpc.MaxSendMsgSize(MaxMessageSize),
		grpc.ChainUnaryInterceptor(func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (resp any, err error) {
			if strings.HasPrefix(info.FullMethod, storeMethodPrefix) {
				inflight.Add(1)
				defer inflight.Done()
			}
			defer recoverCall(logger, info.FullMethod, &err)
			return h(ctx, req)
		}),
		grpc.ChainStreamInterceptor(func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) (err error) {
			if strings.HasPrefix(info.FullMethod, storeMethodPrefix) {
				inflight.Add(1)
				defer inflight.Done()
			}
			defer recoverCall(logger, info.FullMethod, &err)
			return h(srv, ss)
		}),
	}
}

func recoverCall(logger hclog.Logger, method string, err *error) {
	if r := recover(); r != nil {
		logger.Error("panic in store call", "method", method, "panic", r, "stack", string(debug.Stack()))
		*err = status.Errorf(codes.Internal, "store plugin panic in %s: %v", method, r)
	}
}

// waitInflight waits up to d for the store calls in flight to return.
func waitInflight(wg *sync.WaitGroup, d time.Duration) bool {
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-done:
		return true
	case <-t.C:
		return false
	}
}

// register adds both protocol services to s.
func (s *server) register(g *grpc.Server) {
	storev1.RegisterIdentityServiceServer(g, identityServer{server: s})
	storev1.RegisterStoreServiceServer(g, storeServer{server: s})
}

package testsupport

import (
	"context"
	"net"
	"testing"
	"time"

	"go.opentelemetry.io/otel/trace/noop"
	"google.golang.org/grpc"
	"google.golang.org/grpc/test/bufconn"

	"github.com/vcci-dev/vcci/pkg/grpcclient"
)

// Serve serves s on a free loopback port until the test ends, and returns
// its address: a fake peer, or a server with interceptors of the test's.
func Serve(t testing.TB, s *grpc.Server) string {
	t.Helper()
	lis := listen(t)
	serveUntilCleanup(t, s, lis)
	return lis.Addr().String()
}

// serveUntilCleanup serves s on lis until the test ends; Serve failing
// other than by the Stop at the end fails the test.
func serveUntilCleanup(t testing.TB, s *grpc.Server, lis net.Listener) {
	served := make(chan error, 1)
	go func() { served <- s.Serve(lis) }()
	t.Cleanup(func() {
		s.Stop()
		if err := <-served; err != nil {
			t.Errorf("testsupport: serve: %v", err)
		}
	})
}

// Runner is a server that serves lis until ctx is done and then shuts down
// within grace, as *grpcserver.Server does (declared here so that
// grpcserver's own tests can use this package).
type Runner interface {
	Run(ctx context.Context, lis, metricsLis net.Listener, grace time.Duration) error
}

// Start runs r on a free loopback port, without a metrics listener, and
// returns its address; when the test ends r is told to stop and awaited.
func Start(t testing.TB, r Runner) string {
	t.Helper()
	lis := listen(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx, lis, nil, time.Second) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("testsupport: run: %v", err)
		}
	})
	return lis.Addr().String()
}

// Dial connects to addr as the services connect to each other (through
// pkg/grpcclient, so a call made for an authenticated caller passes the
// caller on), untraced; the connection is closed when the test ends.
func Dial(t testing.TB, addr string) *grpc.ClientConn {
	t.Helper()
	return dialWith(t, addr)
}

// dialWith is Dial with grpcclient options added.
func dialWith(t testing.TB, addr string, opts ...grpcclient.Option) *grpc.ClientConn {
	t.Helper()
	cc, err := grpcclient.Dial(addr, noop.NewTracerProvider(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	return cc
}

// ServeInMemory serves s over an in-memory listener until the test ends and
// returns a connection to it, as Dial makes them.
func ServeInMemory(t testing.TB, s *grpc.Server) *grpc.ClientConn {
	t.Helper()
	lis := bufconn.Listen(1 << 20)
	serveUntilCleanup(t, s, lis)
	return dialWith(t, "passthrough:///bufconn", grpcclient.WithDialOptions(
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) })))
}

func listen(t testing.TB) net.Listener {
	t.Helper()
	var lc net.ListenConfig
	lis, err := lc.Listen(t.Context(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return lis
}

// DialAsService is Dial as a service dials its peers: a call made for a
// tenant travels as the platform, with token, acting for it.
func DialAsService(t testing.TB, addr, token string) *grpc.ClientConn {
	t.Helper()
	return dialWith(t, addr, grpcclient.AsServiceFrom(func(context.Context) string { return token }))
}

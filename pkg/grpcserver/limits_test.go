package grpcserver_test

import (
	"context"
	"log/slog"
	"net"
	"testing"
	"time"

	"go.opentelemetry.io/otel/trace/noop"
	"golang.org/x/net/http2"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/vcci-dev/vcci/pkg/grpcclient"
	"github.com/vcci-dev/vcci/pkg/grpcserver"
	"github.com/vcci-dev/vcci/pkg/testsupport"
)

// serve runs a bare server with o's limits on a loopback port.
func serve(t *testing.T, o grpcserver.Options) string {
	t.Helper()
	o.Name, o.Log, o.TracerProvider, o.Auth = "test", slog.New(slog.DiscardHandler), noop.NewTracerProvider(), keys{}
	return testsupport.Serve(t, grpcserver.New(o).GRPC)
}

// A connection holds at most MaxConcurrentStreams calls at once: the next
// waits for one of them to end.
func TestTheStreamCapHolds(t *testing.T) {
	hc := healthpb.NewHealthClient(testsupport.Dial(t, serve(t, grpcserver.Options{MaxConcurrentStreams: 2})))
	// A Watch stays open until its context ends.
	watch := func(ctx context.Context) error {
		s, err := hc.Watch(ctx, &healthpb.HealthCheckRequest{})
		if err != nil {
			return err
		}
		_, err = s.Recv()
		return err
	}
	first, stopFirst := context.WithCancel(context.Background())
	defer stopFirst()
	second, stopSecond := context.WithCancel(context.Background())
	defer stopSecond()
	for _, ctx := range []context.Context{first, second} {
		if err := watch(ctx); err != nil {
			t.Fatal(err)
		}
	}
	third, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if err := watch(third); status.Code(err) != codes.DeadlineExceeded {
		t.Fatalf("a third stream over a cap of two: %v, want DeadlineExceeded", err)
	}
	stopFirst()
	fourth, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := watch(fourth); err != nil {
		t.Fatalf("a stream after one ended: %v", err)
	}
}

// A client that pings more often than the policy allows is sent GOAWAY
// (ENHANCE_YOUR_CALM, "too_many_pings"); grpcclient pings within it.
func TestAClientPingingTooOftenIsSentAway(t *testing.T) {
	client, policy := grpcclient.KeepaliveParams(), grpcserver.KeepalivePolicy()
	if client.Time < policy.MinTime || client.PermitWithoutStream && !policy.PermitWithoutStream {
		t.Fatalf("grpcclient's keepalive %+v breaks the servers' policy %+v", client, policy)
	}
	conn, err := net.Dial("tcp", serve(t, grpcserver.Options{}))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Write([]byte(http2.ClientPreface)); err != nil {
		t.Fatal(err)
	}
	fr := http2.NewFramer(conn, conn)
	if err := fr.WriteSettings(); err != nil {
		t.Fatal(err)
	}
	// The server forgives two pings too soon; the fourth in a row is one too many.
	for i := range 4 {
		if err := fr.WritePing(false, [8]byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
	}
	for {
		f, err := fr.ReadFrame()
		if err != nil {
			t.Fatalf("no GOAWAY before %v", err)
		}
		if ga, ok := f.(*http2.GoAwayFrame); ok {
			if ga.ErrCode != http2.ErrCodeEnhanceYourCalm || string(ga.DebugData()) != "too_many_pings" {
				t.Fatalf("GOAWAY %v %q, want ENHANCE_YOUR_CALM too_many_pings", ga.ErrCode, ga.DebugData())
			}
			return
		}
	}
}

package grpcclient_test

import (
	"context"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/trace/noop"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/status"

	"github.com/vcci-dev/vcci/pkg/grpcclient"
	"github.com/vcci-dev/vcci/pkg/testsupport"
)

// peer reports the deadline each call arrives with (0: none); UnaryCall
// hangs until its deadline, StreamingInputCall until the client is done
// sending.
type peer struct {
	testpb.UnimplementedTestServiceServer
	mu   sync.Mutex
	left time.Duration
}

func (p *peer) seen(ctx context.Context) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.left = 0
	if dl, ok := ctx.Deadline(); ok {
		p.left = time.Until(dl)
	}
}

func (p *peer) EmptyCall(ctx context.Context, _ *testpb.Empty) (*testpb.Empty, error) {
	p.seen(ctx)
	return &testpb.Empty{}, nil
}

func (p *peer) UnaryCall(ctx context.Context, _ *testpb.SimpleRequest) (*testpb.SimpleResponse, error) {
	p.seen(ctx)
	<-ctx.Done()
	return nil, ctx.Err()
}

func (p *peer) StreamingInputCall(s grpc.ClientStreamingServer[testpb.StreamingInputCallRequest, testpb.StreamingInputCallResponse]) error {
	p.seen(s.Context())
	for {
		if _, err := s.Recv(); errors.Is(err, io.EOF) {
			return s.SendAndClose(&testpb.StreamingInputCallResponse{})
		} else if err != nil {
			return err
		}
	}
}

func dial(t *testing.T, p *peer, opts ...grpcclient.Option) testpb.TestServiceClient {
	t.Helper()
	srv := grpc.NewServer()
	testpb.RegisterTestServiceServer(srv, p)
	cc, err := grpcclient.Dial(testsupport.Serve(t, srv), noop.NewTracerProvider(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	return testpb.NewTestServiceClient(cc)
}

func (p *peer) deadline() time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.left
}

func TestCallsWithoutADeadlineGetOne(t *testing.T) {
	ctx := context.Background()
	p := &peer{}
	client := dial(t, p, grpcclient.WithTimeouts(grpcclient.Timeouts{Unary: 300 * time.Millisecond, Stream: 500 * time.Millisecond}))

	start := time.Now()
	_, err := client.UnaryCall(ctx, &testpb.SimpleRequest{})
	if status.Code(err) != codes.DeadlineExceeded || time.Since(start) > 5*time.Second {
		t.Fatalf("a call to a peer that hangs: %v after %v, want DeadlineExceeded after 300ms", err, time.Since(start))
	}
	if d := p.deadline(); d <= 0 || d > 300*time.Millisecond {
		t.Fatalf("the peer saw a deadline %v away, want at most 300ms", d)
	}
	// The caller's own deadline stands, longer or not.
	cctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if _, err := client.EmptyCall(cctx, &testpb.Empty{}); err != nil {
		t.Fatal(err)
	}
	if d := p.deadline(); d < 50*time.Second {
		t.Fatalf("the peer saw a deadline %v away, want the caller's minute", d)
	}

	// A stream without a deadline ends at the stream timeout.
	stream, err := client.StreamingInputCall(ctx)
	if err != nil {
		t.Fatal(err)
	}
	start = time.Now()
	err = stream.RecvMsg(new(testpb.StreamingInputCallResponse)) // still sending: the peer waits for more
	if status.Code(err) != codes.DeadlineExceeded || time.Since(start) > 5*time.Second {
		t.Fatalf("a stream to a peer that waits: %v after %v, want DeadlineExceeded after 500ms", err, time.Since(start))
	}
	// One that ends in time answers.
	stream, err = client.StreamingInputCall(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := stream.CloseAndRecv(); err != nil {
		t.Fatalf("a stream that ends: %v", err)
	}
	if d := p.deadline(); d <= 0 || d > 500*time.Millisecond {
		t.Fatalf("the peer saw a stream deadline %v away, want at most 500ms", d)
	}
}

func TestDefaultAndNoCallTimeouts(t *testing.T) {
	p := &peer{}
	if _, err := dial(t, p).EmptyCall(context.Background(), &testpb.Empty{}); err != nil {
		t.Fatal(err)
	}
	if d := p.deadline(); d < 25*time.Second || d > 30*time.Second {
		t.Fatalf("default: the peer saw a deadline %v away, want 30s", d)
	}
	if _, err := dial(t, p, grpcclient.WithTimeouts(grpcclient.Timeouts{})).EmptyCall(context.Background(), &testpb.Empty{}); err != nil {
		t.Fatal(err)
	}
	if d := p.deadline(); d != 0 {
		t.Fatalf("no timeouts: the peer saw a deadline %v away", d)
	}
}

func TestLoadTimeouts(t *testing.T) {
	t.Setenv("GRPC_CALL_TIMEOUT", "")
	t.Setenv("GRPC_STREAM_TIMEOUT", "")
	if got, err := grpcclient.LoadTimeouts(); err != nil || got != grpcclient.DefaultTimeouts() {
		t.Fatalf("unset: %+v, %v", got, err)
	}
	t.Setenv("GRPC_CALL_TIMEOUT", "5s")
	t.Setenv("GRPC_STREAM_TIMEOUT", "0")
	if got, err := grpcclient.LoadTimeouts(); err != nil || got != (grpcclient.Timeouts{Unary: 5 * time.Second}) {
		t.Fatalf("set: %+v, %v", got, err)
	}
	t.Setenv("GRPC_STREAM_TIMEOUT", "-1m")
	if _, err := grpcclient.LoadTimeouts(); err == nil || !strings.Contains(err.Error(), "GRPC_STREAM_TIMEOUT") {
		t.Fatalf("negative: %v, want an error naming GRPC_STREAM_TIMEOUT", err)
	}
}

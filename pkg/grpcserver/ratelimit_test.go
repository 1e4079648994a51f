package grpcserver_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.opentelemetry.io/otel/trace/noop"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/vcci-dev/vcci/pkg/grpcserver"
	"github.com/vcci-dev/vcci/pkg/ratelimit"
	"github.com/vcci-dev/vcci/pkg/tenancy"
	"github.com/vcci-dev/vcci/pkg/testsupport"
)

var tenant = uuid.MustParse("8d6f3f0e-7c1a-4d55-9a3e-2f1b6c0d9e41")

// keys accepts API keys starting "vcci_" and the service token "svc-token".
type keys struct{}

func (keys) Authenticate(_ context.Context, key string) (uuid.UUID, error) {
	if !strings.HasPrefix(key, "vcci_") {
		return uuid.Nil, tenancy.ErrBadKey
	}
	return tenant, nil
}

func (keys) AuthenticateService(_ context.Context, token, t string) (uuid.UUID, error) {
	if token != "svc-token" {
		return uuid.Nil, tenancy.ErrBadKey
	}
	return uuid.Parse(t)
}

type testService struct {
	testpb.UnimplementedTestServiceServer
}

func (testService) EmptyCall(context.Context, *testpb.Empty) (*testpb.Empty, error) {
	return &testpb.Empty{}, nil
}

func (testService) StreamingInputCall(stream grpc.ClientStreamingServer[testpb.StreamingInputCallRequest, testpb.StreamingInputCallResponse]) error {
	n := 0
	for {
		req, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return stream.SendAndClose(&testpb.StreamingInputCallResponse{AggregatedPayloadSize: int32(n)})
		}
		if err != nil {
			return err
		}
		n += len(req.GetPayload().GetBody())
	}
}

// start serves the test service behind the shared interceptors, with budgets
// in a private Redis: writes 3 per minute, heavy 2 per minute (per minute, so
// that no token comes back during the test and every figure is exact).
func start(t *testing.T) *grpc.ClientConn {
	t.Helper()
	rdb := testsupport.StartRedis(t).Client()
	cfg := ratelimit.DefaultConfig()
	cfg.Write = ratelimit.Limit{Rate: 3, Period: time.Minute, Burst: 3}
	cfg.Heavy = ratelimit.Limit{Rate: 2, Period: time.Minute, Burst: 2}
	reg := grpcserver.NewRegistry()
	log := slog.New(slog.DiscardHandler)
	srv := grpcserver.New(grpcserver.Options{
		Name: "test", Log: log, TracerProvider: noop.NewTracerProvider(), Auth: keys{}, Registry: reg,
		Limiter: ratelimit.New(rdb, cfg, log, reg),
		Classify: func(method string) ratelimit.Class {
			if method == "/grpc.testing.TestService/StreamingInputCall" {
				return ratelimit.Heavy
			}
			return ratelimit.ClassOf(method)
		},
	})
	testpb.RegisterTestServiceServer(srv.GRPC, testService{})
	return testsupport.ServeInMemory(t, srv.GRPC)
}

// ratelimitHeaders is the x-ratelimit-* and retry-after part of md, in a
// fixed order.
func ratelimitHeaders(md metadata.MD) string {
	var out []string
	for _, k := range []string{"x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset", "retry-after"} {
		if v := md.Get(k); len(v) > 0 {
			out = append(out, k+"="+strings.Join(v, ","))
		}
	}
	return strings.Join(out, " ")
}

func TestAPIKeyCallsAreLimited(t *testing.T) {
	client := testpb.NewTestServiceClient(start(t))
	ctx := testsupport.WithKey("vcci_key_a")

	// 3 per minute: a token every 20s, so the bucket is full again 20s per
	// request spent after the last request.
	for i, want := range []string{
		"x-ratelimit-limit=3 x-ratelimit-remaining=2 x-ratelimit-reset=20",
		"x-ratelimit-limit=3 x-ratelimit-remaining=1 x-ratelimit-reset=40",
		"x-ratelimit-limit=3 x-ratelimit-remaining=0 x-ratelimit-reset=60",
	} {
		var hdr metadata.MD
		if _, err := client.EmptyCall(ctx, &testpb.Empty{}, grpc.Header(&hdr)); err != nil {
			t.Fatalf("call %d: %v", i+1, err)
		}
		if got := ratelimitHeaders(hdr); got != want {
			t.Fatalf("call %d: headers %q, want %q", i+1, got, want)
		}
	}

	var hdr metadata.MD
	_, err := client.EmptyCall(ctx, &testpb.Empty{}, grpc.Header(&hdr))
	st := status.Convert(err)
	if st.Code() != codes.ResourceExhausted || st.Message() != "rate limit exceeded for write requests: 3 per 1m (burst 3); retry after 20s" {
		t.Fatalf("call 4: %v %q", st.Code(), st.Message())
	}
	if got, want := ratelimitHeaders(hdr), "x-ratelimit-limit=3 x-ratelimit-remaining=0 x-ratelimit-reset=60 retry-after=20"; got != want {
		t.Fatalf("call 4: headers %q, want %q", got, want)
	}
	if len(st.Details()) != 1 {
		t.Fatalf("call 4: details %v, want one RetryInfo", st.Details())
	}
	ri, ok := st.Details()[0].(*errdetails.RetryInfo)
	if d := ri.GetRetryDelay().AsDuration(); !ok || d <= 19*time.Second || d > 20*time.Second {
		t.Fatalf("call 4: details %v, want RetryInfo with a delay in (19s, 20s]", st.Details())
	}

	// Another key has its own budget, and reads are a separate budget.
	var other metadata.MD
	if _, err := client.EmptyCall(testsupport.WithKey("vcci_key_b"), &testpb.Empty{}, grpc.Header(&other)); err != nil {
		t.Fatalf("other key: %v", err)
	}
	if got := other.Get("x-ratelimit-remaining"); len(got) != 1 || got[0] != "2" {
		t.Fatalf("other key: remaining %v, want 2", got)
	}

	// A rejected key is turned away before it can spend anyone's budget.
	hdr = nil
	_, err = client.EmptyCall(testsupport.WithKey("not-a-key"), &testpb.Empty{}, grpc.Header(&hdr))
	if status.Code(err) != codes.Unauthenticated || ratelimitHeaders(hdr) != "" {
		t.Fatalf("bad key: %v, headers %v", err, hdr)
	}
}

func TestStreamsAreLimited(t *testing.T) {
	client := testpb.NewTestServiceClient(start(t))
	upload := func() (metadata.MD, error) {
		stream, err := client.StreamingInputCall(testsupport.WithKey("vcci_key_stream"))
		if err != nil {
			return nil, err
		}
		if err := stream.Send(&testpb.StreamingInputCallRequest{Payload: &testpb.Payload{Body: []byte("abc")}}); err != nil && !errors.Is(err, io.EOF) {
			return nil, err
		}
		resp, err := stream.CloseAndRecv()
		hdr, _ := stream.Header()
		if err == nil && resp.GetAggregatedPayloadSize() != 3 {
			t.Fatalf("payload size %d, want 3", resp.GetAggregatedPayloadSize())
		}
		return hdr, err
	}
	for i, want := range []string{
		"x-ratelimit-limit=2 x-ratelimit-remaining=1 x-ratelimit-reset=30",
		"x-ratelimit-limit=2 x-ratelimit-remaining=0 x-ratelimit-reset=60",
	} {
		hdr, err := upload()
		if err != nil {
			t.Fatalf("stream %d: %v", i+1, err)
		}
		if got := ratelimitHeaders(hdr); got != want {
			t.Fatalf("stream %d: headers %q, want %q", i+1, got, want)
		}
	}
	hdr, err := upload()
	st := status.Convert(err)
	if st.Code() != codes.ResourceExhausted || st.Message() != "rate limit exceeded for heavy requests: 2 per 1m (burst 2); retry after 30s" {
		t.Fatalf("stream 3: %v %q", st.Code(), st.Message())
	}
	if got, want := ratelimitHeaders(hdr), "x-ratelimit-limit=2 x-ratelimit-remaining=0 x-ratelimit-reset=60 retry-after=30"; got != want {
		t.Fatalf("stream 3: headers %q, want %q", got, want)
	}
}

func TestServiceCallsAndHealthAreNotLimited(t *testing.T) {
	cc := start(t)
	client := testpb.NewTestServiceClient(cc)
	svc := metadata.AppendToOutgoingContext(context.Background(), "x-vcci-service-token", "svc-token", "x-vcci-tenant", tenant.String())
	for i := range 10 {
		var hdr metadata.MD
		if _, err := client.EmptyCall(svc, &testpb.Empty{}, grpc.Header(&hdr)); err != nil {
			t.Fatalf("service call %d: %v", i+1, err)
		}
		if got := ratelimitHeaders(hdr); got != "" {
			t.Fatalf("service call %d: headers %q, want none", i+1, got)
		}
	}

	// Health checks carrying a spent key still answer.
	ctx := testsupport.WithKey("vcci_key_health")
	for i := range 3 {
		if _, err := client.EmptyCall(ctx, &testpb.Empty{}); err != nil {
			t.Fatalf("call %d to spend the budget: %v", i+1, err)
		}
	}
	if _, err := client.EmptyCall(ctx, &testpb.Empty{}); status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("4th call: %v, want ResourceExhausted", err)
	}
	hc := healthpb.NewHealthClient(cc)
	for i := range 10 {
		var hdr metadata.MD
		if _, err := hc.Check(ctx, &healthpb.HealthCheckRequest{}, grpc.Header(&hdr)); err != nil {
			t.Fatalf("health check %d: %v", i+1, err)
		}
		if got := ratelimitHeaders(hdr); got != "" {
			t.Fatalf("health check %d: headers %q, want none", i+1, got)
		}
	}
}

// Package grpcclient dials other vcci services: traced with otelgrpc, and
// passing on who the call is for so the callee sees the same tenant: as the
// platform acting for the caller's tenant when the dialling service holds
// the service token (so that one API request is charged to its key's rate
// limit once, where it entered), else by forwarding the caller's API key.
package grpcclient

import (
	"context"
	"fmt"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/metadata"

	"github.com/vcci-dev/vcci/pkg/config"
	"github.com/vcci-dev/vcci/pkg/telemetry"
	"github.com/vcci-dev/vcci/pkg/tenancy"
)

// Option configures Dial.
type Option func(*options)

type options struct {
	serviceToken func(context.Context) string
	timeouts     Timeouts
	dial         []grpc.DialOption
}

// Timeouts are the deadlines a connection gives a call whose context has
// none, so that no call between services waits forever on a peer that
// hung; zero gives none.
type Timeouts struct {
	Unary time.Duration // GRPC_CALL_TIMEOUT
	// Stream bounds a whole stream: an upload streamed through the
	// gateway lasts as long as the client takes to send it.
	Stream time.Duration // GRPC_STREAM_TIMEOUT
}

// DefaultTimeouts are Dial's unless WithTimeouts says otherwise.
func DefaultTimeouts() Timeouts { return Timeouts{Unary: 30 * time.Second, Stream: time.Hour} }

// LoadTimeouts reads GRPC_CALL_TIMEOUT and GRPC_STREAM_TIMEOUT (Go
// durations; 0 gives none) over DefaultTimeouts.
func LoadTimeouts() (Timeouts, error) {
	def := DefaultTimeouts()
	unary, err := config.Timeout("GRPC_CALL_TIMEOUT", def.Unary)
	if err != nil {
		return Timeouts{}, err
	}
	stream, err := config.Timeout("GRPC_STREAM_TIMEOUT", def.Stream)
	if err != nil {
		return Timeouts{}, err
	}
	return Timeouts{Unary: unary, Stream: stream}, nil
}

// WithTimeouts gives calls without a deadline t in place of
// DefaultTimeouts.
func WithTimeouts(t Timeouts) Option { return func(o *options) { o.timeouts = t } }

// KeepaliveParams are every connection's: it pings a peer it has heard
// nothing from for 30 s, calls in flight or not, and gives up on it 10 s
// later, so that a peer gone without closing (a node lost, a network
// partition) fails calls at once rather than after the kernel's TCP
// timeout. The servers' grpcserver.KeepalivePolicy must allow it, or they
// answer with GOAWAY (too_many_pings).
func KeepaliveParams() keepalive.ClientParameters {
	return keepalive.ClientParameters{Time: 30 * time.Second, Timeout: 10 * time.Second, PermitWithoutStream: true}
}

// ConnectParams are every connection's: after a peer goes away it is dialled
// again at most 5 s apart, where gRPC's default backoff grows to 2 min, so
// that calls reach a restarted service within seconds of its return (a
// connection waiting out its backoff fails calls at once, Unavailable).
func ConnectParams() grpc.ConnectParams {
	b := backoff.DefaultConfig
	b.BaseDelay, b.MaxDelay = 250*time.Millisecond, 5*time.Second
	return grpc.ConnectParams{Backoff: b, MinConnectTimeout: 5 * time.Second}
}

// MaxMsgBytes bounds a message either way, as grpcserver.MaxMsgBytes does
// on the servers.
const MaxMsgBytes = 64 << 20

// WithDialOptions adds options to the connection's (after Dial's own).
func WithDialOptions(opts ...grpc.DialOption) Option {
	return func(o *options) { o.dial = append(o.dial, opts...) }
}

// AsService makes calls made for an authenticated caller travel as the
// platform (the service token) acting for the caller's tenant.
func AsService(token string) Option {
	return AsServiceFrom(func(context.Context) string { return token })
}

// AsServiceFrom is AsService with the token read from current at every
// call, so that a rotated token is sent without dialling again. It is sent
// for calls made as the service too (tenancy.AsService), in place of the
// token their context carries.
func AsServiceFrom(current func(context.Context) string) Option {
	return func(o *options) { o.serviceToken = current }
}

// Dial returns a client connection to target ("host:port").
func Dial(target string, tp trace.TracerProvider, opts ...Option) (*grpc.ClientConn, error) {
	o := options{timeouts: DefaultTimeouts()}
	for _, opt := range opts {
		opt(&o)
	}
	forward := func(ctx context.Context) context.Context { return forwardKey(ctx, o.serviceToken) }
	cc, err := grpc.NewClient(target, append([]grpc.DialOption{
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		// Spread calls over every address the name resolves to (a headless
		// Kubernetes Service lists each pod), not just the first.
		grpc.WithDefaultServiceConfig(`{"loadBalancingConfig":[{"round_robin":{}}]}`),
		grpc.WithStatsHandler(otelgrpc.NewClientHandler(
			otelgrpc.WithTracerProvider(tp), otelgrpc.WithPropagators(telemetry.Propagator()))),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(MaxMsgBytes), grpc.MaxCallSendMsgSize(MaxMsgBytes)),
		grpc.WithKeepaliveParams(KeepaliveParams()),
		grpc.WithConnectParams(ConnectParams()),
		grpc.WithChainUnaryInterceptor(func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
			if _, ok := ctx.Deadline(); !ok && o.timeouts.Unary > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, o.timeouts.Unary)
				defer cancel()
			}
			return invoker(forward(ctx), method, req, reply, cc, opts...)
		}),
		grpc.WithChainStreamInterceptor(func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
			if _, ok := ctx.Deadline(); ok || o.timeouts.Stream <= 0 {
				return streamer(forward(ctx), desc, cc, method, opts...)
			}
			ctx, cancel := context.WithTimeout(ctx, o.timeouts.Stream)
			s, err := streamer(forward(ctx), desc, cc, method, opts...)
			if err != nil {
				cancel()
				return nil, err
			}
			return &endingStream{ClientStream: s, oneAnswer: !desc.ServerStreams, cancel: cancel}, nil
		}),
	}, o.dial...)...)
	if err != nil {
		return nil, fmt.Errorf("grpcclient.Dial %s: %w", target, err)
	}
	return cc, nil
}

// endingStream releases its deadline's timer when the stream ends: at its
// one answer, or at the error (io.EOF included) that ends a stream of
// answers.
type endingStream struct {
	grpc.ClientStream
	oneAnswer bool
	cancel    context.CancelFunc
}

func (s *endingStream) RecvMsg(m any) error {
	err := s.ClientStream.RecvMsg(m)
	if err != nil || s.oneAnswer {
		s.cancel()
	}
	return err //nolint:wrapcheck // the stream's status and io.EOF, as grpc gives them
}

func forwardKey(ctx context.Context, serviceToken func(context.Context) string) context.Context {
	var current string
	if serviceToken != nil {
		current = serviceToken(ctx)
	}
	if tok := tenancy.ServiceTokenFrom(ctx); tok != "" {
		if current != "" {
			tok = current
		}
		tenant, _ := tenancy.TenantFrom(ctx)
		return metadata.AppendToOutgoingContext(ctx, "x-vcci-service-token", tok, "x-vcci-tenant", tenant.String())
	}
	if tenant, ok := tenancy.TenantFrom(ctx); ok && current != "" {
		return metadata.AppendToOutgoingContext(ctx, "x-vcci-service-token", current, "x-vcci-tenant", tenant.String())
	}
	if key := tenancy.KeyFrom(ctx); key != "" {
		if md, ok := metadata.FromOutgoingContext(ctx); !ok || len(md.Get("x-api-key")) == 0 {
			return metadata.AppendToOutgoingContext(ctx, "x-api-key", key)
		}
	}
	return ctx
}

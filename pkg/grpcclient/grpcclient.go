// Package grpcclient dials other vcci services: traced with otelgrpc, and
// passing on who the call is for so the callee sees the same tenant: as the
// platform acting for the caller's tenant when the dialling service holds
// the service token (so that one API request is charged to its key's rate
// limit once, where it entered), else by forwarding the caller's API key.
package grpcclient

import (
	"context"
	"fmt"

	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	"github.com/vcci-dev/vcci/pkg/telemetry"
	"github.com/vcci-dev/vcci/pkg/tenancy"
)

// Option configures Dial.
type Option func(*options)

type options struct {
	serviceToken string
	dial         []grpc.DialOption
}

// WithDialOptions adds options to the connection's (after Dial's own).
func WithDialOptions(opts ...grpc.DialOption) Option {
	return func(o *options) { o.dial = append(o.dial, opts...) }
}

// AsService makes calls made for an authenticated caller travel as the
// platform (the service token) acting for the caller's tenant.
func AsService(token string) Option { return func(o *options) { o.serviceToken = token } }

// Dial returns a client connection to target ("host:port").
func Dial(target string, tp trace.TracerProvider, opts ...Option) (*grpc.ClientConn, error) {
	var o options
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
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(64<<20), grpc.MaxCallSendMsgSize(64<<20)),
		grpc.WithChainUnaryInterceptor(func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
			return invoker(forward(ctx), method, req, reply, cc, opts...)
		}),
		grpc.WithChainStreamInterceptor(func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
			return streamer(forward(ctx), desc, cc, method, opts...)
		}),
	}, o.dial...)...)
	if err != nil {
		return nil, fmt.Errorf("grpcclient.Dial %s: %w", target, err)
	}
	return cc, nil
}

func forwardKey(ctx context.Context, serviceToken string) context.Context {
	if tok := tenancy.ServiceTokenFrom(ctx); tok != "" {
		tenant, _ := tenancy.TenantFrom(ctx)
		return metadata.AppendToOutgoingContext(ctx, "x-vcci-service-token", tok, "x-vcci-tenant", tenant.String())
	}
	if tenant, ok := tenancy.TenantFrom(ctx); ok && serviceToken != "" {
		return metadata.AppendToOutgoingContext(ctx, "x-vcci-service-token", serviceToken, "x-vcci-tenant", tenant.String())
	}
	if key := tenancy.KeyFrom(ctx); key != "" {
		if md, ok := metadata.FromOutgoingContext(ctx); !ok || len(md.Get("x-api-key")) == 0 {
			return metadata.AppendToOutgoingContext(ctx, "x-api-key", key)
		}
	}
	return ctx
}

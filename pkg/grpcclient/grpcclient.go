// Package grpcclient dials other vcci services: traced with otelgrpc, and
// forwarding the caller's API key so the callee sees the same tenant.
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

// Dial returns a client connection to target ("host:port").
func Dial(target string, tp trace.TracerProvider) (*grpc.ClientConn, error) {
	cc, err := grpc.NewClient(target,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		// Spread calls over every address the name resolves to (a headless
		// Kubernetes Service lists each pod), not just the first.
		grpc.WithDefaultServiceConfig(`{"loadBalancingConfig":[{"round_robin":{}}]}`),
		grpc.WithStatsHandler(otelgrpc.NewClientHandler(
			otelgrpc.WithTracerProvider(tp), otelgrpc.WithPropagators(telemetry.Propagator()))),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(64<<20), grpc.MaxCallSendMsgSize(64<<20)),
		grpc.WithChainUnaryInterceptor(func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
			return invoker(forwardKey(ctx), method, req, reply, cc, opts...)
		}),
		grpc.WithChainStreamInterceptor(func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
			return streamer(forwardKey(ctx), desc, cc, method, opts...)
		}),
	)
	if err != nil {
		return nil, fmt.Errorf("grpcclient.Dial %s: %w", target, err)
	}
	return cc, nil
}

func forwardKey(ctx context.Context) context.Context {
	if tok := tenancy.ServiceTokenFrom(ctx); tok != "" {
		tenant, _ := tenancy.TenantFrom(ctx)
		return metadata.AppendToOutgoingContext(ctx, "x-vcci-service-token", tok, "x-vcci-tenant", tenant.String())
	}
	if key := tenancy.KeyFrom(ctx); key != "" {
		if md, ok := metadata.FromOutgoingContext(ctx); !ok || len(md.Get("x-api-key")) == 0 {
			return metadata.AppendToOutgoingContext(ctx, "x-api-key", key)
		}
	}
	return ctx
}

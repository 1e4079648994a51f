// Package stack runs the whole platform in one process: the five services
// (each on its own gRPC listener, exactly as they run alone) and the REST
// gateway. The local run command, the end-to-end tests and the benchmarks use it.
package stack

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/vcci-dev/vcci/gateway/edge"
	"github.com/vcci-dev/vcci/pkg/config"
	"github.com/vcci-dev/vcci/pkg/grpcclient"
	"github.com/vcci-dev/vcci/pkg/ratelimit"
	"github.com/vcci-dev/vcci/pkg/redisx"
	"github.com/vcci-dev/vcci/pkg/service"
	calculator "github.com/vcci-dev/vcci/services/calculator/server"
	engagement "github.com/vcci-dev/vcci/services/engagement/server"
	hotspot "github.com/vcci-dev/vcci/services/hotspot/server"
	intake "github.com/vcci-dev/vcci/services/intake/server"
	reporting "github.com/vcci-dev/vcci/services/reporting/server"
)

// Services lists the services in start order, with their Run.
var Services = []struct {
	Name string
	Run  func(context.Context, service.Env) error
}{
	{"calculator", calculator.Run},
	{"intake", intake.Run},
	{"hotspot", hotspot.Run},
	{"engagement", engagement.Run},
	{"reporting", reporting.Run},
}

// Options configure a stack.
type Options struct {
	DatabaseURL string
	RedisURL    string
	Log         *slog.Logger
	TP          trace.TracerProvider
	// Ephemeral listens on free loopback ports (tests); otherwise on each
	// service's configured address.
	Ephemeral bool
	HTTPAddr  string
	// Metrics serves each service's /metrics, /livez and /readyz.
	Metrics bool
	// RateLimit is the per-API-key budget every service enforces (kept in
	// Redis when one answers); nil means no limits.
	RateLimit *ratelimit.Config
	// EdgeCacheBytes is the gateway's edge.Options.EdgeCacheBytes (it
	// needs Redis and RateLimit; negative turns it off).
	EdgeCacheBytes int64
}

// Stack is a running platform.
type Stack struct {
	GRPC map[string]string // service -> gRPC address
	// Metrics maps a service to its /metrics, /livez and /readyz address
	// (with Options.Metrics).
	Metrics map[string]string
	HTTPURL string
	errc    chan error
	wg      sync.WaitGroup
	http    *http.Server
	gw      *edge.Gateway
}

// Start starts every service and the gateway and waits until all report
// SERVING. Cancel ctx to stop them, then call Wait.
func Start(ctx context.Context, o Options) (*Stack, error) {
	s := &Stack{GRPC: map[string]string{}, Metrics: map[string]string{}, errc: make(chan error, len(Services)+1)}
	callTimeouts, err := grpcclient.LoadTimeouts()
	if err != nil {
		return nil, err
	}
	httpLimits, err := edge.LoadHTTPLimits()
	if err != nil {
		return nil, err
	}
	// The gateway refuses what intake would (0: edge's default).
	maxUpload, err := config.Int("MAX_UPLOAD_BYTES", 0)
	if err != nil {
		return nil, err
	}
	listen := func(addr string) (net.Listener, error) {
		if o.Ephemeral {
			addr = "127.0.0.1:0"
		}
		var lc net.ListenConfig
		return lc.Listen(ctx, "tcp", addr)
	}
	// One Redis client for the process, as a service alone has one.
	rdb, err := redisx.Connect(ctx, o.RedisURL, o.Log, o.TP)
	if err != nil {
		return nil, err
	}
	if rdb != nil {
		go func() { <-ctx.Done(); s.wg.Wait(); rdb.Close() }()
	}
	envs := make([]service.Env, len(Services))
	for i, svc := range Services {
		grpcAddr, metricsAddr := service.DefaultAddrs(svc.Name)
		cfg, err := config.Load(svc.Name, grpcAddr, metricsAddr)
		if err != nil {
			return nil, err
		}
		cfg.DatabaseURL, cfg.RedisURL, cfg.ShutdownTimeout = o.DatabaseURL, o.RedisURL, 5*time.Second
		lis, err := listen(service.PeerAddr(svc.Name))
		if err != nil {
			return nil, fmt.Errorf("stack: %s: %w", svc.Name, err)
		}
		var mlis net.Listener
		if o.Metrics {
			if mlis, err = listen(cfg.MetricsAddr); err != nil {
				return nil, fmt.Errorf("stack: %s metrics: %w", svc.Name, err)
			}
			s.Metrics[svc.Name] = mlis.Addr().String()
		}
		s.GRPC[svc.Name] = lis.Addr().String()
		envs[i] = service.Env{Cfg: cfg, Log: o.Log.With("service", svc.Name), TP: o.TP, GRPC: lis, Metrics: mlis,
			RateLimit: o.RateLimit, Redis: rdb}
	}
	for i, svc := range Services {
		envs[i].Peers = s.GRPC
		s.wg.Go(func() {
			if err := svc.Run(ctx, envs[i]); err != nil && ctx.Err() == nil {
				s.errc <- fmt.Errorf("%s: %w", svc.Name, err)
			}
		})
	}
	if err := s.waitServing(ctx); err != nil {
		return nil, err
	}

	gw, err := edge.New(ctx, edge.Options{Log: o.Log.With("service", "gateway"), TracerProvider: o.TP, Addrs: s.GRPC,
		Redis: rdb, RateLimit: o.RateLimit, EdgeCacheBytes: o.EdgeCacheBytes, CallTimeouts: &callTimeouts,
		HTTP: &httpLimits, MaxUploadBytes: int64(maxUpload)})
	if err != nil {
		return nil, err
	}
	s.gw = gw
	addr := o.HTTPAddr
	if addr == "" {
		addr = config.String("HTTP_ADDR", "127.0.0.1:8080")
	}
	hl, err := listen(addr)
	if err != nil {
		return nil, fmt.Errorf("stack: gateway: %w", err)
	}
	s.HTTPURL = "http://" + hl.Addr().String()
	s.http = gw.Server("")
	s.wg.Go(func() {
		if err := s.http.Serve(hl); !errors.Is(err, http.ErrServerClosed) {
			s.errc <- fmt.Errorf("gateway: %w", err)
		}
	})
	go func() {
		<-ctx.Done()
		// ctx is done: the shutdown gets a deadline of its own.
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := s.http.Shutdown(sctx); err != nil {
			o.Log.WarnContext(sctx, "gateway shutdown", "error", err)
		}
		gw.Close()
	}()
	return s, nil
}

// Errors reports a service that stopped on its own.
func (s *Stack) Errors() <-chan error { return s.errc }

// Wait waits for every service to stop after ctx is cancelled.
func (s *Stack) Wait() { s.wg.Wait() }

func (s *Stack) waitServing(ctx context.Context) error {
	deadline := time.Now().Add(60 * time.Second)
	for name, addr := range s.GRPC {
		cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			return fmt.Errorf("stack: %s: %w", name, err)
		}
		hc := healthpb.NewHealthClient(cc)
		for {
			cctx, cancel := context.WithTimeout(ctx, time.Second)
			resp, err := hc.Check(cctx, &healthpb.HealthCheckRequest{})
			cancel()
			if err == nil && resp.GetStatus() == healthpb.HealthCheckResponse_SERVING {
				break
			}
			select {
			case err := <-s.errc:
				cc.Close()
				return err
			case <-ctx.Done():
				cc.Close()
				return ctx.Err()
			case <-time.After(50 * time.Millisecond):
			}
			if time.Now().After(deadline) {
				cc.Close()
				return fmt.Errorf("stack: %s did not become SERVING within 60s", name)
			}
		}
		cc.Close()
	}
	return nil
}

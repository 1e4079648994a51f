package service

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"go.opentelemetry.io/otel/trace/noop"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/vcci-dev/vcci/pkg/config"
	"github.com/vcci-dev/vcci/pkg/testsupport"
)

// A service whose database stops answering goes NOT_SERVING (gRPC health
// and /readyz) within 15 s, and SERVING again when it answers. The shared
// PostgreSQL is never stopped: the service reaches it through a proxy that
// the test breaks.
func TestReadinessFollowsTheDatabase(t *testing.T) {
	if testing.Short() {
		t.Skip("needs PostgreSQL")
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cfg, err := pgxpool.ParseConfig(testsupport.AdminURL())
	if err != nil {
		t.Fatal(err)
	}
	proxy := testsupport.StartProxy(t, net.JoinHostPort(cfg.ConnConfig.Host, strconv.FormatUint(uint64(cfg.ConnConfig.Port), 10)))
	host, port, _ := net.SplitHostPort(proxy.Addr)
	cfg.ConnConfig.Host = host
	if _, err := fmt.Sscan(port, &cfg.ConnConfig.Port); err != nil {
		t.Fatal(err)
	}
	cfg.ConnConfig.ConnectTimeout = time.Second
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()

	env := Env{Cfg: config.Service{Process: config.Process{Name: "ready-test"}}, Log: slog.New(slog.DiscardHandler), TP: noop.NewTracerProvider()}
	srv := NewServer(env, pool, testsupport.KeyAuth{})
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	mlis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ran := make(chan error, 1)
	go func() { ran <- srv.Run(ctx, lis, mlis, time.Second) }()
	defer func() {
		cancel()
		if err := <-ran; err != nil {
			t.Error(err)
		}
	}()
	health := healthpb.NewHealthClient(testsupport.Dial(t, lis.Addr().String()))
	state := func() (healthpb.HealthCheckResponse_ServingStatus, int) {
		cctx, ccancel := context.WithTimeout(ctx, time.Second)
		defer ccancel()
		st := healthpb.HealthCheckResponse_UNKNOWN
		if resp, err := health.Check(cctx, &healthpb.HealthCheckRequest{}); err == nil {
			st = resp.GetStatus()
		}
		code := 0
		if resp, err := http.Get("http://" + mlis.Addr().String() + "/readyz"); err == nil {
			resp.Body.Close()
			code = resp.StatusCode
		}
		return st, code
	}
	testsupport.WaitFor(t, "SERVING at start", 5*time.Second, func() bool {
		st, code := state()
		return st == healthpb.HealthCheckResponse_SERVING && code == http.StatusOK
	})

	proxy.Break()
	testsupport.WaitFor(t, "NOT_SERVING and /readyz 503 with the database gone", 15*time.Second, func() bool {
		st, code := state()
		return st == healthpb.HealthCheckResponse_NOT_SERVING && code == http.StatusServiceUnavailable
	})
	proxy.Restore()
	testsupport.WaitFor(t, "SERVING and /readyz 200 with the database back", 15*time.Second, func() bool {
		st, code := state()
		return st == healthpb.HealthCheckResponse_SERVING && code == http.StatusOK
	})
}

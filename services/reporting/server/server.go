// Package server wires the reporting service; main and in-process launchers
// call Run.
package server

import (
	"context"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/vcci-dev/vcci/pkg/cache"
	calculatorv1 "github.com/vcci-dev/vcci/pkg/gen/vcci/calculator/v1"
	intakev1 "github.com/vcci-dev/vcci/pkg/gen/vcci/intake/v1"
	reportingv1 "github.com/vcci-dev/vcci/pkg/gen/vcci/reporting/v1"
	"github.com/vcci-dev/vcci/pkg/service"
	"github.com/vcci-dev/vcci/services/reporting/internal/grpcapi"
	"github.com/vcci-dev/vcci/services/reporting/internal/reporting"
)

// Run serves reporting until ctx ends.
func Run(ctx context.Context, env service.Env) error {
	cfg := LoadConfig(env)
	// Reporting owns no tables: the pool is for authenticating keys (the iam
	// schema) and for readiness, so a few connections do.
	pool, auth, err := service.OpenDB(ctx, env, 4, nil)
	if err != nil {
		return err
	}
	defer pool.Close()
	calcConn, err := service.Dial(ctx, env, pool, cfg.CalculatorAddr)
	if err != nil {
		return err
	}
	defer calcConn.Close()
	intakeConn, err := service.Dial(ctx, env, pool, cfg.IntakeAddr)
	if err != nil {
		return err
	}
	defer intakeConn.Close()

	calc := calculatorv1.NewCalculatorServiceClient(calcConn)
	svc := reporting.New(
		grpcapi.Calculator{Client: calc},
		grpcapi.Labels{Suppliers: intakev1.NewIntakeServiceClient(intakeConn), Factors: calc},
	)
	rdb, closeRedis, err := service.RedisClient(ctx, env)
	if err != nil {
		return err
	}
	defer closeRedis()
	srv := service.NewServer(env, pool, auth)
	// Dashboards live in the "summaries" cache the calculator invalidates
	// whenever a tenant's emissions change. The invalidation reaches this
	// process through Redis; the short local TTL bounds how stale a
	// dashboard can be while Redis is down.
	dashboards := cache.New(cache.Options[*reportingv1.Dashboard]{
		Name: "summaries", Redis: rdb, Log: env.Log, LocalSize: 10_000, LocalTTL: 2 * time.Second, RedisTTL: 10 * time.Minute,
		Marshal: func(d *reportingv1.Dashboard) ([]byte, error) { return proto.Marshal(d) },
		Unmarshal: func(b []byte) (*reportingv1.Dashboard, error) {
			d := &reportingv1.Dashboard{}
			return d, proto.Unmarshal(b, d)
		},
		Metrics: cache.NewMetrics(srv.Registry),
	})
	defer dashboards.Close()
	reportingv1.RegisterReportingServiceServer(srv.GRPC, grpcapi.New(svc, dashboards))
	return srv.Run(ctx, env.GRPC, env.Metrics, cfg.ShutdownTimeout)
}

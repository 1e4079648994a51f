// Package server wires the reporting service; main and in-process launchers
// call Run.
package server

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"google.golang.org/protobuf/proto"

	"github.com/vcci-dev/vcci/pkg/cache"
	"github.com/vcci-dev/vcci/pkg/db"
	calculatorv1 "github.com/vcci-dev/vcci/pkg/gen/vcci/calculator/v1"
	engagementv1 "github.com/vcci-dev/vcci/pkg/gen/vcci/engagement/v1"
	hotspotv1 "github.com/vcci-dev/vcci/pkg/gen/vcci/hotspot/v1"
	intakev1 "github.com/vcci-dev/vcci/pkg/gen/vcci/intake/v1"
	reportingv1 "github.com/vcci-dev/vcci/pkg/gen/vcci/reporting/v1"
	"github.com/vcci-dev/vcci/pkg/pagetoken"
	"github.com/vcci-dev/vcci/pkg/service"
	"github.com/vcci-dev/vcci/pkg/tenancy"
	"github.com/vcci-dev/vcci/services/reporting/internal/grpcapi"
	"github.com/vcci-dev/vcci/services/reporting/internal/reporting"
	"github.com/vcci-dev/vcci/services/reporting/internal/reports"
	"github.com/vcci-dev/vcci/services/reporting/internal/store"
)

// Migrate creates or updates reporting's schema and its River queue.
func Migrate(ctx context.Context, pool *pgxpool.Pool) error { return store.Migrate(ctx, pool) }

// Run serves reporting until ctx ends.
func Run(ctx context.Context, env service.Env) error {
	cfg, err := LoadConfig(env)
	if err != nil {
		return err
	}
	// Reporting keeps reports and their files, and the River queue that
	// builds them.
	pool, auth, err := service.OpenDB(ctx, env, 8, Migrate)
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
	intake := intakev1.NewIntakeServiceClient(intakeConn)
	svc := reporting.New(grpcapi.Calculator{Client: calc}, grpcapi.Labels{Suppliers: intake, Factors: calc})
	st, err := store.New(pool)
	if err != nil {
		return err
	}
	st = st.WithRetention(cfg.Retention)
	hotConn, err := service.Dial(ctx, env, pool, cfg.HotspotAddr)
	if err != nil {
		return err
	}
	defer hotConn.Close()
	engConn, err := service.Dial(ctx, env, pool, cfg.EngagementAddr)
	if err != nil {
		return err
	}
	defer engConn.Close()
	eng := engagementv1.NewEngagementServiceClient(engConn)
	files := reportFiles{src: reports.NewGRPCSources(calc, hotspotv1.NewHotspotServiceClient(hotConn), eng)}
	made := reporting.NewReports(st, files, files)
	pageKey, err := tenancy.DeriveKey(ctx, pool, "report-page-token")
	if err != nil {
		return err
	}
	// Links are checked by whichever replica serves the download: every
	// replica signs with REPORT_LINK_KEY, else with a key derived from the
	// platform secret they share. Once REPORT_LINK_KEY is set, links
	// signed under the derived key (15 minutes' worth) stop working: a
	// dump of the database must not be able to forge them.
	linkKey := cfg.LinkKey
	if linkKey == nil {
		env.Log.WarnContext(ctx, "report links are signed with a key kept in the database; set REPORT_LINK_KEY to keep it apart")
		if linkKey, err = tenancy.DeriveKey(ctx, pool, "report-link"); err != nil {
			return err
		}
	}
	jobs, err := store.NewClient(pool, reporting.NewReportWorker(made), store.ClientOptions{Log: env.Log.With("component", "river"), TP: env.TP,
		Workers: cfg.Workers, Engagement: eng, Upkeep: st})
	if err != nil {
		return err
	}
	if err := jobs.Start(context.WithoutCancel(ctx)); err != nil { // stopped below, after the server
		return fmt.Errorf("start report workers: %w", err)
	}
	// Every report updates its job several times: keep the jobs vacuumed,
	// and analyzed as they grow, whatever autovacuum does.
	go db.KeepVacuumed(ctx, pool, db.VacuumOptions{Every: 5 * time.Second, Grown: true}, func(err error) { env.Log.ErrorContext(ctx, "vacuum", "error", err.Error()) },
		store.RiverSchema+".river_job")
	defer func() {
		// A report cut short is built again by its job's next run.
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.ShutdownTimeout)
		defer cancel()
		if err := jobs.StopAndCancel(sctx); err != nil {
			env.Log.ErrorContext(sctx, "stop report jobs", "error", err.Error())
		}
	}()
	rdb, closeRedis, err := service.RedisClient(ctx, env)
	if err != nil {
		return err
	}
	defer closeRedis()
	srv := service.NewServer(env, pool, auth, grpcapi.GetSharedReportFileMethod)
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
	reportingv1.RegisterReportingServiceServer(srv.GRPC, grpcapi.New(svc, dashboards).
		WithReports(made, pagetoken.New(pageKey), reporting.NewLinks(linkKey, nil, cfg.LinkPreviousKeys...)))
	return srv.Run(ctx, env.GRPC, env.Metrics, cfg.ShutdownTimeout)
}

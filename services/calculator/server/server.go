// Package server wires the calculator service; main and in-process launchers
// call Run.
package server

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	pkgcache "github.com/vcci-dev/vcci/pkg/cache"
	"github.com/vcci-dev/vcci/pkg/db"
	calculatorv1 "github.com/vcci-dev/vcci/pkg/gen/vcci/calculator/v1"
	engagementv1 "github.com/vcci-dev/vcci/pkg/gen/vcci/engagement/v1"
	intakev1 "github.com/vcci-dev/vcci/pkg/gen/vcci/intake/v1"
	"github.com/vcci-dev/vcci/pkg/pagetoken"
	"github.com/vcci-dev/vcci/pkg/service"
	"github.com/vcci-dev/vcci/pkg/tenancy"
	"github.com/vcci-dev/vcci/services/calculator/internal/cache"
	"github.com/vcci-dev/vcci/services/calculator/internal/calculator"
	"github.com/vcci-dev/vcci/services/calculator/internal/factors"
	"github.com/vcci-dev/vcci/services/calculator/internal/grpcapi"
	"github.com/vcci-dev/vcci/services/calculator/internal/store"
)

// Migrate creates or updates the calculator's schema and default factors.
func Migrate(ctx context.Context, pool *pgxpool.Pool) error { return store.Migrate(ctx, pool) }

// Run serves the calculator until ctx ends.
func Run(ctx context.Context, env service.Env) error {
	cfg := LoadConfig(env)
	pool, auth, err := service.OpenDB(ctx, env, 16, Migrate)
	if err != nil {
		return err
	}
	defer pool.Close()
	bg, cancel := context.WithCancel(ctx)
	defer cancel()
	st := store.New(pool)
	go st.KeepPartitionsAhead(bg, func(err error) { env.Log.ErrorContext(ctx, "partitions", "error", err.Error()) })
	// The totals and the day's log are updated in place by every
	// calculated batch: keep them vacuumed whatever autovacuum does.
	go db.KeepVacuumed(bg, pool, db.VacuumOptions{Every: 5 * time.Second}, func(err error) { env.Log.ErrorContext(ctx, "vacuum", "error", err.Error()) },
		"calculator.emission_totals", "calculator.emission_totals_log", "calculator.inventory_months", "calculator.summary_months")
	// The results grow by inserts, and their statistics as a whole decide
	// how a period's lines are grouped: autovacuum never gathers those.
	go db.KeepAnalyzed(bg, pool, db.VacuumOptions{}, func(err error) { env.Log.ErrorContext(ctx, "analyze", "error", err.Error()) },
		"calculator.emission_results")

	rdb, closeRedis, err := service.RedisClient(ctx, env)
	if err != nil {
		return err
	}
	defer closeRedis()
	tokenKey, err := tenancy.DeriveKey(ctx, pool, "factor-page-token")
	if err != nil {
		return err
	}
	srv := service.NewServer(env, pool, auth)
	// The caches' subscribers live until Close, below, not for a context.
	caches := cache.New(rdb, env.Log, pkgcache.NewMetrics(srv.Registry)) //nolint:contextcheck // bounded by Close
	defer caches.Close()
	// Intake keeps suppliers' totals, which recalculations change: the
	// connection is made on first use, so intake need not be up first.
	intakeConn, err := service.Dial(ctx, env, pool, cfg.IntakeAddr)
	if err != nil {
		return err
	}
	defer intakeConn.Close()
	svc := calculator.New(st, caches.Summaries, caches.Factors, caches.Settings).
		WithSupplierTotals(grpcapi.IntakeTotals(intakev1.NewIntakeServiceClient(intakeConn)))
	// Engagement takes the recalculation.done events for the webhooks.
	engConn, err := service.Dial(ctx, env, pool, cfg.EngagementAddr)
	if err != nil {
		return err
	}
	defer engConn.Close()
	jobs, err := store.NewClient(pool, calculator.NewRecalcWorker(svc, 0), store.ClientOptions{Log: env.Log.With("component", "river"), TP: env.TP,
		Engagement: engagementv1.NewEngagementServiceClient(engConn)})
	if err != nil {
		return err
	}
	if err := jobs.Start(context.WithoutCancel(ctx)); err != nil { // stopped below, after the server
		return fmt.Errorf("start recalculation workers: %w", err)
	}
	defer func() {
		// A recalculation cut short resumes at its cursor, on this
		// replica or another.
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.ShutdownTimeout)
		defer cancel()
		if err := jobs.StopAndCancel(sctx); err != nil {
			env.Log.ErrorContext(sctx, "stop recalculation jobs", "error", err.Error())
		}
	}()
	calculatorv1.RegisterCalculatorServiceServer(srv.GRPC, grpcapi.New(svc, pagetoken.New(tokenKey)))
	return srv.Run(ctx, env.GRPC, env.Metrics, cfg.ShutdownTimeout)
}

// FactorCodes returns the NAICS codes of the default factor library, for
// tools that generate spend data.
func FactorCodes() ([]string, error) {
	fs, err := factors.EPAFactors()
	if err != nil {
		return nil, err
	}
	codes := make([]string, len(fs))
	for i, f := range fs {
		codes[i] = f.Code
	}
	return codes, nil
}

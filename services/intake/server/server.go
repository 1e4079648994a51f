// Package server wires the intake service; main and in-process launchers
// call Run.
package server

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/vcci-dev/vcci/pkg/cache"
	"github.com/vcci-dev/vcci/pkg/db"
	calculatorv1 "github.com/vcci-dev/vcci/pkg/gen/vcci/calculator/v1"
	engagementv1 "github.com/vcci-dev/vcci/pkg/gen/vcci/engagement/v1"
	iamv1 "github.com/vcci-dev/vcci/pkg/gen/vcci/iam/v1"
	intakev1 "github.com/vcci-dev/vcci/pkg/gen/vcci/intake/v1"
	"github.com/vcci-dev/vcci/pkg/pagetoken"
	"github.com/vcci-dev/vcci/pkg/service"
	"github.com/vcci-dev/vcci/pkg/tenancy"
	"github.com/vcci-dev/vcci/pkg/tenancy/iamapi"
	"github.com/vcci-dev/vcci/services/intake/internal/directory"
	dirapi "github.com/vcci-dev/vcci/services/intake/internal/directory/grpcapi"
	dirstore "github.com/vcci-dev/vcci/services/intake/internal/directory/store"
	"github.com/vcci-dev/vcci/services/intake/internal/grpcapi"
	"github.com/vcci-dev/vcci/services/intake/internal/intake"
	"github.com/vcci-dev/vcci/services/intake/internal/store"
)

// FactorSet is the factor set uploads are checked against.
const FactorSet = grpcapi.FactorSet

// Migrate creates or updates intake's schema.
func Migrate(ctx context.Context, pool *pgxpool.Pool) error { return store.Migrate(ctx, pool) }

// Run serves intake and runs its upload workers until ctx ends.
func Run(ctx context.Context, env service.Env) error {
	cfg, err := LoadConfig(env)
	if err != nil {
		return err
	}
	// An upload's transaction may wait on a second connection (its chunks,
	// its partitions, its progress): each worker gets two on top of the
	// API's, so that busy workers cannot take every connection and wait
	// on each other.
	conns := 16 + 2*(cfg.SmallWorkers+cfg.LargeWorkers)
	if conns < 1 || conns > math.MaxInt32 {
		return fmt.Errorf("intake: %d small and %d large workers: too many for one pool", cfg.SmallWorkers, cfg.LargeWorkers)
	}
	pool, auth, err := service.OpenDB(ctx, env, int32(conns), Migrate)
	if err != nil {
		return err
	}
	defer pool.Close()
	token, err := tenancy.ServiceToken(ctx, pool)
	if err != nil {
		return err
	}
	cc, err := service.Dial(ctx, env, pool, cfg.CalculatorAddr)
	if err != nil {
		return err
	}
	defer cc.Close()
	calc := grpcapi.NewCalculator(calculatorv1.NewCalculatorServiceClient(cc), token)
	// Upload events go to engagement from River jobs, which retry until it
	// answers: it need not be up first.
	ec, err := service.Dial(ctx, env, pool, cfg.EngagementAddr)
	if err != nil {
		return err
	}
	defer ec.Close()

	rdb, closeRedis, err := service.RedisClient(ctx, env)
	if err != nil {
		return err
	}
	defer closeRedis()
	tokenKey, err := tenancy.DeriveKey(ctx, pool, "page-token")
	if err != nil {
		return err
	}
	srv := service.NewServer(env, pool, auth)
	// Reads (a supplier, a page of suppliers or of transactions) are cached
	// per tenant; uploads, once validated and once calculated, invalidate
	// them on every replica. Entries of invalidated versions stay until
	// evicted, so a large cache fills the heap with dead pages under
	// frequent uploads; 2,000 hold what is read between uploads
	// (docs/benchmarks.md).
	suppliers := cache.New(cache.Options[[]byte]{Name: "intake-reads", Redis: rdb, Log: env.Log,
		LocalSize: 2_000, LocalTTL: 30 * time.Second, RedisTTL: 10 * time.Minute,
		Marshal: func(b []byte) ([]byte, error) { return b, nil }, Unmarshal: func(b []byte) ([]byte, error) { return b, nil },
		Metrics: cache.NewMetrics(srv.Registry)})
	defer suppliers.Close()

	st := store.New(pool).WithMaxAttempts(cfg.MaxAttempts).WithSpoolDir(cfg.SpoolDir)
	metrics := intake.NewMetrics(srv.Registry)
	changed := func(ctx context.Context, t uuid.UUID, changed []string) {
		suppliers.Invalidate(ctx, dirapi.ChangedScopes(t, changed)...)
	}
	worker := intake.NewWorker(env.Log, env.TP, st, calc.Calculations, calc.Codes,
		intake.WorkerOptions{Timeout: cfg.UploadTimeout, CalculatorWait: cfg.CalculatorWait, Metrics: metrics, Changed: changed,
			BatchUploads: cfg.SmallWorkers / 2})
	jobs, err := store.NewClient(pool, worker, store.ClientOptions{Log: env.Log.With("component", "river"), TP: env.TP,
		SmallWorkers: cfg.SmallWorkers, LargeWorkers: cfg.LargeWorkers, ID: cfg.WorkerID,
		Engagement: engagementv1.NewEngagementServiceClient(ec)})
	if err != nil {
		return err
	}
	if n, err := store.ReclaimOwnJobs(ctx, pool, cfg.WorkerID); err != nil {
		return err
	} else if n > 0 {
		env.Log.WarnContext(ctx, "took back the uploads this replica was working when it stopped", "jobs", n, "worker_id", cfg.WorkerID)
	}
	bg, stop := context.WithCancel(context.WithoutCancel(ctx))
	defer stop()
	go st.KeepPartitionsAhead(bg, func(err error) { env.Log.ErrorContext(ctx, "partitions", "error", err.Error()) })
	// Running totals and the uploads' progress are updated in place by
	// every upload, and compaction rewrites the transaction counters: keep
	// them vacuumed whatever autovacuum does; the uploads and their jobs,
	// read by id, also analyzed as they grow.
	vacuumErr := func(err error) { env.Log.ErrorContext(ctx, "vacuum", "error", err.Error()) }
	go db.KeepVacuumed(bg, pool, db.VacuumOptions{Every: 5 * time.Second}, vacuumErr,
		"intake.supplier_totals", "intake.transaction_days", "intake.transaction_suppliers", "intake.transaction_codes")
	go db.KeepVacuumed(bg, pool, db.VacuumOptions{Every: 5 * time.Second, Grown: true}, vacuumErr,
		"intake.uploads", store.RiverSchema+".river_job")
	go st.KeepFailingAbandoned(bg, time.Minute, func(n int64) { metrics.JobsFailed(intake.FailedAbandoned, n) },
		func(err error) { env.Log.ErrorContext(ctx, "fail abandoned uploads", "error", err.Error()) })
	if err := jobs.Start(bg); err != nil {
		return fmt.Errorf("start upload workers: %w", err)
	}

	tokens := pagetoken.New(tokenKey)
	dir := dirapi.New(directory.New(dirstore.New(pool)), tokens, calc.Results, suppliers)
	intakev1.RegisterIntakeServiceServer(srv.GRPC, grpcapi.New(intake.New(st, cfg.MaxUploadBytes).WithChanged(changed), tokens, dir))
	// The tenant's keys and audit log (docs/security.md says why here).
	iam := iamapi.New(pool, tokens)
	iamv1.RegisterApiKeyServiceServer(srv.GRPC, iam)
	iamv1.RegisterAuditServiceServer(srv.GRPC, iam)
	served := make(chan struct{})
	handedBack := handBackJobs(ctx, served, jobs, cfg.ShutdownTimeout, env.Log)
	err = srv.Run(ctx, env.GRPC, env.Metrics, cfg.ShutdownTimeout)
	close(served)
	<-handedBack
	stop()
	return err
}

// jobStopper is the part of River's client that stops it.
type jobStopper interface {
	StopAndCancel(ctx context.Context) error
}

// handBackJobs stops jobs as soon as ctx ends (or served is closed, the
// server having stopped on its own), cancelling the uploads being worked:
// each is handed back at once, without spending an attempt (Worker.Work
// snoozes it), and another replica resumes it from its stored state within
// seconds. Finishing it here instead would hold a large upload for as long
// as it takes, and one cut short by the end of the grace period would wait
// for River's rescue (UPLOAD_TIMEOUT plus a minute). The stop runs while
// the server drains its requests; the returned channel is closed once it
// is done.
func handBackJobs(ctx context.Context, served <-chan struct{}, jobs jobStopper, timeout time.Duration, log *slog.Logger) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		select {
		case <-ctx.Done():
		case <-served:
		}
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
		defer cancel()
		if err := jobs.StopAndCancel(sctx); err != nil {
			log.ErrorContext(sctx, "stop upload jobs", "error", err.Error())
		}
	}()
	return done
}

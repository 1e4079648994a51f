package store

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertype"
	"github.com/riverqueue/rivercontrib/otelriver"
	"go.opentelemetry.io/otel/trace"

	"github.com/vcci-dev/vcci/pkg/db"
	"github.com/vcci-dev/vcci/pkg/events"
	engagementv1 "github.com/vcci-dev/vcci/pkg/gen/vcci/engagement/v1"
	"github.com/vcci-dev/vcci/pkg/riverdb"
	"github.com/vcci-dev/vcci/services/intake/internal/intake"
)

// ClientOptions configure the River client that works uploads.
type ClientOptions struct {
	Log *slog.Logger
	TP  trace.TracerProvider
	// SmallWorkers and LargeWorkers are how many uploads of each queue one
	// client works at once (defaults DefaultSmallWorkers and 2).
	SmallWorkers, LargeWorkers int
	// RescueAfter is how long an attempt may run before River takes its
	// worker for dead and runs the job again (default the worker's timeout
	// plus a minute: River knows no heartbeat, only when an attempt began).
	RescueAfter time.Duration
	// FetchPoll is how often an idle queue looks for jobs it was not told
	// of (default River's).
	FetchPoll time.Duration
	// RetryPolicy spaces attempts (default River's, attempt^4 seconds).
	RetryPolicy river.ClientRetryPolicy
	// CompactEvery is how often the leader compacts the transaction
	// counters (default DefaultCompactEvery; below zero, never).
	CompactEvery time.Duration
	// NotLeader keeps the client out of River's leader election, so that
	// another client runs the upkeep (rescue, scheduling retries,
	// compaction).
	NotLeader bool
	TestOnly  bool
	// Engagement, if set, is where the client publishes the upload events
	// QueueOutcome queues (the events queue); unset, they wait in the queue
	// for a client that has it.
	Engagement engagementv1.EngagementServiceClient
	// ID names the client in its jobs' attempts (River's Config.ID): one
	// that stays the same across a restart of the same replica lets
	// ReclaimOwnJobs take back what a crash left running. Empty: random.
	ID string
}

// DefaultSmallWorkers is how many small uploads a client works at once. A
// small upload's time is mostly waits (commits, the calculator), so under
// the design's user model fewer workers fall behind; more would take too
// many of a stock PostgreSQL's connections, at two a worker, for one
// replica (docs/benchmarks.md).
const DefaultSmallWorkers = 16

// NewClient returns the River client that works uploads with w; Start it.
func NewClient(pool *pgxpool.Pool, w *intake.Worker, o ClientOptions) (*river.Client[pgx.Tx], error) {
	workers := river.NewWorkers()
	if err := river.AddWorkerSafely(workers, w); err != nil {
		return nil, fmt.Errorf("store.NewClient: %w", err)
	}
	if err := river.AddWorkerSafely(workers, &compactor{pool: pool}); err != nil {
		return nil, fmt.Errorf("store.NewClient: %w", err)
	}
	if o.CompactEvery == 0 {
		o.CompactEvery = DefaultCompactEvery
	}
	if o.SmallWorkers <= 0 {
		o.SmallWorkers = DefaultSmallWorkers
	}
	if o.LargeWorkers <= 0 {
		o.LargeWorkers = 2
	}
	queues := map[string]river.QueueConfig{
		intake.QueueSmall: {MaxWorkers: o.SmallWorkers},
		intake.QueueLarge: {MaxWorkers: o.LargeWorkers},
		QueueMaintenance:  {MaxWorkers: 1},
	}
	if o.Engagement != nil {
		if err := events.AddWorker(workers, o.Engagement); err != nil {
			return nil, fmt.Errorf("store.NewClient: %w", err)
		}
		queues[events.Queue] = river.QueueConfig{MaxWorkers: 2}
	}
	timeout := w.Timeout(nil)
	if o.RescueAfter <= 0 {
		o.RescueAfter = timeout + time.Minute
	}
	cfg := &river.Config{
		ID:                     o.ID,
		Schema:                 RiverSchema,
		Workers:                workers,
		Queues:                 queues,
		JobTimeout:             min(timeout, o.RescueAfter),
		RescueStuckJobsAfter:   o.RescueAfter,
		RetryPolicy:            o.RetryPolicy,
		Logger:                 riverdb.Quiet(o.Log),
		TestOnly:               o.TestOnly,
		LeaderElectionDisabled: o.NotLeader,
		// The job's span, River's, joins the trace of the upload's request.
		Middleware: []rivertype.Middleware{&intake.ContinueTrace{}, otelriver.NewMiddleware(&otelriver.MiddlewareConfig{TracerProvider: o.TP})},
	}
	if o.CompactEvery > 0 {
		cfg.PeriodicJobs = []*river.PeriodicJob{river.NewPeriodicJob(river.PeriodicInterval(o.CompactEvery),
			func() (river.JobArgs, *river.InsertOpts) {
				return CompactArgs{}, &river.InsertOpts{Queue: QueueMaintenance, MaxAttempts: 1}
			}, &river.PeriodicJobOpts{RunOnStart: true})}
	}
	if o.FetchPoll > 0 {
		cfg.FetchPollInterval, cfg.FetchCooldown = o.FetchPoll, min(o.FetchPoll, river.FetchCooldownDefault)
	}
	c, err := river.NewClient(riverpgxv5.New(pool), cfg)
	if err != nil {
		return nil, fmt.Errorf("store.NewClient: %w", err)
	}
	return c, nil
}

// ReclaimOwnJobs makes the jobs that client id was running available again,
// to be called before that client starts: a replica killed mid-upload
// takes its work back at once when it restarts, not when River's rescuer
// takes the attempt for stuck (RescueAfter). River allows one process per
// id, so no live attempt is taken over; were one, the upload's fence would
// fail its commit.
func ReclaimOwnJobs(ctx context.Context, pool *pgxpool.Pool, id string) (int64, error) {
	if id == "" {
		return 0, nil
	}
	tag, err := pool.Exec(ctx, `UPDATE `+RiverSchema+`.river_job SET state = 'available', scheduled_at = now()
		WHERE state = 'running' AND attempted_by[array_upper(attempted_by, 1)] = $1`, id)
	if err != nil {
		return 0, fmt.Errorf("store.ReclaimOwnJobs: %w", err)
	}
	return tag.RowsAffected(), nil
}

// enqueue inserts the uploads' jobs in tx, the transaction that stores
// them: an upload is queued if and only if it is stored.
func (s *Store) enqueue(ctx context.Context, tx pgx.Tx, us ...intake.Upload) error {
	ps := make([]river.InsertManyParams, len(us))
	for i, u := range us {
		queue := intake.QueueLarge
		if u.Size <= s.small {
			queue = intake.QueueSmall
		}
		ps[i] = river.InsertManyParams{
			Args:       intake.UploadArgs{Upload: u.ID, Tenant: u.Tenant, TraceParent: u.TraceParent},
			InsertOpts: &river.InsertOpts{Queue: queue, MaxAttempts: s.maxAttempts},
		}
	}
	if _, err := s.jobs.InsertManyTx(ctx, tx, ps); err != nil {
		return fmt.Errorf("enqueue: %w", err)
	}
	return nil
}

// WithSmallUpload sets the largest upload (bytes) validated in memory rather
// than through COPY (default SmallUpload); 0 sends every upload through
// COPY. Tests use it to run both paths.
func (s *Store) WithSmallUpload(n int64) *Store {
	s.small = n
	return s
}

// FailAbandoned fails the unfinished uploads whose latest job River gave up
// on without the worker saying so: its rescuer discards the job of a
// worker that died on the last attempt, and an operator may cancel a job
// in the River UI. They can then be retried like any failed upload, and
// each one's upload.failed event is queued with its failure. It returns
// how many it failed. It looks at every tenant's uploads, as
// db.MaintenanceRole (migration 0011).
func (s *Store) FailAbandoned(ctx context.Context) (int64, error) {
	var failed int64
	err := db.AsMaintenance(ctx, s.pool, func(tx pgx.Tx) error {
		// The jobs given up on first, materialized (usually none): joined
		// directly, the planner matched every unfinished upload against
		// every upload job (5.4 s with 1,200 of each under load).
		rows, err := tx.Query(ctx, `
		WITH j AS MATERIALIZED (
			SELECT id, kind, state, attempt, errors, args FROM `+RiverSchema+`.river_job
			WHERE state IN ('discarded', 'cancelled') AND finalized_at > now() - interval '1 day' AND kind = $2)
		UPDATE intake.uploads u SET resume_state = u.state, state = $1, completed_at = now(), updated_at = now(),
			failure_reason = CASE j.state
				WHEN 'cancelled' THEN 'its job was cancelled'
				ELSE 'gave up after ' || j.attempt || ' attempts: ' || coalesce(j.errors[array_upper(j.errors, 1)]->>'error', '') END
		FROM j
		WHERE u.id = (j.args->>'upload')::bigint AND u.tenant_id = (j.args->>'tenant')::uuid AND u.state IN ($3, $4, $5)
		  AND NOT EXISTS (SELECT 1 FROM `+RiverSchema+`.river_job k
			WHERE k.kind = j.kind AND k.args @> jsonb_build_object('upload', j.args->'upload') AND k.id > j.id)
		RETURNING u.id, u.tenant_id`,
			intake.Failed, intake.UploadArgs{}.Kind(), intake.Queued, intake.Validating, intake.Calculating)
		if err != nil {
			return fmt.Errorf("fail abandoned uploads: %w", err)
		}
		ups, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (intake.Upload, error) {
			var u intake.Upload
			if err := r.Scan(&u.ID, &u.Tenant); err != nil {
				return u, fmt.Errorf("scan: %w", err)
			}
			return u, nil
		})
		if err != nil {
			return fmt.Errorf("fail abandoned uploads: %w", err)
		}
		// Each event as its tenant, whose role may queue jobs.
		for _, u := range ups {
			if err := db.SetTenant(ctx, tx, u.Tenant); err != nil {
				return err
			}
			if err := s.QueueOutcome(ctx, tx, u); err != nil {
				return err
			}
		}
		failed = int64(len(ups))
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("store.FailAbandoned: %w", err)
	}
	return failed, nil
}

// KeepFailingAbandoned runs FailAbandoned every interval until ctx ends,
// telling failed how many uploads each run failed.
func (s *Store) KeepFailingAbandoned(ctx context.Context, every time.Duration, failed func(int64), onErr func(error)) {
	db.Repeat(ctx, every, onErr, func() error {
		n, err := s.FailAbandoned(ctx)
		failed(n)
		return err
	})
}

// Package store is reporting's PostgreSQL persistence: reports, their files
// and the River queue that builds them.
package store

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"go.opentelemetry.io/otel/trace"

	"github.com/vcci-dev/vcci/pkg/db"
	"github.com/vcci-dev/vcci/pkg/events"
	engagementv1 "github.com/vcci-dev/vcci/pkg/gen/vcci/engagement/v1"
	"github.com/vcci-dev/vcci/pkg/refdata"
	"github.com/vcci-dev/vcci/pkg/riverdb"
	"github.com/vcci-dev/vcci/pkg/webhook"
	"github.com/vcci-dev/vcci/services/reporting/internal/reporting"
)

//go:embed migrations/*.sql
var migrations embed.FS

// RiverSchema holds reporting's River tables: each service migrates and
// works its own queue.
const RiverSchema = "reporting_river"

// Migrate creates or updates the reporting schema and its River queue.
func Migrate(ctx context.Context, pool *pgxpool.Pool) error {
	if err := db.Migrate(ctx, pool, "reporting", migrations); err != nil {
		return err
	}
	return riverdb.MigrateApp(ctx, pool, RiverSchema)
}

// Store implements reporting.ReportStore.
type Store struct {
	pool      *pgxpool.Pool
	jobs      *river.Client[pgx.Tx] // inserts only
	retention time.Duration         // 0: reports are kept until deleted
}

// WithRetention has reports deleted d after they end (DeleteExpired); 0
// keeps them until deleted.
func (s *Store) WithRetention(d time.Duration) *Store {
	s.retention = max(d, 0)
	return s
}

// New returns a Store on pool.
func New(pool *pgxpool.Pool) (*Store, error) {
	jobs, err := river.NewClient(riverpgxv5.New(pool), &river.Config{Schema: RiverSchema})
	if err != nil {
		return nil, fmt.Errorf("store.New: %w", err)
	}
	return &Store{pool: pool, jobs: jobs}, nil
}

// DefaultWorkers builds one report at a time: a report is a document
// asked for in the background, and each build takes PostgreSQL, the
// calculator and hotspot from the API's requests, which the users wait on
// (docs/benchmarks.md, "Report workers").
const DefaultWorkers = 1

// ClientOptions configure the River client that builds reports.
type ClientOptions struct {
	Log *slog.Logger
	TP  trace.TracerProvider
	// Workers is how many reports one client builds at once (default
	// DefaultWorkers).
	Workers int
	// FetchPoll is how often an idle queue looks for jobs (default
	// River's).
	FetchPoll   time.Duration
	RetryPolicy river.ClientRetryPolicy
	TestOnly    bool
	// Engagement receives the report.ready events (nil: they wait in
	// their queue for a client that has it).
	Engagement engagementv1.EngagementServiceClient
	// Upkeep, if set, deletes the reports past its retention every
	// ExpireEvery (default an hour), on the elected leader.
	Upkeep      *Store
	ExpireEvery time.Duration
}

// NewClient returns the River client that builds reports with w; Start it.
func NewClient(pool *pgxpool.Pool, w *reporting.ReportWorker, o ClientOptions) (*river.Client[pgx.Tx], error) {
	workers := river.NewWorkers()
	if err := river.AddWorkerSafely(workers, w); err != nil {
		return nil, fmt.Errorf("store.NewClient: %w", err)
	}
	if o.Workers <= 0 {
		o.Workers = DefaultWorkers
	}
	queues := map[string]river.QueueConfig{reporting.ReportQueue: {MaxWorkers: o.Workers}}
	if o.Engagement != nil {
		// report.ready events, queued with the report's end, go to
		// engagement's webhooks from here.
		if err := events.AddWorker(workers, o.Engagement); err != nil {
			return nil, fmt.Errorf("store.NewClient: %w", err)
		}
		queues[events.Queue] = river.QueueConfig{MaxWorkers: 2}
	}
	var periodic []*river.PeriodicJob
	if o.Upkeep != nil && o.Upkeep.retention > 0 {
		if err := river.AddWorkerSafely(workers, &expireWorker{store: o.Upkeep}); err != nil {
			return nil, fmt.Errorf("store.NewClient: %w", err)
		}
		queues[queueUpkeep] = river.QueueConfig{MaxWorkers: 1}
		if o.ExpireEvery <= 0 {
			o.ExpireEvery = time.Hour
		}
		periodic = append(periodic, river.NewPeriodicJob(river.PeriodicInterval(o.ExpireEvery),
			func() (river.JobArgs, *river.InsertOpts) {
				return ExpireArgs{}, &river.InsertOpts{Queue: queueUpkeep, MaxAttempts: 1}
			}, &river.PeriodicJobOpts{RunOnStart: true}))
	}
	c, err := riverdb.NewClient(pool, RiverSchema, workers, queues,
		riverdb.Options{Log: o.Log, TP: o.TP, FetchPoll: o.FetchPoll, RetryPolicy: o.RetryPolicy, TestOnly: o.TestOnly, Periodic: periodic})
	if err != nil {
		return nil, fmt.Errorf("store.NewClient: %w", err)
	}
	return c, nil
}

// reportCols read a report r, without its file.
const reportCols = `r.id, r.kind, r.period_start, r.period_end, coalesce(r.snapshot_id, 0), r.as_of_date, r.gwp_basis, r.format,
	r.organization, r.exclusions, r.state, r.progress, r.error, r.file_name, r.content_type, r.size_bytes, r.sha256, r.create_time,
	r.finish_time`

func (s *Store) scanReport(row pgx.Row, extra ...any) (reporting.Report, error) {
	var r reporting.Report
	var kind, format, progress int16
	var basis, state string
	var exclusions []byte
	var asOf, finish *time.Time
	dest := append([]any{&r.ID, &kind, &r.PeriodStart, &r.PeriodEnd, &r.Snapshot, &asOf, &basis, &format, &r.Organization, &exclusions, &state,
		&progress, &r.Error, &r.File.Name, &r.File.ContentType, &r.File.Size, &r.File.SHA256, &r.CreateTime, &finish}, extra...)
	if err := row.Scan(dest...); err != nil {
		return r, fmt.Errorf("scan report: %w", err)
	}
	r.Kind, r.Format, r.Progress = reporting.Kind(kind), reporting.Format(format), int32(progress)
	r.GWPBasis, r.State = refdata.Basis(basis), reporting.State(state)
	if err := json.Unmarshal(exclusions, &r.Exclusions); err != nil {
		return r, fmt.Errorf("scan report exclusions: %w", err)
	}
	if asOf != nil {
		r.AsOf = *asOf
	}
	if finish != nil {
		r.FinishTime = *finish
		if s.retention > 0 {
			r.ExpireTime = r.FinishTime.Add(s.retention)
		}
	}
	return r, nil
}

// CreateReport stores the report queued and its job in one transaction: a
// job is never queued without its row, nor a row left without its job.
func (s *Store) CreateReport(ctx context.Context, tenant uuid.UUID, r reporting.Report) (reporting.Report, error) {
	exclusions, err := json.Marshal(nonNil(r.Exclusions))
	if err != nil {
		return reporting.Report{}, fmt.Errorf("store.CreateReport: %w", err)
	}
	var out reporting.Report
	err = db.InTenant(ctx, s.pool, tenant, func(tx pgx.Tx) error {
		var id int64
		var asOf *time.Time
		if !r.AsOf.IsZero() {
			asOf = &r.AsOf
		}
		if err := tx.QueryRow(ctx, `INSERT INTO reporting.reports (tenant_id, kind, period_start, period_end, snapshot_id, as_of_date,
				gwp_basis, format, organization, exclusions)
			VALUES ($1, $2, $3, $4, nullif($5, 0), $6, $7, $8, $9, $10) RETURNING id`,
			// pgx range-checks int32 into the smallint columns, where int16() would wrap.
			tenant, int32(r.Kind), r.PeriodStart, r.PeriodEnd, r.Snapshot, asOf, string(r.GWPBasis), int32(r.Format), r.Organization,
			exclusions).Scan(&id); err != nil {
			return fmt.Errorf("insert report: %w", err)
		}
		if _, err := s.jobs.InsertTx(ctx, tx, reporting.ReportArgs{Tenant: tenant, ID: id}, nil); err != nil {
			return fmt.Errorf("queue report: %w", err)
		}
		var err error
		out, err = s.readReport(ctx, tx, tenant, id)
		return err
	})
	if err != nil {
		return out, fmt.Errorf("store.CreateReport: %w", err)
	}
	return out, nil
}

func nonNil(es []reporting.Exclusion) []reporting.Exclusion {
	if es == nil {
		return []reporting.Exclusion{}
	}
	return es
}

func (s *Store) readReport(ctx context.Context, tx pgx.Tx, tenant uuid.UUID, id int64) (reporting.Report, error) {
	r, err := s.scanReport(tx.QueryRow(ctx, `SELECT `+reportCols+` FROM reporting.reports r WHERE r.tenant_id = $1 AND r.id = $2`, tenant, id))
	return r, db.NotFound(err, "read report", reporting.ErrReportNotFound)
}

// inTenant runs fn in a transaction of tenant's, and passes the domain's
// not-found sentinel through unwrapped.
func (s *Store) inTenant(ctx context.Context, tenant uuid.UUID, op string, fn func(pgx.Tx) error) error {
	err := db.InTenant(ctx, s.pool, tenant, fn)
	switch {
	case errors.Is(err, reporting.ErrReportNotFound):
		return reporting.ErrReportNotFound
	case err != nil:
		return fmt.Errorf("%s: %w", op, err)
	}
	return nil
}

func (s *Store) Report(ctx context.Context, tenant uuid.UUID, id int64) (reporting.Report, error) {
	var out reporting.Report
	err := s.inTenant(ctx, tenant, "store.Report", func(tx pgx.Tx) error {
		var err error
		out, err = s.readReport(ctx, tx, tenant, id)
		return err
	})
	return out, err
}

func (s *Store) Reports(ctx context.Context, tenant uuid.UUID, limit int, after int64) ([]reporting.Report, error) {
	var out []reporting.Report
	err := db.InTenantBatch(ctx, s.pool, tenant, db.Stmt{SQL: `SELECT ` + reportCols + ` FROM reporting.reports r
		WHERE r.tenant_id = $1 AND ($2 = 0 OR r.id < $2) ORDER BY r.id DESC LIMIT $3`, Args: []any{tenant, after, limit},
		Scan: db.Collect(&out, func(row pgx.CollectableRow) (reporting.Report, error) { return s.scanReport(row) })})
	if err != nil {
		return nil, fmt.Errorf("store.Reports: %w", err)
	}
	return out, nil
}

// StartReport marks a queued or running report running, its progress
// reset (an attempt starts over).
func (s *Store) StartReport(ctx context.Context, tenant uuid.UUID, id int64) (reporting.Report, error) {
	var out reporting.Report
	err := s.inTenant(ctx, tenant, "store.StartReport", func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `UPDATE reporting.reports SET state = 'running', progress = 0, attempts = attempts + 1
			WHERE tenant_id = $1 AND id = $2 AND state IN ('queued', 'running')`, tenant, id); err != nil {
			return fmt.Errorf("update: %w", err)
		}
		var err error
		out, err = s.readReport(ctx, tx, tenant, id)
		return err
	})
	return out, err
}

func (s *Store) SetReportProgress(ctx context.Context, tenant uuid.UUID, id int64, percent int32) error {
	return s.inTenant(ctx, tenant, "store.SetReportProgress", func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `UPDATE reporting.reports SET progress = $3 WHERE tenant_id = $1 AND id = $2 AND state = 'running'`,
			tenant, id, int16(min(max(percent, 0), 100)))
		return err //nolint:wrapcheck // wrapped by inTenant
	})
}

// FinishReport ends a report not ended yet: succeeded with its file when
// errText is empty, else failed.
func (s *Store) FinishReport(ctx context.Context, tenant uuid.UUID, id int64, f reporting.FileInfo, body []byte, errText string) (reporting.Report, error) {
	var out reporting.Report
	err := s.inTenant(ctx, tenant, "store.FinishReport", func(tx pgx.Tx) error {
		var err error
		var tag pgconn.CommandTag
		if errText == "" {
			tag, err = tx.Exec(ctx, `UPDATE reporting.reports SET state = 'succeeded', progress = 100, file = $3, file_name = $4,
					content_type = $5, size_bytes = $6, sha256 = $7, finish_time = now()
				WHERE tenant_id = $1 AND id = $2 AND state IN ('queued', 'running')`, tenant, id, body, f.Name, f.ContentType, f.Size, f.SHA256)
		} else {
			tag, err = tx.Exec(ctx, `UPDATE reporting.reports SET state = 'failed', error = $3, finish_time = now()
				WHERE tenant_id = $1 AND id = $2 AND state IN ('queued', 'running')`, tenant, id, errText)
		}
		if err != nil {
			return fmt.Errorf("update: %w", err)
		}
		if out, err = s.readReport(ctx, tx, tenant, id); err != nil || errText != "" || tag.RowsAffected() == 0 {
			return err
		}
		// Told once, with the report's end: a rolled-back end tells no one.
		return events.Enqueue(ctx, s.jobs, tx, events.Event{Tenant: tenant, ID: fmt.Sprintf("report-%d-ready", id), Type: webhook.ReportReady,
			Data: map[string]any{"report": fmt.Sprintf("reports/%d", id), "file_name": out.File.Name, "content_type": out.File.ContentType,
				"size_bytes": out.File.Size, "sha256": out.File.SHA256, "download": fmt.Sprintf("/v1/reports/%d/file", id)}})
	})
	return out, err
}

func (s *Store) ReportFile(ctx context.Context, tenant uuid.UUID, id int64) (reporting.Report, []byte, error) {
	var out reporting.Report
	var body []byte
	err := s.inTenant(ctx, tenant, "store.ReportFile", func(tx pgx.Tx) error {
		var err error
		out, err = s.scanReport(tx.QueryRow(ctx, `SELECT `+reportCols+`, r.file FROM reporting.reports r WHERE r.tenant_id = $1 AND r.id = $2`,
			tenant, id), &body)
		return db.NotFound(err, "read report file", reporting.ErrReportNotFound)
	})
	return out, body, err
}

// DeleteReport deletes a report and its file.
func (s *Store) DeleteReport(ctx context.Context, tenant uuid.UUID, id int64) error {
	return s.inTenant(ctx, tenant, "store.DeleteReport", func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM reporting.reports WHERE tenant_id = $1 AND id = $2`, tenant, id)
		if err != nil {
			return fmt.Errorf("delete: %w", err)
		}
		if tag.RowsAffected() == 0 {
			return reporting.ErrReportNotFound
		}
		return nil
	})
}

// expireBatch is how many reports one statement of DeleteExpired deletes.
const expireBatch = 500

// DeleteExpired deletes every tenant's reports that ended more than the
// retention before now, and returns how many.
func (s *Store) DeleteExpired(ctx context.Context, now time.Time) (int64, error) {
	if s.retention <= 0 {
		return 0, nil
	}
	var deleted int64
	for {
		var n int64
		err := db.AsMaintenance(ctx, s.pool, func(tx pgx.Tx) error {
			tag, err := tx.Exec(ctx, `DELETE FROM reporting.reports WHERE id IN (
				SELECT id FROM reporting.reports WHERE finish_time < $1 ORDER BY finish_time LIMIT $2)`, now.Add(-s.retention), expireBatch)
			n = tag.RowsAffected()
			return err //nolint:wrapcheck // wrapped below
		})
		if err != nil {
			return deleted, fmt.Errorf("store.DeleteExpired: %w", err)
		}
		deleted += n
		if n < expireBatch {
			return deleted, nil
		}
	}
}

// queueUpkeep is the River queue of reporting's upkeep.
const queueUpkeep = "upkeep"

// ExpireArgs is the periodic job that deletes reports past their retention.
type ExpireArgs struct{}

// Kind names the job type in River.
func (ExpireArgs) Kind() string { return "reporting.expire" }

type expireWorker struct {
	river.WorkerDefaults[ExpireArgs]
	store *Store
}

func (w *expireWorker) Work(ctx context.Context, _ *river.Job[ExpireArgs]) error {
	_, err := w.store.DeleteExpired(ctx, time.Now())
	return err
}

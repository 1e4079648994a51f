package riverdb

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
)

// MigrateApp migrates River into schema and lets the application's role
// queue and work jobs there.
func MigrateApp(ctx context.Context, pool *pgxpool.Pool, schema string) error {
	return Migrate(ctx, pool, schema, `GRANT USAGE ON SCHEMA `+schema+` TO `+db.AppRole+`;
		GRANT SELECT, INSERT, UPDATE ON ALL TABLES IN SCHEMA `+schema+` TO `+db.AppRole+`;
		GRANT USAGE ON ALL SEQUENCES IN SCHEMA `+schema+` TO `+db.AppRole)
}

// Options configure a service's River client.
type Options struct {
	Log *slog.Logger
	TP  trace.TracerProvider
	// FetchPoll is how often an idle queue looks for jobs (0: River's).
	FetchPoll   time.Duration
	RetryPolicy river.ClientRetryPolicy
	TestOnly    bool
	// Periodic are jobs the elected leader inserts on a schedule.
	Periodic []*river.PeriodicJob
}

// NewClient returns a River client on schema that works queues with
// workers, each job traced; Start it.
func NewClient(pool *pgxpool.Pool, schema string, workers *river.Workers, queues map[string]river.QueueConfig, o Options) (*river.Client[pgx.Tx], error) {
	cfg := &river.Config{
		Schema:       schema,
		Workers:      workers,
		Queues:       queues,
		RetryPolicy:  o.RetryPolicy,
		Logger:       Quiet(o.Log),
		TestOnly:     o.TestOnly,
		PeriodicJobs: o.Periodic,
		Middleware:   []rivertype.Middleware{otelriver.NewMiddleware(&otelriver.MiddlewareConfig{TracerProvider: o.TP})},
	}
	if o.FetchPoll > 0 {
		cfg.FetchPollInterval, cfg.FetchCooldown = o.FetchPoll, min(o.FetchPoll, river.FetchCooldownDefault)
	}
	c, err := river.NewClient(riverpgxv5.New(pool), cfg)
	if err != nil {
		return nil, fmt.Errorf("riverdb.NewClient: %w", err)
	}
	return c, nil
}

// Quiet is log for River: its routine news (a client started, a queue's
// job counts every few seconds while a periodic job runs) at debug level,
// so that a service's log at info says what the service does; River's
// warnings and errors stay as they are.
func Quiet(log *slog.Logger) *slog.Logger {
	if log == nil {
		return nil
	}
	return slog.New(quiet{log.Handler()})
}

type quiet struct{ slog.Handler }

func (q quiet) Enabled(ctx context.Context, l slog.Level) bool {
	return q.Handler.Enabled(ctx, demote(l))
}

func (q quiet) Handle(ctx context.Context, r slog.Record) error {
	r.Level = demote(r.Level)
	return q.Handler.Handle(ctx, r) //nolint:wrapcheck // a handler passing a record on
}

func (q quiet) WithAttrs(as []slog.Attr) slog.Handler { return quiet{q.Handler.WithAttrs(as)} }
func (q quiet) WithGroup(name string) slog.Handler    { return quiet{q.Handler.WithGroup(name)} }

func demote(l slog.Level) slog.Level {
	if l == slog.LevelInfo {
		return slog.LevelDebug
	}
	return l
}

package db

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// VacuumOptions tune KeepVacuumed; zero values take the defaults.
type VacuumOptions struct {
	Every time.Duration // how often dead tuples are counted; default 10s
	// A table is vacuumed once it has more dead tuples than MinDead and
	// than Ratio times its live ones; defaults 1,000 and 0.2.
	MinDead int64
	Ratio   float64
	// AnalyzeEvery is how old a table's statistics (from this or from
	// autovacuum) may be before a vacuum also analyzes it; KeepVacuumed's
	// default is a minute, and zero in VacuumDead analyzes every time. Its
	// sampling, not the vacuum, is most of the cost (docs/benchmarks.md).
	AnalyzeEvery time.Duration
}

// KeepVacuumed vacuums tables (schema.table) that are updated in place many
// times a second, such as running totals and work queues, whenever their
// dead tuples pass the threshold, and analyzes them with it when their
// statistics are older than o.AnalyzeEvery, until ctx ends.
//
// Autovacuum is tuned for large tables that change slowly: by its defaults
// it waits a minute and for a fifth of a table to be dead, and where it is
// off (some CI machines) it never comes. A totals row updated by every
// upload leaves a dead version per update in the heap and in every index,
// and each later update and read walks past them; a few thousand uploads
// made each supplier-totals update cost a millisecond. Vacuuming a small
// hot table takes milliseconds, so it is done here, whatever autovacuum
// does.
func KeepVacuumed(ctx context.Context, pool *pgxpool.Pool, o VacuumOptions, onErr func(error), tables ...string) {
	if o.Every <= 0 {
		o.Every = 10 * time.Second
	}
	if o.MinDead <= 0 {
		o.MinDead = 1000
	}
	if o.Ratio <= 0 {
		o.Ratio = 0.2
	}
	if o.AnalyzeEvery <= 0 {
		o.AnalyzeEvery = time.Minute
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(o.Every):
		}
		if _, err := VacuumDead(ctx, pool, o, tables...); err != nil && ctx.Err() == nil {
			onErr(err)
		}
	}
}

// VacuumDead vacuums those of tables whose dead tuples pass o's threshold
// (defaults applied by KeepVacuumed; here zero means any dead tuple),
// analyzing those whose statistics are older than o.AnalyzeEvery, and
// returns their names.
func VacuumDead(ctx context.Context, pool *pgxpool.Pool, o VacuumOptions, tables ...string) ([]string, error) {
	rows, err := pool.Query(ctx, `
		SELECT schemaname || '.' || relname,
			coalesce(greatest(last_analyze, last_autoanalyze) < now() - $4::interval, true)
		FROM pg_stat_user_tables
		WHERE schemaname || '.' || relname = ANY($1) AND n_dead_tup > $2 AND n_dead_tup > $3 * n_live_tup
		ORDER BY 1`, tables, o.MinDead, o.Ratio, o.AnalyzeEvery)
	if err != nil {
		return nil, fmt.Errorf("db.VacuumDead: %w", err)
	}
	type due struct {
		Table   string
		Analyze bool
	}
	dues, err := pgx.CollectRows(rows, pgx.RowToStructByPos[due])
	if err != nil {
		return nil, fmt.Errorf("db.VacuumDead: %w", err)
	}
	var done []string
	for _, d := range dues {
		// VACUUM cannot run in a transaction: the simple protocol sends it
		// alone. SKIP_LOCKED passes over a table another VACUUM holds;
		// ANALYZE keeps the planner's picture of a fast-changing table true.
		opts := "SKIP_LOCKED"
		if d.Analyze {
			opts += ", ANALYZE"
		}
		if _, err := pool.Exec(ctx, "VACUUM ("+opts+") "+pgx.Identifier(strings.SplitN(d.Table, ".", 2)).Sanitize(), pgx.QueryExecModeSimpleProtocol); err != nil {
			return nil, fmt.Errorf("db.VacuumDead %s: %w", d.Table, err)
		}
		done = append(done, d.Table)
	}
	return done, nil
}

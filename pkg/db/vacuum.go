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
	// Grown also vacuums and analyzes a table holding more than twice the
	// rows its statistics counted (VacuumDead): for work tables read by
	// key, such as uploads and jobs.
	Grown bool
}

// KeepVacuumed vacuums tables (schema.table) that are updated in place many
// times a second, such as running totals and work queues, whenever their
// dead tuples pass the threshold (analyzing them with it when their
// statistics are older than o.AnalyzeEvery) or, with o.Grown, they have
// doubled since their statistics, until ctx ends.
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
	Repeat(ctx, o.Every, onErr, func() error {
		_, err := VacuumDead(ctx, pool, o, tables...)
		return err
	})
}

// grownFloor is the fewest rows statistics are taken to describe when
// VacuumDead asks whether a table has doubled since them.
const grownFloor = 50

// VacuumDead vacuums those of tables whose dead tuples pass o's threshold
// (defaults applied by KeepVacuumed; here zero means any dead tuple),
// analyzing those whose statistics are older than o.AnalyzeEvery, and
// with o.Grown vacuums and analyzes those that hold more than twice the
// rows their statistics counted (and over 100), and returns their names.
//
// Growth is checked apart from dead rows because a work table (intake's
// uploads) grows while its updates stay below the threshold: planned from
// statistics that counted one upload, every batch of small uploads walked
// the tenant's uploads instead of looking them up by id (2.5 ms against
// 0.05 ms with 3,000 uploads, and growing with them; docs/benchmarks.md).
func VacuumDead(ctx context.Context, pool *pgxpool.Pool, o VacuumOptions, tables ...string) ([]string, error) {
	rows, err := pool.Query(ctx, `
		SELECT s.schemaname || '.' || s.relname,
			coalesce(greatest(s.last_analyze, s.last_autoanalyze) < now() - $4::interval, true) OR g.grown
		FROM pg_stat_user_tables s
		JOIN pg_class c ON c.oid = s.relid
		CROSS JOIN LATERAL (SELECT $6 AND s.n_live_tup > 2 * greatest(c.reltuples, $5) AS grown) g
		WHERE s.schemaname || '.' || s.relname = ANY($1)
		  AND (s.n_dead_tup > $2 AND s.n_dead_tup > $3 * s.n_live_tup OR g.grown)
		ORDER BY 1`, tables, o.MinDead, o.Ratio, o.AnalyzeEvery, grownFloor, o.Grown)
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

// KeepAnalyzed analyzes tables (schema.table; a partitioned one as a whole,
// with its partitions) as they change (Analyzer), checking every o.Every,
// until ctx ends. It is for tables that grow by inserts: KeepVacuumed
// looks at dead rows only. Autovacuum never analyzes a partitioned table
// as a whole, whose statistics the planner uses to decide how to group
// its rows, and where it is off it analyzes nothing (docs/benchmarks.md:
// a period's supplier totals at 1M lines took 4.5 s unanalyzed, 1.6 s with
// the partitions analyzed, 1.0 s with the whole).
func KeepAnalyzed(ctx context.Context, pool *pgxpool.Pool, o VacuumOptions, onErr func(error), tables ...string) {
	if o.Every <= 0 {
		o.Every = 10 * time.Second
	}
	a := NewAnalyzer(o, tables...)
	Repeat(ctx, o.Every, onErr, func() error {
		_, err := a.Analyze(ctx, pool)
		return err
	})
}

// Repeat runs fn every interval, the first time an interval from now,
// until ctx ends; its errors go to onErr, but for those of ctx ending.
func Repeat(ctx context.Context, every time.Duration, onErr func(error), fn func() error) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(every):
		}
		if err := fn(); err != nil && ctx.Err() == nil {
			onErr(err)
		}
	}
}

// Analyzer analyzes tables that never were, once they hold more than
// MinDead rows, and tables whose rows were written (inserted, updated or
// deleted, over every partition) more than MinDead and Ratio times their
// rows since it last analyzed them or first looked; in both cases once
// fewer than that were written since its previous look, so that a bulk
// load is analyzed when it ends, not again and again as it runs. It counts
// the writes itself: a partitioned table has no count of its own, and
// autovacuum resets its partitions' counts when it analyzes them.
type Analyzer struct {
	o      VacuumOptions
	tables []string
	looks  map[string]look // by table, from its first look on
}

// look is what an Analyzer knows of a table: its writes when last analyzed
// (or first looked at), and its writes and count of analyzes at the
// previous look. An analyze by another (autovacuum, an upload's end)
// counts as the Analyzer's own.
type look struct{ base, writes, analyzes int64 }

// NewAnalyzer returns an Analyzer of tables; o's zero MinDead and Ratio
// take 1,000 and 0.1 (autovacuum's analyze ratio).
func NewAnalyzer(o VacuumOptions, tables ...string) *Analyzer {
	if o.MinDead <= 0 {
		o.MinDead = 1000
	}
	if o.Ratio <= 0 {
		o.Ratio = 0.1
	}
	return &Analyzer{o: o, tables: tables, looks: make(map[string]look, len(tables))}
}

// Analyze analyzes the tables that are due and returns their names.
func (a *Analyzer) Analyze(ctx context.Context, pool *pgxpool.Pool) ([]string, error) {
	rows, err := pool.Query(ctx, `
		WITH t AS (SELECT name, name::regclass AS rel FROM unnest($1::text[]) AS name)
		SELECT t.name, c.reltuples::bigint, coalesce(w.writes, 0)::bigint,
			coalesce((SELECT analyze_count + autoanalyze_count FROM pg_stat_user_tables WHERE relid = t.rel), 0)
		FROM t JOIN pg_class c ON c.oid = t.rel
		CROSS JOIN LATERAL (
			SELECT sum(s.n_tup_ins + s.n_tup_upd + s.n_tup_del) AS writes FROM pg_stat_user_tables s
			WHERE s.relid = t.rel AND c.relkind <> 'p'
			   OR s.relid IN (SELECT relid FROM pg_partition_tree(t.rel) WHERE isleaf)) w
		ORDER BY 1`, a.tables)
	if err != nil {
		return nil, fmt.Errorf("db.Analyzer: %w", err)
	}
	type table struct {
		Name                   string
		Rows, Writes, Analyzes int64
	}
	ts, err := pgx.CollectRows(rows, pgx.RowToStructByPos[table])
	if err != nil {
		return nil, fmt.Errorf("db.Analyzer: %w", err)
	}
	var done []string
	for _, t := range ts {
		last, looked := a.looks[t.Name]
		if !looked || last.analyzes != t.Analyzes {
			last.base = t.Writes // first look, or analyzed by another since the last
		}
		limit := max(float64(a.o.MinDead), a.o.Ratio*float64(max(t.Rows, 0)))
		due := (!looked || float64(t.Writes-last.writes) <= limit) && (t.Rows < 0 && t.Writes > a.o.MinDead || // never analyzed
			float64(t.Writes-last.base) > limit)
		a.looks[t.Name] = look{base: last.base, writes: t.Writes, analyzes: t.Analyzes}
		if !due {
			continue
		}
		// SKIP_LOCKED: another replica analyzing it is as good.
		if _, err := pool.Exec(ctx, "ANALYZE (SKIP_LOCKED) "+pgx.Identifier(strings.SplitN(t.Name, ".", 2)).Sanitize()); err != nil {
			return done, fmt.Errorf("db.Analyzer %s: %w", t.Name, err)
		}
		a.looks[t.Name] = look{base: t.Writes, writes: t.Writes, analyzes: t.Analyzes}
		done = append(done, t.Name)
	}
	return done, nil
}

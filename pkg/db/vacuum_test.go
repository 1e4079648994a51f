package db_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/vcci-dev/vcci/pkg/db"
	"github.com/vcci-dev/vcci/pkg/testsupport"
)

// poolAndConn is a pool on a new database and one of its connections,
// held to the test's end.
func poolAndConn(t *testing.T) (*pgxpool.Pool, *pgxpool.Conn) {
	t.Helper()
	pool := testsupport.NewPool(t, "db", migrate)
	conn, err := pool.Acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(conn.Release)
	return pool, conn
}

// flushedExec returns a function that runs statements on conn and then
// has the backend flush its counts to the shared statistics.
func flushedExec(t *testing.T, conn *pgxpool.Conn) func(qs ...string) {
	return func(qs ...string) {
		t.Helper()
		for _, q := range append(qs, `SELECT pg_stat_force_next_flush()`, `SELECT 1`) { // the backend flushes its counts once idle
			if _, err := conn.Exec(context.Background(), q); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func TestVacuumDeadVacuumsOnlyTablesPastTheThreshold(t *testing.T) {
	ctx := context.Background()
	pool, conn := poolAndConn(t)
	// totals: 10 rows updated 50 times each (500 dead tuples); quiet: 10
	// rows never updated.
	for _, q := range []string{
		`CREATE SCHEMA hot`,
		`CREATE TABLE hot.totals (k int PRIMARY KEY, n bigint NOT NULL)`,
		`CREATE INDEX ON hot.totals (n)`, // updates change an indexed column: no HOT
		`CREATE TABLE hot.quiet (k int PRIMARY KEY)`,
		`INSERT INTO hot.totals SELECT g, 0 FROM generate_series(1, 10) g`,
		`INSERT INTO hot.quiet SELECT g FROM generate_series(1, 10) g`,
	} {
		if _, err := conn.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	for range 50 {
		if _, err := conn.Exec(ctx, `UPDATE hot.totals SET n = n + 1`); err != nil {
			t.Fatal(err)
		}
	}
	// Statistics reach the shared counters when the backend flushes them.
	if _, err := conn.Exec(ctx, `SELECT pg_stat_force_next_flush()`); err != nil {
		t.Fatal(err)
	}
	// One more round trip: the backend flushes once it has gone idle.
	if _, err := conn.Exec(ctx, `SELECT 1`); err != nil {
		t.Fatal(err)
	}
	dead := func(table string) (n int64) {
		t.Helper()
		if err := pool.QueryRow(ctx, `SELECT n_dead_tup FROM pg_stat_user_tables WHERE schemaname || '.' || relname = $1`, table).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := dead("hot.totals"); n != 500 {
		t.Fatalf("hot.totals has %d dead tuples before, want 500", n)
	}
	tables := []string{"hot.totals", "hot.quiet"}
	// Under the threshold: nothing is vacuumed.
	due, err := db.VacuumDead(ctx, pool, db.VacuumOptions{MinDead: 500}, tables...)
	if err != nil || len(due) != 0 {
		t.Fatalf("MinDead 500: vacuumed %v, %v; want none", due, err)
	}
	counts := func() (vacuums, analyzes int64) {
		t.Helper()
		if err := pool.QueryRow(ctx, `SELECT vacuum_count, analyze_count FROM pg_stat_user_tables WHERE relid = 'hot.totals'::regclass`).Scan(&vacuums, &analyzes); err != nil {
			t.Fatal(err)
		}
		return vacuums, analyzes
	}
	// Never analyzed: the vacuum analyzes too.
	due, err = db.VacuumDead(ctx, pool, db.VacuumOptions{MinDead: 100, Ratio: 0.2, AnalyzeEvery: time.Hour}, tables...)
	if err != nil || !slices.Equal(due, []string{"hot.totals"}) {
		t.Fatalf("vacuumed %v, %v; want [hot.totals]", due, err)
	}
	if n := dead("hot.totals"); n != 0 {
		t.Fatalf("hot.totals has %d dead tuples after VACUUM", n)
	}
	if v, a := counts(); v != 1 || a != 1 {
		t.Fatalf("after the first vacuum: %d vacuums, %d analyzes; want 1 and 1", v, a)
	}
	// Dead again, statistics a moment old: vacuumed, and analyzed only when
	// they may be no older than a millisecond.
	for _, every := range []time.Duration{time.Hour, time.Millisecond} {
		for range 50 {
			if _, err := conn.Exec(ctx, `UPDATE hot.totals SET n = n + 1`); err != nil {
				t.Fatal(err)
			}
		}
		for _, q := range []string{`SELECT pg_stat_force_next_flush()`, `SELECT 1`} {
			if _, err := conn.Exec(ctx, q); err != nil {
				t.Fatal(err)
			}
		}
		if due, err = db.VacuumDead(ctx, pool, db.VacuumOptions{MinDead: 100, Ratio: 0.2, AnalyzeEvery: every}, tables...); err != nil || len(due) != 1 {
			t.Fatalf("AnalyzeEvery %v: vacuumed %v, %v; want [hot.totals]", every, due, err)
		}
	}
	if v, a := counts(); v != 3 || a != 2 {
		t.Fatalf("after three vacuums, statistics an hour and a millisecond old allowed: %d vacuums, %d analyzes; want 3 and 2", v, a)
	}
	var sum int64
	if err := pool.QueryRow(ctx, `SELECT sum(n) FROM hot.totals`).Scan(&sum); err != nil || sum != 1500 {
		t.Fatalf("sum after VACUUM = %d, %v; want 1500", sum, err)
	}
}

// TestVacuumDeadAnalyzesATableThatDoubled: a table that grows by inserts,
// with its updates under the dead-tuple threshold, is analyzed once it
// holds twice the rows its statistics counted (VacuumDead says why).
func TestVacuumDeadAnalyzesATableThatDoubled(t *testing.T) {
	ctx := context.Background()
	pool, conn := poolAndConn(t)
	exec := flushedExec(t, conn)
	// One tenant's uploads, as intake keeps them: analyzed with one row.
	exec(`CREATE SCHEMA work`,
		`CREATE TABLE work.uploads (id bigint PRIMARY KEY, tenant int NOT NULL, attempts int NOT NULL)`,
		`CREATE INDEX ON work.uploads (tenant, id DESC)`,
		`INSERT INTO work.uploads VALUES (1, 7, 1)`, `ANALYZE work.uploads`)
	o := db.VacuumOptions{MinDead: 1000, Ratio: 0.2, AnalyzeEvery: time.Hour, Grown: true}
	vacuum := func(want ...string) {
		t.Helper()
		if due, err := db.VacuumDead(ctx, pool, o, "work.uploads"); err != nil || !slices.Equal(due, want) {
			t.Fatalf("vacuumed %v, %v; want %v", due, err, want)
		}
	}
	analyzes := func() (n int64) {
		t.Helper()
		if err := pool.QueryRow(ctx, `SELECT analyze_count FROM pg_stat_user_tables WHERE relid = 'work.uploads'::regclass`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	// 59 more rows: under the floor of 100; 2,000 in all: due, and analyzed.
	exec(`INSERT INTO work.uploads SELECT g, 7, 1 FROM generate_series(2, 60) g`)
	vacuum()
	exec(`INSERT INTO work.uploads SELECT g, 7, 1 FROM generate_series(61, 2000) g`)
	// Without Grown, only dead rows count.
	if due, err := db.VacuumDead(ctx, pool, db.VacuumOptions{MinDead: 1000, Ratio: 0.2, AnalyzeEvery: time.Hour}, "work.uploads"); err != nil || len(due) != 0 {
		t.Fatalf("without Grown: vacuumed %v, %v; want none", due, err)
	}
	before := analyzes()
	vacuum("work.uploads")
	if n := analyzes(); n != before+1 {
		t.Fatalf("analyzes %d after the vacuum, want %d", n, before+1)
	}
	// 500 more: under twice the 2,000 counted; nothing is due.
	exec(`INSERT INTO work.uploads SELECT g, 7, 1 FROM generate_series(2001, 2500) g`)
	vacuum()
}

// TestAnalyzerAnalyzesPartitionedTablesAsAWhole: a partitioned table is
// due as its partitions are written, whatever analyzed the partitions
// since, and its analyze gathers the statistics of the whole that
// autovacuum never gathers.
func TestAnalyzerAnalyzesPartitionedTablesAsAWhole(t *testing.T) {
	ctx := context.Background()
	pool, conn := poolAndConn(t)
	exec := flushedExec(t, conn)
	// lines: 400 rows in each of two partitions; flat: 600 rows; quiet: 10.
	exec(`CREATE SCHEMA grow`,
		`CREATE TABLE grow.lines (d date NOT NULL, k int NOT NULL) PARTITION BY RANGE (d)`,
		`CREATE TABLE grow.lines_2024 PARTITION OF grow.lines FOR VALUES FROM ('2024-01-01') TO ('2025-01-01')`,
		`CREATE TABLE grow.lines_2025 PARTITION OF grow.lines FOR VALUES FROM ('2025-01-01') TO ('2026-01-01')`,
		`CREATE TABLE grow.flat (k int NOT NULL)`, `CREATE TABLE grow.quiet (k int NOT NULL)`,
		`INSERT INTO grow.lines SELECT date '2024-06-01' + (g % 2) * 365, g FROM generate_series(1, 800) g`,
		`INSERT INTO grow.flat SELECT g FROM generate_series(1, 600) g`,
		`INSERT INTO grow.quiet SELECT g FROM generate_series(1, 10) g`)
	tables := []string{"grow.flat", "grow.lines", "grow.quiet"}
	analyze := func(a *db.Analyzer, want ...string) {
		t.Helper()
		if due, err := a.Analyze(ctx, pool); err != nil || !slices.Equal(due, want) {
			t.Fatalf("analyzed %v, %v; want %v", due, err, want)
		}
	}
	// Never analyzed: every table past MinDead rows; a partition alone is not.
	a := db.NewAnalyzer(db.VacuumOptions{MinDead: 500}, tables...)
	analyze(a, "grow.flat", "grow.lines")
	var whole int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM pg_stats WHERE schemaname = 'grow' AND tablename = 'lines' AND inherited`).Scan(&whole); err != nil || whole != 2 {
		t.Fatalf("statistics of grow.lines as a whole: %d columns, %v; want 2", whole, err)
	}
	analyze(a)
	// 100 rows more, the partition analyzed as autovacuum would: under a
	// fifth of 800; then 100 more, over it, analyzed once no more come.
	b := db.NewAnalyzer(db.VacuumOptions{MinDead: 50, Ratio: 0.2}, tables...)
	analyze(b)
	exec(`INSERT INTO grow.lines SELECT date '2025-03-01', g FROM generate_series(1, 100) g`, `ANALYZE grow.lines_2025`)
	analyze(b)
	exec(`INSERT INTO grow.lines SELECT date '2024-03-01', g FROM generate_series(1, 100) g`)
	analyze(b, "grow.lines")
	analyze(b)
	exec(`INSERT INTO grow.lines SELECT date '2024-04-01', g FROM generate_series(1, 500) g`)
	analyze(b) // still being written: 500 since the last look
	analyze(b, "grow.lines")
	// b's analyzes count for a: nothing is due though 700 rows came since.
	analyze(a)
	analyze(a)
	// Analyzed by another (an upload's end): its writes are not counted again.
	c := db.NewAnalyzer(db.VacuumOptions{MinDead: 50, Ratio: 0.1}, tables...)
	analyze(c)
	exec(`INSERT INTO grow.lines SELECT date '2024-05-01', g FROM generate_series(1, 400) g`, `ANALYZE grow.lines`)
	analyze(c)
	analyze(c)
}

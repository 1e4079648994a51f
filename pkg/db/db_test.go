package db_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/vcci-dev/vcci/pkg/db"
	"github.com/vcci-dev/vcci/pkg/testsupport"
)

func TestMain(m *testing.M) { os.Exit(testsupport.Main(m)) }

var fsys = fstest.MapFS{
	"migrations/0001_things.sql": {Data: []byte(`
		CREATE TABLE things (tenant_id uuid NOT NULL, day date NOT NULL, n int NOT NULL) PARTITION BY RANGE (day);
		ALTER TABLE things ENABLE ROW LEVEL SECURITY;
		CREATE POLICY t ON things USING (tenant_id = current_setting('vcci.tenant_id')::uuid)
			WITH CHECK (tenant_id = current_setting('vcci.tenant_id')::uuid);
		GRANT SELECT, INSERT ON things TO vcci_app;`)},
	"migrations/0002_more.sql": {Data: []byte(`ALTER TABLE things ADD COLUMN note text NOT NULL DEFAULT ''`)},
}

func migrate(ctx context.Context, pool *pgxpool.Pool) error {
	return db.Migrate(ctx, pool, "demo", fsys)
}

func TestMigratePartitionsAndTenantScope(t *testing.T) {
	ctx := context.Background()
	pool := testsupport.NewPool(t, "db", migrate)
	// Applying again is a no-op.
	if err := db.Migrate(ctx, pool, "demo", fsys); err != nil {
		t.Fatal(err)
	}
	var versions int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM demo.schema_migrations`).Scan(&versions); err != nil {
		t.Fatal(err)
	}
	if versions != 2 {
		t.Fatalf("%d migrations recorded, want 2", versions)
	}
	// The policy reads the tenant once per statement, wrapped once however
	// often Migrate runs.
	var using, check string
	if err := pool.QueryRow(ctx, `SELECT qual, with_check FROM pg_policies WHERE schemaname = 'demo' AND tablename = 'things'`).Scan(&using, &check); err != nil {
		t.Fatal(err)
	}
	const once = "(tenant_id = ( SELECT (current_setting('vcci.tenant_id'::text))::uuid AS current_setting))"
	if using != once || check != once {
		t.Fatalf("policy USING %s WITH CHECK %s, want %s", using, check, once)
	}

	from := time.Date(2023, 11, 15, 0, 0, 0, 0, time.UTC)
	to := time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)
	for range 2 { // idempotent
		if err := db.NewPartitions(pool).Ensure(ctx, "demo.things", from, to); err != nil {
			t.Fatal(err)
		}
	}
	rows, _ := pool.Query(ctx, `SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
		WHERE i.inhparent = 'demo.things'::regclass ORDER BY 1`)
	names, _ := pgx.CollectRows(rows, pgx.RowTo[string])
	want := []string{"things_2023q4", "things_2024q1", "things_2024q2"}
	if len(names) != 3 || names[0] != want[0] || names[2] != want[2] {
		t.Fatalf("partitions = %v, want %v", names, want)
	}

	a, b := testsupport.Tenant(t, pool, "a"), testsupport.Tenant(t, pool, "b")
	err := db.InTenant(ctx, pool, a, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO demo.things (tenant_id, day, n) VALUES ($1, '2024-01-02', 1)`, a)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	// Writing another tenant's row is refused by the database.
	err = db.InTenant(ctx, pool, b, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO demo.things (tenant_id, day, n) VALUES ($1, '2024-01-02', 1)`, a)
		return err
	})
	if err == nil {
		t.Fatal("tenant b wrote a row for tenant a")
	}
	for tenant, want := range map[string]int{"a": 1, "b": 0} {
		id := a
		if tenant == "b" {
			id = b
		}
		var n int
		if err := db.InTenant(ctx, pool, id, func(tx pgx.Tx) error {
			return tx.QueryRow(ctx, `SELECT count(*) FROM demo.things`).Scan(&n)
		}); err != nil {
			t.Fatal(err)
		}
		if n != want {
			t.Fatalf("tenant %s sees %d rows, want %d", tenant, n, want)
		}
	}
}

func TestInTenantBatchScopesEveryQueryAndEndsWithTheBatch(t *testing.T) {
	ctx := context.Background()
	pool := testsupport.NewPool(t, "db", migrate)
	if err := db.NewPartitions(pool).Ensure(ctx, "demo.things", time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)); err != nil {
		t.Fatal(err)
	}
	a, b := testsupport.Tenant(t, pool, "a"), testsupport.Tenant(t, pool, "b")
	for _, id := range []uuid.UUID{a, a, b} {
		if _, err := pool.Exec(ctx, `INSERT INTO demo.things (tenant_id, day, n) VALUES ($1, '2024-01-02', 1)`, id); err != nil {
			t.Fatal(err)
		}
	}
	// The pool holds one connection, so every call below reuses it: what
	// InTenantBatch set must not outlive its batch.
	pool.Config().MaxConns = 1
	one, err := pgxpool.NewWithConfig(ctx, pool.Config())
	if err != nil {
		t.Fatal(err)
	}
	defer one.Close()
	count := func(into *int) db.Stmt {
		return db.Stmt{SQL: `SELECT count(*) FROM demo.things`, Scan: func(r pgx.Rows) error {
			*into, err = pgx.CollectExactlyOneRow(r, pgx.RowTo[int])
			return err
		}}
	}
	for tenant, want := range map[uuid.UUID]int{a: 2, b: 1} {
		var n1, n2 int
		var user string
		err := db.InTenantBatch(ctx, one, tenant, count(&n1), db.Stmt{SQL: `SELECT current_user::text`, Scan: func(r pgx.Rows) error {
			user, err = pgx.CollectExactlyOneRow(r, pgx.RowTo[string])
			return err
		}}, count(&n2))
		if err != nil {
			t.Fatal(err)
		}
		if n1 != want || n2 != want || user != db.AppRole {
			t.Fatalf("tenant %v: counts %d, %d as %q; want %d, %d as %q", tenant, n1, n2, user, want, want, db.AppRole)
		}
	}
	var user, setting string
	if err := one.QueryRow(ctx, `SELECT current_user::text, coalesce(current_setting('vcci.tenant_id', true), '')`).Scan(&user, &setting); err != nil {
		t.Fatal(err)
	}
	if user == db.AppRole || setting != "" {
		t.Fatalf("after InTenantBatch the connection is %q with tenant %q; want the pool's user and no tenant", user, setting)
	}

	// All or nothing: a failing statement fails the call and undoes the
	// write before it.
	drain := func(r pgx.Rows) error { r.Close(); return r.Err() }
	err = db.InTenantBatch(ctx, one, a,
		db.Stmt{SQL: `INSERT INTO demo.things (tenant_id, day, n) VALUES ($1, '2024-01-03', 1)`, Args: []any{a}, Scan: drain},
		db.Stmt{SQL: `SELECT 1/0`, Scan: drain})
	if err == nil || !strings.Contains(err.Error(), "division by zero") {
		t.Fatalf("error = %v, want division by zero", err)
	}
	var n int
	if err := db.InTenantBatch(ctx, one, a, count(&n)); err != nil || n != 2 {
		t.Fatalf("tenant a has %d rows (%v) after a failed batch, want 2", n, err)
	}
	// The tenant's policy holds for writes too: a cannot write b's row.
	err = db.InTenantBatch(ctx, one, a, db.Stmt{SQL: `INSERT INTO demo.things (tenant_id, day, n) VALUES ($1, '2024-01-02', 1)`, Args: []any{b}, Scan: drain})
	if err == nil || !strings.Contains(err.Error(), "row-level security") {
		t.Fatalf("error = %v, want a row-level security violation", err)
	}
}

// TestSpansCarryStatementsNotParameters: a statement's parameters are
// tenant data and secrets, and traces leave the platform.
// tracedPool opens a pool on a new database whose statements are traced
// into the returned recorder.
func tracedPool(t *testing.T, name string) (*pgxpool.Pool, *sdktrace.TracerProvider, *tracetest.SpanRecorder) {
	t.Helper()
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	pool, err := db.Open(context.Background(), testsupport.NewDatabase(t, name, migrate), tp, 2)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool, tp, rec
}

func TestSpansCarryStatementsNotParameters(t *testing.T) {
	ctx := context.Background()
	pool, tp, rec := tracedPool(t, "db")
	const secret, stmt = "zq-parameter-7731", "SELECT length($1::text)"
	// The tracer records queries only inside a trace, as a request's are.
	ctx, span := tp.Tracer("test").Start(ctx, "request")
	var n int
	if err := pool.QueryRow(ctx, stmt, secret).Scan(&n); err != nil || n != len(secret) {
		t.Fatalf("query = %d, %v", n, err)
	}
	span.End()
	var withStatement int
	for _, s := range rec.Ended() {
		for _, a := range s.Attributes() {
			v := a.Value.String()
			if strings.Contains(v, secret) {
				t.Errorf("span %q attribute %s = %q carries the parameter", s.Name(), a.Key, v)
			}
			if a.Key == "db.query.text" && v == stmt {
				withStatement++
			}
		}
	}
	if withStatement == 0 {
		t.Fatalf("no span among %d carries the statement %q", len(rec.Ended()), stmt)
	}
}

// TestInTenantScopesWithItsBegin: InTenant's role and tenant go out with
// its BEGIN: nothing is sent but that, fn's statements and COMMIT.
func TestInTenantScopesWithItsBegin(t *testing.T) {
	ctx := context.Background()
	pool, tp, rec := tracedPool(t, "dbbegin")
	tenant := testsupport.Tenant(t, pool, "a")
	ctx, span := tp.Tracer("test").Start(ctx, "request")
	var role, got string
	err := db.InTenant(ctx, pool, tenant, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `SELECT current_user, current_setting('vcci.tenant_id')`).Scan(&role, &got)
	})
	span.End()
	if err != nil || role != db.AppRole || got != tenant.String() {
		t.Fatalf("InTenant ran as %q for tenant %q, %v", role, got, err)
	}
	var stmts []string
	for _, s := range rec.Ended() {
		for _, a := range s.Attributes() {
			if a.Key == "db.query.text" {
				stmts = append(stmts, a.Value.AsString())
			}
		}
	}
	want := []string{"BEGIN; SET LOCAL ROLE " + db.AppRole + "; SELECT set_config('vcci.tenant_id', '" + tenant.String() + "', true)",
		"SELECT current_user, current_setting('vcci.tenant_id')", "commit"}
	// A statement's first run is traced twice: prepared, then run.
	if stmts = slices.Compact(stmts); !slices.Equal(stmts, want) {
		t.Fatalf("statements sent: %q, want %q", stmts, want)
	}
}

// TestOpenErrorsHideThePassword: a DATABASE_URL that cannot be used is
// named in the error without its password, whatever is wrong with it.
func TestOpenErrorsHideThePassword(t *testing.T) {
	for _, url := range []string{
		"postgres://vcci:zq-s3cret@127.0.0.1:port/vcci",
		"postgres://vcci:zq-s3cret @127.0.0.1/vcci",
		"postgres://vcci:zq-s3cret@127.0.0.1/vcci?sslmode=bogus",
		"postgres://vcci:zq-s3cret@127.0.0.1/vcci?pool_max_conns=many",
		"postgres://127.0.0.1/vcci?password=zq-s3cret&port=x",
		"host=127.0.0.1 password='zq-s3cret x' port=x",
		"host=127.0.0.1 password=zq-s3cret sslmode=bogus",
		"postgres://vcci:zq-s3cret@127.0.0.1:1/vcci", // nothing listens
	} {
		pool, err := db.Open(context.Background(), url, noop.NewTracerProvider(), 1)
		if err == nil {
			pool.Close()
			t.Fatalf("Open(%q) succeeded", url)
		}
		if !strings.HasPrefix(err.Error(), "db.Open: ") || strings.Contains(err.Error(), "zq-s3cret") {
			t.Errorf("Open(%q): %v", url, err)
		}
	}
}

func TestNotFound(t *testing.T) {
	gone := errors.New("gone")
	if err := db.NotFound(nil, "op", gone); err != nil {
		t.Fatalf("nil: got %v", err)
	}
	if err := db.NotFound(fmt.Errorf("wrapped: %w", pgx.ErrNoRows), "op", gone); !errors.Is(err, gone) {
		t.Fatalf("no rows: got %v, want gone", err)
	}
	other := errors.New("boom")
	err := db.NotFound(other, "store.Get", gone)
	if !errors.Is(err, other) || err.Error() != "store.Get: boom" {
		t.Fatalf("other: got %v", err)
	}
}

// After the server drops every connection (a restart), the pool still
// holds them; a transaction that meets a dead one before its first
// statement runs takes another, so no request fails for it.
func TestATransactionOnADeadConnectionTakesAnother(t *testing.T) {
	ctx := context.Background()
	cfg, err := pgxpool.ParseConfig(testsupport.NewDatabase(t, "dbfresh", migrate))
	if err != nil {
		t.Fatal(err)
	}
	proxy := testsupport.StartProxy(t, net.JoinHostPort(cfg.ConnConfig.Host, strconv.Itoa(int(cfg.ConnConfig.Port))))
	host, port, _ := net.SplitHostPort(proxy.Addr)
	p, _ := strconv.Atoi(port)
	cfg.ConnConfig.Host, cfg.ConnConfig.Port = host, uint16(p)
	cfg.MaxConns = 4
	// Connections in use a moment ago are not pinged before reuse.
	cfg.ShouldPing = func(context.Context, pgxpool.ShouldPingParams) bool { return false }
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	tenant := testsupport.Tenant(t, pool, "a")
	// Four connections in the pool, then the server side of each is gone.
	killPool := func() {
		t.Helper()
		conns := make([]*pgxpool.Conn, 4)
		for i := range conns {
			if conns[i], err = pool.Acquire(ctx); err != nil {
				t.Fatal(err)
			}
		}
		for _, c := range conns {
			c.Release()
		}
		proxy.Break()
		proxy.Restore()
		time.Sleep(100 * time.Millisecond) // the proxy has closed them
	}
	killPool()
	var got string
	err = db.InTenant(ctx, pool, tenant, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `SELECT current_setting('vcci.tenant_id')`).Scan(&got)
	})
	if err != nil || got != tenant.String() {
		t.Fatalf("a transaction after the connections died: tenant %q, %v", got, err)
	}
	killPool()
	got = ""
	if err := db.InTenantBatch(ctx, pool, tenant, db.Stmt{SQL: `SELECT current_setting('vcci.tenant_id')`, Scan: db.One(&got)}); err != nil ||
		got != tenant.String() {
		t.Fatalf("a batch after the connections died: tenant %q, %v", got, err)
	}
	killPool()
	if err := db.AsMaintenance(ctx, pool, func(pgx.Tx) error { return nil }); err != nil {
		t.Fatalf("maintenance after the connections died: %v", err)
	}
}

// SkipConflicts inserts plainly, and only after a unique violation again
// with ON CONFLICT DO NOTHING, the plain attempt rolled back.
func TestSkipConflicts(t *testing.T) {
	ctx := context.Background()
	pool := testsupport.NewPool(t, "db", migrate)
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	if _, err := tx.Exec(ctx, `CREATE TEMP TABLE ids (id int PRIMARY KEY)`); err != nil {
		t.Fatal(err)
	}
	var asked []string
	insert := func(values string) func(pgx.Tx, string) error {
		return func(tx pgx.Tx, onConflict string) error {
			asked = append(asked, onConflict)
			_, err := tx.Exec(ctx, "INSERT INTO ids VALUES "+values+" "+onConflict)
			return err
		}
	}
	count := func() (n int) {
		t.Helper()
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM ids`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if err := db.SkipConflicts(ctx, tx, insert("(1), (2)")); err != nil || !slices.Equal(asked, []string{""}) || count() != 2 {
		t.Fatalf("no conflict: %v, asked %q, %d rows", err, asked, count())
	}
	asked = nil
	if err := db.SkipConflicts(ctx, tx, insert("(3), (2)")); err != nil || !slices.Equal(asked, []string{"", "ON CONFLICT DO NOTHING"}) || count() != 3 {
		t.Fatalf("a conflict: %v, asked %q, %d rows", err, asked, count())
	}
	asked = nil
	if err := db.SkipConflicts(ctx, tx, insert("(4), (-1 / 0)")); err == nil || db.IsUniqueViolation(err) || !slices.Equal(asked, []string{""}) || count() != 3 {
		t.Fatalf("another error: %v, asked %q, %d rows", err, asked, count())
	}
}

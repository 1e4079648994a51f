package db_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/vcci-dev/vcci/pkg/db"
	"github.com/vcci-dev/vcci/pkg/testsupport"
)

// short are timeouts a test can outlast; a lock wait ends before the
// statement's timeout would end it.
var short = db.Timeouts{Statement: 500 * time.Millisecond, Lock: 100 * time.Millisecond, IdleInTransaction: 300 * time.Millisecond}

func open(t *testing.T, url string, maxConns int32, opts ...db.Option) *pgxpool.Pool {
	t.Helper()
	pool, err := db.Open(context.Background(), url, noop.NewTracerProvider(), maxConns, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}

func sqlState(err error) string {
	if pe, ok := errors.AsType[*pgconn.PgError](err); ok {
		return pe.Code
	}
	return ""
}

func show(t *testing.T, q interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}, setting string) string {
	t.Helper()
	var v string
	if err := q.QueryRow(context.Background(), "SHOW "+setting).Scan(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

func TestPoolsStartWithSessionTimeouts(t *testing.T) {
	url := testsupport.NewDatabase(t, "db", migrate)
	def := open(t, url, 2)
	for setting, want := range map[string]string{"statement_timeout": "5min", "lock_timeout": "30s", "idle_in_transaction_session_timeout": "5min"} {
		if got := show(t, def, setting); got != want {
			t.Errorf("default %s = %s, want %s", setting, got, want)
		}
	}
	// A timeout in the URL's query wins.
	if got := show(t, open(t, url+"&statement_timeout=1234", 1), "statement_timeout"); got != "1234ms" {
		t.Errorf("statement_timeout from the URL = %s, want 1234ms", got)
	}
	// No JIT, unless the URL asks for it.
	if got := show(t, def, "jit"); got != "off" {
		t.Errorf("default jit = %s, want off", got)
	}
	if got := show(t, open(t, url+"&jit=on", 1), "jit"); got != "on" {
		t.Errorf("jit from the URL = %s, want on", got)
	}
	off := open(t, url, 1, db.WithTimeouts(db.Timeouts{}))
	if got := show(t, off, "lock_timeout"); got != "0" {
		t.Errorf("lock_timeout turned off = %s, want 0", got)
	}

	ctx := context.Background()
	pool := open(t, url, 2, db.WithTimeouts(short))
	t.Run("statement", func(t *testing.T) {
		start := time.Now()
		_, err := pool.Exec(ctx, `SELECT pg_sleep(5)`)
		if sqlState(err) != "57014" || time.Since(start) > 3*time.Second {
			t.Fatalf("pg_sleep(5) under a 500ms statement_timeout: %v after %v, want SQLSTATE 57014", err, time.Since(start))
		}
	})
	t.Run("lock", func(t *testing.T) {
		holder, err := def.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = holder.Rollback(ctx) }()
		if _, err := holder.Exec(ctx, `LOCK TABLE demo.things IN ACCESS EXCLUSIVE MODE`); err != nil {
			t.Fatal(err)
		}
		_, err = pool.Exec(ctx, `SELECT count(*) FROM demo.things`)
		if sqlState(err) != "55P03" {
			t.Fatalf("read behind an exclusive lock: %v, want SQLSTATE 55P03", err)
		}
	})
	t.Run("idle in transaction", func(t *testing.T) {
		tx, err := pool.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = tx.Rollback(ctx) }()
		if _, err := tx.Exec(ctx, `SELECT 1`); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Second)
		_, err = tx.Exec(ctx, `SELECT 1`)
		if sqlState(err) != "25P03" {
			t.Fatalf("after idling: %v, want SQLSTATE 25P03", err)
		}
	})
}

func TestUntilDeadlineAndUnboundedLiftTheTimeouts(t *testing.T) {
	ctx := context.Background()
	pool := open(t, testsupport.NewDatabase(t, "db", migrate), 1, db.WithTimeouts(short))

	dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	err := pgx.BeginFunc(dctx, pool, func(tx pgx.Tx) error {
		if err := db.UntilDeadline(dctx, tx); err != nil {
			return err
		}
		_, err := tx.Exec(dctx, `SELECT pg_sleep(1)`)
		return err
	})
	if err != nil {
		t.Fatalf("a 1s statement until a 10s deadline: %v", err)
	}
	// SET LOCAL ended with the transaction; the pool has one connection.
	if got := show(t, pool, "statement_timeout"); got != "500ms" {
		t.Fatalf("statement_timeout after the transaction = %s, want 500ms", got)
	}

	conn, release, err := db.Unbounded(ctx, pool)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, `SELECT pg_sleep(1)`); err != nil {
		t.Fatalf("a 1s statement without timeouts: %v", err)
	}
	release()
	if got := show(t, pool, "statement_timeout"); got != "500ms" {
		t.Fatalf("statement_timeout after release = %s, want 500ms", got)
	}
}

func TestLoadTimeouts(t *testing.T) {
	t.Setenv("DB_STATEMENT_TIMEOUT", "")
	t.Setenv("DB_LOCK_TIMEOUT", "")
	t.Setenv("DB_IDLE_IN_TRANSACTION_TIMEOUT", "")
	if got, err := db.LoadTimeouts(); err != nil || got != db.DefaultTimeouts() {
		t.Fatalf("unset: %+v, %v", got, err)
	}
	t.Setenv("DB_STATEMENT_TIMEOUT", "15m")
	t.Setenv("DB_LOCK_TIMEOUT", "0")
	got, err := db.LoadTimeouts()
	if err != nil || got.Statement != 15*time.Minute || got.Lock != 0 || got.IdleInTransaction != 5*time.Minute {
		t.Fatalf("set: %+v, %v", got, err)
	}
	for _, bad := range []string{"10", "-1s"} {
		t.Setenv("DB_IDLE_IN_TRANSACTION_TIMEOUT", bad)
		if _, err := db.LoadTimeouts(); err == nil || !strings.Contains(err.Error(), "DB_IDLE_IN_TRANSACTION_TIMEOUT") {
			t.Errorf("%s: err %v, want one naming DB_IDLE_IN_TRANSACTION_TIMEOUT", bad, err)
		}
	}
}

// Package dbtest gives each test its own database on the real PostgreSQL,
// cloned from a template that is migrated once per test binary.
package dbtest

import (
	"context"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/vcci-dev/vcci/pkg/db"
)

// AdminURL is the server tests use: TEST_DATABASE_URL, or the local default.
func AdminURL() string {
	if u := os.Getenv("TEST_DATABASE_URL"); u != "" {
		return u
	}
	return "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
}

var (
	mu        sync.Mutex
	templates = map[string]string{} // key -> template database
	seq       atomic.Int64
)

// URL returns the URL of database name on the test server.
func URL(name string) string {
	cfg, err := pgx.ParseConfig(AdminURL())
	if err != nil {
		panic(err)
	}
	return fmt.Sprintf("postgres://%s@%s:%d/%s?sslmode=disable", cfg.User, cfg.Host, cfg.Port, name)
}

// NewDatabase creates a fresh database migrated by migrate (run once per key
// and test binary on a template) and returns its URL; it is dropped when the
// test ends.
func NewDatabase(t testing.TB, key string, migrate func(ctx context.Context, pool *pgxpool.Pool) error) string {
	t.Helper()
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, AdminURL())
	if err != nil {
		t.Fatalf("dbtest: PostgreSQL is not reachable at %s: %v", AdminURL(), err)
	}
	defer admin.Close(ctx)

	tmpl := template(t, admin, key, migrate)
	name := fmt.Sprintf("vcci_test_%d_%d", os.Getpid(), seq.Add(1))
	if _, err := admin.Exec(ctx, fmt.Sprintf("CREATE DATABASE %s TEMPLATE %s", name, tmpl)); err != nil {
		t.Fatalf("dbtest: create database: %v", err)
	}
	t.Cleanup(func() {
		c, err := pgx.Connect(context.Background(), AdminURL())
		if err != nil {
			return
		}
		defer c.Close(context.Background())
		c.Exec(context.Background(), fmt.Sprintf("DROP DATABASE IF EXISTS %s WITH (FORCE)", name))
	})
	return URL(name)
}

// NewPool is NewDatabase plus an untraced pool on it, closed at the end.
func NewPool(t testing.TB, key string, migrate func(ctx context.Context, pool *pgxpool.Pool) error) *pgxpool.Pool {
	t.Helper()
	pool, err := db.Open(context.Background(), NewDatabase(t, key, migrate), noop.NewTracerProvider(), 8)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}

func template(t testing.TB, admin *pgx.Conn, key string, migrate func(ctx context.Context, pool *pgxpool.Pool) error) string {
	mu.Lock()
	defer mu.Unlock()
	if name, ok := templates[key]; ok {
		return name
	}
	ctx := context.Background()
	name := fmt.Sprintf("vcci_tmpl_%d_%s", os.Getpid(), key)
	admin.Exec(ctx, fmt.Sprintf("DROP DATABASE IF EXISTS %s WITH (FORCE)", name))
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("dbtest: create template: %v", err)
	}
	pool, err := db.Open(ctx, URL(name), noop.NewTracerProvider(), 4)
	if err != nil {
		t.Fatalf("dbtest: %v", err)
	}
	err = migrate(ctx, pool)
	pool.Close()
	if err != nil {
		t.Fatalf("dbtest: migrate template: %v", err)
	}
	templates[key] = name
	return name
}

// Main runs the tests, then drops this binary's template databases. Call it
// from TestMain: os.Exit(dbtest.Main(m)).
func Main(m *testing.M) int {
	code := m.Run()
	mu.Lock()
	defer mu.Unlock()
	if c, err := pgx.Connect(context.Background(), AdminURL()); err == nil {
		for _, name := range templates {
			c.Exec(context.Background(), fmt.Sprintf("DROP DATABASE IF EXISTS %s WITH (FORCE)", name))
		}
		c.Close(context.Background())
	}
	return code
}

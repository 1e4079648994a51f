package testsupport

import (
	"context"
	"flag"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/vcci-dev/vcci/pkg/db"
	"github.com/vcci-dev/vcci/pkg/tenancy"
)

// Migration applies one schema to a database, as tenancy.Migrate and every
// store's Migrate do.
type Migration = func(ctx context.Context, pool *pgxpool.Pool) error

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

// NewDatabase creates a database of the test's own and returns its URL; it
// is dropped when the test ends. It is cloned from a template made once per
// key and test binary: tenancy's schema (every service's tables rely on its
// roles and tenants) and then ms, in order. Under -short the test is
// skipped.
func NewDatabase(t testing.TB, key string, ms ...Migration) string {
	t.Helper()
	if testing.Short() {
		t.Skip("testsupport: -short skips the tests that need PostgreSQL")
	}
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, AdminURL())
	if err != nil {
		t.Fatalf("testsupport: PostgreSQL is not reachable at %s: %v", AdminURL(), err)
	}
	defer admin.Close(ctx)

	tmpl := template(t, admin, key, append([]Migration{tenancy.Migrate}, ms...))
	name := fmt.Sprintf("vcci_test_%d_%d", os.Getpid(), seq.Add(1))
	if _, err := admin.Exec(ctx, fmt.Sprintf("CREATE DATABASE %s TEMPLATE %s", name, tmpl)); err != nil {
		t.Fatalf("testsupport: create database: %v", err)
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
func NewPool(t testing.TB, key string, ms ...Migration) *pgxpool.Pool {
	t.Helper()
	pool, err := db.Open(context.Background(), NewDatabase(t, key, ms...), noop.NewTracerProvider(), 8)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// FuzzPool is NewPool for a fuzz target. `go test -fuzz` runs the inputs
// in worker processes that run the target's setup again and may be killed
// before their cleanups, so only the process that runs the target itself
// (its seeds, or coordinating the fuzzing) makes the database, fills it
// with fill, and drops it at the end; its workers are handed the URL
// through the environment and only connect.
func FuzzPool(f *testing.F, key string, fill func(*pgxpool.Pool), ms ...Migration) *pgxpool.Pool {
	f.Helper()
	if testing.Short() {
		f.Skip("testsupport: -short skips the tests that need PostgreSQL")
	}
	env := "VCCI_FUZZ_DATABASE_" + f.Name()
	wf := flag.Lookup("test.fuzzworker")
	worker := wf != nil && wf.Value.String() == "true"
	url := os.Getenv(env)
	switch {
	case !worker:
		url = NewDatabase(f, key, ms...)
		f.Setenv(env, url) // the workers start with this process's environment
	case url == "":
		f.Fatalf("testsupport: a fuzz worker without %s", env)
	}
	pool, err := db.Open(context.Background(), url, noop.NewTracerProvider(), 4)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(pool.Close)
	if !worker {
		fill(pool)
	}
	return pool
}

func template(t testing.TB, admin *pgx.Conn, key string, ms []Migration) string {
	mu.Lock()
	defer mu.Unlock()
	if name, ok := templates[key]; ok {
		return name
	}
	ctx := context.Background()
	name := fmt.Sprintf("vcci_tmpl_%d_%s", os.Getpid(), key)
	admin.Exec(ctx, fmt.Sprintf("DROP DATABASE IF EXISTS %s WITH (FORCE)", name))
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("testsupport: create template: %v", err)
	}
	pool, err := db.Open(ctx, URL(name), noop.NewTracerProvider(), 4)
	if err != nil {
		t.Fatalf("testsupport: %v", err)
	}
	defer pool.Close()
	for _, m := range ms {
		if err := m(ctx, pool); err != nil {
			t.Fatalf("testsupport: migrate template: %v", err)
		}
	}
	templates[key] = name
	return name
}

// Main runs the tests, then drops this binary's template databases. Call it
// from TestMain: os.Exit(testsupport.Main(m)).
func Main(m *testing.M) int {
	code := m.Run()
	mu.Lock()
	defer mu.Unlock()
	if len(templates) == 0 { // -short, or no test needed a database
		return code
	}
	if c, err := pgx.Connect(context.Background(), AdminURL()); err == nil {
		for _, name := range templates {
			c.Exec(context.Background(), fmt.Sprintf("DROP DATABASE IF EXISTS %s WITH (FORCE)", name))
		}
		c.Close(context.Background())
	}
	return code
}

// Tenant returns the id of the tenant called name, creating it if need be.
func Tenant(t testing.TB, pool *pgxpool.Pool, name string) uuid.UUID {
	t.Helper()
	id, err := tenancy.EnsureTenant(context.Background(), pool, name)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// Key issues a new API key (labelled "test") of the tenant called name,
// creating the tenant if need be.
func Key(t testing.TB, pool *pgxpool.Pool, tenant string) string {
	t.Helper()
	key, err := tenancy.IssueKey(context.Background(), pool, Tenant(t, pool, tenant), "test")
	if err != nil {
		t.Fatal(err)
	}
	return key
}

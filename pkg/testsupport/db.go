package testsupport

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	"net"
	"net/url"
	"os"
	"strconv"
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
	// owner is the role of this binary's owned databases, made on first
	// use; its password is in ownerPassword.
	owner, ownerPassword string
)

// URL returns the URL of database name on the test server.
func URL(name string) string {
	cfg, err := pgx.ParseConfig(AdminURL())
	if err != nil {
		panic(err)
	}
	return fmt.Sprintf("postgres://%s@%s/%s?sslmode=disable", cfg.User, net.JoinHostPort(cfg.Host, strconv.Itoa(int(cfg.Port))), name)
}

// NewDatabase creates a database of the test's own and returns its URL; it
// is dropped when the test ends. It is cloned from a template made once per
// key and test binary: tenancy's schema (every service's tables rely on its
// roles and tenants) and then ms, in order. Under -short the test is
// skipped.
func NewDatabase(t testing.TB, key string, ms ...Migration) string {
	t.Helper()
	admin := connectAdmin(t)
	defer admin.Close(context.Background())
	return clone(t, admin, key, "", ms)
}

// NewOwnedDatabase is NewDatabase as a deployment sees it: the database,
// and all its migrations make, belong to a login role with a password and
// no superuser rights (one per test binary), so that row-level security
// binds it where FORCE ROW LEVEL SECURITY says so, as it binds the role a
// deployment connects as. (The superuser NewDatabase connects as passes
// every policy.) It returns the URL as that role, password included.
func NewOwnedDatabase(t testing.TB, key string, ms ...Migration) string {
	t.Helper()
	admin := connectAdmin(t)
	defer admin.Close(context.Background())
	return clone(t, admin, "owned_"+key, ownerRole(t, admin), ms)
}

// connectAdmin connects to AdminURL, or skips the test under -short.
func connectAdmin(t testing.TB) *pgx.Conn {
	t.Helper()
	if testing.Short() {
		t.Skip("testsupport: -short skips the tests that need PostgreSQL")
	}
	admin, err := pgx.Connect(context.Background(), AdminURL())
	if err != nil {
		t.Fatalf("testsupport: PostgreSQL is not reachable at %s: %v", AdminURL(), err)
	}
	return admin
}

// ownerRole returns the role of this binary's owned databases, making it
// on first use: a member of the roles services switch to, as db.Migrate
// would make it (a non-superuser may not grant them itself).
func ownerRole(t testing.TB, admin *pgx.Conn) string {
	mu.Lock()
	defer mu.Unlock()
	if owner != "" {
		return owner
	}
	ctx := context.Background()
	if err := db.EnsureRoles(ctx, admin); err != nil {
		t.Fatalf("testsupport: %v", err)
	}
	b := make([]byte, 16)
	rand.Read(b)
	name, password := fmt.Sprintf("vcci_owner_%d", os.Getpid()), hex.EncodeToString(b)
	_, _ = admin.Exec(ctx, "DROP ROLE IF EXISTS "+name) // left by an earlier binary of this pid, if any
	if _, err := admin.Exec(ctx, fmt.Sprintf("CREATE ROLE %s LOGIN PASSWORD '%s' NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS; GRANT %s, %s TO %s",
		name, password, db.AppRole, db.MaintenanceRole, name)); err != nil {
		t.Fatalf("testsupport: create the owning role: %v", err)
	}
	owner, ownerPassword = name, password
	return owner
}

// clone creates a database for the test from key's template, owned by
// role (the admin's user when empty), and returns its URL as that role.
func clone(t testing.TB, admin *pgx.Conn, key, role string, ms []Migration) string {
	t.Helper()
	ctx := context.Background()
	tmpl := template(t, admin, key, role, append([]Migration{tenancy.Migrate}, ms...))
	name := fmt.Sprintf("vcci_test_%d_%d", os.Getpid(), seq.Add(1))
	create := fmt.Sprintf("CREATE DATABASE %s TEMPLATE %s", name, tmpl)
	if role != "" {
		create += " OWNER " + role
	}
	if _, err := admin.Exec(ctx, create); err != nil {
		t.Fatalf("testsupport: create database: %v", err)
	}
	t.Cleanup(func() {
		c, err := pgx.Connect(context.Background(), AdminURL())
		if err != nil {
			t.Logf("testsupport: drop database %s: %v", name, err)
			return
		}
		defer c.Close(context.Background())
		if _, err := c.Exec(context.Background(), fmt.Sprintf("DROP DATABASE IF EXISTS %s WITH (FORCE)", name)); err != nil {
			t.Logf("testsupport: drop database %s: %v", name, err)
		}
	})
	return urlAs(role, name)
}

// urlAs returns the URL of database name as role, or as the admin's user
// when role is empty.
func urlAs(role, name string) string {
	if role == "" {
		return URL(name)
	}
	cfg, err := pgx.ParseConfig(AdminURL())
	if err != nil {
		panic(err)
	}
	u := url.URL{Scheme: "postgres", User: url.UserPassword(role, ownerPassword), Host: net.JoinHostPort(cfg.Host, strconv.Itoa(int(cfg.Port))),
		Path: "/" + name, RawQuery: "sslmode=disable"}
	return u.String()
}

// NewPool is NewDatabase plus an untraced pool on it, closed at the end.
func NewPool(t testing.TB, key string, ms ...Migration) *pgxpool.Pool {
	t.Helper()
	return openPool(t, NewDatabase(t, key, ms...))
}

// NewOwnedPool is NewOwnedDatabase plus an untraced pool on it as its
// owner, closed at the end.
func NewOwnedPool(t testing.TB, key string, ms ...Migration) *pgxpool.Pool {
	t.Helper()
	return openPool(t, NewOwnedDatabase(t, key, ms...))
}

func openPool(t testing.TB, dbURL string) *pgxpool.Pool {
	t.Helper()
	pool, err := db.Open(context.Background(), dbURL, noop.NewTracerProvider(), 8)
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
	dbURL := os.Getenv(env)
	switch {
	case !worker:
		dbURL = NewDatabase(f, key, ms...)
		f.Setenv(env, dbURL) // the workers start with this process's environment
	case dbURL == "":
		f.Fatalf("testsupport: a fuzz worker without %s", env)
	}
	pool, err := db.Open(context.Background(), dbURL, noop.NewTracerProvider(), 4)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(pool.Close)
	if !worker {
		fill(pool)
	}
	return pool
}

// template returns key's template database, making it on first use: owned
// by role (the admin's user when empty) and migrated by it with ms.
func template(t testing.TB, admin *pgx.Conn, key, role string, ms []Migration) string {
	mu.Lock()
	defer mu.Unlock()
	if name, ok := templates[key]; ok {
		return name
	}
	ctx := context.Background()
	name := fmt.Sprintf("vcci_tmpl_%d_%s", os.Getpid(), key)
	// A binary killed before Main ran leaves its template behind; a new
	// process with the same pid would find it.
	if _, err := admin.Exec(ctx, fmt.Sprintf("DROP DATABASE IF EXISTS %s WITH (FORCE)", name)); err != nil {
		t.Fatalf("testsupport: drop stale template: %v", err)
	}
	create := "CREATE DATABASE " + name
	if role != "" {
		create += " OWNER " + role
	}
	if _, err := admin.Exec(ctx, create); err != nil {
		t.Fatalf("testsupport: create template: %v", err)
	}
	pool, err := db.Open(ctx, urlAs(role, name), noop.NewTracerProvider(), 4)
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
			if _, err := c.Exec(context.Background(), fmt.Sprintf("DROP DATABASE IF EXISTS %s WITH (FORCE)", name)); err != nil {
				fmt.Fprintf(os.Stderr, "testsupport: drop template %s: %v\n", name, err)
			}
		}
		if owner != "" {
			_, _ = c.Exec(context.Background(), "DROP ROLE IF EXISTS "+owner)
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

// Package db opens traced PostgreSQL pools, applies embedded migrations, runs
// work inside a tenant's row-level-security scope, and keeps date partitions
// ahead of the data.
package db

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/exaring/otelpgx"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.opentelemetry.io/otel/trace"
)

// AppRole is the role tenant-scoped work runs as. It owns nothing, so the
// row-level-security policies on every tenant table apply to it.
const AppRole = "vcci_app"

// MaintenanceRole is the role upkeep that spans tenants runs as (folding
// the transaction counters, failing abandoned uploads). The tables' owner,
// the role services connect as, is held to their tenant policies too
// (FORCE ROW LEVEL SECURITY), so that a statement run outside InTenant by
// mistake fails instead of seeing every tenant. The few tables upkeep
// touches have a policy for this role that lets it see every row; its
// grants say what it may do there.
const MaintenanceRole = "vcci_maintenance"

// Option configures Open.
type Option func(*options)

type options struct{ timeouts Timeouts }

// WithTimeouts gives the pool's connections t in place of DefaultTimeouts.
func WithTimeouts(t Timeouts) Option { return func(o *options) { o.timeouts = t } }

// Open returns a pool for url whose queries are traced with tp. Every
// connection starts with DefaultTimeouts (or WithTimeouts'), unless url's
// query sets a timeout itself. Spans carry a statement's text but not its
// parameters: those are tenant data, key hashes and secrets, and traces
// leave the platform for a collector. pgx keeps url's password out of its
// errors (TestOpenErrorsHideThePassword holds it to that), so they are
// returned as they are.
func Open(ctx context.Context, url string, tp trace.TracerProvider, maxConns int32, opts ...Option) (*pgxpool.Pool, error) {
	o := options{timeouts: DefaultTimeouts()}
	for _, opt := range opts {
		opt(&o)
	}
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("db.Open: %w", err)
	}
	o.timeouts.params(cfg.ConnConfig.RuntimeParams)
	// No JIT, unless url asks for it: the services' statements run in
	// milliseconds, but a generic plan over a large partitioned table is
	// costed past jit_above_cost, and compiling it took some 50 ms of CPU
	// each time (the deep transactions page at 1M lines).
	if _, set := cfg.ConnConfig.RuntimeParams["jit"]; !set {
		cfg.ConnConfig.RuntimeParams["jit"] = "off"
	}
	cfg.ConnConfig.Tracer = otelpgx.NewTracer(otelpgx.WithTracerProvider(tp))
	if maxConns > 0 {
		cfg.MaxConns = maxConns
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("db.Open: %w", err)
	}
	pingCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := pool.Ping(pingCtx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("db.Open: %w", err)
	}
	return pool, nil
}

var migrationName = regexp.MustCompile(`^(\d{4})_[a-z0-9_]+\.sql$`)

// Migrate creates schema and applies the *.sql files of fsys (any folder
// depth; names NNNN_name.sql) that it has not applied yet, in order, each in
// its own transaction. Concurrent callers (replicas starting together)
// serialize on an advisory lock.
func Migrate(ctx context.Context, pool *pgxpool.Pool, schema string, fsys fs.FS) error {
	migs, err := readMigrations(fsys)
	if err != nil {
		return fmt.Errorf("db.Migrate %s: %w", schema, err)
	}
	// Without timeouts: a migration may rewrite a large table, and other
	// replicas (other test binaries) wait here for it to finish.
	conn, release, err := Unbounded(ctx, pool)
	if err != nil {
		return fmt.Errorf("db.Migrate %s: %w", schema, err)
	}
	defer release()
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock(`+rolesLock+`)`); err != nil {
		return fmt.Errorf("db.Migrate %s: lock: %w", schema, err)
	}
	defer unlockMigrations(ctx, conn)

	if err := EnsureRoles(ctx, conn); err != nil {
		return fmt.Errorf("db.Migrate %s: %w", schema, err)
	}
	if err := prepareSchema(ctx, conn, schema); err != nil {
		return fmt.Errorf("db.Migrate %s: %w", schema, err)
	}
	done, err := appliedMigrations(ctx, conn, schema)
	if err != nil {
		return fmt.Errorf("db.Migrate %s: %w", schema, err)
	}
	for _, m := range migs {
		if done[m.version] {
			continue
		}
		if err := applyMigration(ctx, conn, schema, m); err != nil {
			return fmt.Errorf("db.Migrate %s: %s: %w", schema, m.name, err)
		}
	}
	if err := readTenantOnce(ctx, conn, schema); err != nil {
		return fmt.Errorf("db.Migrate %s: %w", schema, err)
	}
	return nil
}

// tenantReads are the ways policies read the request's tenant, as
// pg_policies prints them.
var tenantReads = []string{
	`(current_setting('vcci.tenant_id'::text))::uuid`,
	`(NULLIF(current_setting('vcci.tenant_id'::text, true), ''::text))::uuid`,
}

// readTenantOnce rewrites schema's row-level policies to read the tenant
// once per statement: written as in the migrations, PostgreSQL evaluates
// current_setting and the uuid cast for every row a statement inserts or
// scans (a third more time on a bulk insert, three times a sequential
// scan's, docs/benchmarks.md); inside a scalar subquery it is an InitPlan,
// run once. Migrations keep the plain form; a policy rewritten before is
// left as it is.
func readTenantOnce(ctx context.Context, conn *pgxpool.Conn, schema string) error {
	rows, err := conn.Query(ctx, `SELECT tablename, policyname, qual, with_check FROM pg_policies WHERE schemaname = $1 ORDER BY 1, 2`, schema)
	if err != nil {
		return fmt.Errorf("read policies: %w", err)
	}
	type policy struct {
		Table, Name  string
		Using, Check *string
	}
	ps, err := pgx.CollectRows(rows, pgx.RowToStructByPos[policy])
	if err != nil {
		return fmt.Errorf("read policies: %w", err)
	}
	once := func(expr *string) (string, bool) {
		if expr == nil || strings.Contains(*expr, "SELECT") {
			return "", false
		}
		out := *expr
		for _, r := range tenantReads {
			out = strings.ReplaceAll(out, r, "(SELECT "+r+")")
		}
		return out, out != *expr
	}
	var alters []string
	for _, p := range ps {
		using, u := once(p.Using)
		check, c := once(p.Check)
		if !u && !c {
			continue
		}
		alter := "ALTER POLICY " + pgx.Identifier{p.Name}.Sanitize() + " ON " + pgx.Identifier{schema, p.Table}.Sanitize()
		if u {
			alter += " USING (" + using + ")"
		}
		if c {
			alter += " WITH CHECK (" + check + ")"
		}
		alters = append(alters, alter)
	}
	if len(alters) == 0 { // every start after the first: one read
		return nil
	}
	return inTx(ctx, conn, "transaction", func(tx pgx.Tx) error {
		for _, a := range alters {
			if _, err := tx.Exec(ctx, a); err != nil {
				return fmt.Errorf("rewrite policy: %s: %w", a, err)
			}
		}
		return nil
	})
}

// migration is one NNNN_name.sql file.
type migration struct {
	version int
	name    string
	sql     string
}

// readMigrations returns the migrations of fsys in version order.
func readMigrations(fsys fs.FS) ([]migration, error) {
	var migs []migration
	err := fs.WalkDir(fsys, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		m := migrationName.FindStringSubmatch(d.Name())
		if m == nil {
			return fmt.Errorf("migration %s: name must be NNNN_name.sql", path)
		}
		b, err := fs.ReadFile(fsys, path)
		if err != nil {
			return fmt.Errorf("migration %s: %w", path, err)
		}
		v, _ := strconv.Atoi(m[1])
		migs = append(migs, migration{v, d.Name(), string(b)})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read migrations: %w", err)
	}
	slices.SortFunc(migs, func(a, b migration) int { return cmp.Compare(a.version, b.version) })
	return migs, nil
}

// unlockMigrations releases Migrate's advisory lock. A session that cannot
// release it is closed, which does: a lock left held would stall every
// later Migrate.
func unlockMigrations(ctx context.Context, conn *pgxpool.Conn) {
	uctx := context.WithoutCancel(ctx)
	if _, err := conn.Exec(uctx, `SELECT pg_advisory_unlock(`+rolesLock+`)`); err != nil {
		conn.Conn().Close(uctx)
	}
}

// prepareSchema creates schema and its schema_migrations table, and lets a
// non-superuser connecting role SET ROLE to AppRole and MaintenanceRole.
func prepareSchema(ctx context.Context, conn *pgxpool.Conn, schema string) error {
	setup := fmt.Sprintf(`
		CREATE SCHEMA IF NOT EXISTS %[3]s;
		GRANT USAGE ON SCHEMA %[3]s TO %[1]s, %[2]s;
		CREATE TABLE IF NOT EXISTS %[3]s.schema_migrations (
			version    int PRIMARY KEY,
			name       text NOT NULL,
			applied_at timestamptz NOT NULL DEFAULT now()
		);`, AppRole, MaintenanceRole, pgx.Identifier{schema}.Sanitize())
	if _, err := conn.Exec(ctx, setup); err != nil {
		return fmt.Errorf("setup: %w", err)
	}
	var super bool
	if err := conn.QueryRow(ctx, `SELECT rolsuper FROM pg_roles WHERE rolname = current_user`).Scan(&super); err != nil {
		return fmt.Errorf("rolsuper: %w", err)
	}
	if super {
		return nil
	}
	for _, role := range []string{AppRole, MaintenanceRole} {
		var member bool
		if err := conn.QueryRow(ctx, `SELECT pg_has_role(current_user, $1, 'MEMBER')`, role).Scan(&member); err != nil {
			return fmt.Errorf("membership of %s: %w", role, err)
		}
		if !member {
			if _, err := conn.Exec(ctx, `GRANT `+role+` TO CURRENT_USER`); err != nil {
				return fmt.Errorf("grant %s to the connecting role: %w", role, err)
			}
		}
	}
	return nil
}

// appliedMigrations returns the versions schema_migrations records.
func appliedMigrations(ctx context.Context, conn *pgxpool.Conn, schema string) (map[int]bool, error) {
	rows, err := conn.Query(ctx, fmt.Sprintf(`SELECT version FROM %s.schema_migrations`, pgx.Identifier{schema}.Sanitize()))
	if err != nil {
		return nil, fmt.Errorf("applied migrations: %w", err)
	}
	applied, err := pgx.CollectRows(rows, pgx.RowTo[int])
	if err != nil {
		return nil, fmt.Errorf("applied migrations: %w", err)
	}
	done := make(map[int]bool, len(applied))
	for _, v := range applied {
		done[v] = true
	}
	return done, nil
}

// applyMigration runs m in schema and records it, in one transaction.
func applyMigration(ctx context.Context, conn *pgxpool.Conn, schema string, m migration) error {
	ident := pgx.Identifier{schema}.Sanitize()
	return inTx(ctx, conn, "transaction", func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SET LOCAL search_path TO "+ident+", public"); err != nil {
			return fmt.Errorf("search_path: %w", err)
		}
		if _, err := tx.Exec(ctx, m.sql); err != nil {
			return fmt.Errorf("apply: %w", err)
		}
		_, err := tx.Exec(ctx, fmt.Sprintf(`INSERT INTO %s.schema_migrations (version, name) VALUES ($1, $2)`, ident), m.version, m.name)
		if err != nil {
			return fmt.Errorf("record: %w", err)
		}
		return nil
	})
}

// beginner is what a transaction starts from: a pool or one connection.
type beginner interface {
	BeginTx(ctx context.Context, opts pgx.TxOptions) (pgx.Tx, error)
}

// inTx runs fn in a transaction begun on db. fn's error comes back as it
// is; a failure to begin or commit is wrapped with op.
func inTx(ctx context.Context, db beginner, op string, fn func(pgx.Tx) error) error {
	return inTxFrom(ctx, db, op, "", fn)
}

// inTxFrom is inTx begun with begin, a BEGIN followed by the statements
// that set the transaction up, all in one round trip ("": a plain BEGIN).
func inTxFrom(ctx context.Context, db beginner, op, begin string, fn func(pgx.Tx) error) error {
	var fnErr error
	err := pgx.BeginTxFunc(ctx, db, pgx.TxOptions{BeginQuery: begin}, func(tx pgx.Tx) error {
		fnErr = fn(tx)
		return fnErr
	})
	switch {
	case err == nil:
		return nil
	case fnErr != nil:
		return fnErr
	default:
		return fmt.Errorf("%s: %w", op, err)
	}
}

// rolesLock is the advisory lock Migrate and EnsureRoles hold: one for the
// whole cluster, since roles are cluster-wide.
const rolesLock = "7242001"

// EnsureRoles creates AppRole and MaintenanceRole (NOLOGIN) unless they
// exist. Migrate calls it; a test that sets up a connecting role of its
// own calls it first, to grant that role both.
func EnsureRoles(ctx context.Context, conn beginner) error {
	err := inTx(ctx, conn, "transaction", func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(`+rolesLock+`)`); err != nil {
			return fmt.Errorf("lock: %w", err)
		}
		for _, role := range []string{AppRole, MaintenanceRole} {
			_, err := tx.Exec(ctx, fmt.Sprintf(`DO $$ BEGIN
				IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '%[1]s') THEN
					CREATE ROLE %[1]s NOLOGIN;
				END IF;
			END $$`, role))
			if err != nil {
				return fmt.Errorf("%s: %w", role, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("db.EnsureRoles: %w", err)
	}
	return nil
}

// inFreshTx is inTxFrom, run again on another connection when the
// connection it had was dead at begin (which also sets the transaction
// up): a server restart leaves every pooled connection so, and the first
// request on each would fail. Nothing ran, so nothing is repeated; once
// fn has started, an error is returned as it is.
func inFreshTx(ctx context.Context, pool *pgxpool.Pool, op, begin string, fn func(pgx.Tx) error) error {
	for try := int32(1); ; try++ {
		started := false
		err := inTxFrom(ctx, pool, op, begin, func(tx pgx.Tx) error {
			started = true
			return fn(tx)
		})
		if err == nil || started || !ConnectionLost(err) || try > pool.Stat().MaxConns() {
			return err
		}
	}
}

// ConnectionLost reports an error of a connection that the server closed
// or that broke (a restart, a failover, a network cut): the statement may
// be sent again on another connection if it did not run or changes nothing.
func ConnectionLost(err error) bool {
	return closedBeforeUse(err) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, net.ErrClosed) || errors.Is(err, syscall.ECONNRESET)
}

// closedBeforeUse reports a connection that could not be used at all: it
// was closed before anything was sent, could not be opened, or the server
// ended the session (shutdown, crash, start-up), so no statement of it
// committed. A broken connection (EOF, reset) might have committed first.
func closedBeforeUse(err error) bool {
	if pgconn.SafeToRetry(err) {
		return true
	}
	if _, ok := errors.AsType[*pgconn.ConnectError](err); ok {
		return true
	}
	if pe, ok := errors.AsType[*pgconn.PgError](err); ok {
		// 08: connection exception; 57P01-57P03: shutdown, crash, starting up.
		return strings.HasPrefix(pe.Code, "08") || pe.Code == "57P01" || pe.Code == "57P02" || pe.Code == "57P03"
	}
	return false
}

// AsMaintenance runs fn in a transaction as MaintenanceRole, for upkeep
// across tenants on the tables that let that role see every row. It also
// sets the nil tenant, which owns nothing: a table's policies are OR-ed,
// and the tenant policy's reading of the setting fails when it is unset.
func AsMaintenance(ctx context.Context, pool *pgxpool.Pool, fn func(pgx.Tx) error) error {
	return inFreshTx(ctx, pool, "db.AsMaintenance", "BEGIN; "+scopeSQL(MaintenanceRole, uuid.Nil), fn)
}

// InTenant runs fn in a transaction as AppRole with the tenant set, so the
// database itself limits every statement to that tenant's rows. The
// settings go out with the BEGIN: a transaction costs no round trip more
// than its own statements and COMMIT.
func InTenant(ctx context.Context, pool *pgxpool.Pool, tenant uuid.UUID, fn func(pgx.Tx) error) error {
	return inFreshTx(ctx, pool, "db.InTenant", "BEGIN; "+scopeSQL(AppRole, tenant), fn)
}

// SetTenant scopes the current transaction to tenant.
func SetTenant(ctx context.Context, tx pgx.Tx, tenant uuid.UUID) error {
	if _, err := tx.Exec(ctx, scopeSQL(AppRole, tenant)); err != nil {
		return fmt.Errorf("db.SetTenant: %w", err)
	}
	return nil
}

// scopeSQL sets the current transaction's role and tenant. role is a
// constant and uuid.String a fixed hex form, both safe to inline.
func scopeSQL(role string, tenant uuid.UUID) string {
	return "SET LOCAL ROLE " + role + "; SELECT set_config('vcci.tenant_id', '" + tenant.String() + "', true)"
}

// IsUniqueViolation reports a SQLSTATE 23505 error.
func IsUniqueViolation(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23505"
}

// SkipConflicts runs fn, a bulk INSERT, as a plain insert in a savepoint
// of tx (onConflict ""), and when that meets a unique violation again in tx
// with onConflict "ON CONFLICT DO NOTHING". A plain insert skips ON
// CONFLICT's speculative insertion (an index search and a WAL record more
// per row), for the usual bulk insert that conflicts with nothing; fn must
// start its results afresh on each call.
func SkipConflicts(ctx context.Context, tx pgx.Tx, fn func(tx pgx.Tx, onConflict string) error) error {
	sp, err := tx.Begin(ctx)
	if err != nil {
		return fmt.Errorf("savepoint: %w", err)
	}
	err = fn(sp, "")
	if err == nil {
		if err := sp.Commit(ctx); err != nil {
			return fmt.Errorf("release savepoint: %w", err)
		}
		return nil
	}
	if rbErr := sp.Rollback(ctx); rbErr != nil {
		return errors.Join(err, rbErr)
	}
	if !IsUniqueViolation(err) {
		return err
	}
	return fn(tx, "ON CONFLICT DO NOTHING")
}

// IsRetryable reports a deadlock (40P01) or serialization failure (40001):
// the transaction was rolled back and can be run again.
func IsRetryable(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == "40P01" || pe.Code == "40001")
}

// QuarterStart returns the first day of t's quarter.
func QuarterStart(t time.Time) time.Time {
	q := (int(t.Month()) - 1) / 3
	return time.Date(t.Year(), time.Month(q*3+1), 1, 0, 0, 0, 0, time.UTC)
}

// Partitions creates the quarterly partitions of a pool's partitioned
// tables on demand. Partitions are never dropped, so one seen to exist is
// remembered and the common case (a small upload into this quarter) asks
// the database nothing.
type Partitions struct {
	pool  *pgxpool.Pool
	known sync.Map // partitionKey -> struct{}: partitions seen to exist
}

// NewPartitions returns a Partitions for pool's tables.
func NewPartitions(pool *pgxpool.Pool) *Partitions { return &Partitions{pool: pool} }

// partitionKey names a partition: by schema, since partition names repeat
// their table's name only.
type partitionKey struct{ schema, name string }

// Ensure creates the quarterly partitions of table ("schema.table",
// partitioned by a date column) that cover [from, to]. It is idempotent and
// safe to call from several processes at once.
func (p *Partitions) Ensure(ctx context.Context, table string, from, to time.Time) error {
	parts := strings.SplitN(table, ".", 2)
	if len(parts) != 2 {
		return fmt.Errorf("db.Partitions.Ensure: %q is not schema.table", table)
	}
	var stmts []string
	for q := QuarterStart(from); !q.After(to); q = q.AddDate(0, 3, 0) {
		name := fmt.Sprintf("%s_%dq%d", parts[1], q.Year(), (int(q.Month())-1)/3+1)
		stmts = append(stmts, fmt.Sprintf(`CREATE TABLE IF NOT EXISTS %s PARTITION OF %s FOR VALUES FROM ('%s') TO ('%s')`,
			pgx.Identifier{parts[0], name}.Sanitize(), pgx.Identifier{parts[0], parts[1]}.Sanitize(),
			q.Format(time.DateOnly), q.AddDate(0, 3, 0).Format(time.DateOnly)))
	}
	if len(stmts) == 0 {
		return nil
	}
	names := partitionNames(parts[1], from, to)
	known := func() bool {
		for _, n := range names {
			if _, ok := p.known.Load(partitionKey{parts[0], n}); !ok {
				return false
			}
		}
		return true
	}
	remember := func() {
		for _, n := range names {
			p.known.Store(partitionKey{parts[0], n}, struct{}{})
		}
	}
	if known() {
		return nil
	}
	// Checking first keeps the common case (all exist) lock-free.
	var missing bool
	err := p.pool.QueryRow(ctx, `
		SELECT count(*) < $2 FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
		WHERE i.inhparent = $1::regclass AND c.relname = ANY($3)`,
		table, len(stmts), names).Scan(&missing)
	if err != nil {
		return fmt.Errorf("db.Partitions.Ensure %s: %w", table, err)
	}
	if !missing {
		remember()
		return nil
	}
	err = inTx(ctx, p.pool, "db.Partitions.Ensure "+table, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext($1))`, table); err != nil {
			return fmt.Errorf("db.Partitions.Ensure %s: %w", table, err)
		}
		for _, s := range stmts {
			if _, err := tx.Exec(ctx, s); err != nil {
				return fmt.Errorf("db.Partitions.Ensure %s: %w", table, err)
			}
		}
		return nil
	})
	if err == nil {
		remember()
	}
	return err
}

func partitionNames(table string, from, to time.Time) []string {
	var names []string
	for q := QuarterStart(from); !q.After(to); q = q.AddDate(0, 3, 0) {
		names = append(names, fmt.Sprintf("%s_%dq%d", table, q.Year(), (int(q.Month())-1)/3+1))
	}
	return names
}

// KeepAhead creates the partitions of tables from a year back to two
// quarters ahead now, then daily, until ctx ends.
func (p *Partitions) KeepAhead(ctx context.Context, onErr func(error), tables ...string) {
	for {
		now := time.Now().UTC()
		for _, t := range tables {
			if err := p.Ensure(ctx, t, now.AddDate(-1, 0, 0), now.AddDate(0, 6, 0)); err != nil && ctx.Err() == nil {
				onErr(err)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(24 * time.Hour):
		}
	}
}

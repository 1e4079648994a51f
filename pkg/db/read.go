package db

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Stmt is one statement of an InTenantBatch; its rows go to Scan, which
// must read them all (or return an error). A nil Scan drains them.
type Stmt struct {
	SQL  string
	Args []any
	Scan func(pgx.Rows) error
}

// setTenantSQL scopes the implicit transaction of a batch to a tenant:
// set_config(..., true) is SET LOCAL, so both settings end with the batch.
const setTenantSQL = "SELECT set_config('role', '" + AppRole + "', true), set_config('vcci.tenant_id', $1, true)"

// InTenantBatch runs stmts as AppRole with the tenant set, like InTenant,
// but in one round trip: the settings and the statements go out as one
// pipelined batch, which PostgreSQL runs as one implicit transaction, so the
// role and tenant hold for every statement and end with it, and either every
// statement takes effect or none does. Each statement takes its own snapshot
// (READ COMMITTED). Use it where no statement depends on Go code run on an
// earlier one's result; otherwise use InTenant.
func InTenantBatch(ctx context.Context, pool *pgxpool.Pool, tenant uuid.UUID, stmts ...Stmt) error {
	// A connection that died in the pool (a server restart) fails the
	// batch before any statement answers: it is sent again on another.
	for try := int32(1); ; try++ {
		answered := false
		b := &pgx.Batch{QueuedQueries: make([]*pgx.QueuedQuery, 0, len(stmts)+1)}
		b.Queue(setTenantSQL, tenant.String())
		for _, st := range stmts {
			scan := st.Scan
			if scan == nil {
				scan = Drain
			}
			b.Queue(st.SQL, st.Args...).Query(func(rows pgx.Rows) error {
				answered = true
				return scan(rows)
			})
		}
		err := pool.SendBatch(ctx, b).Close()
		if err == nil {
			return nil
		}
		unused := closedBeforeUse(err) || preparing(err) && ConnectionLost(err)
		if answered || !unused || try > pool.Stat().MaxConns() {
			return fmt.Errorf("db.InTenantBatch: %w", err)
		}
	}
}

// preparing reports an error of a batch's prepare step (parse and
// describe): nothing of the batch ran.
func preparing(err error) bool {
	_, ok := errors.AsType[pgx.ErrPreprocessingBatch](err)
	return ok
}

// The Scan functions below cover the usual shapes of a Stmt's result.

// One scans the one row a statement returns into dest; no row is
// pgx.ErrNoRows, as with QueryRow.
func One(dest ...any) func(pgx.Rows) error {
	return OneRow(func(r pgx.Row) error { return r.Scan(dest...) })
}

// OneRow calls scan on the one row a statement returns; no row is
// pgx.ErrNoRows.
func OneRow(scan func(pgx.Row) error) func(pgx.Rows) error {
	return func(rows pgx.Rows) error {
		defer rows.Close()
		if !rows.Next() {
			if err := rows.Err(); err != nil {
				return err
			}
			return pgx.ErrNoRows
		}
		if err := scan(rows); err != nil {
			return err
		}
		rows.Close()
		return rows.Err()
	}
}

// Collect gathers a statement's rows into out with fn.
func Collect[T any](out *[]T, fn pgx.RowToFunc[T]) func(pgx.Rows) error {
	return func(rows pgx.Rows) error {
		var err error
		if *out, err = pgx.CollectRows(rows, fn); err != nil {
			return fmt.Errorf("db.Collect: %w", err)
		}
		return nil
	}
}

// Drain reads and ignores a statement's rows.
func Drain(rows pgx.Rows) error {
	rows.Close()
	return rows.Err()
}

// NotFound returns notFound when err is pgx.ErrNoRows, otherwise err with
// op prefixed ("store.Upload: ..."), or nil. Stores translate "no row" to
// their domain's not-found error here, once.
func NotFound(err error, op string, notFound error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, pgx.ErrNoRows):
		return notFound
	default:
		return fmt.Errorf("%s: %w", op, err)
	}
}

package store

import (
	"context"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/vcci-dev/vcci/pkg/db"
)

// resource is a tenant's table of resources named by an id (column
// mappings, category rules): where they are, the columns read and how a
// row of them is scanned, and the error for an id the tenant has not.
type resource[T any] struct {
	table, id, cols string
	scan            func(pgx.Row) (T, error)
	notFound        error
}

// insert runs an INSERT ... RETURNING r.cols in the tenant's scope; the
// driver's error is the caller's to translate.
func (r resource[T]) insert(ctx context.Context, pool *pgxpool.Pool, tenant uuid.UUID, sql string, args ...any) (T, error) {
	var out T
	err := db.InTenant(ctx, pool, tenant, func(tx pgx.Tx) error {
		var err error
		out, err = r.scan(tx.QueryRow(ctx, sql+` RETURNING `+r.cols, args...))
		return err
	})
	return out, err
}

// get returns the resource of id.
func (r resource[T]) get(ctx context.Context, pool *pgxpool.Pool, tenant uuid.UUID, id string) (T, error) {
	var out T
	err := db.InTenant(ctx, pool, tenant, func(tx pgx.Tx) error {
		var err error
		out, err = r.scan(tx.QueryRow(ctx, `SELECT `+r.cols+` FROM `+r.table+` WHERE tenant_id = $1 AND `+r.id+` = $2`, tenant, id))
		return err
	})
	return out, db.NotFound(err, "store.get "+r.table, r.notFound)
}

// list lists the resources by id, after afterID.
func (r resource[T]) list(ctx context.Context, pool *pgxpool.Pool, tenant uuid.UUID, afterID string, limit int) ([]T, error) {
	var out []T
	err := db.InTenant(ctx, pool, tenant, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT `+r.cols+` FROM `+r.table+` WHERE tenant_id = $1 AND `+r.id+` > $2 ORDER BY `+r.id+` LIMIT $3`,
			tenant, afterID, limit)
		if err != nil {
			return fmt.Errorf("query: %w", err)
		}
		out, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (T, error) { return r.scan(row) })
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("store.list %s: %w", r.table, err)
	}
	return out, nil
}

// delete deletes the resource of id.
func (r resource[T]) delete(ctx context.Context, pool *pgxpool.Pool, tenant uuid.UUID, id string) error {
	var n int64
	err := db.InTenant(ctx, pool, tenant, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM `+r.table+` WHERE tenant_id = $1 AND `+r.id+` = $2`, tenant, id)
		n = tag.RowsAffected()
		return err
	})
	if err != nil {
		return fmt.Errorf("store.delete %s: %w", r.table, err)
	}
	if n == 0 {
		return r.notFound
	}
	return nil
}

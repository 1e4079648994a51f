package db

import (
	"context"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Stmt is one statement of an InTenantBatch; its rows go to Scan, which
// must read them all (or return an error).
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
	b := &pgx.Batch{QueuedQueries: make([]*pgx.QueuedQuery, 0, len(stmts)+1)}
	b.Queue(setTenantSQL, tenant.String())
	for _, st := range stmts {
		b.Queue(st.SQL, st.Args...).Query(st.Scan)
	}
	return pool.SendBatch(ctx, b).Close()
}

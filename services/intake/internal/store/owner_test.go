package store_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/vcci-dev/vcci/pkg/db"
	"github.com/vcci-dev/vcci/services/intake/internal/intake"
	"github.com/vcci-dev/vcci/services/intake/internal/intaketest"
	"github.com/vcci-dev/vcci/services/intake/internal/store"
)

// TestWorkAndUpkeepRunAsTheTablesOwner works uploads, folds the counters and
// fails an abandoned upload as the tables' owner, which is not a superuser:
// the tenant policies bind it (migration 0011), so each statement has to
// run scoped to a tenant, or as the maintenance role for upkeep across
// tenants, as in a deployment.
func TestWorkAndUpkeepRunAsTheTablesOwner(t *testing.T) {
	for _, p := range paths {
		t.Run(p.Name, func(t *testing.T) {
			ctx := context.Background()
			e := intaketest.NewOwnedPipeline(t, p.Small)

			// a's two files count the same day, supplier and code.
			again := strings.ReplaceAll(spend(3), "K", "L")
			succeeds(t, e, e.A, spend(3))
			succeeds(t, e, e.A, again)
			succeeds(t, e, e.B, spend(3))
			// The policies read the tenant once a statement meets a row
			// (db.Migrate): with rows stored, the owner's unscoped read fails,
			// the setting unknown on a new connection and empty on one a
			// tenant's transaction used.
			var n int64
			err := e.Pool.QueryRow(ctx, `SELECT count(*) FROM intake.uploads`).Scan(&n)
			if err == nil || !strings.Contains(err.Error(), "vcci.tenant_id") && !strings.Contains(err.Error(), `invalid input syntax for type uuid: ""`) {
				t.Fatalf("the owner counted %d uploads outside a tenant (%v): the policies do not bind it", n, err)
			}

			removed, err := store.CompactCounts(ctx, e.Pool)
			if err != nil || removed != 3 {
				t.Fatalf("CompactCounts = %d, %v; want 3 (a's second row of each key)", removed, err)
			}
			var deltas int64
			if err := db.AsMaintenance(ctx, e.Pool, func(tx pgx.Tx) error {
				return tx.QueryRow(ctx, `SELECT (SELECT count(*) FROM intake.transaction_days WHERE delta) +
					(SELECT count(*) FROM intake.transaction_suppliers WHERE delta) +
					(SELECT count(*) FROM intake.transaction_codes WHERE delta)`).Scan(&deltas)
			}); err != nil || deltas != 0 {
				t.Fatalf("%d delta rows left after compaction (%v), want 0 of either tenant", deltas, err)
			}
			for tenant, want := range map[uuid.UUID]int64{e.A: 6, e.B: 3} {
				if err := db.InTenant(ctx, e.Pool, tenant, func(tx pgx.Tx) error {
					return tx.QueryRow(ctx, `SELECT sum(n) FROM intake.transaction_days`).Scan(&n)
				}); err != nil || n != want {
					t.Fatalf("tenant %v counts %d transactions (%v), want %d", tenant, n, err, want)
				}
			}

			failsWhenCancelled(t, e)
		})
	}
}

// succeeds uploads body for tenant and works it: it must succeed with the
// fake calculator's 12 kg (spend(3)'s amounts, doubled).
func succeeds(t *testing.T, e intaketest.Pipeline, tenant uuid.UUID, body string) {
	t.Helper()
	ctx := context.Background()
	u, err := e.Svc.Receive(ctx, tenant, intake.NewUpload{}, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	intaketest.Drain(t, e.Pool, e.Worker)
	if g, _ := e.Svc.Get(ctx, tenant, u.ID); g.State != intake.Succeeded || g.Kg != "12.0000000" {
		t.Fatalf("uploads/%d = %+v, want succeeded with 12 kg", u.ID, g)
	}
}

// failsWhenCancelled cancels the job of a new upload of b's, as an operator
// may in the River UI: FailAbandoned fails the upload.
func failsWhenCancelled(t *testing.T, e intaketest.Pipeline) {
	t.Helper()
	ctx := context.Background()
	u, err := e.Svc.Receive(ctx, e.B, intake.NewUpload{}, strings.NewReader(header+"Z1,2024-05-01,S1,Acme,331110,1.00,USD,x\n"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Pool.Exec(ctx, `UPDATE `+store.RiverSchema+`.river_job SET state = 'cancelled', finalized_at = now()
		WHERE (args->>'upload')::bigint = $1`, u.ID); err != nil {
		t.Fatal(err)
	}
	if n, err := e.Store.FailAbandoned(ctx); err != nil || n != 1 {
		t.Fatalf("FailAbandoned = %d, %v; want 1", n, err)
	}
	if g, _ := e.Svc.Get(ctx, e.B, u.ID); g.State != intake.Failed || g.FailureReason != "its job was cancelled" {
		t.Fatalf("cancelled upload = %+v, want failed", g)
	}
	// Its upload.failed event is queued with the failure, once.
	var n int
	var reason string
	if err := e.Pool.QueryRow(ctx, `SELECT count(*), max(args->'data'->>'failure_reason') FROM `+store.RiverSchema+`.river_job
		WHERE kind = 'vcci.events.publish' AND args->>'type' = 'upload.failed' AND args->'data'->>'upload' = $1`,
		fmt.Sprintf("uploads/%d", u.ID)).Scan(&n, &reason); err != nil || n != 1 || reason != "its job was cancelled" {
		t.Fatalf("upload.failed events = %d (%q), %v; want 1 naming the cancelled job", n, reason, err)
	}
	if n, err := e.Store.FailAbandoned(ctx); err != nil || n != 0 {
		t.Fatalf("FailAbandoned again = %d, %v; want 0", n, err)
	}
}

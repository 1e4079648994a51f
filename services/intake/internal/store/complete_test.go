package store_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/vcci-dev/vcci/services/intake/internal/intake"
	"github.com/vcci-dev/vcci/services/intake/internal/intaketest"
)

// An attempt that added the totals and died before marking the upload
// succeeded leaves the next attempt to finish it: that one's progress
// rewrites the count, so its Complete sets the count and kg again, and
// adds the supplier totals no second time. (A fault run found an upload
// SUCCEEDED with 80,000 of its 100,000 rows counted.)
func TestCompleteAfterAnAttemptThatAddedTheTotals(t *testing.T) {
	ctx := context.Background()
	e := intaketest.NewPipeline(t, 1<<20)
	u, err := e.Svc.Receive(ctx, e.A, intake.NewUpload{}, strings.NewReader(header+"C1,2024-05-01,S1,Acme,331110,1.00,USD,x\n"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Pool.Exec(ctx, `INSERT INTO intake.suppliers (tenant_id, supplier_id, name) VALUES ($1, 'S1', 'Acme')`, e.A); err != nil {
		t.Fatal(err)
	}
	calculating := func() intake.Upload {
		t.Helper()
		if _, err := e.Pool.Exec(ctx, `UPDATE intake.uploads SET state = $2, attempts = attempts + 1 WHERE id = $1`, u.ID, intake.Calculating); err != nil {
			t.Fatal(err)
		}
		got, err := e.Svc.Get(ctx, e.A, u.ID)
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	c := intake.Completion{Upload: u.ID, Calculated: 100, Kg: "12.5000000", Totals: []intake.SupplierTotal{{ID: "S1", Spend: "100.0000", Kg: "12.5000000", Count: 100}}}
	died := errors.New("killed")
	first := calculating()
	complete := func(u intake.Upload, end intake.EndTx) error {
		errs, err := e.Store.CompleteBatch(ctx, []intake.Upload{u}, []intake.Completion{c}, func(context.Context) {}, end.Ends())
		if err != nil {
			return err
		}
		return errs[0]
	}
	if err := complete(first, func(context.Context, pgx.Tx) error { return died }); !errors.Is(err, died) {
		t.Fatalf("first attempt's Complete = %v, want it to die marking the upload", err)
	}
	second := calculating()
	if err := e.Store.Progress(ctx, second, 0, 80); err != nil {
		t.Fatal(err)
	}
	if err := complete(second, func(context.Context, pgx.Tx) error { return nil }); err != nil {
		t.Fatal(err)
	}
	got, err := e.Svc.Get(ctx, e.A, u.ID)
	if err != nil || got.State != intake.Succeeded || got.Calculated != 100 || got.Kg != "12.5000000" {
		t.Fatalf("upload = %+v, %v; want succeeded with 100 rows and 12.5 kg", got, err)
	}
	var n int64
	if err := e.Pool.QueryRow(ctx, `SELECT tx_count FROM intake.supplier_totals WHERE tenant_id = $1 AND supplier_id = 'S1'`, e.A).Scan(&n); err != nil || n != 100 {
		t.Fatalf("S1's count = %d, %v; want 100, added once", n, err)
	}
}

package store_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/vcci-dev/vcci/pkg/db"
	"github.com/vcci-dev/vcci/pkg/testsupport"
	"github.com/vcci-dev/vcci/services/intake/internal/intake"
	"github.com/vcci-dev/vcci/services/intake/internal/intaketest"
)

// onEachPath runs test on a pipeline of its own for each validation path.
func onEachPath(t *testing.T, test func(t *testing.T, e env)) {
	for _, p := range paths {
		t.Run(p.Name, func(t *testing.T) { test(t, setupPath(t, p.Small)) })
	}
}

// receive stores body as an upload of tenant, failing the test if it
// cannot.
func receive(t *testing.T, e env, tenant uuid.UUID, body string) intake.Upload {
	t.Helper()
	u, err := e.svc.Receive(context.Background(), tenant, intake.NewUpload{}, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// A transaction id is one line of its tenant whatever its date: a later
// file repeating it with a corrected date has that row rejected, and the
// totals count the line once.
func TestRepeatedIDWithAnotherDateIsRejected(t *testing.T) {
	onEachPath(t, func(t *testing.T, e env) {
		ctx := context.Background()
		first := receive(t, e, e.a, header+
			"D1,2024-01-05,S1,Acme,331110,100.00,USD,coil\nD2,2024-01-06,S1,Acme,331110,10.00,USD,bolts\n")
		drain(t, e)
		// D1 again, dated a quarter later; D3 is new.
		second := receive(t, e, e.a, header+
			"D1,2024-04-05,S1,Acme,331110,100.00,USD,coil (date corrected)\nD3,2024-01-07,S1,Acme,331110,1.00,USD,nuts\n")
		drain(t, e)
		u, err := e.svc.Get(ctx, e.a, second.ID)
		if err != nil || u.State != intake.Succeeded || u.Accepted != 1 || u.Rejected != 1 || u.Kg != "2.0000000" {
			t.Fatalf("second upload = %+v, %v", u, err)
		}
		page, err := e.svc.Errors(ctx, e.a, second.ID, 0, 10)
		errs := page.Errors
		want := intake.RowError{Row: 2, Column: "transaction_id", Reason: fmt.Sprintf("transaction already stored by uploads/%d", first.ID), Value: "D1"}
		if err != nil || len(errs) != 1 || errs[0] != want {
			t.Fatalf("errors = %+v, %v; want %+v", errs, err, want)
		}
		var n int
		var dates string
		if err := e.pool.QueryRow(ctx, `SELECT count(*), string_agg(tx_date::text, ',') FROM intake.transactions
		WHERE tenant_id = $1 AND transaction_id = 'D1'`, e.a).Scan(&n, &dates); err != nil {
			t.Fatal(err)
		}
		if n != 1 || dates != "2024-01-05" {
			t.Fatalf("D1 stored %d times (%s), want once on 2024-01-05", n, dates)
		}
		// 100 + 10 + 1 spent, each line's kg twice its amount.
		sups, err := e.dir.Suppliers(ctx, e.a, []string{"S1"})
		if err != nil || len(sups) != 1 || sups[0].Count != 3 || sups[0].Spend != "111.0000" || sups[0].Kg != "222.0000000" {
			t.Fatalf("S1 = %+v, %v; want 3 lines, 111 spent, 222 kg", sups, err)
		}
		// Another tenant's D1 is its own.
		other := receive(t, e, e.b, header+"D1,2024-04-05,S1,Acme,331110,5.00,USD,x\n")
		drain(t, e)
		if u, _ := e.svc.Get(ctx, e.b, other.ID); u.Accepted != 1 || u.Rejected != 0 {
			t.Fatalf("tenant b's D1: %+v", u)
		}
	})
}

// Within one file an id is one line too: its second row is rejected,
// whatever its date.
func TestRepeatedIDInOneFileIsRejected(t *testing.T) {
	onEachPath(t, func(t *testing.T, e env) {
		ctx := context.Background()
		up := receive(t, e, e.a, header+
			"F1,2024-01-05,S1,Acme,331110,100.00,USD,coil\nF1,2024-02-05,S1,Acme,331110,100.00,USD,coil again\n")
		drain(t, e)
		u, _ := e.svc.Get(ctx, e.a, up.ID)
		if u.Accepted != 1 || u.Rejected != 1 || len(u.ErrorSamples) != 1 ||
			u.ErrorSamples[0].Row != 3 || u.ErrorSamples[0].Reason != "duplicate transaction id: first seen on row 2" {
			t.Fatalf("upload = %+v", u)
		}
	})
}

// Two uploads racing with one id under different dates: the primary key of
// transactions (which holds the date) cannot tell, the claim of the id can.
// An upload whose validation meets an id claimed by one not yet committed
// waits for that commit, then rejects the row naming its holder.
func TestConcurrentUploadsOfOneIDStoreItOnce(t *testing.T) {
	onEachPath(t, func(t *testing.T, e env) {
		ctx := context.Background()
		rival := receive(t, e, e.a, header+"C9,2024-01-05,S1,Acme,331110,7.00,USD,rival\n")
		drain(t, e)
		// The rival's validation as if half-way through a file naming C1
		// too: the id claimed, not committed.
		tx, err := e.pool.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = tx.Rollback(ctx) }() // after the commit below: nothing to roll back
		if err := db.SetTenant(ctx, tx, e.a); err != nil {
			t.Fatal(err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO intake.transaction_ids (tenant_id, transaction_id, upload_id) VALUES ($1, 'C1', $2)`, e.a, rival.ID); err != nil {
			t.Fatal(err)
		}
		up := receive(t, e, e.a, header+
			"C1,2024-03-05,S1,Acme,331110,7.00,USD,racer\nC2,2024-03-06,S1,Acme,331110,1.00,USD,other\n")
		done := make(chan struct{})
		go func() {
			defer close(done)
			drain(t, e)
		}()
		testsupport.WaitFor(t, "the upload to wait on the rival's claim", 10*time.Second, func() bool {
			var waiting bool
			if err := e.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock'
			AND query LIKE '%INSERT INTO intake.transaction_ids%')`).Scan(&waiting); err != nil {
				t.Fatal(err)
			}
			return waiting
		})
		if err := tx.Commit(ctx); err != nil {
			t.Fatal(err)
		}
		<-done
		u, _ := e.svc.Get(ctx, e.a, up.ID)
		if u.Accepted != 1 || u.Rejected != 1 || len(u.ErrorSamples) != 1 ||
			u.ErrorSamples[0].Reason != fmt.Sprintf("transaction already stored by uploads/%d", rival.ID) {
			t.Fatalf("upload = %+v", u)
		}
		var n int
		if err := e.pool.QueryRow(ctx, `SELECT count(*) FROM intake.transactions WHERE tenant_id = $1 AND transaction_id = 'C1'`, e.a).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 0 {
			// The rival's C1 was only claimed, by hand.
			t.Fatalf("C1 stored %d times by the racing upload, want 0", n)
		}
	})
}

// A file longer than the validator checks in memory has its later
// duplicates found in the staged rows: each repeat is rejected naming the
// id's first row, and the id is stored once.
func TestDuplicatesPastTheMemoryBoundAreRejected(t *testing.T) {
	e := setupPath(t, 0)
	ctx := context.Background()
	// The worker remembers two ids: X1's repeat is caught in memory, X3's
	// (past the bound) by the store.
	up := receive(t, e, e.a, header+"X1,2024-01-05,S1,Acme,331110,1.00,USD,\nX2,2024-01-05,S1,Acme,331110,2.00,USD,\n"+
		"X3,2024-01-05,S1,Acme,331110,4.00,USD,\nX1,2024-02-05,S1,Acme,331110,8.00,USD,\n"+
		"X3,2024-03-05,S1,Acme,331110,16.00,USD,\nX3,2024-01-05,S1,Acme,331110,32.00,USD,\n")
	intaketest.Drain(t, e.pool, newWorker(e, intake.WorkerOptions{Batch: 2, MaxIDsInMemory: 2}))
	u, err := e.svc.Get(ctx, e.a, up.ID)
	if err != nil || u.State != intake.Succeeded || u.Accepted != 3 || u.Rejected != 3 || u.Kg != "14.0000000" {
		t.Fatalf("upload = %+v, %v; want 3 accepted (14 kg), 3 rejected", u, err)
	}
	page, err := e.svc.Errors(ctx, e.a, up.ID, 0, 10)
	errs := page.Errors
	want := []intake.RowError{
		{Row: 5, Column: "transaction_id", Reason: "duplicate transaction id: first seen on row 2", Value: "X1"},
		{Row: 6, Column: "transaction_id", Reason: "duplicate transaction id: first seen on row 4", Value: "X3"},
		{Row: 7, Column: "transaction_id", Reason: "duplicate transaction id: first seen on row 4", Value: "X3"},
	}
	if err != nil || len(errs) != 3 || errs[0] != want[0] || errs[1] != want[1] || errs[2] != want[2] {
		t.Fatalf("errors = %+v, %v; want %+v", errs, err, want)
	}
	var rows, ids int
	if err := e.pool.QueryRow(ctx, `SELECT count(*), count(DISTINCT transaction_id) FROM intake.transactions WHERE upload_id = $1`,
		up.ID).Scan(&rows, &ids); err != nil || rows != 3 || ids != 3 {
		t.Fatalf("stored %d rows of %d ids, %v; want 3 of 3", rows, ids, err)
	}
}

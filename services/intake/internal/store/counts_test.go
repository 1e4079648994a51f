package store_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/vcci-dev/vcci/services/intake/internal/intake"
	"github.com/vcci-dev/vcci/services/intake/internal/intaketest"
	"github.com/vcci-dev/vcci/services/intake/internal/store"
)

// The River leader compacts the counters on its own, every CompactEvery.
func TestTheLeaderCompactsTheCounters(t *testing.T) {
	ctx := context.Background()
	e := setupPath(t, paths[0].Small)
	for _, name := range []string{"a.csv", "b.csv"} {
		body := header + strings.ReplaceAll("X1,2024-03-01,S1,One,331110,1.00,USD,x\nX2,2024-03-02,S2,Two,331110,2.00,USD,x\n", "X", name[:1])
		if _, err := e.svc.Receive(ctx, e.a, intake.NewUpload{Filename: name}, strings.NewReader(body)); err != nil {
			t.Fatal(err)
		}
	}
	drain(t, e)
	rows := func() (n int64) {
		t.Helper()
		if err := e.pool.QueryRow(ctx, `SELECT count(*) FROM intake.transaction_suppliers`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := rows(); n != 4 {
		t.Fatalf("two uploads of suppliers S1 and S2 left %d supplier counter rows, want 4", n)
	}
	intaketest.Client(t, e.pool, e.worker, store.ClientOptions{CompactEvery: 50 * time.Millisecond})
	deadline := time.Now().Add(10 * time.Second)
	for rows() != 2 {
		if time.Now().After(deadline) {
			t.Fatalf("the leader left %d supplier counter rows after 10 s, want 2", rows())
		}
		time.Sleep(20 * time.Millisecond)
	}
	var n int64
	if err := e.pool.QueryRow(ctx, `SELECT n FROM intake.transaction_suppliers WHERE supplier_id = 'S1'`).Scan(&n); err != nil || n != 2 {
		t.Fatalf("S1's count is %d (%v), want 2", n, err)
	}
}

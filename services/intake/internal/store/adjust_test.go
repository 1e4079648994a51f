package store_test

import (
	"context"
	"math/big"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/vcci-dev/vcci/services/intake/internal/intake"
)

// TestSupplierAdjustmentsApplyOnce uploads a file, then applies the
// calculator's adjustments of a recalculation: each id once, each to its
// tenant's supplier only, and the caches are told which suppliers moved.
func TestSupplierAdjustmentsApplyOnce(t *testing.T) {
	ctx := context.Background()
	e := setup(t)
	var told [][]string
	svc := e.svc.WithChanged(func(_ context.Context, _ uuid.UUID, suppliers []string) { told = append(told, suppliers) })
	if _, err := svc.Receive(ctx, e.a, intake.NewUpload{}, strings.NewReader(file)); err != nil {
		t.Fatal(err)
	}
	drain(t, e)
	kg := func(tenant uuid.UUID, supplier string) string {
		t.Helper()
		var s string
		if err := e.pool.QueryRow(ctx, `SELECT coalesce((SELECT kg_co2e::text FROM intake.supplier_totals WHERE tenant_id = $1 AND supplier_id = $2), 'none')`,
			tenant, supplier).Scan(&s); err != nil {
			t.Fatal(err)
		}
		return s
	}
	before := kg(e.a, "S1")
	adj := []intake.SupplierTotal{{ID: "S1", Kg: "-1.5"}}
	for i, want := range []bool{true, false} {
		applied, err := svc.AdjustSupplierTotals(ctx, e.a, "recalculations/7/batches/0", adj)
		if err != nil || applied != want {
			t.Fatalf("call %d: applied %v, %v; want %v", i, applied, err, want)
		}
	}
	if got := kg(e.a, "S1"); got == before || !sameKg(t, got, before, "-1.5") {
		t.Errorf("S1 %s after -1.5 from %s", got, before)
	}
	if len(told) != 1 || len(told[0]) != 1 || told[0][0] != "S1" {
		t.Errorf("caches told %v", told)
	}
	// Tenant b has no such supplier: nothing of a's moves.
	if applied, err := svc.AdjustSupplierTotals(ctx, e.b, "recalculations/7/batches/0", adj); err != nil || !applied || kg(e.b, "S1") != "none" {
		t.Errorf("tenant b: %v, %v, %s", applied, err, kg(e.b, "S1"))
	}
	if _, err := svc.AdjustSupplierTotals(ctx, e.a, "bad id!", adj); err == nil || !strings.Contains(err.Error(), "adjustment_id") {
		t.Errorf("a bad id: %v", err)
	}
	if _, err := svc.AdjustSupplierTotals(ctx, e.a, "x", []intake.SupplierTotal{{ID: "S1", Kg: "1,5"}}); err == nil || !strings.Contains(err.Error(), "suppliers[0].kg_co2e") {
		t.Errorf("a bad kg: %v", err)
	}
}

// sameKg reports whether got = before + delta, exactly.
func sameKg(t *testing.T, got, before, delta string) bool {
	t.Helper()
	r := func(s string) *big.Rat {
		v, ok := new(big.Rat).SetString(s)
		if !ok {
			t.Fatalf("%q is not a decimal", s)
		}
		return v
	}
	return r(got).Cmp(new(big.Rat).Add(r(before), r(delta))) == 0
}

package calculator

import (
	"fmt"
	"math"
	"math/big"
	"math/rand/v2"
	"strconv"
	"testing"

	"github.com/vcci-dev/vcci/pkg/refdata"
	"github.com/vcci-dev/vcci/services/calculator/internal/quality"
)

// inventoryRows are n stored groups as an inventory of a 100k-line upload
// holds them: kg with seven decimals, a few negative (credit notes), in
// nine categories under four methods.
func inventoryRows(n int) []InventoryRow {
	rng := rand.New(rand.NewPCG(9, 9))
	methods := []string{MethodSpendBased, MethodAverageData, MethodSupplierCompany, MethodSupplierProduct}
	cats := []int16{1, 1, 1, 2, 3, 4, 5, 6, 7, 9, 12}
	kg := func() string {
		s := strconv.FormatFloat(math.Exp(5+2.5*rng.NormFloat64()), 'f', 7, 64)
		if rng.IntN(40) == 0 {
			s = "-" + s
		}
		return s
	}
	out := make([]InventoryRow, n)
	for i := range out {
		out[i] = InventoryRow{Category: cats[i%len(cats)], Set: "epa-supply-chain-v1.3.0", Code: fmt.Sprintf("%06d", 100000+i/3),
			Method: methods[rng.IntN(len(methods))], DQ: 41344, Kg: kg(), Kg4: kg(), Kg6: kg(), Count: 1 + rng.Int64N(100)}
	}
	return out
}

// The totals are the exact sums of the groups' kg, the shares their exact
// quotients rounded once to float64.
func TestInventoryTotalsAreExact(t *testing.T) {
	rows := inventoryRows(3000)
	rows[7].Kg = "12.5" // another scale
	inv := Inventory{Basis: refdata.AR5, Iterations: 1000, Seed: 1}
	if err := inv.total(rows, nil, ""); err != nil {
		t.Fatal(err)
	}
	sum := func(keep func(InventoryRow) bool) *big.Rat {
		s := new(big.Rat)
		for _, r := range rows {
			if keep(r) {
				v, _ := new(big.Rat).SetString(r.Kg)
				s.Add(s, v)
			}
		}
		return s
	}
	all := sum(func(InventoryRow) bool { return true })
	if inv.Kg != all.FloatString(7) {
		t.Errorf("total %s, want %s", inv.Kg, all.FloatString(7))
	}
	for _, m := range inv.Methods {
		want := sum(func(r InventoryRow) bool { return r.Method == m.Method })
		share, _ := new(big.Rat).Quo(want, all).Float64()
		if m.Kg != want.FloatString(7) || m.Share != share {
			t.Errorf("method %s: %s kg, share %v; want %s, %v", m.Method, m.Kg, m.Share, want.FloatString(7), share)
		}
	}
	for _, c := range inv.Categories {
		want := sum(func(r InventoryRow) bool { return r.Category == c.Category })
		share, _ := new(big.Rat).Quo(want, all).Float64()
		if c.Kg != want.FloatString(7) || c.Share != share {
			t.Errorf("category %d: %s kg, share %v; want %s, %v", c.Category, c.Kg, c.Share, want.FloatString(7), share)
		}
	}
	if g := inv.Groups[7]; g.Kg != "12.5000000" {
		t.Errorf("group 7's kg %s, want 12.5000000", g.Kg)
	}
}

// BenchmarkInventoryTotal is an inventory read's work past the store, its
// simulation kept from the read before.
func BenchmarkInventoryTotal(b *testing.B) {
	rows := inventoryRows(3300)
	memo := quality.NewMemo(16 << 20)
	first := Inventory{Basis: refdata.AR5, Iterations: 10_000, Seed: 1}
	if err := first.total(rows, memo, "t"); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		inv := Inventory{Basis: refdata.AR5, Iterations: 10_000, Seed: 1}
		if err := inv.total(rows, memo, "t"); err != nil {
			b.Fatal(err)
		}
	}
}

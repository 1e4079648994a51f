package hotspot

import (
	"fmt"
	"math"
	"math/big"
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"
)

func TestPareto(t *testing.T) {
	type row struct {
		id    string
		share float64
		cum   float64
		inSet bool
	}
	cases := []struct {
		name      string
		totals    []SupplierTotal
		threshold float64
		total     string
		count     int32
		want      []row
	}{
		{
			name: "the supplier reaching exactly the threshold is the last in the set",
			totals: []SupplierTotal{
				{"C", "15.00", "1"}, {"A", "50.0000000", "1"}, {"D", "5", "1"}, {"B", "30.00", "1"},
			},
			threshold: 0.8, total: "100.0000000", count: 2,
			want: []row{{"A", 0.5, 0.5, true}, {"B", 0.3, 0.8, true}, {"C", 0.15, 0.95, false}, {"D", 0.05, 1, false}},
		},
		{
			name:      "the supplier crossing the threshold is in the set",
			totals:    []SupplierTotal{{"A", "0.6", ""}, {"B", "0.3", ""}, {"C", "0.1", ""}},
			threshold: 0.7, total: "1.0", count: 2,
			want: []row{{"A", 0.6, 0.6, true}, {"B", 0.3, 0.9, true}, {"C", 0.1, 1, false}},
		},
		{
			name:      "ties rank by supplier id",
			totals:    []SupplierTotal{{"z", "25", ""}, {"m", "25", ""}, {"a", "25", ""}, {"q", "25", ""}},
			threshold: 0.5, total: "100", count: 2,
			want: []row{{"a", 0.25, 0.25, true}, {"m", 0.25, 0.5, true}, {"q", 0.25, 0.75, false}, {"z", 0.25, 1, false}},
		},
		{
			name:      "a credit-only supplier ranks last with a negative share",
			totals:    []SupplierTotal{{"CR", "-10.5", ""}, {"B", "40.5", ""}, {"A", "70", ""}},
			threshold: 0.8, total: "100.0", count: 2,
			want: []row{{"A", 0.7, 0.7, true}, {"B", 0.405, 1.105, true}, {"CR", -0.105, 1, false}},
		},
		{
			name:      "a threshold of 1 takes every supplier with emissions",
			totals:    []SupplierTotal{{"A", "3", ""}, {"B", "1", ""}, {"Z", "0", ""}},
			threshold: 1, total: "4", count: 2,
			want: []row{{"A", 0.75, 0.75, true}, {"B", 0.25, 1, true}, {"Z", 0, 1, false}},
		},
		{
			name:      "a net total that is not positive gives no shares and no set",
			totals:    []SupplierTotal{{"A", "5.25", ""}, {"B", "-10", ""}},
			threshold: 0.8, total: "-4.75", count: 0,
			want: []row{{"A", 0, 0, false}, {"B", 0, 0, false}},
		},
		{
			name:      "no suppliers",
			threshold: 0.8, total: "0", count: 0,
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a, err := Pareto(c.totals, c.threshold)
			if err != nil {
				t.Fatal(err)
			}
			if a.TotalKg != c.total || a.ThresholdCount != c.count || int(a.SupplierCount) != len(c.totals) || a.Threshold != c.threshold {
				t.Fatalf("total %s count %d suppliers %d threshold %g, want %s %d %d %g",
					a.TotalKg, a.ThresholdCount, a.SupplierCount, a.Threshold, c.total, c.count, len(c.totals), c.threshold)
			}
			if len(a.Entries) != len(c.want) {
				t.Fatalf("%d entries, want %d", len(a.Entries), len(c.want))
			}
			for i, w := range c.want {
				e := a.Entries[i]
				if int(e.Rank) != i+1 || e.SupplierID != w.id || e.Share != w.share || e.CumulativeShare != w.cum || e.InThresholdSet != w.inSet {
					t.Errorf("entry %d = %+v, want %+v", i, e, w)
				}
				in := slices.IndexFunc(c.totals, func(s SupplierTotal) bool { return s.SupplierID == w.id })
				if e.Kg != c.totals[in].Kg || e.Spend != c.totals[in].Spend {
					t.Errorf("entry %d kg %s spend %s, want them passed through as %s %s", i, e.Kg, e.Spend, c.totals[in].Kg, c.totals[in].Spend)
				}
			}
		})
	}
}

func TestParetoRefusesBadDecimals(t *testing.T) {
	for _, kg := range []string{"", "1e3", "12,5", "--1", "NaN", ".", "1/3"} {
		if _, err := Pareto([]SupplierTotal{{SupplierID: "A", Kg: kg}}, 0.8); err == nil {
			t.Errorf("kg %q accepted", kg)
		}
	}
}

// randomTotals are n suppliers' kg at scales 0 to 7, a few negative.
func randomTotals(n int) []SupplierTotal {
	rng := rand.New(rand.NewPCG(5, 6))
	out := make([]SupplierTotal, n)
	for i := range out {
		kg := strconv.FormatFloat(math.Exp(6+3*rng.NormFloat64()), 'f', rng.IntN(8), 64)
		if rng.IntN(50) == 0 {
			kg = "-" + kg
		}
		out[i] = SupplierTotal{SupplierID: fmt.Sprintf("S%05d", i), Kg: kg, Spend: "1"}
	}
	return out
}

// The shares are big.Rat's quotients rounded once to float64, and the
// total its exact sum.
func TestParetoSharesAreExactQuotients(t *testing.T) {
	totals := randomTotals(3000)
	a, err := Pareto(totals, 0.8)
	if err != nil {
		t.Fatal(err)
	}
	total, kgs := new(big.Rat), map[string]*big.Rat{}
	for _, s := range totals {
		kg, _ := new(big.Rat).SetString(s.Kg)
		kgs[s.SupplierID] = kg
		total.Add(total, kg)
	}
	if want := total.FloatString(7); a.TotalKg != want {
		t.Fatalf("total %s, want %s", a.TotalKg, want)
	}
	cum := new(big.Rat)
	for i, e := range a.Entries {
		cum.Add(cum, kgs[e.SupplierID])
		share, _ := new(big.Rat).Quo(kgs[e.SupplierID], total).Float64()
		cs, _ := new(big.Rat).Quo(cum, total).Float64()
		if e.Share != share || e.CumulativeShare != cs {
			t.Fatalf("entry %d (%s): share %v, cumulative %v; want %v, %v", i, e.SupplierID, e.Share, e.CumulativeShare, share, cs)
		}
		if i > 0 && kgs[a.Entries[i-1].SupplierID].Cmp(kgs[e.SupplierID]) < 0 {
			t.Fatalf("entry %d (%s) ranks above a smaller one", i, e.SupplierID)
		}
	}
}

// BenchmarkPareto is the dataset of bench-api: 9,000 suppliers.
func BenchmarkPareto(b *testing.B) {
	totals := randomTotals(9000)
	for b.Loop() {
		if _, err := Pareto(totals, 0.8); err != nil {
			b.Fatal(err)
		}
	}
}

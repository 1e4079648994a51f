package quality

import (
	"strconv"
	"strings"
	"testing"
)

func TestAssess(t *testing.T) {
	spend := Inputs{Method: MethodSpend, LineYear: 2024, FactorYear: 2022, FactorRegion: "US", SupplierCountry: "US"}
	with := func(in Inputs, f func(*Inputs)) Inputs { f(&in); return in }
	product := func(share string) Inputs {
		return Inputs{Method: MethodProduct, LineYear: 2024, FactorYear: 2024, Verified: true, PrimaryShare: share}
	}
	tests := []struct { //nolint:prealloc // a table, then the generated time cases
		name string
		in   Inputs
		want Indicators
	}{
		{"spend, US factor, US supplier", spend, Indicators{4, 1, 1, 4, 4}},
		{"spend, supplier unknown", with(spend, func(in *Inputs) { in.SupplierCountry = "" }), Indicators{4, 1, 3, 4, 4}},
		{"spend, other country", with(spend, func(in *Inputs) { in.SupplierCountry = "DE" }), Indicators{4, 1, 4, 4, 4}},
		{"spend, factor region unknown", with(spend, func(in *Inputs) { in.FactorRegion = "" }), Indicators{4, 1, 5, 4, 4}},
		{"average, GB factor, GB supplier", Inputs{Method: MethodAverage, LineYear: 2024, FactorYear: 2024, FactorRegion: "GB", SupplierCountry: "GB"}, Indicators{2, 1, 1, 3, 2}},
		{"average, GB factor, US supplier", Inputs{Method: MethodAverage, LineYear: 2024, FactorYear: 2024, FactorRegion: "GB", SupplierCountry: "US"}, Indicators{2, 1, 4, 3, 2}},
		// A supplier's own data is of its own operations, whatever the regions.
		{"company, verified", Inputs{Method: MethodCompany, LineYear: 2024, FactorYear: 2023, FactorRegion: "US", SupplierCountry: "DE", Verified: true}, Indicators{3, 1, 1, 2, 1}},
		{"company, unverified", Inputs{Method: MethodCompany, LineYear: 2024, FactorYear: 2023}, Indicators{3, 1, 1, 2, 2}},
		{"product, unverified", with(product("0.95"), func(in *Inputs) { in.Verified = false }), Indicators{1, 1, 1, 1, 2}},
		{"product, share 0.9", product("0.9"), Indicators{1, 1, 1, 1, 1}},
		{"product, share 0.89", product("0.89"), Indicators{1, 1, 1, 2, 1}},
		{"product, share 0.5", product("0.50"), Indicators{1, 1, 1, 2, 1}},
		{"product, share 0.2", product("0.2"), Indicators{1, 1, 1, 3, 1}},
		{"product, share 0.1", product("0.1"), Indicators{1, 1, 1, 4, 1}},
		{"product, share 0", product("0"), Indicators{1, 1, 1, 5, 1}},
		{"product, share unknown", product(""), Indicators{1, 1, 1, 3, 1}},
		{"product, share 1", product("1"), Indicators{1, 1, 1, 1, 1}},
		{"product, share above 1 counts as unknown", product("1.5"), Indicators{1, 1, 1, 3, 1}},
		{"product, share not a decimal", product("90%"), Indicators{1, 1, 1, 3, 1}},
		{"unknown method", Inputs{Method: "hybrid", LineYear: 2024, FactorYear: 2024, Verified: true}, Indicators{5, 5, 5, 5, 5}},
	}
	// The pedigree matrix's temporal steps, at each boundary, and a factor
	// newer than the line.
	for _, tc := range []struct {
		factorYear int
		time       int8
	}{{0, 5}, {2024, 1}, {2022, 1}, {2021, 2}, {2019, 2}, {2018, 3}, {2015, 3}, {2014, 4}, {2010, 4}, {2009, 5}, {1990, 5}, {2027, 2}} {
		in := with(spend, func(in *Inputs) { in.FactorYear = tc.factorYear })
		want := Indicators{4, tc.time, 1, 4, 4}
		tests = append(tests, struct {
			name string
			in   Inputs
			want Indicators
		}{"time, factor year " + strconv.Itoa(tc.factorYear), in, want})
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Assess(tc.in); got != tc.want {
				t.Errorf("Assess(%+v) = %v, want %v", tc.in, got, tc.want)
			}
		})
	}
}

func TestPackUnpackScore(t *testing.T) {
	d := Indicators{4, 1, 3, 4, 4}
	if p := d.Pack(); p != 41344 {
		t.Fatalf("Pack = %d, want 41344", p)
	}
	got, err := Unpack(41344)
	if err != nil || got != d {
		t.Fatalf("Unpack(41344) = %v, %v; want %v", got, err, d)
	}
	if s := d.Score(); s != "3.2" {
		t.Errorf("Score = %q, want 3.2", s)
	}
	for _, tc := range []struct {
		d    Indicators
		want string
	}{{Indicators{1, 1, 1, 1, 1}, "1.0"}, {Indicators{5, 5, 5, 5, 5}, "5.0"}, {Indicators{2, 1, 4, 3, 2}, "2.4"}} {
		if s := tc.d.Score(); s != tc.want {
			t.Errorf("%v.Score() = %q, want %q", tc.d, s, tc.want)
		}
	}
	// Every valid tuple round-trips.
	n := 0
	for p := int32(11111); p <= 55555; p++ {
		d, err := Unpack(p)
		if err != nil {
			continue
		}
		n++
		if d.Pack() != p {
			t.Fatalf("Unpack(%d).Pack() = %d", p, d.Pack())
		}
	}
	if n != 5*5*5*5*5 {
		t.Errorf("%d packed values unpack, want 3125", n)
	}
	for _, p := range []int32{0, -41344, 1111, 111111, 41304, 41364, 61344, 41349} {
		if d, err := Unpack(p); err == nil {
			t.Errorf("Unpack(%d) = %v, want an error", p, d)
		}
	}
}

func TestWeighted(t *testing.T) {
	// |kg|: 100 + 50.5 = 150.5, the zero line weighs nothing.
	// (100 x 2.0 + 50.5 x 3.2) / 150.5 = 361.6 / 150.5 = 2.4026...
	items := []Weighed{
		{"100", Indicators{1, 1, 2, 4, 2}},
		{"-50.5", Indicators{4, 1, 3, 4, 4}},
		{"0", Indicators{5, 5, 5, 5, 5}},
	}
	got, err := Weighted(items)
	if err != nil || got != "2.40" {
		t.Errorf("Weighted = %q, %v; want 2.40", got, err)
	}
	// Technology (100 + 202) / 150.5 = 2.0066; geography 351.5 / 150.5 =
	// 2.3355; reliability 402 / 150.5 = 2.6711.
	ind, err := WeightedIndicators(items)
	want := IndicatorScores{"2.01", "1.00", "2.34", "4.00", "2.67"}
	if err != nil || ind != want {
		t.Errorf("WeightedIndicators = %+v, %v; want %+v", ind, err, want)
	}

	// (7 x 2.0 + 1 x 3.0) / 8 = 2.125: half away from zero, not to even.
	half := []Weighed{{"7", Indicators{2, 2, 2, 2, 2}}, {"-1", Indicators{3, 3, 3, 3, 3}}}
	if got, _ := Weighted(half); got != "2.13" {
		t.Errorf("Weighted(2.125) = %q, want 2.13", got)
	}

	for _, zero := range [][]Weighed{nil, {{"0.00", Indicators{1, 1, 1, 1, 1}}}} {
		got, err := Weighted(zero)
		ind, err2 := WeightedIndicators(zero)
		if got != "" || ind != (IndicatorScores{}) || err != nil || err2 != nil {
			t.Errorf("Weighted(%v) = %q, %+v, %v, %v; want empty", zero, got, ind, err, err2)
		}
	}

	for _, tc := range []struct {
		items []Weighed
		field string
	}{
		{[]Weighed{{"1", Indicators{1, 1, 1, 1, 1}}, {"1e3", Indicators{1, 1, 1, 1, 1}}}, "items[1].kg"},
		{[]Weighed{{"1", Indicators{1, 1, 0, 1, 1}}}, "items[0].indicators: geography is 0"},
	} {
		if _, err := Weighted(tc.items); err == nil || !strings.Contains(err.Error(), tc.field) {
			t.Errorf("Weighted(%v) error %v, want one naming %s", tc.items, err, tc.field)
		}
	}
}

// BenchmarkScores weighs an inventory's groups as a read does: 3,348
// groups of 7-decimal kg (the 1M-line inventory of BenchmarkSimulate).
func BenchmarkScores(b *testing.B) {
	groups := realisticGroups()
	items := make([]Weighed, len(groups))
	variants := []Indicators{{4, 1, 3, 4, 4}, {4, 2, 3, 4, 4}, {4, 1, 1, 4, 4}, {2, 1, 3, 3, 2}}
	for i, g := range groups {
		items[i] = Weighed{Kg: strconv.FormatFloat(g.Kg*1.0000001, 'f', 7, 64), Indicators: variants[i%len(variants)]}
	}
	for b.Loop() {
		if _, _, err := Scores(items); err != nil {
			b.Fatal(err)
		}
	}
}

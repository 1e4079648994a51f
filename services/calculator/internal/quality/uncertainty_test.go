package quality

import (
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// z95 is the standard normal's 95th percentile.
const z95 = 1.6448536

var (
	spendSigma2   = Sigma2(MethodSpend, Indicators{4, 1, 3, 4, 4})
	productSigma2 = Sigma2(MethodProduct, Indicators{1, 1, 1, 1, 1})
)

func TestSigma2(t *testing.T) {
	for _, tc := range []struct {
		method string
		d      Indicators
		want   float64
	}{
		// basic 0.04 + technology 0.04 + time 0 + geography 0.0001 +
		// completeness 0.002 + reliability 0.008
		{MethodSpend, Indicators{4, 1, 3, 4, 4}, 0.0901},
		// basic 0.0006 + 0.0006 + 0 + 0.0006 + 0.0006 + 0.0006
		{MethodAverage, Indicators{2, 1, 4, 3, 2}, 0.003},
		{MethodProduct, Indicators{1, 1, 1, 1, 1}, 0.0006},
		// basic 0.0006 + 0.008 + 0.0002 + 0 + 0.0001 + 0
		{MethodCompany, Indicators{3, 2, 1, 2, 1}, 0.0089},
		// an unknown method's basic 0.04 + 0.12 + 0.04 + 0.002 + 0.008 + 0.04;
		// the 0 counts as 5
		{"hybrid", Indicators{5, 5, 5, 5, 0}, 0.25},
	} {
		if got := Sigma2(tc.method, tc.d); math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("Sigma2(%s, %v) = %v, want %v", tc.method, tc.d, got, tc.want)
		}
	}
}

// near fails unless got is within rel of want.
func near(t *testing.T, what string, got, want, rel float64) {
	t.Helper()
	if math.Abs(got-want) > rel*math.Abs(want) {
		t.Errorf("%s = %.4f, want %.4f within %g%%", what, got, want, rel*100)
	}
}

// A total drawn from one factor is K exp(sigma z): lognormal with median K.
func TestSimulateOneFactor(t *testing.T) {
	for _, tc := range []struct {
		name   string
		sigma2 float64
		kgs    []float64
	}{
		{"spend-based 41344", spendSigma2, []float64{600, 250.5, 149.5}},
		{"supplier product 11111", productSigma2, []float64{600, 250.5, 149.5}},
		{"credit notes only", spendSigma2, []float64{-600, -400}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var groups []Group
			k := 0.0
			for i, kg := range tc.kgs {
				groups = append(groups, Group{Factor: "331110", Category: int16(1 + i), Kg: kg, Sigma2: tc.sigma2})
				k += kg
			}
			res, err := Simulate(groups, Options{})
			if err != nil {
				t.Fatal(err)
			}
			s := math.Sqrt(tc.sigma2)
			lo, hi := k*math.Exp(-z95*s), k*math.Exp(z95*s)
			if k < 0 {
				lo, hi = hi, lo
			}
			near(t, "P50", res.Total.P50, k, 0.01)
			near(t, "P5", res.Total.P5, lo, 0.02)
			near(t, "P95", res.Total.P95, hi, 0.02)
			if res.Iterations != DefaultIterations || res.Seed != DefaultSeed || res.Groups != len(tc.kgs) || res.Factors != 1 {
				t.Errorf("inputs = %d iterations, seed %d, %d groups, %d factors", res.Iterations, res.Seed, res.Groups, res.Factors)
			}
		})
	}
}

// Each category's range is its own factor's lognormal.
func TestSimulateCategories(t *testing.T) {
	groups := []Group{
		{Factor: "331110", Category: 1, Kg: 1000, Sigma2: spendSigma2},
		{Factor: "diesel", Category: 4, Kg: 400, Sigma2: 0.003},
		{Factor: "diesel", Category: 4, Kg: 100, Sigma2: 0.003},
	}
	res, err := Simulate(groups, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Categories) != 2 || res.Categories[0].Category != 1 || res.Categories[1].Category != 4 {
		t.Fatalf("categories = %+v, want 1 and 4", res.Categories)
	}
	for i, want := range []struct{ k, sigma2 float64 }{{1000, spendSigma2}, {500, 0.003}} {
		r, s := res.Categories[i].Range, math.Sqrt(want.sigma2)
		name := fmt.Sprintf("category %d ", res.Categories[i].Category)
		near(t, name+"P50", r.P50, want.k, 0.01)
		near(t, name+"P5", r.P5, want.k*math.Exp(-z95*s), 0.02)
		near(t, name+"P95", r.P95, want.k*math.Exp(z95*s), 0.02)
	}
	if res.Factors != 2 {
		t.Errorf("factors = %d, want 2", res.Factors)
	}
}

// Independent factors: by the central limit theorem the total of 400
// lognormals is near normal (its skewness is the parts' 0.95 over 20), so
// its median is within a fraction of a percent of its mean
// sum K exp(sigma^2/2), and P95 - P5 is 2 x 1.645 standard deviations of
// the sum. Had the factors shared one draw, P50 would be sum K, 4.6% lower,
// and the spread 14 times as wide.
func TestSimulateIndependentFactors(t *testing.T) {
	const n, sigma2 = 400, 0.09
	groups := make([]Group, 0, n)
	for i := range n {
		groups = append(groups, Group{Factor: fmt.Sprint("f", i), Category: int16(1 + i%15), Kg: 1, Sigma2: sigma2})
	}
	res, err := Simulate(groups, Options{Iterations: 20_000})
	if err != nil {
		t.Fatal(err)
	}
	e := math.Exp(sigma2)
	mean := n * math.Sqrt(e)
	sd := math.Sqrt(n * e * (e - 1))
	near(t, "P50", res.Total.P50, mean, 0.005)
	near(t, "P95 - P5", res.Total.P95-res.Total.P5, 2*z95*sd, 0.03)
	if res.Factors != n || len(res.Categories) != 15 {
		t.Errorf("%d factors, %d categories; want %d and 15", res.Factors, len(res.Categories), n)
	}
}

// realisticGroups is a 1M-line inventory as it aggregates: 1,016 spend
// factors, each in its category with three sigma variants (the lines'
// years and supplier countries), and 300 activity factors.
func realisticGroups() []Group {
	rng := rand.New(rand.NewPCG(7, 7))
	spendCats := []int16{1, 1, 1, 1, 2, 2, 4, 5, 6, 7}
	variants := []Indicators{{4, 1, 3, 4, 4}, {4, 2, 3, 4, 4}, {4, 1, 1, 4, 4}}
	out := make([]Group, 0, len(variants)*1016+300)
	for i := range 1016 {
		for _, d := range variants {
			out = append(out, Group{Factor: fmt.Sprintf("epa/%06d", 100000+i), Category: spendCats[i%len(spendCats)],
				Kg: math.Round(math.Exp(8+2*rng.NormFloat64())*100) / 100, Sigma2: Sigma2(MethodSpend, d)})
		}
	}
	actCats := []int16{3, 4, 6, 7, 9, 12}
	for i := range 300 {
		out = append(out, Group{Factor: fmt.Sprintf("desnz/%d", i), Category: actCats[i%len(actCats)],
			Kg: math.Round(math.Exp(7+2*rng.NormFloat64())*100) / 100, Sigma2: Sigma2(MethodAverage, Indicators{2, 1, 3, 3, 2})})
	}
	return out
}

func TestSimulateReproducible(t *testing.T) {
	groups := realisticGroups()
	o := Options{Iterations: 1000, Seed: 42}
	run := func(groups []Group, o Options) Result {
		t.Helper()
		res, err := Simulate(groups, o)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	base := run(groups, o)
	if base.Groups != 3348 || base.Factors != 1316 || len(base.Categories) != 9 {
		t.Fatalf("inputs = %d groups, %d factors, %d categories", base.Groups, base.Factors, len(base.Categories))
	}
	if again := run(groups, o); !reflect.DeepEqual(base, again) {
		t.Errorf("same seed: %+v, then %+v", base.Total, again.Total)
	}
	if other := run(groups, Options{Iterations: 1000, Seed: 43}); other.Total == base.Total {
		t.Errorf("seeds 42 and 43 both give %+v", base.Total)
	}

	shuffled := append([]Group(nil), groups...)
	rand.New(rand.NewPCG(1, 2)).Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	if got := run(shuffled, o); !reflect.DeepEqual(base, got) {
		t.Errorf("shuffled: %+v, want %+v", got.Total, base.Total)
	}

	// A group cut in two (amounts that add exactly) is merged back.
	split := append([]Group(nil), groups...)
	split[0].Kg, split[len(split)-1].Kg = 3, 3
	want := run(split, o)
	split[0].Kg = 1
	split = append(split, Group{Factor: split[0].Factor, Category: split[0].Category, Kg: 2, Sigma2: split[0].Sigma2})
	got := run(split, o)
	got.Groups--
	if !reflect.DeepEqual(want, got) {
		t.Errorf("split group: %+v, want %+v", got.Total, want.Total)
	}

	prev := runtime.GOMAXPROCS(1)
	one := run(groups, o)
	runtime.GOMAXPROCS(prev)
	if !reflect.DeepEqual(base, one) {
		t.Errorf("GOMAXPROCS 1: %+v, want %+v", one.Total, base.Total)
	}
}

func TestSimulateRefuses(t *testing.T) {
	ok := Group{Factor: "f", Category: 1, Kg: 1, Sigma2: 0.01}
	with := func(f func(*Group)) []Group { g := ok; f(&g); return []Group{ok, g} }
	for _, tc := range []struct {
		groups []Group
		o      Options
		want   string
	}{
		{[]Group{ok}, Options{Iterations: 99}, "iterations: 99"},
		{[]Group{ok}, Options{Iterations: 1_000_001}, "iterations: 1000001"},
		{with(func(g *Group) { g.Factor = "" }), Options{}, "groups[1].factor"},
		{with(func(g *Group) { g.Category = 0 }), Options{}, "groups[1].category: 0"},
		{with(func(g *Group) { g.Category = 16 }), Options{}, "groups[1].category: 16"},
		{with(func(g *Group) { g.Kg = math.NaN() }), Options{}, "groups[1].kg"},
		{with(func(g *Group) { g.Kg = math.Inf(-1) }), Options{}, "groups[1].kg"},
		{with(func(g *Group) { g.Sigma2 = -0.01 }), Options{}, "groups[1].sigma2"},
		{with(func(g *Group) { g.Sigma2 = math.NaN() }), Options{}, "groups[1].sigma2"},
		{with(func(g *Group) { g.Sigma2 = 1.01 }), Options{}, "groups[1].sigma2: 1.01 is not 0 to 1"},
		{with(func(g *Group) { g.Kg, g.Sigma2 = -1e12, 1 }), Options{}, "groups: their draws could add up to 8.1e+15 kg"},
	} {
		if _, err := Simulate(tc.groups, tc.o); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Simulate: error %v, want one starting %q", err, tc.want)
		}
	}
	res, err := Simulate(nil, Options{})
	if err != nil || res.Total != (Range{}) || res.Categories != nil || res.Iterations != DefaultIterations {
		t.Errorf("Simulate(nil) = %+v, %v; want a zero range", res, err)
	}
}

// nth agrees with sorting, on runs, repeats, sorted and reversed input.
func TestNth(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	sizes := []int{10, 101, 1000, 10_000}
	inputs := make([][]int64, 0, 5+len(sizes))
	inputs = append(inputs, []int64{5}, []int64{2, 1}, []int64{7, 7, 7, 7}, []int64{1, 2, 3, 4, 5, 6}, []int64{6, 5, 4, 3, 2, 1})
	for _, n := range sizes {
		x := make([]int64, n)
		for i := range x {
			x[i] = rng.Int64N(50) - 25 // many repeats
		}
		inputs = append(inputs, x)
	}
	for _, in := range inputs {
		sorted := slices.Clone(in)
		slices.Sort(sorted)
		for k := range in {
			x := slices.Clone(in)
			if got := nth(x, k); got != sorted[k] || slices.Max(x[:k+1]) != got || slices.Min(x[k:]) != got {
				t.Fatalf("nth(%d) of %d values = %d, want %d, with none greater before nor less after", k, len(in), got, sorted[k])
			}
		}
	}
}

func TestPercentile(t *testing.T) {
	x := []int64{1000, 2000, 3000, 4000} // grams
	for _, tc := range []struct{ p, want float64 }{{0, 1}, {0.05, 1.15}, {0.5, 2.5}, {0.95, 3.85}, {1, 4}} {
		if got := percentile(slices.Clone(x), tc.p); math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("percentile(%v) = %v, want %v", tc.p, got, tc.want)
		}
	}
}

func BenchmarkSimulate(b *testing.B) {
	groups := realisticGroups()
	for b.Loop() {
		if _, err := Simulate(groups, Options{Iterations: 10_000, Seed: 1}); err != nil {
			b.Fatal(err)
		}
	}
}

// A memo's result is Simulate's, bit for bit, whatever it kept, and it
// draws only the merged groups that changed.
func TestMemoIsSimulate(t *testing.T) {
	o := Options{Iterations: 1000, Seed: 42}
	m := NewMemo(64 << 20)
	check := func(what string, key string, gs []Group, drawn int64) {
		t.Helper()
		want, err := Simulate(gs, o)
		if err != nil {
			t.Fatal(err)
		}
		before := m.Drawn()
		got, err := m.Simulate(key, gs, o)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: memo %+v, Simulate %+v", what, got.Total, want.Total)
		}
		if d := m.Drawn() - before; d != drawn {
			t.Errorf("%s: drew %d merged groups, want %d", what, d, drawn)
		}
	}
	groups := realisticGroups()
	check("first", "a", groups, 3348)
	check("again", "a", groups, 0)

	// Ten lines uploaded: two groups grow, a new factor, a known factor
	// in a category it had none in.
	next := slices.Clone(groups)
	next[5].Kg += 123.45
	next[100].Kg *= 2
	next = append(next, Group{Factor: "epa/999999", Category: 1, Kg: 870.25, Sigma2: 0.09},
		Group{Factor: groups[0].Factor, Category: 8, Kg: 12.5, Sigma2: groups[0].Sigma2})
	check("changed", "a", next, 4)
	check("a group gone", "a", next[1:], 1)
	check("back to the first", "a", groups, 5)
	check("another key", "b", groups, 3348)
	o.Iterations = 2000
	check("other iterations", "a", groups, 3348)
	o.Iterations = 1000

	// Most groups changed: drawn again from nothing, still the same.
	scaled := slices.Clone(groups)
	for i := range scaled {
		scaled[i].Kg *= 1.5
	}
	check("most changed", "a", scaled, 3348)
}

// The memo keeps what fits, dropping the least recently used.
func TestMemoEvicts(t *testing.T) {
	o := Options{Iterations: 1000}
	gs := []Group{{Factor: "f", Category: 1, Kg: 10, Sigma2: 0.04}}
	size := 16*1000*8 + 64
	m := NewMemo(4 * size)
	for _, k := range []string{"a", "b", "c", "d", "a", "e"} { // e evicts b
		if _, err := m.Simulate(k, gs, o); err != nil {
			t.Fatal(err)
		}
	}
	before := m.Drawn()
	for _, k := range []string{"a", "c", "d", "e"} {
		_, _ = m.Simulate(k, gs, o)
	}
	if d := m.Drawn() - before; d != 0 {
		t.Errorf("kept keys drew %d groups again", d)
	}
	_, _ = m.Simulate("b", gs, o)
	if d := m.Drawn() - before; d != 1 {
		t.Errorf("the evicted key drew %d groups, want 1", d)
	}
	if m.bytes > 4*size {
		t.Errorf("%d bytes kept, over %d", m.bytes, 4*size)
	}
	// An entry's groups grow: it is counted at its new size.
	grown := NewMemo(8 * size)
	many := make([]Group, 0, 100)
	for i := range 100 {
		many = append(many, Group{Factor: fmt.Sprintf("f%d", i), Category: 1, Kg: 1, Sigma2: 0.04})
	}
	for _, run := range []struct {
		key string
		gs  []Group
	}{{"a", gs}, {"b", gs}, {"a", many}} {
		if _, err := grown.Simulate(run.key, run.gs, o); err != nil {
			t.Fatal(err)
		}
	}
	if want := size + 16*1000*8 + 100*64; grown.bytes != want {
		t.Errorf("after a grew to 100 groups: %d bytes kept, want %d", grown.bytes, want)
	}
	// Too large for the memo: drawn, not kept.
	big := NewMemo(size)
	_, _ = big.Simulate("a", gs, o)
	if big.bytes != 0 || big.Drawn() != 0 {
		t.Errorf("a memo of %d bytes kept %d bytes, drew %d", size, big.bytes, big.Drawn())
	}
}

// BenchmarkMemo is a report after a 10-line upload: ten groups changed
// since the memo's last simulation.
func BenchmarkMemo(b *testing.B) {
	groups := realisticGroups()
	m := NewMemo(64 << 20)
	o := Options{Iterations: 10_000, Seed: 1}
	if _, err := m.Simulate("t", groups, o); err != nil {
		b.Fatal(err)
	}
	for i := 0; b.Loop(); i++ {
		for j := range 10 {
			groups[(i*10+j)%len(groups)].Kg += 1.25
		}
		if _, err := m.Simulate("t", groups, o); err != nil {
			b.Fatal(err)
		}
	}
}

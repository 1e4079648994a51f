package quality

import (
	"cmp"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
)

// Pedigree variances of ln(x) by score 1 to 5 (ecoinvent v3, Ciroth et
// al. 2016), index 0 unused.
var (
	varReliability  = [6]float64{0, 0, 0.0006, 0.002, 0.008, 0.04}
	varCompleteness = [6]float64{0, 0, 0.0001, 0.0006, 0.002, 0.008}
	varTime         = [6]float64{0, 0, 0.0002, 0.002, 0.008, 0.04}
	varGeography    = [6]float64{0, 0, 0.000025, 0.0001, 0.0006, 0.002}
	varTechnology   = [6]float64{0, 0, 0.0006, 0.008, 0.04, 0.12}
)

// basicVariance is vcci's choice of each method's basic uncertainty: a
// spend-based factor carries its input-output model's own. An unknown
// method takes the largest.
func basicVariance(method string) float64 {
	switch method {
	case MethodProduct, MethodCompany, MethodAverage:
		return 0.0006
	}
	return 0.04
}

// Sigma2 is the variance of ln(kg) of a result: the method's basic
// variance plus the five indicators' pedigree variances. An indicator
// outside 1 to 5 counts as 5.
func Sigma2(method string, d Indicators) float64 {
	score := func(v int8) int {
		if v < 1 || v > 5 {
			return 5
		}
		return int(v)
	}
	return basicVariance(method) +
		varTechnology[score(d.Technology)] +
		varTime[score(d.Time)] +
		varGeography[score(d.Geography)] +
		varCompleteness[score(d.Completeness)] +
		varReliability[score(d.Reliability)]
}

// Group is results that share a factor, a variance and a category.
type Group struct {
	Factor   string  // lines sharing a factor are fully correlated: one draw per factor per iteration
	Category int16   // Scope 3 category, 1..15
	Kg       float64 // point estimate (sum of the lines' kg CO2e), may be negative
	Sigma2   float64 // variance of ln(kg), Sigma2's
}

// Simulation bounds and defaults.
const (
	DefaultIterations = 10_000
	DefaultSeed       = 1
	MinIterations     = 100
	MaxIterations     = 1_000_000
	// MaxSigma2 bounds a group's variance of ln(kg), four times any
	// Sigma2's (0.25 at most).
	MaxSigma2 = 1
	// zMax bounds the standard normals drawn (one in 10^19 falls beyond),
	// so that a draw's kg is bounded: sigma*z stays inside expAll's range
	// and the sums inside int64 (maxGrams).
	zMax = 9
	// gramsPerKg: each draw's kg is rounded to the gram and the grams are
	// summed as integers, exactly, so that any order of adding gives the
	// same sum and a few groups' change can be added to a kept sum.
	gramsPerKg = 1000
	// maxGrams bounds the grams an iteration's sum could reach.
	maxGrams = 1 << 62
	// blockLen is how many iterations of one factor one stream draws:
	// block b of a factor is drawn from its own stream, seeded by the
	// seed, the factor's name and b, so that any block of any factor can
	// be drawn alone and in any order.
	blockLen = 1024
)

// Options of Simulate; zero fields take the defaults.
type Options struct {
	Iterations int
	Seed       uint64
}

// Range is the 5th, 50th and 95th percentiles of the simulated kg CO2e.
type Range struct{ P5, P50, P95 float64 }

// CategoryRange is one category's range.
type CategoryRange struct {
	Category int16
	Range    Range
}

// Result is a simulation's ranges and what it ran on.
type Result struct {
	Total Range
	// Categories are the categories of the groups, ascending.
	Categories []CategoryRange
	Iterations int
	Seed       uint64
	Groups     int // as given, before merging
	Factors    int // distinct factors: the draws per iteration
}

// Simulate draws every group's kg as lognormal with its Kg as median and
// Sigma2 as variance of ln, one standard normal per factor per iteration,
// and returns the percentiles of the totals. The same groups, in any
// order, and seed give the same result.
func Simulate(groups []Group, o Options) (Result, error) {
	return (*Memo)(nil).Simulate("", groups, o)
}

// Memo keeps the per-iteration sums of recent simulations, so that one
// whose groups differ from a kept one's in a few (an upload of ten lines
// between two reports) draws only those. The result is the same as
// Simulate's, bit for bit: the sums are exact and every draw depends only
// on the seed, its factor, its iteration and its sigma. Safe for
// concurrent use.
type Memo struct {
	maxBytes int
	mu       sync.Mutex
	bytes    int
	entries  map[string]*memoEntry
	tick     uint64 // last use, for evicting the least recently used
	drawn    atomic.Int64
}

// Drawn is how many merged groups the memo has drawn, in all.
func (m *Memo) Drawn() int64 { return m.drawn.Load() }

type memoEntry struct {
	mu    sync.Mutex
	used  uint64 // Memo.tick at the last use; under Memo.mu
	bytes int    // under Memo.mu
	parts map[partKey]float64
	sums  []int64 // sums[c*n+i]: iteration i's grams, c 0 the total, else category c
}

// NewMemo returns a Memo keeping at most maxBytes of sums.
func NewMemo(maxBytes int) *Memo {
	return &Memo{maxBytes: maxBytes, entries: map[string]*memoEntry{}}
}

// Simulate is the package's Simulate, from the sums kept under key (with
// the same iterations and seed) when there are. The key only says which
// sums to start from, so any key gives the right result; one per tenant
// and basis keeps the draws to the groups that changed.
func (m *Memo) Simulate(key string, groups []Group, o Options) (Result, error) {
	if o.Iterations == 0 {
		o.Iterations = DefaultIterations
	}
	if o.Seed == 0 {
		o.Seed = DefaultSeed
	}
	if o.Iterations < MinIterations || o.Iterations > MaxIterations {
		return Result{}, fmt.Errorf("iterations: %d is not %d to %d", o.Iterations, MinIterations, MaxIterations)
	}
	for i, g := range groups {
		switch {
		case g.Factor == "":
			return Result{}, fmt.Errorf("groups[%d].factor: empty", i)
		case g.Category < 1 || g.Category > 15:
			return Result{}, fmt.Errorf("groups[%d].category: %d is not 1 to 15", i, g.Category)
		case math.IsNaN(g.Kg) || math.IsInf(g.Kg, 0):
			return Result{}, fmt.Errorf("groups[%d].kg: %v is not finite", i, g.Kg)
		case !(g.Sigma2 >= 0 && g.Sigma2 <= MaxSigma2):
			return Result{}, fmt.Errorf("groups[%d].sigma2: %v is not 0 to %d", i, g.Sigma2, MaxSigma2)
		}
	}
	parts, factors, cats := merge(groups)
	res := Result{Iterations: o.Iterations, Seed: o.Seed, Groups: len(groups), Factors: factors}
	if len(groups) == 0 {
		return res, nil
	}
	bound := 0.0
	for _, p := range parts {
		bound += math.Abs(p.kg) * math.Exp(zMax*math.Sqrt(p.sigma2)) * gramsPerKg
	}
	if bound >= maxGrams {
		return Result{}, fmt.Errorf("groups: their draws could add up to %.3g kg, beyond the simulation's %.3g kg", bound/gramsPerKg, float64(maxGrams)/gramsPerKg)
	}

	n := o.Iterations
	size := 16 * n * 8
	var sums []int64
	e := m.entry(fmt.Sprintf("%s|%d|%d", key, n, o.Seed), size+len(parts)*64)
	if e == nil {
		sums = make([]int64, 16*n)
		draw(sums, n, o.Seed, changesFrom(nil, parts))
	} else {
		e.mu.Lock()
		ch := changesFrom(e.parts, parts)
		if e.sums == nil || len(ch) > len(parts)/2 {
			e.sums = make([]int64, 16*n)
			ch = changesFrom(nil, parts)
		}
		draw(e.sums, n, o.Seed, ch)
		m.drawn.Add(int64(len(ch)))
		e.parts = make(map[partKey]float64, len(parts))
		for _, p := range parts {
			e.parts[p.partKey] = p.kg
		}
		// Only the rows read below, copied: they are sorted there.
		sums = make([]int64, 16*n)
		copy(sums[:n], e.sums[:n])
		for _, c := range cats {
			copy(sums[int(c)*n:(int(c)+1)*n], e.sums[int(c)*n:(int(c)+1)*n])
		}
		e.mu.Unlock()
	}

	rng := func(c int16) Range {
		row := sums[int(c)*n : (int(c)+1)*n]
		return Range{P5: percentile(row, 0.05), P50: percentile(row, 0.5), P95: percentile(row, 0.95)}
	}
	res.Total = rng(0)
	for _, c := range cats {
		res.Categories = append(res.Categories, CategoryRange{Category: c, Range: rng(c)})
	}
	return res, nil
}

// entry returns key's entry, made or resized to size (its groups may have
// grown), evicting the least recently used others while over the budget;
// nil when m is nil or size does not fit.
func (m *Memo) entry(key string, size int) *memoEntry {
	if m == nil || size > m.maxBytes/4 {
		return nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.tick++
	e := m.entries[key]
	if e == nil {
		e = &memoEntry{}
		m.entries[key] = e
	}
	e.used = m.tick
	m.bytes += size - e.bytes
	e.bytes = size
	for m.bytes > m.maxBytes {
		var oldest string
		for k, o := range m.entries {
			if k != key && (oldest == "" || o.used < m.entries[oldest].used) {
				oldest = k
			}
		}
		m.bytes -= m.entries[oldest].bytes
		delete(m.entries, oldest)
	}
	return e
}

// partKey is what a draw's multiplier depends on, with the category its
// kg is added to.
type partKey struct {
	factor   string
	sigma2   float64
	category int16
}

// part is the groups of one key merged: fully correlated with one sigma,
// their sum is exactly one group's draw.
type part struct {
	partKey
	kg float64
}

// merge sorts the groups, Kg last so that merged sums add in one order
// whatever the input's, and merges those of one key. It returns the parts
// in key order, the number of factors and the categories, ascending.
func merge(groups []Group) (parts []part, factors int, cats []int16) {
	gs := slices.Clone(groups)
	slices.SortFunc(gs, func(a, b Group) int {
		return cmp.Or(strings.Compare(a.Factor, b.Factor), cmp.Compare(a.Sigma2, b.Sigma2),
			cmp.Compare(a.Category, b.Category), cmp.Compare(a.Kg, b.Kg))
	})
	var present [16]bool
	for i, g := range gs {
		present[g.Category] = true
		if i == 0 || g.Factor != gs[i-1].Factor {
			factors++
		}
		k := partKey{g.Factor, g.Sigma2, g.Category}
		if len(parts) > 0 && parts[len(parts)-1].partKey == k {
			parts[len(parts)-1].kg += g.Kg
			continue
		}
		parts = append(parts, part{k, g.Kg})
	}
	for c, ok := range present {
		if ok {
			cats = append(cats, int16(c))
		}
	}
	return parts, factors, cats
}

// change is a part's kg going from was to now; draw adds the difference
// of their draws' grams.
type change struct {
	partKey
	was, now float64
}

// changesFrom lists the parts whose kg differs from kept's (all of them
// when kept is nil), and kept's parts that are gone, in key order.
func changesFrom(kept map[partKey]float64, parts []part) []change {
	var out []change
	seen := make(map[partKey]bool, len(parts))
	for _, p := range parts {
		seen[p.partKey] = true
		if was, ok := kept[p.partKey]; !ok || was != p.kg {
			out = append(out, change{p.partKey, was, p.kg})
		}
	}
	changed := len(out)
	for k, was := range kept {
		if !seen[k] {
			out = append(out, change{k, was, 0})
		}
	}
	if len(out) > changed {
		slices.SortFunc(out, func(a, b change) int { return cmpKey(a.partKey, b.partKey) })
	}
	return out
}

func cmpKey(a, b partKey) int {
	return cmp.Or(strings.Compare(a.factor, b.factor), cmp.Compare(a.sigma2, b.sigma2), cmp.Compare(a.category, b.category))
}

// draw adds to sums, iterations in blocks over the processors, each
// change's grams. ch is in key order.
func draw(sums []int64, n int, seed uint64, ch []change) {
	if len(ch) == 0 {
		return
	}
	blocks := (n + blockLen - 1) / blockLen
	var next atomic.Int32
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), blocks) {
		wg.Go(func() {
			d := newDrawer()
			for {
				b := int(next.Add(1)) - 1
				if b >= blocks {
					return
				}
				d.block(sums, n, seed, ch, b)
			}
		})
	}
	wg.Wait()
}

// drawer is one goroutine's generator and buffers.
type drawer struct {
	pcg  *rand.PCG
	rng  *rand.Rand
	z, m []float64
}

func newDrawer() *drawer {
	pcg := rand.NewPCG(0, 0)
	return &drawer{pcg: pcg, rng: rand.New(pcg), z: make([]float64, blockLen), m: make([]float64, blockLen)} //nolint:gosec // a seeded, reproducible Monte Carlo, not a secret
}

// block adds block b's grams: for each factor its standard normals, for
// each sigma their multipliers, for each change the difference between
// its kg now and before times each multiplier.
func (d *drawer) block(sums []int64, n int, seed uint64, ch []change, b int) {
	from := b * blockLen
	k := min(blockLen, n-from)
	z, m := d.z[:k], d.m[:k]
	for i, c := range ch {
		newFactor := i == 0 || c.factor != ch[i-1].factor
		if newFactor {
			d.pcg.Seed(factorSeed(seed, c.factor), uint64(b)) //nolint:gosec // b >= 0
			for j := range z {
				z[j] = max(-zMax, min(zMax, d.rng.NormFloat64()))
			}
		}
		if newFactor || c.sigma2 != ch[i-1].sigma2 {
			s := math.Sqrt(c.sigma2)
			for j, x := range z {
				m[j] = s * x
			}
			expAll(m)
		}
		row := int(c.category) * n
		add(sums[from:from+k], sums[row+from:row+from+k], m, c.was, c.now)
	}
}

// add adds to total and cat, for each multiplier x, now x minus was x in
// grams, each rounded to the nearest (ties to even).
func add(total, cat []int64, m []float64, was, now float64) {
	total, cat = total[:len(m)], cat[:len(m)]
	if was == 0 {
		for j, x := range m {
			g := int64(math.RoundToEven(now * x * gramsPerKg))
			total[j] += g
			cat[j] += g
		}
		return
	}
	for j, x := range m {
		g := int64(math.RoundToEven(now*x*gramsPerKg)) - int64(math.RoundToEven(was*x*gramsPerKg))
		total[j] += g
		cat[j] += g
	}
}

// factorSeed is the first half of a factor's streams' seed: FNV-1a of its
// name, mixed with the simulation's seed.
func factorSeed(seed uint64, factor string) uint64 {
	h := uint64(14695981039346656037)
	for i := range len(factor) {
		h ^= uint64(factor[i])
		h *= 1099511628211
	}
	return h ^ seed*0x9e3779b97f4a7c15
}

// percentile is Hyndman and Fan's definition 7 (R's and NumPy's default):
// linear between the order statistics around (n-1)p of grams x, in kg.
// It reorders x.
func percentile(x []int64, p float64) float64 {
	h := p * float64(len(x)-1)
	lo := int(h)
	v := nth(x, lo)
	if lo >= len(x)-1 {
		return float64(v) / gramsPerKg
	}
	// nth left x[lo+1:] at or above v: the next order statistic is their least.
	next := slices.Min(x[lo+1:])
	return (float64(v) + (h-float64(lo))*float64(next-v)) / gramsPerKg
}

// nth reorders x so that x[k] is the one sorted x would have there, none
// before it greater, none after it less, and returns it: Hoare's
// selection, three times as fast here as sorting (the standard library has
// none). A range that does not shrink fast enough is sorted.
func nth(x []int64, k int) int64 {
	lo, hi := 0, len(x)-1
	for rounds := 0; lo < hi; rounds++ {
		if rounds == 64 {
			slices.Sort(x[lo : hi+1])
			break
		}
		// The median of the first, middle and last as pivot.
		mid := lo + (hi-lo)/2
		a, b, c := x[lo], x[mid], x[hi]
		pivot := max(min(a, b), min(max(a, b), c))
		i, j := lo, hi
		for i <= j {
			for x[i] < pivot {
				i++
			}
			for x[j] > pivot {
				j--
			}
			if i <= j {
				x[i], x[j] = x[j], x[i]
				i++
				j--
			}
		}
		switch {
		case k <= j:
			hi = j
		case k >= i:
			lo = i
		default:
			return x[k]
		}
	}
	return x[k]
}

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
	// MaxSigma2 bounds a group's variance of ln(kg), far above any
	// Sigma2's (0.25 at most): a standard normal drawn here is under 15,
	// so sigma*z stays inside expAll's range.
	MaxSigma2 = 100
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

// chunks is the fixed number of independently seeded slices the
// iterations are cut into, so that the result does not depend on how many
// goroutines run them.
const chunks = 16

// Simulate draws every group's kg as lognormal with its Kg as median and
// Sigma2 as variance of ln, one standard normal per factor per iteration,
// and returns the percentiles of the totals. The same groups, in any
// order, and seed give the same result.
func Simulate(groups []Group, o Options) (Result, error) {
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
	p := newPlan(groups)
	res := Result{Iterations: o.Iterations, Seed: o.Seed, Groups: len(groups), Factors: p.factors}
	if len(groups) == 0 {
		return res, nil
	}

	n := o.Iterations
	// Row 0 is the total, row k+1 category p.cats[k]; column i iteration i.
	vals := make([]float64, (len(p.cats)+1)*n)
	master := rand.New(rand.NewPCG(o.Seed, 0)) //nolint:gosec // a seeded, reproducible Monte Carlo, not a secret
	var seeds [chunks][2]uint64
	for c := range seeds {
		seeds[c] = [2]uint64{master.Uint64(), master.Uint64()}
	}
	var next atomic.Int32
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), chunks) {
		wg.Go(func() {
			z, m := make([]float64, p.factors), make([]float64, len(p.draws))
			for {
				c := int(next.Add(1)) - 1
				if c >= chunks {
					return
				}
				rng := rand.New(rand.NewPCG(seeds[c][0], seeds[c][1])) //nolint:gosec // as above
				p.run(rng, z, m, vals, n, c*n/chunks, (c+1)*n/chunks)
			}
		})
	}
	wg.Wait()

	ranges := make([]Range, len(p.cats)+1)
	for r := range ranges {
		row := vals[r*n : (r+1)*n]
		slices.Sort(row)
		ranges[r] = Range{P5: percentile(row, 0.05), P50: percentile(row, 0.5), P95: percentile(row, 0.95)}
	}
	res.Total = ranges[0]
	for k, c := range p.cats {
		res.Categories = append(res.Categories, CategoryRange{Category: c, Range: ranges[k+1]})
	}
	return res, nil
}

// plan is the merged groups laid out for the loop: one lognormal draw
// per (factor, sigma), shared by that pair's parts, one per category.
type plan struct {
	factors int
	cats    []int16 // ascending; a part's slot indexes it
	draws   []draw
	parts   []part  // by slot, then as merged
	runs    []int32 // parts[runs[k]:runs[k+1]] are slot k's
}

type draw struct {
	factor int32 // index of the factor's standard normal
	sigma  float64
}

type part struct {
	draw int32
	slot int32
	kg   float64
}

// newPlan sorts the groups, Kg last so that merged sums add in one order
// whatever the input's, and merges those of one (factor, sigma, category):
// fully correlated with one sigma, their sum is exactly one group's draw.
func newPlan(groups []Group) *plan {
	gs := slices.Clone(groups)
	slices.SortFunc(gs, func(a, b Group) int {
		return cmp.Or(strings.Compare(a.Factor, b.Factor), cmp.Compare(a.Sigma2, b.Sigma2),
			cmp.Compare(a.Category, b.Category), cmp.Compare(a.Kg, b.Kg))
	})
	p := &plan{}
	var present [16]bool
	for _, g := range gs {
		present[g.Category] = true
	}
	var slot [16]int32
	for c, ok := range present {
		if ok {
			slot[c] = int32(len(p.cats)) //nolint:gosec // at most 16 categories
			p.cats = append(p.cats, int16(c))
		}
	}
	for i, g := range gs {
		newFactor := i == 0 || g.Factor != gs[i-1].Factor
		if newFactor {
			p.factors++
		}
		if !newFactor && g.Sigma2 == gs[i-1].Sigma2 {
			if g.Category == gs[i-1].Category {
				p.parts[len(p.parts)-1].kg += g.Kg
				continue
			}
		} else {
			p.draws = append(p.draws, draw{factor: int32(p.factors - 1), sigma: math.Sqrt(g.Sigma2)}) //nolint:gosec // Simulate bounds the groups
		}
		p.parts = append(p.parts, part{draw: int32(len(p.draws) - 1), slot: slot[g.Category], kg: g.Kg}) //nolint:gosec // as above
	}
	slices.SortStableFunc(p.parts, func(a, b part) int { return cmp.Compare(a.slot, b.slot) })
	p.runs = make([]int32, len(p.cats)+1)
	for _, pt := range p.parts {
		p.runs[pt.slot+1]++
	}
	for k := range p.cats {
		p.runs[k+1] += p.runs[k]
	}
	return p
}

// run simulates iterations [from, to) into vals, z holding the standard
// normals and m the draws.
func (p *plan) run(rng *rand.Rand, z, m, vals []float64, n, from, to int) {
	for i := from; i < to; i++ {
		for f := range z {
			z[f] = rng.NormFloat64()
		}
		for d, dr := range p.draws {
			m[d] = dr.sigma * z[dr.factor]
		}
		expAll(m)
		total := 0.0
		for k := range p.cats {
			// Two sums, alternately, so that each add need not wait for
			// the one before.
			ps := p.parts[p.runs[k]:p.runs[k+1]]
			var a, b float64
			j := 0
			for ; j+1 < len(ps); j += 2 {
				a += ps[j].kg * m[ps[j].draw]
				b += ps[j+1].kg * m[ps[j+1].draw]
			}
			if j < len(ps) {
				a += ps[j].kg * m[ps[j].draw]
			}
			vals[(k+1)*n+i] = a + b
			total += a + b
		}
		vals[i] = total
	}
}

// percentile is Hyndman and Fan's definition 7 (R's and NumPy's default):
// linear between the order statistics around (n-1)p, of sorted x.
func percentile(x []float64, p float64) float64 {
	h := p * float64(len(x)-1)
	lo := int(h)
	if lo >= len(x)-1 {
		return x[len(x)-1]
	}
	return x[lo] + (h-float64(lo))*(x[lo+1]-x[lo])
}

package quality

import (
	"math"
	"math/rand/v2"
	"testing"
)

// expAll agrees with math.Exp to two units in the last place over the
// simulation's arguments and the rest of its range (each is within about
// one of the true value).
func TestExpAll(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 3))
	xs := make([]float64, 0, 1_100_020)
	for range 1_000_000 {
		xs = append(xs, rng.NormFloat64()*2)
	}
	for range 100_000 {
		xs = append(xs, (rng.Float64()*2-1)*maxExpArg)
	}
	xs = append(xs, 0, math.Copysign(0, -1), 1, -1, math.Ln2, 1e-300, -1e-300, 699.99, -699.99, 14.2*10, -14.2*10)
	got := append([]float64(nil), xs...)
	expAll(got)
	worst, at := 0.0, 0.0
	for i, x := range xs {
		want := math.Exp(x)
		ulp := math.Nextafter(want, math.Inf(1)) - want
		if d := math.Abs(got[i]-want) / ulp; d > worst || math.IsNaN(d) {
			worst, at = d, x
		}
	}
	if !(worst <= 2) {
		t.Errorf("expAll(%v) is %.2f units in the last place from math.Exp, want at most 2", at, worst)
	}
}

func BenchmarkExp(b *testing.B) {
	xs := make([]float64, 1024)
	rng := rand.New(rand.NewPCG(1, 1))
	for i := range xs {
		xs[i] = rng.NormFloat64() * 0.5
	}
	ys := make([]float64, len(xs))
	b.Run("math.Exp", func(b *testing.B) {
		for b.Loop() {
			for i, x := range xs {
				ys[i] = math.Exp(x)
			}
		}
	})
	b.Run("expAll", func(b *testing.B) {
		for b.Loop() {
			copy(ys, xs)
			expAll(ys)
		}
	})
}

package quality

import (
	"math"
	"math/big"
)

// The draws spend most of their time in exp(sigma*z), so they have their
// own: math.Exp handles every float64 and is not inlined, twice as slow on
// the small arguments drawn here. This is Tang's method, as musl's exp:
// e^x = 2^(k/expN) e^r, k the integer nearest x expN/ln 2, 2^(j/expN) from
// a table and e^r, |r| <= ln 2/(2 expN), from a polynomial.
const expN = 128

// exp2Table is 2^(j/expN) correctly rounded: 2^(1/expN) is the seventh
// square root of 2, and its powers are taken, in 200 bits.
var exp2Table = func() (t [expN]float64) {
	root := new(big.Float).SetPrec(200).SetInt64(2)
	for range 7 {
		root.Sqrt(root)
	}
	v := new(big.Float).SetPrec(200).SetInt64(1)
	for j := range t {
		t[j], _ = v.Float64()
		v.Mul(v, root)
	}
	return t
}()

const (
	invLn2N = expN / math.Ln2
	// ln 2/expN in two parts; hi has trailing zero bits, so k hi is exact.
	ln2HiN = 6.93147180369123816490e-01 / expN
	ln2LoN = 1.90821492927058770002e-10 / expN
	// maxExpArg bounds exp's argument: the result and 2^(k/expN) stay
	// normal numbers.
	maxExpArg = 700
)

// expAll replaces each x in xs, |x| < maxExpArg, by e^x, within two units
// in the last place of math.Exp's. A loop over a slice, as the draws use
// it, keeps the body inline.
func expAll(xs []float64) {
	for i, x := range xs {
		kd := math.RoundToEven(x * invLn2N)
		r := (x - kd*ln2HiN) - kd*ln2LoN
		k := int64(kd)
		t := exp2Table[k&(expN-1)]
		// e^r - 1 to r^5: |r| < 0.0028, so the rest is under 1e-18.
		y := t + t*(r+r*r*(1.0/2+r*(1.0/6+r*(1.0/24+r*(1.0/120)))))
		// Times 2^(k div expN), added to the exponent's bits.
		xs[i] = math.Float64frombits(math.Float64bits(y) + uint64(k>>7)<<52) //nolint:gosec // two's complement wraps as intended
	}
}

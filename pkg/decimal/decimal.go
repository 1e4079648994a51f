// Package decimal reads the exact decimal strings the contracts carry
// (kg CO2e, USD), for arithmetic with math/big.
package decimal

import (
	"fmt"
	"math/big"
	"strings"
)

// Parse reads a plain decimal ("-12.3400") and its scale (4); exponents and
// other forms big.Rat would accept are refused, as no service sends them.
func Parse(s string) (*big.Rat, int, error) {
	v, scale, err := ParseScaled(s)
	if err != nil {
		return nil, 0, err
	}
	return new(big.Rat).SetFrac(v, Pow10(scale)), scale, nil
}

// ParseScaled reads a plain decimal as Parse does, as its digits and scale:
// "-12.3400" is -123400 and 4. Arithmetic on such integers (products keep
// every digit, their scales add up) skips big.Rat's normalising.
func ParseScaled(s string) (*big.Int, int, error) {
	body := s
	if body != "" && (body[0] == '-' || body[0] == '+') {
		body = body[1:]
	}
	// One pass; up to 18 digits (an int64's) are summed as they are read,
	// several times faster than big.Int's SetString.
	var u int64
	digits, dot := 0, -1
	for i := range len(body) {
		switch c := body[i]; {
		case c >= '0' && c <= '9':
			digits++
			if digits <= 18 {
				u = u*10 + int64(c-'0')
			}
		case c == '.' && dot < 0:
			dot = i
		default:
			return nil, 0, fmt.Errorf("%q is not a decimal", s)
		}
	}
	if digits == 0 {
		return nil, 0, fmt.Errorf("%q is not a decimal", s)
	}
	scale := 0
	if dot >= 0 {
		scale = len(body) - dot - 1
	}
	v := big.NewInt(u)
	if digits > 18 {
		v.SetString(strings.Replace(body, ".", "", 1), 10) // digits only
	}
	if s[0] == '-' {
		v.Neg(v)
	}
	return v, scale, nil
}

// Round formats r with scale decimals, rounding half away from zero as
// PostgreSQL's round(numeric, scale) does, so that Go and SQL agree.
func Round(r *big.Rat, scale int) string {
	return FormatScaled(QuoRound(new(big.Int).Mul(r.Num(), Pow10(scale)), r.Denom()), scale)
}

// QuoRound is n / d, for d > 0, rounded half away from zero.
func QuoRound(n, d *big.Int) *big.Int {
	q, m := new(big.Int).QuoRem(n, d, new(big.Int))
	if m.Sign() != 0 && m.Abs(m).Lsh(m, 1).Cmp(d) >= 0 {
		q.Add(q, big.NewInt(int64(n.Sign())))
	}
	return q
}

// FormatScaled writes q x 10^-scale with scale decimals, as PostgreSQL
// writes a numeric of that scale: a zero is unsigned.
func FormatScaled(q *big.Int, scale int) string {
	digits := new(big.Int).Abs(q).String()
	if len(digits) <= scale {
		digits = strings.Repeat("0", scale-len(digits)+1) + digits
	}
	out := digits
	if scale > 0 {
		out = digits[:len(digits)-scale] + "." + digits[len(digits)-scale:]
	}
	if q.Sign() < 0 {
		return "-" + out
	}
	return out
}

// pow10s are 10^0 to 10^39, never written: rounding to a scale is hot
// (every converted amount, every calculated line).
var pow10s = func() []*big.Int {
	out := make([]*big.Int, 40)
	out[0] = big.NewInt(1)
	for i := 1; i < len(out); i++ {
		out[i] = new(big.Int).Mul(out[i-1], big.NewInt(10))
	}
	return out
}()

// Pow10 is 10^n; the caller must not modify it.
func Pow10(n int) *big.Int {
	if n < len(pow10s) {
		return pow10s[n]
	}
	return new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(n)), nil)
}

// Ratio is x / y rounded once to the nearest float64, ties to even: what
// big.Rat's Float64 gives for the quotient, without normalising it. y must
// not be zero.
func Ratio(x, y *big.Int) float64 {
	f, _ := new(big.Float).SetPrec(53).Quo(new(big.Float).SetInt(x), new(big.Float).SetInt(y)).Float64()
	return f
}

// Format writes r as a plain decimal with the fewest decimals that hold it
// exactly, when at most maxScale do (r's denominator divides 10^scale);
// otherwise rounded half away from zero to maxScale, and exact is false.
func Format(r *big.Rat, maxScale int) (s string, exact bool) {
	pow, ten := big.NewInt(1), big.NewInt(10)
	for scale := 0; scale <= maxScale; scale++ {
		if new(big.Int).Rem(pow, r.Denom()).Sign() == 0 {
			return Round(r, scale), true
		}
		pow.Mul(pow, ten)
	}
	return Round(r, maxScale), false
}

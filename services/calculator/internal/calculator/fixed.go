package calculator

import (
	"fmt"
	"math/big"

	"github.com/vcci-dev/vcci/pkg/decimal"
)

// fixed is an exact decimal, v x 10^-scale, as PostgreSQL's numeric holds
// one: products keep every digit (their scale is the sum of the factors'),
// with none of big.Rat's normalising by the greatest common divisor, which
// made most of a line's cost.
type fixed struct {
	v     *big.Int
	scale int
}

// parseFixed reads a plain decimal ("-12.3400": scale 4).
func parseFixed(s string) (fixed, error) {
	v, scale, err := decimal.ParseScaled(s)
	if err != nil {
		return fixed{}, fmt.Errorf("calculator: %w", err)
	}
	return fixed{v, scale}, nil
}

// optionalFixed is parseFixed, or nil for "".
func optionalFixed(s string) (*fixed, error) {
	if s == "" {
		return nil, nil
	}
	f, err := parseFixed(s)
	return &f, err
}

func (a fixed) mul(b fixed) fixed {
	return fixed{new(big.Int).Mul(a.v, b.v), a.scale + b.scale}
}

// text writes a at its scale, as numeric's text does: a zero is unsigned.
func (a fixed) text() string { return decimal.FormatScaled(a.v, a.scale) }

// round is a to scale decimals, half away from zero as PostgreSQL's
// round(numeric, scale).
func (a fixed) round(scale int) fixed {
	if scale >= a.scale {
		return fixed{new(big.Int).Mul(a.v, decimal.Pow10(scale-a.scale)), scale}
	}
	return fixed{decimal.QuoRound(a.v, decimal.Pow10(a.scale-scale)), scale}
}

// rat is a as a big.Rat.
func (a fixed) rat() *big.Rat {
	return new(big.Rat).SetFrac(a.v, decimal.Pow10(a.scale))
}

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
	body := s
	if body != "" && (body[0] == '-' || body[0] == '+') {
		body = body[1:]
	}
	whole, frac, _ := strings.Cut(body, ".")
	r, ok := new(big.Rat).SetString(s)
	if !ok || whole+frac == "" || strings.Trim(whole+frac, "0123456789") != "" {
		return nil, 0, fmt.Errorf("%q is not a decimal", s)
	}
	return r, len(frac), nil
}

package refdata

import (
	"github.com/vcci-dev/vcci/pkg/apperr"
	calculatorv1 "github.com/vcci-dev/vcci/pkg/gen/vcci/calculator/v1"
)

// protoBases are the contract's GWP bases; unspecified is "" (the tenant's).
var protoBases = map[calculatorv1.GwpBasis]Basis{calculatorv1.GwpBasis_GWP_BASIS_UNSPECIFIED: "",
	calculatorv1.GwpBasis_GWP_BASIS_AR4: AR4, calculatorv1.GwpBasis_GWP_BASIS_AR5: AR5, calculatorv1.GwpBasis_GWP_BASIS_AR6: AR6}

// BasisFromProto reads a request's GWP basis: unspecified is "" (the
// tenant's); a value the contract does not define is refused naming field.
func BasisFromProto(field string, b calculatorv1.GwpBasis) (Basis, error) {
	out, ok := protoBases[b]
	if !ok {
		return "", apperr.Invalid(field, "%d is not a GWP basis: want GWP_BASIS_AR4, GWP_BASIS_AR5 or GWP_BASIS_AR6", b)
	}
	return out, nil
}

// BasisProto is b's contract value; "" (or an unknown basis) is unspecified.
func BasisProto(b Basis) calculatorv1.GwpBasis {
	for k, v := range protoBases {
		if v == b {
			return k
		}
	}
	return calculatorv1.GwpBasis_GWP_BASIS_UNSPECIFIED
}

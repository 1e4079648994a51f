package reports

import (
	"cmp"
	"fmt"
	"math/big"
	"slices"
	"strconv"
	"strings"

	"github.com/vcci-dev/vcci/pkg/decimal"
	"github.com/vcci-dev/vcci/services/reporting/internal/document"
)

// Emissions are shown in t CO2e to 3 decimals (kg to 1 kg), shares in
// percent to 2: rounded half away from zero from the exact values.
const (
	tonneDecimals   = 3
	percentDecimals = 2
)

// The supplier-specific methods, as the calculator names them.
const (
	methodSupplierProduct = "supplier-product"
	methodSupplierCompany = "supplier-company"
)

// rat reads an exact decimal from a service (Build has checked them all);
// an empty one is zero.
func rat(s string) *big.Rat {
	if s == "" {
		return new(big.Rat)
	}
	r, _, err := decimal.Parse(s)
	if err != nil {
		return new(big.Rat)
	}
	return r
}

func isZero(s string) bool { return rat(s).Sign() == 0 }

var thousand = big.NewRat(1000, 1)

// tonnes converts kg to t CO2e; "" stays "" (nothing to show).
func tonnes(kg string) string {
	if kg == "" {
		return ""
	}
	return tonnesOf(rat(kg))
}

// textTonnes is tonnes for a sentence: with thousands separators, as a
// table cell shows it.
func textTonnes(kg string) string { return document.Thousands(tonnes(kg)) }

// count is n for a sentence, with thousands separators.
func count[T int | int32 | int64](n T) string {
	return document.Thousands(strconv.FormatInt(int64(n), 10))
}

func tonnesOf(kg *big.Rat) string {
	return decimal.Round(new(big.Rat).Quo(kg, thousand), tonneDecimals)
}

// percent is part of whole in percent, or "" when whole is not positive
// (a net total of credit notes has no meaningful shares).
func percent(part, whole *big.Rat) string {
	if whole.Sign() <= 0 {
		return ""
	}
	p := new(big.Rat).Quo(part, whole)
	return decimal.Round(p.Mul(p, big.NewRat(100, 1)), percentDecimals)
}

// float is a chart value from a cell's exact decimal.
func float(s string) float64 {
	f, _ := strconv.ParseFloat(s, 64)
	return f
}

func basisName(b string) string {
	if b == "" {
		return "not stated"
	}
	return "IPCC " + b + " GWP-100"
}

func isSupplierSpecific(method string) bool {
	return method == methodSupplierProduct || method == methodSupplierCompany
}

// byKg orders method shares largest first, ties by name.
func byKg(ms []MethodShare) []MethodShare {
	out := slices.Clone(ms)
	slices.SortStableFunc(out, func(a, b MethodShare) int {
		if c := rat(b.Kg).Cmp(rat(a.Kg)); c != 0 {
			return c
		}
		return cmp.Compare(a.Method, b.Method)
	})
	return out
}

// methodMix is "spend-based 80.00 %, supplier-company 20.00 %" of a total.
func methodMix(ms []MethodShare, totalKg string) string {
	total := rat(totalKg)
	parts := []string{}
	for _, m := range byKg(ms) {
		if p := percent(rat(m.Kg), total); p != "" {
			parts = append(parts, fmt.Sprintf("%s %s %%", m.Method, p))
		} else {
			parts = append(parts, m.Method)
		}
	}
	return strings.Join(parts, ", ")
}

// supplierShare is the percent of a total calculated from suppliers' own
// figures (product footprints and company intensities).
func supplierShare(ms []MethodShare, totalKg string) string {
	part := new(big.Rat)
	for _, m := range ms {
		if isSupplierSpecific(m.Method) {
			part.Add(part, rat(m.Kg))
		}
	}
	return percent(part, rat(totalKg))
}

// factorSetOf is "factorSets/{set}" of "factorSets/{set}/factors/{code}".
func factorSetOf(factor string) string {
	set, _, _ := strings.Cut(factor, "/factors/")
	return set
}

// rankedLines says which lines a Pareto ranks suppliers by.
func rankedLines(p Pareto) string {
	if p.PeriodStart == "" {
		return "by every stored line"
	}
	return fmt.Sprintf("by the lines dated %s to %s", p.PeriodStart, p.PeriodEnd)
}

// Package factors holds the factor libraries shipped with vcci: the US EPA
// Supply Chain GHG Emission Factors v1.3.0 by NAICS-6 for spend (see
// data/README.md for provenance and licence), with the Scope 3 category each
// code's spend is reported under, and the UK DESNZ 2024 conversion factors
// for activity data (pkg/refdata). Each factor carries its gases and its
// CO2e under every GWP basis.
package factors

import (
	"bytes"
	_ "embed"
	"encoding/csv"
	"fmt"
	"math/big"
	"strings"

	"github.com/vcci-dev/vcci/pkg/decimal"
	"github.com/vcci-dev/vcci/pkg/refdata"
)

//go:embed data/SupplyChainGHGEmissionFactors_v1.3.0_NAICS_CO2e_USD2022.csv
var epaCSV []byte

// Set describes a factor library version.
type Set struct {
	Name        string // "epa-supply-chain-v1.3.0"
	DisplayName string
	Publisher   string
	Version     string
	Unit        string
	Source      string
	Region      string // where the factors apply: "US"
	Year        int16  // the data year
	// PriceYear is the year whose dollars the factors are per: spend is
	// brought to them with CPI-U (pkg/refdata). 0 for activity factors.
	PriceYear int
	// GasUnit is what the factors' gas values are in: kg of the gas, or
	// kg CO2e of the gas under AR5 where the publisher gives that.
	GasUnit string
	Licence string
	Kind    Kind
	// Factors reads the set's factors.
	Factors func() ([]Factor, error)
}

// Gas units of factor sets.
const (
	GasKg        = "kg"
	GasKgCO2eAR5 = "kg CO2e (AR5)"
)

// Factor is one code's factor, value as an exact decimal string.
type Factor struct {
	Code     string
	Title    string
	Value    string // kg CO2e per unit under AR5, as published
	Category int16  // Scope 3, 1 to 15; 0: none by default (a line names it)
	Unit     string // "": the set's unit
	Region   string // "": the set's region
	Gases    []refdata.GasFactor
	// AR4 and AR6 are Value re-expressed under those bases (reexpress).
	AR4, AR6 string
}

// Shipped returns the sets vcci ships, loaded at every start.
func Shipped() []Set { return []Set{EPA(), DESNZ()} }

// EPA returns the default set.
func EPA() Set {
	return Set{
		Name:        "epa-supply-chain-v1.3.0",
		DisplayName: "US EPA Supply Chain GHG Emission Factors v1.3 by NAICS-6 (with margins)",
		Publisher:   "US EPA",
		Version:     "1.3.0",
		Unit:        "kg CO2e/2022 USD, purchaser price",
		Source:      "https://doi.org/10.23719/1531143 (public domain, US EPA ScienceHub licence); USEEIOv2.2.22-GHG, GHG data year 2022, IPCC AR5 GWP-100",
		Region:      "US",
		Year:        2022,
		PriceYear:   2022,
		GasUnit:     GasKg,
		Licence:     "Public domain (US EPA ScienceHub)",
		Kind:        KindSpend,
		Factors:     EPAFactors,
	}
}

// DESNZ is the activity set: UK Government GHG conversion factors for
// company reporting 2024. Each factor has its own unit.
func DESNZ() Set {
	return Set{
		Name:        "desnz-2024",
		DisplayName: "UK DESNZ GHG conversion factors for company reporting 2024 (full set v1.1)",
		Publisher:   "UK Department for Energy Security and Net Zero (DESNZ)",
		Version:     "1.1",
		Unit:        "kg CO2e per unit of activity (each factor's unit)",
		Source:      "https://www.gov.uk/government/publications/greenhouse-gas-reporting-conversion-factors-2024 (Open Government Licence v3.0); IPCC AR5 GWP-100",
		Region:      "GB",
		Year:        2024,
		GasUnit:     GasKgCO2eAR5,
		Licence:     "Open Government Licence v3.0",
		Kind:        KindActivity,
		Factors:     desnzFactors,
	}
}

func desnzFactors() ([]Factor, error) {
	set, err := refdata.DESNZ()
	if err != nil {
		return nil, fmt.Errorf("factors.DESNZ: %w", err)
	}
	all := set.All()
	out := make([]Factor, len(all))
	for i, a := range all {
		f := Factor{Code: a.Activity, Title: a.Description, Value: a.KgCO2e, Category: a.Category, Unit: a.Unit, Region: a.Region}
		for _, g := range []refdata.GasFactor{{Gas: "CO2", Value: a.KgCO2}, {Gas: "CH4", Value: a.KgCH4}, {Gas: "N2O", Value: a.KgN2O}} {
			if g.Value != "" {
				f.Gases = append(f.Gases, g)
			}
		}
		if err := Reexpress(&f, GasKgCO2eAR5); err != nil {
			return nil, fmt.Errorf("factors.DESNZ: %s: %w", a.Activity, err)
		}
		out[i] = f
	}
	return out, nil
}

// ReexpressScale is the most decimals a re-expressed value keeps: a DESNZ
// gas given in CO2e is scaled by a ratio of GWPs (27.9/28), which seldom
// ends.
const ReexpressScale = 12

// Reexpress sets f's CO2e under AR4 and AR6: the published AR5 value, plus,
// gas by gas, the change of GWP. A residue the gases do not explain (EPA's
// rounding of its by-gas file, "HFCs and PFCs, unspecified", a DESNZ total
// without a split) keeps its AR5 value under every basis.
//
//	gases in kg:            value + sum(kg x (GWP_b - GWP_AR5))
//	gases in kg CO2e (AR5): value + sum(co2e x (GWP_b / GWP_AR5 - 1))
func Reexpress(f *Factor, gasUnit string) error {
	t, err := refdata.GWPs()
	if err != nil {
		return fmt.Errorf("reexpress: %w", err)
	}
	v, _, err := decimal.Parse(f.Value)
	if err != nil {
		return fmt.Errorf("reexpress: %w", err)
	}
	for _, b := range []refdata.Basis{refdata.AR4, refdata.AR6} {
		sum := new(big.Rat).Set(v)
		for _, g := range f.Gases {
			amount, _, err := decimal.Parse(g.Value)
			if err != nil {
				return fmt.Errorf("reexpress: gas %s: %w", g.Gas, err)
			}
			gb, err := gwp(t, b, g.Gas)
			if err != nil {
				return err
			}
			g5, err := gwp(t, refdata.AR5, g.Gas)
			if err != nil {
				return err
			}
			if gasUnit == GasKg {
				amount.Mul(amount, gb.Sub(gb, g5))
			} else {
				amount.Mul(amount, gb.Quo(gb, g5).Sub(gb, big.NewRat(1, 1)))
			}
			sum.Add(sum, amount)
		}
		s, _ := decimal.Format(sum, ReexpressScale)
		if b == refdata.AR4 {
			f.AR4 = s
		} else {
			f.AR6 = s
		}
	}
	return nil
}

func gwp(t *refdata.GWPTable, b refdata.Basis, gas string) (*big.Rat, error) {
	s, err := t.GWP(b, gas)
	if err != nil {
		return nil, fmt.Errorf("reexpress: %w", err)
	}
	r, _, err := decimal.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("reexpress: GWP of %s: %w", gas, err)
	}
	return r, nil
}

// EPAFactors parses the embedded EPA file, taking the "with margins" factor,
// the one that matches spend at purchaser price.
func EPAFactors() ([]Factor, error) {
	r := csv.NewReader(bytes.NewReader(epaCSV))
	rows, err := r.ReadAll()
	if err != nil {
		return nil, fmt.Errorf("factors.EPAFactors: %w", err)
	}
	if len(rows) < 2 || rows[0][0] != "2017 NAICS Code" || rows[0][6] != "Supply Chain Emission Factors with Margins" {
		return nil, fmt.Errorf("factors.EPAFactors: unexpected header %q", rows[0])
	}
	gases, err := refdata.EPAGases()
	if err != nil {
		return nil, fmt.Errorf("factors.EPAFactors: %w", err)
	}
	const unit = "kg CO2e/2022 USD, purchaser price"
	out := make([]Factor, 0, len(rows)-1)
	for i, row := range rows[1:] {
		if len(row[0]) != 6 || row[3] != unit {
			return nil, fmt.Errorf("factors.EPAFactors: line %d: bad code %q or unit %q", i+2, row[0], row[3])
		}
		f := Factor{Code: row[0], Title: row[1], Value: row[6], Category: CategoryOf(row[0]), Gases: gases[row[0]]}
		if len(f.Gases) == 0 {
			return nil, fmt.Errorf("factors.EPAFactors: line %d: no by-gas factors for %s", i+2, row[0])
		}
		if err := Reexpress(&f, GasKg); err != nil {
			return nil, fmt.Errorf("factors.EPAFactors: %s: %w", row[0], err)
		}
		out = append(out, f)
	}
	return out, nil
}

// CategoryOf maps a NAICS-6 code to the Scope 3 category its purchases are
// reported under by default: travel and hotels (6), freight and warehousing
// (4), waste services (5), construction, machinery and vehicles (2, capital
// goods), real-estate leasing (8); everything else is purchased goods and
// services (1). Whether an item is capitalised is the tenant's accounting
// call; this is the common default.
func CategoryOf(code string) int16 {
	switch {
	case code == "481111" || code == "481211" || code == "482112" ||
		strings.HasPrefix(code, "4851") || strings.HasPrefix(code, "4852") || strings.HasPrefix(code, "4853") ||
		strings.HasPrefix(code, "4855") || strings.HasPrefix(code, "4859") || strings.HasPrefix(code, "7211"):
		return 6
	case strings.HasPrefix(code, "481") || strings.HasPrefix(code, "482") || strings.HasPrefix(code, "483") ||
		strings.HasPrefix(code, "484") || strings.HasPrefix(code, "486") || strings.HasPrefix(code, "488") ||
		strings.HasPrefix(code, "492") || strings.HasPrefix(code, "493"):
		return 4
	case strings.HasPrefix(code, "562"):
		return 5
	case strings.HasPrefix(code, "23") || strings.HasPrefix(code, "333") || strings.HasPrefix(code, "3361") ||
		strings.HasPrefix(code, "3362") || strings.HasPrefix(code, "3364") || strings.HasPrefix(code, "3365") ||
		strings.HasPrefix(code, "3366"):
		return 2
	case strings.HasPrefix(code, "531"):
		return 8
	}
	return 1
}

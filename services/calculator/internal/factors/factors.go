// Package factors holds the default factor library shipped with vcci: the US
// EPA Supply Chain GHG Emission Factors v1.3.0 by NAICS-6 (see data/README.md
// for provenance and licence), and the Scope 3 category each code's spend is
// reported under.
package factors

import (
	"bytes"
	_ "embed"
	"encoding/csv"
	"fmt"
	"strings"
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
	// brought to them with CPI-U (pkg/refdata).
	PriceYear int
}

// Factor is one code's factor, value as an exact decimal string.
type Factor struct {
	Code     string
	Title    string
	Value    string
	Category int16 // Scope 3, 1 to 15
}

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
	}
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
	unit := EPA().Unit
	out := make([]Factor, 0, len(rows)-1)
	for i, row := range rows[1:] {
		if len(row[0]) != 6 || row[3] != unit {
			return nil, fmt.Errorf("factors.EPAFactors: line %d: bad code %q or unit %q", i+2, row[0], row[3])
		}
		out = append(out, Factor{Code: row[0], Title: row[1], Value: row[6], Category: CategoryOf(row[0])})
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

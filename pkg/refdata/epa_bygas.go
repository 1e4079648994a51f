package refdata

import (
	"bytes"
	_ "embed"
	"encoding/csv"
	"fmt"
	"math/big"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/vcci-dev/vcci/pkg/decimal"
)

//go:embed data/epa_v1.3_bygas.csv
var epaByGasCSV []byte

// epaByGasHeader is the first line of the shipped by-gas file.
const epaByGasHeader = "code,gas,kg_per_usd"

// epaByGasSourceHeader is the EPA file's header, as published.
const epaByGasSourceHeader = "2017 NAICS Code,2017 NAICS Title,GHG,Unit,Supply Chain Emission Factors without Margins," +
	"Margins of Supply Chain Emission Factors,Supply Chain Emission Factors with Margins,Reference USEEIO Code"

// epaGases maps each gas name in EPA's by-gas file to vcci's id for it (the
// GWP source's species name), in the order vcci lists gases: CO2, CH4, N2O,
// then the rest by id. A name not here stops the generator: a new gas needs
// its GWPs before it can count.
var epaGases = []struct{ epa, id string }{
	{"Carbon dioxide", CO2},
	{"Methane", "CH4"},
	{"Nitrous oxide", "N2O"},
	{"Hexafluoroethane", "C2F6"},
	{"Perfluoropropane", "C3F8"},
	{"Perfluorobutane", "C4F10"},
	{"Perfluorohexane", "C6F14"},
	{"Carbon tetrafluoride", "CF4"},
	{"HFC-125", "HFC125"},
	{"HFC-134a", "HFC134a"},
	{"HFC-143a", "HFC143a"},
	{"HFC-23", "HFC23"},
	{"HFC-236fa", "HFC236fa"},
	{"HFC-32", "HFC32"},
	{"HFCs and PFCs, unspecified", HFCPFCUnspecifiedCO2e},
	{"Nitrogen trifluoride", "NF3"},
	{"Sulfur hexafluoride", "SF6"},
	{"Perfluorocyclobutane", "cC4F8"},
}

// The by-gas file's units: kg of the gas, except the unspecified HFCs and
// PFCs, which EPA gives in kg CO2e.
const (
	epaUnitKg   = "kg/2022 USD, purchaser price"
	epaUnitCO2e = "kg CO2e/2022 USD, purchaser price"
)

// ConvertEPAByGas turns EPA's by-gas file (Supply Chain GHG Emission Factors
// v1.3.0, NAICS-6, byGHG, USD 2022) into the shipped one: each code's "with
// margins" factor for each gas, by code and then in Gases order, written as
// a plain decimal with the digits EPA published (4.57e-09 becomes
// 0.00000000457), so the last digit still shows the published precision.
func ConvertEPAByGas(src []byte) ([]byte, error) {
	rows, err := csv.NewReader(bytes.NewReader(src)).ReadAll()
	if err != nil {
		return nil, fmt.Errorf("refdata.ConvertEPAByGas: %w", err)
	}
	if len(rows) < 2 || strings.Join(rows[0], ",") != epaByGasSourceHeader {
		return nil, fmt.Errorf("refdata.ConvertEPAByGas: unexpected header %q", rows[0])
	}
	gasIndex := make(map[string]int, len(epaGases))
	for i, g := range epaGases {
		gasIndex[g.epa] = i
	}
	byCode := make(map[string][]string)
	for i, r := range rows[1:] {
		line := i + 2
		code, gas, unit := r[0], r[2], r[3]
		g, ok := gasIndex[gas]
		if !ok {
			return nil, fmt.Errorf("refdata.ConvertEPAByGas: line %d: gas %q has no id", line, gas)
		}
		if want := epaUnit(epaGases[g].id); unit != want {
			return nil, fmt.Errorf("refdata.ConvertEPAByGas: line %d: unit %q, want %q", line, unit, want)
		}
		if len(code) != 6 || strings.Trim(code, "0123456789") != "" {
			return nil, fmt.Errorf("refdata.ConvertEPAByGas: line %d: code %q is not six digits", line, code)
		}
		v, err := plainDecimal(r[6])
		if err != nil {
			return nil, fmt.Errorf("refdata.ConvertEPAByGas: line %d: %w", line, err)
		}
		if byCode[code] == nil {
			byCode[code] = make([]string, len(epaGases))
		}
		if byCode[code][g] != "" {
			return nil, fmt.Errorf("refdata.ConvertEPAByGas: line %d: code %s has %s twice", line, code, gas)
		}
		byCode[code][g] = v
	}
	codes := make([]string, 0, len(byCode))
	for c := range byCode {
		codes = append(codes, c)
	}
	slices.Sort(codes)
	var b bytes.Buffer
	b.WriteString(epaByGasHeader + "\n")
	for _, c := range codes {
		for g, v := range byCode[c] {
			if v == "" {
				return nil, fmt.Errorf("refdata.ConvertEPAByGas: code %s has no %s", c, epaGases[g].epa)
			}
			fmt.Fprintf(&b, "%s,%s,%s\n", c, epaGases[g].id, v)
		}
	}
	return b.Bytes(), nil
}

func epaUnit(gas string) string {
	if gas == HFCPFCUnspecifiedCO2e {
		return epaUnitCO2e
	}
	return epaUnitKg
}

// sciNumber is a decimal with an optional exponent; group 1 is the
// fraction with its point, group 2 the exponent.
var sciNumber = regexp.MustCompile(`^[+-]?\d+(\.\d+)?(?:[eE]([+-]?\d{1,4}))?$`)

// plainDecimal rewrites a number in scientific notation as a plain decimal
// with the same digits. big.Rat reads the exponent exactly, without a
// float64 on the way, and the scale keeps trailing zeros EPA published.
func plainDecimal(s string) (string, error) {
	m := sciNumber.FindStringSubmatch(s)
	r, ok := new(big.Rat).SetString(s)
	if m == nil || !ok {
		return "", fmt.Errorf("%q is not a number", s)
	}
	exp := 0
	if m[2] != "" {
		exp, _ = strconv.Atoi(m[2]) // four digits at most: fits
	}
	return decimal.Round(r, max(0, len(strings.TrimPrefix(m[1], "."))-exp)), nil
}

// GasFactor is one gas's factor for a code: kg of the gas per 2022 USD at
// purchaser price, an exact decimal (for HFCPFCUnspecifiedCO2e, kg CO2e).
type GasFactor struct{ Gas, Value string }

// EPAGases returns EPA v1.3's by-gas factors by NAICS-6 code, each code's
// gases in Gases order, read once. The map is shared: do not modify it.
var EPAGases = sync.OnceValues(func() (map[string][]GasFactor, error) { return parseEPAByGas(epaByGasCSV) })

func parseEPAByGas(b []byte) (map[string][]GasFactor, error) {
	rows, err := readShipped("EPA by-gas", b, epaByGasHeader)
	if err != nil {
		return nil, err
	}
	out := make(map[string][]GasFactor, (len(rows)-1)/len(epaGases))
	for _, r := range rows[1:] {
		if out[r[0]] == nil {
			out[r[0]] = make([]GasFactor, 0, len(epaGases))
		}
		out[r[0]] = append(out[r[0]], GasFactor{Gas: r[1], Value: r[2]})
	}
	return out, nil
}

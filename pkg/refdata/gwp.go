package refdata

import (
	"bytes"
	_ "embed"
	"encoding/csv"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"sync"

	"github.com/vcci-dev/vcci/pkg/decimal"
)

//go:embed data/gwp.csv
var gwpCSV []byte

// gwpHeader is the first line of the shipped GWP file.
const gwpHeader = "gas,ar4,ar5,ar6"

// Basis is the IPCC assessment report whose 100-year global warming
// potentials turn kg of a gas into kg CO2e.
type Basis string

// The bases vcci offers.
const (
	AR4 Basis = "AR4"
	AR5 Basis = "AR5"
	AR6 Basis = "AR6"
)

// bases are in the shipped file's column order; sourceColumn names each
// one's column in the source file.
var bases = []struct {
	basis        Basis
	sourceColumn string
}{{AR4, "AR4GWP100"}, {AR5, "AR5GWP100"}, {AR6, "AR6GWP100"}}

// CO2 is the reference gas: its GWP is 1 by definition, so the source does
// not list it.
const CO2 = "CO2"

// HFCPFCUnspecifiedCO2e is EPA's "HFCs and PFCs, unspecified": EPA gives it
// in kg CO2e (AR5) already, with no split by gas, so it cannot be
// re-expressed under another basis. Its GWP is 1 under every basis, which
// keeps it at its AR5 value; a result under AR4 or AR6 should say so.
const HFCPFCUnspecifiedCO2e = "HFC_PFC_UNSPECIFIED_CO2E"

var (
	// ErrUnknownBasis is a basis other than AR4, AR5 or AR6.
	ErrUnknownBasis = errors.New("unknown GWP basis")
	// ErrUnknownGas is a gas id the GWP table does not hold.
	ErrUnknownGas = errors.New("unknown gas")
)

// ParseBasis reads "AR4", "AR5" or "AR6", in any case.
func ParseBasis(s string) (Basis, error) {
	for _, b := range bases {
		if strings.EqualFold(s, string(b.basis)) {
			return b.basis, nil
		}
	}
	return "", fmt.Errorf("%w %q: want AR4, AR5 or AR6", ErrUnknownBasis, s)
}

// ConvertGWP turns the source file (openclimatedata globalwarmingpotentials
// .csv) into the shipped one: the GWP-100 of every gas vcci uses (those the
// EPA by-gas factors name), under AR4, AR5 and AR6, as published. A gas
// without a value under one of them is an error, not a zero, as a zero would
// silently drop the gas from a total.
func ConvertGWP(src []byte) ([]byte, error) {
	r := csv.NewReader(bytes.NewReader(src))
	r.Comment = '#'
	rows, err := r.ReadAll()
	if err != nil {
		return nil, fmt.Errorf("refdata.ConvertGWP: %w", err)
	}
	if len(rows) < 2 || rows[0][0] != "Species" {
		return nil, errors.New("refdata.ConvertGWP: no data or a header not starting with Species")
	}
	cols := make([]int, len(bases))
	for i, b := range bases {
		cols[i] = indexOf(rows[0], b.sourceColumn)
		if cols[i] < 0 {
			return nil, fmt.Errorf("refdata.ConvertGWP: no column %s", b.sourceColumn)
		}
	}
	species := make(map[string][]string, len(rows)-1)
	for _, row := range rows[1:] {
		if _, dup := species[row[0]]; dup {
			return nil, fmt.Errorf("refdata.ConvertGWP: species %s is listed twice", row[0])
		}
		species[row[0]] = row
	}
	var b bytes.Buffer
	b.WriteString(gwpHeader + "\n")
	for _, g := range epaGases {
		b.WriteString(g.id)
		if g.id == CO2 || g.id == HFCPFCUnspecifiedCO2e {
			b.WriteString(strings.Repeat(",1", len(bases)) + "\n")
			continue
		}
		row, ok := species[g.id]
		if !ok {
			return nil, fmt.Errorf("refdata.ConvertGWP: species %s (EPA's %q) is not listed", g.id, g.epa)
		}
		for i, col := range cols {
			if v, _, err := decimal.Parse(row[col]); err != nil || v.Sign() <= 0 {
				return nil, fmt.Errorf("refdata.ConvertGWP: species %s: %s %q is not a positive decimal", g.id, bases[i].sourceColumn, row[col])
			}
			b.WriteString("," + row[col])
		}
		b.WriteString("\n")
	}
	return b.Bytes(), nil
}

func indexOf(s []string, v string) int {
	for i, x := range s {
		if x == v {
			return i
		}
	}
	return -1
}

// GWPTable holds the GWP-100 of each gas vcci uses under each basis.
type GWPTable struct {
	gases []string
	gwp   map[Basis]map[string]string
}

// GWPs returns the shipped GWP table, read once.
var GWPs = sync.OnceValues(func() (*GWPTable, error) { return parseGWP(gwpCSV) })

func parseGWP(b []byte) (*GWPTable, error) {
	rows, err := readShipped("GWP", b, gwpHeader)
	if err != nil {
		return nil, err
	}
	t := &GWPTable{gwp: make(map[Basis]map[string]string, len(bases))}
	for _, b := range bases {
		t.gwp[b.basis] = make(map[string]string, len(rows)-1)
	}
	for _, r := range rows[1:] {
		t.gases = append(t.gases, r[0])
		for i, b := range bases {
			t.gwp[b.basis][r[0]] = r[i+1]
		}
	}
	return t, nil
}

// GWP is gas's GWP-100 under b, an exact decimal as published.
func (t *GWPTable) GWP(b Basis, gas string) (string, error) {
	m, ok := t.gwp[b]
	if !ok {
		return "", fmt.Errorf("%w %q: want AR4, AR5 or AR6", ErrUnknownBasis, b)
	}
	v, ok := m[gas]
	if !ok {
		return "", fmt.Errorf("%w %q: the GWP table has %s", ErrUnknownGas, gas, strings.Join(t.gases, ", "))
	}
	return v, nil
}

// Gases lists the table's gas ids: CO2, CH4 and N2O, then the rest sorted.
func (t *GWPTable) Gases() []string { return append([]string(nil), t.gases...) }

// CO2e sums each gas's kg times its GWP under b, exactly, and writes the
// sum with as many decimals as it has and no more.
func CO2e(t *GWPTable, b Basis, gases []GasFactor) (string, error) {
	sum := new(big.Rat)
	for _, g := range gases {
		gwp, err := t.GWP(b, g.Gas)
		if err != nil {
			return "", fmt.Errorf("refdata.CO2e: %w", err)
		}
		kg, _, err := decimal.Parse(g.Value)
		if err != nil {
			return "", fmt.Errorf("refdata.CO2e: gas %s: %w", g.Gas, err)
		}
		w, _, err := decimal.Parse(gwp)
		if err != nil {
			return "", fmt.Errorf("refdata.CO2e: GWP of %s: %w", g.Gas, err)
		}
		sum.Add(sum, kg.Mul(kg, w))
	}
	return exact(sum), nil
}

// exact writes r, made of decimals by sums and products, as a plain
// decimal with the fewest decimals that hold it.
func exact(r *big.Rat) string {
	s, _ := decimal.Format(r, 1<<10)
	return s
}

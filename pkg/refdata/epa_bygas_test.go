package refdata_test

import (
	"bytes"
	"encoding/csv"
	"math/big"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/vcci-dev/vcci/pkg/decimal"
	"github.com/vcci-dev/vcci/pkg/refdata"
)

const epaByGasSource = "SupplyChainGHGEmissionFactors_v1.3.0_NAICS_byGHG_USD2022.csv"

// The calculator's CO2e file, in the repository (another module, so read as
// a file): the factors the by-gas ones must add up to.
const epaCO2eFile = "../../services/calculator/internal/factors/data/SupplyChainGHGEmissionFactors_v1.3.0_NAICS_CO2e_USD2022.csv"

// soybeans is the by-gas source's header and its 18 rows for 111110, and
// hfc23 the row a test changes.
func soybeans(t *testing.T) (src, hfc23 string) {
	t.Helper()
	lines := strings.SplitAfter(string(readSource(t, epaByGasSource)), "\n")
	src = strings.Join(lines[:19], "")
	hfc23 = `111110,"Soybean Farming","HFC-23","kg/2022 USD, purchaser price","3.23e-09","1.34e-09","4.57e-09","1111A0"` + "\r\n" // the source has CRLF line ends
	if !strings.Contains(src, hfc23) || strings.Count(src, "\n111110,") != 18 {
		t.Fatal("the source's first rows are not as this test expects")
	}
	return src, hfc23
}

func TestConvertEPAByGasWritesPlainDecimals(t *testing.T) {
	src, _ := soybeans(t)
	for in, want := range map[string]string{
		"4.57e-09": "0.00000000457",
		"1.72e-01": "0.172",
		"1.30E-03": "0.00130", // the published third digit stays
		"3.86e+00": "3.86",
		"1.25e+01": "12.5",
		"1.20e+03": "1200",
		"0.00e+00": "0.00",
		"-2.5e-01": "-0.25",
		"7":        "7",
	} {
		out, err := refdata.ConvertEPAByGas([]byte(strings.Replace(src, `"4.57e-09"`, `"`+in+`"`, 1)))
		if line := "\n111110,HFC23," + want + "\n"; err != nil || !strings.Contains(string(out), line) {
			t.Errorf("%s: %v; want a line %q in\n%s", in, err, line, out)
		}
	}
	for _, in := range []string{"", "e-09", "4.57e", "4.57e-0.9", "4,57e-09", "4.57 e-09", ".5", "NaN", "Inf", "0x1p-3", "1e99999"} {
		if _, err := refdata.ConvertEPAByGas([]byte(strings.Replace(src, `"4.57e-09"`, `"`+in+`"`, 1))); err == nil {
			t.Errorf("%q: converted", in)
		}
	}
}

func TestConvertEPAByGasRefusesBadSource(t *testing.T) {
	src, hfc23 := soybeans(t)
	assertRefuses(t, refdata.ConvertEPAByGas, src, map[string]string{
		"unknown gas":  strings.Replace(src, `"HFC-23"`, `"HFC-24"`, 1),
		"kg, not CO2e": strings.Replace(src, `"HFCs and PFCs, unspecified","kg CO2e/`, `"HFCs and PFCs, unspecified","kg/`, 1),
		"CO2e, not kg": strings.Replace(src, hfc23, strings.Replace(hfc23, `"kg/`, `"kg CO2e/`, 1), 1),
		"missing gas":  strings.Replace(src, hfc23, "", 1),
		"twice":        strings.Replace(src, hfc23, hfc23+hfc23, 1),
		"short code":   strings.Replace(src, hfc23, "11111"+hfc23[6:], 1),
		"header":       strings.Replace(src, "with Margins", "incl. Margins", 1),
	})
}

// Every gas EPA names maps to an id with GWPs, and every code has them all.
func TestEPAGases(t *testing.T) {
	rows, err := csv.NewReader(bytes.NewReader(readSource(t, epaByGasSource))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, r := range rows[1:] {
		names[r[2]] = true
	}
	if len(names) != 18 {
		t.Fatalf("the source names %d gases, want 18: %v", len(names), names)
	}
	byCode, err := refdata.EPAGases()
	if err != nil {
		t.Fatal(err)
	}
	if len(byCode) != 1016 {
		t.Fatalf("%d codes, want 1016", len(byCode))
	}
	gases := gwpTable(t).Gases()
	for code, fs := range byCode {
		ids := make([]string, len(fs))
		for i, f := range fs {
			ids[i] = f.Gas
		}
		if !slices.Equal(ids, gases) {
			t.Fatalf("%s has gases %v, want %v", code, ids, gases)
		}
	}
	// Read by hand from the source's "with margins" column.
	for _, c := range []struct{ code, gas, want string }{
		{"111110", "CO2", "0.172"},
		{"111110", "HFC23", "0.00000000457"},
		{"111110", refdata.HFCPFCUnspecifiedCO2e, "0.000844"},
		{"327310", "CO2", "3.86"},
		{"327310", "CH4", "0.00198"},
		{"327310", "N2O", "0.0000355"},
		{"327310", "SF6", "0.0000000269"},
	} {
		i := slices.Index(gases, c.gas)
		if got := byCode[c.code][i]; got.Gas != c.gas || got.Value != c.want {
			t.Errorf("%s %s = %+v, want %s", c.code, c.gas, got, c.want)
		}
	}
}

// EPA's CO2e factors are the AR5 sums of its by-gas ones, computed before
// either file was rounded; the sums of the rounded by-gas factors must
// come back within what the rounding can account for, for every code.
func TestEPAGasesReproduceCO2e(t *testing.T) {
	b, err := os.ReadFile(epaCO2eFile)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	tab := gwpTable(t)
	byCode, err := refdata.EPAGases()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows)-1 != len(byCode) {
		t.Fatalf("the CO2e file has %d codes, the by-gas one %d", len(rows)-1, len(byCode))
	}
	var (
		equal                  int
		maxAbs, maxRel         = new(big.Rat), new(big.Rat)
		maxAbsCode, maxRelCode string
	)
	for _, r := range rows[1:] {
		code, want := r[0], rat(t, r[6])
		fs, ok := byCode[code]
		if !ok {
			t.Fatalf("%s has no by-gas factors", code)
		}
		s, err := refdata.CO2e(tab, refdata.AR5, fs)
		if err != nil {
			t.Fatal(err)
		}
		sum := rat(t, s)
		// The bound: half a unit of the CO2e file's third decimal, plus
		// half a unit of each by-gas factor's last published digit (its
		// third significant one) times that gas's GWP.
		bound := big.NewRat(5, 10000)
		for _, f := range fs {
			_, scale, err := decimal.Parse(f.Value)
			if err != nil {
				t.Fatal(err)
			}
			half := new(big.Rat).SetFrac(big.NewInt(5), new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(scale+1)), nil))
			gwp, err := tab.GWP(refdata.AR5, f.Gas)
			if err != nil {
				t.Fatal(err)
			}
			bound.Add(bound, half.Mul(half, rat(t, gwp)))
		}
		diff := new(big.Rat).Sub(sum, want)
		diff.Abs(diff)
		if diff.Cmp(bound) > 0 {
			t.Errorf("%s: the AR5 sum %s is %s from the CO2e factor %s, more than rounding allows (%s)", code, s, diff.FloatString(5), r[6], bound.FloatString(5))
		}
		if decimal.Round(sum, 3) == want.FloatString(3) {
			equal++
		}
		if diff.Cmp(maxAbs) > 0 {
			maxAbs, maxAbsCode = diff, code
		}
		if rel := new(big.Rat).Quo(diff, want); rel.Cmp(maxRel) > 0 {
			maxRel, maxRelCode = rel, code
		}
	}
	// The comparison's own figures, pinned, so that a change to either
	// file, the GWPs or the sum shows here even within the bound.
	if equal != 841 {
		t.Errorf("%d codes equal at 3 decimals, want 841", equal)
	}
	if got := decimal.Round(maxAbs, 4); got != "0.0043" || maxAbsCode != "327310" {
		t.Errorf("largest absolute difference %s kg/USD at %s, want 0.0043 at 327310", got, maxAbsCode)
	}
	if got := decimal.Round(maxRel.Mul(maxRel, big.NewRat(100, 1)), 2); got != "1.10" || maxRelCode != "524114" {
		t.Errorf("largest relative difference %s%% at %s, want 1.10%% at 524114", got, maxRelCode)
	}
}

func rat(t *testing.T, s string) *big.Rat {
	t.Helper()
	r, _, err := decimal.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

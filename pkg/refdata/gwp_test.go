package refdata_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/vcci-dev/vcci/pkg/decimal"
	"github.com/vcci-dev/vcci/pkg/refdata"
)

func gwpTable(t *testing.T) *refdata.GWPTable {
	t.Helper()
	tab, err := refdata.GWPs()
	if err != nil {
		t.Fatal(err)
	}
	return tab
}

func TestParseBasis(t *testing.T) {
	for in, want := range map[string]refdata.Basis{"AR4": refdata.AR4, "ar5": refdata.AR5, "Ar6": refdata.AR6} {
		if b, err := refdata.ParseBasis(in); err != nil || b != want {
			t.Errorf("ParseBasis(%q) = %q, %v; want %s", in, b, err, want)
		}
	}
	for _, in := range []string{"", "AR3", "SAR", "AR5 ", "AR5GWP100", "5"} {
		_, err := refdata.ParseBasis(in)
		if !errors.Is(err, refdata.ErrUnknownBasis) || !strings.Contains(err.Error(), "AR4, AR5 or AR6") {
			t.Errorf("ParseBasis(%q) = %v; want ErrUnknownBasis naming the accepted values", in, err)
		}
	}
}

func TestGWPs(t *testing.T) {
	tab := gwpTable(t)
	wantGases := []string{"CO2", "CH4", "N2O", "C2F6", "C3F8", "C4F10", "C6F14", "CF4", "HFC125", "HFC134a",
		"HFC143a", "HFC23", "HFC236fa", "HFC32", refdata.HFCPFCUnspecifiedCO2e, "NF3", "SF6", "cC4F8"}
	if got := tab.Gases(); !slices.Equal(got, wantGases) {
		t.Fatalf("Gases() = %v, want %v", got, wantGases)
	}
	if !slices.IsSorted(wantGases[3:]) {
		t.Fatal("the gases after CO2, CH4 and N2O are not sorted")
	}
	// Read by hand from data/source/globalwarmingpotentials.csv.
	for _, c := range []struct {
		gas           string
		ar4, ar5, ar6 string
	}{
		{"CO2", "1", "1", "1"},
		{"CH4", "25", "28", "27.9"},
		{"N2O", "298", "265", "273"},
		{"SF6", "22800", "23500", "25200"},
		{"NF3", "17200", "16100", "17400"},
		{"HFC23", "14800", "12400", "14600"},
		{"HFC32", "675", "677", "771"},
		{"cC4F8", "10300", "9540", "10200"},
		{refdata.HFCPFCUnspecifiedCO2e, "1", "1", "1"},
	} {
		for b, want := range map[refdata.Basis]string{refdata.AR4: c.ar4, refdata.AR5: c.ar5, refdata.AR6: c.ar6} {
			if got, err := tab.GWP(b, c.gas); err != nil || got != want {
				t.Errorf("GWP(%s, %s) = %q, %v; want %s", b, c.gas, got, err, want)
			}
		}
	}
	for _, gas := range tab.Gases() {
		for _, b := range []refdata.Basis{refdata.AR4, refdata.AR5, refdata.AR6} {
			v, err := tab.GWP(b, gas)
			if err != nil {
				t.Fatal(err)
			}
			if r, _, err := decimal.Parse(v); err != nil || r.Sign() <= 0 {
				t.Errorf("GWP(%s, %s) = %q, not a positive decimal", b, gas, v)
			}
		}
	}
}

func TestGWPRefusesUnknown(t *testing.T) {
	tab := gwpTable(t)
	// CFC11 has GWPs in the source but EPA names no such gas: not shipped.
	if _, err := tab.GWP(refdata.AR5, "CFC11"); !errors.Is(err, refdata.ErrUnknownGas) || !strings.Contains(err.Error(), `"CFC11"`) {
		t.Errorf("GWP(AR5, CFC11) = %v; want ErrUnknownGas naming it", err)
	}
	if _, err := tab.GWP(refdata.AR5, "Methane"); !errors.Is(err, refdata.ErrUnknownGas) {
		t.Errorf("GWP(AR5, Methane) = %v; want ErrUnknownGas: ids, not EPA's names", err)
	}
	if _, err := tab.GWP("AR7", "CO2"); !errors.Is(err, refdata.ErrUnknownBasis) {
		t.Errorf("GWP(AR7, CO2) = %v; want ErrUnknownBasis", err)
	}
}

func TestConvertGWPRefusesBadSource(t *testing.T) {
	src := string(readSource(t, "globalwarmingpotentials.csv"))
	const sf6 = "SF6,23900,22200,22800,23500,26087,25200,15100,18300,32400,34100,30600\n"
	if !strings.Contains(src, sf6) {
		t.Fatal("the source's SF6 row is not as this test expects")
	}
	assertRefuses(t, refdata.ConvertGWP, src, map[string]string{
		// A gas vcci uses with no value under a basis is refused, not zero.
		"empty AR6":   strings.Replace(src, sf6, "SF6,23900,22200,22800,23500,26087,,15100,18300,32400,34100,30600\n", 1),
		"not numeric": strings.Replace(src, sf6, "SF6,23900,22200,22800,n/a,26087,25200,15100,18300,32400,34100,30600\n", 1),
		"zero":        strings.Replace(src, sf6, "SF6,23900,22200,0,23500,26087,25200,15100,18300,32400,34100,30600\n", 1),
		"missing gas": strings.Replace(src, sf6, "", 1),
		"twice":       strings.Replace(src, sf6, sf6+sf6, 1),
		"no column":   strings.Replace(src, ",AR6GWP100,", ",AR6GWP100x,", 1),
	})
}

func TestCO2e(t *testing.T) {
	tab := gwpTable(t)
	ch4n2o := []refdata.GasFactor{{Gas: "CH4", Value: "0.000482"}, {Gas: "N2O", Value: "0.00130"}}
	for _, c := range []struct {
		basis refdata.Basis
		gases []refdata.GasFactor
		want  string
	}{
		{refdata.AR5, ch4n2o, "0.357996"},  // 0.000482 x 28 + 0.00130 x 265
		{refdata.AR6, ch4n2o, "0.3683478"}, // 0.000482 x 27.9 + 0.00130 x 273
		{refdata.AR4, ch4n2o, "0.39945"},   // 0.000482 x 25 + 0.00130 x 298
		{refdata.AR5, []refdata.GasFactor{{Gas: "CO2", Value: "0.170"}}, "0.17"},
		{refdata.AR6, []refdata.GasFactor{{Gas: refdata.HFCPFCUnspecifiedCO2e, Value: "0.000844"}}, "0.000844"},
		{refdata.AR5, []refdata.GasFactor{{Gas: "SF6", Value: "2"}}, "47000"},
		{refdata.AR5, nil, "0"},
	} {
		if got, err := refdata.CO2e(tab, c.basis, c.gases); err != nil || got != c.want {
			t.Errorf("CO2e(%s, %v) = %q, %v; want %s", c.basis, c.gases, got, err, c.want)
		}
	}
	if _, err := refdata.CO2e(tab, refdata.AR5, []refdata.GasFactor{{Gas: "CO2", Value: "1"}, {Gas: "XYZ", Value: "1"}}); !errors.Is(err, refdata.ErrUnknownGas) {
		t.Errorf("CO2e with an unknown gas = %v; want ErrUnknownGas", err)
	}
	if _, err := refdata.CO2e(tab, refdata.AR5, []refdata.GasFactor{{Gas: "CO2", Value: "1e-3"}}); err == nil {
		t.Error("CO2e took a value in scientific notation")
	}
}

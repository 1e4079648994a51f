package refdata_test

import (
	"errors"
	"math/big"
	"strings"
	"testing"

	"github.com/vcci-dev/vcci/pkg/refdata"
)

func TestFX(t *testing.T) {
	fx, err := refdata.FX()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ cur, month, rate, amount, usd string }{
		// The data's README: 100 EUR in 2024-06 = 107.631 USD.
		{"EUR", "2024-06", "0.9291", "100", "107.6310"},
		{"GBP", "2024-06", "0.7864", "-250.50", "-318.5402"},
		{"JPY", "2024-06", "157.8600", "1000000", "6334.7270"},
		{"DEM", "2001-12", "2.1946", "10", "4.5566"}, // the last month before the euro
		{"AUD", "1971-01", "0.8944", "1", "1.1181"},
	} {
		r, err := fx.Rate(c.cur, month(c.month))
		if err != nil || r.UnitsPerUSD != c.rate || r.Currency != c.cur || r.Month.Format("2006-01") != c.month {
			t.Errorf("Rate(%s, %s) = %+v, %v; want %s", c.cur, c.month, r, err, c.rate)
			continue
		}
		a, _ := new(big.Rat).SetString(c.amount)
		if got := r.ToUSD(a); got != c.usd {
			t.Errorf("%s %s in %s = %s USD, want %s", c.amount, c.cur, c.month, got, c.usd)
		}
	}
	for _, c := range []struct {
		cur, month string
		want       error
		text       string
	}{
		{"XYZ", "2024-06", refdata.ErrUnknownCurrency, `unknown currency "XYZ"`},
		{"VES", "2024-06", refdata.ErrUnknownCurrency, `unknown currency "VES"`}, // left out on purpose
		{"EUR", "2026-07", refdata.ErrNoRate, "no FX rate for EUR in 2026-07: the series covers 1999-01 to 2026-06"},
		{"DEM", "2002-01", refdata.ErrNoRate, "no FX rate for DEM in 2002-01: the series covers 1971-01 to 2001-12"},
	} {
		_, err := fx.Rate(c.cur, month(c.month))
		if !errors.Is(err, c.want) || !strings.HasPrefix(err.Error(), c.text) {
			t.Errorf("Rate(%s, %s) = %v, want %v starting %q", c.cur, c.month, err, c.want, c.text)
		}
	}
	cs := fx.Currencies()
	if len(cs) != 34 || cs[0] != "ATS" || !strings.Contains(strings.Join(cs, " "), "USD") {
		t.Fatalf("Currencies = %v", cs)
	}
}

func TestConvertFXRefusesBadSource(t *testing.T) {
	for name, src := range map[string]string{
		"header":         "Date,Country,Rate\n2022-01-01,Euro,0.9\n",
		"unmapped":       "Date,Country,Exchange rate\n2022-01-01,Atlantis,0.9\n",
		"not a month":    "Date,Country,Exchange rate\n2022-01-15,Euro,0.9\n",
		"not a number":   "Date,Country,Exchange rate\n2022-01-01,Euro,n/a\n",
		"not positive":   "Date,Country,Exchange rate\n2022-01-01,Euro,0\n",
		"month repeated": "Date,Country,Exchange rate\n2022-01-01,Euro,0.9\n2022-01-01,Euro,0.8\n",
	} {
		if _, err := refdata.ConvertFX([]byte(src)); err == nil {
			t.Errorf("%s: converted", name)
		}
	}
}

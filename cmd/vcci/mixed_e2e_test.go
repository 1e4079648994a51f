package main

import (
	"bytes"
	"encoding/csv"
	"math/big"
	"slices"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/trace/noop"

	"github.com/vcci-dev/vcci/cmd/vcci/internal/spendgen"
	"github.com/vcci-dev/vcci/pkg/decimal"
	"github.com/vcci-dev/vcci/pkg/refdata"
	"github.com/vcci-dev/vcci/pkg/units"
)

// mixedExpect computes, from the shipped data and the formulas of
// docs/methods.md, what a mixed file's lines come to: kg CO2e under AR5
// and AR4 and US dollars of spend.
type mixedExpect struct {
	t              *testing.T
	epa            map[string]*big.Rat
	epaGases       map[string][]refdata.GasFactor
	desnz          *refdata.ActivityFactors
	fx             *refdata.FXTable
	gwp            *refdata.GWPTable
	kg, kg4, spend *big.Rat
}

func rat(t *testing.T, s string) *big.Rat {
	t.Helper()
	r, _, err := decimal.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// usd is amount in currency on date, in US dollars: amount / the month's
// rate, rounded half away from zero to 4 decimals.
func (e *mixedExpect) usd(amount, currency, date string) *big.Rat {
	a := rat(e.t, amount)
	if currency == "USD" {
		return a
	}
	d, _ := time.Parse(time.DateOnly, date)
	r, err := e.fx.Rate(currency, d)
	if err != nil {
		e.t.Fatal(err)
	}
	return rat(e.t, decimal.Round(a.Quo(a, rat(e.t, r.UnitsPerUSD)), 4))
}

// gwpRatio is gas's GWP under AR4 over its GWP under AR5.
func (e *mixedExpect) gwpDelta(gas string, ratio bool) *big.Rat {
	g4, err := e.gwp.GWP(refdata.AR4, gas)
	if err != nil {
		e.t.Fatal(err)
	}
	g5, _ := e.gwp.GWP(refdata.AR5, gas)
	if ratio {
		r := rat(e.t, g4)
		return r.Quo(r, rat(e.t, g5)).Sub(r, big.NewRat(1, 1))
	}
	r := rat(e.t, g4)
	return r.Sub(r, rat(e.t, g5))
}

// line adds one line of the mixed file (spendgen.MixHeader's columns).
func (e *mixedExpect) line(r []string) {
	date, amount, currency, activity := r[1], r[5], r[6], r[8]
	if amount != "" {
		e.spend.Add(e.spend, e.usd(amount, currency, date))
	}
	var q, value, value4 *big.Rat
	if activity == "" {
		q = in2022USD(e.t, e.usd(amount, currency, date), date)
		value, value4 = e.epa[r[4]], new(big.Rat).Set(e.epa[r[4]])
		for _, g := range e.epaGases[r[4]] { // kg of each gas x the change of its GWP
			value4.Add(value4, new(big.Rat).Mul(rat(e.t, g.Value), e.gwpDelta(g.Gas, false)))
		}
	} else {
		f, ok := e.desnz.Get(activity)
		if !ok {
			e.t.Fatalf("activity %q", activity)
		}
		conv, err := units.Convert(rat(e.t, r[9]), r[10], f.Unit)
		if err != nil {
			e.t.Fatal(err)
		}
		s, _ := decimal.Format(conv, 10)
		q, value = rat(e.t, s), rat(e.t, f.KgCO2e)
		v4 := new(big.Rat).Set(value) // CO2e of each gas x the change of its GWP's ratio
		for gas, co2e := range map[string]string{"CH4": f.KgCH4, "N2O": f.KgN2O} {
			if co2e != "" {
				v4.Add(v4, new(big.Rat).Mul(rat(e.t, co2e), e.gwpDelta(gas, true)))
			}
		}
		s4, _ := decimal.Format(v4, 12)
		value4 = rat(e.t, s4)
	}
	e.kg.Add(e.kg, new(big.Rat).Mul(q, value))
	e.kg4.Add(e.kg4, new(big.Rat).Mul(q, value4))
}

// A mixed file (spend in six currencies over four years, activity of every
// kind) through the REST gateway and the real services: the upload, the
// inventory under AR5 and AR4 and the tenant's basis come to what the
// shipped data gives, computed here line by line.
func TestMixedFileThroughREST(t *testing.T) {
	p := start(t, noop.NewTracerProvider())
	desnz, err := refdata.DESNZ()
	if err != nil {
		t.Fatal(err)
	}
	epa := epaFactors(t)
	codes := make([]string, 0, len(epa))
	for c := range epa {
		codes = append(codes, c)
	}
	var file bytes.Buffer
	st, err := spendgen.Write(&file, spendgen.Options{Rows: 3_000, Suppliers: 200, Seed: 11, Codes: sorted(codes), Mix: true, Activities: desnz.All()})
	if err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(bytes.NewReader(file.Bytes())).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(recs[0], ",") != strings.TrimSpace(spendgen.MixHeader) || st.Activity < 1000 {
		t.Fatalf("header %v, %d activity lines", recs[0], st.Activity)
	}
	e := mixedExpect{t: t, epa: epa, desnz: desnz, kg: new(big.Rat), kg4: new(big.Rat), spend: new(big.Rat)}
	if e.epaGases, err = refdata.EPAGases(); err != nil {
		t.Fatal(err)
	}
	if e.fx, err = refdata.FX(); err != nil {
		t.Fatal(err)
	}
	if e.gwp, err = refdata.GWPs(); err != nil {
		t.Fatal(err)
	}
	for _, r := range recs[1:] {
		e.line(r)
	}

	u := p.upload(t, p.key, file.Bytes())
	done := p.wait(t, p.key, u.Name)
	if done.State != "UPLOAD_STATE_SUCCEEDED" || done.RowsAccepted != "3000" || done.RowsRejected != "" || done.KgCo2e != dec(e.kg) {
		t.Fatalf("upload = %+v, want 3000 lines, %s kg", done, dec(e.kg))
	}
	type summary struct{ TotalKgCo2e, TotalSpendUsd, GwpBasis string }
	for _, c := range []struct{ query, kg, basis string }{
		{"", dec(e.kg), "GWP_BASIS_AR5"},
		{"&gwpBasis=GWP_BASIS_AR4", dec(e.kg4), "GWP_BASIS_AR4"},
	} {
		var s summary
		if code := p.call(t, "GET", "/v1/emissionResults:summarize?groupBy=SUMMARY_DIMENSION_CATEGORY"+c.query, p.key, nil, &s); code != 200 ||
			s.TotalKgCo2e != c.kg || s.GwpBasis != c.basis || s.TotalSpendUsd != e.spend.FloatString(4) {
			t.Fatalf("summary%s = %d %+v, want %s kg under %s, %s USD", c.query, code, s, c.kg, c.basis, e.spend.FloatString(4))
		}
	}
	// The tenant's basis, once set, is what a summary is under.
	var set struct{ GwpBasis string }
	if code := p.call(t, "PATCH", "/v1/calculationSettings", p.key, strings.NewReader(`{"gwpBasis":"GWP_BASIS_AR4"}`), &set); code != 200 || set.GwpBasis != "GWP_BASIS_AR4" {
		t.Fatalf("PATCH settings: %d %+v", code, set)
	}
	var s summary
	if code := p.call(t, "GET", "/v1/emissionResults:summarize?groupBy=SUMMARY_DIMENSION_SUPPLIER&limit=5", p.key, nil, &s); code != 200 ||
		s.TotalKgCo2e != dec(e.kg4) || s.GwpBasis != "GWP_BASIS_AR4" {
		t.Fatalf("summary under the tenant's basis = %d %+v, want %s", code, s, dec(e.kg4))
	}
}

func sorted(xs []string) []string {
	out := append([]string(nil), xs...)
	slices.Sort(out)
	return out
}

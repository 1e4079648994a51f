package refdata

import (
	"bytes"
	"cmp"
	_ "embed"
	"encoding/csv"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/vcci-dev/vcci/pkg/decimal"
)

//go:embed data/fx_monthly.csv
var fxCSV []byte

// FXSeries names the exchange rates the shipped FX file holds.
const FXSeries = "US Federal Reserve H.10, monthly average, units of the currency per US dollar"

const fxHeader = "currency,month,units_per_usd"

// Errors of an FX lookup.
var (
	ErrUnknownCurrency = errors.New("unknown currency")
	ErrNoRate          = errors.New("no FX rate")
)

// fxCodes maps the source's series names to ISO 4217 codes. The national
// series of the euro area end when the euro replaced them (their codes are
// ISO 4217's historic ones). Venezuela is left out: its series spans several
// redenominations under one name, so no one code fits it.
var fxCodes = map[string]string{
	"Australia": "AUD", "Austria": "ATS", "Belgium": "BEF", "Brazil": "BRL", "Canada": "CAD",
	"China": "CNY", "Denmark": "DKK", "Euro": "EUR", "Finland": "FIM", "France": "FRF",
	"Germany": "DEM", "Greece": "GRD", "Hong Kong": "HKD", "India": "INR", "Ireland": "IEP",
	"Italy": "ITL", "Japan": "JPY", "Malaysia": "MYR", "Mexico": "MXN", "Netherlands": "NLG",
	"New Zealand": "NZD", "Norway": "NOK", "Portugal": "PTE", "Singapore": "SGD",
	"South Africa": "ZAR", "South Korea": "KRW", "Spain": "ESP", "Sri Lanka": "LKR",
	"Sweden": "SEK", "Switzerland": "CHF", "Taiwan": "TWD", "Thailand": "THB", "United Kingdom": "GBP",
}

// fxSkipped are the source's series vcci does not offer, and why.
var fxSkipped = map[string]string{"Venezuela": "several redenominations under one series"}

// ConvertFX turns the source file (datahub core/exchange-rates monthly.csv:
// Date, Country, Exchange rate) into the shipped one: the ISO 4217 code, the
// month (YYYY-MM) and the rate as published, sorted by code then month. A
// series name with no code is an error, so a new series is mapped, not lost.
func ConvertFX(src []byte) ([]byte, error) {
	rows, err := csv.NewReader(bytes.NewReader(src)).ReadAll()
	if err != nil {
		return nil, fmt.Errorf("refdata.ConvertFX: %w", err)
	}
	if len(rows) < 2 || strings.Join(rows[0], ",") != "Date,Country,Exchange rate" {
		return nil, fmt.Errorf("refdata.ConvertFX: unexpected header %q", rows[0])
	}
	type rate struct{ code, month, value string }
	out := make([]rate, 0, len(rows)-1)
	seen := map[string]bool{}
	for i, r := range rows[1:] {
		if _, skip := fxSkipped[r[1]]; skip {
			continue
		}
		code, ok := fxCodes[r[1]]
		if !ok {
			return nil, fmt.Errorf("refdata.ConvertFX: line %d: series %q has no ISO 4217 code", i+2, r[1])
		}
		d, err := time.Parse(time.DateOnly, r[0])
		if err != nil || d.Day() != 1 {
			return nil, fmt.Errorf("refdata.ConvertFX: line %d: date %q is not the first of a month", i+2, r[0])
		}
		if v, _, err := decimal.Parse(r[2]); err != nil || v.Sign() <= 0 {
			return nil, fmt.Errorf("refdata.ConvertFX: line %d: rate %q is not a positive decimal", i+2, r[2])
		}
		m := d.Format("2006-01")
		if seen[code+m] {
			return nil, fmt.Errorf("refdata.ConvertFX: line %d: a second %s rate for %s", i+2, code, m)
		}
		seen[code+m] = true
		out = append(out, rate{code, m, r[2]})
	}
	slices.SortFunc(out, func(a, b rate) int { return cmp.Or(cmp.Compare(a.code, b.code), cmp.Compare(a.month, b.month)) })
	var b bytes.Buffer
	b.WriteString(fxHeader + "\n")
	for _, r := range out {
		fmt.Fprintf(&b, "%s,%s,%s\n", r.code, r.month, r.value)
	}
	return b.Bytes(), nil
}

// FXRate is one currency's average rate over one month.
type FXRate struct {
	Currency    string    // ISO 4217
	Month       time.Time // the first of the month, UTC
	UnitsPerUSD string    // as published, exact decimal
	rat         *big.Rat
}

// ToUSD converts amount (in r.Currency) to US dollars: amount / rate,
// rounded half away from zero to 4 decimals.
func (r FXRate) ToUSD(amount *big.Rat) string {
	return decimal.Round(new(big.Rat).Quo(amount, r.rat), 4)
}

type fxKey struct {
	code  string
	month int // year x 12 + month - 1
}

func fxMonth(t time.Time) int { return t.Year()*12 + int(t.Month()) - 1 }

// FXTable is the shipped monthly rates.
type FXTable struct {
	rates map[fxKey]FXRate
	span  map[string][2]time.Time // each currency's first and last month
}

// FX returns the shipped rates, read once.
var FX = sync.OnceValues(func() (*FXTable, error) { return parseFX(fxCSV) })

func parseFX(b []byte) (*FXTable, error) {
	rows, err := readShipped("FX", b, fxHeader)
	if err != nil {
		return nil, err
	}
	t := &FXTable{rates: make(map[fxKey]FXRate, len(rows)-1), span: map[string][2]time.Time{}}
	for _, r := range rows[1:] {
		m, err := time.Parse("2006-01", r[1])
		if err != nil {
			return nil, fmt.Errorf("refdata: the shipped FX file: %w", err)
		}
		v, _, err := decimal.Parse(r[2])
		if err != nil {
			return nil, fmt.Errorf("refdata: the shipped FX file: %w", err)
		}
		t.rates[fxKey{r[0], fxMonth(m)}] = FXRate{Currency: r[0], Month: m, UnitsPerUSD: r[2], rat: v}
		s, ok := t.span[r[0]]
		if !ok {
			s[0] = m
		}
		s[1] = m // the file is in month order
		t.span[r[0]] = s
	}
	return t, nil
}

// Rate returns currency's average rate over the month of day. A currency
// the data does not have is ErrUnknownCurrency; a month its series does not
// cover is ErrNoRate, and the error says which months it covers.
func (t *FXTable) Rate(currency string, day time.Time) (FXRate, error) {
	if r, ok := t.rates[fxKey{currency, fxMonth(day)}]; ok {
		return r, nil
	}
	s, ok := t.span[currency]
	if !ok {
		return FXRate{}, fmt.Errorf("%w %q: not an ISO 4217 code the FX data has rates for (docs/methods.md lists them)", ErrUnknownCurrency, currency)
	}
	return FXRate{}, fmt.Errorf("%w for %s in %s: the series covers %s to %s", ErrNoRate, currency, day.Format("2006-01"),
		s[0].Format("2006-01"), s[1].Format("2006-01"))
}

// Currencies lists the codes the data has rates for, and USD, sorted.
func (t *FXTable) Currencies() []string {
	out := make([]string, 0, 1+len(t.span))
	out = append(out, "USD")
	for c := range t.span {
		out = append(out, c)
	}
	slices.Sort(out)
	return out
}

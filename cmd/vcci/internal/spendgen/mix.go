package spendgen

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/vcci-dev/vcci/pkg/refdata"
	"github.com/vcci-dev/vcci/pkg/units"
)

// MixHeader is a mixed file's first line: the spend columns and an
// activity line's three.
const MixHeader = "transaction_id,date,supplier_id,supplier_name,naics_code,amount,currency,description,activity,quantity,unit\n"

// The shape of a mixed file.
const (
	// activityPercent of the lines are activity lines, the rest spend.
	activityPercent = 40
	// activityCostPercent of activity lines also carry their cost, which
	// is kept as spend.
	activityCostPercent = 10
	// canonicalUnitPercent of activity lines write the factor's own unit;
	// the rest another spelling or unit of the same dimension.
	canonicalUnitPercent = 75
	// maxQuantity bounds an activity quantity, in thousandths.
	maxQuantity = 10_000_000_000
)

// Dates of a mixed file: every day of 2022-2025, months the shipped FX
// data covers.
var (
	mixStart = time.Date(2022, 1, 1, 0, 0, 0, 0, time.UTC)
	mixDays  = int(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Sub(mixStart) / (24 * time.Hour))
)

// currencyShares are a mixed file's spend currencies, in percent. They
// sum to 100.
var currencyShares = []struct {
	code    string
	percent int
}{{"USD", 40}, {"EUR", 20}, {"GBP", 15}, {"JPY", 10}, {"CAD", 10}, {"CHF", 5}}

// Currencies are the codes a mixed file's amounts are in.
func Currencies() []string {
	out := make([]string, len(currencyShares))
	for i, c := range currencyShares {
		out[i] = c.code
	}
	return out
}

// spellings are how people write some canonical units; a mixed file uses
// them beside the ids so the upload's unit reading is exercised.
var spellings = map[string]string{
	"litre": "L", "us-gallon": "gal", "uk-gallon": "UK gallons", "m3": "cubic metres",
	"km": "kilometres", "mile": "miles", "passenger-km": "pkm", "tonne-km": "tkm",
	"tonne": "t", "kg": "kgs", "room-night": "nights", "kwh": "kWh",
	"kwh-gross-cv": "kWh (Gross CV)", "kwh-net-cv": "kWh (Net CV)",
}

type activity struct {
	id    string   // CSV-ready
	units []string // CSV-ready: [0] the factor's unit, then the others of its dimension
	item  string   // description noun: the sheet's name
}

// mixer draws activity lines: a sheet uniformly, so every kind of
// activity shows up however many factors its sheet has, then a factor of
// that sheet uniformly.
type mixer struct {
	sheets [][]activity
}

// newMixer groups factors by sheet, in the order given. A factor of
// category 0 (Scope 1 and 2 sheets: fuels burnt, UK electricity, heat) is
// left out: a line of one must name its Scope 3 category, which would be
// the file's choice, not the factor's.
func newMixer(factors []refdata.ActivityFactor) (*mixer, error) {
	m := &mixer{}
	sheetOf := map[string]int{}
	for _, f := range factors {
		if f.Category == 0 {
			continue
		}
		us, err := unitChoices(f.Unit)
		if err != nil {
			return nil, fmt.Errorf("spendgen: activity %s: %w", f.Activity, err)
		}
		i, ok := sheetOf[f.Sheet]
		if !ok {
			i = len(m.sheets)
			sheetOf[f.Sheet] = i
			m.sheets = append(m.sheets, nil)
		}
		m.sheets[i] = append(m.sheets[i], activity{id: csvField(f.Activity), units: us, item: strings.ToLower(f.Sheet)})
	}
	if len(m.sheets) == 0 {
		return nil, fmt.Errorf("spendgen: no activity with a Scope 3 category among %d", len(factors))
	}
	return m, nil
}

// unitChoices lists unit first, then its usual spelling, then every other
// unit of its dimension, in units.IDs' order.
func unitChoices(unit string) ([]string, error) {
	dim, ok := units.DimensionOf(unit)
	if !ok {
		return nil, fmt.Errorf("unknown unit %q", unit)
	}
	out := []string{csvField(unit)}
	if s, ok := spellings[unit]; ok {
		out = append(out, csvField(s))
	}
	for _, id := range units.IDs() {
		if d, _ := units.DimensionOf(id); d == dim && id != unit {
			out = append(out, csvField(id))
		}
	}
	return out, nil
}

// appendActivity appends the rest of an activity line, from naics_code
// (empty) to unit and the newline.
func (m *mixer) appendActivity(line []byte, rng *rand.Rand) []byte {
	sheet := m.sheets[rng.IntN(len(m.sheets))]
	a := &sheet[rng.IntN(len(sheet))]
	line = append(line, ',') // no NAICS code
	if rng.IntN(100) < activityCostPercent {
		line = appendMoney(line, rng, int64(math.Round(math.Exp(5+1.5*rng.NormFloat64())*100))+1)
	} else {
		line = append(line, ',') // no amount, no currency
	}
	line = append(line, ",PO-"...)
	line = strconv.AppendInt(line, int64(10_000+rng.IntN(90_000)), 10)
	line = append(line, ' ')
	line = append(line, a.item...)
	line = append(line, ',')
	line = append(line, a.id...)
	line = append(line, ',')
	line = appendThousandths(line, quantity(rng))
	line = append(line, ',')
	u := a.units[0]
	if len(a.units) > 1 && rng.IntN(100) >= canonicalUnitPercent {
		u = a.units[1+rng.IntN(len(a.units)-1)]
	}
	line = append(line, u...)
	return append(line, '\n')
}

// quantity draws an activity quantity in thousandths, log-normal and
// positive. Magnitudes do not follow the unit: what the upload does with a
// line does not depend on them.
func quantity(rng *rand.Rand) int64 {
	q := int64(math.Round(math.Exp(8 + 2*rng.NormFloat64())))
	return min(max(q, 1), maxQuantity)
}

// appendMoney appends "amount,currency" for cents of a USD-like amount in
// a currency drawn by currencyShares. Yen have no cents, so a yen amount
// is the same digits a hundred times larger, near the real rate.
func appendMoney(b []byte, rng *rand.Rand, cents int64) []byte {
	r := rng.IntN(100)
	cur := currencyShares[0].code
	for _, c := range currencyShares {
		if r < c.percent {
			cur = c.code
			break
		}
		r -= c.percent
	}
	if cur == "JPY" {
		cents *= 100
	}
	b = appendCents(b, cents)
	b = append(b, ',')
	return append(b, cur...)
}

// appendThousandths writes a positive n/1000 with exactly three places.
func appendThousandths(b []byte, n int64) []byte {
	b = strconv.AppendInt(b, n/1000, 10)
	f := n % 1000
	return append(b, '.', byte('0'+f/100), byte('0'+f/10%10), byte('0'+f%10))
}

// Package quality scores the data quality of emission results with the
// GHG Protocol's five indicators and estimates their uncertainty with the
// ecoinvent pedigree matrix. It is pure: no database, no clock.
// docs/quality.md gives the tables and the sources.
package quality

import (
	"fmt"
	"math/big"

	"github.com/vcci-dev/vcci/pkg/decimal"
)

// Methods, as results record them (GHG Protocol Scope 3 Calculation
// Guidance): a supplier's footprint of the product bought, the supplier's
// company-wide intensity, activity data x an average factor, spend x an
// economic input-output factor.
const (
	MethodProduct = "supplier-product"
	MethodCompany = "supplier-company"
	MethodAverage = "average-data"
	MethodSpend   = "spend-based"
)

// Indicators are the five data quality indicators of the GHG Protocol's
// Scope 3 guidance (ch. 7), each from 1 (best) to 5 (worst).
type Indicators struct{ Technology, Time, Geography, Completeness, Reliability int8 }

// digits are d's indicators in Pack's order.
func (d Indicators) digits() [5]int8 {
	return [5]int8{d.Technology, d.Time, d.Geography, d.Completeness, d.Reliability}
}

func (d Indicators) check() error {
	for i, v := range d.digits() {
		if v < 1 || v > 5 {
			return fmt.Errorf("%s is %d, not 1 to 5", indicatorNames[i], v)
		}
	}
	return nil
}

var indicatorNames = [5]string{"technology", "time", "geography", "completeness", "reliability"}

// Pack writes d as one five-digit number in the order technology, time,
// geography, completeness, reliability: (4,1,3,4,4) is 41344. It stores in
// one integer column and reads as the pedigree tuple it is.
func (d Indicators) Pack() int32 {
	var p int32
	for _, v := range d.digits() {
		p = p*10 + int32(v)
	}
	return p
}

// Unpack reads what Pack wrote, refusing any digit outside 1 to 5.
func Unpack(p int32) (Indicators, error) {
	if p < 11111 || p > 55555 {
		return Indicators{}, fmt.Errorf("packed indicators %d: not five digits 1 to 5", p)
	}
	var v [5]int8
	for i := 4; i >= 0; i-- {
		v[i] = int8(p % 10)
		p /= 10
	}
	d := Indicators{v[0], v[1], v[2], v[3], v[4]}
	if err := d.check(); err != nil {
		return Indicators{}, fmt.Errorf("packed indicators %d: %w", d.Pack(), err)
	}
	return d, nil
}

// Score is the mean of the five indicators, exact: a sum of five digits
// over 5 always ends after one decimal ("2.4").
func (d Indicators) Score() string {
	sum := 0
	for _, v := range d.digits() {
		sum += int(v)
	}
	return fmt.Sprintf("%d.%d", 2*sum/10, 2*sum%10)
}

// Inputs are what a result tells of its data.
type Inputs struct {
	Method          string // one of the Method constants
	LineYear        int    // the transaction's year
	FactorYear      int    // the factor's data year; 0 unknown
	FactorRegion    string // ISO country of the factor ("US", "GB"); "" unknown
	SupplierCountry string // ISO country of the supplier; "" unknown
	Verified        bool   // supplier data third-party verified
	PrimaryShare    string // product footprints: share of primary data, decimal 0..1; "" unknown
}

// Assess scores a result by the table in docs/quality.md. An unknown
// method scores 5 throughout; a PrimaryShare that is not a decimal from 0
// to 1 counts as unknown.
func Assess(in Inputs) Indicators {
	var d Indicators
	switch in.Method {
	case MethodProduct:
		d = Indicators{Technology: 1, Geography: 1, Completeness: primaryCompleteness(in.PrimaryShare)}
	case MethodCompany:
		d = Indicators{Technology: 3, Geography: 1, Completeness: 2}
	case MethodAverage:
		d = Indicators{Technology: 2, Geography: regionMatch(in), Completeness: 3, Reliability: 2}
	case MethodSpend:
		d = Indicators{Technology: 4, Geography: regionMatch(in), Completeness: 4, Reliability: 4}
	default:
		return Indicators{5, 5, 5, 5, 5}
	}
	if d.Reliability == 0 { // supplier data
		d.Reliability = 2
		if in.Verified {
			d.Reliability = 1
		}
	}
	d.Time = timeScore(in.LineYear, in.FactorYear)
	return d
}

// timeScore steps as the pedigree matrix's temporal correlation does: less
// than 3, 6, 10 and 15 years between the data and the transaction.
func timeScore(line, factor int) int8 {
	if factor == 0 {
		return 5
	}
	d := line - factor
	if d < 0 {
		d = -d
	}
	for i, limit := range []int{3, 6, 10, 15} {
		if d < limit {
			return int8(i + 1)
		}
	}
	return 5
}

// regionMatch scores a secondary factor's region against the supplier's
// country; an unknown supplier is assumed to be in the factor's region.
func regionMatch(in Inputs) int8 {
	switch {
	case in.FactorRegion == "":
		return 5
	case in.SupplierCountry == "":
		return 3
	case in.FactorRegion == in.SupplierCountry:
		return 1
	}
	return 4
}

var (
	share90 = big.NewRat(9, 10)
	share50 = big.NewRat(1, 2)
	share20 = big.NewRat(1, 5)
	share1  = big.NewRat(1, 1)
)

func primaryCompleteness(share string) int8 {
	s, _, err := decimal.Parse(share)
	if err != nil || s.Sign() < 0 || s.Cmp(share1) > 0 {
		return 3
	}
	switch {
	case s.Cmp(share90) >= 0:
		return 1
	case s.Cmp(share50) >= 0:
		return 2
	case s.Cmp(share20) >= 0:
		return 3
	case s.Sign() > 0:
		return 4
	}
	return 5
}

// Weighed is one result to weigh: its kg CO2e (an exact decimal, negative
// for a credit note) and its indicators.
type Weighed struct {
	Kg         string
	Indicators Indicators
}

// IndicatorScores are the emissions-weighted means of each indicator.
type IndicatorScores struct{ Technology, Time, Geography, Completeness, Reliability string }

// WeightedScale is the decimals a weighted score is rounded to.
const WeightedScale = 2

// Weighted is the emissions-weighted score, sum(|kg| x Score) / sum(|kg|),
// rounded half away from zero to WeightedScale decimals; "" when every kg
// is zero. A credit note weighs by its size: it corrects data of the same
// quality as the purchase it credits.
func Weighted(items []Weighed) (string, error) {
	score, _, err := Scores(items)
	return score, err
}

// WeightedIndicators are each indicator's emissions-weighted mean, rounded
// as Weighted is; all "" when every kg is zero.
func WeightedIndicators(items []Weighed) (IndicatorScores, error) {
	_, ind, err := Scores(items)
	return ind, err
}

// Scores are Weighted and WeightedIndicators from one pass over items.
func Scores(items []Weighed) (string, IndicatorScores, error) {
	w, sums, err := weigh(items)
	if err != nil || w.Sign() == 0 {
		return "", IndicatorScores{}, err
	}
	var out [5]string
	all := new(big.Int)
	for i, s := range sums {
		out[i] = decimal.Round(new(big.Rat).SetFrac(s, w), WeightedScale)
		all.Add(all, s)
	}
	score := decimal.Round(new(big.Rat).SetFrac(all, new(big.Int).Mul(w, big.NewInt(5))), WeightedScale)
	return score, IndicatorScores{out[0], out[1], out[2], out[3], out[4]}, nil
}

// weigh sums |kg|, and |kg| x each indicator in Pack's order, as integers
// of one scale (the largest of the kgs'): the means are ratios of these
// sums, so the scale cancels, and integer sums skip big.Rat's reduction at
// every step (most of an inventory read's time with it).
func weigh(items []Weighed) (*big.Int, [5]*big.Int, error) {
	w := new(big.Int)
	var sums [5]*big.Int
	for i := range sums {
		sums[i] = new(big.Int)
	}
	scale := 0
	term := new(big.Int)
	for i, it := range items {
		kg, sc, err := decimal.ParseScaled(it.Kg)
		if err != nil {
			return nil, sums, fmt.Errorf("items[%d].kg: %w", i, err)
		}
		if err := it.Indicators.check(); err != nil {
			return nil, sums, fmt.Errorf("items[%d].indicators: %w", i, err)
		}
		switch {
		case sc > scale:
			up := decimal.Pow10(sc - scale)
			w.Mul(w, up)
			for _, s := range sums {
				s.Mul(s, up)
			}
			scale = sc
		case sc < scale:
			kg.Mul(kg, decimal.Pow10(scale-sc))
		}
		kg.Abs(kg)
		w.Add(w, kg)
		for j, v := range it.Indicators.digits() {
			sums[j].Add(sums[j], term.Mul(kg, big.NewInt(int64(v))))
		}
	}
	return w, sums, nil
}

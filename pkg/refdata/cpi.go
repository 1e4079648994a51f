// Package refdata holds the public reference data vcci ships (see
// data/README.md for each file's provenance and licence), converted from
// its source by the generator in gen/, and the lookups over it.
package refdata

import (
	"bytes"
	_ "embed"
	"encoding/csv"
	"errors"
	"fmt"
	"math/big"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/vcci-dev/vcci/pkg/decimal"
)

//go:embed data/cpi_u.csv
var cpiCSV []byte

// CPISeries names the price index the shipped CPI file holds.
const CPISeries = "CPI-U (US BLS CUUR0000SA0, all items, U.S. city average, 1982-84=100, not seasonally adjusted)"

// cpiHeader is the first line of the shipped file.
const cpiHeader = "month,index"

// ErrNoIndex is a month before the first the series publishes.
var ErrNoIndex = errors.New("no price index")

// ConvertCPI turns the source file (datahub core/cpi-us cpiai.csv: Date,
// Index, Inflation) into the shipped one: the month (YYYY-MM) and the index
// as published, one line a month, in order. The month-on-month inflation is
// dropped: it is derived, and nothing uses it.
func ConvertCPI(src []byte) ([]byte, error) {
	rows, err := csv.NewReader(bytes.NewReader(src)).ReadAll()
	if err != nil {
		return nil, fmt.Errorf("refdata.ConvertCPI: %w", err)
	}
	if len(rows) < 2 || strings.Join(rows[0], ",") != "Date,Index,Inflation" {
		return nil, fmt.Errorf("refdata.ConvertCPI: unexpected header %q", rows[0])
	}
	var b bytes.Buffer
	b.WriteString(cpiHeader + "\n")
	var last time.Time
	for i, r := range rows[1:] {
		d, err := time.Parse(time.DateOnly, r[0])
		if err != nil || d.Day() != 1 || !d.After(last) {
			return nil, fmt.Errorf("refdata.ConvertCPI: line %d: date %q is not the first of a month after the line before", i+2, r[0])
		}
		if v, _, err := decimal.Parse(r[1]); err != nil || v.Sign() <= 0 {
			return nil, fmt.Errorf("refdata.ConvertCPI: line %d: index %q is not a positive decimal", i+2, r[1])
		}
		last = d
		fmt.Fprintf(&b, "%s,%s\n", d.Format("2006-01"), r[1])
	}
	return b.Bytes(), nil
}

// Observation is one published month of a price index.
type Observation struct {
	Month time.Time // the first of the month, UTC
	Index string    // as published, exact decimal
}

// PriceIndex is a monthly price index.
type PriceIndex struct {
	obs []Observation // by month, ascending
}

// CPIU returns the shipped CPI-U series, read once.
var CPIU = sync.OnceValues(func() (*PriceIndex, error) { return parseCPI(cpiCSV) })

func parseCPI(b []byte) (*PriceIndex, error) {
	rows, err := readShipped("CPI", b, cpiHeader)
	if err != nil {
		return nil, err
	}
	p := &PriceIndex{obs: make([]Observation, 0, len(rows)-1)}
	for _, r := range rows[1:] {
		m, err := time.Parse("2006-01", r[0])
		if err != nil {
			return nil, fmt.Errorf("refdata: the shipped CPI file: %w", err)
		}
		p.obs = append(p.obs, Observation{Month: m, Index: r[1]})
	}
	return p, nil
}

// At returns the index of month, or, for a month the series skipped or has
// not published yet, of the latest published month before it; the
// observation says which month it is. A month before the series' first is
// ErrNoIndex.
func (p *PriceIndex) At(month time.Time) (Observation, error) {
	m := time.Date(month.Year(), month.Month(), 1, 0, 0, 0, 0, time.UTC)
	i := sort.Search(len(p.obs), func(i int) bool { return p.obs[i].Month.After(m) })
	if i == 0 {
		return Observation{}, fmt.Errorf("%w for %s: the series starts in %s", ErrNoIndex, m.Format("2006-01"), p.obs[0].Month.Format("2006-01"))
	}
	return p.obs[i-1], nil
}

// Last is the latest published month.
func (p *PriceIndex) Last() Observation { return p.obs[len(p.obs)-1] }

// YearAverage is the mean of year's twelve months, rounded half away from
// zero to three decimals as the BLS publishes annual averages. A year
// with a month missing has none.
func (p *PriceIndex) YearAverage(year int) (string, error) {
	sum, n := new(big.Rat), 0
	for _, o := range p.obs {
		if o.Month.Year() != year {
			continue
		}
		v, _, err := decimal.Parse(o.Index)
		if err != nil {
			return "", fmt.Errorf("refdata.YearAverage: %w", err)
		}
		sum.Add(sum, v)
		n++
	}
	if n != 12 {
		return "", fmt.Errorf("%w: %d has %d published months, not 12", ErrNoIndex, year, n)
	}
	return decimal.Round(sum.Quo(sum, big.NewRat(12, 1)), 3), nil
}

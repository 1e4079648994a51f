// Package spendgen writes deterministic, realistic procurement spend files
// for benchmarks and tests: Zipf-like spend across suppliers, log-normal line
// amounts, about 1% credit notes, and supplier names that exercise CSV
// quoting.
package spendgen

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"sort"
	"strconv"
	"time"
)

// Options shape a file; zero values take the defaults.
type Options struct {
	Rows      int
	Suppliers int       // default 10,000
	Seed      uint64    // default 1
	Codes     []string  // NAICS-6 codes to draw from; required
	Start     time.Time // first date; default 2024-01-01
	Days      int       // default 366
}

// Stats describe what was written.
type Stats struct {
	Rows      int
	Suppliers int // distinct suppliers used
	Bytes     int64
}

// Header is the file's first line.
const Header = "transaction_id,date,supplier_id,supplier_name,naics_code,amount,currency,description\n"

var (
	first  = []string{"Northwind", "Contoso", "Globex", "Initech", "Umbrella", "Stark", "Wayne", "Acme", "Hooli", "Vandelay", "Tyrell", "Cyberdyne", "Soylent", "Wonka", "Gringotts", "Aperture", "Oscorp", "Massive", "Dunder", "Monarch"}
	second = []string{"Steel", "Logistics", "Chemicals", "Foods", "Freight", "Plastics", "Software", "Paper", "Textiles", "Energy", "Components", "Packaging", "Cement", "Electronics", "Consulting", "Metals", "Glass", "Aviation", "Marine", "Pharma"}
	suffix = []string{"Ltd", "Inc", "GmbH", "LLC", "PLC", "S.A.", "& Sons", "Group", "Corp", "\"Holdings\""}
	items  = []string{"steel coils", "freight services", "office supplies", "cloud hosting", "consulting hours", "packaging film", "spare parts", "fuel surcharge", "raw materials", "maintenance"}
)

// Write streams opts.Rows rows after the header to w.
func Write(w io.Writer, opts Options) (Stats, error) {
	if len(opts.Codes) == 0 {
		return Stats{}, errors.New("spendgen: no NAICS codes to draw from")
	}
	if opts.Suppliers <= 0 {
		opts.Suppliers = 10_000
	}
	if opts.Seed == 0 {
		opts.Seed = 1
	}
	if opts.Start.IsZero() {
		opts.Start = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	if opts.Days <= 0 {
		opts.Days = 366
	}
	rng := rand.New(rand.NewPCG(opts.Seed, opts.Seed^0x9e3779b97f4a7c15))

	// Suppliers: a name (quoted when it holds a comma or quote), 1-3 codes,
	// and a typical line size, so a supplier's lines look alike.
	type supplier struct {
		id, name string
		codes    []string
		scale    float64
	}
	sups := make([]supplier, opts.Suppliers)
	for i := range sups {
		name := first[rng.IntN(len(first))] + " " + second[rng.IntN(len(second))]
		switch s := suffix[rng.IntN(len(suffix))]; {
		case rng.IntN(5) == 0:
			name += ", " + s // a comma: must be quoted
		default:
			name += " " + s
		}
		n := 1 + rng.IntN(3)
		codes := make([]string, n)
		for j := range codes {
			codes[j] = opts.Codes[rng.IntN(len(opts.Codes))]
		}
		sups[i] = supplier{id: fmt.Sprintf("S%05d", i), name: csvField(name), codes: codes, scale: math.Exp(5 + 3*rng.Float64())}
	}
	// Zipf-like: supplier rank r is drawn with probability ∝ 1/(r+1)^1.1.
	cdf := make([]float64, opts.Suppliers)
	sum := 0.0
	for r := range cdf {
		sum += 1 / math.Pow(float64(r+1), 1.1)
		cdf[r] = sum
	}

	bw := bufio.NewWriterSize(w, 64<<10)
	var st Stats
	n, _ := bw.WriteString(Header)
	st.Bytes += int64(n)
	used := make([]bool, opts.Suppliers)
	line := make([]byte, 0, 256)
	for i := 0; i < opts.Rows; i++ {
		r := sort.SearchFloat64s(cdf, rng.Float64()*sum)
		if r >= len(sups) {
			r = len(sups) - 1
		}
		s := &sups[r]
		if !used[r] {
			used[r] = true
			st.Suppliers++
		}
		// Log-normal around the supplier's scale, clamped to 10..500,000 USD.
		amount := s.scale * math.Exp(rng.NormFloat64())
		amount = math.Min(math.Max(amount, 10), 500_000)
		cents := int64(math.Round(amount * 100))
		if rng.IntN(100) == 0 {
			cents = -cents // a credit note
		}
		date := opts.Start.AddDate(0, 0, rng.IntN(opts.Days))

		line = line[:0]
		line = append(line, 'T')
		line = appendPadded(line, int64(i+1), 9)
		line = append(line, ',')
		line = date.AppendFormat(line, time.DateOnly)
		line = append(line, ',')
		line = append(line, s.id...)
		line = append(line, ',')
		line = append(line, s.name...)
		line = append(line, ',')
		line = append(line, s.codes[rng.IntN(len(s.codes))]...)
		line = append(line, ',')
		line = appendCents(line, cents)
		line = append(line, ",USD,PO-"...)
		line = strconv.AppendInt(line, int64(10_000+rng.IntN(90_000)), 10)
		line = append(line, ' ')
		line = append(line, items[rng.IntN(len(items))]...)
		line = append(line, '\n')
		n, err := bw.Write(line)
		st.Bytes += int64(n)
		if err != nil {
			return st, err
		}
		st.Rows++
	}
	return st, bw.Flush()
}

func appendPadded(b []byte, v int64, width int) []byte {
	s := strconv.FormatInt(v, 10)
	for i := len(s); i < width; i++ {
		b = append(b, '0')
	}
	return append(b, s...)
}

func appendCents(b []byte, cents int64) []byte {
	if cents < 0 {
		b = append(b, '-')
		cents = -cents
	}
	b = strconv.AppendInt(b, cents/100, 10)
	b = append(b, '.')
	return appendPadded(b, cents%100, 2)
}

// csvField quotes a field that holds a comma, quote or newline.
func csvField(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == ',' || c == '"' || c == '\n' || c == '\r' {
			q := []byte{'"'}
			for j := 0; j < len(s); j++ {
				if s[j] == '"' {
					q = append(q, '"')
				}
				q = append(q, s[j])
			}
			return string(append(q, '"'))
		}
	}
	return s
}

// Package spendgen writes deterministic, realistic procurement spend CSV
// files for benchmarks and tests: Zipf-like spend across suppliers,
// log-normal line amounts, about 1% credit notes, NAICS codes per supplier,
// and supplier names that exercise CSV quoting. Options.Mix adds spend in
// six currencies over four years and activity lines (mix.go).
//
// The same Options always give byte-identical output: all randomness comes
// from one PCG seeded from Options.Seed, and nothing iterates a map or reads
// the clock.
package spendgen

import (
	"bufio"
	"cmp"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/vcci-dev/vcci/pkg/refdata"
)

// Options shape a file; zero values take the defaults.
type Options struct {
	Rows      int       // data rows, at most 999,999,999 (transaction ids have 9 digits)
	Suppliers int       // supplier master size, at most 100,000 (ids have 5 digits); default 10,000
	Seed      uint64    // default 1
	Codes     []string  // NAICS-6 codes to draw from; required
	Start     time.Time // first date; default 2024-01-01
	Days      int       // dates fall in [Start, Start+Days); at most 1,000,000; default 366

	// Mix writes MixHeader and a mixed file: 60% spend lines in six
	// currencies, 40% activity lines drawn from Activities; the dates then
	// default to 2022-01-01..2025-12-31. Without it the output is what it
	// always was, byte for byte.
	Mix        bool
	Activities []refdata.ActivityFactor // required with Mix
}

// Stats describe what was written.
type Stats struct {
	Rows      int
	Suppliers int   // distinct suppliers used
	Bytes     int64 // including the header
	Activity  int   // activity lines (Mix only)
}

// Header is the file's first line.
const Header = "transaction_id,date,supplier_id,supplier_name,naics_code,amount,currency,description\n"

const (
	// zipfS is the exponent of the supplier popularity law.
	zipfS = 1.1
	// uniformShare of rows go to a supplier drawn uniformly. Pure Zipf(1.1)
	// over 10,000 suppliers leaves ~1,000 of them unused in 200k rows; real
	// ledgers touch nearly the whole supplier master, and the tail floor
	// gets that (~9,800 used) while the top 20% still hold >80% of spend.
	uniformShare = 0.10
	// creditOneIn: one row in this many is a credit note.
	creditOneIn = 100
	minAmount   = 10.0
	maxAmount   = 500_000.0
)

// Write streams a header and opts.Rows rows to w through a 64 KiB buffer,
// which it flushes before returning. Memory is bounded by the supplier
// master and the date table, never by Rows.
func Write(w io.Writer, opts Options) (Stats, error) {
	if err := opts.check(); err != nil {
		return Stats{}, err
	}
	rng := rand.New(rand.NewPCG(opts.Seed, opts.Seed^0x9e3779b97f4a7c15))

	codes := make([]code, len(opts.Codes))
	for i, c := range opts.Codes {
		codes[i] = code{raw: c, field: csvField(c), items: sectorOf(c).items}
	}
	sups := newSuppliers(rng, opts.Suppliers, codes)
	pick := newAlias(popularity(opts.Suppliers))
	// Rank r is a random supplier, so the biggest spenders are not simply
	// S00000, S00001, ... and sorting by id says nothing about spend.
	byRank := rng.Perm(opts.Suppliers)
	var mix *mixer
	header := Header
	if opts.Mix {
		var err error
		if mix, err = newMixer(opts.Activities); err != nil {
			return Stats{}, err
		}
		header = MixHeader
	}

	// Formatting a date per row costs more than the rest of the row; the
	// range is small, so format each day once.
	dates := make([]byte, 0, opts.Days*11)
	for d := range opts.Days {
		dates = opts.Start.AddDate(0, 0, d).AppendFormat(dates, time.DateOnly)
		dates = append(dates, ',')
	}
	const dateLen = len("2006-01-02,")

	bw := bufio.NewWriterSize(w, 64<<10)
	var st Stats
	n, err := bw.WriteString(header)
	st.Bytes += int64(n)
	if err != nil {
		return st, fmt.Errorf("spendgen: %w", err)
	}
	id := []byte("T000000000,")
	// appendHead appends a row's id, date and supplier.
	appendHead := func(line []byte, day int, s *supplier) []byte {
		line = append(line, id...)
		line = append(line, dates[day*dateLen:(day+1)*dateLen]...)
		return append(line, s.prefix...)
	}
	for range opts.Rows {
		incr(id[1:10])
		s := &sups[byRank[pick.draw(rng)]]
		if !s.used {
			s.used = true
			st.Suppliers++
		}
		// Append straight into bufio's spare capacity: no per-row buffer
		// and no copy when the row fits, which is nearly always.
		line := bw.AvailableBuffer()
		if mix != nil && rng.IntN(100) < activityPercent {
			line = mix.appendActivity(appendHead(line, rng.IntN(opts.Days), s), rng)
			if err := writeLine(bw, &st, line); err != nil {
				return st, err
			}
			st.Activity++
			continue
		}
		c := &codes[s.codes[rng.IntN(len(s.codes))]]

		cents := s.amount(rng)
		if rng.IntN(creditOneIn) == 0 {
			cents = -cents
		}
		// The day is drawn after the amount, as it always was: the
		// default file stays byte-identical.
		line = appendHead(line, rng.IntN(opts.Days), s)
		line = append(line, c.field...)
		line = append(line, ',')
		if mix == nil {
			line = appendCents(line, cents)
			line = append(line, ",USD,PO-"...)
		} else {
			line = appendMoney(line, rng, cents)
			line = append(line, ",PO-"...)
		}
		line = strconv.AppendInt(line, int64(10_000+rng.IntN(90_000)), 10)
		line = append(line, ' ')
		line = append(line, c.items[rng.IntN(len(c.items))]...)
		if mix != nil {
			line = append(line, ",,,"...) // no activity, quantity, unit
		}
		if err := writeLine(bw, &st, append(line, '\n')); err != nil {
			return st, err
		}
	}
	if err := bw.Flush(); err != nil {
		return st, fmt.Errorf("spendgen: %w", err)
	}
	return st, nil
}

// writeLine writes one data row and counts it.
func writeLine(bw *bufio.Writer, st *Stats, line []byte) error {
	n, err := bw.Write(line)
	st.Bytes += int64(n)
	if err != nil {
		return fmt.Errorf("spendgen: %w", err)
	}
	st.Rows++
	return nil
}

type code struct {
	raw   string   // as given; picks the sector
	field string   // CSV-ready
	items []string // description nouns that fit the code's sector
}

type supplier struct {
	prefix string // "S00042,Northwind Steel Ltd," with the name CSV-quoted as needed
	codes  []int  // 1-3 distinct indexes into Options.Codes
	mu     float64
	used   bool
}

// amount draws a line amount in cents: log-normal around the supplier's
// typical line size, redrawn (rarely) to stay within [minAmount, maxAmount]
// so the bounds do not pile up as spikes.
func (s *supplier) amount(rng *rand.Rand) int64 {
	for range 8 {
		v := math.Exp(s.mu + 1.1*rng.NormFloat64())
		if v >= minAmount && v <= maxAmount {
			return int64(math.Round(v * 100))
		}
	}
	return int64(math.Round(math.Exp(s.mu) * 100)) // mu is within bounds
}

func newSuppliers(rng *rand.Rand, n int, codes []code) []supplier {
	sups := make([]supplier, n)
	for i := range sups {
		s := &sups[i]
		k := min(1+rng.IntN(3), len(codes))
		s.codes = make([]int, 0, k)
		for len(s.codes) < k {
			c := rng.IntN(len(codes))
			dup := false
			for _, have := range s.codes {
				dup = dup || have == c
			}
			if !dup {
				s.codes = append(s.codes, c)
			}
		}
		// Typical line size between ~e^4.5 (90 USD) and ~e^9.5 (13k USD);
		// the per-line spread reaches the tails.
		s.mu = 4.5 + 5*rng.Float64()
		name := supplierName(rng, codes[s.codes[0]].raw)
		s.prefix = fmt.Sprintf("S%05d,%s,", i, csvField(name))
	}
	return sups
}

var (
	brands = []string{"Northwind", "Contoso", "Globex", "Initech", "Umbrella", "Stark", "Wayne", "Acme", "Hooli", "Vandelay",
		"Tyrell", "Cyberdyne", "Soylent", "Wonka", "Aperture", "Oscorp", "Monarch", "Blue Ridge", "Silverline", "Ironbridge",
		"Harbor", "Summit", "Redwood", "Granite", "Atlas", "Pioneer", "Keystone", "Evergreen", "Lakeside", "Meridian",
		"Orion", "Cascade", "Frontier", "Beacon", "Sterling", "Crescent", "Riverside", "Oakmont", "Highland", "Bayview"}
	surnames = []string{"Smith", "Johnson", "Miller", "Garcia", "Schmidt", "Rossi", "Dubois", "Tanaka", "O'Brien", "Novak"}
	suffixes = []string{"Ltd", "Inc", "LLC", "Corp", "GmbH", "PLC", "S.A.", "Group", "Co", "Holdings"}
)

// supplierName builds a plausible company name. About one in eight holds a
// comma and one in fifty a double quote, so readers must handle quoting.
func supplierName(rng *rand.Rand, naics string) string {
	industry := sectorOf(naics).words
	ind := industry[rng.IntN(len(industry))]
	suf := suffixes[rng.IntN(len(suffixes))]
	switch r := rng.IntN(100); {
	case r < 2: // The "Summit" Freight Co
		return `The "` + brands[rng.IntN(len(brands))] + `" ` + ind + " Co"
	case r < 7: // Miller, Novak & Partners
		return surnames[rng.IntN(len(surnames))] + ", " + surnames[rng.IntN(len(surnames))] + " & Partners"
	case r < 14: // Acme Steel, Inc
		return brands[rng.IntN(len(brands))] + " " + ind + ", " + suf
	case r < 24: // Atlas & Orion Logistics
		return brands[rng.IntN(len(brands))] + " & " + brands[rng.IntN(len(brands))] + " " + ind
	default: // Northwind Steel Ltd
		return brands[rng.IntN(len(brands))] + " " + ind + " " + suf
	}
}

type sector struct{ words, items []string }

var (
	sectorDefault = sector{[]string{"Industries", "Trading", "Services"}, []string{"office supplies", "maintenance", "general services", "equipment rental"}} //nolint:goconst // words of a table, not one value repeated
	sectorMfg     = sector{
		[]string{"Steel", "Plastics", "Chemicals", "Foods", "Textiles", "Components", "Packaging", "Electronics", "Metals", "Glass", "Paper"},
		[]string{"steel coils", "resin pellets", "packaging film", "spare parts", "raw materials", "castings", "fasteners", "circuit boards"}}
	sectors = map[int]sector{
		11: {[]string{"Farms", "Agri", "Growers"}, []string{"grain", "seed stock", "fresh produce"}},
		21: {[]string{"Mining", "Resources", "Minerals"}, []string{"crushed stone", "ore concentrate", "drilling services"}},
		22: {[]string{"Energy", "Power", "Utilities"}, []string{"electricity", "natural gas", "water and sewer"}},
		23: {[]string{"Construction", "Builders", "Contracting"}, []string{"site works", "fit-out", "roofing"}},
		31: sectorMfg, 32: sectorMfg, 33: sectorMfg,
		42: {[]string{"Supply", "Distribution", "Wholesale"}, []string{"MRO supplies", "wholesale goods", "bulk consumables"}},
		44: {[]string{"Retail", "Stores", "Outfitters"}, []string{"retail purchases", "workwear", "small tools"}},
		45: {[]string{"Retail", "Stores", "Outfitters"}, []string{"retail purchases", "workwear", "small tools"}},
		48: {[]string{"Logistics", "Freight", "Transport", "Shipping"}, []string{"freight services", "air freight", "container haulage", "fuel surcharge"}},
		49: {[]string{"Logistics", "Warehousing", "Couriers"}, []string{"warehousing", "courier services", "pallet storage"}},
		51: {[]string{"Software", "Media", "Telecom", "Data"}, []string{"cloud hosting", "software licences", "telecom services"}},
		52: {[]string{"Capital", "Financial", "Insurance"}, []string{"insurance premium", "bank fees", "leasing charges"}},
		53: {[]string{"Properties", "Realty", "Leasing"}, []string{"office rent", "equipment lease", "service charge"}},
		54: {[]string{"Consulting", "Engineering", "Advisory", "Legal"}, []string{"consulting hours", "engineering services", "legal fees", "audit fees"}},
		55: {[]string{"Holdings", "Management"}, []string{"management fees"}},
		56: {[]string{"Staffing", "Facilities", "Services"}, []string{"temporary staff", "cleaning services", "security services", "waste collection"}},
		61: {[]string{"Training", "Academy", "Learning"}, []string{"training courses", "certification fees"}},
		62: {[]string{"Health", "Medical", "Care"}, []string{"occupational health", "medical supplies"}},
		71: {[]string{"Events", "Leisure"}, []string{"event tickets", "venue hire"}},
		72: {[]string{"Hospitality", "Catering", "Hotels"}, []string{"hotel nights", "catering", "meals"}},
		81: {[]string{"Services", "Repair"}, []string{"equipment repair", "vehicle servicing"}},
		92: {[]string{"Authority", "Agency"}, []string{"permits and fees", "licensing"}},
	}
)

// sectorOf maps a NAICS code to its two-digit sector's vocabulary; codes
// that are not numeric get a generic one.
func sectorOf(naics string) sector {
	if len(naics) >= 2 {
		if n, err := strconv.Atoi(naics[:2]); err == nil {
			if s, ok := sectors[n]; ok { // a lookup, not an iteration: order-free
				return s
			}
		}
	}
	return sectorDefault
}

// popularity is the weight of each supplier rank: a Zipf(zipfS) law with a
// uniform floor (see uniformShare). It sums to 1.
func popularity(n int) []float64 {
	p := make([]float64, n)
	sum := 0.0
	for r := range p {
		p[r] = math.Pow(float64(r+1), -zipfS)
		sum += p[r]
	}
	for r := range p {
		p[r] = (1-uniformShare)*p[r]/sum + uniformShare/float64(n)
	}
	return p
}

// alias is Walker's alias table: O(1) draws from a discrete distribution,
// cheaper per row than a binary search over a 10,000-entry CDF.
type alias struct {
	prob  []float64
	other []int32
}

func newAlias(p []float64) alias {
	n := len(p)
	a := alias{prob: make([]float64, n), other: make([]int32, n)}
	scaled := make([]float64, n)
	var small, large []int32
	for i, v := range p {
		scaled[i] = v * float64(n)
		if scaled[i] < 1 {
			small = append(small, int32(i))
		} else {
			large = append(large, int32(i))
		}
	}
	for len(small) > 0 && len(large) > 0 {
		s, l := small[len(small)-1], large[len(large)-1]
		small = small[:len(small)-1]
		a.prob[s], a.other[s] = scaled[s], l
		scaled[l] -= 1 - scaled[s]
		if scaled[l] < 1 {
			large = large[:len(large)-1]
			small = append(small, l)
		}
	}
	// Whatever is left is 1 up to rounding.
	for _, i := range large {
		a.prob[i], a.other[i] = 1, i
	}
	for _, i := range small {
		a.prob[i], a.other[i] = 1, i
	}
	return a
}

func (a alias) draw(rng *rand.Rand) int {
	i := rng.IntN(len(a.prob))
	if rng.Float64() < a.prob[i] {
		return i
	}
	return int(a.other[i])
}

// incr adds one to a fixed-width ASCII decimal counter; cheaper than
// formatting the row number each time.
func incr(d []byte) {
	for i := len(d) - 1; i >= 0; i-- {
		if d[i] != '9' {
			d[i]++
			return
		}
		d[i] = '0'
	}
}

// appendCents writes cents as a decimal with exactly two places.
func appendCents(b []byte, cents int64) []byte {
	if cents < 0 {
		b = append(b, '-')
		cents = -cents
	}
	b = strconv.AppendInt(b, cents/100, 10)
	c := cents % 100
	return append(b, '.', byte('0'+c/10), byte('0'+c%10))
}

// csvField applies encoding/csv's rules: quote a field holding a comma,
// quote, CR or LF (or starting with a space), doubling inner quotes.
func csvField(s string) string {
	need := s != "" && s[0] == ' '
	for i := 0; i < len(s) && !need; i++ {
		switch s[i] {
		case ',', '"', '\n', '\r':
			need = true
		}
	}
	if !need {
		return s
	}
	q := make([]byte, 0, len(s)+4)
	q = append(q, '"')
	for i := range len(s) {
		if s[i] == '"' {
			q = append(q, '"')
		}
		q = append(q, s[i])
	}
	return string(append(q, '"'))
}

// check refuses options out of range and fills in the defaults.
func (opts *Options) check() error {
	switch {
	case len(opts.Codes) == 0:
		return errors.New("spendgen: no NAICS codes to draw from")
	case opts.Rows < 0 || opts.Rows > 999_999_999:
		return fmt.Errorf("spendgen: Rows %d out of range [0, 999999999]", opts.Rows)
	case opts.Suppliers > 100_000:
		return fmt.Errorf("spendgen: Suppliers %d > 100000", opts.Suppliers)
	case opts.Mix && len(opts.Activities) == 0:
		return errors.New("spendgen: no activities to draw from")
	case opts.Days > 1_000_000:
		return fmt.Errorf("spendgen: Days %d > 1000000", opts.Days)
	}
	opts.Suppliers = cmp.Or(max(opts.Suppliers, 0), 10_000)
	opts.Seed = cmp.Or(opts.Seed, 1)
	start, days := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC), 366
	if opts.Mix {
		start, days = mixStart, mixDays
	}
	if opts.Start.IsZero() {
		opts.Start = start
	}
	opts.Days = cmp.Or(max(opts.Days, 0), days)
	// Dates are fixed-width YYYY-MM-DD only for years 0000-9999.
	if first, last := opts.Start, opts.Start.AddDate(0, 0, opts.Days-1); first.Year() < 0 || last.Year() > 9999 {
		return fmt.Errorf("spendgen: dates %s..%s leave years 0-9999", first.Format(time.DateOnly), last.Format(time.DateOnly))
	}
	return nil
}

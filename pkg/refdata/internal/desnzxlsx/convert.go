// Package desnzxlsx converts the DESNZ 2024 GHG conversion factors workbook
// (full set, xlsx) into the CSV refdata ships. It is kept apart from
// refdata so that only the generator and its test link the xlsx reader;
// the services read the generated CSV.
package desnzxlsx

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/xuri/excelize/v2"

	"github.com/vcci-dev/vcci/pkg/refdata"
	"github.com/vcci-dev/vcci/pkg/units"
)

// Source is the workbook's file name in data/source, kept unchanged (its
// provenance is in data/README.md).
const Source = "ghg-conversion-factors-2024-full_set__for_advanced_users__v1_1.xlsx"

// Output is the generated file's name in data/.
const Output = "desnz_2024.csv"

// Conversion is the generator's entry for the workbook: kept apart from
// refdata.Conversions so that only the generator and tests link excelize.
func Conversion() refdata.Conversion {
	return refdata.Conversion{Source: Source, Output: Output, Convert: Convert}
}

// Header is the first line of the generated file.
const Header = "activity,sheet,scope3_category,unit,kg_co2e,kg_co2,kg_ch4,kg_n2o,region,description"

// sheet is one workbook sheet vcci offers, the prefix of its activity ids
// and the GHG Protocol Scope 3 category a line takes by default (0: the
// sheet is a Scope 1 or 2 factor with no single Scope 3 category, so a
// line must name its own; see data/README.md).
type sheet struct {
	name     string
	prefix   string
	category int16
}

// sheets lists the sheets converted, in the order the file holds them.
var sheets = []sheet{
	{"Fuels", "fuels", 0},
	{"Passenger vehicles", "passenger-vehicles", 6},
	{"Delivery vehicles", "delivery-vehicles", 4},
	{"UK electricity", "uk-electricity", 0},
	{"Heat and steam", "heat-and-steam", 0},
	{"WTT- fuels", "wtt-fuels", 3},
	{"Transmission and distribution", "t-and-d", 3},
	{"Water supply", "water-supply", 1},
	{"Water treatment", "water-treatment", 5},
	{"Material use", "material-use", 1},
	{"Waste disposal", "waste-disposal", 5},
	{"Business travel- air", "air", 6},
	{"Business travel- sea", "sea", 6},
	{"Business travel- land", "land", 6},
	{"Freighting goods", "freight", 4},
	{"Hotel stay", "hotel", 6},
}

// noTable are sheets read only to check they still hold no factors: if a
// later edition adds a table, the converter must be taught it.
var noTable = []string{"Overseas electricity"}

// The edition the converter understands; each sheet's title block says it.
const (
	edition = "1.1"
	year    = "2024"
)

// Convert reads the workbook and returns the CSV: one line per published
// factor and column group (for example with and without radiative
// forcing), in the workbook's order. Any shape it does not understand is
// an error naming the sheet and row.
func Convert(xlsx []byte) ([]byte, error) {
	f, err := excelize.OpenReader(bytes.NewReader(xlsx))
	if err != nil {
		return nil, fmt.Errorf("desnzxlsx.Convert: %w", err)
	}
	defer f.Close()

	var b bytes.Buffer
	w := csv.NewWriter(&b)
	if err := w.Write(strings.Split(Header, ",")); err != nil {
		return nil, fmt.Errorf("desnzxlsx.Convert: %w", err)
	}
	seen := map[string]string{}
	for _, s := range sheets {
		rows, err := readSheet(f, s.name)
		if err != nil {
			return nil, err
		}
		factors, err := s.factors(rows)
		if err != nil {
			return nil, fmt.Errorf("desnzxlsx.Convert: sheet %q: %w", s.name, err)
		}
		for _, fa := range factors {
			if where, dup := seen[fa.activity]; dup {
				return nil, fmt.Errorf("desnzxlsx.Convert: activity %q is both %s and %s", fa.activity, where, fa.where)
			}
			seen[fa.activity] = fa.where
			if err := w.Write([]string{fa.activity, s.name, strconv.Itoa(int(s.category)), fa.unit,
				fa.values[0], fa.values[1], fa.values[2], fa.values[3], fa.region, fa.description}); err != nil {
				return nil, fmt.Errorf("desnzxlsx.Convert: %w", err)
			}
		}
	}
	for _, name := range noTable {
		rows, err := readSheet(f, name)
		if err != nil {
			return nil, err
		}
		if len(headerRows(rows)) != 0 {
			return nil, fmt.Errorf("desnzxlsx.Convert: sheet %q now has a factor table", name)
		}
	}
	w.Flush()
	return b.Bytes(), w.Error()
}

// readSheet returns the sheet's cells as stored (RawCellValue: the number
// a cell holds, not its display format), trimmed, one slice per row with
// the row's index its position (row n of the sheet is rows[n-1]), and
// checks its title block names the edition converted.
func readSheet(f *excelize.File, name string) ([][]string, error) {
	rows, err := f.GetRows(name, excelize.Options{RawCellValue: true})
	if err != nil {
		return nil, fmt.Errorf("desnzxlsx: sheet %q: %w", name, err)
	}
	for _, r := range rows {
		for j := range r {
			r[j] = strings.TrimSpace(r[j])
		}
	}
	want := map[string]string{"Emissions source:": name, "Factor set:": "Full set", "Version:": edition, "Year:": year}
	for _, r := range rows[:min(len(rows), 8)] {
		for j := 0; j+1 < len(r); j++ {
			w, ok := want[r[j]]
			if !ok {
				continue
			}
			got := r[j+1]
			if v, err := exact(got); err == nil {
				got = v
			}
			if got != w {
				return nil, fmt.Errorf("desnzxlsx: sheet %q: %s %q, want %q", name, r[j], got, w)
			}
			delete(want, r[j])
		}
	}
	if len(want) != 0 {
		return nil, fmt.Errorf("desnzxlsx: sheet %q: the title block lacks %v", name, want)
	}
	return rows, nil
}

// exact returns the decimal a cell holds. An xlsx stores a number as the
// text of a binary double written with 17 significant digits
// ("0.20705000000000001"); the shortest decimal that reads back as the
// same double ("0.20705") is the number the publisher typed, so that is
// the one kept. Nothing is rounded: the result and the cell are the same
// double.
func exact(cell string) (string, error) {
	v, err := strconv.ParseFloat(cell, 64)
	if err != nil || math.IsInf(v, 0) || math.IsNaN(v) {
		return "", fmt.Errorf("%q is not a number", cell)
	}
	s := strconv.FormatFloat(v, 'f', -1, 64)
	if back, _ := strconv.ParseFloat(s, 64); back != v {
		return "", fmt.Errorf("%q does not read back as itself", cell)
	}
	return s, nil
}

func cell(r []string, j int) string {
	if j < len(r) {
		return r[j]
	}
	return ""
}

func blank(r []string) bool {
	for _, c := range r {
		if c != "" {
			return false
		}
	}
	return true
}

// headerRows returns the index of every table header: a row whose first
// cell is "Activity".
func headerRows(rows [][]string) []int {
	var hs []int
	for i, r := range rows {
		if cell(r, 0) == "Activity" {
			hs = append(hs, i)
		}
	}
	return hs
}

// The value columns of a group, in file order: total, then the three
// gases' shares (CO2e under AR5, as the sheet says; a sheet may give only
// the total).
var gasHeaders = []string{"kg CO2e of CO2 per unit", "kg CO2e of CH4 per unit", "kg CO2e of N2O per unit"}

// group is one set of value columns under a header: a name from the row
// above ("" when the table has one group), and its columns: CO2e, CO2,
// CH4, N2O (-1 where the sheet gives none).
type group struct {
	name string
	cols [4]int
}

// layout is a table's header read by name.
type layout struct {
	labels []string // the label columns' headers, from column A
	unit   int
	year   int // -1 when the table has no Year column
	width  int
	groups []group
}

func readLayout(rows [][]string, h int) (layout, error) {
	hdr := rows[h]
	l := layout{unit: -1, year: -1, width: len(hdr)}
	j := 0
	for ; j < len(hdr) && hdr[j] != "Unit"; j++ {
		if hdr[j] == "" {
			return l, fmt.Errorf("row %d: blank label header in column %d", h+1, j+1)
		}
		l.labels = append(l.labels, hdr[j])
	}
	if j == len(hdr) {
		return l, fmt.Errorf("row %d: no Unit column", h+1)
	}
	l.unit = j
	j++
	if cell(hdr, j) == "Year" {
		l.year = j
		j++
	}
	for ; j < len(hdr); j++ {
		switch c := hdr[j]; c {
		case "kg CO2e":
			l.groups = append(l.groups, group{cols: [4]int{j, -1, -1, -1}})
		case "":
			l.width = min(l.width, j)
		default:
			k := indexOf(gasHeaders, c)
			if k < 0 || len(l.groups) == 0 || l.width < j {
				return l, fmt.Errorf("row %d: unexpected header %q in column %d", h+1, c, j+1)
			}
			g := &l.groups[len(l.groups)-1]
			if g.cols[k+1] >= 0 {
				return l, fmt.Errorf("row %d: %q twice in one group", h+1, c)
			}
			g.cols[k+1] = j
		}
	}
	if len(l.groups) == 0 {
		return l, fmt.Errorf("row %d: no kg CO2e column", h+1)
	}
	if len(l.groups) == 1 {
		// A single group's row above, when not blank over the value
		// column, is a note; a name there would be a group we missed.
		if h > 0 && cell(rows[h-1], l.groups[0].cols[0]) != "" {
			return l, fmt.Errorf("row %d: text %q above the only kg CO2e column", h, cell(rows[h-1], l.groups[0].cols[0]))
		}
		return l, nil
	}
	// Several groups: each is named in the row directly above its kg CO2e
	// column, and nothing else is written there.
	above := rows[h-1]
	named := map[int]bool{}
	for i := range l.groups {
		c := l.groups[i].cols[0]
		if l.groups[i].name = cell(above, c); l.groups[i].name == "" {
			return l, fmt.Errorf("row %d: no group name above column %d", h, c+1)
		}
		named[c] = true
	}
	for j, c := range above {
		if c != "" && !named[j] {
			return l, fmt.Errorf("row %d: %q in column %d is not above a kg CO2e column", h, c, j+1)
		}
	}
	return l, nil
}

func indexOf(xs []string, x string) int {
	for i, s := range xs {
		if s == x {
			return i
		}
	}
	return -1
}

// factor is one line of the generated file.
type factor struct {
	activity, unit, region, description, where string
	values                                     [4]string // CO2e, CO2, CH4, N2O; "" where not given
}

// factors reads every table on the sheet. A table runs from its header to
// the first blank row. A blank label means "as in the row above", but only
// under an unchanged higher label: a blank after a new label is a shape
// this converter does not know.
func (s sheet) factors(rows [][]string) ([]factor, error) {
	hs := headerRows(rows)
	if len(hs) == 0 {
		return nil, errors.New("no table (no row starting with Activity)")
	}
	var out []factor
	for _, h := range hs {
		l, err := readLayout(rows, h)
		if err != nil {
			return nil, err
		}
		var prev []string
		for i := h + 1; i < len(rows) && !blank(rows[i]); i++ {
			r := rows[i]
			labels := make([]string, len(l.labels))
			carried := true
			for k := range labels {
				labels[k] = cell(r, k)
				switch {
				case labels[k] != "":
					carried = false
				case !carried || prev == nil:
					return nil, fmt.Errorf("row %d: blank %s with nothing to carry down", i+1, l.labels[k])
				default:
					labels[k] = prev[k]
				}
			}
			prev = labels
			for j := l.width; j < len(r); j++ {
				if r[j] != "" {
					return nil, fmt.Errorf("row %d: %q in column %d, outside the table", i+1, r[j], j+1)
				}
			}
			if l.year >= 0 && cell(r, l.year) != year {
				return nil, fmt.Errorf("row %d: year %q, want %s", i+1, cell(r, l.year), year)
			}
			row, err := s.row(labels, cell(r, l.unit), r, l.groups)
			if err != nil {
				return nil, fmt.Errorf("row %d: %w", i+1, err)
			}
			out = append(out, row...)
		}
	}
	return out, nil
}

// row makes the factors of one sheet row: one per group with a total. A
// group with no total is a factor the workbook does not publish (its
// guidance says so); a gas share without a total is an error.
func (s sheet) row(labels []string, unitLabel string, r []string, groups []group) ([]factor, error) {
	unit, ok := units.Normalize(unitLabel)
	if !ok {
		return nil, fmt.Errorf("unit %q: %w", unitLabel, units.ErrUnknownUnit)
	}
	region, err := s.region(labels)
	if err != nil {
		return nil, err
	}
	var out []factor
	for _, g := range groups {
		var fa factor
		for k, c := range g.cols {
			if c < 0 || cell(r, c) == "" {
				continue
			}
			v, err := exact(cell(r, c))
			if err != nil {
				return nil, fmt.Errorf("column %d: %w", c+1, err)
			}
			fa.values[k] = v
		}
		if fa.values[0] == "" {
			if fa.values != [4]string{} {
				return nil, fmt.Errorf("group %q has gas shares but no kg CO2e", g.name)
			}
			continue
		}
		path := []string{s.prefix}
		for _, lab := range labels {
			if !strings.EqualFold(lab, s.name) {
				path = append(path, slug(lab))
			}
		}
		desc := strings.Join(labels, " / ")
		if g.name != "" {
			path = append(path, slug(g.name))
			desc += " / " + g.name
		}
		fa.activity = strings.Join(append(path, unit), ".")
		fa.unit = unit
		fa.region = region
		fa.description = desc + ", per " + unitLabel
		fa.where = fmt.Sprintf("%s %s", s.name, desc)
		out = append(out, fa)
	}
	return out, nil
}

// region is where a factor applies: the country a hotel-stay row names,
// otherwise the UK, whose data the whole workbook describes.
func (s sheet) region(labels []string) (string, error) {
	if s.name != "Hotel stay" {
		return "GB", nil
	}
	c := labels[len(labels)-1]
	code, ok := countries[c]
	if !ok {
		return "", fmt.Errorf("country %q has no ISO 3166 code here", c)
	}
	return code, nil
}

// countries are the Hotel stay sheet's country names, with their ISO
// 3166-1 alpha-2 codes.
var countries = map[string]string{
	"UK": "GB", "UK (London)": "GB", "Argentina": "AR", "Australia": "AU", "Austria": "AT", "Belgium": "BE",
	"Brazil": "BR", "Canada": "CA", "Chile": "CL", "China": "CN", "Colombia": "CO", "Costa Rica": "CR",
	"Czech Republic": "CZ", "Egypt": "EG", "Fiji": "FJ", "Finland": "FI", "France": "FR", "Germany": "DE",
	"Greece": "GR", "Hong Kong, China": "HK", "India": "IN", "Indonesia": "ID", "Ireland": "IE", "Israel": "IL",
	"Italy": "IT", "Japan": "JP", "Jordan": "JO", "Kazakhstan": "KZ", "Korea": "KR", "Macau, China": "MO",
	"Malaysia": "MY", "Maldives": "MV", "Mexico": "MX", "Netherlands": "NL", "New Zealand": "NZ", "Oman": "OM",
	"Panama": "PA", "Peru": "PE", "Philippines": "PH", "Poland": "PL", "Portugal": "PT", "Qatar": "QA",
	"Romania": "RO", "Russian Federation": "RU", "Saudi Arabia": "SA", "Singapore": "SG", "South Africa": "ZA",
	"Spain": "ES", "Switzerland": "CH", "Taiwan, China": "TW", "Thailand": "TH", "Turkey": "TR",
	"United Arab Emirates": "AE", "United States": "US", "Vietnam": "VN",
}

// slug makes a label an id segment: lowercase letters, digits and single
// hyphens. Symbols that carry meaning are spelt out ("&" and, ">" over,
// "+" plus, "%" percent) and thousands separators dropped ("200,000+ dwt"
// is "200000-plus-dwt"), so that different labels stay different.
func slug(label string) string {
	var b strings.Builder
	rs := []rune(strings.ToLower(label))
	hyphen := func() {
		if b.Len() > 0 && !strings.HasSuffix(b.String(), "-") {
			b.WriteByte('-')
		}
	}
	word := func(w string) { hyphen(); b.WriteString(w); b.WriteByte('-') }
	for i, r := range rs {
		switch {
		case r >= 'a' && r <= 'z' || r >= '0' && r <= '9':
			b.WriteRune(r)
		case r == ',' && i > 0 && i+1 < len(rs) && isDigit(rs[i-1]) && isDigit(rs[i+1]):
		case r == '&':
			word("and")
		case r == '>':
			word("over")
		case r == '+':
			word("plus")
		case r == '%':
			word("percent")
		default:
			hyphen()
		}
	}
	return strings.Trim(b.String(), "-")
}

func isDigit(r rune) bool { return r >= '0' && r <= '9' }

package intake

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// mapHeader finds each column in the header, read through mapping (header
// name -> column; nil for none). With a mapping, a header name that is
// neither mapped nor a column's own name is ignored and returned in
// ignored; without one it is an error. A required column missing is an
// error whose summary suggests the mapping that would supply it.
func mapHeader(header []string, mapping map[string]string) (layout, []string, *HeaderError) {
	var idx [numColumns]int
	for i := range idx {
		idx[i] = -1
	}
	var errs []RowError
	var unmapped []string
	columns := Columns()
	for i, h := range header {
		c := columnOf(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")), mapping)
		switch {
		case c < 0 && mapping == nil:
			unmapped = append(unmapped, keep(h))
			errs = append(errs, RowError{Row: 1, Column: keep(h), Reason: "unknown column; the columns are " + strings.Join(columns[:], ",") + " (supplier_country and those after it are optional)", Value: keep(h)})
		case c < 0:
			unmapped = append(unmapped, keep(h))
		case idx[c] >= 0:
			errs = append(errs, RowError{Row: 1, Column: columns[c], Reason: fmt.Sprintf("column appears twice (fields %d and %d)", idx[c]+1, i+1)})
		default:
			idx[c] = i
		}
	}
	var missing []int
	for c, col := range columns {
		if idx[c] < 0 && !optional(c) {
			missing = append(missing, c)
			errs = append(errs, RowError{Row: 1, Column: col, Reason: "missing required column"})
		}
	}
	lay := layout{idx: idx, fields: len(header)}
	if len(errs) == 0 {
		return lay, unmapped[:min(len(unmapped), maxIgnoredKept):min(len(unmapped), maxIgnoredKept)], nil
	}
	// Each error is stored: a header of thousands of unknown columns is
	// told as its first ones and a count.
	if len(errs) > maxHeaderErrors {
		more := len(errs) - maxHeaderErrors + 1
		errs = append(errs[:maxHeaderErrors-1], RowError{Row: 1, Reason: fmt.Sprintf("and %d more header errors", more)})
	}
	he := &HeaderError{Errors: errs}
	if len(missing) > 0 {
		he.Summary = missingSummary(missing, unmapped)
	}
	return lay, unmapped, he
}

// columnOf is the column a header name stands for: the mapping's target
// (the name as it is, else ignoring case), else the column of that name;
// -1 for none.
func columnOf(name string, mapping map[string]string) int {
	target, ok := mapping[name]
	if !ok {
		for src, t := range mapping {
			if strings.EqualFold(src, name) {
				target, ok = t, true
				break
			}
		}
	}
	if !ok {
		target = strings.ToLower(name)
	}
	columns := Columns()
	return slices.Index(columns[:], target)
}

// maxIgnoredKept bounds the ignored header names an upload keeps.
const maxIgnoredKept = 100

// maxNamesShown bounds the header names an error lists.
const maxNamesShown = 20

// missingSummary says which required columns are missing, which header
// names no column took, and the mapping of those that would supply the
// missing columns, such as: header: missing supplier_name, amount; unmapped
// columns "Vendor Name", "Net Value"; a mapping {"Vendor Name":
// "supplier_name", "Net Value": "amount"} would fix it.
func missingSummary(missing []int, unmapped []string) string {
	columns := Columns()
	names := make([]string, len(missing))
	for i, c := range missing {
		names[i] = columns[c]
	}
	var b strings.Builder
	fmt.Fprintf(&b, "header: missing %s", strings.Join(names, ", "))
	if len(unmapped) == 0 {
		return b.String()
	}
	b.WriteString("; unmapped columns ")
	for i, h := range unmapped[:min(len(unmapped), maxNamesShown)] {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%q", h)
	}
	if len(unmapped) > maxNamesShown {
		fmt.Fprintf(&b, " and %d more", len(unmapped)-maxNamesShown)
	}
	found := suggest(missing, unmapped)
	var pairs, unmatched []string
	for _, c := range missing {
		if h, ok := found[c]; ok {
			pairs = append(pairs, fmt.Sprintf("%q: %q", h, columns[c]))
		} else {
			unmatched = append(unmatched, columns[c])
		}
	}
	switch {
	case len(pairs) == 0:
		b.WriteString("; none of them looks like a missing column: map them in a column mapping")
	case len(unmatched) == 0:
		fmt.Fprintf(&b, "; a mapping {%s} would fix it", strings.Join(pairs, ", "))
	default:
		fmt.Fprintf(&b, "; a mapping {%s} would supply some; none looks like %s", strings.Join(pairs, ", "), strings.Join(unmatched, ", "))
	}
	return b.String()
}

// aliases are the names ERP exports commonly give each column, besides
// its own.
var aliases = [numColumns][]string{
	colTx:           {"transaction", "document number", "document no", "doc number", "invoice number", "invoice", "po number", "reference", "line id", "id"},
	colDate:         {"posting date", "document date", "invoice date", "transaction date", "booking date"},
	colSupplier:     {"vendor id", "vendor number", "vendor no", "vendor code", "supplier number", "supplier code", "creditor", "creditor number"},
	colSupplierName: {"vendor name", "vendor", "supplier", "creditor name", "payee"},
	colNAICS:        {"naics", "industry code", "commodity code"},
	colAmount:       {"net value", "net amount", "value", "spend", "total", "gross amount", "line amount", "amount usd"},
	colCurrency:     {"curr", "currency code", "ccy"},
	colDescription:  {"text", "item text", "memo", "line description", "desc"},
	colCountry:      {"vendor country", "country", "country code"},
}

// suggest pairs missing columns with the unmapped header names most like
// them, best matches first, each name used once.
func suggest(missing []int, unmapped []string) map[int]string {
	type match struct {
		col, name int
		score     float64
	}
	var ms []match
	// A header of thousands of names is compared by its first ones only.
	unmapped = unmapped[:min(len(unmapped), maxNamesCompared)]
	for _, c := range missing {
		for i, h := range unmapped {
			if s := likeness(h, c); s >= minLikeness {
				ms = append(ms, match{c, i, s})
			}
		}
	}
	slices.SortStableFunc(ms, func(a, b match) int { return cmp.Compare(b.score, a.score) })
	out := map[int]string{}
	used := map[int]bool{}
	for _, m := range ms {
		if _, done := out[m.col]; !done && !used[m.name] {
			out[m.col], used[m.name] = unmapped[m.name], true
		}
	}
	return out
}

// maxNamesCompared bounds the header names suggest compares.
const maxNamesCompared = 1000

// minLikeness is the least likeness a suggestion needs.
const minLikeness = 0.6

// likeness scores how much header name h looks like column c, from 0 to 1:
// 1 for the column's name or an alias once case, spaces and punctuation are
// dropped, 0.8 for a name that contains one, else one less the edit
// distance over the longer length.
func likeness(h string, c int) float64 {
	n := normalized(h)
	if n == "" {
		return 0
	}
	best := 0.0
	for _, a := range append([]string{Columns()[c]}, aliases[c]...) {
		a = normalized(a)
		switch {
		case n == a:
			return 1
		case len(a) >= 4 && strings.Contains(n, a):
			best = max(best, 0.8)
		default:
			best = max(best, 1-float64(editDistance(n, a))/float64(max(len(n), len(a))))
		}
	}
	return best
}

// normalized is s in lower case with only its letters and digits.
func normalized(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// editDistance is the Levenshtein distance between a and b (bytes).
func editDistance(a, b string) int {
	prev, cur := make([]int, len(b)+1), make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			sub := prev[j-1]
			if a[i-1] != b[j-1] {
				sub++
			}
			cur[j] = min(sub, prev[j]+1, cur[j-1]+1)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

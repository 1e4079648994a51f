package factors

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/vcci-dev/vcci/pkg/apperr"
	"github.com/vcci-dev/vcci/pkg/decimal"
	"github.com/vcci-dev/vcci/pkg/refdata"
	"github.com/vcci-dev/vcci/pkg/units"
)

// Kind is what a set's factors multiply.
type Kind string

// Kinds of factor sets.
const (
	KindSpend    Kind = "spend"    // dollars, by NAICS-6 code
	KindActivity Kind = "activity" // a quantity, in each factor's unit
)

// CSVColumns are the columns every imported set's CSV has, before its gas
// columns (named by their ids in the GWP table).
var CSVColumns = []string{"code", "title", "value", "category", "unit", "region"}

// MaxViolations is the most bad cells ParseCSV reports.
const MaxViolations = 100

// CSVField is the field every violation of an imported CSV names; its
// description says the row (the header is row 1) and the column.
const CSVField = "csv"

var (
	naics6Re   = regexp.MustCompile(`^\d{6}$`)
	activityRe = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,127}$`)
)

// ParseCSV reads an imported set's factors (docs/methods.md, "Factor set
// versions"): a header of CSVColumns, in any order, and gas columns, then
// one row per factor. Every value is an exact decimal; gases are in
// gasUnit. Each factor is re-expressed under AR4 and AR6 as the shipped
// sets are. Bad input is an InvalidArgument naming up to MaxViolations
// rows and columns; nothing is returned with it.
func ParseCSV(data []byte, kind Kind, gasUnit string) ([]Factor, error) {
	if !utf8.Valid(data) || bytes.IndexByte(data, 0) >= 0 {
		return nil, apperr.Invalid(CSVField, "must be UTF-8 text without NUL bytes")
	}
	gwp, err := refdata.GWPs()
	if err != nil {
		return nil, fmt.Errorf("factors.ParseCSV: %w", err)
	}
	r := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(data, []byte("\ufeff"))))
	header, err := r.Read()
	if err != nil {
		return nil, apperr.Invalid(CSVField, "row 1: no header (%v)", csvErr(err))
	}
	p := &csvParser{kind: kind, gasUnit: gasUnit, seen: map[string]int{}}
	if err := p.readHeader(header, gwp); err != nil {
		return nil, err
	}
	var out []Factor
	for row := 2; len(p.bad) < MaxViolations; row++ {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) && errors.Is(pe.Err, csv.ErrFieldCount) {
				p.violatef(row, "", "has %d columns, the header %d", len(rec), len(header))
				continue
			}
			p.violatef(row, "", "%v", csvErr(err))
			break
		}
		if f, ok := p.parseRow(row, rec); ok {
			out = append(out, f)
		}
	}
	if len(out) == 0 && len(p.bad) == 0 {
		p.violatef(2, "", "no factors: give at least one row")
	}
	if len(p.bad) > 0 {
		return nil, &apperr.Error{Kind: apperr.InvalidArgument, Msg: CSVField + ": " + p.bad[0].Description, Violations: p.bad}
	}
	return out, nil
}

// csvErr is a CSV error without the reader's own line numbering.
func csvErr(err error) error {
	if pe, ok := errors.AsType[*csv.ParseError](err); ok {
		return pe.Err
	}
	return err
}

type csvParser struct {
	kind    Kind
	gasUnit string
	col     map[string]int // CSVColumns' positions
	gases   []string       // gas ids, by position ("" for CSVColumns)
	seen    map[string]int // code -> row
	bad     []apperr.Violation
}

func (p *csvParser) violatef(row int, column, format string, args ...any) {
	if len(p.bad) >= MaxViolations {
		return
	}
	where := "row " + strconv.Itoa(row)
	if column != "" {
		where += ", column " + column
	}
	p.bad = append(p.bad, apperr.Violation{Field: CSVField, Description: where + ": " + fmt.Sprintf(format, args...)})
}

func (p *csvParser) readHeader(header []string, gwp *refdata.GWPTable) error {
	p.col = map[string]int{}
	p.gases = make([]string, len(header))
	known := map[string]bool{}
	for _, c := range CSVColumns {
		known[c] = true
	}
	gasSeen := map[string]bool{}
	for i, h := range header {
		h = strings.TrimSpace(h)
		switch {
		case known[strings.ToLower(h)]:
			c := strings.ToLower(h)
			if _, dup := p.col[c]; dup {
				p.violatef(1, h, "appears twice")
			}
			p.col[c] = i
		case h == "":
			p.violatef(1, strconv.Itoa(i+1), "has no name")
		default:
			if _, err := gwp.GWP(refdata.AR5, h); err != nil {
				p.violatef(1, h, "is neither one of %s nor a gas of the GWP table (%s)", strings.Join(CSVColumns, ", "), strings.Join(gwp.Gases(), ", "))
				continue
			}
			if gasSeen[h] {
				p.violatef(1, h, "appears twice")
			}
			gasSeen[h] = true
			p.gases[i] = h
		}
	}
	for _, c := range CSVColumns {
		if _, ok := p.col[c]; !ok {
			p.violatef(1, c, "missing: the header needs %s, then gas columns", strings.Join(CSVColumns, ","))
		}
	}
	if len(p.bad) > 0 {
		return &apperr.Error{Kind: apperr.InvalidArgument, Msg: CSVField + ": " + p.bad[0].Description, Violations: p.bad}
	}
	return nil
}

// parseRow reads one factor; a bad cell is recorded and the row refused.
func (p *csvParser) parseRow(row int, rec []string) (Factor, bool) {
	n := len(p.bad)
	cell := func(c string) string { return strings.TrimSpace(rec[p.col[c]]) }
	f := Factor{Code: cell("code"), Title: cell("title"), Value: cell("value"), Unit: cell("unit"), Region: cell("region")}
	switch {
	case p.kind == KindSpend && !naics6Re.MatchString(f.Code):
		p.violatef(row, "code", "%q is not a 6-digit NAICS code", f.Code)
	case p.kind == KindActivity && !activityRe.MatchString(f.Code):
		p.violatef(row, "code", "%q is not an activity id: lower-case letters, digits, '.', '-' and '_', at most 128", f.Code)
	default:
		if first, dup := p.seen[f.Code]; dup {
			p.violatef(row, "code", "%s is already on row %d", f.Code, first)
		}
		p.seen[f.Code] = row
	}
	if f.Title == "" {
		p.violatef(row, "title", "required")
	}
	if _, _, err := decimal.Parse(f.Value); err != nil {
		p.violatef(row, "value", "%q is not an exact decimal (kg CO2e per unit, under AR5)", f.Value)
	}
	p.category(row, &f, cell("category"))
	switch _, known := units.Normalize(f.Unit); {
	case p.kind == KindSpend && f.Unit != "":
		p.violatef(row, "unit", "must be empty in a spend set: its factors are per the set's unit")
	case p.kind == KindActivity && !known:
		p.violatef(row, "unit", "%q is not a unit vcci converts (docs/methods.md lists them)", f.Unit)
	}
	for i, gas := range p.gases {
		v := strings.TrimSpace(rec[i])
		if gas == "" || v == "" {
			continue
		}
		if _, _, err := decimal.Parse(v); err != nil {
			p.violatef(row, gas, "%q is not an exact decimal", v)
			continue
		}
		f.Gases = append(f.Gases, refdata.GasFactor{Gas: gas, Value: v})
	}
	if len(p.bad) > n {
		return Factor{}, false
	}
	if err := Reexpress(&f, p.gasUnit); err != nil {
		p.violatef(row, "", "%v", err)
		return Factor{}, false
	}
	return f, true
}

// category reads a factor's default Scope 3 category: an activity factor
// may have none (a line using it names one); a spend factor without one
// takes CategoryOf its code, as the shipped EPA set does.
func (p *csvParser) category(row int, f *Factor, s string) {
	if s == "" {
		if p.kind == KindSpend {
			f.Category = CategoryOf(f.Code)
		}
		return
	}
	c, err := strconv.ParseInt(s, 10, 16)
	if err != nil || c < 1 || c > 15 {
		p.violatef(row, "category", "%q is not a Scope 3 category (1 to 15)", s)
		return
	}
	f.Category = int16(c)
}

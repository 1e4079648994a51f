// Package document is a report as data: sections of text, tables of exact
// values and charts, which every format (PDF, XLSX, CSV, JSON) renders
// without computing anything, so their numbers cannot differ.
package document

import (
	"fmt"
	"math/big"
	"strings"
	"time"
)

// Document is one report.
type Document struct {
	// Kind is the report kind's name, as the API spells it.
	Kind  string `json:"kind"`
	Title string `json:"title"`
	// Subtitle names the organisation, period and basis in a line.
	Subtitle    string    `json:"subtitle,omitempty"`
	GeneratedAt time.Time `json:"generatedAt"`
	Sections    []Section `json:"sections"`
}

// Section is a titled part of a report, listed in the PDF's contents.
type Section struct {
	Title      string   `json:"title"`
	Paragraphs []string `json:"paragraphs,omitempty"`
	Tables     []Table  `json:"tables,omitempty"`
	Charts     []Chart  `json:"charts,omitempty"`
}

// ColumnKind says how a column's cells read and are shown.
type ColumnKind string

const (
	// Text cells are shown as they are.
	Text ColumnKind = "text"
	// Decimal cells are exact decimals ("1234.5678"), shown with
	// thousands separators to the column's Decimals.
	Decimal ColumnKind = "decimal"
	// Percent cells are exact decimals of percent ("12.5" is 12.5 %).
	Percent ColumnKind = "percent"
	// Integer cells are whole numbers.
	Integer ColumnKind = "integer"
)

// Column is a table's column: its title, unit ("t CO2e", "USD", "%") and
// how its cells read.
type Column struct {
	Title    string     `json:"title"`
	Unit     string     `json:"unit,omitempty"`
	Kind     ColumnKind `json:"kind"`
	Decimals int        `json:"decimals,omitempty"`
}

// Table is rows of cells under columns. Name is its key in every format
// (the XLSX sheet, the CSV file in the zip, the JSON field): short, unique
// in a document, letters, digits and underscores.
type Table struct {
	Name    string     `json:"name"`
	Title   string     `json:"title"`
	Columns []Column   `json:"columns"`
	Rows    [][]string `json:"rows"`
	// Notes are footnotes under the table.
	Notes []string `json:"notes,omitempty"`
}

// ChartKind is a chart's shape.
type ChartKind string

const (
	// Bar is one bar per label, a series per colour.
	Bar ChartKind = "bar"
	// StackedBar stacks the series on each label (a mix that adds to a
	// whole).
	StackedBar ChartKind = "stacked_bar"
	// Line is a series over ordered labels (months).
	Line ChartKind = "line"
	// Pareto is bars in descending order with their cumulative share as a
	// line on a 0-100 % axis.
	Pareto ChartKind = "pareto"
)

// Chart is a figure drawn from values the document's tables also hold.
type Chart struct {
	Kind   ChartKind `json:"kind"`
	Title  string    `json:"title"`
	XLabel string    `json:"xLabel"`
	// YLabel names the value axis with its unit ("t CO2e").
	YLabel string   `json:"yLabel"`
	Labels []string `json:"labels"`
	Series []Series `json:"series"`
}

// Series is one named run of values, one per label.
type Series struct {
	Name   string    `json:"name"`
	Values []float64 `json:"values"`
}

// Validate reports the first thing wrong with d that a renderer could not
// show: a duplicate or empty table name, a row of the wrong width, a cell
// that is not a number in a numeric column, a series of the wrong length.
func (d Document) Validate() error {
	names := map[string]bool{}
	for _, s := range d.Sections {
		for _, t := range s.Tables {
			if t.Name == "" || names[t.Name] {
				return fmt.Errorf("document %s: table %q: empty or duplicate name", d.Kind, t.Name)
			}
			names[t.Name] = true
			if err := d.validateRows(t); err != nil {
				return err
			}
		}
		for _, c := range s.Charts {
			for _, sr := range c.Series {
				if len(sr.Values) != len(c.Labels) {
					return fmt.Errorf("document %s: chart %q series %q: %d values for %d labels", d.Kind, c.Title, sr.Name, len(sr.Values), len(c.Labels))
				}
			}
		}
	}
	return nil
}

// validateRows checks t's rows' widths and numeric cells.
func (d Document) validateRows(t Table) error {
	for i, r := range t.Rows {
		if len(r) != len(t.Columns) {
			return fmt.Errorf("document %s: table %s row %d: %d cells for %d columns", d.Kind, t.Name, i, len(r), len(t.Columns))
		}
		for j, c := range t.Columns {
			if c.Kind == Text || r[j] == "" {
				continue
			}
			if _, ok := new(big.Rat).SetString(r[j]); !ok {
				return fmt.Errorf("document %s: table %s row %d column %q: %q is not a number", d.Kind, t.Name, i, c.Title, r[j])
			}
		}
	}
	return nil
}

// Tables lists every table in section order.
func (d Document) Tables() []Table {
	var out []Table
	for _, s := range d.Sections {
		out = append(out, s.Tables...)
	}
	return out
}

// Thousands puts commas between groups of three integer digits of a
// plain decimal ("-1234567.5" -> "-1,234,567.5").
func Thousands(s string) string {
	sign := ""
	if strings.HasPrefix(s, "-") {
		sign, s = "-", s[1:]
	}
	intPart, frac := s, ""
	if i := strings.IndexByte(s, '.'); i >= 0 {
		intPart, frac = s[:i], s[i:]
	}
	var b strings.Builder
	b.WriteString(sign)
	for i, ch := range intPart {
		if i > 0 && (len(intPart)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(ch)
	}
	b.WriteString(frac)
	return b.String()
}

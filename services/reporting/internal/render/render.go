// Package render writes a document.Document as PDF, XLSX, CSV (a zip of
// one file per table) or JSON. Renderers only lay out what the document
// holds; every number comes from its cells, so the formats agree.
package render

import (
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"strconv"

	"github.com/vcci-dev/vcci/services/reporting/internal/document"
)

// Format is an output format's name, as the API spells it.
type Format string

const (
	PDF  Format = "PDF"
	XLSX Format = "XLSX"
	// CSV is a zip of one CSV file per table plus about.txt.
	CSV  Format = "CSV"
	JSON Format = "JSON"
)

// Render validates d and writes it to w in format f.
func Render(w io.Writer, d document.Document, f Format) error {
	if err := d.Validate(); err != nil {
		return err
	}
	switch f {
	case PDF:
		return renderPDF(w, d)
	case XLSX:
		return renderXLSX(w, d)
	case CSV:
		return renderCSV(w, d)
	case JSON:
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		if err := enc.Encode(d); err != nil {
			return fmt.Errorf("render.JSON: %w", err)
		}
		return nil
	}
	return fmt.Errorf("render: unknown format %q", f)
}

// ContentType is the media type of f's output, "" for an unknown format.
func ContentType(f Format) string {
	switch f {
	case PDF:
		return "application/pdf"
	case XLSX:
		return "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
	case CSV:
		return "application/zip"
	case JSON:
		return "application/json"
	}
	return ""
}

// Extension is the file extension of f's output, "" for an unknown format.
func Extension(f Format) string {
	switch f {
	case PDF:
		return ".pdf"
	case XLSX:
		return ".xlsx"
	case CSV:
		return ".zip"
	case JSON:
		return ".json"
	}
	return ""
}

// generated is the report's time as every format shows it.
func generated(d document.Document) string {
	return d.GeneratedAt.UTC().Format("2006-01-02 15:04 UTC")
}

// columnHeader is a column's title with its unit: "Emissions (t CO2e)".
// A percent column says "%" even without a unit: the XLSX and CSV hold
// its cells as plain numbers (12.5 for 12.5 %).
func columnHeader(c document.Column) string {
	unit := c.Unit
	if unit == "" && c.Kind == document.Percent {
		unit = "%"
	}
	if unit == "" {
		return c.Title
	}
	return c.Title + " (" + unit + ")"
}

// numeric reports whether c's cells are numbers.
func numeric(c document.Column) bool {
	return c.Kind == document.Decimal || c.Kind == document.Percent || c.Kind == document.Integer
}

// decimals is how many decimals c's cells are shown with.
func decimals(c document.Column) int {
	if c.Kind == document.Integer {
		return 0
	}
	return c.Decimals
}

// formatCell shows a cell for reading: numbers rounded half away from
// zero to the column's decimals, with thousands separators, percents
// with " %". Validate has checked that numeric cells parse.
func formatCell(c document.Column, v string) string {
	if !numeric(c) || v == "" {
		return v
	}
	r, ok := new(big.Rat).SetString(v)
	if !ok {
		return v
	}
	s := document.Thousands(r.FloatString(decimals(c)))
	if c.Kind == document.Percent {
		s += " %"
	}
	return s
}

// cellFloat is a numeric cell as the nearest float64. Validate accepts
// what big.Rat reads ("1/3" too), so fall back to it.
func cellFloat(v string) float64 {
	if f, err := strconv.ParseFloat(v, 64); err == nil {
		return f
	}
	r, _ := new(big.Rat).SetString(v)
	f, _ := r.Float64()
	return f
}

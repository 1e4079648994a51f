package render

import (
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/xuri/excelize/v2"

	"github.com/vcci-dev/vcci/services/reporting/internal/document"
)

// maxSheetName is Excel's limit on a sheet name's length.
const maxSheetName = 31

// renderXLSX writes an "About" sheet with the report's text, then a sheet
// per table. Numeric cells are numbers with a number format for the
// column's decimals. Percent cells keep the document's value (12.5 is
// 12.5 %) under a "(%)" header rather than Excel's percent format, which
// would need the value divided by 100 and so differ from the other formats.
func renderXLSX(w io.Writer, d document.Document) error {
	f := excelize.NewFile()
	defer f.Close()
	tables := d.Tables()
	sheets := sheetNames(tables)
	if err := writeAboutSheet(f, d, sheets); err != nil {
		return fmt.Errorf("render.XLSX: %w", err)
	}
	for i, t := range tables {
		if err := writeTableSheet(f, sheets[i], t); err != nil {
			return fmt.Errorf("render.XLSX table %s: %w", t.Name, err)
		}
	}
	if _, err := f.WriteTo(w); err != nil {
		return fmt.Errorf("render.XLSX: %w", err)
	}
	return nil
}

// writeAboutSheet writes the report's text and, under each section, the
// sheets its tables are on (sheets: one per table in document order).
func writeAboutSheet(f *excelize.File, d document.Document, sheets []string) error {
	const sheet = "About"
	if err := f.SetSheetName(f.GetSheetName(0), sheet); err != nil {
		return fmt.Errorf("sheet %s: SetSheetName: %w", sheet, err)
	}
	title, err := f.NewStyle(&excelize.Style{Font: &excelize.Font{Bold: true, Size: 16}})
	if err != nil {
		return fmt.Errorf("sheet %s: NewStyle: %w", sheet, err)
	}
	heading, err := f.NewStyle(&excelize.Style{Font: &excelize.Font{Bold: true, Size: 12}})
	if err != nil {
		return fmt.Errorf("sheet %s: NewStyle: %w", sheet, err)
	}
	wrap, err := f.NewStyle(&excelize.Style{Alignment: &excelize.Alignment{WrapText: true, Vertical: "top"}})
	if err != nil {
		return fmt.Errorf("sheet %s: NewStyle: %w", sheet, err)
	}
	if err := f.SetColWidth(sheet, "A", "A", 100); err != nil {
		return fmt.Errorf("sheet %s: SetColWidth: %w", sheet, err)
	}
	type line struct {
		v     string
		style int
	}
	lines := []line{{d.Title, title}, {d.Subtitle, wrap}, {"Generated " + generated(d), wrap}}
	table := 0
	for _, s := range d.Sections {
		lines = append(lines, line{"", wrap}, line{s.Title, heading})
		for _, p := range s.Paragraphs {
			lines = append(lines, line{p, wrap})
		}
		for _, t := range s.Tables {
			lines = append(lines, line{fmt.Sprintf("Sheet %s: %s", sheets[table], t.Title), wrap})
			table++
		}
	}
	for i, l := range lines {
		cell := fmt.Sprintf("A%d", i+1)
		if err := f.SetCellStr(sheet, cell, l.v); err != nil {
			return fmt.Errorf("sheet %s cell %s: SetCellStr: %w", sheet, cell, err)
		}
		if err := f.SetCellStyle(sheet, cell, cell, l.style); err != nil {
			return fmt.Errorf("sheet %s cell %s: SetCellStyle: %w", sheet, cell, err)
		}
	}
	return nil
}

// sheetNames names each table's sheet: its name cut to Excel's limit,
// with a "_2", "_3"... suffix where that would repeat a sheet's name
// (Excel compares them ignoring case), "About" or Excel's reserved
// "History".
func sheetNames(tables []document.Table) []string {
	used := map[string]bool{"about": true, "history": true}
	out := make([]string, len(tables))
	for i, t := range tables {
		name := cut(t.Name, maxSheetName)
		for n := 2; used[strings.ToLower(name)]; n++ {
			suffix := fmt.Sprintf("_%d", n)
			name = cut(t.Name, maxSheetName-len(suffix)) + suffix
		}
		used[strings.ToLower(name)] = true
		out[i] = name
	}
	return out
}

// cut is s's first n bytes; table names are ASCII.
func cut(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

func writeTableSheet(f *excelize.File, sheet string, t document.Table) error {
	if _, err := f.NewSheet(sheet); err != nil {
		return fmt.Errorf("sheet %s: NewSheet: %w", sheet, err)
	}
	sw, err := f.NewStreamWriter(sheet)
	if err != nil {
		return fmt.Errorf("sheet %s: NewStreamWriter: %w", sheet, err)
	}
	headStyle, err := f.NewStyle(&excelize.Style{
		Font:      &excelize.Font{Bold: true},
		Fill:      excelize.Fill{Type: "pattern", Pattern: 1, Color: []string{"DDE4EE"}},
		Alignment: &excelize.Alignment{WrapText: true, Vertical: "top"},
	})
	if err != nil {
		return fmt.Errorf("sheet %s: NewStyle: %w", sheet, err)
	}
	styles := make([]int, len(t.Columns))
	for i, c := range t.Columns {
		if !numeric(c) {
			continue
		}
		format := "#,##0"
		if n := decimals(c); n > 0 {
			format += "." + strings.Repeat("0", n)
		}
		if styles[i], err = f.NewStyle(&excelize.Style{CustomNumFmt: &format}); err != nil {
			return fmt.Errorf("sheet %s column %d: NewStyle: %w", sheet, i+1, err)
		}
	}
	// The stream writer wants widths and panes before the first row.
	for i, wd := range columnWidths(t) {
		if err := sw.SetColWidth(i+1, i+1, wd); err != nil {
			return fmt.Errorf("sheet %s column %d: SetColWidth: %w", sheet, i+1, err)
		}
	}
	if err := sw.SetPanes(&excelize.Panes{Freeze: true, YSplit: 1, TopLeftCell: "A2", ActivePane: "bottomLeft"}); err != nil {
		return fmt.Errorf("sheet %s: SetPanes: %w", sheet, err)
	}
	header := make([]any, len(t.Columns))
	for i, c := range t.Columns {
		header[i] = excelize.Cell{StyleID: headStyle, Value: columnHeader(c)}
	}
	if err := sw.SetRow("A1", header); err != nil {
		return fmt.Errorf("sheet %s header: SetRow: %w", sheet, err)
	}
	values := make([]any, len(t.Columns))
	for r, row := range t.Rows {
		for i, c := range t.Columns {
			switch v := row[i]; {
			case v == "":
				values[i] = nil
			case numeric(c):
				values[i] = excelize.Cell{StyleID: styles[i], Value: cellFloat(v)}
			default:
				values[i] = v
			}
		}
		cell, err := excelize.CoordinatesToCellName(1, r+2)
		if err != nil {
			return fmt.Errorf("sheet %s row %d: CoordinatesToCellName: %w", sheet, r+2, err)
		}
		if err := sw.SetRow(cell, values); err != nil {
			return fmt.Errorf("sheet %s row %d: SetRow: %w", sheet, r+2, err)
		}
	}
	if err := sw.Flush(); err != nil {
		return fmt.Errorf("sheet %s: Flush: %w", sheet, err)
	}
	return nil
}

// columnWidths fits each column to its header and the first rows' shown
// values, in Excel's character units, between 8 and 50.
func columnWidths(t document.Table) []float64 {
	const sample = 200
	out := make([]float64, len(t.Columns))
	for i, c := range t.Columns {
		n := utf8.RuneCountInString(columnHeader(c))
		for r, row := range t.Rows {
			if r == sample {
				break
			}
			n = max(n, utf8.RuneCountInString(formatCell(c, row[i])))
		}
		out[i] = min(max(float64(n)+2, 8), 50)
	}
	return out
}

package render

import (
	"archive/zip"
	"encoding/csv"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/vcci-dev/vcci/services/reporting/internal/document"
)

// renderCSV writes a zip of <table name>.csv per table, cells exactly as
// the document holds them, plus about.txt with the report's text.
func renderCSV(w io.Writer, d document.Document) error {
	zw := zip.NewWriter(w)
	if err := writeZipFile(zw, "about.txt", d.GeneratedAt, func(w io.Writer) error {
		if _, err := io.WriteString(w, aboutText(d)); err != nil {
			return fmt.Errorf("WriteString: %w", err)
		}
		return nil
	}); err != nil {
		return err
	}
	for _, t := range d.Tables() {
		if err := writeZipFile(zw, t.Name+".csv", d.GeneratedAt, func(w io.Writer) error {
			return writeTableCSV(w, t)
		}); err != nil {
			return err
		}
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("render.CSV: %w", err)
	}
	return nil
}

func writeZipFile(zw *zip.Writer, name string, mod time.Time, write func(io.Writer) error) error {
	f, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Deflate, Modified: mod})
	if err != nil {
		return fmt.Errorf("render.CSV %s: %w", name, err)
	}
	if err := write(f); err != nil {
		return fmt.Errorf("render.CSV %s: %w", name, err)
	}
	return nil
}

func writeTableCSV(w io.Writer, t document.Table) error {
	cw := csv.NewWriter(w)
	header := make([]string, len(t.Columns))
	for i, c := range t.Columns {
		header[i] = columnHeader(c)
	}
	if err := cw.Write(header); err != nil {
		return fmt.Errorf("csv header: %w", err)
	}
	for i, r := range t.Rows {
		if err := cw.Write(defused(t.Columns, r)); err != nil {
			return fmt.Errorf("csv row %d: %w", i+1, err)
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("csv flush: %w", err)
	}
	return nil
}

// defused quotes a text cell a spreadsheet would run as a formula (a
// supplier named "=HYPERLINK(...)") with a leading apostrophe, as OWASP
// advises for CSV; numbers are exact decimals and left as they are.
func defused(cols []document.Column, row []string) []string {
	var out []string
	for i, c := range cols {
		if c.Kind != document.Text || row[i] == "" || !strings.ContainsRune("=+-@\t\r", rune(row[i][0])) {
			continue
		}
		if out == nil {
			out = slices.Clone(row)
		}
		out[i] = "'" + row[i]
	}
	if out == nil {
		return row
	}
	return out
}

// aboutText is the report's text without its tables: title, subtitle,
// time, then each section's paragraphs.
func aboutText(d document.Document) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n", d.Title)
	if d.Subtitle != "" {
		fmt.Fprintf(&b, "%s\n", d.Subtitle)
	}
	fmt.Fprintf(&b, "Generated %s\n", generated(d))
	for _, s := range d.Sections {
		fmt.Fprintf(&b, "\n%s\n", s.Title)
		for _, p := range s.Paragraphs {
			fmt.Fprintf(&b, "\n%s\n", p)
		}
		for _, t := range s.Tables {
			fmt.Fprintf(&b, "\nTable %s.csv: %s\n", t.Name, t.Title)
		}
	}
	return b.String()
}

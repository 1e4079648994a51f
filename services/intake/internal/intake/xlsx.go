package intake

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/xuri/excelize/v2"
)

// MaxUnzippedXLSX bounds what a workbook may unpack to: a zip bomb is
// refused, not written out.
const MaxUnzippedXLSX = 4 << 30

// xlsxRecords reads the first sheet of an XLSX workbook, a row at a time:
// its first row is the header.
type xlsxRecords struct {
	f        *excelize.File
	rows     *excelize.Rows
	row      int64 // the sheet's row number of the current row
	width    int   // the header's fields
	date     int   // the date column's field, or -1
	date1904 bool
}

// openXLSX spools r to a temporary file and opens the workbook. A zip is
// read from its end (the central directory), so the whole file must be at
// hand; excelize then keeps the small parts in memory and unpacks a large
// sheet to a temporary file of its own, which Rows streams. The spooled
// file is removed once the workbook is open.
func openXLSX(r io.Reader, spoolDir string) (*xlsxRecords, error) {
	path, err := spoolFile(r, spoolDir)
	if err != nil {
		return nil, err
	}
	defer func() { _ = os.Remove(path) }()
	f, err := excelize.OpenFile(path, excelize.Options{UnzipSizeLimit: MaxUnzippedXLSX})
	if err != nil {
		return nil, workbookError(fmt.Errorf("open: %w", err))
	}
	x := &xlsxRecords{f: f, date: -1}
	sheets := f.GetSheetList()
	if len(sheets) == 0 {
		_ = f.Close()
		return nil, workbookError(errors.New("it has no sheet"))
	}
	if props, err := f.GetWorkbookProps(); err == nil && props.Date1904 != nil {
		x.date1904 = *props.Date1904
	}
	if x.rows, err = f.Rows(sheets[0]); err != nil {
		_ = f.Close()
		return nil, workbookError(fmt.Errorf("sheet %q: %w", sheets[0], err))
	}
	return x, nil
}

// workbookError refuses a file that is not a readable workbook, like a
// header that cannot be read.
func workbookError(err error) *HeaderError {
	return &HeaderError{Errors: []RowError{{Row: 1, Reason: "cannot read the XLSX workbook: " + err.Error()}}}
}

// spoolFile writes r to a temporary file and returns its name.
func spoolFile(r io.Reader, dir string) (string, error) {
	f, err := os.CreateTemp(dir, "vcci-xlsx-*")
	if err != nil {
		return "", fmt.Errorf("spool the workbook: %w", err)
	}
	_, err = io.Copy(f, r)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(f.Name())
		return "", fmt.Errorf("spool the workbook: %w", err)
	}
	return f.Name(), nil
}

func (x *xlsxRecords) Header() ([]string, error) {
	rec, err := x.Next()
	if errors.Is(err, io.EOF) {
		return nil, &HeaderError{Errors: []RowError{{Row: 1, Reason: "cannot read the header: the first sheet is empty"}}}
	}
	if err != nil {
		return nil, workbookError(err)
	}
	x.width = len(rec.fields)
	return rec.fields, nil
}

func (x *xlsxRecords) setDateColumn(i int) { x.date = i }

// Next returns the next row that is not blank, as the cells hold them
// (numbers as written, not as displayed), its blank cells as empty fields.
// A number in the date column is a date serial (what a date cell holds),
// written as YYYY-MM-DD.
func (x *xlsxRecords) Next() (record, error) {
	for x.rows.Next() {
		x.row++ // Next visits every row number, blank ones too
		rec, err := x.rows.Columns(excelize.Options{RawCellValue: true})
		if err != nil {
			return record{}, fmt.Errorf("reading sheet row %d: %w", x.row, err)
		}
		if blank(rec) {
			continue
		}
		rec = x.fit(rec)
		if x.date >= 0 && x.date < len(rec) {
			rec[x.date] = x.dateText(rec[x.date])
		}
		return record{fields: rec, line: x.row}, nil
	}
	if err := x.rows.Error(); err != nil {
		return record{}, fmt.Errorf("reading the sheet: %w", err)
	}
	return record{}, io.EOF
}

// fit pads a row to the header's width and drops blank cells past it, so
// that only a row with values beyond the header has more fields.
func (x *xlsxRecords) fit(rec []string) []string {
	if x.width == 0 {
		return rec
	}
	for len(rec) > x.width && rec[len(rec)-1] == "" {
		rec = rec[:len(rec)-1]
	}
	for len(rec) < x.width {
		rec = append(rec, "")
	}
	return rec
}

// dateText turns an Excel date serial into YYYY-MM-DD; other text is left
// for validation to judge.
func (x *xlsxRecords) dateText(s string) string {
	serial, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || serial < 1 {
		return s
	}
	t, err := excelize.ExcelDateToTime(serial, x.date1904)
	if err != nil {
		return s
	}
	return t.Format(time.DateOnly)
}

func blank(rec []string) bool {
	for _, f := range rec {
		if f != "" {
			return false
		}
	}
	return true
}

func (x *xlsxRecords) Close() error {
	err := x.rows.Close()
	if cerr := x.f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("close the workbook: %w", err)
	}
	return nil
}

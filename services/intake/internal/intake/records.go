package intake

import (
	"bufio"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
)

// recordSource yields a spend file's header, then its rows as the fields the
// header names, whatever the file's format: the Validator reads CSV, XLSX
// and JSON Lines through it, and validates their rows alike.
type recordSource interface {
	// Header returns the column names (a *HeaderError when they cannot be
	// read).
	Header() ([]string, error)
	// Next returns the next row; err is io.EOF at the end, or what stops
	// the reading of the file.
	Next() (record, error)
	Close() error
}

// record is one row of a file: its fields and its line (the file's line,
// or the sheet's row number); bad, when set, is the row's error instead.
type record struct {
	fields []string
	line   int64
	bad    *RowError
}

// dateColumn is told, by a records whose cells may hold dates as numbers
// (XLSX), which field is the date column.
type dateColumn interface{ setDateColumn(i int) }

// openRecords reads r in the format its first bytes show (DetectFormat).
func openRecords(r io.Reader, spoolDir string) (recordSource, error) {
	br, head := peek(r)
	switch DetectFormat(head) {
	case FormatXLSX:
		return openXLSX(br, spoolDir)
	case FormatJSONL:
		return newJSONLRecords(br), nil
	case FormatCSV:
	}
	cr := csv.NewReader(newRecordLimiter(br, MaxRecordBytes))
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	return &csvRecords{cr: cr}, nil
}

// peek returns a reader of r and r's first bytes, without consuming them.
func peek(r io.Reader) (*bufio.Reader, []byte) {
	br := bufio.NewReaderSize(r, 4096)
	head, _ := br.Peek(512) // fewer at the end of r; a read error comes back from the next Read
	return br, head
}

// csvRecords reads a CSV file.
type csvRecords struct{ cr *csv.Reader }

func (c *csvRecords) Header() ([]string, error) {
	header, err := c.cr.Read()
	if err != nil {
		return nil, &HeaderError{Errors: []RowError{{Row: 1, Reason: "cannot read the header: " + csvReason(err)}}}
	}
	return header, nil
}

func (c *csvRecords) Next() (record, error) {
	rec, err := c.cr.Read()
	if err == io.EOF {
		return record{}, io.EOF
	}
	if err != nil {
		var pe *csv.ParseError
		if !errors.As(err, &pe) {
			return record{}, fmt.Errorf("reading the file: %w", err)
		}
		return record{line: int64(pe.StartLine), bad: &RowError{Row: int64(pe.StartLine), Reason: "malformed CSV: " + csvReason(err)}}, nil
	}
	// FieldPos only after a record was read: after a parse error there may
	// be no field 0, and it panics.
	line, _ := c.cr.FieldPos(0)
	return record{fields: rec, line: int64(line)}, nil
}

func (*csvRecords) Close() error { return nil }

package intake

import (
	"bytes"
	"mime"
	"path"
	"strings"

	"github.com/vcci-dev/vcci/pkg/apperr"
)

// Format is a spend file's format.
type Format int

const (
	FormatCSV Format = iota
	FormatXLSX
	FormatJSONL
)

func (f Format) String() string {
	switch f {
	case FormatXLSX:
		return "XLSX"
	case FormatJSONL:
		return "JSON Lines"
	case FormatCSV:
	}
	return "CSV"
}

// zipMagic opens every XLSX workbook (a zip archive).
var zipMagic = []byte("PK\x03\x04")

// DetectFormat tells a file's format from its first bytes: a zip archive
// is an XLSX workbook, a first line that starts with "{" (after a byte
// order mark and blanks) is JSON Lines, anything else is CSV.
func DetectFormat(head []byte) Format {
	if bytes.HasPrefix(head, zipMagic) {
		return FormatXLSX
	}
	head = bytes.TrimLeft(bytes.TrimPrefix(head, []byte("\xef\xbb\xbf")), " \t\r\n")
	if len(head) > 0 && head[0] == '{' {
		return FormatJSONL
	}
	return FormatCSV
}

// declaredFormat is the format a client declared: by media type, else by
// the file name's extension; ok is false when it declared none we know.
func declaredFormat(contentType, filename string) (f Format, by string, ok bool) {
	mt, _, _ := mime.ParseMediaType(contentType)
	switch mt {
	case "text/csv":
		return FormatCSV, "content type " + mt, true
	case "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet":
		return FormatXLSX, "content type " + mt, true
	case "application/x-ndjson", "application/jsonl", "application/x-jsonlines", "application/jsonlines":
		return FormatJSONL, "content type " + mt, true
	}
	switch strings.ToLower(path.Ext(filename)) {
	case ".csv":
		return FormatCSV, "file name " + filename, true
	case ".xlsx":
		return FormatXLSX, "file name " + filename, true
	case ".jsonl", ".ndjson":
		return FormatJSONL, "file name " + filename, true
	}
	return FormatCSV, "", false
}

// defaultFilename names an upload sent without a name.
func defaultFilename(f Format) string {
	switch f {
	case FormatXLSX:
		return "upload.xlsx"
	case FormatJSONL:
		return "upload.jsonl"
	case FormatCSV:
	}
	return "upload.csv"
}

func firstLineName(f Format) string {
	if f == FormatJSONL {
		return "first line"
	}
	return "header line"
}

// SniffUpload refuses, from its first bytes, an upload that is none of the
// formats, or not the format its client declared (nu.ContentType, else its
// file name's extension).
func SniffUpload(nu NewUpload, head []byte) error {
	got := DetectFormat(head)
	if want, by, ok := declaredFormat(nu.ContentType, nu.Filename); ok && want != got {
		return apperr.Invalid("file", "the %s says %s, but the content is %s", by, want, got)
	}
	if got == FormatXLSX {
		return nil // the workbook is opened when it is validated
	}
	return sniffText(got, head)
}

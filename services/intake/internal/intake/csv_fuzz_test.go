package intake

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"io"
	"reflect"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/vcci-dev/vcci/pkg/apperr"
)

// fuzzCodes knows every NAICS code but those ending in 9, so that both
// outcomes of the factor lookup are reached.
type fuzzCodes struct{}

func (fuzzCodes) Categories(_ context.Context, codes []string) (map[string]int16, error) {
	out := map[string]int16{}
	for _, c := range codes {
		if !strings.HasSuffix(c, "9") {
			out[c] = int16(1 + c[0]%15)
		}
	}
	return out, nil
}

// outcome is everything a validation run reports.
type outcome struct {
	Header                   []RowError
	Rows                     []Row
	Errors                   []RowError
	Read, Accepted, Rejected int64
}

func runValidator(t *testing.T, data []byte) outcome {
	t.Helper()
	v, err := NewValidator(context.Background(), bytes.NewReader(data), fuzzCodes{}, nil)
	if err != nil {
		var he *HeaderError
		if !errors.As(err, &he) || len(he.Errors) == 0 {
			t.Fatalf("NewValidator: %v, want a HeaderError", err)
		}
		return outcome{Header: he.Errors}
	}
	rows, err := v.All()
	if err != nil {
		t.Fatalf("All: %v (a bytes.Reader cannot fail)", err)
	}
	return outcome{Rows: rows, Errors: v.Errors, Read: v.Read, Accepted: v.Accepted, Rejected: v.Rejected}
}

// storable reports whether PostgreSQL takes s as text: valid UTF-8, no NUL.
func storable(s string) bool { return utf8.ValidString(s) && strings.IndexByte(s, 0) < 0 }

// records counts data's records after the header with a plain csv.Reader,
// configured as the Validator's.
func records(data []byte) int64 {
	cr := csv.NewReader(bytes.NewReader(data))
	cr.FieldsPerRecord = -1
	var n int64
	for {
		if _, err := cr.Read(); err == io.EOF {
			break
		}
		n++
	}
	return max(n-1, 0)
}

// FuzzValidate runs a file through what an upload goes through: Sniff on
// its first bytes (the store sniffs only the first 64 KiB, so the
// Validator is run whatever Sniff says, as it would be on a larger file's
// later bytes), then the Validator.
func FuzzValidate(f *testing.F) {
	row := "T1,2024-01-05,S1,Acme,331110,10.00,USD,coil\n"
	for _, s := range []string{
		header + row + "T2,2024-02-05,S2,\"Beta, Inc\",541511,-5.5,usd,\"a \"\"quoted\"\" word\"\n",
		"\ufeff" + strings.ReplaceAll(header+row, "\n", "\r\n"),
		header + row + "T1,2024-01-05,S1,Acme,331110,10.00,USD,again\n",
		header + "T3,2024-13-01,S1,Acme,331119,1.23456,EUR,x\nT4,2024-01-01,,,33,,,\n",
		"AMOUNT,currency,date,transaction_id,supplier_id,supplier_name,naics_code,description,supplier_country\n12.5,USD,2024-03-01,T9,S9,Nine,331110,\"multi\nline\",de\n",
		header + "T5,2024-01-01,S1,\"Acme\"x,331110,10.00,USD,x\n",
		"transaction_id,date,date,colour\n",
		header + "T6,2024-01-01,S1,Acme\x00,331110,10.00,USD,x\n",
		"",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if DetectFormat(data) != FormatCSV {
			t.Skip("not CSV: FuzzValidateJSONL's, or a workbook")
		}
		if err := Sniff(data[:min(len(data), 64<<10)]); err != nil {
			var ae *apperr.Error
			if !errors.As(err, &ae) || ae.Kind != apperr.InvalidArgument || len(ae.Violations) != 1 || ae.Violations[0].Field != "file" {
				t.Fatalf("Sniff: %#v, want one InvalidArgument on file", err)
			}
		}
		got := runValidator(t, data)
		if again := runValidator(t, data); !reflect.DeepEqual(got, again) {
			t.Fatalf("two runs differ:\n%+v\n%+v", got, again)
		}
		lines := int64(bytes.Count(data, []byte("\n")) + 1)
		if got.Header != nil {
			for _, e := range got.Header {
				if e.Row != 1 || !storable(e.Column) || !storable(e.Reason) || !storable(e.Value) || e.Reason == "" {
					t.Fatalf("header error %+v: want row 1, a reason, and text PostgreSQL stores", e)
				}
			}
			return
		}
		if got.Read != records(data) || got.Accepted+got.Rejected != got.Read || int64(len(got.Rows)) != got.Accepted {
			t.Fatalf("read %d (csv has %d records), accepted %d (%d rows), rejected %d",
				got.Read, records(data), got.Accepted, len(got.Rows), got.Rejected)
		}
		if int64(len(got.Errors)) != min(got.Rejected, MaxErrorsKept) {
			t.Fatalf("%d errors kept for %d rejected", len(got.Errors), got.Rejected)
		}
		columns := Columns()
		for _, e := range got.Errors {
			if e.Row < 2 || e.Row > lines || (e.Column != "" && !slices.Contains(columns[:], e.Column)) || e.Reason == "" {
				t.Fatalf("row error %+v: want a row in 2..%d, a known column or none, and a reason", e, lines)
			}
			if !storable(e.Reason) || !storable(e.Value) {
				t.Fatalf("row error %+v: text PostgreSQL would refuse", e)
			}
		}
		ids := map[string]bool{}
		var last int64
		for _, r := range got.Rows {
			for _, s := range []string{r.TransactionID, r.SupplierID, r.SupplierName, r.NAICS, r.Amount, r.Currency, r.Description, r.Country} {
				if !storable(s) {
					t.Fatalf("accepted row %+v: field %q is not text PostgreSQL stores", r, s)
				}
			}
			if r.Line <= last || r.Line > lines || ids[r.TransactionID] || r.TransactionID == "" || r.SupplierID == "" ||
				!IsNAICS(r.NAICS) || !isAmount(r.Amount) || !converted(r) || (r.Country != "" && !IsCountry(r.Country)) ||
				r.Date.Before(firstDate()) || r.Category == 0 {
				t.Fatalf("accepted row %+v breaks a rule it was checked against (previous line %d)", r, last)
			}
			ids[r.TransactionID], last = true, r.Line
		}
	})
}

// converted reports whether r's dollars are its amount at its month's rate.
func converted(r Row) bool {
	usd, err := ToUSD(r.Amount, r.Currency, r.Date)
	return err == nil && usd == r.AmountUSD
}

// FuzzValidateJSONL runs JSON Lines through the Validator: whatever the
// lines hold, it never panics, answers the same twice, counts every row
// once, and keeps only text PostgreSQL stores and rows that keep the rules.
func FuzzValidateJSONL(f *testing.F) {
	for _, s := range []string{
		`{"transaction_id":"T1","date":"2024-01-05","supplier_id":"S1","supplier_name":"Acme","naics_code":331110,"amount":10.00,"currency":"USD","description":"coil"}` + "\n" +
			`{"transaction_id":"T2","date":"2024-01-05","supplier_id":"S1","supplier_name":null,"naics_code":"331110","amount":"-5.5","currency":"usd"}` + "\n",
		`{"transaction_id":"T1"}` + "\n\n[1]\n{\"transaction_id\":{}}\n{\"x\":1}\n{\"transaction_id\":\"T2\"} {}\n",
		`{"a\u0000b":1,"a\u0000b":2}`,
		"{\"transaction_id\":\"\xff\"}\n{",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if DetectFormat(data) != FormatJSONL {
			t.Skip("not JSON Lines")
		}
		got := runValidator(t, data)
		if again := runValidator(t, data); !reflect.DeepEqual(got, again) {
			t.Fatalf("two runs differ:\n%+v\n%+v", got, again)
		}
		for _, e := range append(got.Header, got.Errors...) {
			if !storable(e.Column) || !storable(e.Reason) || !storable(e.Value) || e.Reason == "" || e.Row < 1 {
				t.Fatalf("error %+v: want a row, a reason, and text PostgreSQL stores", e)
			}
		}
		if got.Accepted+got.Rejected != got.Read || int64(len(got.Rows)) != got.Accepted {
			t.Fatalf("read %d, accepted %d (%d rows), rejected %d", got.Read, got.Accepted, len(got.Rows), got.Rejected)
		}
		var last int64
		for _, r := range got.Rows {
			if r.Line <= last || (!IsNAICS(r.NAICS) && r.Activity == "") || !isAmount(r.Amount) || r.TransactionID == "" || !storable(r.SupplierName) || !storable(r.Description) {
				t.Fatalf("accepted row %+v breaks a rule it was checked against (previous line %d)", r, last)
			}
			last = r.Line
		}
	})
}

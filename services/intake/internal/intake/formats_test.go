package intake_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/vcci-dev/vcci/pkg/apperr"
	"github.com/vcci-dev/vcci/services/intake/internal/intake"
	"github.com/vcci-dev/vcci/services/intake/internal/intaketest"
)

// validate reads data through a Validator and returns its rows and errors.
func validate(t *testing.T, data []byte, opts ...intake.Option) ([]intake.Row, *intake.Validator) {
	t.Helper()
	v, err := intake.NewValidator(context.Background(), bytes.NewReader(data), intaketest.Codes{}, nil, opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	rows, err := v.All()
	if err != nil {
		t.Fatal(err)
	}
	return rows, v
}

var spendHeader = []any{"transaction_id", "date", "supplier_id", "supplier_name", "naics_code", "amount", "currency", "description"}

func TestXLSXRowsAreReadAsTheCellsHoldThem(t *testing.T) {
	posted := time.Date(2024, 3, 14, 0, 0, 0, 0, time.UTC)
	// The amounts are shown with thousands separators and two decimals;
	// the row after the blank row 3 is sheet row 4.
	data := intaketest.XLSX(t, "#,##0.00",
		spendHeader,
		[]any{"T1", posted, "S1", "Acme", 331110, 1234.5, "USD", "coil"},
		nil,
		[]any{"T2", "2024-03-15", "S2", "Beta", "33111", 12, "USD", "bad code"},
		[]any{"T3", posted.AddDate(0, 0, 1), "S1", "Acme", "331110", "-80.25", "usd", ""},
	)
	rows, v := validate(t, data)
	if len(rows) != 2 || v.Read != 3 {
		t.Fatalf("rows = %+v, read %d", rows, v.Read)
	}
	r := rows[0]
	if r.Line != 2 || r.TransactionID != "T1" || r.Date.Format(time.DateOnly) != "2024-03-14" || r.NAICS != "331110" || r.Amount != "1234.5" {
		t.Fatalf("row 2 = %+v", r)
	}
	if rows[1].Line != 5 || rows[1].Date.Format(time.DateOnly) != "2024-03-15" || rows[1].Amount != "-80.25" || rows[1].Currency != "USD" {
		t.Fatalf("row 5 = %+v", rows[1])
	}
	want := intake.RowError{Row: 4, Column: "naics_code", Reason: "not a 6-digit NAICS code", Value: "33111"}
	if len(v.Errors) != 1 || v.Errors[0] != want {
		t.Fatalf("errors = %+v, want %+v", v.Errors, want)
	}
}

func TestJSONLKeepsNumbersExact(t *testing.T) {
	data := []byte(`{"transaction_id":"T1","date":"2024-03-14","supplier_id":"S1","supplier_name":"Acme","naics_code":331110,"amount":1234.5600,"currency":"USD","description":"coil"}

[1, 2]
{"transaction_id":"T2","date":"2024-03-14","supplier_id":"S1","supplier_name":"Acme","naics_code":"331110","amount":true,"currency":"USD"}
{"transaction_id":"T3","date":"2024-03-14","supplier_id":"S1","supplier_name":"Acme","naics_code":"331110","amount":"12345678901234.5678","currency":"USD","colour":"red"}
{"transaction_id":"T4","date":"2024-03-14","supplier_id":"S1","supplier_name":null,"naics_code":"331110","amount":12345678901234.5678,"currency":"USD"}
`)
	rows, v := validate(t, data)
	if len(rows) != 2 || rows[0].Line != 1 || rows[0].Amount != "1234.5600" || rows[0].NAICS != "331110" || rows[0].Description != "coil" {
		t.Fatalf("rows = %+v", rows)
	}
	if rows[1].Line != 6 || rows[1].Amount != "12345678901234.5678" || rows[1].SupplierName != "" {
		t.Fatalf("line 6 = %+v", rows[1])
	}
	want := []intake.RowError{
		{Row: 3, Reason: "not a JSON object", Value: "[1, 2]"},
		{Row: 4, Column: "amount", Reason: "must be a string or a number"},
		{Row: 5, Column: "colour", Reason: "not a key of the first line (its keys are the columns)", Value: "colour"},
	}
	if len(v.Errors) != len(want) {
		t.Fatalf("errors = %+v", v.Errors)
	}
	for i, w := range want {
		got := v.Errors[i]
		got.Value = strings.TrimSuffix(got.Value, "…")
		if w.Value == "" {
			got.Value = ""
		}
		if got != w {
			t.Errorf("error %d = %+v, want %+v", i, got, w)
		}
	}
}

func TestMissingColumnsSuggestAMapping(t *testing.T) {
	for name, tc := range map[string]struct {
		header  string
		mapping map[string]string
		want    string
	}{
		"csv without a mapping": {
			"transaction_id,date,supplier_id,Vendor Name,naics_code,Net Value,currency,description\n", nil,
			`header: missing supplier_name, amount; unmapped columns "Vendor Name", "Net Value"; a mapping {"Vendor Name": "supplier_name", "Net Value": "amount"} would fix it`,
		},
		"a mapping short of a column": {
			"Doc,Posting Date,Vendor,Vendor Name,NAICS,Net Value,Curr,Text,Cost Center\n",
			map[string]string{"Doc": "transaction_id", "Posting Date": "date", "Vendor": "supplier_id", "NAICS": "naics_code", "Curr": "currency", "Text": "description"},
			`header: missing supplier_name, amount; unmapped columns "Vendor Name", "Net Value", "Cost Center"; a mapping {"Vendor Name": "supplier_name", "Net Value": "amount"} would fix it`,
		},
		"nothing alike": {
			"transaction_id,date,supplier_id,supplier_name,naics_code,currency,description,Colour\n", nil,
			`header: missing amount; unmapped columns "Colour"; none of them looks like a missing column: map them in a column mapping`,
		},
		"some alike": {
			"transaction_id,date,supplier_id,naics_code,currency,description,Net Value\n", nil,
			`header: missing supplier_name, amount; unmapped columns "Net Value"; a mapping {"Net Value": "amount"} would supply some; none looks like supplier_name`,
		},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := intake.NewValidator(context.Background(), strings.NewReader(tc.header), intaketest.Codes{}, nil, intake.WithMapping(tc.mapping))
			var he *intake.HeaderError
			if !errors.As(err, &he) || err.Error() != tc.want {
				t.Fatalf("err = %v\nwant  %s", err, tc.want)
			}
		})
	}
}

func TestAMappingIgnoresTheColumnsItDoesNotName(t *testing.T) {
	file := "Doc,Posting Date,Vendor,Vendor Name,NAICS,Net Value,Curr,Text,Cost Center,currency\n" +
		"T1,2024-03-14,S1,Acme,331110,10.50,EUR,coil,CC-1,USD\n"
	mapping := map[string]string{"Doc": "transaction_id", "posting date": "date", "Vendor": "supplier_id", "Vendor Name": "supplier_name",
		"NAICS": "naics_code", "Net Value": "amount", "Text": "description"}
	rows, v := validate(t, []byte(file), intake.WithMapping(mapping))
	if len(rows) != 1 || rows[0].SupplierName != "Acme" || rows[0].Amount != "10.50" || rows[0].Currency != "USD" || rows[0].Date.Day() != 14 {
		t.Fatalf("rows = %+v, errors %+v", rows, v.Errors)
	}
	if strings.Join(v.Ignored, "|") != "Curr|Cost Center" {
		t.Fatalf("ignored = %q", v.Ignored)
	}
}

func TestSniffUploadChecksTheDeclaredFormat(t *testing.T) {
	xlsx := intaketest.XLSX(t, "", spendHeader)
	for name, tc := range map[string]struct {
		nu   intake.NewUpload
		head []byte
		want string
	}{
		"xlsx":                {intake.NewUpload{Filename: "q1.xlsx"}, xlsx, ""},
		"xlsx without a name": {intake.NewUpload{}, xlsx, ""},
		"jsonl":               {intake.NewUpload{ContentType: "application/x-ndjson"}, []byte("\ufeff {\"a\":1}\n"), ""},
		"csv named xlsx":      {intake.NewUpload{Filename: "q1.xlsx"}, []byte("a,b\n"), "file: the file name q1.xlsx says XLSX, but the content is CSV"},
		"xlsx sent as csv": {intake.NewUpload{Filename: "q1.xlsx", ContentType: "text/csv; charset=utf-8"}, xlsx,
			"file: the content type text/csv says CSV, but the content is XLSX"},
		"jsonl not text": {intake.NewUpload{}, []byte("{\"a\":\"\x00\"}\n"), "file: is not a JSON Lines file: binary content (NUL byte at offset 6)"},
	} {
		t.Run(name, func(t *testing.T) {
			err := intake.SniffUpload(tc.nu, tc.head)
			if tc.want == "" && err != nil || tc.want != "" && (err == nil || err.Error() != tc.want || apperr.KindOf(err) != apperr.InvalidArgument) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestCheckMapping(t *testing.T) {
	for name, tc := range map[string]struct {
		m    intake.ColumnMapping
		want string
	}{
		"ok":        {intake.ColumnMapping{ID: "sap-export", Columns: map[string]string{"Vendor Name": "supplier_name", "Net Value": "amount"}}, ""},
		"bad id":    {intake.ColumnMapping{ID: "SAP", Columns: map[string]string{"a": "amount"}}, `column_mapping_id: must be 1 to 63 lower-case letters, digits and hyphens, starting with a letter, got "SAP"`},
		"empty":     {intake.ColumnMapping{ID: "sap"}, "column_mapping.columns: must map at least one header name"},
		"not a col": {intake.ColumnMapping{ID: "sap", Columns: map[string]string{"Net Value": "net"}}, `column_mapping.columns["Net Value"]: "net" is not a column; the columns are transaction_id,date,supplier_id,supplier_name,naics_code,amount,currency,description,supplier_country,category,activity,quantity,unit,product_id`},
		"two to one": {intake.ColumnMapping{ID: "sap", Columns: map[string]string{"Gross": "amount", "Net": "amount"}},
			`column_mapping.columns["Net"]: "Gross" and "Net" both map to amount`},
	} {
		t.Run(name, func(t *testing.T) {
			err := intake.CheckMapping(tc.m)
			if tc.want == "" && err != nil || tc.want != "" && (err == nil || err.Error() != tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

// An ERP's material number maps onto product_id like any optional column,
// and a JSON Lines product line is checked as a CSV one.
func TestAMappedProductColumn(t *testing.T) {
	mapping := map[string]string{"Material": "product_id", "Qty": "quantity", "UoM": "unit"}
	if err := intake.CheckMapping(intake.ColumnMapping{ID: "sap", Columns: mapping}); err != nil {
		t.Fatal(err)
	}
	file := `{"transaction_id":"T1","date":"2024-03-14","supplier_id":"S1","supplier_name":"Acme","naics_code":"331110","amount":"900","currency":"USD","description":"coil","Material":"HR-COIL-2MM","Qty":"1.5","UoM":"t"}
{"transaction_id":"T2","date":"2024-03-14","supplier_id":"S1","supplier_name":"Acme","naics_code":"331110","amount":"90","currency":"USD","description":"coil","Material":"HR-COIL-2MM","Qty":"1,5","UoM":"t"}
`
	rows, v := validate(t, []byte(file), intake.WithMapping(mapping))
	if len(rows) != 1 || rows[0].ProductID != "HR-COIL-2MM" || rows[0].Quantity != "1.5" || rows[0].Unit != "t" {
		t.Fatalf("rows = %+v, errors %+v", rows, v.Errors)
	}
	if len(v.Errors) != 1 || v.Errors[0].Row != 2 || v.Errors[0].Column != "quantity" || v.Errors[0].Value != "1,5" {
		t.Fatalf("errors = %+v", v.Errors)
	}
}

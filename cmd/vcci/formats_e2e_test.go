package main

import (
	"bytes"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"
	"go.opentelemetry.io/otel/trace/noop"
)

const xlsxType = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

// erpWorkbook is an ERP export as a workbook: its own header names, a
// date cell, and a column vcci has no use for.
func erpWorkbook(t *testing.T) []byte {
	t.Helper()
	f := excelize.NewFile()
	defer func() { _ = f.Close() }()
	rows := [][]any{
		{"Doc", "Posting Date", "Vendor", "Vendor Name", "NAICS", "Net Value", "Curr", "Text", "Cost Center"},
		{"X1", time.Date(2024, 2, 1, 0, 0, 0, 0, time.UTC), "V1", "Acme Steel", 331110, 250.1, "USD", "coil", "CC-7"},
		{"X2", "2024-02-02", "V2", "Beta", "541511", "abc", "USD", "dev", "CC-8"},
	}
	for i, r := range rows {
		cell, _ := excelize.CoordinatesToCellName(1, i+1)
		if err := f.SetSheetRow("Sheet1", cell, &r); err != nil {
			t.Fatal(err)
		}
	}
	var b bytes.Buffer
	if err := f.Write(&b); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestFormatsAndColumnMappingsThroughREST saves a column mapping, uploads
// an XLSX export through it and a JSON Lines file, and deletes the mapping.
func TestFormatsAndColumnMappingsThroughREST(t *testing.T) {
	p := start(t, noop.NewTracerProvider())
	type mapping struct {
		Name    string
		Columns map[string]string
		Code    int
		Message string
	}
	var m mapping
	body := `{"columns": {"Doc": "transaction_id", "Posting Date": "date", "Vendor": "supplier_id", "Vendor Name": "supplier_name",
		"NAICS": "naics_code", "Net Value": "amount", "Curr": "currency", "Text": "description"}}`
	if code := p.call(t, "POST", "/v1/columnMappings?column_mapping_id=sap", p.key, strings.NewReader(body), &m); code != http.StatusOK ||
		m.Name != "columnMappings/sap" || m.Columns["Net Value"] != "amount" {
		t.Fatalf("create: HTTP %d %+v", code, m)
	}
	if code := p.call(t, "POST", "/v1/columnMappings?column_mapping_id=sap", p.key, strings.NewReader(body), &m); code != http.StatusConflict || m.Code != 6 {
		t.Fatalf("create twice: HTTP %d %+v", code, m)
	}
	var bad mapping
	if code := p.call(t, "POST", "/v1/columnMappings?column_mapping_id=other", p.key, strings.NewReader(`{"columns": {"A": "amount", "B": "amount"}}`), &bad); code != http.StatusBadRequest ||
		bad.Message != `column_mapping.columns["B"]: "A" and "B" both map to amount` {
		t.Fatalf("create two sources to one column: HTTP %d %+v", code, bad)
	}
	var list struct{ ColumnMappings []mapping }
	if code := p.call(t, "GET", "/v1/columnMappings", p.key, nil, &list); code != http.StatusOK || len(list.ColumnMappings) != 1 || list.ColumnMappings[0].Name != "columnMappings/sap" {
		t.Fatalf("list: HTTP %d %+v", code, list)
	}

	type upload struct {
		Name, State, FailureReason, ColumnMapping string
		RowsAccepted, RowsRejected                string
		IgnoredColumns                            []string
		ErrorSamples                              []rowError
	}
	var u upload
	if code := p.call(t, "POST", "/v1/uploads?filename=export.xlsx&column_mapping=columnMappings/sap", p.key, bytes.NewReader(erpWorkbook(t)), &u,
		"Content-Type", xlsxType); code != http.StatusAccepted {
		t.Fatalf("upload xlsx: HTTP %d %+v", code, u)
	}
	p.wait(t, p.key, u.Name)
	p.call(t, "GET", "/v1/"+u.Name, p.key, nil, &u)
	want := rowError{Row: "3", Column: "amount", Reason: "not a number with at most 4 decimals (like 1234.56 or -80.00)", Value: "abc"}
	if u.State != "UPLOAD_STATE_SUCCEEDED" || u.RowsAccepted != "1" || u.RowsRejected != "1" || u.ColumnMapping != "columnMappings/sap" ||
		!slices.Equal(u.IgnoredColumns, []string{"Cost Center"}) || len(u.ErrorSamples) != 1 || u.ErrorSamples[0] != want {
		t.Fatalf("xlsx upload = %+v", u)
	}
	var tx struct {
		Date, AmountUsd string
		SupplierID      string `json:"supplierId"`
	}
	if code := p.call(t, "GET", "/v1/transactions/X1", p.key, nil, &tx); code != http.StatusOK || tx.Date != "2024-02-01" || tx.AmountUsd != "250.1000" || tx.SupplierID != "V1" {
		t.Fatalf("transaction X1: HTTP %d %+v", code, tx)
	}

	jsonl := `{"transaction_id":"J1","date":"2024-02-03","supplier_id":"V1","supplier_name":"Acme Steel","naics_code":"331110","amount":1234.5600,"currency":"USD","description":"coil"}
{"transaction_id":"J2"
`
	var j upload
	if code := p.call(t, "POST", "/v1/uploads", p.key, strings.NewReader(jsonl), &j, "Content-Type", "application/x-ndjson"); code != http.StatusAccepted {
		t.Fatalf("upload jsonl: HTTP %d %+v", code, j)
	}
	p.wait(t, p.key, j.Name)
	p.call(t, "GET", "/v1/"+j.Name, p.key, nil, &j)
	if j.State != "UPLOAD_STATE_SUCCEEDED" || j.RowsAccepted != "1" || j.RowsRejected != "1" || j.ErrorSamples[0].Row != "2" {
		t.Fatalf("jsonl upload = %+v", j)
	}
	if code := p.call(t, "GET", "/v1/transactions/J1", p.key, nil, &tx); code != http.StatusOK || tx.AmountUsd != "1234.5600" {
		t.Fatalf("transaction J1: HTTP %d %+v", code, tx)
	}

	// A workbook sent as CSV is refused whole.
	var refused mapping
	if code := p.call(t, "POST", "/v1/uploads", p.key, bytes.NewReader(erpWorkbook(t)), &refused, "Content-Type", "text/csv"); code != http.StatusBadRequest ||
		refused.Message != "file: the content type text/csv says CSV, but the content is XLSX" {
		t.Fatalf("xlsx sent as text/csv: HTTP %d %+v", code, refused)
	}

	if code := p.call(t, "DELETE", "/v1/columnMappings/sap", p.key, nil, nil); code != http.StatusOK {
		t.Fatalf("delete: HTTP %d", code)
	}
	if code := p.call(t, "GET", "/v1/columnMappings/sap", p.key, nil, &m); code != http.StatusNotFound {
		t.Fatalf("get after delete: HTTP %d %+v", code, m)
	}
}

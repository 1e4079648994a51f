package store_test

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/vcci-dev/vcci/pkg/apperr"
	"github.com/vcci-dev/vcci/pkg/db"
	"github.com/vcci-dev/vcci/services/intake/internal/intake"
	"github.com/vcci-dev/vcci/services/intake/internal/intaketest"
	"github.com/vcci-dev/vcci/services/intake/internal/store"
)

// storedRows are an upload's stored lines, "id date supplier amount", by id.
func storedRows(t *testing.T, e env, upload int64) []string {
	t.Helper()
	rows, err := e.pool.Query(context.Background(), `SELECT transaction_id || ' ' || tx_date::text || ' ' || supplier_id || ' ' || amount_usd::text
		FROM intake.transactions WHERE upload_id = $1 ORDER BY transaction_id`, upload)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// processed receives data as nu for tenant a, works the upload and returns
// it.
func processed(t *testing.T, e env, nu intake.NewUpload, data []byte) intake.Upload {
	t.Helper()
	ctx := context.Background()
	u, err := e.svc.Receive(ctx, e.a, nu, bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	drain(t, e)
	got, err := e.svc.Get(ctx, e.a, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func TestXLSXUploadIsStored(t *testing.T) {
	posted := time.Date(2024, 3, 14, 0, 0, 0, 0, time.UTC)
	data := intaketest.XLSX(t, "#,##0.00",
		[]any{"transaction_id", "date", "supplier_id", "supplier_name", "naics_code", "amount", "currency", "description"},
		[]any{"T1", posted, "S1", "Acme", 331110, 1234.5, "USD", "coil"},
		nil,
		[]any{"T2", posted, "S2", "Beta", "33111", 12, "USD", "bad code"},
		[]any{"T3", "2024-03-15", "S1", "Acme", "331110", "-80.2500", "USD", "credit"},
	)
	for _, p := range paths {
		t.Run(p.Name, func(t *testing.T) {
			e := setupPath(t, p.Small)
			u := processed(t, e, intake.NewUpload{}, data)
			if u.State != intake.Succeeded || u.Filename != "upload.xlsx" || u.Read != 3 || u.Accepted != 2 || u.Rejected != 1 {
				t.Fatalf("upload = %+v", u)
			}
			want := intake.RowError{Row: 4, Column: "naics_code", Reason: "not a 6-digit NAICS code", Value: "33111"}
			if len(u.ErrorSamples) != 1 || u.ErrorSamples[0] != want {
				t.Fatalf("errors = %+v, want %+v", u.ErrorSamples, want)
			}
			if got := storedRows(t, e, u.ID); !slices.Equal(got, []string{"T1 2024-03-14 S1 1234.5000", "T3 2024-03-15 S1 -80.2500"}) {
				t.Fatalf("stored %q", got)
			}
		})
	}
}

func TestJSONLUploadIsStored(t *testing.T) {
	data := []byte(`{"transaction_id":"T1","date":"2024-03-14","supplier_id":"S1","supplier_name":"Acme","naics_code":331110,"amount":1234.5600,"currency":"USD","description":"coil"}
"T2"
{"transaction_id":"T3","date":"2024-03-15","supplier_id":"S2","supplier_name":"Beta","naics_code":"331110","amount":12345678901234.5678,"currency":"USD"}
`)
	for _, p := range paths {
		t.Run(p.Name, func(t *testing.T) {
			e := setupPath(t, p.Small)
			u := processed(t, e, intake.NewUpload{Filename: "spend.jsonl"}, data)
			if u.State != intake.Succeeded || u.Read != 3 || u.Accepted != 2 || u.Rejected != 1 {
				t.Fatalf("upload = %+v", u)
			}
			want := intake.RowError{Row: 2, Reason: "not a JSON object", Value: `"T2"`}
			if len(u.ErrorSamples) != 1 || u.ErrorSamples[0] != want {
				t.Fatalf("errors = %+v, want %+v", u.ErrorSamples, want)
			}
			// A float64 would have made the second 12345678901234.568.
			if got := storedRows(t, e, u.ID); !slices.Equal(got, []string{"T1 2024-03-14 S1 1234.5600", "T3 2024-03-15 S2 12345678901234.5678"}) {
				t.Fatalf("stored %q", got)
			}
		})
	}
}

func TestColumnMappingCRUD(t *testing.T) {
	ctx := context.Background()
	e := setup(t)
	sap := intake.ColumnMapping{ID: "sap", Columns: map[string]string{"Vendor Name": "supplier_name", "Net Value": "amount"}}
	m, err := e.svc.CreateMapping(ctx, e.a, sap)
	if err != nil || m.ID != "sap" || m.Columns["Net Value"] != "amount" || len(m.Columns) != 2 || m.CreatedAt.IsZero() {
		t.Fatalf("created %+v, %v", m, err)
	}
	if _, err := e.svc.CreateMapping(ctx, e.a, sap); !errors.Is(err, intake.ErrMappingExists) {
		t.Fatalf("create twice: %v", err)
	}
	bad := intake.ColumnMapping{ID: "bad", Columns: map[string]string{"Vendor": "vendor"}}
	if _, err := e.svc.CreateMapping(ctx, e.a, bad); apperr.KindOf(err) != apperr.InvalidArgument {
		t.Fatalf("create invalid: %v", err)
	}
	for _, id := range []string{"oracle", "netsuite"} {
		if _, err := e.svc.CreateMapping(ctx, e.a, intake.ColumnMapping{ID: id, Columns: map[string]string{"Amt": "amount"}}); err != nil {
			t.Fatal(err)
		}
	}
	got, err := e.svc.Mapping(ctx, e.a, "sap")
	if err != nil || got.Columns["Vendor Name"] != "supplier_name" {
		t.Fatalf("get = %+v, %v", got, err)
	}
	if _, err := e.svc.Mapping(ctx, e.b, "sap"); !errors.Is(err, intake.ErrMappingNotFound) {
		t.Fatalf("another tenant's get: %v", err)
	}
	page, err := e.svc.Mappings(ctx, e.a, "", 2)
	if err != nil || len(page) != 2 || page[0].ID != "netsuite" || page[1].ID != "oracle" {
		t.Fatalf("first page = %+v, %v", page, err)
	}
	if page, err = e.svc.Mappings(ctx, e.a, "oracle", 2); err != nil || len(page) != 1 || page[0].ID != "sap" {
		t.Fatalf("second page = %+v, %v", page, err)
	}
	if page, err = e.svc.Mappings(ctx, e.b, "", 10); err != nil || len(page) != 0 {
		t.Fatalf("another tenant's list = %+v, %v", page, err)
	}
	if err := e.svc.DeleteMapping(ctx, e.b, "sap"); !errors.Is(err, intake.ErrMappingNotFound) {
		t.Fatalf("another tenant's delete: %v", err)
	}
	if err := e.svc.DeleteMapping(ctx, e.a, "sap"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Mapping(ctx, e.a, "sap"); !errors.Is(err, intake.ErrMappingNotFound) {
		t.Fatalf("get after delete: %v", err)
	}
}

// erpFile is an ERP export: its own header names, and a column vcci has no
// use for.
const erpFile = `Doc,Posting Date,Vendor,Vendor Name,NAICS,Net Value,Curr,Text,Cost Center,"Note ""a"", \b"
D1,2024-02-01,V1,Acme Steel,331110,250.10,USD,coil,CC-7,
D2,2024-02-02,V2,Beta,541511,99.90,USD,dev,CC-8,
`

func TestUploadThroughAColumnMapping(t *testing.T) {
	for _, p := range paths {
		t.Run(p.Name, func(t *testing.T) {
			ctx := context.Background()
			e := setupPath(t, p.Small)
			if _, err := e.svc.CreateMapping(ctx, e.a, intake.ColumnMapping{ID: "sap", Columns: map[string]string{
				"Doc": "transaction_id", "Posting Date": "date", "Vendor": "supplier_id", "Vendor Name": "supplier_name",
				"NAICS": "naics_code", "Net Value": "amount", "Curr": "currency", "Text": "description"}}); err != nil {
				t.Fatal(err)
			}
			u := processed(t, e, intake.NewUpload{Filename: "export.csv", ColumnMapping: "columnMappings/sap"}, []byte(erpFile))
			if u.State != intake.Succeeded || u.Accepted != 2 || u.ColumnMapping != "columnMappings/sap" || !slices.Equal(u.Ignored, []string{"Cost Center", `Note "a", \b`}) {
				t.Fatalf("upload = %+v", u)
			}
			if got := storedRows(t, e, u.ID); !slices.Equal(got, []string{"D1 2024-02-01 V1 250.1000", "D2 2024-02-02 V2 99.9000"}) {
				t.Fatalf("stored %q", got)
			}
			sups, err := e.dir.Suppliers(ctx, e.a, []string{"V1", "V2"})
			if err != nil || len(sups) != 2 || sups[0].Name != "Acme Steel" || sups[1].Name != "Beta" {
				t.Fatalf("suppliers = %+v, %v", sups, err)
			}
			// The mapping is the upload's own copy: deleting it changes
			// nothing for the upload.
			if err := e.svc.DeleteMapping(ctx, e.a, "sap"); err != nil {
				t.Fatal(err)
			}
			if again, err := e.svc.Get(ctx, e.a, u.ID); err != nil || again.Mapping["Net Value"] != "amount" {
				t.Fatalf("after delete: %+v, %v", again, err)
			}
			_, err = e.svc.Receive(ctx, e.a, intake.NewUpload{ColumnMapping: "columnMappings/sap"}, strings.NewReader(erpFile))
			if err == nil || err.Error() != "column_mapping: columnMappings/sap does not exist" || apperr.KindOf(err) != apperr.InvalidArgument {
				t.Fatalf("upload through a deleted mapping: %v", err)
			}
		})
	}
}

func TestRefusedHeaderSuggestsTheMapping(t *testing.T) {
	const file = `transaction_id,date,supplier_id,Vendor Name,naics_code,Net Value,currency,description
T1,2024-02-01,S1,Acme Steel,331110,250.10,USD,coil
`
	for _, p := range paths {
		t.Run(p.Name, func(t *testing.T) {
			e := setupPath(t, p.Small)
			u := processed(t, e, intake.NewUpload{}, []byte(file))
			want := `the header does not name the required columns: header: missing supplier_name, amount; unmapped columns "Vendor Name", "Net Value"; ` +
				`a mapping {"Vendor Name": "supplier_name", "Net Value": "amount"} would fix it`
			if u.State != intake.Failed || u.FailureReason != want {
				t.Fatalf("upload = %+v\nwant reason %s", u, want)
			}
		})
	}
}

func TestTheSameFileThroughAMappingIsAnotherUpload(t *testing.T) {
	ctx := context.Background()
	e := setup(t)
	plain := processed(t, e, intake.NewUpload{}, []byte(erpFile))
	if plain.State != intake.Failed {
		t.Fatalf("without a mapping: %+v", plain)
	}
	if _, err := e.svc.CreateMapping(ctx, e.a, intake.ColumnMapping{ID: "sap", Columns: map[string]string{
		"Doc": "transaction_id", "Posting Date": "date", "Vendor": "supplier_id", "Vendor Name": "supplier_name",
		"NAICS": "naics_code", "Net Value": "amount", "Curr": "currency", "Text": "description"}}); err != nil {
		t.Fatal(err)
	}
	mapped := processed(t, e, intake.NewUpload{ColumnMapping: "columnMappings/sap"}, []byte(erpFile))
	if mapped.ID == plain.ID || mapped.State != intake.Succeeded || mapped.Accepted != 2 {
		t.Fatalf("through the mapping: %+v (first upload %d)", mapped, plain.ID)
	}
	// Sent again through the same mapping: the same upload.
	again, err := e.svc.Receive(ctx, e.a, intake.NewUpload{ColumnMapping: "columnMappings/sap"}, strings.NewReader(erpFile))
	if err != nil || again.ID != mapped.ID {
		t.Fatalf("again = %+v, %v; want uploads/%d", again, err, mapped.ID)
	}
}

// TestColumnMappingsBindTheTablesOwner keeps column mappings under the
// tenant policies like every intake table: the owner reads none outside a
// tenant, and each tenant only its own.
func TestColumnMappingsBindTheTablesOwner(t *testing.T) {
	ctx := context.Background()
	e := intaketest.NewOwnedPipeline(t, store.SmallUpload)
	if _, err := e.Svc.CreateMapping(ctx, e.A, intake.ColumnMapping{ID: "sap", Columns: map[string]string{"Net Value": "amount"}}); err != nil {
		t.Fatal(err)
	}
	var n int64
	if err := e.Pool.QueryRow(ctx, `SELECT count(*) FROM intake.column_mappings`).Scan(&n); err == nil {
		t.Fatalf("the owner counted %d mappings outside a tenant (%v): the policies do not bind it", n, err)
	}
	if err := db.InTenant(ctx, e.Pool, e.B, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `SELECT count(*) FROM intake.column_mappings`).Scan(&n)
	}); err != nil || n != 0 {
		t.Fatalf("tenant b sees %d mappings (%v), want 0", n, err)
	}
	if _, err := e.Svc.CreateMapping(ctx, e.B, intake.ColumnMapping{ID: "sap", Columns: map[string]string{"Amt": "amount"}}); err != nil {
		t.Fatalf("b's own mapping of the same id: %v", err)
	}
}

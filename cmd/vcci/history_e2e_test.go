package main

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/trace/noop"

	"github.com/vcci-dev/vcci/pkg/testsupport"
)

// TestSupplierDataAndHistoryThroughREST uploads product lines, records a
// snapshot, registers the supplier's product footprint, follows the
// recalculation it queues to the end, and reads the line's new version,
// the change explained, the inventory now and the snapshot as it was.
func TestSupplierDataAndHistoryThroughREST(t *testing.T) {
	p := start(t, noop.NewTracerProvider())
	recv := newReceiver(t)
	recv.register(t, p, "recalculation.done")
	// 10 USD of steel in June 2024: 9.3150 2022 USD x 0.787 = 7.3309050 kg;
	// 10.5 USD of cement: 9.7808 x 3.924 = 38.3798592 kg (CPI-U 314.175).
	const file = "transaction_id,date,supplier_id,supplier_name,naics_code,amount,currency,description,supplier_country,product_id,quantity,unit\n" +
		"H1,2024-06-14,S1,Steel Co,331110,10.00,USD,coil,US,COIL-1,500,kg\n" +
		"H2,2024-06-14,S2,Cement Co,327310,10.50,USD,cement,DE,,,\n"
	var u struct{ Name string }
	if code := p.call(t, "POST", "/v1/uploads", p.key, strings.NewReader(file), &u, "Content-Type", "text/csv"); code != http.StatusAccepted {
		t.Fatalf("upload: HTTP %d %+v", code, u)
	}
	if got := p.wait(t, p.key, u.Name); got.State != "UPLOAD_STATE_SUCCEEDED" || got.RowsAccepted != "2" {
		t.Fatalf("upload = %+v", got)
	}
	type quality struct{ Technology, Time, Geography, Completeness, Reliability, Score string }
	type result struct {
		Method, Factor, KgCo2e, Quantity, Unit, FactorQuantity, ProductID, SupplierCountry string
		Version                                                                            int
		DataQuality                                                                        quality
	}
	var r result
	if code := p.call(t, "GET", "/v1/emissionResults/H1", p.key, nil, &r); code != http.StatusOK || r.Method != "spend-based" ||
		r.KgCo2e != "7.3309050" || r.ProductID != "COIL-1" || r.SupplierCountry != "US" || r.DataQuality.Geography != "1" || r.DataQuality.Score != "2.8" {
		t.Fatalf("H1 before: HTTP %d %+v", code, r)
	}
	// Read once before: intake caches the supplier and its page.
	var sup0 struct{ KgCo2e string }
	if code := p.call(t, "GET", "/v1/suppliers/S1", p.key, nil, &sup0); code != http.StatusOK || sup0.KgCo2e != "7.3309050" {
		t.Fatalf("supplier S1 before: HTTP %d %+v", code, sup0)
	}
	p.call(t, "GET", "/v1/transactions", p.key, nil, nil)
	type snapshot struct{ Name, TotalKgCo2e string }
	var snap snapshot
	if code := p.call(t, "POST", "/v1/inventorySnapshots", p.key, strings.NewReader(`{"displayName": "FY2024 as reported"}`), &snap); code != http.StatusOK ||
		snap.TotalKgCo2e != "45.7107642" {
		t.Fatalf("snapshot: HTTP %d %+v", code, snap)
	}

	var sf struct{ Name, Factor, Recalculation string }
	if code := p.call(t, "POST", "/v1/supplierFactors", p.key, strings.NewReader(`{"supplierId": "S1", "kind": "SUPPLIER_FACTOR_KIND_PRODUCT",
		"productId": "COIL-1", "declaredUnit": "t", "kgCo2ePerUnit": "1800", "reportingYear": 2024, "verified": true,
		"primaryDataShare": "0.6", "boundary": "cradle-to-gate", "validFrom": "2024-01-01", "validTo": "2024-12-31"}`), &sf); code != http.StatusOK ||
		sf.Recalculation == "" {
		t.Fatalf("supplier factor: HTTP %d %+v", code, sf)
	}
	type recalc struct {
		State, LineCount, LinesChanged, KgCo2eBefore, KgCo2eAfter, ChangePercent string
	}
	var rc recalc
	for deadline := time.Now().Add(60 * time.Second); rc.State != "RECALCULATION_STATE_SUCCEEDED"; time.Sleep(50 * time.Millisecond) {
		p.call(t, "GET", "/v1/"+sf.Recalculation, p.key, nil, &rc)
		if time.Now().After(deadline) || rc.State == "RECALCULATION_STATE_FAILED" {
			t.Fatalf("recalculation: %+v", rc)
		}
	}
	// 500 kg = 0.5 t x 1800 kg per t.
	if rc.LineCount != "1" || rc.LinesChanged != "1" || rc.KgCo2eBefore != "7.3309050" || rc.KgCo2eAfter != "900.0000000" {
		t.Errorf("recalculation = %+v", rc)
	}
	// The tenant's endpoint is told, once, signed.
	testsupport.WaitFor(t, "recalculation.done", 30*time.Second, func() bool { evs, _ := recv.received(); return len(evs) == 1 })
	evs, ids := recv.received()
	var done struct {
		Recalculation string `json:"recalculation"`
		State         string `json:"state"`
		KgCo2eAfter   string `json:"kg_co2e_after"`
	}
	if err := json.Unmarshal(evs[0].Data, &done); err != nil || evs[0].Type != "recalculation.done" ||
		ids[0] != strings.ReplaceAll(sf.Recalculation, "recalculations/", "recalculation-")+"-done" || done.Recalculation != sf.Recalculation ||
		done.State != "SUCCEEDED" || done.KgCo2eAfter != "900.0000000" {
		t.Errorf("recalculation.done %s %+v (%s): %v", ids[0], evs[0], evs[0].Data, err)
	}
	// Intake's supplier totals and its pages of transactions follow.
	var sup struct{ KgCo2e string }
	if code := p.call(t, "GET", "/v1/suppliers/S1", p.key, nil, &sup); code != http.StatusOK || sup.KgCo2e != "900.0000000" {
		t.Errorf("supplier S1 after: HTTP %d %+v", code, sup)
	}
	var page struct {
		Transactions []struct{ EmissionResult result }
	}
	if code := p.call(t, "GET", "/v1/transactions", p.key, nil, &page); code != http.StatusOK || len(page.Transactions) != 2 ||
		!slices.ContainsFunc(page.Transactions, func(x struct{ EmissionResult result }) bool { return x.EmissionResult.KgCo2e == "900.0000000" }) {
		t.Errorf("transactions after: HTTP %d %+v", code, page)
	}
	if code := p.call(t, "GET", "/v1/emissionResults/H1", p.key, nil, &r); code != http.StatusOK || r.Method != "supplier-product" ||
		r.KgCo2e != "900.0000000" || r.Factor != sf.Factor || r.FactorQuantity != "0.5" || r.Version != 2 || r.DataQuality.Score != "1.2" {
		t.Fatalf("H1 after: HTTP %d %+v", code, r)
	}
	var changes struct {
		Changes []struct {
			Result, KgCo2eDelta string
			Before, After       struct {
				Version                int
				Method, Factor, KgCo2e string
			}
		}
	}
	if code := p.call(t, "GET", "/v1/"+sf.Recalculation+"/changes", p.key, nil, &changes); code != http.StatusOK || len(changes.Changes) != 1 {
		t.Fatalf("changes: HTTP %d %+v", code, changes)
	}
	if c := changes.Changes[0]; c.Result != "emissionResults/H1" || c.Before.Method != "spend-based" || c.Before.Version != 1 ||
		c.After.Factor != sf.Factor || c.After.KgCo2e != "900.0000000" || c.KgCo2eDelta != "892.6690950" {
		t.Errorf("change = %+v", c)
	}

	type inventory struct {
		TotalKgCo2e string
		Methods     []struct{ Method, KgCo2e string }
		Uncertainty struct{ P5, P50, P95 string }
	}
	var now, then inventory
	if code := p.call(t, "GET", "/v1/inventory", p.key, nil, &now); code != http.StatusOK || now.TotalKgCo2e != "938.3798592" ||
		len(now.Methods) != 2 || now.Methods[0].Method != "supplier-product" || now.Uncertainty.P50 == "" {
		t.Errorf("inventory now: HTTP %d %+v", code, now)
	}
	if code := p.call(t, "GET", "/v1/inventory?snapshot="+snap.Name, p.key, nil, &then); code != http.StatusOK || then.TotalKgCo2e != "45.7107642" {
		t.Errorf("inventory as reported: HTTP %d %+v", code, then)
	}
	var bad struct{ Message string }
	if code := p.call(t, "GET", "/v1/inventory?asOfDate=2024-02-30", p.key, nil, &bad); code != http.StatusBadRequest ||
		bad.Message != `as_of_date: "2024-02-30" is not a YYYY-MM-DD date` {
		t.Errorf("a bad date: HTTP %d %+v", code, bad)
	}
}

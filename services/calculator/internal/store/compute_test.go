package store_test

import (
	"context"
	"log/slog"
	"reflect"
	"testing"
	"time"

	"github.com/vcci-dev/vcci/services/calculator/internal/cache"
	"github.com/vcci-dev/vcci/services/calculator/internal/calculator"
	"github.com/vcci-dev/vcci/services/calculator/internal/store"
)

// agreementLines are lines of every kind the engine computes: spend in
// USD (a credit note, a month without an index, a category override), in
// other currencies, and activity lines whose units convert exactly or not.
func agreementLines() []calculator.Line {
	spend := func(id, date, naics, amount string) calculator.Line {
		return calculator.Line{TransactionID: id, Date: day(date), SupplierID: "S1", NAICS: naics, Amount: amount, Upload: 1}
	}
	fx := func(id, date, cur, amount string) calculator.Line {
		return calculator.Line{TransactionID: id, Date: day(date), SupplierID: "S2", NAICS: "331110", Currency: cur, Original: amount, Upload: 1}
	}
	act := func(id, activity, qty, unit string, cat int16) calculator.Line {
		return calculator.Line{TransactionID: id, Date: day("2024-03-10"), SupplierID: "S3", Activity: activity, Quantity: qty, Unit: unit, Category: cat, Upload: 1}
	}
	override := spend("P5", "2024-05-02", "331110", "12.3456")
	override.Category = 2
	withSpend := act("A5", "hotel.uk.room-night", "2.5", "nights", 0)
	withSpend.Currency, withSpend.Original = "GBP", "300"
	return []calculator.Line{
		spend("P1", "2024-01-15", "331110", "1000.00"), spend("P2", "2024-02-01", "327310", "10.5"),
		spend("P3", "2024-07-10", "331110", "-100.00"), spend("P4", "2025-10-15", "481111", "0.0001"), override,
		spend("P6", "2024-06-01", "541511", "0"),
		fx("E1", "2024-06-14", "EUR", "100"), fx("E2", "2024-06-30", "GBP", "-250.50"), fx("E3", "2024-06-01", "JPY", "1000000"),
		fx("E4", "2024-06-01", "USD", "10"),
		act("A1", "fuels.liquid-fuels.diesel-average-biofuel-blend.litre", "10", "gal", 1),
		act("A2", "hotel.uk.room-night", "3", "nights", 0),
		act("A3", "air.flights.long-haul-to-from-uk.business-class.with-rf.passenger-km", "1000", "passenger-miles", 0),
		act("A4", "fuels.gaseous-fuels.natural-gas.kwh-gross-cv", "1", "GJ (gross CV)", 3),
		act("A6", "fuels.liquid-fuels.diesel-average-biofuel-blend.litre", "0.000001", "L", 4), withSpend,
	}
}

// The engine computes, without storing, exactly what the stored path
// stores and reads back: every provenance field, string for string, with
// and without the factor cache. Only the upload (none) and the time differ.
func TestComputeAgreesWithStoredResults(t *testing.T) {
	ctx := context.Background()
	f := setup(t)
	stored := agreementLines()
	if _, err := f.svc.Calculate(ctx, f.a, stored); err != nil {
		t.Fatal(err)
	}
	ids := make([]string, len(stored))
	for i, l := range stored {
		ids[i] = l.TransactionID
	}
	want := make([]calculator.Result, len(ids)) // one by one: a batch read leaves the gases out
	for i, id := range ids {
		var err error
		if want[i], err = f.svc.Result(ctx, f.a, id); err != nil {
			t.Fatalf("Result(%s): %v", id, err)
		}
	}
	byID := map[string]calculator.Result{}
	for _, r := range want {
		byID[r.TransactionID] = r
	}
	c := cache.New(nil, slog.New(slog.DiscardHandler), nil)
	defer c.Close()
	for name, svc := range map[string]*calculator.Service{
		"no cache": f.svc, "factor cache": calculator.New(store.New(f.pool), c.Summaries, c.Factors, c.Settings),
	} {
		t.Run(name, func(t *testing.T) {
			for range 2 { // the second from the parsed sets
				checkAgreement(t, svc, f, byID)
			}
		})
	}
}

func checkAgreement(t *testing.T, svc *calculator.Service, f fixture, want map[string]calculator.Result) {
	t.Helper()
	lines := agreementLines()
	for i := range lines {
		lines[i].Upload = 0 // not needed
	}
	before := time.Now()
	got, err := svc.Compute(context.Background(), f.a, lines)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range got.Results {
		w := want[r.TransactionID]
		if r.CalculatedAt.Before(before) || w.Upload != "uploads/1" {
			t.Errorf("%s: calculated at %s, stored under %q", r.TransactionID, r.CalculatedAt, w.Upload)
		}
		r.CalculatedAt, w.CalculatedAt, w.Upload = time.Time{}, time.Time{}, ""
		w.Date = w.Date.UTC()
		if !reflect.DeepEqual(r, w) {
			t.Errorf("%s computed\n%+v\nstored\n%+v", r.TransactionID, r, w)
		}
	}
	// A spot check against hand-worked figures (store_test.go).
	kg := map[string]string{}
	for _, r := range got.Results {
		kg[r.TransactionID] = r.Kg
	}
	for id, k := range map[string]string{"P2": "38.8558404", "E1": "78.9035182", "A1": "95.1194488", "A4": "50.8055556"} {
		if kg[id] != k {
			t.Errorf("%s kg = %s, want %s", id, kg[id], k)
		}
	}
	if len(got.Results) != len(want) {
		t.Errorf("computed %d results, want %d", len(got.Results), len(want))
	}
}

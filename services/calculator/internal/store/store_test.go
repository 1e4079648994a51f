package store_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/vcci-dev/vcci/pkg/apperr"
	"github.com/vcci-dev/vcci/pkg/decimal"
	"github.com/vcci-dev/vcci/pkg/refdata"
	"github.com/vcci-dev/vcci/pkg/testsupport"
	"github.com/vcci-dev/vcci/services/calculator/internal/calculator"
	"github.com/vcci-dev/vcci/services/calculator/internal/factors"
	"github.com/vcci-dev/vcci/services/calculator/internal/store"
)

func TestMain(m *testing.M) { os.Exit(testsupport.Main(m)) }

// fixture is a migrated database, a Service over it, and two tenants.
type fixture struct {
	svc  *calculator.Service
	pool *pgxpool.Pool
	a, b uuid.UUID
}

func setup(t *testing.T) fixture {
	t.Helper()
	pool := testsupport.NewPool(t, "calculator", store.Migrate)
	a, b := testsupport.Tenant(t, pool, "a"), testsupport.Tenant(t, pool, "b")
	return fixture{svc: calculator.New(store.New(pool), nil, nil, nil), pool: pool, a: a, b: b}
}

func day(s string) time.Time {
	d, _ := time.Parse(time.DateOnly, s)
	return d
}

func TestCalculateStoresExactResultsOnce(t *testing.T) {
	ctx := context.Background()
	f := setup(t)
	svc, a, b := f.svc, f.a, f.b
	// Each line: amount x 292.655 (CPI-U, 2022 average) / CPI-U of its
	// month, rounded to 4 decimals (2022 USD), x the factor.
	lines := []calculator.Line{
		{TransactionID: "T1", Date: day("2024-01-15"), SupplierID: "S1", NAICS: "331110", Amount: "1000.00", Upload: 7},  // / 308.417 = 948.8939 x 0.787 = 746.7794993
		{TransactionID: "T2", Date: day("2024-02-01"), SupplierID: "S1", NAICS: "327310", Amount: "10.5", Upload: 7},     // / 310.326 = 9.9021 x 3.924 = 38.8558404
		{TransactionID: "T3", Date: day("2024-07-09"), SupplierID: "S2", NAICS: "481111", Amount: "200.0000", Upload: 7}, // / 314.54 = 186.0844 x 0.644 = 119.8383536 (cat 6)
		{TransactionID: "T4", Date: day("2024-07-10"), SupplierID: "S2", NAICS: "331110", Amount: "-100.00", Upload: 7},  // / 314.54 = -93.0422 x 0.787 = -73.2242114 credit note
	}
	got, err := svc.Calculate(ctx, a, lines)
	if err != nil {
		t.Fatal(err)
	}
	if got.Stored != 4 || got.Skipped != 0 || got.Kg != "832.2494819" {
		t.Fatalf("first = %+v, want 4 stored, kg 832.2494819", got)
	}
	// A retry of an overlapping batch stores only the new line.
	// T5: 1 x 292.655 / 315.605 = 0.9273 x 0.084 = 0.0778932.
	again, err := svc.Calculate(ctx, a, append(lines[2:], calculator.Line{TransactionID: "T5", Date: day("2024-12-31"), SupplierID: "S3", NAICS: "541511", Amount: "1", Upload: 7}))
	if err != nil {
		t.Fatal(err)
	}
	if again.Stored != 1 || again.Skipped != 2 || again.Kg != "46.6920354" {
		t.Fatalf("retry = %+v, want 1 stored, 2 skipped, kg 46.6920354 (whole batch)", again)
	}

	sup, err := svc.Summarize(ctx, a, calculator.BySupplier, 0)
	if err != nil {
		t.Fatal(err)
	}
	if sup.TotalKg != "832.3273751" || sup.TotalUSD != "1111.5000" || sup.Count != 5 || sup.GroupCount != 3 {
		t.Fatalf("summary totals = %+v", sup)
	}
	if sup.Groups[0].Key != "S1" || sup.Groups[0].Kg != "785.6353397" || sup.Groups[1].Key != "S2" || sup.Groups[1].Kg != "46.6141422" {
		t.Fatalf("supplier groups = %+v", sup.Groups)
	}
	cat, _ := svc.Summarize(ctx, a, calculator.ByCategory, 0)
	if len(cat.Groups) != 2 || cat.Groups[0].Key != "1" || cat.Groups[0].Label != "Purchased goods and services" || cat.Groups[1].Key != "6" || cat.Groups[1].Kg != "119.8383536" {
		t.Fatalf("category groups = %+v", cat.Groups)
	}
	months, _ := svc.Summarize(ctx, a, calculator.ByMonth, 0)
	if len(months.Groups) != 4 || months.Groups[0].Key != "2024-01" || months.Groups[3].Key != "2024-12" {
		t.Fatalf("month groups = %+v", months.Groups)
	}
	top, _ := svc.Summarize(ctx, a, calculator.ByNAICS, 1)
	if len(top.Groups) != 1 || top.Groups[0].Key != "331110" || top.GroupCount != 4 || top.TotalKg != "832.3273751" {
		t.Fatalf("limited naics = %+v", top)
	}

	r, err := svc.Result(ctx, a, "T2")
	if err != nil {
		t.Fatal(err)
	}
	if r.Kg != "38.8558404" || r.FactorValue != "3.924" || r.Set != "epa-supply-chain-v1.3.0" || r.SetVersion != "1.3.0" || r.Method != "spend-based" || r.Upload != "uploads/7" ||
		r.Amount != "10.5000" || r.AmountBase != "9.9021" || r.PriceIndex != "310.326" || r.PriceMonth != "2024-02" || r.PriceBase != "292.655" || r.PriceYear != 2022 {
		t.Fatalf("result = %+v", r)
	}

	// Tenant b sees none of it: the database enforces it.
	if _, err := svc.Result(ctx, b, "T2"); !errors.Is(err, calculator.ErrResultNotFound) {
		t.Fatalf("tenant b reading a's result: err = %v, want not found", err)
	}
	bs, err := svc.Summarize(ctx, b, calculator.BySupplier, 0)
	if err != nil || bs.Count != 0 || bs.TotalKg != "0.0000000" || len(bs.Groups) != 0 {
		t.Fatalf("tenant b summary = %+v, %v", bs, err)
	}
}

// A batch may carry the lines of several uploads (intake batches small
// ones): each upload's share comes back on its own, exactly, on the first
// call and on a retry that finds some lines stored.
func TestCalculateSplitsTotalsByUpload(t *testing.T) {
	ctx := context.Background()
	f := setup(t)
	svc, a := f.svc, f.a
	lines := []calculator.Line{ // in 2022 USD as in TestCalculateStoresExactResultsOnce
		{TransactionID: "U1", Date: day("2024-01-15"), SupplierID: "S1", NAICS: "331110", Amount: "1000.00", Upload: 7}, // 746.7794993
		{TransactionID: "U2", Date: day("2024-02-01"), SupplierID: "S2", NAICS: "327310", Amount: "10.5", Upload: 7},    // 38.8558404
		{TransactionID: "U3", Date: day("2024-07-09"), SupplierID: "S1", NAICS: "331110", Amount: "-100.00", Upload: 8}, // -73.2242114
	}
	shares := func(c calculator.Calculated) string {
		var b strings.Builder
		for _, u := range c.Uploads {
			fmt.Fprintf(&b, "%d:%s:%d[", u.Upload, u.Kg, u.Count)
			for _, g := range u.Suppliers {
				fmt.Fprintf(&b, "%s=%s/%s/%d ", g.Key, g.Kg, g.Spend, g.Count)
			}
			b.WriteString("] ")
		}
		return b.String()
	}
	got, err := svc.Calculate(ctx, a, lines)
	if err != nil {
		t.Fatal(err)
	}
	want := "7:785.6353397:2[S1=746.7794993/1000.0000/1 S2=38.8558404/10.5000/1 ] 8:-73.2242114:1[S1=-73.2242114/-100.0000/1 ] "
	if s := shares(got); s != want || got.Kg != "712.4111283" || len(got.Suppliers) != 2 || got.Suppliers[0].Kg != "673.5552879" {
		t.Fatalf("first call: %s, kg %s, suppliers %+v\nwant %s", s, got.Kg, got.Suppliers, want)
	}
	// A retry of upload 8's line with a new line of upload 9 (1 / 314.54 x
	// 292.655 = 0.9304 x 0.084 = 0.0781536): the stored line still counts
	// for 8, nothing is stored twice.
	again, err := svc.Calculate(ctx, a, []calculator.Line{lines[2],
		{TransactionID: "U4", Date: day("2024-07-10"), SupplierID: "S3", NAICS: "541511", Amount: "1", Upload: 9}})
	if err != nil {
		t.Fatal(err)
	}
	want = "8:-73.2242114:1[S1=-73.2242114/-100.0000/1 ] 9:0.0781536:1[S3=0.0781536/1.0000/1 ] "
	if s := shares(again); s != want || again.Stored != 1 || again.Skipped != 1 || again.Kg != "-73.1460578" {
		t.Fatalf("retry: %s stored %d skipped %d kg %s\nwant %s", s, again.Stored, again.Skipped, again.Kg, want)
	}
	if r, err := svc.Result(ctx, a, "U3"); err != nil || r.Upload != "uploads/8" {
		t.Fatalf("U3 = %+v, %v; want stored under uploads/8", r, err)
	}
}

func TestCalculateRejectsBadLines(t *testing.T) {
	ctx := context.Background()
	f := setup(t)
	svc, a := f.svc, f.a
	for name, tc := range map[string]struct {
		line  calculator.Line
		field string
	}{
		"unknown code": {calculator.Line{TransactionID: "T1", Date: day("2024-01-01"), SupplierID: "S", NAICS: "999999", Amount: "1", Upload: 1}, "lines.naics_code"},
		"bad amount":   {calculator.Line{TransactionID: "T1", Date: day("2024-01-01"), SupplierID: "S", NAICS: "331110", Amount: "1e5", Upload: 1}, "lines[0].amount_usd"},
		"no id":        {calculator.Line{Date: day("2024-01-01"), SupplierID: "S", NAICS: "331110", Amount: "1", Upload: 1}, "lines[0].transaction_id"},
		"no upload":    {calculator.Line{TransactionID: "T1", Date: day("2024-01-01"), SupplierID: "S", NAICS: "331110", Amount: "1"}, "lines[0].upload"},
		"no index":     {calculator.Line{TransactionID: "T1", Date: day("1912-12-31"), SupplierID: "S", NAICS: "331110", Amount: "1", Upload: 1}, "lines[0].date"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := svc.Calculate(ctx, a, []calculator.Line{tc.line})
			var ae *apperr.Error
			if !errors.As(err, &ae) || ae.Kind != apperr.InvalidArgument || ae.Violations[0].Field != tc.field {
				t.Fatalf("err = %v, want InvalidArgument on %s", err, tc.field)
			}
		})
	}
	sum, _ := svc.Summarize(ctx, a, calculator.BySupplier, 0)
	if sum.Count != 0 {
		t.Fatalf("rejected lines were stored: %+v", sum)
	}
}

// A month without a published index takes the latest before it, and the
// result says which; results stored before the price adjustment read back
// with none, and their set got its price year at the next start.
func TestPriceIndexGapsAndOlderResults(t *testing.T) {
	ctx := context.Background()
	f := setup(t)
	lines := []calculator.Line{
		// 2025-10 was not published: 2025-09's 324.8. 100 x 292.655 / 324.8 = 90.1031 x 0.787 = 70.9111397.
		{TransactionID: "G1", Date: day("2025-10-15"), SupplierID: "S1", NAICS: "331110", Amount: "100", Upload: 1},
		// Past the shipped data (2026-05, 335.123): 100 x 292.655 / 335.123 = 87.3276 x 0.787 = 68.7268212.
		{TransactionID: "G2", Date: day("2026-11-30"), SupplierID: "S1", NAICS: "331110", Amount: "100", Upload: 1},
	}
	if _, err := f.svc.Calculate(ctx, f.a, lines); err != nil {
		t.Fatal(err)
	}
	for id, want := range map[string][4]string{"G1": {"2025-09", "324.8", "90.1031", "70.9111397"}, "G2": {"2026-05", "335.123", "87.3276", "68.7268212"}} {
		r, err := f.svc.Result(ctx, f.a, id)
		if err != nil || r.PriceMonth != want[0] || r.PriceIndex != want[1] || r.AmountBase != want[2] || r.Kg != want[3] {
			t.Errorf("%s = %+v, %v; want index of %s %s, %s 2022 USD, %s kg", id, r, err, want[0], want[1], want[2], want[3])
		}
	}

	// As a result and a set from before the adjustment.
	if _, err := f.pool.Exec(ctx, `UPDATE calculator.emission_results SET amount_base_usd = NULL, price_index = NULL, price_index_month = NULL WHERE transaction_id = 'G1';
		UPDATE calculator.factor_sets SET price_year = NULL, price_index_base = NULL`); err != nil {
		t.Fatal(err)
	}
	if err := store.LoadSet(ctx, f.pool, factors.EPA()); err != nil {
		t.Fatal(err)
	}
	r, err := f.svc.Result(ctx, f.a, "G1")
	if err != nil || r.PriceIndex != "" || r.PriceMonth != "" || r.AmountBase != "" || r.PriceBase != "" || r.PriceYear != 0 || r.Kg != "70.9111397" {
		t.Fatalf("an older result = %+v, %v; want no price fields", r, err)
	}
	if r, _ := f.svc.Result(ctx, f.a, "G2"); r.PriceBase != "292.655" || r.PriceYear != 2022 {
		t.Fatalf("the set's price year after LoadSet: %+v", r)
	}
}

// A line in another currency is converted at its month's average rate, then
// priced in 2022 dollars; the result records the currency, the amount, the
// rate and its month, so it can be recomputed by hand.
func TestCurrencyLinesAreConvertedAndRecorded(t *testing.T) {
	ctx := context.Background()
	f := setup(t)
	lines := []calculator.Line{
		// 100 / 0.9291 = 107.6310 USD; x 292.655 / 314.175 (CPI-U 2024-06) = 100.2586; x 0.787 = 78.9035182.
		{TransactionID: "E1", Date: day("2024-06-14"), SupplierID: "S1", NAICS: "331110", Currency: "EUR", Original: "100", Upload: 1},
		// -250.50 / 0.7864 = -318.5402; -296.7212 x 0.084 = -24.9245808.
		{TransactionID: "E2", Date: day("2024-06-30"), SupplierID: "S2", NAICS: "541511", Currency: "GBP", Original: "-250.50", Upload: 1},
		// 1000000 / 157.8600 = 6334.7270; 5900.8181 x 0.787 = 4643.9438447.
		{TransactionID: "E3", Date: day("2024-06-01"), SupplierID: "S1", NAICS: "331110", Currency: "JPY", Original: "1000000", Upload: 1},
		// USD given as amount and currency reads as amount_usd: 10 x 292.655 / 314.175 = 9.3150 x 0.787 = 7.330905.
		{TransactionID: "E4", Date: day("2024-06-01"), SupplierID: "S2", NAICS: "331110", Currency: "USD", Original: "10", Upload: 1},
	}
	out, err := f.svc.Calculate(ctx, f.a, lines)
	if err != nil {
		t.Fatal(err)
	}
	// 78.9035182 - 24.9245808 + 4643.9438447 + 7.330905
	if out.Stored != 4 || out.Kg != "4705.2536871" {
		t.Fatalf("Calculate = %+v, want 4 lines, 4705.2536871 kg", out)
	}
	for id, want := range map[string][6]string{
		"E1": {"EUR", "100.0000", "0.9291", "107.6310", "100.2586", "78.9035182"},
		"E2": {"GBP", "-250.5000", "0.7864", "-318.5402", "-296.7212", "-24.9245808"},
		"E3": {"JPY", "1000000.0000", "157.8600", "6334.7270", "5900.8181", "4643.9438447"},
		"E4": {"", "", "", "10.0000", "9.3150", "7.3309050"},
	} {
		r, err := f.svc.Result(ctx, f.a, id)
		if err != nil || r.Currency != want[0] || r.Original != want[1] || r.FXRate != want[2] || r.Amount != want[3] ||
			r.AmountBase != want[4] || r.Kg != want[5] || (want[0] != "" && r.FXMonth != "2024-06") {
			t.Errorf("%s = %+v, %v; want %v", id, r, err, want)
		}
	}
	// Supplier spend is in dollars: S1 107.6310 + 6334.7270.
	sum, err := f.svc.Summarize(ctx, f.a, calculator.BySupplier, 0)
	if err != nil || sum.TotalUSD != "6133.8178" || sum.Groups[0].Key != "S1" || sum.Groups[0].Spend != "6442.3580" {
		t.Fatalf("Summarize = %+v, %v", sum, err)
	}
}

func TestCurrencyLinesRefusedNamingTheField(t *testing.T) {
	f := setup(t)
	line := func(cur, orig, usd, date string) calculator.Line {
		return calculator.Line{TransactionID: "T1", Date: day(date), SupplierID: "S", NAICS: "331110", Currency: cur, Original: orig, Amount: usd, Upload: 1}
	}
	for name, tc := range map[string]struct {
		line        calculator.Line
		field, text string
	}{
		"unknown currency": {line("XYZ", "1", "", "2024-01-01"), "lines[0].currency", `unknown currency "XYZ"`},
		"no rate":          {line("EUR", "1", "", "2026-07-01"), "lines[0].currency", "no FX rate for EUR in 2026-07: the series covers 1999-01 to 2026-06"},
		"both amounts":     {line("EUR", "1", "1", "2024-01-01"), "lines[0].amount_usd", "must be empty for a line in EUR"},
		"bad amount":       {line("EUR", "1,5", "", "2024-01-01"), "lines[0].amount", `"1,5" is not a decimal amount`},
		"usd mismatch":     {line("USD", "2", "1", "2024-01-01"), "lines[0].amount", `"2" differs from amount_usd "1"`},
	} {
		t.Run(name, func(t *testing.T) { refused(t, f, tc.line, tc.field, tc.text) })
	}
}

// Activity lines are calculated with the DESNZ 2024 factors, their units
// converted exactly (or to 10 decimals where the conversion does not end),
// and every result carries its gases and its CO2e under AR4 and AR6.
func TestActivityLinesAreCalculatedWithDESNZ(t *testing.T) {
	ctx := context.Background()
	f := setup(t)
	lines := activityLines("S1")
	out, err := f.svc.Calculate(ctx, f.a, lines)
	if err != nil {
		t.Fatal(err)
	}
	if out.Stored != 4 || out.Kg != "1110.9951406" {
		t.Fatalf("Calculate = %+v, want 4 lines, 1110.9951406 kg", out)
	}
	for id, want := range map[string][7]string{
		"A1": {"37.85411784", "95.1194488", "95.2733602", "95.1570066", "1", "litre", "gal"},
		"A2": {"3", "31.2000000", "31.2000000", "31.2000000", "6", "room-night", "nights"},
		"A3": {"1609.344", "933.8701363", "934.4378530", "934.0084857", "6", "passenger-km", "passenger-miles"},
		"A4": {"277.7777777778", "50.8055556", "50.8003354", "50.8060325", "3", "kwh-gross-cv", "GJ (gross CV)"},
	} {
		r, err := f.svc.Result(ctx, f.a, id)
		if err != nil || r.FactorQty != want[0] || r.Kg != want[1] || r.KgAR4 != want[2] || r.KgAR6 != want[3] ||
			strconv.Itoa(int(r.Category)) != want[4] || r.Unit != "kg CO2e/"+want[5] || r.QtyUnit != want[6] || r.Method != calculator.MethodAverageData ||
			r.Set != "desnz-2024" || r.Activity == "" || r.NAICS != "" || r.Amount != "0.0000" || r.AmountBase != "" || r.PriceIndex != "" {
			t.Errorf("%s = %+v, %v; want %v", id, r, err, want)
		}
	}
	// The diesel line's gases, in kg CO2e (AR5) as DESNZ gives them.
	r, _ := f.svc.Result(ctx, f.a, "A1")
	if fmt.Sprint(r.Gases) != "[{CH4 0.0109776941736} {CO2 93.863070596064} {N2O 1.245400476936}]" || r.GasUnit != "kg CO2e (AR5)" {
		t.Fatalf("A1 gases = %v %s", r.Gases, r.GasUnit)
	}
	if got := calculator.UnitConversion("gal", "litre"); got != "1 us-gallon = 3.785411784 litre" {
		t.Fatalf("UnitConversion = %q", got)
	}

	// The inventory under each basis, from the totals kept as lines were
	// stored exactly, reported to 0.1 g.
	for basis, want := range map[refdata.Basis][2]string{
		refdata.AR5: {"1110.9951406", "965.0701363"}, refdata.AR4: {"1111.7115486", "965.6378530"}, refdata.AR6: {"1111.1715247", ""},
	} {
		sum, err := f.svc.SummarizeUnder(ctx, f.a, calculator.ByCategory, 0, basis, calculator.Period{})
		if err != nil || sum.Basis != basis || sum.TotalKg != want[0] || sum.Groups[0].Key != "6" || (want[1] != "" && sum.Groups[0].Kg != want[1]) {
			t.Errorf("%s summary = %+v, %v; want %v", basis, sum, err, want)
		}
	}
	// The tenant's basis applies when none is asked for.
	if _, err := f.svc.UpdateSettings(ctx, f.a, calculator.Settings{Basis: refdata.AR4}); err != nil {
		t.Fatal(err)
	}
	if sum, err := f.svc.Summarize(ctx, f.a, calculator.BySupplier, 0); err != nil || sum.Basis != refdata.AR4 || sum.TotalKg != "1111.7115486" {
		t.Fatalf("summary under the tenant's basis = %+v, %v", sum, err)
	}
	if s, err := f.svc.Settings(ctx, f.b); err != nil || s.Basis != refdata.AR5 || !s.UpdateTime.IsZero() {
		t.Fatalf("another tenant's settings = %+v, %v; want the default", s, err)
	}
}

// activityLines are four activity lines of supplier's, dated 2024-03-10:
// 1110.9951406 kg CO2e under AR5, 1111.7115486 under AR4 (category 6
// 965.6378530 of it).
func activityLines(supplier string) []calculator.Line {
	act := func(id, activity, qty, unit string, cat int16) calculator.Line {
		return calculator.Line{TransactionID: id, Date: day("2024-03-10"), SupplierID: supplier, Activity: activity, Quantity: qty, Unit: unit, Category: cat, Upload: 1}
	}
	return []calculator.Line{
		// Fuels, diesel (average biofuel blend), 2.51279 kg CO2e per litre (CO2 2.4796, CH4 0.00029, N2O 0.0329):
		// 10 US gal = 37.85411784 L, x 2.51279 = 95.1194487671736.
		act("A1", "fuels.liquid-fuels.diesel-average-biofuel-blend.litre", "10", "gal", 1),
		// Hotel stay, UK, 10.4 per room-night, category 6 by default.
		act("A2", "hotel.uk.room-night", "3", "nights", 0),
		// Long-haul business class with RF, 0.58028 per passenger-km: 1000 passenger-miles = 1609.344 km.
		act("A3", "air.flights.long-haul-to-from-uk.business-class.with-rf.passenger-km", "1000", "passenger-miles", 0),
		// Natural gas, 0.1829 per kWh (gross CV): 1 GJ = 2500/9 kWh, kept to 10 decimals.
		act("A4", "fuels.gaseous-fuels.natural-gas.kwh-gross-cv", "1", "GJ (gross CV)", 3),
	}
}

func TestActivityLinesRefusedNamingTheField(t *testing.T) {
	f := setup(t)
	const diesel = "fuels.liquid-fuels.diesel-average-biofuel-blend.litre"
	line := func(activity, qty, unit string, cat int16) calculator.Line {
		return calculator.Line{TransactionID: "T1", Date: day("2024-01-01"), SupplierID: "S", Activity: activity, Quantity: qty, Unit: unit, Category: cat, Upload: 1}
	}
	for name, tc := range map[string]struct {
		line        calculator.Line
		field, text string
	}{
		"unknown activity": {line("fuels.unobtainium.litre", "1", "L", 1), "lines[0].activity", `unknown activity "fuels.unobtainium.litre": not a factor of desnz-2024`},
		"other dimension":  {line(diesel, "1", "kg", 1), "lines[0].unit", `"kg" does not convert to the factor's unit "litre"`},
		"unknown unit":     {line(diesel, "1", "barrels of joy", 1), "lines[0].unit", `"barrels of joy" does not convert`},
		"negative":         {line(diesel, "-5", "L", 1), "lines[0].quantity", "-5 must not be negative"},
		"not a number":     {line(diesel, "5 L", "L", 1), "lines[0].quantity", `"5 L" is not a decimal quantity`},
		"no category":      {line(diesel, "5", "L", 0), "lines[0].category", "required for " + diesel},
		"category 16":      {line(diesel, "5", "L", 16), "lines[0].category", "16 is not a Scope 3 category"},
	} {
		t.Run(name, func(t *testing.T) { refused(t, f, tc.line, tc.field, tc.text) })
	}
}

// Every activity factor calculates, all in one batch (more activities than
// a lookup of factors by name takes): one unit of each is its value.
func TestEveryActivityFactorInOneBatch(t *testing.T) {
	ctx := context.Background()
	f := setup(t)
	set, err := refdata.DESNZ()
	if err != nil {
		t.Fatal(err)
	}
	all := set.All()
	lines := make([]calculator.Line, len(all))
	for i, a := range all {
		lines[i] = calculator.Line{TransactionID: fmt.Sprintf("D%04d", i), Date: day("2024-05-01"), SupplierID: "S", Activity: a.Activity,
			Quantity: "1", Unit: a.Unit, Category: 1, Upload: 1}
	}
	if _, err := f.svc.Calculate(ctx, f.a, lines); err != nil {
		t.Fatal(err)
	}
	rs, err := f.svc.Results(ctx, f.a, []string{"D0000", fmt.Sprintf("D%04d", len(all)-1)}, nil)
	if err != nil || len(rs) != 2 {
		t.Fatalf("results = %v, %v", rs, err)
	}
	for i, r := range rs {
		a := all[map[int]int{0: 0, 1: len(all) - 1}[i]]
		v, _, _ := decimal.Parse(a.KgCO2e)
		if r.Activity != a.Activity || r.Kg != decimal.Round(v, 7) {
			t.Errorf("%s = %s kg, want %s (%s)", r.TransactionID, r.Kg, a.KgCO2e, a.Activity)
		}
	}
}

// refused checks that calculating line is refused, naming field, with a
// description starting with text.
func refused(t *testing.T, f fixture, line calculator.Line, field, text string) {
	t.Helper()
	_, err := f.svc.Calculate(context.Background(), f.a, []calculator.Line{line})
	var ae *apperr.Error
	if !errors.As(err, &ae) || ae.Kind != apperr.InvalidArgument || ae.Violations[0].Field != field ||
		!strings.HasPrefix(ae.Violations[0].Description, text) {
		t.Fatalf("err = %v, want InvalidArgument on %s: %s", err, field, text)
	}
}

package store_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/vcci-dev/vcci/pkg/apperr"
	"github.com/vcci-dev/vcci/pkg/testsupport"
	"github.com/vcci-dev/vcci/services/calculator/internal/calculator"
	"github.com/vcci-dev/vcci/services/calculator/internal/factors"
	"github.com/vcci-dev/vcci/services/calculator/internal/store"
)

// recalcFixture is a tenant with three lines calculated on day one, and
// River working recalculations two lines a batch (so runs page).
type recalcFixture struct {
	svc    *calculator.Service
	st     *store.Store
	pool   *pgxpool.Pool
	tenant uuid.UUID
}

var (
	dayOne = day("2026-01-10")
	dayTwo = day("2026-01-11")
)

// Each line: amount x 292.655 / CPI-U of its month, to 4 decimals, x
// EPA's factor (TestCalculateStoresExactResultsOnce).
var recalcLines = []calculator.Line{
	{TransactionID: "T1", Date: day("2024-01-15"), SupplierID: "S1", NAICS: "331110", Amount: "1000.00", Upload: 7},  // 948.8939 x 0.787 = 746.7794993
	{TransactionID: "T2", Date: day("2024-02-01"), SupplierID: "S1", NAICS: "327310", Amount: "10.5", Upload: 7},     // 9.9021 x 3.924 = 38.8558404
	{TransactionID: "T3", Date: day("2024-07-09"), SupplierID: "S2", NAICS: "481111", Amount: "200.0000", Upload: 7}, // 186.0844 x 0.644 = 119.8383536
}

func newRecalcFixture(t *testing.T) recalcFixture {
	t.Helper()
	ctx := context.Background()
	pool := testsupport.NewPool(t, "calculator", store.Migrate)
	st := store.New(pool)
	st.Now = func() time.Time { return dayOne.Add(10 * time.Hour) }
	f := recalcFixture{svc: calculator.New(st, nil, nil, nil), st: st, pool: pool, tenant: testsupport.Tenant(t, pool, "a")}
	if _, err := f.svc.Calculate(ctx, f.tenant, append([]calculator.Line(nil), recalcLines...)); err != nil {
		t.Fatal(err)
	}
	return f
}

// startWorkers works recalculations with svc, batch lines a transaction,
// until the test ends.
func startWorkers(t testing.TB, pool *pgxpool.Pool, svc *calculator.Service, batch int) {
	t.Helper()
	c, err := store.NewClient(pool, calculator.NewRecalcWorker(svc, batch), store.ClientOptions{Log: slog.New(slog.DiscardHandler),
		TP: noop.NewTracerProvider(), FetchPoll: 10 * time.Millisecond, RetryPolicy: retryNow{}, TestOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := c.Stop(ctx); err != nil {
			t.Errorf("stop river client: %v", err)
		}
	})
}

type retryNow struct{}

func (retryNow) NextRetry(*rivertype.JobRow) time.Time { return time.Now() }

var _ river.ClientRetryPolicy = retryNow{}

// waitEnded waits for recalculation id to succeed or fail.
func waitEnded(t testing.TB, svc *calculator.Service, tenant uuid.UUID, id int64) calculator.Recalculation {
	t.Helper()
	return waitEndedWithin(t, svc, tenant, id, time.Minute)
}

func waitEndedWithin(t testing.TB, svc *calculator.Service, tenant uuid.UUID, id int64, limit time.Duration) calculator.Recalculation {
	t.Helper()
	var r calculator.Recalculation
	testsupport.WaitFor(t, "the recalculation to end", limit, func() bool {
		var err error
		if r, err = svc.Recalculation(context.Background(), tenant, id); err != nil {
			t.Fatal(err)
		}
		return r.State == calculator.RecalcSucceeded || r.State == calculator.RecalcFailed
	})
	return r
}

// revisedCSV is EPA's factors of the three lines' codes, 331110 revised
// from 0.787 to 0.9.
const revisedCSV = `code,title,value,category,unit,region
331110,Iron and steel mills and ferroalloy manufacturing,0.9,1,,US
327310,Cement manufacturing,3.924,1,,US
481111,Scheduled passenger air transportation,0.644,6,,US
`

// switchToRevised imports the revised set and makes it the tenant's.
func switchToRevised(t *testing.T, f recalcFixture) {
	t.Helper()
	ctx := context.Background()
	set := factors.Set{Name: "epa-revised", DisplayName: "EPA revised", Publisher: "US EPA", Version: "1.3.1", Unit: "kg CO2e/2022 USD, purchaser price",
		Source: "test", Licence: "Public domain", Region: "US", Year: 2022, PriceYear: 2022, Kind: factors.KindSpend, GasUnit: "kg CO2e (AR5)"}
	if _, err := f.svc.ImportFactorSet(ctx, f.tenant, set, []byte(revisedCSV)); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.UpdateSettings(ctx, f.tenant, calculator.Settings{SpendSet: "epa-revised"}); err != nil {
		t.Fatal(err)
	}
}

func inventoryJSON(t *testing.T, f recalcFixture, at calculator.InventoryAt) string {
	t.Helper()
	inv, err := f.svc.Inventory(context.Background(), f.tenant, at, "", 100, 1)
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(inv) //nolint:musttag // compared as bytes, read by no one
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestRecalculateNewFactorSetVersion(t *testing.T) {
	ctx := context.Background()
	f := newRecalcFixture(t)
	asOfDayOne := inventoryJSON(t, f, calculator.InventoryAt{Day: dayOne})
	switchToRevised(t, f)
	f.st.Now = func() time.Time { return dayTwo.Add(9 * time.Hour) }
	startWorkers(t, f.pool, f.svc, 2)

	r, err := f.svc.CreateRecalculation(ctx, f.tenant, calculator.Recalculation{Reason: "EPA revised 331110", FactorSet: calculator.DefaultSet})
	if err != nil {
		t.Fatal(err)
	}
	if r.State != calculator.RecalcQueued || r.LineCount != 3 || r.FactorSet != calculator.DefaultSet {
		t.Fatalf("created %+v", r)
	}
	r = waitEnded(t, f.svc, f.tenant, r.ID)
	// Every line moves to the new set, so every line has a new version;
	// only T1's kg changes: 948.8939 x 0.9 = 854.00451, +107.2250107.
	// Change: 107.2250107 / 905.4736933 = 11.842 %.
	if r.State != calculator.RecalcSucceeded || r.LinesDone != 3 || r.LinesChanged != 3 || r.KgBefore != "905.4736933" ||
		r.KgAfter != "1012.6987040" || r.ChangePercent != "11.84" || r.Significant || r.FinishTime.IsZero() || r.Attempts != 1 {
		t.Fatalf("recalculation = %+v", r)
	}
	// recalculation.done was queued for the webhooks with its end, once.
	var events int
	var args string
	if err := f.pool.QueryRow(ctx, `SELECT count(*), coalesce(max(args::text), '') FROM calculator_river.river_job
		WHERE kind = 'vcci.events.publish'`).Scan(&events, &args); err != nil {
		t.Fatal(err)
	}
	if events != 1 || !strings.Contains(args, fmt.Sprintf(`"id": "recalculation-%d-done"`, r.ID)) || !strings.Contains(args, `"kg_co2e_after": "1012.6987040"`) {
		t.Fatalf("%d events queued, args %s; want one recalculation.done", events, args)
	}

	res, err := f.svc.Result(ctx, f.tenant, "T1")
	if err != nil {
		t.Fatal(err)
	}
	if res.Version != 2 || res.Set != "epa-revised" || res.FactorValue != "0.9" || res.Kg != "854.0045100" || res.AmountBase != "948.8939" {
		t.Fatalf("T1 now %+v", res)
	}
	var hv int32
	var hkg, hset string
	var by int64
	if err := f.pool.QueryRow(ctx, `SELECT h.version, h.kg_co2e::text, s.name, h.superseded_by FROM calculator.emission_result_history h
		JOIN calculator.factor_sets s ON s.id = h.factor_set_id WHERE h.transaction_id = 'T1'`).Scan(&hv, &hkg, &hset, &by); err != nil {
		t.Fatal(err)
	}
	if hv != 1 || hkg != "746.7794993" || hset != calculator.DefaultSet || by != r.ID {
		t.Fatalf("history of T1: version %d, kg %s, set %s, by %d", hv, hkg, hset, by)
	}

	page, err := f.svc.Changes(ctx, f.tenant, r.ID, 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Changes) != 2 || page.Next == nil || page.Next.ID != "T2" {
		t.Fatalf("first page %+v", page)
	}
	c := page.Changes[0]
	if c.TransactionID != "T1" || c.Before.Version != 1 || c.Before.Set != calculator.DefaultSet || c.Before.Code != "331110" ||
		c.Before.FactorValue != "0.787" || c.Before.Kg != "746.7794993" || c.After.Version != 2 || c.After.Set != "epa-revised" ||
		c.After.FactorValue != "0.9" || c.After.Kg != "854.0045100" || c.After.SetVersion != "1.3.1" || c.Delta != "107.2250107" {
		t.Fatalf("change of T1 %+v", c)
	}
	if c := page.Changes[1]; c.TransactionID != "T2" || c.Delta != "0.0000000" || c.Before.Kg != c.After.Kg {
		t.Fatalf("change of T2 %+v", c)
	}
	rest, err := f.svc.Changes(ctx, f.tenant, r.ID, 2, page.Next)
	if err != nil {
		t.Fatal(err)
	}
	if len(rest.Changes) != 1 || rest.Changes[0].TransactionID != "T3" || rest.Next != nil {
		t.Fatalf("second page %+v", rest)
	}

	// Every total says the new figure, and no group counts a line twice.
	for _, dim := range []calculator.Dimension{calculator.BySupplier, calculator.ByCategory, calculator.ByNAICS, calculator.ByMonth} {
		sum, err := f.svc.Summarize(ctx, f.tenant, dim, 0)
		if err != nil {
			t.Fatal(err)
		}
		if sum.TotalKg != "1012.6987040" || sum.Count != 3 || sum.TotalUSD != "1210.5000" {
			t.Fatalf("summary by %d: %+v", dim, sum)
		}
	}
	// A period's summary, from its months' groups: T1 put back at its new
	// figure, T2 unchanged (854.0045100 + 38.8558404), T3 outside.
	sum, err := f.svc.SummarizeUnder(ctx, f.tenant, calculator.BySupplier, 0, "", months("2024-01", "2024-02"))
	if err != nil || sum.TotalKg != "892.8603504" || sum.Count != 2 || len(sum.Groups) != 1 || sum.Groups[0].Key != "S1" {
		t.Fatalf("January and February 2024 by supplier: %+v, %v", sum, err)
	}
	inv, err := f.svc.Inventory(ctx, f.tenant, calculator.InventoryAt{}, "", 100, 1)
	if err != nil {
		t.Fatal(err)
	}
	if inv.Kg != "1012.6987040" || inv.Count != 3 {
		t.Fatalf("inventory now: %s kg, %d lines", inv.Kg, inv.Count)
	}
	for _, g := range inv.Groups {
		if g.Set != "epa-revised" {
			t.Fatalf("inventory group of %s left: %+v", g.Set, g)
		}
	}
	// As of day one the inventory reads as it did; as of day two it is
	// the new one.
	if got := inventoryJSON(t, f, calculator.InventoryAt{Day: dayOne}); got != asOfDayOne {
		t.Fatalf("inventory as of day one changed:\n%s\n%s", asOfDayOne, got)
	}
	if got := inventoryJSON(t, f, calculator.InventoryAt{Day: dayTwo}); got == asOfDayOne {
		t.Fatal("inventory as of day two is day one's")
	}
}

func TestRecalculateAgainChangesNothing(t *testing.T) {
	ctx := context.Background()
	f := newRecalcFixture(t)
	switchToRevised(t, f)
	startWorkers(t, f.pool, f.svc, 2)
	first, err := f.svc.CreateRecalculation(ctx, f.tenant, calculator.Recalculation{Reason: "revised set"})
	if err != nil {
		t.Fatal(err)
	}
	waitEnded(t, f.svc, f.tenant, first.ID)
	again, err := f.svc.CreateRecalculation(ctx, f.tenant, calculator.Recalculation{Reason: "nothing new"})
	if err != nil {
		t.Fatal(err)
	}
	again = waitEnded(t, f.svc, f.tenant, again.ID)
	if again.State != calculator.RecalcSucceeded || again.LinesDone != 3 || again.LinesChanged != 0 ||
		again.KgBefore != "1012.6987040" || again.KgAfter != "1012.6987040" || again.ChangePercent != "0.00" {
		t.Fatalf("second run %+v", again)
	}
	// Running the first job's work again does nothing: it has ended.
	if _, err := f.svc.RunRecalculation(ctx, f.tenant, first.ID, 2, 2); err != nil {
		t.Fatal(err)
	}
	assertRevised(t, f)
	var versions, history int
	if err := f.pool.QueryRow(ctx, `SELECT (SELECT max(version) FROM calculator.emission_results),
		(SELECT count(*) FROM calculator.emission_result_history)`).Scan(&versions, &history); err != nil {
		t.Fatal(err)
	}
	if versions != 2 || history != 3 {
		t.Fatalf("newest version %d, %d in history; want 2 and 3", versions, history)
	}
	page, err := f.svc.Changes(ctx, f.tenant, again.ID, 10, nil)
	if err != nil || len(page.Changes) != 0 {
		t.Fatalf("changes of a run that changed nothing: %+v, %v", page, err)
	}
}

// assertRevised checks the summary and inventory totals are the three
// lines' under the revised set: 854.0045100 + 38.8558404 + 119.8383536.
func assertRevised(t *testing.T, f recalcFixture) {
	t.Helper()
	const kg, n = "1012.6987040", 3
	sum, err := f.svc.Summarize(context.Background(), f.tenant, calculator.BySupplier, 0)
	if err != nil {
		t.Fatal(err)
	}
	inv, err := f.svc.Inventory(context.Background(), f.tenant, calculator.InventoryAt{}, "", 100, 1)
	if err != nil {
		t.Fatal(err)
	}
	if sum.TotalKg != kg || sum.Count != n || inv.Kg != kg || inv.Count != n {
		t.Fatalf("totals %s kg of %d lines, inventory %s of %d; want %s of %d", sum.TotalKg, sum.Count, inv.Kg, inv.Count, kg, n)
	}
}

// failingStore fails Recalculate after its first ok batches: a worker
// that dies between two batches.
type failingStore struct {
	*store.Store
	ok int
}

var errCrash = errors.New("crash")

func (s *failingStore) Recalculate(ctx context.Context, tenant uuid.UUID, id int64, changed []calculator.Line, p calculator.RecalcProgress) error {
	if s.ok == 0 {
		return errCrash
	}
	s.ok--
	return s.Store.Recalculate(ctx, tenant, id, changed, p)
}

func TestRecalculateResumesAtItsCursor(t *testing.T) {
	ctx := context.Background()
	f := newRecalcFixture(t)
	switchToRevised(t, f)
	// No workers: this test works the job itself.
	r, err := f.svc.CreateRecalculation(ctx, f.tenant, calculator.Recalculation{Reason: "revised set", Year: 2024})
	if err != nil {
		t.Fatal(err)
	}
	crashing := calculator.New(&failingStore{Store: f.st, ok: 1}, nil, nil, nil)
	if _, err := crashing.RunRecalculation(ctx, f.tenant, r.ID, 1, 1); !errors.Is(err, errCrash) {
		t.Fatalf("first attempt: %v", err)
	}
	mid, err := f.svc.Recalculation(ctx, f.tenant, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	// T1 done, its change in the totals: 905.4736933 + 107.2250107.
	if mid.State != calculator.RecalcRunning || mid.LinesDone != 1 || mid.LinesChanged != 1 || mid.Cursor == nil || mid.Cursor.ID != "T1" ||
		mid.KgBefore != "746.7794993" || mid.KgAfter != "854.0045100" {
		t.Fatalf("after the crash %+v", mid)
	}
	assertRevised(t, f)
	done, err := f.svc.RunRecalculation(ctx, f.tenant, r.ID, 2, 1)
	if err != nil {
		t.Fatal(err)
	}
	if done.State != calculator.RecalcSucceeded || done.LinesDone != 3 || done.LinesChanged != 3 || done.Attempts != 2 ||
		done.KgBefore != "905.4736933" || done.KgAfter != "1012.6987040" {
		t.Fatalf("resumed %+v", done)
	}
	assertRevised(t, f)
}

func TestRecalculateBaseYear(t *testing.T) {
	ctx := context.Background()
	f := newRecalcFixture(t)
	_, err := f.svc.RecalculateBaseYear(ctx, f.tenant, "methodology change")
	if apperr.KindOf(err) != apperr.FailedPrecondition {
		t.Fatalf("without a base year: %v", err)
	}
	if _, err := f.svc.UpdateSettings(ctx, f.tenant, calculator.Settings{BaseYear: 2024, Threshold: "10"}); err != nil {
		t.Fatal(err)
	}
	switchToRevised(t, f)
	st, err := f.svc.Settings(ctx, f.tenant)
	if err != nil || st.BaseYear != 2024 || st.Threshold != "10" || st.SpendSet != "epa-revised" {
		t.Fatalf("settings %+v, %v", st, err)
	}
	startWorkers(t, f.pool, f.svc, 2)
	r, err := f.svc.RecalculateBaseYear(ctx, f.tenant, "methodology change")
	if err != nil {
		t.Fatal(err)
	}
	r = waitEnded(t, f.svc, f.tenant, r.ID)
	if !r.BaseYear || r.Year != 2024 || r.Threshold != "10" || r.KgBefore != "905.4736933" || r.KgAfter != "1012.6987040" ||
		r.ChangePercent != "11.84" || !r.Significant {
		t.Fatalf("base year recalculation %+v", r)
	}
	list, err := f.svc.Recalculations(ctx, f.tenant, 10, 0)
	if err != nil || len(list) != 1 || list[0].ID != r.ID {
		t.Fatalf("list %+v, %v", list, err)
	}
}

func TestCreateRecalculationRefuses(t *testing.T) {
	ctx := context.Background()
	pool := testsupport.NewPool(t, "calculator", store.Migrate)
	svc := calculator.New(store.New(pool), nil, nil, nil)
	tenant := testsupport.Tenant(t, pool, "a")
	long := make([]byte, 501)
	for i := range long {
		long[i] = 'x'
	}
	for _, tc := range []struct {
		name  string
		r     calculator.Recalculation
		field string
	}{
		{"no reason", calculator.Recalculation{}, "recalculation.reason"},
		{"long reason", calculator.Recalculation{Reason: string(long)}, "recalculation.reason"},
		{"year", calculator.Recalculation{Reason: "x", Year: 1989}, "recalculation.year"},
		{"supplier NUL", calculator.Recalculation{Reason: "x", SupplierID: "a\x00"}, "recalculation.supplier_id"},
		{"unknown set", calculator.Recalculation{Reason: "x", FactorSet: "nope"}, "recalculation.factor_set"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := svc.CreateRecalculation(ctx, tenant, tc.r)
			var ae *apperr.Error
			if !errors.As(err, &ae) || ae.Kind != apperr.InvalidArgument || ae.Violations[0].Field != tc.field {
				t.Fatalf("got %v, want a violation of %s", err, tc.field)
			}
		})
	}
	if _, err := svc.Recalculation(ctx, tenant, 99); !errors.Is(err, calculator.ErrRecalculationNotFound) {
		t.Fatalf("unknown: %v", err)
	}
}

func TestRecalculationFailsOnItsLastAttempt(t *testing.T) {
	ctx := context.Background()
	f := newRecalcFixture(t)
	// A set without 481111: T3 cannot be recalculated under it.
	set := factors.Set{Name: "epa-partial", DisplayName: "EPA partial", Publisher: "US EPA", Version: "1.3.1", Unit: "kg CO2e/2022 USD, purchaser price",
		Source: "test", Licence: "Public domain", Region: "US", Year: 2022, PriceYear: 2022, Kind: factors.KindSpend, GasUnit: "kg CO2e (AR5)"}
	if _, err := f.svc.ImportFactorSet(ctx, f.tenant, set, []byte(strings.Join(strings.SplitAfter(revisedCSV, "\n")[:3], ""))); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.UpdateSettings(ctx, f.tenant, calculator.Settings{SpendSet: "epa-partial"}); err != nil {
		t.Fatal(err)
	}
	startWorkers(t, f.pool, f.svc, 2)
	r, err := f.svc.CreateRecalculation(ctx, f.tenant, calculator.Recalculation{Reason: "partial set"})
	if err != nil {
		t.Fatal(err)
	}
	r = waitEnded(t, f.svc, f.tenant, r.ID)
	// The first batch (T1, T2) committed; T3's failed every attempt.
	if r.State != calculator.RecalcFailed || r.Attempts != 5 || r.LinesDone != 2 || r.FinishTime.IsZero() ||
		r.Error != "transaction T3 of 2024-07-09: naics_code: no factor in epa-partial for NAICS code 481111" {
		t.Fatalf("recalculation %+v", r)
	}
	assertRevised(t, f)
}

func TestSupplierFactorRecalculatesTheSuppliersLines(t *testing.T) {
	f := newRecalcFixture(t)
	startWorkers(t, f.pool, f.svc, 1)
	ctx := context.Background()
	company := func(supplier string) calculator.SupplierFactor {
		return calculator.SupplierFactor{SupplierID: supplier, Kind: calculator.SupplierCompany, Value: "0.5", ReportingYear: 2024,
			Verified: true, ValidFrom: day("2024-01-01"), ValidTo: day("2024-12-31")}
	}
	none, err := f.svc.CreateSupplierFactor(ctx, f.tenant, company("S9"))
	if err != nil || none.Recalculation != 0 {
		t.Fatalf("a supplier with no lines: %+v, %v", none, err)
	}
	sf, err := f.svc.CreateSupplierFactor(ctx, f.tenant, company("S1"))
	if err != nil || sf.Recalculation == 0 {
		t.Fatalf("supplier S1: %+v, %v", sf, err)
	}
	r := waitEnded(t, f.svc, f.tenant, sf.Recalculation)
	// T1 and T2 are S1's: 1000 x 0.5 and 10.5 x 0.5 instead of 746.7794993
	// and 38.8558404.
	if r.State != calculator.RecalcSucceeded || r.LineCount != 2 || r.LinesChanged != 2 || r.KgBefore != "785.6353397" || r.KgAfter != "505.2500000" ||
		r.SupplierID != "S1" || !strings.Contains(r.Reason, "supplierFactors/2") {
		t.Fatalf("recalculation %+v", r)
	}
	for _, w := range []struct {
		id, method, kg string
		version        int32
	}{{"T1", calculator.MethodSupplierCompany, "500.0000000", 2}, {"T2", calculator.MethodSupplierCompany, "5.2500000", 2}, {"T3", calculator.MethodSpendBased, "119.8383536", 1}} {
		res, err := f.svc.Result(ctx, f.tenant, w.id)
		if err != nil || res.Method != w.method || res.Kg != w.kg || res.Version != w.version || (w.version == 2) != (res.FactorCode == sf.Code()) {
			t.Errorf("%s: %+v, %v", w.id, res, err)
		}
	}
}

// flakyTotals stands for intake: it refuses its first call, then records
// each adjustment by id.
type flakyTotals struct {
	mu      sync.Mutex
	refused bool
	got     map[string][]calculator.Group
}

func (f *flakyTotals) AdjustSupplierTotals(_ context.Context, _ uuid.UUID, id string, gs []calculator.Group) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.refused {
		f.refused = true
		return errors.New("intake unavailable")
	}
	f.got[id] = gs
	return nil
}

func TestRecalculationSendsSupplierChangesToIntake(t *testing.T) {
	f := newRecalcFixture(t)
	totals := &flakyTotals{got: map[string][]calculator.Group{}}
	f.svc.WithSupplierTotals(totals)
	switchToRevised(t, f)
	startWorkers(t, f.pool, f.svc, 2)
	r, err := f.svc.CreateRecalculation(context.Background(), f.tenant, calculator.Recalculation{Reason: "EPA revised"})
	if err != nil {
		t.Fatal(err)
	}
	r = waitEnded(t, f.svc, f.tenant, r.ID)
	// The first attempt stored its first batch (T1, T2 of S1) and could not
	// send it; the second sent it, then went on. Only T1 changed in kg:
	// 948.8939 x (0.9 - 0.787) = 107.2250107; S2's T3 did not.
	if r.State != calculator.RecalcSucceeded || r.Attempts != 2 {
		t.Fatalf("recalculation %+v", r)
	}
	totals.mu.Lock()
	defer totals.mu.Unlock()
	want := map[string][]calculator.Group{fmt.Sprintf("recalculations/%d/batches/0", r.ID): {{Key: "S1", Kg: "107.2250107"}}}
	if !reflect.DeepEqual(totals.got, want) {
		t.Errorf("intake got %+v, want %+v", totals.got, want)
	}
}

package store_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/vcci-dev/vcci/pkg/apperr"
	"github.com/vcci-dev/vcci/pkg/testsupport"
	"github.com/vcci-dev/vcci/services/calculator/internal/calculator"
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
	return fixture{svc: calculator.New(store.New(pool), nil, nil), pool: pool, a: a, b: b}
}

func day(s string) time.Time {
	d, _ := time.Parse(time.DateOnly, s)
	return d
}

func TestCalculateStoresExactResultsOnce(t *testing.T) {
	ctx := context.Background()
	f := setup(t)
	svc, a, b := f.svc, f.a, f.b
	lines := []calculator.Line{
		{TransactionID: "T1", Date: day("2024-01-15"), SupplierID: "S1", NAICS: "331110", Amount: "1000.00", Upload: 7},  // 787
		{TransactionID: "T2", Date: day("2024-02-01"), SupplierID: "S1", NAICS: "327310", Amount: "10.5", Upload: 7},     // 41.202
		{TransactionID: "T3", Date: day("2024-07-09"), SupplierID: "S2", NAICS: "481111", Amount: "200.0000", Upload: 7}, // 128.8 (cat 6)
		{TransactionID: "T4", Date: day("2024-07-10"), SupplierID: "S2", NAICS: "331110", Amount: "-100.00", Upload: 7},  // -78.7 credit note
	}
	got, err := svc.Calculate(ctx, a, lines)
	if err != nil {
		t.Fatal(err)
	}
	if got.Stored != 4 || got.Skipped != 0 || got.Kg != "878.3020000" {
		t.Fatalf("first = %+v, want 4 stored, kg 878.3020000", got)
	}
	// A retry of an overlapping batch stores only the new line.
	again, err := svc.Calculate(ctx, a, append(lines[2:], calculator.Line{TransactionID: "T5", Date: day("2024-12-31"), SupplierID: "S3", NAICS: "541511", Amount: "1", Upload: 7}))
	if err != nil {
		t.Fatal(err)
	}
	if again.Stored != 1 || again.Skipped != 2 || again.Kg != "50.1840000" {
		t.Fatalf("retry = %+v, want 1 stored, 2 skipped, kg 50.184 (whole batch)", again)
	}

	sup, err := svc.Summarize(ctx, a, calculator.BySupplier, 0)
	if err != nil {
		t.Fatal(err)
	}
	if sup.TotalKg != "878.3860000" || sup.TotalUSD != "1111.5000" || sup.Count != 5 || sup.GroupCount != 3 {
		t.Fatalf("summary totals = %+v", sup)
	}
	if sup.Groups[0].Key != "S1" || sup.Groups[0].Kg != "828.2020000" || sup.Groups[1].Key != "S2" || sup.Groups[1].Kg != "50.1000000" {
		t.Fatalf("supplier groups = %+v", sup.Groups)
	}
	cat, _ := svc.Summarize(ctx, a, calculator.ByCategory, 0)
	if len(cat.Groups) != 2 || cat.Groups[0].Key != "1" || cat.Groups[0].Label != "Purchased goods and services" || cat.Groups[1].Key != "6" || cat.Groups[1].Kg != "128.8000000" {
		t.Fatalf("category groups = %+v", cat.Groups)
	}
	months, _ := svc.Summarize(ctx, a, calculator.ByMonth, 0)
	if len(months.Groups) != 4 || months.Groups[0].Key != "2024-01" || months.Groups[3].Key != "2024-12" {
		t.Fatalf("month groups = %+v", months.Groups)
	}
	top, _ := svc.Summarize(ctx, a, calculator.ByNAICS, 1)
	if len(top.Groups) != 1 || top.Groups[0].Key != "331110" || top.GroupCount != 4 || top.TotalKg != "878.3860000" {
		t.Fatalf("limited naics = %+v", top)
	}

	r, err := svc.Result(ctx, a, "T2")
	if err != nil {
		t.Fatal(err)
	}
	if r.Kg != "41.2020000" || r.FactorValue != "3.924" || r.Set != "epa-supply-chain-v1.3.0" || r.SetVersion != "1.3.0" || r.Method != "spend-based" || r.Upload != "uploads/7" {
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
	lines := []calculator.Line{
		{TransactionID: "U1", Date: day("2024-01-15"), SupplierID: "S1", NAICS: "331110", Amount: "1000.00", Upload: 7}, // 787
		{TransactionID: "U2", Date: day("2024-02-01"), SupplierID: "S2", NAICS: "327310", Amount: "10.5", Upload: 7},    // 41.202
		{TransactionID: "U3", Date: day("2024-07-09"), SupplierID: "S1", NAICS: "331110", Amount: "-100.00", Upload: 8}, // -78.7
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
	want := "7:828.2020000:2[S1=787.0000000/1000.0000/1 S2=41.2020000/10.5000/1 ] 8:-78.7000000:1[S1=-78.7000000/-100.0000/1 ] "
	if s := shares(got); s != want || got.Kg != "749.5020000" || len(got.Suppliers) != 2 || got.Suppliers[0].Kg != "708.3000000" {
		t.Fatalf("first call: %s, kg %s, suppliers %+v\nwant %s", s, got.Kg, got.Suppliers, want)
	}
	// A retry of upload 8's line with a new line of upload 9: the stored
	// line still counts for 8, nothing is stored twice.
	again, err := svc.Calculate(ctx, a, []calculator.Line{lines[2],
		{TransactionID: "U4", Date: day("2024-07-10"), SupplierID: "S3", NAICS: "541511", Amount: "1", Upload: 9}})
	if err != nil {
		t.Fatal(err)
	}
	want = "8:-78.7000000:1[S1=-78.7000000/-100.0000/1 ] 9:0.0840000:1[S3=0.0840000/1.0000/1 ] "
	if s := shares(again); s != want || again.Stored != 1 || again.Skipped != 1 || again.Kg != "-78.6160000" {
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

// Rollup rows are updated in place by every calculation: their pages keep
// room for HOT updates.
func TestRollupPagesKeepRoomForUpdates(t *testing.T) {
	pool := setup(t).pool
	var opts []string
	if err := pool.QueryRow(context.Background(), `SELECT coalesce(reloptions, '{}') FROM pg_class WHERE oid = 'calculator.emission_rollup'::regclass`).Scan(&opts); err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(opts, "fillfactor=70") {
		t.Fatalf("emission_rollup options %v, want fillfactor=70", opts)
	}
}

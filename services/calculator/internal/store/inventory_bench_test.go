package store_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/vcci-dev/vcci/pkg/db"
	"github.com/vcci-dev/vcci/pkg/refdata"
	"github.com/vcci-dev/vcci/pkg/testsupport"
	"github.com/vcci-dev/vcci/services/calculator/internal/calculator"
	"github.com/vcci-dev/vcci/services/calculator/internal/factors"
	"github.com/vcci-dev/vcci/services/calculator/internal/store"
)

// benchLines is how many lines an inventory benchmark calculates first
// (VCCI_BENCH_LINES, default 100,000).
func benchLines(b *testing.B) int {
	n := 100_000
	if s := os.Getenv("VCCI_BENCH_LINES"); s != "" {
		var err error
		if n, err = strconv.Atoi(s); err != nil {
			b.Fatal(err)
		}
	}
	return n
}

// spreadLines are n spend lines over every EPA code, 10,000 suppliers in
// three countries (or none) and the 24 months of 2023-2024: as many
// inventory groups as a tenant's real purchases make.
func spreadLines(b *testing.B, n int) []calculator.Line {
	fs, err := factors.EPAFactors()
	if err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	countries := []string{"US", "DE", "CN", ""}
	out := make([]calculator.Line, n)
	for i := range out {
		out[i] = calculator.Line{TransactionID: fmt.Sprintf("T%07d", i), Upload: 1,
			Date:       time.Date(2023+rng.IntN(2), time.Month(1+rng.IntN(12)), 1+rng.IntN(28), 0, 0, 0, 0, time.UTC),
			SupplierID: fmt.Sprintf("S%05d", rng.IntN(10_000)), NAICS: fs[rng.IntN(len(fs))].Code,
			Amount: strconv.Itoa(1+rng.IntN(100_000)) + ".25", SupplierCountry: countries[rng.IntN(len(countries))]}
	}
	return out
}

// BenchmarkInventory reads an inventory of benchLines lines now, as of
// today, as a snapshot, of 2024 alone, of both years (every month with
// data) and of 2024 as of today, each with its 10,000-draw Monte Carlo: all
// read the inventory's groups, not its lines.
//
//	VCCI_BENCH_LINES=1000000 go test -run x -bench Inventory -benchtime 20x ./internal/store/
func BenchmarkInventory(b *testing.B) {
	ctx := context.Background()
	d := calculated(b)
	tenant, svc, lines := d.tenant, d.svc, d.lines
	snap, err := svc.CreateSnapshot(ctx, tenant, "bench")
	if err != nil {
		b.Fatal(err)
	}
	today := time.Now().UTC().Truncate(24 * time.Hour)
	var in2024 int64
	for _, l := range lines {
		if l.Date.Year() == 2024 {
			in2024++
		}
	}
	all := int64(len(lines))
	for _, c := range []struct {
		name  string
		at    calculator.InventoryAt
		lines int64
	}{{"now", calculator.InventoryAt{}, all}, {"as-of-day", calculator.InventoryAt{Day: today}, all},
		{"snapshot", calculator.InventoryAt{Snapshot: snap.ID}, all}, {"year", period("2024-01", "2024-12"), in2024},
		{"every-month", period("2023-01", "2024-12"), all},
		{"year-as-of-day", calculator.InventoryAt{Day: today, From: day("2024-01-01"), To: day("2024-12-01")}, in2024}} {
		b.Run(c.name, func(b *testing.B) {
			var inv calculator.Inventory
			for b.Loop() {
				if inv, err = svc.Inventory(ctx, tenant, c.at, "", 0, 0); err != nil {
					b.Fatal(err)
				}
			}
			if inv.Count != c.lines {
				b.Fatalf("%d lines in the inventory, want %d", inv.Count, c.lines)
			}
			b.ReportMetric(float64(len(inv.Groups)), "groups")
		})
	}
	// Every month as of today, as a report as of a day checks its period:
	// from the inventory, with the fewest draws (what reporting read
	// before), and summarized by month alone.
	b.Run("months-as-of-day-inventory", func(b *testing.B) {
		var inv calculator.Inventory
		for b.Loop() {
			if inv, err = svc.Inventory(ctx, tenant, calculator.InventoryAt{Day: today, Months: true}, "", 100, 1); err != nil {
				b.Fatal(err)
			}
		}
		if len(inv.Months) != 24 {
			b.Fatalf("%d months", len(inv.Months))
		}
	})
	// As of yesterday every group was calculated since (today): each is
	// looked up in the log, where none is.
	b.Run("months-as-of-yesterday", func(b *testing.B) {
		var sum calculator.Summary
		for b.Loop() {
			if sum, err = svc.SummarizeUnder(ctx, tenant, calculator.ByMonth, 0, "", calculator.Period{Day: today.AddDate(0, 0, -1)}); err != nil {
				b.Fatal(err)
			}
		}
		if len(sum.Groups) != 0 || sum.Count != 0 {
			b.Fatalf("%d months, %d lines before any was calculated", len(sum.Groups), sum.Count)
		}
	})
	b.Run("months-as-of-day", func(b *testing.B) {
		var sum calculator.Summary
		for b.Loop() {
			if sum, err = svc.SummarizeUnder(ctx, tenant, calculator.ByMonth, 0, "", calculator.Period{Day: today}); err != nil {
				b.Fatal(err)
			}
		}
		if len(sum.Groups) != 24 || sum.Count != all {
			b.Fatalf("%d months, %d lines", len(sum.Groups), sum.Count)
		}
	})
}

// benchData is a database with lines calculated for tenant, and a
// Service over it.
type benchData struct {
	pool   *pgxpool.Pool
	tenant uuid.UUID
	svc    *calculator.Service
	lines  []calculator.Line
}

// calculated is benchData of benchLines spread lines.
func calculated(b *testing.B) benchData {
	b.Helper()
	d := benchData{pool: testsupport.NewPool(b, "calculator", store.Migrate), lines: spreadLines(b, benchLines(b))}
	d.tenant = testsupport.Tenant(b, d.pool, "bench")
	d.svc = calculator.New(store.New(d.pool), nil, nil, nil)
	calculate(b, d.svc, d.tenant, d.lines)
	return d
}

// calculate stores and calculates lines for tenant, 5,000 at a time.
func calculate(b *testing.B, svc *calculator.Service, tenant uuid.UUID, lines []calculator.Line) {
	b.Helper()
	start := time.Now()
	for i := 0; i < len(lines); i += 5000 {
		if _, err := svc.Calculate(context.Background(), tenant, lines[i:min(i+5000, len(lines))]); err != nil {
			b.Fatal(err)
		}
	}
	b.Logf("%d lines calculated in %s", len(lines), time.Since(start).Round(time.Millisecond))
}

// BenchmarkSummarize reads the totals of every supplier of benchLines lines
// (10,000 suppliers), ranked, as hotspot's Pareto asks for them: of every
// line and of a period holding every month (the running totals), and of
// 2024 and its last quarter (the suppliers' months), under AR5 and AR6,
// of a snapshot and as of a day; then the methods of the 100 largest, of
// every line and of 2024.
//
//	VCCI_BENCH_LINES=1000000 go test -run x -bench Summarize -benchtime 10x ./internal/store/
func BenchmarkSummarize(b *testing.B) {
	ctx := context.Background()
	d := calculated(b)
	pool, tenant, svc, lines := d.pool, d.tenant, d.svc, d.lines
	// The running totals and the months' groups vacuumed, as the service
	// keeps them.
	if _, err := pool.Exec(ctx, `VACUUM (ANALYZE) calculator.emission_totals, calculator.summary_months`); err != nil {
		b.Fatal(err)
	}
	// A snapshot of them all: its copy of the months' groups is read as
	// today's are (as right after it is recorded, not vacuumed).
	b.Run("create-snapshot", func(b *testing.B) {
		n := 0
		for b.Loop() {
			n++
			if _, err := svc.CreateSnapshot(ctx, tenant, "create-"+strconv.Itoa(n)); err != nil {
				b.Fatal(err)
			}
		}
	})
	snap, err := svc.CreateSnapshot(ctx, tenant, "bench")
	if err != nil {
		b.Fatal(err)
	}
	inSnapshot := func(p calculator.Period) calculator.Period { p.Snapshot = snap.ID; return p }
	// As of today (every group as it is) and as of yesterday, every group
	// logged then and changed since (each looked up in the log).
	today := time.Now().UTC().Truncate(24 * time.Hour)
	yesterday := today.AddDate(0, 0, -1)
	asOf := func(d time.Time, p calculator.Period) calculator.Period { p.Day = d; return p }
	if err := db.InTenant(ctx, pool, tenant, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO calculator.summary_months_log (tenant_id, dim, month, key, day, kg_co2e, kg_co2e_ar4, kg_co2e_ar6, spend_usd, tx_count)
			SELECT tenant_id, dim, month, key, $2, kg_co2e, kg_co2e_ar4, kg_co2e_ar6, spend_usd, tx_count FROM calculator.summary_months WHERE tenant_id = $1`, tenant, yesterday)
		return err
	}); err != nil {
		b.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `VACUUM (ANALYZE) calculator.summary_months_log`); err != nil {
		b.Fatal(err)
	}
	count := func(p calculator.Period) (n int64, suppliers int) {
		seen := map[string]bool{}
		for _, l := range lines {
			if !p.Set() || !l.Date.Before(p.From) && l.Date.Before(p.End()) {
				n++
				seen[l.SupplierID] = true
			}
		}
		return n, len(seen)
	}
	for _, c := range []struct {
		name  string
		p     calculator.Period
		basis refdata.Basis
	}{{"every-line", calculator.Period{}, ""}, {"every-month", months("2023-01", "2024-12"), ""},
		{"year", months("2024-01", "2024-12"), ""}, {"year-ar6", months("2024-01", "2024-12"), refdata.AR6},
		{"quarter", months("2024-10", "2024-12"), ""},
		{"snapshot-every-line", inSnapshot(calculator.Period{}), ""}, {"snapshot-year", inSnapshot(months("2024-01", "2024-12")), ""},
		{"year-as-of-today", asOf(today, months("2024-01", "2024-12")), ""},
		{"year-as-of-yesterday-logged", asOf(yesterday, months("2024-01", "2024-12")), ""}} {
		b.Run(c.name, func(b *testing.B) {
			var sum calculator.Summary
			var err error
			for b.Loop() {
				if sum, err = svc.SummarizeUnder(ctx, tenant, calculator.BySupplier, 0, c.basis, c.p); err != nil {
					b.Fatal(err)
				}
			}
			if n, suppliers := count(c.p); len(sum.Groups) != suppliers || sum.Count != n {
				b.Fatalf("%d suppliers, %d lines; want %d and %d", len(sum.Groups), sum.Count, suppliers, n)
			}
			b.ReportMetric(float64(len(sum.Groups)), "suppliers")
		})
	}
	// The methods of the 100 largest suppliers, as a hotspot pack lists
	// them (every supplier of these lines is spend-based).
	top, err := svc.SummarizeUnder(ctx, tenant, calculator.BySupplier, 100, "", calculator.Period{})
	if err != nil {
		b.Fatal(err)
	}
	ids := make([]string, len(top.Groups))
	for i, g := range top.Groups {
		ids[i] = g.Key
	}
	for _, c := range []struct {
		name string
		p    calculator.Period
	}{{"methods-top100-every-line", calculator.Period{}}, {"methods-top100-year", months("2024-01", "2024-12")},
		{"methods-top100-snapshot-year", inSnapshot(months("2024-01", "2024-12"))},
		{"methods-top100-year-as-of-yesterday-logged", asOf(yesterday, months("2024-01", "2024-12"))}} {
		b.Run(c.name, func(b *testing.B) {
			var ms calculator.SupplierMethods
			for b.Loop() {
				if ms, err = svc.SupplierMethods(ctx, tenant, ids, "", c.p); err != nil {
					b.Fatal(err)
				}
			}
			if len(ms.Suppliers) != len(ids) || ms.Suppliers[0].SupplierID != ids[0] || ms.Suppliers[0].Methods[0].Method != calculator.MethodSpendBased {
				b.Fatalf("methods of %d suppliers: %+v", len(ids), ms.Suppliers[:min(2, len(ms.Suppliers))])
			}
		})
	}
}

package store_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"math/big"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vcci-dev/vcci/pkg/testsupport"
	"github.com/vcci-dev/vcci/services/calculator/internal/calculator"
	"github.com/vcci-dev/vcci/services/calculator/internal/factors"
	"github.com/vcci-dev/vcci/services/calculator/internal/store"
)

// BenchmarkRecalculate compares recalculating every line under a new
// spend set version (B: the worker's path, River included) with
// calculating them first (A: Calculate in batches of 5,000). Run once:
// go test ./internal/store -run '^$' -bench Recalculate -benchtime 1x
// (VCCI_BENCH_LINES lines, default 100,000).
func BenchmarkRecalculate(b *testing.B) {
	n := 100_000
	if s := os.Getenv("VCCI_BENCH_LINES"); s != "" {
		var err error
		if n, err = strconv.Atoi(s); err != nil {
			b.Fatal(err)
		}
	}
	ctx := context.Background()
	pool := testsupport.NewPool(b, "calculator", store.Migrate)
	svc := calculator.New(store.New(pool), nil, nil, nil)
	tenant := testsupport.Tenant(b, pool, "a")
	epa, err := factors.EPAFactors()
	if err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	lines := make([]calculator.Line, n)
	for i := range lines {
		lines[i] = calculator.Line{TransactionID: "T" + strconv.Itoa(i), Date: day("2024-01-01").AddDate(0, 0, rng.IntN(366)),
			SupplierID: "S" + strconv.Itoa(rng.IntN(1000)), NAICS: epa[rng.IntN(len(epa))].Code,
			Amount: strconv.Itoa(rng.IntN(100_000)) + ".25", Upload: 1}
	}
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < n; i += 5_000 {
		if _, err := svc.Calculate(ctx, tenant, lines[i:min(i+5_000, n)]); err != nil {
			b.Fatal(err)
		}
	}
	first := time.Since(start)
	b.Logf("%d lines calculated in %v", n, first.Round(time.Millisecond))

	b.StopTimer()
	set := factors.EPA()
	set.Name, set.Version = "epa-times-1.1", set.Version+"-x1.1"
	if _, err := svc.ImportFactorSet(ctx, tenant, set, timesCSV(b, epa)); err != nil {
		b.Fatal(err)
	}
	if _, err := svc.UpdateSettings(ctx, tenant, calculator.Settings{SpendSet: set.Name}); err != nil {
		b.Fatal(err)
	}
	startWorkers(b, pool, svc, calculator.RecalcBatch)
	b.StartTimer()
	start = time.Now()
	r, err := svc.CreateRecalculation(ctx, tenant, calculator.Recalculation{Reason: "every factor x 1.1"})
	if err != nil {
		b.Fatal(err)
	}
	r = waitEndedWithin(b, svc, tenant, r.ID, time.Minute+time.Duration(n)*time.Millisecond) // generous: 1 ms a line
	again := time.Since(start)
	b.StopTimer()
	if r.State != calculator.RecalcSucceeded || r.LinesDone != int64(n) || r.LinesChanged != int64(n) {
		b.Fatalf("recalculation %+v", r)
	}
	b.ReportMetric(again.Seconds()/first.Seconds(), "recalc/first")
	b.Logf("%d lines: calculate %v, recalculate %v (%s %% change)", n, first.Round(time.Millisecond), again.Round(time.Millisecond), r.ChangePercent)
}

// timesCSV is fs as an import CSV, each value times 1.1 (exact).
func timesCSV(b *testing.B, fs []factors.Factor) []byte {
	b.Helper()
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	_ = w.Write(strings.Split("code,title,value,category,unit,region", ","))
	for _, f := range fs {
		v, ok := new(big.Rat).SetString(f.Value)
		if !ok {
			b.Fatalf("factor %s value %q", f.Code, f.Value)
		}
		_, frac, _ := strings.Cut(f.Value, ".")
		cat := ""
		if f.Category != 0 {
			cat = strconv.Itoa(int(f.Category))
		}
		_ = w.Write([]string{f.Code, f.Title, v.Mul(v, big.NewRat(11, 10)).FloatString(len(frac) + 1), cat, f.Unit, f.Region})
	}
	w.Flush()
	return buf.Bytes()
}

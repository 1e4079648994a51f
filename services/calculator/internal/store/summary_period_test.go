package store_test

import (
	"context"
	"errors"
	"reflect"
	"slices"
	"testing"

	"github.com/google/uuid"

	"github.com/vcci-dev/vcci/pkg/apperr"
	"github.com/vcci-dev/vcci/pkg/refdata"
	"github.com/vcci-dev/vcci/services/calculator/internal/calculator"
	"github.com/vcci-dev/vcci/services/calculator/internal/store"
)

// months is the period of the months from and to ("YYYY-MM").
func months(from, to string) calculator.Period {
	at := period(from, to)
	return calculator.Period{From: at.From, To: at.To}
}

// janFeb2024 are supplier S1's lines of January and February 2024,
// 785.6353397 kg CO2e.
func janFeb2024() []calculator.Line {
	return []calculator.Line{
		{TransactionID: "T1", Date: day("2024-01-15"), SupplierID: "S1", NAICS: "331110", Amount: "1000.00", Upload: 1}, // 746.7794993
		{TransactionID: "T2", Date: day("2024-02-01"), SupplierID: "S1", NAICS: "327310", Amount: "10.5", Upload: 1},    // 38.8558404
	}
}

// A summary of a period totals the lines dated in it, from the lines where
// the period leaves months with data out, and is the running totals' own
// summary, to the last digit, where it holds them all.
func TestSummaryOfAPeriodIsItsLines(t *testing.T) {
	ctx := context.Background()
	f := setup(t)
	lines := append(janFeb2024(),
		calculator.Line{TransactionID: "T3", Date: day("2024-07-09"), SupplierID: "S2", NAICS: "481111", Amount: "200.0000", Upload: 1},
		calculator.Line{TransactionID: "T4", Date: day("2024-07-10"), SupplierID: "S2", NAICS: "331110", Amount: "-100.00", Upload: 1},
		line2025)
	// And March 2024's four activity lines.
	lines = append(lines, activityLines("S3")...)
	if _, err := f.svc.Calculate(ctx, f.a, lines); err != nil {
		t.Fatal(err)
	}

	// January and February 2024: S1's two lines alone.
	sum, err := f.svc.SummarizeUnder(ctx, f.a, calculator.BySupplier, 0, "", months("2024-01", "2024-02"))
	if err != nil {
		t.Fatal(err)
	}
	want := calculator.Summary{Basis: refdata.AR5, TotalKg: "785.6353397", TotalUSD: "1010.5000", Count: 2, GroupCount: 1,
		Period: months("2024-01", "2024-02"), Groups: []calculator.Group{{Key: "S1", Kg: "785.6353397", Spend: "1010.5000", Count: 2, Share: 1}}}
	if !reflect.DeepEqual(sum, want) {
		t.Errorf("S1 in January and February 2024 = %+v, want %+v", sum, want)
	}
	// March 2024 by category under AR4: the activity lines' re-expressed
	// values, summed exactly.
	sum, err = f.svc.SummarizeUnder(ctx, f.a, calculator.ByCategory, 0, refdata.AR4, months("2024-03", "2024-03"))
	if err != nil || sum.Basis != refdata.AR4 || sum.TotalKg != "1111.7115486" || sum.Count != 4 || len(sum.Groups) != 3 ||
		sum.Groups[0].Key != "6" || sum.Groups[0].Kg != "965.6378530" || sum.Groups[0].Label != "Business travel" {
		t.Errorf("March 2024 by category under AR4 = %+v, %v", sum, err)
	}
	// Months in key order, the top one alone with limit 1 by kg.
	sum, err = f.svc.SummarizeUnder(ctx, f.a, calculator.ByMonth, 0, "", months("2024-02", "2024-07"))
	if keys := groupKeys(sum); err != nil || !slices.Equal(keys, []string{"2024-02", "2024-03", "2024-07"}) || sum.Count != 7 {
		t.Errorf("February to July 2024 by month = %v (%d lines), %v", keys, sum.Count, err)
	}
	sum, err = f.svc.SummarizeUnder(ctx, f.a, calculator.ByNAICS, 1, "", months("2024-01", "2024-12"))
	if err != nil || len(sum.Groups) != 1 || sum.GroupCount != 7 || sum.Count != 8 || sum.TotalKg != "1943.2446225" {
		t.Errorf("2024's largest code = %+v, %v; want one of 7 codes of 8 lines, 1943.2446225 kg", sum, err)
	}

	// Every month, through the lines and through the totals, under every
	// basis and by every dimension: the same figures.
	st := store.New(f.pool)
	all := months("2024-01", "2025-03")
	for _, basis := range []refdata.Basis{refdata.AR5, refdata.AR4, refdata.AR6} {
		for _, dim := range []calculator.Dimension{calculator.BySupplier, calculator.ByCategory, calculator.ByNAICS, calculator.ByMonth} {
			for _, limit := range []int{0, 2} {
				lines, err := st.SummarizePeriod(ctx, f.a, dim, limit, basis, all)
				if err != nil {
					t.Fatal(err)
				}
				totals, err := st.Summarize(ctx, f.a, dim, limit, basis)
				if err != nil {
					t.Fatal(err)
				}
				if totals.FirstMonth != "2024-01" || totals.LastMonth != "2025-03" || len(totals.Groups) == 0 {
					t.Fatalf("totals by %d under %s: %+v", dim, basis, totals)
				}
				totals.Period, totals.FirstMonth, totals.LastMonth = all, "", ""
				if !reflect.DeepEqual(lines, totals) {
					t.Errorf("by %d under %s, limit %d: from the lines %+v, from the totals %+v", dim, basis, limit, lines, totals)
				}
				// The service reads the totals for a period that holds
				// every month, and says which period it was asked.
				if got, err := f.svc.SummarizeUnder(ctx, f.a, dim, limit, basis, months("2023-01", "2025-12")); err != nil ||
					got.TotalKg != totals.TotalKg || got.Period != months("2023-01", "2025-12") || !reflect.DeepEqual(got.Groups, totals.Groups) {
					t.Errorf("by %d under %s over every month: %+v, %v", dim, basis, got, err)
				}
			}
		}
	}
	// A period with no lines.
	if sum, err := f.svc.SummarizeUnder(ctx, f.a, calculator.BySupplier, 0, "", months("2023-01", "2023-12")); err != nil ||
		sum.TotalKg != "0.0000000" || sum.Count != 0 || len(sum.Groups) != 0 {
		t.Errorf("2023 = %+v, %v", sum, err)
	}
	// Another tenant's period is its own.
	if sum, err := f.svc.SummarizeUnder(ctx, f.b, calculator.BySupplier, 0, "", months("2024-01", "2024-02")); err != nil || sum.Count != 0 {
		t.Errorf("tenant b's 2024 = %+v, %v", sum, err)
	}

	for _, tc := range []struct {
		name string
		p    calculator.Period
	}{
		{"end before start", months("2024-12", "2024-01")},
		{"no end", calculator.Period{From: day("2024-01-01")}},
	} {
		_, err := f.svc.SummarizeUnder(ctx, f.a, calculator.BySupplier, 0, "", tc.p)
		var ae *apperr.Error
		if !errors.As(err, &ae) || ae.Kind != apperr.InvalidArgument || ae.Violations[0].Field != "period_end" {
			t.Errorf("%s: %v, want InvalidArgument on period_end", tc.name, err)
		}
	}
}

func groupKeys(s calculator.Summary) []string {
	keys := make([]string, len(s.Groups))
	for i, g := range s.Groups {
		keys[i] = g.Key
	}
	return keys
}

// staleMonths answers Months as of before lines outside the period were
// stored, as a read that raced them would.
type staleMonths struct{ *store.Store }

func (staleMonths) Months(context.Context, uuid.UUID) (first, last string, err error) {
	return "2024-01", "2024-02", nil
}

// Lines stored outside the period between the check of the months and the
// read of the totals send the summary to the period's lines after all.
func TestSummaryOfAPeriodRechecksTheTotalsMonths(t *testing.T) {
	ctx := context.Background()
	f := setup(t)
	if _, err := f.svc.Calculate(ctx, f.a, append(janFeb2024(), line2025)); err != nil {
		t.Fatal(err)
	}
	svc := calculator.New(staleMonths{store.New(f.pool)}, nil, nil, nil)
	sum, err := svc.SummarizeUnder(ctx, f.a, calculator.BySupplier, 0, "", months("2024-01", "2024-02"))
	if err != nil || sum.TotalKg != "785.6353397" || sum.Count != 2 || len(sum.Groups) != 1 || sum.Groups[0].Key != "S1" {
		t.Errorf("January and February 2024 = %+v, %v; want S1's two lines", sum, err)
	}
}

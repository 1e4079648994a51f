package store_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/vcci-dev/vcci/pkg/apperr"
	"github.com/vcci-dev/vcci/services/calculator/internal/calculator"
)

// mixes writes suppliers' methods as "S1 3 577.7525324: supplier-company
// 505.2500000/2 0.8745 spend-based ...; ...".
func mixes(ms calculator.SupplierMethods) string {
	var b strings.Builder
	for _, s := range ms.Suppliers {
		fmt.Fprintf(&b, "%s %d %s:", s.SupplierID, s.Count, s.Kg)
		for _, m := range s.Methods {
			fmt.Fprintf(&b, " %s %s/%d %.4f", m.Method, m.Kg, m.Count, m.Share)
		}
		b.WriteString("; ")
	}
	return b.String()
}

// companyFigureForS1 registers S1's verified company figure of 2024, 0.5
// kg CO2e a USD, and waits for the recalculation of its two 2024 lines.
func companyFigureForS1(t *testing.T, f recalcFixture) {
	t.Helper()
	sf, err := f.svc.CreateSupplierFactor(context.Background(), f.tenant, calculator.SupplierFactor{SupplierID: "S1", Kind: calculator.SupplierCompany,
		Value: "0.5", ReportingYear: 2024, Verified: true, ValidFrom: day("2024-01-01"), ValidTo: day("2024-12-31")})
	if err != nil {
		t.Fatal(err)
	}
	if r := waitEnded(t, f.svc, f.tenant, sf.Recalculation); r.State != calculator.RecalcSucceeded || r.LinesChanged != 2 {
		t.Fatalf("recalculation %+v", r)
	}
}

// A supplier's lines by method follow its figures: S1's 2024 lines are on
// its own company figure after it is registered, its 2025 line still on
// spend; read for every line or a period, in the order asked, and the
// period's Pareto still ranks S1 once.
func TestSupplierMethodsFollowTheirLines(t *testing.T) {
	f := newRecalcFixture(t)
	startWorkers(t, f.pool, f.svc, 1)
	ctx := context.Background()
	// 2025 spend is taken to the factors' 2024 dollars (CPI): T6 is
	// 72.5025324 kg, T4 (line2025) 117.8676492.
	t6 := calculator.Line{TransactionID: "T6", Date: day("2025-01-10"), SupplierID: "S1", NAICS: "331110", Amount: "100.00", Upload: 9}
	if _, err := f.svc.Calculate(ctx, f.tenant, []calculator.Line{t6, line2025}); err != nil {
		t.Fatal(err)
	}
	read := func(p calculator.Period, ids ...string) string {
		t.Helper()
		ms, err := f.svc.SupplierMethods(ctx, f.tenant, ids, "", p)
		if err != nil {
			t.Fatal(err)
		}
		if ms.Basis != "AR5" || ms.Period != p {
			t.Fatalf("basis %q, period %+v", ms.Basis, ms.Period)
		}
		return mixes(ms)
	}
	if got, want := read(calculator.Period{}, "S2", "S1", "S9"),
		"S2 2 237.7060028: spend-based 237.7060028/2 1.0000; S1 3 858.1378721: spend-based 858.1378721/3 1.0000; "; got != want {
		t.Errorf("before S1's figure:\n%s\nwant\n%s", got, want)
	}
	companyFigureForS1(t, f)
	// 505.25 of 577.7525324: 0.8745; 72.5025324: 0.1255.
	if got, want := read(calculator.Period{}, "S1", "S2"),
		"S1 3 577.7525324: supplier-company 505.2500000/2 0.8745 spend-based 72.5025324/1 0.1255; S2 2 237.7060028: spend-based 237.7060028/2 1.0000; "; got != want {
		t.Errorf("after S1's figure:\n%s\nwant\n%s", got, want)
	}
	if got, want := read(months("2025-01", "2025-12"), "S1", "S2"),
		"S1 1 72.5025324: spend-based 72.5025324/1 1.0000; S2 1 117.8676492: spend-based 117.8676492/1 1.0000; "; got != want {
		t.Errorf("2025:\n%s\nwant\n%s", got, want)
	}
	if got, want := read(months("2024-03", "2024-12"), "S1", "S2"), "S2 1 119.8383536: spend-based 119.8383536/1 1.0000; "; got != want {
		t.Errorf("March to December 2024 (none of S1's):\n%s\nwant\n%s", got, want)
	}
	if got := read(months("2023-01", "2023-12"), "S1", "S2"); got != "" { // read checks the basis still comes back
		t.Errorf("2023, without lines: %s", got)
	}
	// January 2024 to January 2025 leaves out March 2025 (T4): summed from
	// the months, S1 is one supplier of two methods.
	sum, err := f.svc.SummarizeUnder(ctx, f.tenant, calculator.BySupplier, 0, "", months("2024-01", "2025-01"))
	if err != nil {
		t.Fatal(err)
	}
	if len(sum.Groups) != 2 || sum.Groups[0].Key != "S1" || sum.Groups[0].Kg != "577.7525324" || sum.Groups[0].Count != 3 ||
		sum.Groups[1].Key != "S2" || sum.Groups[1].Kg != "119.8383536" {
		t.Errorf("the Pareto of January 2024 to January 2025: %+v", sum.Groups)
	}

	for _, c := range []struct {
		ids   []string
		field string
	}{{nil, "supplier_ids"}, {[]string{"S1", "S1"}, "supplier_ids[1]"}, {[]string{""}, "supplier_ids[0]"},
		{make([]string, calculator.MaxSupplierMethods+1), "supplier_ids"}} {
		_, err := f.svc.SupplierMethods(ctx, f.tenant, c.ids, "", calculator.Period{})
		var ae *apperr.Error
		if !errors.As(err, &ae) || len(ae.Violations) != 1 || ae.Violations[0].Field != c.field {
			t.Errorf("%d ids: %v, want %s named", len(c.ids), err, c.field)
		}
	}
}

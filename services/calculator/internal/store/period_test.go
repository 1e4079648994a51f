package store_test

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/vcci-dev/vcci/pkg/apperr"
	"github.com/vcci-dev/vcci/pkg/db"
	"github.com/vcci-dev/vcci/pkg/testsupport"
	"github.com/vcci-dev/vcci/services/calculator/internal/calculator"
	"github.com/vcci-dev/vcci/services/calculator/internal/store"
)

// line2025 is a fourth line, a year after recalcLines.
var line2025 = calculator.Line{TransactionID: "T4", Date: day("2025-03-02"), SupplierID: "S2", NAICS: "481111", Amount: "200.0000", Upload: 8}

// period is the inventory now of the months from and to ("YYYY-MM"),
// both included.
func period(from, to string) calculator.InventoryAt {
	f, err := time.Parse("2006-01", from)
	if err != nil {
		panic(err)
	}
	t, err := time.Parse("2006-01", to)
	if err != nil {
		panic(err)
	}
	return calculator.InventoryAt{From: f, To: t}
}

// recalculateRevised moves the tenant to the revised set and recalculates
// every line.
func recalculateRevised(t *testing.T, f recalcFixture) {
	t.Helper()
	switchToRevised(t, f)
	startWorkers(t, f.pool, f.svc, 2)
	r, err := f.svc.CreateRecalculation(context.Background(), f.tenant, calculator.Recalculation{Reason: "revised set"})
	if err != nil {
		t.Fatal(err)
	}
	if r = waitEnded(t, f.svc, f.tenant, r.ID); r.State != calculator.RecalcSucceeded {
		t.Fatalf("recalculation %+v", r)
	}
}

// changeOnDaysTwoAndThree recalculates every line on day two (T1, of S1
// in 2024-01: 746.7794993 -> 854.0045100) and adds T5 (S2, 2024-02) on
// day three, which it returns.
func changeOnDaysTwoAndThree(t *testing.T, f recalcFixture) time.Time {
	t.Helper()
	f.st.Now = func() time.Time { return dayTwo.Add(9 * time.Hour) }
	recalculateRevised(t, f)
	dayThree := dayTwo.AddDate(0, 0, 1)
	f.st.Now = func() time.Time { return dayThree.Add(time.Hour) }
	t5 := calculator.Line{TransactionID: "T5", Date: day("2024-02-20"), SupplierID: "S2", NAICS: "327310", Amount: "10.5", Upload: 9}
	if _, err := f.svc.Calculate(context.Background(), f.tenant, []calculator.Line{t5}); err != nil {
		t.Fatal(err)
	}
	return dayThree
}

func readInventory(t *testing.T, f recalcFixture, at calculator.InventoryAt) calculator.Inventory {
	t.Helper()
	inv, err := f.svc.Inventory(context.Background(), f.tenant, at, "", 100, 1)
	if err != nil {
		t.Fatal(err)
	}
	return inv
}

// sumKg adds exact decimal kg.
func sumKg(t *testing.T, kgs ...string) string {
	t.Helper()
	s := new(big.Rat)
	for _, k := range kgs {
		r, ok := new(big.Rat).SetString(k)
		if !ok {
			t.Fatalf("kg %q", k)
		}
		s.Add(s, r)
	}
	return s.FloatString(7)
}

func TestInventoryOfAPeriodIsItsMonthsLines(t *testing.T) {
	ctx := context.Background()
	f := newRecalcFixture(t)
	if _, err := f.svc.Calculate(ctx, f.tenant, []calculator.Line{line2025}); err != nil {
		t.Fatal(err)
	}
	y2024 := readInventory(t, f, period("2024-01", "2024-12"))
	// T1 746.7794993 + T2 38.8558404 in category 1, T3 119.8383536 in 6.
	if y2024.Kg != "905.4736933" || y2024.Count != 3 || len(y2024.Categories) != 2 ||
		y2024.Categories[0].Kg != "785.6353397" || y2024.Categories[1].Category != 6 || y2024.Categories[1].Kg != "119.8383536" {
		t.Fatalf("2024: %s kg, %d lines, %+v", y2024.Kg, y2024.Count, y2024.Categories)
	}
	if got := y2024.From.Format("2006-01") + " " + y2024.To.Format("2006-01"); got != "2024-01 2024-12" {
		t.Fatalf("2024 read as %s", got)
	}
	if feb := readInventory(t, f, period("2024-02", "2024-02")); feb.Kg != "38.8558404" || feb.Count != 1 || len(feb.Groups) != 1 ||
		feb.Groups[0].Code != "327310" {
		t.Fatalf("February 2024: %s kg, %d lines, %+v", feb.Kg, feb.Count, feb.Groups)
	}
	y2025 := readInventory(t, f, period("2025-01", "2025-12"))
	if y2025.Count != 1 || len(y2025.Categories) != 1 || y2025.Categories[0].Category != 6 || y2025.Kg == "0.0000000" {
		t.Fatalf("2025: %s kg, %d lines, %+v", y2025.Kg, y2025.Count, y2025.Categories)
	}
	all := readInventory(t, f, calculator.InventoryAt{})
	if all.Count != 4 || all.Kg != sumKg(t, y2024.Kg, y2025.Kg) {
		t.Fatalf("every line: %s kg, %d lines; 2024 %s + 2025 %s", all.Kg, all.Count, y2024.Kg, y2025.Kg)
	}
	// Both years are every month with data: the same groups as every line.
	if both := readInventory(t, f, period("2024-01", "2025-12")); both.Kg != all.Kg || both.Count != 4 || !reflect.DeepEqual(both.Groups, all.Groups) {
		t.Fatalf("2024 and 2025: %s kg, %d lines, %+v; every line %+v", both.Kg, both.Count, both.Groups, all.Groups)
	}
	if none := readInventory(t, f, period("2023-01", "2023-12")); none.Kg != "0.0000000" || none.Count != 0 || len(none.Categories) != 0 {
		t.Fatalf("2023: %+v", none)
	}

	// A recalculation moves each month's groups as it moves the whole.
	recalculateRevised(t, f)
	// T1 at 0.9 (TestRecalculateNewFactorSetVersion), T2 and T3 unchanged.
	y2024 = readInventory(t, f, period("2024-01", "2024-12"))
	if y2024.Kg != "1012.6987040" || y2024.Count != 3 {
		t.Fatalf("2024 recalculated: %s kg, %d lines", y2024.Kg, y2024.Count)
	}
	for _, g := range y2024.Groups {
		if g.Set != "epa-revised" {
			t.Fatalf("2024 group of %s left: %+v", g.Set, g)
		}
	}
	y2025 = readInventory(t, f, period("2025-01", "2025-12"))
	if all := readInventory(t, f, calculator.InventoryAt{}); all.Count != 4 || y2025.Count != 1 || all.Kg != sumKg(t, y2024.Kg, y2025.Kg) {
		t.Fatalf("recalculated, every line: %s kg, %d lines; 2024 %s + 2025 %s", all.Kg, all.Count, y2024.Kg, y2025.Kg)
	}
}

// A snapshot keeps its months: a period read from it is as it was when
// recorded, whatever is recalculated since. One recorded before months
// were kept is read whole only.
func TestASnapshotKeepsItsMonths(t *testing.T) {
	ctx := context.Background()
	f := newRecalcFixture(t)
	if _, err := f.svc.Calculate(ctx, f.tenant, []calculator.Line{line2025}); err != nil {
		t.Fatal(err)
	}
	snap, err := f.svc.CreateSnapshot(ctx, f.tenant, "as reported")
	if err != nil || !snap.Months {
		t.Fatalf("snapshot %+v, %v", snap, err)
	}
	recalculateRevised(t, f)
	y := period("2024-01", "2024-12")
	if now := readInventory(t, f, y); now.Kg != "1012.6987040" {
		t.Fatalf("2024 now: %s kg", now.Kg)
	}
	then := readInventory(t, f, calculator.InventoryAt{Snapshot: snap.ID, From: y.From, To: y.To})
	if then.Kg != "905.4736933" || then.Count != 3 || then.Snapshot != snap.ID || then.From != y.From {
		t.Fatalf("2024 as recorded: %s kg, %d lines", then.Kg, then.Count)
	}
	for _, g := range then.Groups {
		if g.Set != calculator.DefaultSet {
			t.Fatalf("2024 as recorded holds a group of %s: %+v", g.Set, g)
		}
	}
	// Its months, as recorded; today's, recalculated.
	withMonths := func(at calculator.InventoryAt) string {
		at.Months = true
		inv := readInventory(t, f, at)
		ms := make([]string, 0, len(inv.Months))
		for _, m := range inv.Months {
			ms = append(ms, fmt.Sprintf("%s %s/%d", m.Month.Format("2006-01"), m.Kg, m.Count))
		}
		return strings.Join(ms, ", ")
	}
	if got, want := withMonths(calculator.InventoryAt{Snapshot: snap.ID, From: y.From, To: y.To}),
		"2024-01 746.7794993/1, 2024-02 38.8558404/1, 2024-07 119.8383536/1"; got != want {
		t.Fatalf("the snapshot's months of 2024: %s, want %s", got, want)
	}
	if got, want := withMonths(y), "2024-01 854.0045100/1, 2024-02 38.8558404/1, 2024-07 119.8383536/1"; got != want {
		t.Fatalf("2024's months now: %s, want %s", got, want)
	}
	if got := withMonths(calculator.InventoryAt{Snapshot: snap.ID}); !strings.HasSuffix(got, "/1, 2025-03 "+readInventory(t, f, period("2025-03", "2025-03")).Kg+"/1") {
		t.Fatalf("the snapshot's months: %s", got)
	}
	whole := readInventory(t, f, calculator.InventoryAt{Snapshot: snap.ID})
	y2025 := readInventory(t, f, calculator.InventoryAt{Snapshot: snap.ID, From: day("2025-01-01"), To: day("2025-12-01")})
	if whole.Count != 4 || y2025.Count != 1 || whole.Kg != sumKg(t, then.Kg, y2025.Kg) {
		t.Fatalf("as recorded: every line %s kg (%d), 2024 %s + 2025 %s", whole.Kg, whole.Count, then.Kg, y2025.Kg)
	}

	// As a snapshot recorded before months were kept reads.
	if _, err := f.pool.Exec(ctx, `UPDATE calculator.inventory_snapshots SET months = false WHERE id = $1`, snap.ID); err != nil {
		t.Fatal(err)
	}
	_, err = f.svc.Inventory(ctx, f.tenant, calculator.InventoryAt{Snapshot: snap.ID, From: y.From, To: y.To}, "", 100, 1)
	var ae *apperr.Error
	if !errors.As(err, &ae) || ae.Kind != apperr.InvalidArgument || ae.Violations[0].Field != "period_start" {
		t.Fatalf("a period of a snapshot without months: %v", err)
	}
	_, err = f.svc.Inventory(ctx, f.tenant, calculator.InventoryAt{Snapshot: snap.ID, Months: true}, "", 100, 1)
	if !errors.As(err, &ae) || ae.Kind != apperr.InvalidArgument || ae.Violations[0].Field != "include_months" {
		t.Fatalf("months of a snapshot without months: %v", err)
	}
	if old := readInventory(t, f, calculator.InventoryAt{Snapshot: snap.ID}); old.Kg != whole.Kg {
		t.Fatalf("the snapshot without months, whole: %s kg, want %s", old.Kg, whole.Kg)
	}
}

// A period as of a day is its months as calculated at that day's end:
// what a recalculation or a later line changes reads from their day on.
func TestInventoryOfAPeriodAsOfADay(t *testing.T) {
	ctx := context.Background()
	f := newRecalcFixture(t)
	if _, err := f.svc.Calculate(ctx, f.tenant, []calculator.Line{line2025}); err != nil {
		t.Fatal(err)
	}
	y := period("2024-01", "2024-12")
	asOf := func(d time.Time) calculator.InventoryAt {
		return calculator.InventoryAt{Day: d, From: y.From, To: y.To, Months: true}
	}
	months := func(inv calculator.Inventory) string {
		ms := make([]string, 0, len(inv.Months))
		for _, m := range inv.Months {
			ms = append(ms, fmt.Sprintf("%s %s/%d", m.Month.Format("2006-01"), m.Kg, m.Count))
		}
		return strings.Join(ms, ", ")
	}
	// SummarizeEmissions by month as of a day: the inventory's months.
	summary := func(d time.Time, limit int) string {
		t.Helper()
		sum, err := f.svc.SummarizeUnder(ctx, f.tenant, calculator.ByMonth, limit, "", calculator.Period{From: y.From, To: y.To, Day: d})
		if err != nil {
			t.Fatal(err)
		}
		ms := make([]string, 0, len(sum.Groups))
		for _, g := range sum.Groups {
			ms = append(ms, fmt.Sprintf("%s %s/%d", g.Key, g.Kg, g.Count))
		}
		return fmt.Sprintf("%s %d: %s", sum.TotalKg, sum.GroupCount, strings.Join(ms, ", "))
	}
	const dayOneMonths = "2024-01 746.7794993/1, 2024-02 38.8558404/1, 2024-07 119.8383536/1"
	if one := readInventory(t, f, asOf(dayOne)); one.Kg != "905.4736933" || one.Count != 3 || months(one) != dayOneMonths {
		t.Fatalf("2024 as of day one: %s kg, %d lines, months %s", one.Kg, one.Count, months(one))
	}
	if got, want := summary(dayOne, 0), "905.4736933 3: "+dayOneMonths; got != want {
		t.Fatalf("2024's months as of day one: %s, want %s", got, want)
	}
	if before := readInventory(t, f, asOf(dayOne.AddDate(0, 0, -1))); before.Kg != "0.0000000" || before.Count != 0 || len(before.Months) != 0 {
		t.Fatalf("2024 the day before anything was calculated: %s kg, %d lines, months %s", before.Kg, before.Count, months(before))
	}

	dayThree := changeOnDaysTwoAndThree(t, f)
	if one := readInventory(t, f, asOf(dayOne)); one.Kg != "905.4736933" || one.Count != 3 || months(one) != dayOneMonths {
		t.Fatalf("2024 as of day one, read after: %s kg, %d lines, months %s", one.Kg, one.Count, months(one))
	}
	if got, want := summary(dayOne, 1), "905.4736933 3: 2024-01 746.7794993/1"; got != want {
		t.Fatalf("2024's first month as of day one, read after: %s, want %s", got, want)
	}
	const dayTwoMonths = "2024-01 854.0045100/1, 2024-02 38.8558404/1, 2024-07 119.8383536/1"
	two := readInventory(t, f, asOf(dayTwo))
	if two.Kg != "1012.6987040" || two.Count != 3 || months(two) != dayTwoMonths {
		t.Fatalf("2024 as of day two: %s kg, %d lines, months %s", two.Kg, two.Count, months(two))
	}
	for _, g := range two.Groups {
		if g.Set != "epa-revised" {
			t.Fatalf("2024 as of day two holds a group of %s: %+v", g.Set, g)
		}
	}
	three, now := readInventory(t, f, asOf(dayThree)), readInventory(t, f, calculator.InventoryAt{From: y.From, To: y.To, Months: true})
	if three.Count != 4 || three.Kg != now.Kg || months(three) != months(now) || !reflect.DeepEqual(three.Groups, now.Groups) {
		t.Fatalf("2024 as of day three: %s kg, %d lines, months %s; now %s kg, months %s", three.Kg, three.Count, months(three), now.Kg, months(now))
	}
	for d, inv := range map[time.Time]calculator.Inventory{dayTwo: two, dayThree: three} {
		if got, want := summary(d, 0), fmt.Sprintf("%s %d: %s", inv.Kg, len(inv.Months), months(inv)); got != want {
			t.Fatalf("2024's months as of %s: %s, want the inventory's %s", d.Format(time.DateOnly), got, want)
		}
	}
	if y2025 := readInventory(t, f, calculator.InventoryAt{Day: dayOne, From: day("2025-01-01"), To: day("2025-12-01")}); y2025.Count != 1 ||
		sumKg(t, y2025.Kg, "905.4736933") != readInventory(t, f, calculator.InventoryAt{Day: dayOne}).Kg {
		t.Fatalf("2025 as of day one: %s kg, %d lines", y2025.Kg, y2025.Count)
	}

	// A tenant whose months were logged from day two (its data before
	// logged whole then) reads a period or months as of day two on only.
	if _, err := f.pool.Exec(ctx, `INSERT INTO calculator.inventory_months_log_start (tenant_id, day) VALUES ($1, $2)`, f.tenant, dayTwo); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		field string
		at    calculator.InventoryAt
	}{
		{"period_start", calculator.InventoryAt{Day: dayOne, From: y.From, To: y.To}},
		{"include_months", calculator.InventoryAt{Day: dayOne, Months: true}},
	} {
		_, err := f.svc.Inventory(ctx, f.tenant, tc.at, "", 100, 1)
		var ae *apperr.Error
		if !errors.As(err, &ae) || ae.Kind != apperr.InvalidArgument || ae.Violations[0].Field != tc.field ||
			!strings.Contains(ae.Violations[0].Description, "logged from 2026-01-11") {
			t.Errorf("%+v before the log starts: %v, want InvalidArgument on %s", tc.at, err, tc.field)
		}
	}
	_, err := f.svc.SummarizeUnder(ctx, f.tenant, calculator.ByMonth, 0, "", calculator.Period{Day: dayOne})
	var ae *apperr.Error
	if !errors.As(err, &ae) || ae.Kind != apperr.InvalidArgument || ae.Violations[0].Field != "as_of_date" ||
		!strings.Contains(ae.Violations[0].Description, "logged from 2026-01-11") {
		t.Errorf("months as of day one, before the log starts: %v, want InvalidArgument on as_of_date", err)
	}
	if whole := readInventory(t, f, calculator.InventoryAt{Day: dayOne}); whole.Count != 4 {
		t.Fatalf("as of day one, whole, before the log starts: %d lines", whole.Count)
	}
	if got := readInventory(t, f, asOf(dayTwo)); got.Kg != two.Kg || months(got) != dayTwoMonths {
		t.Fatalf("2024 as of day two, the log's first: %s kg, months %s", got.Kg, months(got))
	}
}

// Suppliers and categories of a period as of a day, and the suppliers'
// methods: each month's group as calculated at the day's end, from their
// daily log, as a hotspot pack as of a day reads them.
func TestSummaryOfAPeriodAsOfADay(t *testing.T) {
	ctx := context.Background()
	f := newRecalcFixture(t)
	y := period("2024-01", "2024-12")
	at := func(d time.Time) calculator.Period { return calculator.Period{From: y.From, To: y.To, Day: d} }
	summary := func(dim calculator.Dimension, p calculator.Period) string {
		t.Helper()
		sum, err := f.svc.SummarizeUnder(ctx, f.tenant, dim, 0, "", p)
		if err != nil {
			t.Fatal(err)
		}
		if sum.Period != p {
			t.Fatalf("summary of %+v says %+v", p, sum.Period)
		}
		gs := make([]string, 0, len(sum.Groups))
		for _, g := range sum.Groups {
			gs = append(gs, fmt.Sprintf("%s %s/%d", g.Key, g.Kg, g.Count))
		}
		return fmt.Sprintf("%s %d: %s", sum.TotalKg, sum.Count, strings.Join(gs, ", "))
	}
	methods := func(p calculator.Period) string {
		t.Helper()
		ms, err := f.svc.SupplierMethods(ctx, f.tenant, []string{"S1", "S2"}, "", p)
		if err != nil {
			t.Fatal(err)
		}
		out := make([]string, 0, len(ms.Suppliers))
		for _, s := range ms.Suppliers {
			out = append(out, fmt.Sprintf("%s %s/%d %s", s.SupplierID, s.Kg, s.Count, s.Methods[0].Method))
		}
		return strings.Join(out, ", ")
	}
	const dayOneSuppliers = "905.4736933 3: S1 785.6353397/2, S2 119.8383536/1"
	const dayOneMethods = "S1 785.6353397/2 spend-based, S2 119.8383536/1 spend-based"
	if got := summary(calculator.BySupplier, at(dayOne)); got != dayOneSuppliers {
		t.Fatalf("2024's suppliers as of day one: %s, want %s", got, dayOneSuppliers)
	}
	dayOneCategories := summary(calculator.ByCategory, at(dayOne))
	if got := summary(calculator.ByCategory, calculator.Period{From: y.From, To: y.To}); got != dayOneCategories {
		t.Fatalf("2024's categories as of day one: %s, now %s", dayOneCategories, got)
	}
	if got := methods(at(dayOne)); got != dayOneMethods {
		t.Fatalf("2024's suppliers' methods as of day one: %s, want %s", got, dayOneMethods)
	}
	if got, want := summary(calculator.BySupplier, at(dayOne.AddDate(0, 0, -1))), "0.0000000 0: "; got != want {
		t.Fatalf("2024's suppliers the day before anything was calculated: %s, want %s", got, want)
	}

	dayThree := changeOnDaysTwoAndThree(t, f)
	if got := summary(calculator.BySupplier, at(dayOne)); got != dayOneSuppliers {
		t.Fatalf("2024's suppliers as of day one, read after: %s, want %s", got, dayOneSuppliers)
	}
	if got := summary(calculator.ByCategory, at(dayOne)); got != dayOneCategories {
		t.Fatalf("2024's categories as of day one, read after: %s, want %s", got, dayOneCategories)
	}
	if got := methods(at(dayOne)); got != dayOneMethods {
		t.Fatalf("2024's suppliers' methods as of day one, read after: %s, want %s", got, dayOneMethods)
	}
	if got, want := summary(calculator.BySupplier, at(dayTwo)), "1012.6987040 3: S1 892.8603504/2, S2 119.8383536/1"; got != want {
		t.Fatalf("2024's suppliers as of day two: %s, want %s", got, want)
	}
	now := calculator.Period{From: y.From, To: y.To}
	for _, dim := range []calculator.Dimension{calculator.BySupplier, calculator.ByCategory} {
		if got, want := summary(dim, at(dayThree)), summary(dim, now); got != want || !strings.Contains(got, " 4: ") {
			t.Fatalf("2024 by %d as of day three: %s, now %s", dim, got, want)
		}
	}
	if got, want := methods(at(dayThree)), methods(now); got != want {
		t.Fatalf("2024's suppliers' methods as of day three: %s, now %s", got, want)
	}

	for _, tc := range []struct {
		field string
		dim   calculator.Dimension
		p     calculator.Period
	}{
		{"group_by", calculator.ByNAICS, at(dayOne)},
		{"as_of_date", calculator.BySupplier, calculator.Period{Day: dayOne, Snapshot: 1}},
	} {
		_, err := f.svc.SummarizeUnder(ctx, f.tenant, tc.dim, 0, "", tc.p)
		var ae *apperr.Error
		if !errors.As(err, &ae) || ae.Kind != apperr.InvalidArgument || ae.Violations[0].Field != tc.field {
			t.Errorf("by %d of %+v: %v, want InvalidArgument on %s", tc.dim, tc.p, err, tc.field)
		}
	}
	// A tenant whose summaries were logged from day two (its data before
	// logged whole then) reads them as of day two on only.
	if _, err := f.pool.Exec(ctx, `INSERT INTO calculator.summary_months_log_start (tenant_id, day) VALUES ($1, $2)`, f.tenant, dayTwo); err != nil {
		t.Fatal(err)
	}
	_, err := f.svc.SummarizeUnder(ctx, f.tenant, calculator.BySupplier, 0, "", at(dayOne))
	_, merr := f.svc.SupplierMethods(ctx, f.tenant, []string{"S1"}, "", at(dayOne))
	for _, err := range []error{err, merr} {
		var ae *apperr.Error
		if !errors.As(err, &ae) || ae.Kind != apperr.InvalidArgument || ae.Violations[0].Field != "as_of_date" ||
			!strings.Contains(ae.Violations[0].Description, "logged from 2026-01-11") {
			t.Errorf("suppliers as of day one, before the log starts: %v, want InvalidArgument on as_of_date", err)
		}
	}
	if got, want := summary(calculator.BySupplier, at(dayTwo)), "1012.6987040 3: S1 892.8603504/2, S2 119.8383536/1"; got != want {
		t.Fatalf("2024's suppliers as of day two, the log's first: %s, want %s", got, want)
	}
}

func TestInventoryPeriodRefused(t *testing.T) {
	ctx := context.Background()
	f := newRecalcFixture(t)
	y := period("2024-01", "2024-12")
	for _, tc := range []struct {
		name, field string
		at          calculator.InventoryAt
	}{
		{"end before start", "period_end", period("2024-12", "2024-01")},
		{"no end", "period_end", calculator.InventoryAt{From: y.From}},
	} {
		_, err := f.svc.Inventory(ctx, f.tenant, tc.at, "", 100, 1)
		var ae *apperr.Error
		if !errors.As(err, &ae) || ae.Kind != apperr.InvalidArgument || ae.Violations[0].Field != tc.field {
			t.Errorf("%s: %v, want InvalidArgument on %s", tc.name, err, tc.field)
		}
	}
}

// TestMonthsBackfillIsWhatCalculatingWrites runs migrations 0013's,
// 0015's and 0017's backfills (0019 after the last two) over lines
// calculated (and recalculated) before them and finds the months' groups
// the calculation wrote.
func TestMonthsBackfillIsWhatCalculatingWrites(t *testing.T) {
	const summaryMonths = `SELECT dim || to_char(month, '|YYYY-MM|') || key, trim_scale(kg_co2e)::text, trim_scale(kg_co2e_ar4)::text,
		trim_scale(kg_co2e_ar6)::text, trim_scale(spend_usd)::text, tx_count FROM calculator.summary_months WHERE tx_count <> 0 ORDER BY dim, month, key`
	for _, tc := range []struct {
		migration, drop, read string
		groups                int // months' groups written
	}{
		{"0013_inventory_months.sql", `DROP TABLE calculator.inventory_months, calculator.inventory_snapshot_months;
				ALTER TABLE calculator.inventory_snapshots DROP COLUMN months`,
			`SELECT to_char(month, 'YYYY-MM|') || key, kg_co2e::text, kg_co2e_ar4::text, kg_co2e_ar6::text,
				spend_usd::text, tx_count FROM calculator.inventory_months WHERE tx_count <> 0 ORDER BY month, key`, 4},
		// S1 and S2's months, their categories and the months. T1's
		// group was taken out and put back, so its sums have its old
		// version's scale: compared as numbers.
		// (Suppliers by method since 0017.)
		// (Each day's figures logged since 0019.)
		{"0015_summary_months.sql 0017_supplier_methods.sql 0019_summary_months_log.sql", `DROP TABLE calculator.summary_months,
				calculator.summary_months_log, calculator.summary_months_log_start`, summaryMonths, 12},
		// Suppliers keyed without their methods, as 0015 wrote them.
		{"0017_supplier_methods.sql 0019_summary_months_log.sql", `UPDATE calculator.summary_months SET key = substr(key, strpos(key, '|') + 1) WHERE dim = 1;
				DROP TABLE calculator.summary_months_log, calculator.summary_months_log_start;
				ALTER TABLE calculator.summary_months DROP COLUMN day, DROP COLUMN prev_day, DROP COLUMN prev_kg_co2e,
					DROP COLUMN prev_spend_usd, DROP COLUMN prev_tx_count, DROP COLUMN prev_kg_co2e_ar4, DROP COLUMN prev_kg_co2e_ar6`, summaryMonths, 12},
	} {
		t.Run(tc.migration, func(t *testing.T) { testBackfill(t, tc.migration, tc.drop, tc.read, tc.groups) })
	}
}

func testBackfill(t *testing.T, migration, drop, query string, groups int) {
	ctx := context.Background()
	pool := testsupport.NewOwnedPool(t, "calculator", store.Migrate)
	st := store.New(pool)
	svc := calculator.New(st, nil, nil, nil)
	f := recalcFixture{svc: svc, st: st, pool: pool, tenant: testsupport.Tenant(t, pool, "a")}
	if _, err := svc.Calculate(ctx, f.tenant, append([]calculator.Line{line2025}, recalcLines...)); err != nil {
		t.Fatal(err)
	}
	switchToRevised(t, f)
	startWorkers(t, pool, svc, 2)
	r, err := svc.CreateRecalculation(ctx, f.tenant, calculator.Recalculation{Reason: "revised set", SupplierID: "S1"})
	if err != nil {
		t.Fatal(err)
	}
	if r = waitEnded(t, svc, f.tenant, r.ID); r.State != calculator.RecalcSucceeded || r.LinesChanged != 2 {
		t.Fatalf("recalculation %+v", r)
	}
	type row struct {
		Key, Kg, Kg4, Kg6, Spend string
		N                        int64
	}
	read := func() []row {
		var out []row
		err := db.InTenant(ctx, pool, f.tenant, func(tx pgx.Tx) error {
			rows, err := tx.Query(ctx, query)
			if err != nil {
				return err
			}
			out, err = pgx.CollectRows(rows, pgx.RowToStructByPos[row])
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	written := read()
	// T1 (revised, 2024-01), T2 (2024-02), T3 (2024-07), T4 (2025-03).
	if len(written) != groups || !strings.Contains(written[0].Key, "2024-01|") || !strings.Contains(written[groups-1].Key, "2025-03") {
		t.Fatalf("months' groups written %+v", written)
	}
	var sql []byte
	for m := range strings.FieldsSeq(migration) {
		b, err := os.ReadFile("migrations/" + m)
		if err != nil {
			t.Fatal(err)
		}
		sql = append(sql, b...)
	}
	// As the owner, as migrations run; the policy binds the reads to the
	// tenant.
	if err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT set_config('vcci.tenant_id', $1, true)`, f.tenant.String()); err != nil {
			return err
		}
		// The table as before the migration: gone.
		if _, err := tx.Exec(ctx, drop); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `SET LOCAL search_path = calculator;`+string(sql))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if got := read(); !reflect.DeepEqual(got, written) {
		t.Fatalf("backfilled:\n%+v\nwritten:\n%+v", got, written)
	}
}

// rerunDayLog takes table (inventory_months or summary_months) back to
// before migration file gave it a day and a log, and runs file again over
// it, as the owner, as migrations run.
func rerunDayLog(t *testing.T, pool *pgxpool.Pool, file, table string) {
	t.Helper()
	sql, err := os.ReadFile("migrations/" + file)
	if err != nil {
		t.Fatal(err)
	}
	if err := pgx.BeginFunc(context.Background(), pool, func(tx pgx.Tx) error {
		_, err := tx.Exec(context.Background(), `DROP TABLE calculator.`+table+`_log, calculator.`+table+`_log_start;
			ALTER TABLE calculator.`+table+` DROP COLUMN day, DROP COLUMN prev_day, DROP COLUMN prev_kg_co2e,
				DROP COLUMN prev_spend_usd, DROP COLUMN prev_tx_count, DROP COLUMN prev_kg_co2e_ar4, DROP COLUMN prev_kg_co2e_ar6;
			SET LOCAL search_path = calculator;`+string(sql))
		return err
	}); err != nil {
		t.Fatal(err)
	}
}

// TestMonthsLogStartsWhenMigrated runs migration 0016 over groups kept
// before it: they are dated the day it ran, which the tenant's log starts
// from, so a period reads as of that day and is refused before it.
func TestMonthsLogStartsWhenMigrated(t *testing.T) {
	ctx := context.Background()
	pool := testsupport.NewOwnedPool(t, "calculator", store.Migrate)
	st := store.New(pool)
	st.Now = func() time.Time { return dayOne.Add(10 * time.Hour) }
	f := recalcFixture{svc: calculator.New(st, nil, nil, nil), st: st, pool: pool, tenant: testsupport.Tenant(t, pool, "a")}
	if _, err := f.svc.Calculate(ctx, f.tenant, append([]calculator.Line{line2025}, recalcLines...)); err != nil {
		t.Fatal(err)
	}
	rerunDayLog(t, pool, "0016_inventory_months_log.sql", "inventory_months")
	var migrated time.Time
	if err := db.InTenant(ctx, pool, f.tenant, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `SELECT day FROM calculator.inventory_months_log_start WHERE tenant_id = $1`, f.tenant).Scan(&migrated)
	}); err != nil {
		t.Fatal(err)
	}
	if today := time.Now().UTC().Format(time.DateOnly); migrated.Format(time.DateOnly) != today {
		t.Fatalf("the log starts %s, want the day the migration ran, %s", migrated.Format(time.DateOnly), today)
	}
	y := period("2024-01", "2024-12")
	now := readInventory(t, f, y)
	if then := readInventory(t, f, calculator.InventoryAt{Day: migrated, From: y.From, To: y.To}); then.Kg != now.Kg || then.Count != 3 {
		t.Fatalf("2024 as of the migration's day: %s kg, %d lines; now %s kg", then.Kg, then.Count, now.Kg)
	}
	_, err := f.svc.Inventory(ctx, f.tenant, calculator.InventoryAt{Day: migrated.AddDate(0, 0, -1), From: y.From, To: y.To}, "", 100, 1)
	var ae *apperr.Error
	if !errors.As(err, &ae) || ae.Kind != apperr.InvalidArgument || ae.Violations[0].Field != "period_start" {
		t.Fatalf("2024 as of the day before the migration: %v", err)
	}
}

// TestSummaryLogStartsWhenMigrated runs migration 0019 over suppliers kept
// before it: they are dated the day it ran, which the tenant's summaries
// are logged from, so suppliers read as of that day and are refused
// before it.
func TestSummaryLogStartsWhenMigrated(t *testing.T) {
	ctx := context.Background()
	pool := testsupport.NewOwnedPool(t, "calculator", store.Migrate)
	st := store.New(pool)
	st.Now = func() time.Time { return dayOne.Add(10 * time.Hour) }
	svc := calculator.New(st, nil, nil, nil)
	tenant := testsupport.Tenant(t, pool, "a")
	if _, err := svc.Calculate(ctx, tenant, append([]calculator.Line(nil), recalcLines...)); err != nil {
		t.Fatal(err)
	}
	rerunDayLog(t, pool, "0019_summary_months_log.sql", "summary_months")
	today := time.Now().UTC().Truncate(24 * time.Hour)
	y := period("2024-01", "2024-12")
	now, err := svc.SummarizeUnder(ctx, tenant, calculator.BySupplier, 0, "", calculator.Period{From: y.From, To: y.To})
	if err != nil {
		t.Fatal(err)
	}
	then, err := svc.SummarizeUnder(ctx, tenant, calculator.BySupplier, 0, "", calculator.Period{From: y.From, To: y.To, Day: today})
	if err != nil || then.TotalKg != now.TotalKg || then.Count != 3 || len(then.Groups) != 2 {
		t.Fatalf("2024's suppliers as of the migration's day: %+v, %v; now %s kg", then, err, now.TotalKg)
	}
	_, err = svc.SummarizeUnder(ctx, tenant, calculator.BySupplier, 0, "", calculator.Period{From: y.From, To: y.To, Day: today.AddDate(0, 0, -1)})
	var ae *apperr.Error
	if !errors.As(err, &ae) || ae.Kind != apperr.InvalidArgument || ae.Violations[0].Field != "as_of_date" ||
		!strings.Contains(ae.Violations[0].Description, "logged from "+today.Format(time.DateOnly)) {
		t.Fatalf("2024's suppliers as of the day before the migration: %v", err)
	}
}

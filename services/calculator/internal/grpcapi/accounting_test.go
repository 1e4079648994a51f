package grpcapi_test

import (
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	calculatorv1 "github.com/vcci-dev/vcci/pkg/gen/vcci/calculator/v1"
	"github.com/vcci-dev/vcci/services/calculator/internal/quality"
)

// supplierLines are six lines of 2024-06 (CPI-U 314.175; EPA 331110 is
// 0.787 kg per 2022 USD, base 292.655): 10 USD is 9.3150 2022 USD and
// 7.3309050 kg spend-based, 100 USD 93.1503 and 73.3092861 kg.
func supplierLines() []*calculatorv1.SpendLine {
	l := func(id, sup string, amount string) *calculatorv1.SpendLine {
		return &calculatorv1.SpendLine{TransactionId: id, Date: "2024-06-14", SupplierId: sup, NaicsCode: "331110", AmountUsd: amount}
	}
	l1 := l("L1", "S1", "100")
	l1.Date = "2024-06-01" // inside S1's company figure's period
	l2 := l("L2", "S1", "100")
	l3 := l("L3", "S2", "10")
	l3.ProductId, l3.Quantity, l3.Unit = "P1", "500", "g"
	l4 := l("L4", "S2", "10")
	l4.ProductId, l4.Quantity, l4.Unit = "P2", "3", "kg" // no footprint for P2
	l5 := l("L5", "S3", "10")
	l5.SupplierCountry = "US"
	return []*calculatorv1.SpendLine{l1, l2, l3, l4, l5, l("L6", "S3", "10")}
}

func TestSupplierDataOverridesAveragesLineByLine(t *testing.T) {
	calc := calculatorv1.NewCalculatorServiceClient(calcServer(t))
	ctx := keyCtx()
	company, err := calc.CreateSupplierFactor(ctx, &calculatorv1.CreateSupplierFactorRequest{SupplierFactor: &calculatorv1.SupplierFactor{
		SupplierId: "S1", Kind: calculatorv1.SupplierFactorKind_SUPPLIER_FACTOR_KIND_COMPANY, KgCo2EPerUnit: "0.5",
		ReportingYear: 2024, Verified: true, ValidFrom: "2024-01-01", ValidTo: "2024-06-10"}})
	if err != nil {
		t.Fatal(err)
	}
	product, err := calc.CreateSupplierFactor(ctx, &calculatorv1.CreateSupplierFactorRequest{SupplierFactor: &calculatorv1.SupplierFactor{
		SupplierId: "S2", Kind: calculatorv1.SupplierFactorKind_SUPPLIER_FACTOR_KIND_PRODUCT, ProductId: "P1", DeclaredUnit: "kg",
		KgCo2EPerUnit: "2.0", Gases: []*calculatorv1.FactorGas{{Gas: "CO2", Value: "1.72"}, {Gas: "CH4", Value: "0.01"}},
		ReportingYear: 2024, PrimaryDataShare: "0.95", Boundary: "cradle-to-gate", ValidFrom: "2024-01-01", ValidTo: "2024-12-31"}})
	if err != nil {
		t.Fatal(err)
	}
	if product.GetFactor() != "factorSets/supplier-data/factors/sf-"+strings.TrimPrefix(product.GetName(), "supplierFactors/") ||
		len(product.GetGases()) != 2 || product.GetCreateTime() == nil {
		t.Fatalf("product figure = %v", product)
	}
	got, err := calc.GetSupplierFactor(ctx, &calculatorv1.GetSupplierFactorRequest{Name: product.GetName()})
	if err != nil || got.GetKgCo2EPerUnit() != "2.0" || got.GetPrimaryDataShare() != "0.95" || len(got.GetGases()) != 2 {
		t.Fatalf("GetSupplierFactor = %v, %v", got, err)
	}
	list, err := calc.ListSupplierFactors(ctx, &calculatorv1.ListSupplierFactorsRequest{PageSize: 1})
	if err != nil || len(list.GetSupplierFactors()) != 1 || list.GetSupplierFactors()[0].GetName() != product.GetName() || list.GetNextPageToken() == "" {
		t.Fatalf("first page = %v, %v", list, err)
	}
	list, err = calc.ListSupplierFactors(ctx, &calculatorv1.ListSupplierFactorsRequest{PageSize: 1, PageToken: list.GetNextPageToken()})
	if err != nil || len(list.GetSupplierFactors()) != 1 || list.GetSupplierFactors()[0].GetName() != company.GetName() || list.GetNextPageToken() != "" {
		t.Fatalf("second page = %v, %v", list, err)
	}
	// Of some suppliers, since a time: what a campaign's progress reads.
	names := func(req *calculatorv1.ListSupplierFactorsRequest) string {
		t.Helper()
		list, err := calc.ListSupplierFactors(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		out := make([]string, 0, len(list.GetSupplierFactors()))
		for _, f := range list.GetSupplierFactors() {
			out = append(out, f.GetSupplierId())
		}
		return strings.Join(out, ",")
	}
	for _, c := range []struct {
		req  *calculatorv1.ListSupplierFactorsRequest
		want string
	}{
		{&calculatorv1.ListSupplierFactorsRequest{SupplierIds: []string{"S1", "S9"}}, "S1"},
		{&calculatorv1.ListSupplierFactorsRequest{SupplierIds: []string{"S2", "S1"}}, "S2,S1"},
		{&calculatorv1.ListSupplierFactorsRequest{SupplierId: "S2"}, "S2"},
		{&calculatorv1.ListSupplierFactorsRequest{MinCreateTime: product.GetCreateTime()}, "S2"},
		{&calculatorv1.ListSupplierFactorsRequest{SupplierIds: []string{"S1"}, MinCreateTime: product.GetCreateTime()}, ""},
		{&calculatorv1.ListSupplierFactorsRequest{MinCreateTime: company.GetCreateTime()}, "S2,S1"},
	} {
		if got := names(c.req); got != c.want {
			t.Errorf("%v: %s, want %s", c.req, got, c.want)
		}
	}
	// A page token of one filter does not continue another.
	page, err := calc.ListSupplierFactors(ctx, &calculatorv1.ListSupplierFactorsRequest{PageSize: 1, SupplierIds: []string{"S1", "S2"}})
	if err != nil || page.GetNextPageToken() == "" {
		t.Fatalf("filtered page = %v, %v", page, err)
	}
	if _, err := calc.ListSupplierFactors(ctx, &calculatorv1.ListSupplierFactorsRequest{PageSize: 1, PageToken: page.GetNextPageToken()}); status.Code(err) != codes.InvalidArgument {
		t.Fatalf("another filter's token: %v", err)
	}
	_, err = calc.ListSupplierFactors(ctx, &calculatorv1.ListSupplierFactorsRequest{SupplierId: "S1", SupplierIds: []string{"S2"}})
	if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "supplier_ids") {
		t.Fatalf("both filters: %v", err)
	}
	_, err = calc.ListSupplierFactors(ctx, &calculatorv1.ListSupplierFactorsRequest{SupplierIds: make([]string, 1001)})
	if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "supplier_ids") {
		t.Fatalf("1001 suppliers: %v", err)
	}

	if _, err := calc.CalculateEmissions(ctx, &calculatorv1.CalculateEmissionsRequest{Upload: "uploads/1", Lines: supplierLines()}); err != nil {
		t.Fatal(err)
	}
	// Method, kg, factor and indicators (technology, time, geography,
	// completeness, reliability) of each line.
	for _, w := range []struct{ id, method, kg, factor, dq, score string }{
		{"L1", "supplier-company", "50.0000000", company.GetFactor(), "31121", "1.6"},
		{"L2", "spend-based", "73.3092861", "factorSets/epa-supply-chain-v1.3.0/factors/331110", "41344", "3.2"},
		{"L3", "supplier-product", "1.0000000", product.GetFactor(), "11112", "1.2"},
		{"L4", "spend-based", "7.3309050", "factorSets/epa-supply-chain-v1.3.0/factors/331110", "41344", "3.2"},
		{"L5", "spend-based", "7.3309050", "factorSets/epa-supply-chain-v1.3.0/factors/331110", "41144", "2.8"},
		{"L6", "spend-based", "7.3309050", "factorSets/epa-supply-chain-v1.3.0/factors/331110", "41344", "3.2"},
	} {
		r, err := calc.GetEmissionResult(ctx, &calculatorv1.GetEmissionResultRequest{Name: "emissionResults/" + w.id})
		if err != nil {
			t.Fatal(err)
		}
		q := r.GetDataQuality()
		dq := q.GetTechnology() + q.GetTime() + q.GetGeography() + q.GetCompleteness() + q.GetReliability()
		if r.GetMethod() != w.method || r.GetKgCo2E() != w.kg || r.GetFactor() != w.factor || dq != w.dq || q.GetScore() != w.score || r.GetVersion() != 1 {
			t.Errorf("%s: %s %s kg with %s, quality %s (%s), version %d; want %s %s kg with %s, %s (%s)", w.id, r.GetMethod(), r.GetKgCo2E(),
				r.GetFactor(), dq, q.GetScore(), r.GetVersion(), w.method, w.kg, w.factor, w.dq, w.score)
		}
		// What Calculate answers for the same line is what was stored.
		if w.id == "L3" {
			c, err := calc.Calculate(ctx, &calculatorv1.CalculateRequest{Line: supplierLines()[2]})
			if err != nil || c.GetKgCo2E() != w.kg || c.GetMethod() != w.method || c.GetFactorQuantity() != "0.5" || c.GetKgCo2EAr6() != r.GetKgCo2EAr6() {
				t.Errorf("Calculate L3 = %v, %v; stored %v", c, err, r)
			}
			// 0.01 kg CH4 a kg: under AR6 (CH4 27.9, AR5 28) 2.0 - 0.001
			// per kg, of 0.5 kg; under AR4 (25) 2.0 - 0.03.
			if r.GetKgCo2EAr6() != "0.9995000" || r.GetKgCo2EAr4() != "0.9850000" || r.GetFactorQuantity() != "0.5" ||
				r.GetProductId() != "P1" || r.GetUnitConversion() != "1 g = 0.001 kg" || r.GetQuantity() != "500" {
				t.Errorf("L3 = %v", r)
			}
		}
	}

	inv, err := calc.GetInventory(ctx, &calculatorv1.GetInventoryRequest{IncludeGroups: true})
	if err != nil {
		t.Fatal(err)
	}
	// 50 + 73.3092861 + 1 + 3 x 7.330905.
	if inv.GetTotalKgCo2E() != "146.3020011" || inv.GetLineCount() != 6 || len(inv.GetCategories()) != 1 {
		t.Fatalf("inventory %s kg, %d lines, %d categories", inv.GetTotalKgCo2E(), inv.GetLineCount(), len(inv.GetCategories()))
	}
	methods := make([]string, 0, len(inv.GetMethods()))
	for _, m := range inv.GetMethods() {
		methods = append(methods, m.GetMethod()+"="+m.GetKgCo2E()+"/"+strconv.FormatInt(m.GetLineCount(), 10))
	}
	if strings.Join(methods, " ") != "supplier-product=1.0000000/1 supplier-company=50.0000000/1 spend-based=95.3020011/4" {
		t.Errorf("methods %v", methods)
	}
	// (50 x 1.6 + 1 x 1.2 + 73.3092861 x 3.2 + 7.330905 x (3.2 + 2.8 + 3.2)) / 146.3020011 = 2.6195
	// Technology: (50 x 3 + 1 x 1 + (73.3092861 + 3 x 7.330905) x 4) / 146.3020011 = 3.64.
	if q := inv.GetDataQuality(); q.GetScore() != "2.62" || q.GetTechnology() != "3.64" {
		t.Errorf("data quality %v", q)
	}
	u := inv.GetUncertainty()
	p5, _ := strconv.ParseFloat(u.GetP5(), 64)
	p50, _ := strconv.ParseFloat(u.GetP50(), 64)
	p95, _ := strconv.ParseFloat(u.GetP95(), 64)
	if p5 >= p50 || p50 >= p95 || p50 < 146.3*0.95 || p50 > 146.3*1.05 || inv.GetFactorCount() != 3 || inv.GetGroupCount() != 4 || inv.GetIterations() != 10000 {
		t.Errorf("uncertainty %v of %d groups, %d factors, %d iterations", u, inv.GetGroupCount(), inv.GetFactorCount(), inv.GetIterations())
	}
	again, err := calc.GetInventory(ctx, &calculatorv1.GetInventoryRequest{})
	if err != nil || again.GetUncertainty().GetP50() != u.GetP50() || again.GetCategories()[0].GetUncertainty().GetP95() != inv.GetCategories()[0].GetUncertainty().GetP95() {
		t.Errorf("the same seed gave %v, then %v", u, again.GetUncertainty())
	}
	// Every line is dated June 2024: its period reads them all, with the
	// same draws; the month before reads none.
	june, err := calc.GetInventory(ctx, &calculatorv1.GetInventoryRequest{PeriodStart: "2024-01", PeriodEnd: "2024-06"})
	if err != nil || june.GetTotalKgCo2E() != "146.3020011" || june.GetLineCount() != 6 || june.GetPeriodStart() != "2024-01" ||
		june.GetPeriodEnd() != "2024-06" || june.GetUncertainty().GetP50() != u.GetP50() {
		t.Errorf("January to June 2024 = %v, %v", june, err)
	}
	if may, err := calc.GetInventory(ctx, &calculatorv1.GetInventoryRequest{PeriodStart: "2024-05", PeriodEnd: "2024-05"}); err != nil ||
		may.GetTotalKgCo2E() != "0.0000000" || may.GetLineCount() != 0 || len(may.GetCategories()) != 0 {
		t.Errorf("May 2024 = %v, %v", may, err)
	}
	for _, bad := range []struct{ start, end, field string }{
		{"2024-13", "2024-12", "period_start"}, {"2024", "2024-12", "period_start"}, {"2024-01", "2024-06-30", "period_end"},
		{"2024-01", "", "period_end"}, {"2024-06", "2024-01", "period_end"},
	} {
		if _, err := calc.GetInventory(ctx, &calculatorv1.GetInventoryRequest{PeriodStart: bad.start, PeriodEnd: bad.end}); violation(err) != bad.field {
			t.Errorf("period %q to %q: %v, want a violation on %s", bad.start, bad.end, err, bad.field)
		}
	}
	// As of today the period is as now; as of a day before the lines were
	// calculated it is empty.
	today := time.Now().UTC().Format(time.DateOnly)
	if asOf, err := calc.GetInventory(ctx, &calculatorv1.GetInventoryRequest{PeriodStart: "2024-01", PeriodEnd: "2024-06", AsOfDate: today,
		IncludeMonths: true}); err != nil || asOf.GetTotalKgCo2E() != "146.3020011" || asOf.GetLineCount() != 6 || asOf.GetAsOfDate() != today ||
		asOf.GetPeriodStart() != "2024-01" || len(asOf.GetMonths()) == 0 {
		t.Errorf("January to June 2024 as of today = %v, %v", asOf, err)
	}
	if before, err := calc.GetInventory(ctx, &calculatorv1.GetInventoryRequest{PeriodStart: "2024-01", PeriodEnd: "2024-06", AsOfDate: "2024-12-31"}); err != nil ||
		before.GetLineCount() != 0 || before.GetTotalKgCo2E() != "0.0000000" {
		t.Errorf("January to June 2024 as of 2024-12-31 = %v, %v", before, err)
	}
	other, err := calc.GetInventory(ctx, &calculatorv1.GetInventoryRequest{Seed: 7})
	if err != nil || other.GetUncertainty().GetP50() == u.GetP50() {
		t.Errorf("seed 7 gave the same P50 %s", u.GetP50())
	}

	// A reviewer reruns the Monte Carlo from the groups and gets the same
	// range; after more lines too (the service draws only what changed).
	rerun(t, inv)
	more := []*calculatorv1.SpendLine{
		{TransactionId: "M1", Date: "2024-06-14", SupplierId: "S3", NaicsCode: "331110", AmountUsd: "40", SupplierCountry: "US"},
		{TransactionId: "M2", Date: "2024-06-14", SupplierId: "S4", NaicsCode: "331110", AmountUsd: "25", SupplierCountry: "DE"},
	}
	if _, err := calc.CalculateEmissions(ctx, &calculatorv1.CalculateEmissionsRequest{Upload: "uploads/2", Lines: more}); err != nil {
		t.Fatal(err)
	}
	after, err := calc.GetInventory(ctx, &calculatorv1.GetInventoryRequest{IncludeGroups: true})
	if err != nil {
		t.Fatal(err)
	}
	if after.GetGroupCount() != 5 || after.GetUncertainty().GetP50() == u.GetP50() {
		t.Fatalf("after two more lines: %d groups, P50 %s (before %s)", after.GetGroupCount(), after.GetUncertainty().GetP50(), u.GetP50())
	}
	rerun(t, after)
}

// rerun simulates inv's groups as docs/quality.md says and checks its
// ranges.
func rerun(t *testing.T, inv *calculatorv1.Inventory) {
	t.Helper()
	gs := make([]quality.Group, 0, len(inv.GetGroups()))
	for _, g := range inv.GetGroups() {
		kg, err := strconv.ParseFloat(g.GetKgCo2E(), 64)
		if err != nil {
			t.Fatal(err)
		}
		gs = append(gs, quality.Group{Factor: g.GetFactor(), Category: int16(g.GetCategory()), Kg: kg, Sigma2: g.GetSigma2()})
	}
	res, err := quality.Simulate(gs, quality.Options{Iterations: int(inv.GetIterations()), Seed: inv.GetSeed()})
	if err != nil {
		t.Fatal(err)
	}
	f := func(r quality.Range) string {
		return strconv.FormatFloat(r.P5, 'f', 3, 64) + " " + strconv.FormatFloat(r.P50, 'f', 3, 64) + " " + strconv.FormatFloat(r.P95, 'f', 3, 64)
	}
	u := inv.GetUncertainty()
	if got := u.GetP5() + " " + u.GetP50() + " " + u.GetP95(); got != f(res.Total) {
		t.Errorf("inventory's range %s, rerun %s", got, f(res.Total))
	}
	c := inv.GetCategories()[0].GetUncertainty()
	if got := c.GetP5() + " " + c.GetP50() + " " + c.GetP95(); got != f(res.Categories[0].Range) {
		t.Errorf("category's range %s, rerun %s", got, f(res.Categories[0].Range))
	}
}

func TestInventorySnapshotsAndDaysStayAsRecorded(t *testing.T) {
	calc := calculatorv1.NewCalculatorServiceClient(calcServer(t))
	ctx := keyCtx()
	lines := supplierLines()
	if _, err := calc.CalculateEmissions(ctx, &calculatorv1.CalculateEmissionsRequest{Upload: "uploads/1", Lines: lines[:2]}); err != nil {
		t.Fatal(err)
	}
	snap, err := calc.CreateInventorySnapshot(ctx, &calculatorv1.CreateInventorySnapshotRequest{Snapshot: &calculatorv1.InventorySnapshot{DisplayName: "FY2024 as reported"}})
	if err != nil || snap.GetTotalKgCo2E() != "146.6185722" || snap.GetLineCount() != 2 || snap.GetGwpBasis() != calculatorv1.GwpBasis_GWP_BASIS_AR5 {
		t.Fatalf("snapshot = %v, %v", snap, err)
	}
	if _, err := calc.CreateInventorySnapshot(ctx, &calculatorv1.CreateInventorySnapshotRequest{Snapshot: &calculatorv1.InventorySnapshot{DisplayName: "FY2024 as reported"}}); status.Code(err) != codes.AlreadyExists {
		t.Errorf("a second snapshot of the name: %v", err)
	}
	if _, err := calc.CalculateEmissions(ctx, &calculatorv1.CalculateEmissionsRequest{Upload: "uploads/2", Lines: lines[2:]}); err != nil {
		t.Fatal(err)
	}
	read := func(req *calculatorv1.GetInventoryRequest) *calculatorv1.Inventory {
		t.Helper()
		inv, err := calc.GetInventory(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		return inv
	}
	if inv := read(&calculatorv1.GetInventoryRequest{Snapshot: snap.GetName()}); inv.GetTotalKgCo2E() != "146.6185722" || inv.GetLineCount() != 2 || inv.GetSnapshot() != snap.GetName() {
		t.Errorf("the snapshot reads %s kg, %d lines", inv.GetTotalKgCo2E(), inv.GetLineCount())
	}
	// 2 x 73.3092861 + 4 x 7.330905 (no supplier figures here).
	today := time.Now().UTC().Format(time.DateOnly)
	if inv := read(&calculatorv1.GetInventoryRequest{AsOfDate: today}); inv.GetTotalKgCo2E() != "175.9421922" || inv.GetAsOfDate() != today {
		t.Errorf("as of today %s kg", inv.GetTotalKgCo2E())
	}
	if inv := read(&calculatorv1.GetInventoryRequest{}); inv.GetTotalKgCo2E() != "175.9421922" {
		t.Errorf("now %s kg", inv.GetTotalKgCo2E())
	}
	if inv := read(&calculatorv1.GetInventoryRequest{AsOfDate: "2020-01-01"}); inv.GetTotalKgCo2E() != "0.0000000" || inv.GetLineCount() != 0 {
		t.Errorf("as of 2020 %s kg", inv.GetTotalKgCo2E())
	}
	list, err := calc.ListInventorySnapshots(ctx, &calculatorv1.ListInventorySnapshotsRequest{})
	if err != nil || len(list.GetSnapshots()) != 1 || list.GetSnapshots()[0].GetDisplayName() != "FY2024 as reported" || !list.GetSnapshots()[0].GetMonthsRecorded() {
		t.Errorf("snapshots = %v, %v", list, err)
	}
	// Its months: every line is of June 2024.
	june := read(&calculatorv1.GetInventoryRequest{Snapshot: snap.GetName(), PeriodStart: "2024-06", PeriodEnd: "2024-06"})
	may := read(&calculatorv1.GetInventoryRequest{Snapshot: snap.GetName(), PeriodStart: "2024-05", PeriodEnd: "2024-05"})
	if june.GetTotalKgCo2E() != "146.6185722" || june.GetLineCount() != 2 || june.GetPeriodStart() != "2024-06" || june.GetSnapshot() != snap.GetName() ||
		may.GetLineCount() != 0 {
		t.Errorf("the snapshot's June 2024 %v, May %v", june, may)
	}
}

func TestSupplierDataBadInputNamesTheField(t *testing.T) {
	calc := calculatorv1.NewCalculatorServiceClient(calcServer(t))
	ctx := keyCtx()
	good := func() *calculatorv1.SupplierFactor {
		return &calculatorv1.SupplierFactor{SupplierId: "S2", Kind: calculatorv1.SupplierFactorKind_SUPPLIER_FACTOR_KIND_PRODUCT, ProductId: "P1",
			DeclaredUnit: "kg", KgCo2EPerUnit: "2", ReportingYear: 2024, ValidFrom: "2024-01-01", ValidTo: "2024-12-31"}
	}
	for _, c := range []struct {
		field string
		edit  func(*calculatorv1.SupplierFactor)
	}{
		{"supplier_factor.valid_to", func(f *calculatorv1.SupplierFactor) { f.ValidTo = "2023-12-31" }},
		{"supplier_factor.valid_from", func(f *calculatorv1.SupplierFactor) { f.ValidFrom = "2024-13-01" }},
		{"supplier_factor.kg_co2e_per_unit", func(f *calculatorv1.SupplierFactor) { f.KgCo2EPerUnit = "-1" }},
		{"supplier_factor.kind", func(f *calculatorv1.SupplierFactor) {
			f.Kind = calculatorv1.SupplierFactorKind_SUPPLIER_FACTOR_KIND_COMPANY
		}},
		{"supplier_factor.gases", func(f *calculatorv1.SupplierFactor) { f.Gases = []*calculatorv1.FactorGas{{Gas: "CO2", Value: "1.5"}} }},
		{"supplier_factor.primary_data_share", func(f *calculatorv1.SupplierFactor) { f.PrimaryDataShare = "1.5" }},
		{"supplier_factor.reporting_year", func(f *calculatorv1.SupplierFactor) { f.ReportingYear = 0 }},
	} {
		f := good()
		c.edit(f)
		for _, only := range []bool{true, false} {
			_, err := calc.CreateSupplierFactor(ctx, &calculatorv1.CreateSupplierFactorRequest{SupplierFactor: f, ValidateOnly: only})
			if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), c.field) {
				t.Errorf("%s, validate only %v: %v", c.field, only, err)
			}
		}
	}
	// Checked only, a figure comes back as it would be stored, and is not.
	spaced := good()
	spaced.SupplierId, spaced.DeclaredUnit = " S2 ", "kg "
	checked, err := calc.CreateSupplierFactor(ctx, &calculatorv1.CreateSupplierFactorRequest{SupplierFactor: spaced, ValidateOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(checked, good()) {
		t.Fatalf("checked %v\nwant %v", checked, good())
	}
	if list, err := calc.ListSupplierFactors(ctx, &calculatorv1.ListSupplierFactorsRequest{}); err != nil || len(list.GetSupplierFactors()) != 0 {
		t.Fatalf("validate only stored %v (%v)", list.GetSupplierFactors(), err)
	}
	if _, err := calc.CreateSupplierFactor(ctx, &calculatorv1.CreateSupplierFactorRequest{SupplierFactor: good()}); err != nil {
		t.Fatal(err)
	}
	// A product line whose unit does not convert to the footprint's is
	// refused naming its unit: calculated by spend instead, it would hide
	// the supplier's figure.
	line := supplierLines()[2]
	line.Unit = "L"
	_, err = calc.CalculateEmissions(ctx, &calculatorv1.CalculateEmissionsRequest{Upload: "uploads/1", Lines: []*calculatorv1.SpendLine{line}})
	if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "lines[0].unit") {
		t.Errorf("unit L for a footprint per kg: %v", err)
	}
}

// Creates repeating a request id, at once or later, record one factor and
// one recalculation, and every answer and read names both.
func TestSupplierFactorRequestIsRecordedOnce(t *testing.T) {
	calc := calculatorv1.NewCalculatorServiceClient(calcServer(t))
	ctx := keyCtx()
	if _, err := calc.CalculateEmissions(ctx, &calculatorv1.CalculateEmissionsRequest{Upload: "uploads/1", Lines: supplierLines()}); err != nil {
		t.Fatal(err)
	}
	req := func(id, value string) *calculatorv1.CreateSupplierFactorRequest {
		return &calculatorv1.CreateSupplierFactorRequest{RequestId: id, SupplierFactor: &calculatorv1.SupplierFactor{
			SupplierId: "S1", Kind: calculatorv1.SupplierFactorKind_SUPPLIER_FACTOR_KIND_COMPANY, KgCo2EPerUnit: value,
			ReportingYear: 2024, ValidFrom: "2024-01-01", ValidTo: "2024-12-31"}}
	}
	const n = 6
	got := make([]*calculatorv1.SupplierFactor, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { got[i], errs[i] = calc.CreateSupplierFactor(ctx, req("campaigns/1/submissions/7", "0.5")) })
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil || got[i].GetName() != got[0].GetName() || got[i].GetRecalculation() == "" ||
			got[i].GetRecalculation() != got[0].GetRecalculation() || got[i].GetKgCo2EPerUnit() != "0.5" {
			t.Fatalf("create %d: %v, %v; want the first's %s, %s", i, got[i], errs[i], got[0].GetName(), got[0].GetRecalculation())
		}
	}
	// Later, even with another figure, the request answers what it made.
	again, err := calc.CreateSupplierFactor(ctx, req("campaigns/1/submissions/7", "0.9"))
	if err != nil || again.GetName() != got[0].GetName() || again.GetKgCo2EPerUnit() != "0.5" {
		t.Fatalf("repeated later: %v, %v", again, err)
	}
	read, err := calc.GetSupplierFactor(ctx, &calculatorv1.GetSupplierFactorRequest{Name: got[0].GetName()})
	if err != nil || read.GetRecalculation() != got[0].GetRecalculation() {
		t.Fatalf("GetSupplierFactor = %v, %v; want recalculation %s", read, err, got[0].GetRecalculation())
	}
	other, err := calc.CreateSupplierFactor(ctx, req("campaigns/1/submissions/8", "0.6"))
	if err != nil || other.GetName() == got[0].GetName() || other.GetRecalculation() == got[0].GetRecalculation() {
		t.Fatalf("another request: %v, %v", other, err)
	}
	list, err := calc.ListSupplierFactors(ctx, &calculatorv1.ListSupplierFactorsRequest{SupplierId: "S1"})
	if err != nil || len(list.GetSupplierFactors()) != 2 {
		t.Fatalf("S1's factors = %v, %v; want 2", list, err)
	}
	recalcs, err := calc.ListRecalculations(ctx, &calculatorv1.ListRecalculationsRequest{})
	if err != nil || len(recalcs.GetRecalculations()) != 2 {
		t.Fatalf("recalculations = %v, %v; want 2", recalcs, err)
	}
	_, err = calc.CreateSupplierFactor(ctx, req(strings.Repeat("x", 101), "0.5"))
	if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "request_id") {
		t.Fatalf("a 101-byte request id: %v", err)
	}
}

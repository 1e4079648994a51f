package reports_test

import (
	"cmp"
	"context"
	"errors"
	"math/big"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vcci-dev/vcci/pkg/apperr"
	"github.com/vcci-dev/vcci/services/reporting/internal/document"
	"github.com/vcci-dev/vcci/services/reporting/internal/reports"
)

// fakeSources is a small tenant: three categories (1, 4, 6) of 20,002 kg
// CO2e over 2024-01 to 2024-03, four methods, three factor sets, two
// recalculations and three suppliers.
type fakeSources struct {
	inv      reports.Inventory
	months   []reports.Total
	pareto   reports.Pareto
	engaged  map[string]reports.Engagement
	figures  []reports.SupplierFactor
	settings reports.Settings
	recalcs  []reports.Recalculation
	sets     []reports.FactorSet
	snaps    []reports.Snapshot
	queries  []reports.InventoryQuery
	// The months a snapshot recorded, for IncludeMonths.
	snapMonths []reports.Total
	// What SupplierPareto was asked to rank.
	paretoAsked []reports.ParetoQuery
	// The Pareto ranks every line whatever the period asked, as a hotspot
	// that knows no periods would.
	paretoWhole bool
	// The months as of a day, for a read with AsOfDate, and the days
	// MonthTotals was asked for.
	dayMonths []reports.Total
	monthDays []string
	// Suppliers' methods, and the suppliers and period they were asked of.
	methods      map[string][]reports.MethodShare
	methodsAsked []string
	methodsQuery reports.ParetoQuery
}

func (f *fakeSources) Inventory(_ context.Context, q reports.InventoryQuery) (reports.Inventory, error) {
	f.queries = append(f.queries, q)
	inv, months := f.inv, f.months
	if q.AsOfDate != "" {
		months = f.dayMonths
	}
	// A period none of the months is in reads nothing, as the
	// calculator's would.
	if q.PeriodStart != "" && !slices.ContainsFunc(months, func(m reports.Total) bool { return m.Key >= q.PeriodStart && m.Key <= q.PeriodEnd }) {
		inv = reports.Inventory{GWPBasis: inv.GWPBasis, TotalKg: "0.0000000"}
	}
	inv.Snapshot, inv.AsOfDate = q.Snapshot, q.AsOfDate
	if q.IncludeMonths {
		ms := f.snapMonths
		if q.AsOfDate != "" {
			ms = f.dayMonths
		}
		for _, m := range ms {
			if q.PeriodStart == "" || m.Key >= q.PeriodStart && m.Key <= q.PeriodEnd {
				inv.Months = append(inv.Months, m)
			}
		}
	}
	if !q.IncludeGroups {
		inv.Groups = nil
	}
	return inv, nil
}

func (f *fakeSources) MonthTotals(_ context.Context, _, asOf string) ([]reports.Total, error) {
	f.monthDays = append(f.monthDays, asOf)
	if asOf != "" {
		return f.dayMonths, nil
	}
	return f.months, nil
}

// SupplierPareto ranks under the basis and period asked, as hotspot does,
// unless the fixture names another basis or paretoWhole (a hotspot that
// ignored them).
func (f *fakeSources) SupplierPareto(_ context.Context, _ int32, q reports.ParetoQuery) (reports.Pareto, error) {
	f.paretoAsked = append(f.paretoAsked, q)
	p := f.pareto
	if p.GWPBasis == "" {
		p.GWPBasis = cmp.Or(q.GWPBasis, f.settings.GWPBasis)
	}
	if !f.paretoWhole {
		p.PeriodStart, p.PeriodEnd, p.Snapshot, p.AsOfDate = q.PeriodStart, q.PeriodEnd, q.Snapshot, q.AsOfDate
	}
	return p, nil
}

func (f *fakeSources) SupplierMethods(_ context.Context, ids []string, q reports.ParetoQuery) (reports.SupplierMethods, error) {
	f.methodsAsked, f.methodsQuery = ids, q
	out := reports.SupplierMethods{ParetoQuery: q, Methods: map[string][]reports.MethodShare{}}
	for _, id := range ids {
		if ms, ok := f.methods[id]; ok {
			out.Methods[id] = ms
		}
	}
	return out, nil
}

func (f *fakeSources) Engagements(context.Context) (map[string]reports.Engagement, error) {
	return f.engaged, nil
}

func (f *fakeSources) SupplierFactors(context.Context) ([]reports.SupplierFactor, error) {
	return f.figures, nil
}

func (f *fakeSources) Settings(context.Context) (reports.Settings, error) { return f.settings, nil }

func (f *fakeSources) Recalculations(context.Context) ([]reports.Recalculation, error) {
	return f.recalcs, nil
}

func (f *fakeSources) FactorSets(context.Context) ([]reports.FactorSet, error) { return f.sets, nil }

func (f *fakeSources) Snapshots(context.Context) ([]reports.Snapshot, error) { return f.snaps, nil }

const (
	epa      = "factorSets/epa-supply-chain-v1.3.0"
	desnz    = "factorSets/desnz-2024"
	supplier = "factorSets/supplier-data"
)

func newFake() *fakeSources {
	dq := func(score string) reports.DataQuality { return reports.DataQuality{Score: score} }
	return &fakeSources{
		inv: reports.Inventory{
			GWPBasis: "AR5", TotalKg: "20002.0000000", LineCount: 1655,
			Categories: []reports.Category{
				{Number: 1, Title: "Purchased goods and services", Kg: "12345.0000000", LineCount: 1200,
					Methods:     []reports.MethodShare{{"supplier-company", "2469.0000000", 100}, {"spend-based", "9876.0000000", 1100}},
					DataQuality: dq("3.12"), Uncertainty: reports.Uncertainty{P5: "9870.5000000", P50: "12400.0000000", P95: "16012.2500000"}},
				{Number: 4, Title: "Upstream transportation and distribution", Kg: "4321.1234567", LineCount: 300,
					Methods:     []reports.MethodShare{{"average-data", "4321.1234567", 300}},
					DataQuality: dq("2.20"), Uncertainty: reports.Uncertainty{P5: "4000.0000000", P50: "4330.0000000", P95: "4700.0000000"}},
				{Number: 6, Title: "Business travel", Kg: "3335.8765433", LineCount: 155,
					Methods:     []reports.MethodShare{{"average-data", "3000.0000000", 150}, {"supplier-product", "335.8765433", 5}},
					DataQuality: dq("1.92"), Uncertainty: reports.Uncertainty{P5: "3100.0000000", P50: "3340.0000000", P95: "3600.0000000"}},
			},
			Methods: []reports.MethodShare{
				{"spend-based", "9876.0000000", 1100}, {"average-data", "7321.1234567", 450},
				{"supplier-company", "2469.0000000", 100}, {"supplier-product", "335.8765433", 5},
			},
			DataQuality: reports.DataQuality{Technology: "2.98", Time: "1.00", Geography: "2.10", Completeness: "3.02", Reliability: "2.80", Score: "2.71"},
			Uncertainty: reports.Uncertainty{P5: "16500.0000000", P50: "20100.0000000", P95: "24800.0000000"},
			Iterations:  10000, Seed: 1, GroupCount: 5, FactorCount: 5,
			Groups: []reports.Group{
				{1, epa + "/factors/331110", "spend-based", "41344", "9876.0000000", 1100},
				{1, supplier + "/factors/sf-1", "supplier-company", "31121", "2469.0000000", 100},
				{4, desnz + "/factors/freight.hgv-all-diesel.all-hgvs.average-laden.tonne-km", "average-data", "21332", "4321.1234567", 300},
				{6, desnz + "/factors/air.flights.short-haul-to-from-uk.economy-class.with-rf.passenger-km", "average-data", "21232", "3000.0000000", 150},
				{6, supplier + "/factors/sf-2", "supplier-product", "11112", "335.8765433", 5},
			},
			ReadTime: time.Date(2026, 12, 6, 6, 0, 0, 0, time.UTC),
		},
		months: []reports.Total{
			{Key: "2024-01", Kg: "8000.0000000", Count: 600}, {Key: "2024-02", Kg: "7000.0000000", Count: 555},
			{Key: "2024-03", Kg: "5002.0000000", Count: 500},
		},
		pareto: reports.Pareto{TotalKg: "20002.0000000", SupplierCount: 3, Threshold: 0.75, ThresholdCount: 2, Entries: []reports.ParetoEntry{
			{1, "S1", "Acme Steel", "10000.0000000", "12500.0000", true},
			{2, "S2", "Northwind Freight", "6000.0000000", "30000.0000", true},
			{3, "S3", "", "4002.0000000", "0.0000", false},
		}},
		// S1 is partly on its own figure; S3 has no lines of the period.
		methods: map[string][]reports.MethodShare{
			"S1": {{"supplier-company", "2469.0000000", 100}, {"spend-based", "7531.0000000", 900}},
			"S2": {{"average-data", "6000.0000000", 300}},
		},
		engaged: map[string]reports.Engagement{
			"S1": {Campaign: "campaigns/1", CampaignName: "Q1 hotspots", Status: reports.StatusDataReceived, Since: time.Date(2026, 2, 10, 9, 0, 0, 0, time.UTC)},
			"S2": {Campaign: "campaigns/1", CampaignName: "Q1 hotspots", Status: "invited", Since: time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)},
			"S3": {Campaign: "campaigns/1", CampaignName: "Q1 hotspots", Status: reports.StatusDeclined, Since: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)},
		},
		figures:  []reports.SupplierFactor{{SupplierID: "S1", Kind: "supplier-company", ReportingYear: 2024, Verified: true, ValidFrom: "2024-01-01", ValidTo: "2024-12-31"}},
		settings: reports.Settings{GWPBasis: "AR5", BaseYear: 2023, SignificanceThresholdPercent: "5", SpendFactorSet: epa, ActivityFactorSet: desnz},
		recalcs: []reports.Recalculation{
			{Name: "recalculations/2", Reason: "EPA v1.3 replaces v1.2", BaseYear: true, Significant: true, Year: 2023, State: "succeeded",
				LineCount: 900, LinesChanged: 850, KgBefore: "10000.0000000", KgAfter: "10600.0000000", ChangePct: "6.00",
				CreateTime: time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC), FinishTime: time.Date(2026, 2, 1, 0, 5, 0, 0, time.UTC)},
			{Name: "recalculations/1", Reason: "Acme's verified intensity", SupplierID: "S1", State: "succeeded",
				LineCount: 100, LinesChanged: 100, KgBefore: "3000.0000000", KgAfter: "2469.0000000", ChangePct: "-17.70",
				CreateTime: time.Date(2026, 1, 10, 0, 0, 0, 0, time.UTC), FinishTime: time.Date(2026, 1, 10, 0, 1, 0, 0, time.UTC)},
		},
		sets: []reports.FactorSet{
			{Name: epa, DisplayName: "US EPA Supply Chain GHG Emission Factors", Publisher: "US EPA", Version: "1.3.0", Region: "US", Year: 2022},
			{Name: desnz, DisplayName: "UK DESNZ GHG conversion factors 2024", Publisher: "DESNZ", Version: "1.1", Region: "GB", Year: 2024},
		},
		snaps: []reports.Snapshot{
			{Name: "inventorySnapshots/7", DisplayName: "FY2024 as reported", CreateTime: time.Date(2025, 3, 31, 12, 0, 0, 0, time.UTC), GWPBasis: "AR5", TotalKg: "20002.0000000"},
			{Name: "inventorySnapshots/9", DisplayName: "Q1 2024", CreateTime: time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC), GWPBasis: "AR5", TotalKg: "20002.0000000", Months: true},
			{Name: "inventorySnapshots/11", DisplayName: "FY2024 audited", CreateTime: time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC), GWPBasis: "AR5", TotalKg: "20002.0000000",
				Months: true, Suppliers: true},
		},
	}
}

func day(s string) time.Time {
	t, err := time.Parse("2006-01-02", s)
	if err != nil {
		panic(err)
	}
	return t
}

func request(kind reports.Kind) reports.Request {
	return reports.Request{
		Kind: kind, PeriodStart: day("2024-01-01"), PeriodEnd: day("2024-12-31"), Organization: "Acme Corp",
		Exclusions: []reports.Exclusion{{Category: 2, Reason: "No capital purchases in 2024"}},
	}
}

func build(t *testing.T, src reports.Sources, r reports.Request) document.Document {
	t.Helper()
	doc, err := reports.Build(t.Context(), src, r)
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	if err := doc.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	if doc.Kind != string(r.Kind) {
		t.Errorf("Kind = %q, want %q", doc.Kind, r.Kind)
	}
	return doc
}

func table(t *testing.T, doc document.Document, name string) document.Table {
	t.Helper()
	for _, tb := range doc.Tables() {
		if tb.Name == name {
			return tb
		}
	}
	t.Fatalf("no table %q in %s", name, doc.Kind)
	return document.Table{}
}

// row is the first row of tb whose first cell is key, as a map by column.
func row(t *testing.T, tb document.Table, key string) map[string]string {
	t.Helper()
	for _, r := range tb.Rows {
		if r[0] == key {
			out := map[string]string{}
			for i, c := range tb.Columns {
				out[c.Title] = r[i]
			}
			return out
		}
	}
	t.Fatalf("table %s has no row %q", tb.Name, key)
	return nil
}

func wantCells(t *testing.T, where string, got, want map[string]string) {
	t.Helper()
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s %q = %q, want %q", where, k, got[k], v)
		}
	}
}

// text is every paragraph of doc, joined.
func text(doc document.Document) string {
	var b strings.Builder
	for _, s := range doc.Sections {
		for _, p := range s.Paragraphs {
			b.WriteString(p + "\n")
		}
	}
	return b.String()
}

// A figure in a sentence has its thousands separated, as in a table.
func TestSentencesSeparateThousands(t *testing.T) {
	src := newFake()
	large := "20002000.1234567" // 20,002.000 t
	src.inv.TotalKg, src.pareto.TotalKg = large, large
	src.inv.Uncertainty = reports.Uncertainty{P5: "16500000.0000000", P50: "20100000.0000000", P95: "24800000.0000000"}
	bare := regexp.MustCompile(`\d{4,}\.\d`)
	for _, k := range []reports.Kind{reports.GHGInventory, reports.CDP, reports.ESRSE16, reports.SB253, reports.HotspotPack} {
		if m := bare.FindAllString(text(build(t, src, request(k))), -1); m != nil {
			t.Errorf("%s: figures without separators in its text: %q", k, m)
		}
	}
}

func TestGHGInventory(t *testing.T) {
	doc := build(t, newFake(), request(reports.GHGInventory))
	if doc.Subtitle != "Acme Corp · 2024-01-01 to 2024-12-31 · GWP IPCC AR5 GWP-100" {
		t.Errorf("Subtitle = %q", doc.Subtitle)
	}
	cats := table(t, doc, "categories")
	if len(cats.Rows) != 16 {
		t.Fatalf("categories has %d rows, want 15 and the total", len(cats.Rows))
	}
	wantCells(t, "category 1", row(t, cats, "1"), map[string]string{
		"Title": "Purchased goods and services", "Emissions": "12.345", "Share of total": "61.72",
		"Methods": "spend-based 80.00 %, supplier-company 20.00 %", "Data quality score": "3.12",
		"P5": "9.871", "P95": "16.012", "Status": "calculated",
	})
	wantCells(t, "category 6", row(t, cats, "6"), map[string]string{
		"Emissions": "3.336", "Share of total": "16.68", "Methods": "average-data 89.93 %, supplier-product 10.07 %",
	})
	wantCells(t, "category 2", row(t, cats, "2"), map[string]string{"Emissions": "", "Status": "excluded: No capital purchases in 2024"})
	wantCells(t, "category 3", row(t, cats, "3"), map[string]string{"Emissions": "", "Status": "no data"})
	wantCells(t, "total", row(t, cats, ""), map[string]string{
		"Title": "Total Scope 3", "Emissions": "20.002", "Share of total": "100.00", "P5": "16.500", "P95": "24.800",
		"Methods": "spend-based 49.38 %, average-data 36.60 %, supplier-company 12.34 %, supplier-product 1.68 %",
	})
	wantCells(t, "totals", row(t, table(t, doc, "totals"), "20.002"), map[string]string{"Lines": "1655", "Data quality score": "2.71"})

	months := table(t, doc, "months")
	if got := months.Rows; !slices.EqualFunc(got, [][]string{{"2024-01", "8.000", "600"}, {"2024-02", "7.000", "555"}, {"2024-03", "5.002", "500"}}, slices.Equal) {
		t.Errorf("months = %v", got)
	}
	wantCells(t, "spend-based", row(t, table(t, doc, "methods"), "spend-based"), map[string]string{"Emissions": "9.876", "Share of total": "49.38", "Lines": "1100"})
	mix := table(t, doc, "data_quality_mix")
	wantCells(t, "band 1", row(t, mix, "1.0 to 1.9"), map[string]string{"Emissions": "2.805", "Share of total": "14.02", "Lines": "105"})
	wantCells(t, "band 2", row(t, mix, "2.0 to 2.9"), map[string]string{"Emissions": "7.321", "Share of total": "36.60"})
	wantCells(t, "band 3", row(t, mix, "3.0 to 3.9"), map[string]string{"Emissions": "9.876", "Share of total": "49.38"})
	wantCells(t, "band 4", row(t, mix, "4.0 to 5.0"), map[string]string{"Emissions": "0.000", "Share of total": "0.00"})

	sets := table(t, doc, "factor_sets")
	if got := sets.Rows[0]; !slices.Equal(got, []string{epa, "US EPA Supply Chain GHG Emission Factors", "US EPA", "1.3.0", "2022", "US", "9.876", "49.38"}) {
		t.Errorf("factor_sets[0] = %q", got)
	}
	wantCells(t, "supplier-data", row(t, sets, supplier), map[string]string{"Emissions": "2.805", "Share of total": "14.02"})
	wantCells(t, "desnz", row(t, sets, desnz), map[string]string{"Version": "1.1", "Emissions": "7.321"})

	rec := table(t, doc, "recalculations")
	wantCells(t, "base-year recalculation", row(t, rec, "recalculations/2"), map[string]string{
		"Scope": "base year, lines of 2023", "State": "succeeded", "Before": "10.000", "After": "10.600", "Change": "6.00", "Lines changed": "850",
	})
	wantCells(t, "supplier recalculation", row(t, rec, "recalculations/1"), map[string]string{"Scope": "supplier S1", "Change": "-17.70"})

	txt := text(doc)
	for _, want := range []string{
		"The base year is 2023.",
		"20.002 t CO2e from 1,655 purchase and activity lines",
		`The latest base-year recalculation (recalculations/2, "EPA v1.3 replaces v1.2", succeeded) changed it from 10.000 to 10.600 t CO2e (6.00 %): significant.`,
		"between 16.500 and 24.800 t CO2e (5th to 95th percentile, median 20.100 t) by a Monte Carlo simulation of 10,000 iterations with seed 1",
		"The reporting period is 2024-01-01 to 2024-12-31. Its figures are those of the lines dated in it (months with data: 2024-01 to 2024-03)",
		"Excluded by the reporter: category 2 (Capital goods): No capital purchases in 2024.",
		"Categories with no data and no exclusion stated: 3, 5, 7, 8, 9, 10, 11, 12, 13, 14, 15.",
	} {
		if !strings.Contains(txt, want) {
			t.Errorf("text lacks %q", want)
		}
	}

	charts := map[string]document.Chart{}
	for _, s := range doc.Sections {
		for _, c := range s.Charts {
			charts[c.Title] = c
		}
	}
	byCat := charts["Emissions by Scope 3 category"]
	if !slices.Equal(byCat.Labels, []string{"C1", "C4", "C6"}) || !slices.Equal(byCat.Series[0].Values, []float64{12.345, 4.321, 3.336}) {
		t.Errorf("category chart = %v %v", byCat.Labels, byCat.Series)
	}
	mixChart := charts["Method mix by category"]
	if len(mixChart.Series) != 4 || mixChart.Series[0].Name != "spend-based" || !slices.Equal(mixChart.Series[0].Values, []float64{9.876, 0, 0}) {
		t.Errorf("method mix chart = %+v", mixChart.Series)
	}
	if c := charts["Emissions by month"]; !slices.Equal(c.Series[0].Values, []float64{8, 7, 5.002}) {
		t.Errorf("month chart = %v", c.Series)
	}
	if c := charts["Data quality mix"]; !slices.Equal(c.Labels, []string{"1.0 to 1.9", "2.0 to 2.9", "3.0 to 3.9", "4.0 to 5.0"}) {
		t.Errorf("data quality chart labels = %v", c.Labels)
	}
}

func TestCDP(t *testing.T) {
	doc := build(t, newFake(), request(reports.CDP))
	wantCells(t, "totals", row(t, table(t, doc, "totals"), "20.002"), map[string]string{"Lines": "1655"})
	tb := table(t, doc, "cdp_scope3")
	const supplierCol = "Emissions calculated using data obtained from suppliers or value chain partners"
	wantCells(t, "category 1", row(t, tb, "1"), map[string]string{
		"Evaluation status": "Relevant, calculated", "Emissions in reporting year": "12.345", supplierCol: "20.00",
		"Emissions calculation methodology": "Spend-based method: spend in base-year USD x environmentally extended input-output factors (80.00 % of emissions, 1,100 lines) with US EPA Supply Chain GHG Emission Factors v1.3.0; " +
			"Supplier-specific method: suppliers' company emission intensities x spend (20.00 % of emissions, 100 lines) with Supplier figures (the tenant's own). GWP: IPCC AR5 GWP-100.",
	})
	wantCells(t, "category 6", row(t, tb, "6"), map[string]string{"Evaluation status": "Relevant, calculated", supplierCol: "10.07"})
	wantCells(t, "category 4", row(t, tb, "4"), map[string]string{supplierCol: "0.00"})
	wantCells(t, "category 2", row(t, tb, "2"), map[string]string{
		"Evaluation status": "Not relevant, explanation provided", "Explanation": "No capital purchases in 2024", "Emissions in reporting year": "",
	})
	wantCells(t, "category 15", row(t, tb, "15"), map[string]string{"Evaluation status": "Not evaluated"})
	if txt := text(doc); !strings.Contains(txt, "Gross global Scope 3 emissions of Acme Corp: 20.002 t CO2e (IPCC AR5 GWP-100), 14.02 % of them calculated using data obtained from suppliers.") {
		t.Errorf("text = %s", txt)
	}
}

func TestESRS(t *testing.T) {
	doc := build(t, newFake(), request(reports.ESRSE16))
	wantCells(t, "E1-6", row(t, table(t, doc, "esrs_totals"), "20.002"), map[string]string{
		"Share from primary data": "14.02", "Significant categories": "1, 4, 6",
	})
	tb := table(t, doc, "esrs_categories")
	wantCells(t, "category 1", row(t, tb, "1"), map[string]string{"Emissions": "12.345", "Share of gross Scope 3": "61.72", "Significant": "yes", "Share from primary data": "20.00"})
	wantCells(t, "category 2", row(t, tb, "2"), map[string]string{"Significant": "no", "Status": "excluded: No capital purchases in 2024"})
	if !strings.Contains(text(doc), "at least 5 % of gross Scope 3 emissions") {
		t.Error("the significance threshold is not stated")
	}
}

func TestSB253(t *testing.T) {
	src := newFake()
	r := request(reports.SB253)
	r.Snapshot = "inventorySnapshots/7"
	doc := build(t, src, r)
	tb := table(t, doc, "sb253_categories")
	wantCells(t, "category 4", row(t, tb, "4"), map[string]string{"Emissions": "4.321", "Emissions (exact)": "4321.1234567", "Share of total": "21.60", "Lines": "300"})
	wantCells(t, "total", row(t, tb, ""), map[string]string{"Emissions": "20.002", "Emissions (exact)": "20002.0000000", "Lines": "1655"})
	// The categories' exact kg add up to the total to the last digit.
	sum := new(big.Rat)
	for _, r := range tb.Rows[:15] {
		if r[3] != "" {
			v, _ := new(big.Rat).SetString(r[3])
			sum.Add(sum, v)
		}
	}
	if got := sum.FloatString(7); got != "20002.0000000" {
		t.Errorf("categories add up to %s kg, want 20002.0000000", got)
	}
	wantCells(t, "inventory read", row(t, table(t, doc, "inventory_read"), "inventorySnapshots/7"), map[string]string{
		"GWP basis": "IPCC AR5 GWP-100", "Monte Carlo iterations": "10000", "Seed": "1", "Groups": "5", "Factors": "5",
	})
	wantCells(t, "data quality", row(t, table(t, doc, "data_quality"), "2.98"), map[string]string{"Score": "2.71", "Time": "1.00"})
	txt := text(doc)
	for _, want := range []string{
		`snapshot "FY2024 as reported" (inventorySnapshots/7), recorded 2025-03-31T12:00:00Z: recalculations since do not change them.`,
		"Monthly totals are read from the current calculation, not from the snapshot",
	} {
		if !strings.Contains(txt, want) {
			t.Errorf("text lacks %q", want)
		}
	}
	if !strings.HasSuffix(doc.Subtitle, `snapshot "FY2024 as reported" (inventorySnapshots/7)`) {
		t.Errorf("Subtitle = %q", doc.Subtitle)
	}
	if q := src.queries[len(src.queries)-1]; q.Snapshot != "inventorySnapshots/7" || !q.IncludeGroups {
		t.Errorf("inventory query = %+v", q)
	}
}

func TestHotspotPack(t *testing.T) {
	fake := newFake()
	doc := build(t, fake, request(reports.HotspotPack))
	if !slices.Equal(fake.methodsAsked, []string{"S1", "S2", "S3"}) || fake.methodsQuery != (reports.ParetoQuery{GWPBasis: "AR5", PeriodStart: "2024-01", PeriodEnd: "2024-12"}) {
		t.Errorf("methods asked of %v, %+v; want the listed suppliers of 2024 under AR5", fake.methodsAsked, fake.methodsQuery)
	}
	tb := table(t, doc, "suppliers")
	wantCells(t, "S1", row(t, tb, "1"), map[string]string{
		"Supplier": "Acme Steel", "Supplier id": "S1", "Emissions": "10.000", "Spend": "12500.00", "Intensity": "0.800000",
		"Share of total": "50.00", "Cumulative share": "50.00", "Hotspot set": "yes", "Methods": "spend-based 75.31 %, supplier-company 24.69 %",
		"Supplier data on file": "supplier-company 2024, verified (2024-01-01 to 2024-12-31)",
		"Engagement":            `data received (campaign "Q1 hotspots", 2026-02-10)`,
	})
	wantCells(t, "S2", row(t, tb, "2"), map[string]string{"Intensity": "0.200000", "Share of total": "30.00", "Cumulative share": "79.99",
		"Engagement":            `invited (campaign "Q1 hotspots", 2026-01-05)`,
		"Supplier data on file": "none", "Methods": "average-data 100.00 %"})
	wantCells(t, "S3", row(t, tb, "3"), map[string]string{"Supplier": "S3", "Intensity": "", "Share of total": "20.01", "Cumulative share": "100.00", "Hotspot set": "no",
		"Methods": "", "Engagement": `declined (campaign "Q1 hotspots", 2026-03-01)`})
	var pareto document.Chart
	for _, s := range doc.Sections {
		for _, c := range s.Charts {
			if c.Kind == document.Pareto {
				pareto = c
			}
		}
	}
	if !slices.Equal(pareto.Labels, []string{"Acme Steel", "Northwind Freight", "S3"}) || !slices.Equal(pareto.Series[1].Values, []float64{50, 79.99, 100}) {
		t.Errorf("pareto chart = %v %v", pareto.Labels, pareto.Series)
	}
	txt := text(doc)
	for _, want := range []string{"3 suppliers account for 20.002 t CO2e. The 2 largest reach 75.00 % of it", "Suppliers listed that an engagement campaign targets: 3 of 3, of which 1 sent their own figures since their campaign began and 1 declined;",
		"Suppliers are ranked under IPCC AR5 GWP-100, the report's basis, by the lines dated 2024-01 to 2024-12.",
		"Of the 3 suppliers listed, 1 have lines calculated from their own data"} {
		if !strings.Contains(txt, want) {
			t.Errorf("text lacks %q", want)
		}
	}
	src := newFake()
	src.pareto.Threshold = 0.8 // 80.00000000000001 in percent, as a float
	r := request(reports.HotspotPack)
	r.Snapshot = "inventorySnapshots/7"
	txt = text(build(t, src, r))
	for _, want := range []string{"reach 80.00 % of it", "The supplier Pareto is read from the current calculation"} {
		if !strings.Contains(txt, want) {
			t.Errorf("text lacks %q", want)
		}
	}
}

// The hotspot pack ranks suppliers under the report's basis, and is not
// built from a ranking under another.
func TestHotspotPackRanksUnderTheReportsBasis(t *testing.T) {
	src := newFake()
	src.inv.GWPBasis = "AR6" // the calculator's answer to a request under AR6
	r := request(reports.HotspotPack)
	r.GWPBasis = "AR6"
	doc := build(t, src, r)
	if !slices.Equal(src.paretoAsked, []reports.ParetoQuery{{GWPBasis: "AR6", PeriodStart: "2024-01", PeriodEnd: "2024-12"}}) ||
		!strings.Contains(text(doc), "Suppliers are ranked under IPCC AR6 GWP-100, the report's basis, by the lines dated 2024-01 to 2024-12.") ||
		!strings.Contains(doc.Subtitle, "GWP IPCC AR6 GWP-100") {
		t.Errorf("ranked %v; subtitle %q", src.paretoAsked, doc.Subtitle)
	}
	src.pareto.GWPBasis = "AR5" // a hotspot that ranks under its own
	if _, err := reports.Build(t.Context(), src, r); err == nil || !strings.Contains(err.Error(), `hotspot ranked suppliers under "AR5", the report is under "AR6"`) {
		t.Errorf("Build with a ranking under AR5: %v", err)
	}
}

// The hotspot pack of part of the data ranks the suppliers of its period's
// lines, and is not built from a ranking of every line.
func TestHotspotPackRanksThePeriodsLines(t *testing.T) {
	src := newFake()
	r := request(reports.HotspotPack)
	r.PeriodStart, r.PeriodEnd = day("2024-02-01"), day("2024-03-31")
	doc := build(t, src, r)
	if !slices.Equal(src.paretoAsked, []reports.ParetoQuery{{GWPBasis: "AR5", PeriodStart: "2024-02", PeriodEnd: "2024-03"}}) {
		t.Errorf("Pareto asked %v, want February and March 2024", src.paretoAsked)
	}
	if q := src.queries[len(src.queries)-1]; q.PeriodStart != "2024-02" || q.PeriodEnd != "2024-03" {
		t.Errorf("inventory query %+v, want February and March 2024", q)
	}
	txt := text(doc)
	for _, want := range []string{"by the lines dated 2024-02 to 2024-03.", "months with data: 2024-02 to 2024-03); the tenant's lines dated outside it (2024-01 to 2024-03 in all)"} {
		if !strings.Contains(txt, want) {
			t.Errorf("text lacks %q", want)
		}
	}
	src.paretoWhole = true
	if _, err := reports.Build(t.Context(), src, r); err == nil || !strings.Contains(err.Error(), "hotspot ranked {GWPBasis:AR5 PeriodStart: PeriodEnd: Snapshot: AsOfDate:}, the report asked {GWPBasis:AR5 PeriodStart:2024-02 PeriodEnd:2024-03 Snapshot: AsOfDate:}") {
		t.Errorf("Build with a ranking of every line: %v", err)
	}
	// From a snapshot without months the pack is of every line, and so is
	// its ranking.
	src.paretoWhole = false
	r = request(reports.HotspotPack)
	r.Snapshot = "inventorySnapshots/7"
	build(t, src, r)
	if got := src.paretoAsked[len(src.paretoAsked)-1]; got.PeriodStart != "" || got.PeriodEnd != "" {
		t.Errorf("Pareto asked %+v under a snapshot without months, want every line", got)
	}
}

// The hotspot pack of a snapshot that recorded its suppliers ranks them and
// reads their methods as it recorded them, and says so; of one recorded
// before, today's, saying that instead. A ranking of now is refused.
func TestHotspotPackOfASnapshotRanksItsSuppliers(t *testing.T) {
	src := newFake()
	r := request(reports.HotspotPack)
	r.Snapshot = "inventorySnapshots/11"
	txt := text(build(t, src, r))
	wantAsked(t, src, reports.ParetoQuery{GWPBasis: "AR5", PeriodStart: "2024-01", PeriodEnd: "2024-12", Snapshot: "inventorySnapshots/11"})
	if s := `Suppliers and their methods are as the snapshot "FY2024 audited" recorded them on 2026-12-07; their names are today's.`; !strings.Contains(txt, s) {
		t.Errorf("text lacks %q", s)
	}
	if strings.Contains(txt, "read from the current calculation") {
		t.Error("the pack of a snapshot with suppliers says they are today's")
	}

	r.Snapshot = "inventorySnapshots/9"
	txt = text(build(t, src, r))
	if got := src.paretoAsked[len(src.paretoAsked)-1]; got.Snapshot != "" || got.PeriodStart != "2024-01" {
		t.Errorf("Pareto asked %+v under a snapshot without suppliers, want today's 2024", got)
	}
	if s := "this snapshot was recorded before snapshots kept their suppliers"; !strings.Contains(txt, s) {
		t.Errorf("text lacks %q", s)
	}

	src.paretoWhole = true
	r.Snapshot = "inventorySnapshots/11"
	if _, err := reports.Build(t.Context(), src, r); err == nil || !strings.Contains(err.Error(), "Snapshot: AsOfDate:}, the report asked {GWPBasis:AR5 PeriodStart:2024-01 PeriodEnd:2024-12 Snapshot:inventorySnapshots/11 AsOfDate:}") {
		t.Errorf("Build with a ranking of now: %v", err)
	}
}

// wantAsked checks the last Pareto and the methods src was asked for were
// of want.
func wantAsked(t *testing.T, src *fakeSources, want reports.ParetoQuery) {
	t.Helper()
	if got := src.paretoAsked[len(src.paretoAsked)-1]; got != want {
		t.Errorf("Pareto asked %+v, want %+v", got, want)
	}
	if src.methodsQuery != want {
		t.Errorf("methods asked %+v, want %+v", src.methodsQuery, want)
	}
}

// The hotspot pack as of a day ranks suppliers and reads their methods as
// calculated at its end, and says so. A ranking of now is refused.
func TestHotspotPackAsOfADay(t *testing.T) {
	src := newFake()
	src.dayMonths = src.months
	r := request(reports.HotspotPack)
	r.AsOf = day("2026-01-31")
	txt := text(build(t, src, r))
	wantAsked(t, src, reports.ParetoQuery{GWPBasis: "AR5", PeriodStart: "2024-01", PeriodEnd: "2024-12", AsOfDate: "2026-01-31"})
	if s := "Suppliers and their methods are as calculated at the end of 2026-01-31 (UTC); their names, supplier data on file and engagement are today's."; !strings.Contains(txt, s) {
		t.Errorf("text lacks %q", s)
	}
	src.paretoWhole = true
	if _, err := reports.Build(t.Context(), src, r); err == nil || !strings.Contains(err.Error(), "AsOfDate:}, the report asked {GWPBasis:AR5 PeriodStart:2024-01 PeriodEnd:2024-12 Snapshot: AsOfDate:2026-01-31}") {
		t.Errorf("Build with a ranking of now: %v", err)
	}
}

// TestMissingParts: what the sources lack is said, not made up.
func TestMissingParts(t *testing.T) {
	src := newFake()
	src.inv.Uncertainty = reports.Uncertainty{}
	src.settings.BaseYear = 0
	src.recalcs = nil
	src.engaged = nil
	for _, kind := range reports.Kinds {
		doc := build(t, src, request(kind))
		txt := text(doc)
		want := []string{"No uncertainty range is available", "No base year is set", "No recalculation has been made"}
		if kind == reports.HotspotPack {
			want = []string{"No engagement campaign has targeted any supplier"}
			if got := row(t, table(t, doc, "suppliers"), "1")["Engagement"]; got != "not engaged" {
				t.Errorf("S1's engagement = %q, want not engaged", got)
			}
		}
		for _, w := range want {
			if !strings.Contains(txt, w) {
				t.Errorf("%s lacks %q", kind, w)
			}
		}
	}
	doc := build(t, src, request(reports.GHGInventory))
	wantCells(t, "totals", row(t, table(t, doc, "totals"), "20.002"), map[string]string{"Uncertainty P5": "", "Uncertainty P95": ""})
}

func TestCheck(t *testing.T) {
	with := func(change func(*reports.Request)) reports.Request {
		r := request(reports.GHGInventory)
		change(&r)
		return r
	}
	for _, c := range []struct {
		name   string
		r      reports.Request
		src    func(*fakeSources)
		fields []string
		msg    string
	}{
		{name: "valid", r: request(reports.CDP)},
		{name: "valid snapshot", r: with(func(r *reports.Request) { r.Snapshot = "inventorySnapshots/7" })},
		{name: "unknown kind", r: with(func(r *reports.Request) { r.Kind = "GRI_305" }), fields: []string{"report.kind"}},
		{name: "no start", r: with(func(r *reports.Request) { r.PeriodStart = time.Time{} }), fields: []string{"report.period_start"}},
		{name: "part of a day", r: with(func(r *reports.Request) { r.PeriodEnd = r.PeriodEnd.Add(time.Hour) }), fields: []string{"report.period_end"}},
		{name: "end before start", r: with(func(r *reports.Request) { r.PeriodEnd = day("2023-12-31") }), fields: []string{"report.period_end"}},
		{name: "bad snapshot name", r: with(func(r *reports.Request) { r.Snapshot = "snapshots/7" }), fields: []string{"report.snapshot"}},
		{name: "unknown snapshot", r: with(func(r *reports.Request) { r.Snapshot = "inventorySnapshots/8" }), fields: []string{"report.snapshot"}},
		{name: "bad basis", r: with(func(r *reports.Request) { r.GWPBasis = "AR3" }), fields: []string{"report.gwp_basis"}},
		{name: "as of a day and a snapshot", r: with(func(r *reports.Request) { r.AsOf, r.Snapshot = day("2026-01-31"), "inventorySnapshots/7" }),
			fields: []string{"report.as_of_date"}, msg: "give a snapshot or a day, not both"},
		{name: "as of part of a day", r: with(func(r *reports.Request) { r.AsOf = day("2026-01-31").Add(time.Hour) }),
			fields: []string{"report.as_of_date"}, msg: "must be a whole day"},
		// As of a day the months are that day's: 2024 had only January.
		{name: "as of a day: a month then without data", r: with(func(r *reports.Request) {
			r.AsOf, r.PeriodStart, r.PeriodEnd = day("2026-01-31"), day("2024-02-01"), day("2024-02-29")
		}), src: func(f *fakeSources) { f.dayMonths = []reports.Total{{Key: "2024-01", Kg: "7500.0000000", Count: 590}} },
			fields: []string{"report.period_start"}, msg: "has no data"},
		{name: "category 16", r: with(func(r *reports.Request) {
			r.Exclusions = append(r.Exclusions, reports.Exclusion{Category: 16, Reason: "x"})
		}), fields: []string{"report.exclusions[1].category"}},
		{name: "excluded twice", r: with(func(r *reports.Request) {
			r.Exclusions = append(r.Exclusions, reports.Exclusion{Category: 2, Reason: "again"})
		}), fields: []string{"report.exclusions[1].category"}},
		{name: "no reason", r: with(func(r *reports.Request) { r.Exclusions[0].Reason = " " }), fields: []string{"report.exclusions[0].reason"}},
		{name: "excluding emissions", r: with(func(r *reports.Request) {
			r.Exclusions = append(r.Exclusions, reports.Exclusion{Category: 4, Reason: "immaterial"})
		}), fields: []string{"report.exclusions[1].category"}, msg: "category 4 has 4.321 t CO2e calculated"},
		{name: "a month of the data", r: with(func(r *reports.Request) { r.PeriodStart, r.PeriodEnd = day("2024-02-01"), day("2024-02-29") })},
		{name: "a fiscal year", r: with(func(r *reports.Request) { r.PeriodStart, r.PeriodEnd = day("2023-04-01"), day("2024-03-31") })},
		{name: "not from a month's first day", r: with(func(r *reports.Request) { r.PeriodStart = day("2024-01-02") }),
			fields: []string{"report.period_start"}, msg: "must be the first day of a month (2024-01-02)"},
		{name: "not to a month's last day", r: with(func(r *reports.Request) { r.PeriodEnd = day("2024-03-30") }),
			fields: []string{"report.period_end"}, msg: "must be the last day of a month (2024-03-30)"},
		{name: "a year without data", r: with(func(r *reports.Request) { r.PeriodStart, r.PeriodEnd = day("2025-01-01"), day("2025-12-31") }),
			fields: []string{"report.period_start"}, msg: "the period 2025-01-01 to 2025-12-31 has no data"},
		{name: "a month of a snapshot with months", r: with(func(r *reports.Request) {
			r.Snapshot, r.PeriodStart, r.PeriodEnd = "inventorySnapshots/9", day("2024-02-01"), day("2024-02-29")
		})},
		{name: "snapshot with months: not whole months", r: with(func(r *reports.Request) { r.Snapshot, r.PeriodEnd = "inventorySnapshots/9", day("2024-02-28") }),
			fields: []string{"report.period_end"}, msg: "must be the last day of a month (2024-02-28)"},
		{name: "snapshot without months: months before and after", r: with(func(r *reports.Request) {
			r.Snapshot, r.PeriodStart, r.PeriodEnd = "inventorySnapshots/7", day("2024-02-01"), day("2024-02-28")
		}), fields: []string{"report.period_start", "report.period_end"}, msg: "outside it: 2024-01; report.period_end"},
		{name: "hotspot pack: a month", r: func() reports.Request {
			r := request(reports.HotspotPack)
			r.PeriodStart, r.PeriodEnd = day("2024-03-01"), day("2024-03-31")
			return r
		}()},
		{name: "hotspot pack: month partly covered", r: func() reports.Request {
			r := request(reports.HotspotPack)
			r.PeriodEnd = day("2024-03-30")
			return r
		}(), fields: []string{"report.period_end"}, msg: "must be the last day of a month (2024-03-30)"},
		{name: "no data", src: func(f *fakeSources) { f.months, f.inv = nil, reports.Inventory{GWPBasis: "AR5", TotalKg: "0"} },
			r: request(reports.SB253), fields: []string{"report.period_start"}, msg: "has no data"},
	} {
		t.Run(c.name, func(t *testing.T) {
			src := newFake()
			if c.src != nil {
				c.src(src)
			}
			err := reports.Check(t.Context(), src, c.r)
			if c.fields == nil {
				if err != nil {
					t.Fatalf("Check: %v", err)
				}
				return
			}
			var ae *apperr.Error
			if !errors.As(err, &ae) || ae.Kind != apperr.InvalidArgument {
				t.Fatalf("Check = %v, want InvalidArgument", err)
			}
			var fields []string
			for _, v := range ae.Violations {
				fields = append(fields, v.Field)
			}
			if !slices.Equal(fields, c.fields) || !strings.Contains(ae.Msg, c.msg) {
				t.Errorf("Check = %v (fields %v), want fields %v and %q", err, fields, c.fields, c.msg)
			}
			// Build refuses the same request the same way.
			if _, err := reports.Build(t.Context(), src, c.r); apperr.KindOf(err) != apperr.InvalidArgument {
				t.Errorf("Build = %v, want InvalidArgument", err)
			}
		})
	}
}

// Check reads the inventory, every group of it, only for exclusions and for
// a tenant without dated data; a plain request reads the month totals.
func TestCheckReadsTheInventoryOnlyWhenItMust(t *testing.T) {
	plain := request(reports.CDP)
	plain.Exclusions = nil
	for _, c := range []struct {
		name      string
		r         reports.Request
		undated   bool
		wantReads int
	}{
		{name: "no exclusions", r: plain, wantReads: 0},
		{name: "exclusions", r: request(reports.CDP), wantReads: 1},
		// The lines the inventory holds let the request through.
		{name: "no dated data", r: plain, undated: true, wantReads: 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			src := newFake()
			if c.undated {
				src.months = []reports.Total{{Key: "2024-01", Kg: "0"}}
			}
			if err := reports.Check(t.Context(), src, c.r); err != nil {
				t.Fatalf("Check: %v", err)
			}
			if len(src.queries) != c.wantReads {
				t.Errorf("Check read the inventory %d times (%+v), want %d", len(src.queries), src.queries, c.wantReads)
			}
			for _, q := range src.queries {
				if q.IncludeGroups || q.Iterations != 100 {
					t.Errorf("Check's inventory query %+v, want no groups and 100 iterations", q)
				}
			}
		})
	}
}

// A peer's figure that is not an exact decimal fails the report rather
// than counting as zero.
func TestBuildRefusesMalformedFigures(t *testing.T) {
	src := newFake()
	src.inv.Categories[1].Kg = "4.3e3"
	_, err := reports.Build(t.Context(), src, request(reports.GHGInventory))
	if err == nil || apperr.KindOf(err) != apperr.Internal || !strings.Contains(err.Error(), `"4.3e3" is not a decimal`) {
		t.Errorf("Build = %v, want an internal error naming 4.3e3", err)
	}
}

// A report as of a day reads the inventory, its months and every month as
// calculated at the end of it, and lists the recalculations asked for by
// then; the fixture's second recalculation came the next day.
func TestAReportAsOfADayReadsThatDay(t *testing.T) {
	src := newFake()
	src.dayMonths = []reports.Total{{Key: "2023-12", Kg: "100.0000000", Count: 4},
		{Key: "2024-01", Kg: "7500.0000000", Count: 590}, {Key: "2024-02", Kg: "6900.0000000", Count: 550}}
	r := request(reports.GHGInventory)
	r.AsOf = day("2026-01-31")
	if err := reports.Check(t.Context(), src, r); err != nil {
		t.Fatalf("Check: %v", err)
	}
	doc := build(t, src, r)
	if q := src.queries[len(src.queries)-1]; q.AsOfDate != "2026-01-31" || q.PeriodStart != "2024-01" || q.PeriodEnd != "2024-12" ||
		!q.IncludeMonths || !q.IncludeGroups {
		t.Errorf("inventory query %+v, want 2024 as of 2026-01-31 with its months and groups", q)
	}
	if !slices.Equal(src.monthDays, []string{"2026-01-31", "2026-01-31"}) {
		t.Errorf("MonthTotals asked as of %q, want the day by Check and by Build", src.monthDays)
	}
	months := table(t, doc, "months")
	if len(months.Rows) != 2 || months.Rows[0][1] != "7.500" || months.Rows[1][0] != "2024-02" || months.Rows[1][2] != "550" {
		t.Errorf("months %v, want the day's January and February", months.Rows)
	}
	if rs := table(t, doc, "recalculations").Rows; len(rs) != 1 || rs[0][0] != "recalculations/1" {
		t.Errorf("recalculations %v, want the one asked for by 2026-01-31", rs)
	}
	for _, want := range []string{
		"The figures are the inventory as calculated at the end of 2026-01-31 (UTC).",
		"Recalculations asked for after 2026-01-31 are left out.",
		"The base year has not been recalculated.",
		"(months with data: 2024-01 to 2024-02); the tenant's lines dated outside it (2023-12 to 2024-02 in all)",
	} {
		if !strings.Contains(text(doc), want) {
			t.Errorf("text lacks %q", want)
		}
	}
	if !strings.Contains(doc.Subtitle, "as of 2026-01-31") {
		t.Errorf("subtitle %q does not say the day", doc.Subtitle)
	}
}

// A report of part of the data reads the inventory of its months and
// shows only them, now or from a snapshot with months; a snapshot without
// months reads every month.
func TestAReportOfAMonthReadsThatMonth(t *testing.T) {
	src := newFake()
	r := request(reports.GHGInventory)
	r.PeriodStart, r.PeriodEnd = day("2024-02-01"), day("2024-02-29")
	doc := build(t, src, r)
	if q := src.queries[len(src.queries)-1]; q.PeriodStart != "2024-02" || q.PeriodEnd != "2024-02" || !q.IncludeGroups {
		t.Errorf("inventory query %+v, want February 2024 with its groups", q)
	}
	months := table(t, doc, "months")
	if len(months.Rows) != 1 || months.Rows[0][0] != "2024-02" || months.Rows[0][1] != "7.000" {
		t.Errorf("months %v, want February's alone", months.Rows)
	}
	if want := "The reporting period is 2024-02-01 to 2024-02-29. Its figures are those of the lines dated in it (months with data: 2024-02); the tenant's lines dated outside it (2024-01 to 2024-03 in all) are not in them."; !strings.Contains(text(doc), want) {
		t.Errorf("text lacks %q", want)
	}
	// A snapshot that recorded its months reads the period, and the
	// months table, from them.
	src.snapMonths = []reports.Total{{Key: "2024-01", Kg: "7900.0000000", Count: 600}, {Key: "2024-02", Kg: "6500.0000000", Count: 550}}
	r.Snapshot = "inventorySnapshots/9"
	doc = build(t, src, r)
	if q := src.queries[len(src.queries)-1]; q.PeriodStart != "2024-02" || q.PeriodEnd != "2024-02" || q.Snapshot != "inventorySnapshots/9" || !q.IncludeMonths {
		t.Errorf("inventory query %+v, want February 2024 of inventorySnapshots/9 with its months", q)
	}
	if months := table(t, doc, "months"); len(months.Rows) != 1 || months.Rows[0][1] != "6.500" || months.Rows[0][2] != "550" {
		t.Errorf("months of the snapshot %v, want its February alone", months.Rows)
	}
	if strings.Contains(text(doc), "Monthly totals are read from the current calculation") {
		t.Error("a snapshot with months says its months are today's")
	}
	for _, whole := range []reports.Request{
		func() reports.Request { r := request(reports.CDP); r.Snapshot = "inventorySnapshots/7"; return r }(),
		func() reports.Request {
			r := request(reports.HotspotPack)
			r.Snapshot = "inventorySnapshots/7"
			return r
		}(),
	} {
		doc := build(t, src, whole)
		if q := src.queries[len(src.queries)-1]; q.PeriodStart != "" || q.PeriodEnd != "" {
			t.Errorf("%s %s: inventory query %+v, want every month", whole.Kind, whole.Snapshot, q)
		}
		if want := "so this report is only made for a period that covers every month with data (2024-01 to 2024-03)"; !strings.Contains(text(doc), want) {
			t.Errorf("%s %s: text lacks %q", whole.Kind, whole.Snapshot, want)
		}
	}
}

package render

import (
	"cmp"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"time"

	"github.com/vcci-dev/vcci/services/reporting/internal/document"
)

// categoryNames are the GHG Protocol's 15 Scope 3 categories.
var categoryNames = [15]string{
	"Purchased goods and services", "Capital goods", "Fuel- and energy-related activities",
	"Upstream transportation and distribution", "Waste generated in operations", "Business travel",
	"Employee commuting", "Upstream leased assets", "Downstream transportation and distribution",
	"Processing of sold products", "Use of sold products", "End-of-life treatment of sold products",
	"Downstream leased assets", "Franchises", "Investments",
}

var methods = []string{"Supplier-specific", "Hybrid", "Average-data", "Spend-based"}

var qualityScores = []string{"Verified primary data", "Unverified primary data", "Physical activity with average factors", "Spend with sector factors", "Estimates and proxies"}

// Labels the sample's tables and charts repeat.
const (
	labelCategory       = "Category"
	labelEmissions      = "Emissions"
	labelEmissionsAxis  = "Emissions (t CO2e)"
	labelMethod         = "Method"
	labelMonth          = "Month"
	labelPurchasedGoods = "Purchased goods"
	labelShare          = "Share"
	labelSuppliers      = "Suppliers"
	labelTotal          = "Total"
	unitTonnes          = "t CO2e"
)

// sampleSupplier is one invented supplier; emissions in kg CO2e (integers,
// so sums are exact), spend in cents.
type sampleSupplier struct {
	name, country string
	category      int
	method, score int
	kg, cents     int64
}

// Sample is a GHG inventory of an invented manufacturer with nSuppliers
// suppliers: every table and chart kind a real report has, with figures
// that add up (categories, months, methods and scores each sum to the
// total). The same n gives the same document. It feeds the renderers'
// tests, benchmarks and sample output.
func Sample(nSuppliers int) document.Document {
	var seed uint64
	if nSuppliers > 0 {
		seed = uint64(nSuppliers)
	}
	// Seeded so that the same n gives the same document; not for secrets.
	rng := rand.New(rand.NewPCG(20, seed)) //nolint:gosec // G404: reproducible sample data needs a seeded generator
	countries := []string{"DE", "CN", "US", "PL", "IT", "IN", "VN", "MX", "FR", "TR"}
	sups := sampleSuppliers(rng, nSuppliers, countries)

	var catKg [15]int64
	for _, s := range sups {
		catKg[s.category] += s.kg
	}
	// Categories no supplier reports: estimated by the company.
	for _, c := range []int{5, 6, 10, 11} {
		catKg[c] += int64(8e5 + rng.IntN(2e6))
	}
	var total int64
	for _, kg := range catKg {
		total += kg
	}
	supTotal := int64(0)
	for _, s := range sups {
		supTotal += s.kg
	}

	return document.Document{
		Kind:        "ghg_inventory",
		Title:       "Scope 3 greenhouse gas inventory 2025",
		Subtitle:    "Acme Manufacturing GmbH · 1 January - 31 December 2025 · GHG Protocol Scope 3 Standard",
		GeneratedAt: time.Date(2026, 2, 14, 9, 30, 0, 0, time.UTC),
		Sections: []document.Section{
			{Title: "Summary", Paragraphs: []string{
				fmt.Sprintf("Scope 3 emissions in 2025 were %s t CO2e across %d suppliers and 10 applicable categories.", document.Thousands(tonnes(total)), nSuppliers),
				"Purchased goods and services remain the largest category. Figures are rounded for display; the spreadsheet and CSV exports hold the exact values.",
			}},
			sampleCategories(sups, catKg, total),
			sampleMonths(catKg),
			sampleSupplierTable(sups, supTotal, countries),
			sampleMethodMix(sups, supTotal),
			sampleDataQuality(sups, supTotal),
			{Title: "Methodology", Paragraphs: []string{
				"Emissions are calculated per the GHG Protocol Corporate Value Chain (Scope 3) Standard. Emission factors are those in force on 1 January 2025; spend is converted at annual average exchange rates.",
				"Percentages may not add to 100 because of rounding.",
			}},
		},
	}
}

// sampleSuppliers invents n suppliers, largest emitter first.
func sampleSuppliers(rng *rand.Rand, n int, countries []string) []sampleSupplier {
	sups := make([]sampleSupplier, n)
	for i := range sups {
		cat := []int{0, 0, 0, 0, 1, 3, 3, 8, 4, 2}[rng.IntN(10)]
		kg := int64(4e6/math.Pow(float64(i+1), 0.85)*(0.5+rng.Float64())) + int64(rng.IntN(1000))
		sups[i] = sampleSupplier{
			name:     fmt.Sprintf("%s %s %s", []string{"Nordic", "Pacific", "Rhein", "Atlas", "Summit", "Delta", "Orion", "Vista"}[i%8], []string{"Steel", "Polymers", "Logistics", "Components", "Packaging", "Electronics", "Chemicals"}[i%7], []string{"GmbH", "Ltd", "Inc.", "S.A.", "Co."}[i%5]) + fmt.Sprintf(" %04d", i+1),
			country:  countries[rng.IntN(len(countries))],
			category: cat,
			method:   min(rng.IntN(5), 3),
			score:    1 + rng.IntN(5),
			kg:       kg,
			cents:    kg * int64(20+rng.IntN(80)),
		}
	}
	slices.SortStableFunc(sups, func(a, b sampleSupplier) int { return cmp.Compare(b.kg, a.kg) })
	return sups
}

func sampleCategories(sups []sampleSupplier, catKg [15]int64, total int64) document.Section {
	cats := document.Table{Name: "categories", Title: "Scope 3 emissions by category", Columns: []document.Column{
		{Title: labelCategory, Kind: document.Text},
		{Title: labelEmissions, Unit: unitTonnes, Kind: document.Decimal, Decimals: 3},
		{Title: labelShare, Unit: "%", Kind: document.Percent, Decimals: 2},
		{Title: labelSuppliers, Kind: document.Integer},
	}, Notes: []string{"Categories 8, 10 and 13-15 do not apply to this company's activities."}}
	catChart := document.Chart{Kind: document.Pareto, Title: "Emissions by category", XLabel: labelCategory, YLabel: labelEmissionsAxis,
		Series: []document.Series{{Name: labelEmissions}}}
	for i, name := range categoryNames {
		n := 0
		for _, s := range sups {
			if s.category == i {
				n++
			}
		}
		label := fmt.Sprintf("%d %s", i+1, name)
		cats.Rows = append(cats.Rows, []string{label, tonnes(catKg[i]), share(catKg[i], total), strconv.Itoa(n)})
		catChart.Labels = append(catChart.Labels, label)
		catChart.Series[0].Values = append(catChart.Series[0].Values, float64(catKg[i])/1000)
	}
	cats.Rows = append(cats.Rows, []string{labelTotal, tonnes(total), "100.00", strconv.Itoa(len(sups))})
	return document.Section{Title: "Emissions by category", Paragraphs: []string{"Each category's emissions and its share of the Scope 3 total."},
		Tables: []document.Table{cats}, Charts: []document.Chart{catChart}}
}

// sampleMonths is the months section. It spreads each category's total by a seasonal weight, the
// remainder in December so months add up to the year exactly; the groups
// by month are sums of those.
func sampleMonths(catKg [15]int64) document.Section {
	months := document.Table{Name: "months", Title: "Emissions by month", Columns: []document.Column{
		{Title: labelMonth, Kind: document.Text},
		{Title: labelPurchasedGoods, Unit: unitTonnes, Kind: document.Decimal, Decimals: 3},
		{Title: "Transport", Unit: unitTonnes, Kind: document.Decimal, Decimals: 3},
		{Title: "Other categories", Unit: unitTonnes, Kind: document.Decimal, Decimals: 3},
		{Title: labelTotal, Unit: unitTonnes, Kind: document.Decimal, Decimals: 3},
	}}
	var weights [12]float64
	var wsum float64
	for m := range weights {
		weights[m] = 1 + 0.25*math.Sin(float64(m)/12*2*math.Pi)
		wsum += weights[m]
	}
	monthNames := make([]string, 12)
	for m := range monthNames {
		monthNames[m] = time.Date(2025, time.Month(m+1), 1, 0, 0, 0, 0, time.UTC).Format("Jan 2006")
	}
	// A row per category, a column per month: the widest table a report
	// has, which the PDF must fit across the page.
	wide := document.Table{Name: "category_months", Title: "Emissions by category and month (t CO2e)",
		Columns: []document.Column{{Title: labelCategory, Kind: document.Text}}}
	for _, name := range monthNames {
		wide.Columns = append(wide.Columns, document.Column{Title: name[:3], Kind: document.Decimal, Decimals: 3})
	}
	wide.Columns = append(wide.Columns, document.Column{Title: "Year", Kind: document.Decimal, Decimals: 3})
	var catMonth [15][12]int64
	for c, kg := range catKg {
		var spent int64
		row := make([]string, 0, 1+12+1) // category, months, year
		row = append(row, strconv.Itoa(c+1))
		for m := range 12 {
			v := int64(float64(kg) * weights[m] / wsum)
			if m == 11 {
				v = kg - spent
			}
			spent += v
			catMonth[c][m] = v
			row = append(row, tonnes(v))
		}
		wide.Rows = append(wide.Rows, append(row, tonnes(kg)))
	}

	line := document.Chart{Kind: document.Line, Title: "Monthly emissions", XLabel: labelMonth, YLabel: labelEmissionsAxis,
		Series: []document.Series{{Name: labelTotal}, {Name: labelPurchasedGoods}}}
	stack := document.Chart{Kind: document.StackedBar, Title: "Monthly emissions by group", XLabel: labelMonth, YLabel: labelEmissionsAxis,
		Series: []document.Series{{Name: labelPurchasedGoods}, {Name: "Transport"}, {Name: "Other categories"}}}
	for m, label := range monthNames {
		var group [3]int64
		for c := range catMonth {
			switch c {
			case 0:
				group[0] += catMonth[c][m]
			case 3, 8:
				group[1] += catMonth[c][m]
			default:
				group[2] += catMonth[c][m]
			}
		}
		sum := group[0] + group[1] + group[2]
		months.Rows = append(months.Rows, []string{label, tonnes(group[0]), tonnes(group[1]), tonnes(group[2]), tonnes(sum)})
		for g, v := range group {
			stack.Series[g].Values = append(stack.Series[g].Values, float64(v)/1000)
		}
		line.Labels, stack.Labels = append(line.Labels, label), append(stack.Labels, label)
		line.Series[0].Values = append(line.Series[0].Values, float64(sum)/1000)
		line.Series[1].Values = append(line.Series[1].Values, float64(group[0])/1000)
	}
	return document.Section{Title: "Emissions by month", Paragraphs: []string{"Activity is allocated to the month it occurred in; transport covers categories 4 and 9."},
		Tables: []document.Table{months, wide}, Charts: []document.Chart{line, stack}}
}

func sampleSupplierTable(sups []sampleSupplier, supTotal int64, countries []string) document.Section {
	supTable := document.Table{Name: "suppliers", Title: "Emissions by supplier", Columns: []document.Column{
		{Title: "Supplier", Kind: document.Text},
		{Title: "Country", Kind: document.Text},
		{Title: labelCategory, Kind: document.Integer},
		{Title: "Spend", Unit: "EUR", Kind: document.Decimal, Decimals: 2},
		{Title: labelEmissions, Unit: unitTonnes, Kind: document.Decimal, Decimals: 3},
		{Title: "Share of suppliers", Unit: "%", Kind: document.Percent, Decimals: 2},
		{Title: labelMethod, Kind: document.Text},
		{Title: "Data quality", Unit: "1-5", Kind: document.Integer},
	}}
	supChart := document.Chart{Kind: document.Pareto, Title: "Suppliers by emissions", XLabel: "Supplier", YLabel: labelEmissionsAxis,
		Series: []document.Series{{Name: labelEmissions}}}
	countryBar := document.Chart{Kind: document.Bar, Title: "Supplier emissions by country and method", XLabel: "Supplier country", YLabel: labelEmissionsAxis,
		Labels: countries, Series: make([]document.Series, len(methods))}
	for i, m := range methods {
		countryBar.Series[i] = document.Series{Name: m, Values: make([]float64, len(countries))}
	}
	for _, s := range sups {
		supTable.Rows = append(supTable.Rows, []string{s.name, s.country, strconv.Itoa(s.category + 1),
			fmt.Sprintf("%d.%02d", s.cents/100, s.cents%100), tonnes(s.kg), share(s.kg, supTotal), methods[s.method], strconv.Itoa(s.score)})
		supChart.Labels = append(supChart.Labels, s.name)
		supChart.Series[0].Values = append(supChart.Series[0].Values, float64(s.kg)/1000)
		countryBar.Series[s.method].Values[slices.Index(countries, s.country)] += float64(s.kg) / 1000
	}
	return document.Section{Title: labelSuppliers, Paragraphs: []string{"Suppliers in descending order of emissions. Shares are of the emissions suppliers account for."},
		Tables: []document.Table{supTable}, Charts: []document.Chart{supChart, countryBar}}
}

func sampleMethodMix(sups []sampleSupplier, supTotal int64) document.Section {
	var methodKg [4]int64
	var methodN [4]int
	for _, s := range sups {
		methodKg[s.method] += s.kg
		methodN[s.method]++
	}
	mix := document.Table{Name: "method_mix", Title: "Calculation method mix (supplier emissions)", Columns: []document.Column{
		{Title: labelMethod, Kind: document.Text},
		{Title: labelSuppliers, Kind: document.Integer},
		{Title: labelEmissions, Unit: unitTonnes, Kind: document.Decimal, Decimals: 3},
		{Title: labelShare, Unit: "%", Kind: document.Percent, Decimals: 2},
	}}
	mixChart := document.Chart{Kind: document.Bar, Title: "Emissions by calculation method", XLabel: labelMethod, YLabel: labelEmissionsAxis,
		Series: []document.Series{{Name: labelEmissions}}}
	for i, m := range methods {
		mix.Rows = append(mix.Rows, []string{m, strconv.Itoa(methodN[i]), tonnes(methodKg[i]), share(methodKg[i], supTotal)})
		mixChart.Labels = append(mixChart.Labels, m)
		mixChart.Series[0].Values = append(mixChart.Series[0].Values, float64(methodKg[i])/1000)
	}
	return document.Section{Title: "Calculation methods", Paragraphs: []string{"Supplier-specific data replaces spend-based estimates as suppliers report."},
		Tables: []document.Table{mix}, Charts: []document.Chart{mixChart}}
}

func sampleDataQuality(sups []sampleSupplier, supTotal int64) document.Section {
	var scoreKg [5]int64
	for _, s := range sups {
		scoreKg[s.score-1] += s.kg
	}
	quality := document.Table{Name: "data_quality", Title: "Data quality (GHG Protocol score, 1 best)", Columns: []document.Column{
		{Title: "Score", Kind: document.Integer},
		{Title: "Data", Kind: document.Text},
		{Title: labelEmissions, Unit: unitTonnes, Kind: document.Decimal, Decimals: 3},
		{Title: labelShare, Unit: "%", Kind: document.Percent, Decimals: 2},
	}}
	qualityChart := document.Chart{Kind: document.StackedBar, Title: "Supplier emissions by data quality score and method", XLabel: "Data quality score", YLabel: labelEmissionsAxis,
		Series: make([]document.Series, len(methods))}
	for m, name := range methods {
		qualityChart.Series[m] = document.Series{Name: name, Values: make([]float64, len(qualityScores))}
	}
	for _, s := range sups {
		qualityChart.Series[s.method].Values[s.score-1] += float64(s.kg) / 1000
	}
	for i, q := range qualityScores {
		quality.Rows = append(quality.Rows, []string{strconv.Itoa(i + 1), q, tonnes(scoreKg[i]), share(scoreKg[i], supTotal)})
		qualityChart.Labels = append(qualityChart.Labels, fmt.Sprintf("%d %s", i+1, q))
	}
	return document.Section{Title: "Data quality", Tables: []document.Table{quality}, Charts: []document.Chart{qualityChart}}
}

// tonnes is kg as exact tonnes with three decimals.
func tonnes(kg int64) string {
	return fmt.Sprintf("%d.%03d", kg/1000, kg%1000)
}

// share is part/whole as a percent with two decimals, rounded half up.
func share(part, whole int64) string {
	if whole == 0 {
		return "0.00"
	}
	bp := (part*20000/whole + 1) / 2 // basis points, rounded
	return fmt.Sprintf("%d.%02d", bp/100, bp%100)
}

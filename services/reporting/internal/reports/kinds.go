package reports

import (
	"fmt"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/vcci-dev/vcci/pkg/decimal"
	"github.com/vcci-dev/vcci/services/reporting/internal/document"
	"github.com/vcci-dev/vcci/services/reporting/internal/reporting"
)

// summaryTable is the inventory's headline figures in one row.
func summaryTable(d data) document.Table {
	u := d.inv.Uncertainty
	return document.Table{Name: "totals", Title: "Scope 3 total", Columns: []document.Column{
		col(colTonnes, "Total Scope 3"), colLines, colScore,
		col(colTonnes, "Uncertainty P5"), col(colTonnes, "Uncertainty P95"),
	}, Rows: [][]string{{tonnes(d.inv.TotalKg), strconv.FormatInt(d.inv.LineCount, 10), d.inv.DataQuality.Score, tonnes(u.P5), tonnes(u.P95)}}}
}

func ghgInventory(d data) document.Document {
	t := document.Table{Name: "categories", Title: "Scope 3 emissions by category", Columns: []document.Column{
		colCategory, colTitle, colTonnes, colShare, colMethods, colScore,
		col(colTonnes, "P5"), col(colTonnes, "P95"), colStatus,
	}, Notes: []string{roundingNote, "P5 and P95: the 5th and 95th percentiles of the category's Monte Carlo range. Methods: each method's share of the category's emissions."}}
	total := rat(d.inv.TotalKg)
	for _, c := range d.categories() {
		row := []string{strconv.Itoa(c.n), c.title, "", "", "", "", "", "", c.status()}
		if c.has {
			row = []string{strconv.Itoa(c.n), c.title, tonnes(c.c.Kg), percent(rat(c.c.Kg), total), methodMix(c.c.Methods, c.c.Kg),
				c.c.DataQuality.Score, tonnes(c.c.Uncertainty.P5), tonnes(c.c.Uncertainty.P95), c.status()}
		}
		t.Rows = append(t.Rows, row)
	}
	u := d.inv.Uncertainty
	t.Rows = append(t.Rows, []string{"", "Total Scope 3", tonnes(d.inv.TotalKg), percent(total, total), methodMix(d.inv.Methods, d.inv.TotalKg),
		d.inv.DataQuality.Score, tonnes(u.P5), tonnes(u.P95), ""})

	summary := []string{
		fmt.Sprintf("Scope 3 emissions of %s: %s t CO2e from %s purchase and activity lines, under %s.", orgOr(d, "the organisation"), textTonnes(d.inv.TotalKg), count(d.inv.LineCount), basisName(d.inv.GWPBasis)),
		source(d),
		"Prepared following the GHG Protocol Corporate Value Chain (Scope 3) Standard: every one of the 15 categories is listed with its emissions, or why it has none.",
	}
	return document.Document{
		Title: "GHG Protocol Scope 3 inventory",
		Sections: []document.Section{
			{Title: "Summary", Paragraphs: summary, Tables: []document.Table{summaryTable(d)}},
			{Title: "Emissions by category", Tables: []document.Table{t}, Charts: []document.Chart{categoryChart(d)}},
			monthsSection(d),
			{Title: "Calculation methods", Tables: []document.Table{methodsTable(d)}, Charts: []document.Chart{methodMixChart(d)}},
			dataQualitySection(d),
			factorSetsSection(d),
			recalculationsSection(d),
			limitations(d),
		},
	}
}

func orgOr(d data, def string) string {
	if d.req.Organization != "" {
		return d.req.Organization
	}
	return def
}

// CDP's evaluation statuses for a Scope 3 category.
const (
	cdpCalculated  = "Relevant, calculated"
	cdpNotRelevant = "Not relevant, explanation provided"
	cdpNotEvaluate = "Not evaluated"
)

// methodology describes how a category was calculated: each method with
// its share and the factor sets it used, from the inventory's groups.
func methodology(d data, c catRow) string {
	sets := map[string][]string{} // method -> sets
	for _, g := range d.inv.Groups {
		if g.Category != c.n {
			continue
		}
		set := factorSetOf(g.Factor)
		if !slices.Contains(sets[g.Method], set) {
			sets[g.Method] = append(sets[g.Method], set)
		}
	}
	parts := make([]string, 0, len(c.c.Methods))
	for _, m := range byKg(c.c.Methods) {
		name := methodText[m.Method]
		if name == "" {
			name = m.Method
		}
		p := fmt.Sprintf("%s (%s %% of emissions, %s lines)", name, percent(rat(m.Kg), rat(c.c.Kg)), count(m.LineCount))
		var labels []string
		for _, s := range sets[m.Method] {
			labels = append(labels, d.factorSetLabel(s))
		}
		slices.Sort(labels)
		if len(labels) > 0 {
			p += " with " + strings.Join(labels, ", ")
		}
		parts = append(parts, p)
	}
	return strings.Join(parts, "; ") + ". GWP: " + basisName(d.inv.GWPBasis) + "."
}

var methodText = map[string]string{
	methodSupplierProduct: "Supplier-specific method: suppliers' product footprints",
	methodSupplierCompany: "Supplier-specific method: suppliers' company emission intensities x spend",
	"average-data":        "Average-data method: activity data x published emission factors",
	"spend-based":         "Spend-based method: spend in base-year USD x environmentally extended input-output factors",
}

func cdp(d data) document.Document {
	t := document.Table{Name: "cdp_scope3", Title: "Scope 3 emissions by category (C6.5)", Columns: []document.Column{
		colCategory, colTitle, {Title: "Evaluation status", Kind: document.Text}, col(colTonnes, "Emissions in reporting year"),
		{Title: "Emissions calculation methodology", Kind: document.Text},
		{Title: "Emissions calculated using data obtained from suppliers or value chain partners", Unit: "%", Kind: document.Percent, Decimals: percentDecimals},
		{Title: "Explanation", Kind: document.Text},
	}, Notes: []string{roundingNote, "Data obtained from suppliers: the supplier-product and supplier-company methods' share of the category's emissions."}}
	for _, c := range d.categories() {
		switch {
		case c.excluded != "":
			t.Rows = append(t.Rows, []string{strconv.Itoa(c.n), c.title, cdpNotRelevant, "", "", "", c.excluded})
		case c.has:
			t.Rows = append(t.Rows, []string{strconv.Itoa(c.n), c.title, cdpCalculated, tonnes(c.c.Kg), methodology(d, c), supplierShare(c.c.Methods, c.c.Kg), ""})
		default:
			t.Rows = append(t.Rows, []string{strconv.Itoa(c.n), c.title, cdpNotEvaluate, "", "", "", "No data has been collected or calculated for this category."})
		}
	}
	return document.Document{
		Title: "CDP Climate Change: Scope 3 emissions",
		Sections: []document.Section{
			{Title: "Scope 3 emissions", Paragraphs: []string{
				fmt.Sprintf("Gross global Scope 3 emissions of %s: %s t CO2e (%s), %s %% of them calculated using data obtained from suppliers.",
					orgOr(d, "the organisation"), textTonnes(d.inv.TotalKg), basisName(d.inv.GWPBasis), orNA(supplierShare(d.inv.Methods, d.inv.TotalKg))),
				source(d),
				uncertaintyText(d),
			}, Tables: []document.Table{summaryTable(d), t}},
			factorSetsSection(d),
			recalculationsSection(d),
			limitations(d),
		},
	}
}

func orNA(s string) string {
	if s == "" {
		return "n/a"
	}
	return s
}

// esrsSignificance is the share of gross Scope 3 from which ESRS_E1_6
// calls a category significant.
var esrsSignificance = big.NewRat(5, 100)

func esrs(d data) document.Document {
	t := document.Table{Name: "esrs_categories", Title: "Gross Scope 3 GHG emissions by category", Columns: []document.Column{
		colCategory, colTitle, colTonnes, col(colShare, "Share of gross Scope 3"), {Title: "Significant", Kind: document.Text},
		{Title: "Share from primary data", Unit: "%", Kind: document.Percent, Decimals: percentDecimals},
		colMethods, colStatus,
	}, Notes: []string{roundingNote, "Primary data: emissions calculated from suppliers' own figures (supplier-product and supplier-company methods)."}}
	total := rat(d.inv.TotalKg)
	var significant []string
	for _, c := range d.categories() {
		if !c.has {
			t.Rows = append(t.Rows, []string{strconv.Itoa(c.n), c.title, "", "", "no", "", "", c.status()})
			continue
		}
		sig := "no"
		if total.Sign() > 0 && new(big.Rat).Quo(rat(c.c.Kg), total).Cmp(esrsSignificance) >= 0 {
			sig = "yes"
			significant = append(significant, strconv.Itoa(c.n))
		}
		t.Rows = append(t.Rows, []string{strconv.Itoa(c.n), c.title, tonnes(c.c.Kg), percent(rat(c.c.Kg), total), sig,
			supplierShare(c.c.Methods, c.c.Kg), methodMix(c.c.Methods, c.c.Kg), c.status()})
	}
	head := document.Table{Name: "esrs_totals", Title: "E1-6 Scope 3 datapoints", Columns: []document.Column{
		col(colTonnes, "Gross Scope 3 GHG emissions"), {Title: "Share from primary data", Unit: "%", Kind: document.Percent, Decimals: percentDecimals},
		{Title: "Significant categories", Kind: document.Text},
	}, Rows: [][]string{{tonnes(d.inv.TotalKg), supplierShare(d.inv.Methods, d.inv.TotalKg), strings.Join(significant, ", ")}}}
	return document.Document{
		Title: "ESRS E1-6: gross Scope 3 GHG emissions",
		Sections: []document.Section{
			{Title: "Gross Scope 3 GHG emissions", Paragraphs: []string{
				fmt.Sprintf("Gross Scope 3 GHG emissions of %s: %s t CO2e under %s.", orgOr(d, "the undertaking"), textTonnes(d.inv.TotalKg), basisName(d.inv.GWPBasis)),
				"A category is significant here when its emissions are at least 5 % of gross Scope 3 emissions; every calculated category is listed with its figure all the same, so a reader applying another threshold has what it needs.",
				"Share from primary data: the emissions calculated from suppliers' own product footprints and company intensities, as a percentage of gross Scope 3 emissions; the rest is from secondary data (published activity factors and spend-based input-output factors).",
				source(d),
				uncertaintyText(d),
			}, Tables: []document.Table{head, t}, Charts: []document.Chart{categoryChart(d)}},
			{Title: "Calculation methods", Tables: []document.Table{methodsTable(d)}},
			factorSetsSection(d),
			recalculationsSection(d),
			limitations(d),
		},
	}
}

func sb253(d data) document.Document {
	t := document.Table{Name: "sb253_categories", Title: "Scope 3 emissions by category (GHG Protocol)", Columns: []document.Column{
		colCategory, colTitle, colTonnes, {Title: "Emissions (exact)", Unit: "kg CO2e", Kind: document.Decimal, Decimals: 7}, colShare, colLines,
		colMethods, colScore, col(colTonnes, "P5"), col(colTonnes, "P95"), colStatus,
	}, Notes: []string{roundingNote, "The exact column is the calculator's kg CO2e as stored, to audit the rounding."}}
	total := rat(d.inv.TotalKg)
	for _, c := range d.categories() {
		if !c.has {
			t.Rows = append(t.Rows, []string{strconv.Itoa(c.n), c.title, "", "", "", "", "", "", "", "", c.status()})
			continue
		}
		t.Rows = append(t.Rows, []string{strconv.Itoa(c.n), c.title, tonnes(c.c.Kg), c.c.Kg, percent(rat(c.c.Kg), total), strconv.FormatInt(c.c.LineCount, 10),
			methodMix(c.c.Methods, c.c.Kg), c.c.DataQuality.Score, tonnes(c.c.Uncertainty.P5), tonnes(c.c.Uncertainty.P95), c.status()})
	}
	u := d.inv.Uncertainty
	t.Rows = append(t.Rows, []string{"", "Total Scope 3", tonnes(d.inv.TotalKg), d.inv.TotalKg, percent(total, total), strconv.FormatInt(d.inv.LineCount, 10),
		methodMix(d.inv.Methods, d.inv.TotalKg), d.inv.DataQuality.Score, tonnes(u.P5), tonnes(u.P95), ""})

	read := document.Table{Name: "inventory_read", Title: "Inventory read", Columns: []document.Column{
		{Title: "Snapshot", Kind: document.Text}, {Title: "As of", Kind: document.Text}, {Title: "Read", Kind: document.Text},
		{Title: "GWP basis", Kind: document.Text}, {Title: "Monte Carlo iterations", Kind: document.Integer}, {Title: "Seed", Kind: document.Integer},
		{Title: "Groups", Kind: document.Integer}, {Title: "Factors", Kind: document.Integer},
	}, Rows: [][]string{{d.inv.Snapshot, d.inv.AsOfDate, stamp(d.inv.ReadTime), basisName(d.inv.GWPBasis),
		strconv.Itoa(int(d.inv.Iterations)), strconv.FormatUint(d.inv.Seed, 10), strconv.Itoa(int(d.inv.GroupCount)), strconv.Itoa(int(d.inv.FactorCount))}},
		Notes: []string{"The same inventory, iterations and seed give the same percentiles, so a reviewer can reproduce the range."}}
	return document.Document{
		Title: "California SB 253: Scope 3 emissions disclosure",
		Sections: []document.Section{
			{Title: "Scope 3 emissions", Paragraphs: []string{
				fmt.Sprintf("Scope 3 emissions of %s, calculated following the GHG Protocol Corporate Value Chain (Scope 3) Standard: %s t CO2e (%s kg) under %s.",
					orgOr(d, "the reporting entity"), textTonnes(d.inv.TotalKg), document.Thousands(d.inv.TotalKg), basisName(d.inv.GWPBasis)),
				source(d),
			}, Tables: []document.Table{t}, Charts: []document.Chart{categoryChart(d)}},
			{Title: "Provenance for assurance", Paragraphs: []string{
				"Every figure traces to stored results: each line's result keeps its method, factor, factor set version, factor value, price and currency conversion, data quality indicators and earlier versions, and the inventory's groups below can be recomputed from them.",
				uncertaintyText(d),
			}, Tables: []document.Table{read, methodsTable(d), dataQualityTable(d)}},
			factorSetsSection(d),
			recalculationsSection(d),
			monthsSection(d),
			limitations(d),
		},
	}
}

// paretoChartTop is how many suppliers the Pareto chart draws.
const paretoChartTop = 20

func hotspotPack(d data) document.Document {
	p := d.pareto
	figures := map[string][]SupplierFactor{}
	for _, f := range d.figures {
		figures[f.SupplierID] = append(figures[f.SupplierID], f)
	}
	t := document.Table{Name: "suppliers", Title: "Suppliers by emissions", Columns: []document.Column{
		{Title: "Rank", Kind: document.Integer}, {Title: "Supplier", Kind: document.Text}, {Title: "Supplier id", Kind: document.Text},
		colTonnes, {Title: "Spend", Unit: "USD", Kind: document.Decimal, Decimals: 2},
		{Title: "Intensity", Unit: "kg CO2e/USD", Kind: document.Decimal, Decimals: 6},
		colShare, {Title: "Cumulative share", Unit: "%", Kind: document.Percent, Decimals: percentDecimals},
		{Title: "Hotspot set", Kind: document.Text}, {Title: "Methods", Kind: document.Text}, {Title: "Supplier data on file", Kind: document.Text},
		{Title: "Engagement", Kind: document.Text},
	}, Notes: []string{roundingNote,
		"Shares are of the net total over all suppliers, exact from the emissions. Intensity: kg CO2e per USD spent, to 6 decimals; empty where spend is zero.",
		"Methods: those that calculated the supplier's lines of the period, each with its share of the supplier's emissions (supplier-product and supplier-company are the supplier's own data; average-data and spend-based are secondary).",
		"Supplier data on file: the supplier's own figures registered with the calculator; lines they cover are calculated with them, the others with secondary data."}}
	total := rat(p.TotalKg)
	cum := new(big.Rat)
	ch := document.Chart{Kind: document.Pareto, Title: "Supplier Pareto", XLabel: "Supplier", YLabel: tonnesUnit}
	bars, line := []float64{}, []float64{}
	engaged, received, declined, own := 0, 0, 0, 0
	for _, e := range p.Entries {
		kg := rat(e.Kg)
		cum.Add(cum, kg)
		set := "no"
		if e.InThresholdSet {
			set = "yes"
		}
		eng := "not engaged"
		if en, ok := d.engaged[e.SupplierID]; ok {
			engaged++
			switch en.Status {
			case StatusDataReceived:
				received++
			case StatusDeclined:
				declined++
			}
			eng = fmt.Sprintf("%s (campaign %q, %s)", en.Status, en.CampaignName, en.Since.UTC().Format("2006-01-02"))
		}
		name := e.Name
		if name == "" {
			name = e.SupplierID
		}
		ms := d.methods.Methods[e.SupplierID]
		if slices.ContainsFunc(ms, func(m MethodShare) bool { return isSupplierSpecific(m.Method) }) {
			own++
		}
		t.Rows = append(t.Rows, []string{strconv.Itoa(int(e.Rank)), name, e.SupplierID, tonnes(e.Kg), spend(e.Spend), reporting.Intensity(e.Kg, e.Spend),
			percent(kg, total), percent(cum, total), set, supplierMix(ms), supplierData(figures[e.SupplierID]), eng})
		if len(ch.Labels) < paretoChartTop {
			ch.Labels = append(ch.Labels, name)
			bars = append(bars, float(tonnes(e.Kg)))
			line = append(line, float(percent(cum, total)))
		}
	}
	ch.Series = []document.Series{{Name: emissions, Values: bars}, {Name: "Cumulative share (%)", Values: line}}

	ps := []string{
		fmt.Sprintf("%s suppliers account for %s t CO2e. The %s largest reach %s %% of it, the hotspot set procurement engagement starts with.",
			count(p.SupplierCount), textTonnes(p.TotalKg), count(p.ThresholdCount), thresholdPercent(p.Threshold)),
		fmt.Sprintf("Suppliers are ranked under %s, the report's basis, %s.", basisName(p.GWPBasis), rankedLines(p)),
	}
	if int(p.SupplierCount) > len(p.Entries) {
		ps = append(ps, fmt.Sprintf("The table lists the largest %s suppliers; shares are of all %s.", count(len(p.Entries)), count(p.SupplierCount)))
	}
	if len(p.Entries) > 0 {
		ps = append(ps, fmt.Sprintf("Of the %s suppliers listed, %s have lines calculated from their own data (supplier-specific methods); the others' emissions are estimated from secondary data.",
			count(len(p.Entries)), count(own)))
	}
	switch {
	case p.Snapshot != "":
		ps = append(ps, fmt.Sprintf("Suppliers and their methods are as the snapshot %q recorded them on %s; their names are today's.",
			d.snapshot.DisplayName, d.snapshot.CreateTime.UTC().Format(time.DateOnly)))
	case p.AsOfDate != "":
		ps = append(ps, fmt.Sprintf("Suppliers and their methods are as calculated at the end of %s (UTC); their names, supplier data on file and engagement are today's.",
			p.AsOfDate))
	case d.inv.Snapshot != "":
		ps = append(ps, "The supplier Pareto is read from the current calculation: this snapshot was recorded before snapshots kept their suppliers, so these figures may differ from the snapshot's where lines were added or recalculated since.")
	}
	if total.Sign() <= 0 {
		ps = append(ps, "The net total is not positive (credit notes outweigh purchases), so no share is meaningful and none is shown.")
	}
	eng := fmt.Sprintf("Suppliers listed that an engagement campaign targets: %s of %s, of which %s sent their own figures since their campaign began and %s declined; the status shown is their latest campaign's.",
		count(engaged), count(len(p.Entries)), count(received), count(declined))
	if len(d.engaged) == 0 {
		eng = "No engagement campaign has targeted any supplier: every supplier is shown as not engaged."
	}
	return document.Document{
		Title: "Supplier hotspot pack",
		Sections: []document.Section{
			{Title: "Supplier Pareto", Paragraphs: ps, Tables: []document.Table{t}, Charts: []document.Chart{ch}},
			{Title: "Engagement", Paragraphs: []string{eng}},
			limitations(d),
		},
	}
}

// thresholdPercent shows the Pareto's threshold (a float, 0.8) in percent
// to 2 decimals, so its binary error never shows (80.00000000000001).
func thresholdPercent(f float64) string {
	r := new(big.Rat)
	if r.SetFloat64(f) == nil {
		return ""
	}
	return decimal.Round(r.Mul(r, big.NewRat(100, 1)), percentDecimals)
}

// spend is USD to 2 decimals, exact from the service's 4.
func spend(usd string) string {
	if usd == "" {
		return ""
	}
	return decimal.Round(rat(usd), 2)
}

// supplierMix is a supplier's methodMix, shares of its own kg.
func supplierMix(ms []MethodShare) string {
	total := new(big.Rat)
	for _, m := range ms {
		total.Add(total, rat(m.Kg))
	}
	return methodMix(ms, total.FloatString(7))
}

func supplierData(fs []SupplierFactor) string {
	if len(fs) == 0 {
		return "none"
	}
	var out []string
	for _, f := range fs {
		s := f.Kind
		if f.ReportingYear != 0 {
			s += " " + strconv.Itoa(int(f.ReportingYear))
		}
		if f.Verified {
			s += ", verified"
		}
		s += " (" + f.ValidFrom + " to " + f.ValidTo + ")"
		out = append(out, s)
	}
	return strings.Join(out, "; ")
}

package reports

import (
	"context"
	"fmt"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/vcci-dev/vcci/pkg/decimal"
	"github.com/vcci-dev/vcci/services/reporting/internal/document"
	"github.com/vcci-dev/vcci/services/reporting/internal/reporting"
)

// paretoTopN is how many suppliers a hotspot pack lists; the Pareto's
// totals cover every supplier.
const paretoTopN = 100

// data is everything one report reads.
type data struct {
	req      Request
	now      time.Time
	inv      Inventory
	period   bool    // the report is of its period's lines (byPeriod)
	months   []Total // the period's (every month's where not period)
	all      []Total // every month's
	settings Settings
	recalcs  []Recalculation
	sets     []FactorSet
	snapshot Snapshot // the snapshot read, when one was
	pareto   Pareto
	methods  SupplierMethods // the listed suppliers'
	engaged  map[string]Engagement
	figures  []SupplierFactor
	excluded map[int]string
}

func load(ctx context.Context, src Sources, r Request) (data, error) {
	d := data{req: r, now: time.Now().UTC(), excluded: map[int]string{}}
	for _, e := range r.Exclusions {
		d.excluded[e.Category] = strings.TrimSpace(e.Reason)
	}
	var err error
	if d.snapshot, err = findSnapshot(ctx, src, r); err != nil {
		return data{}, err
	}
	d.period = byPeriod(r, d.snapshot)
	q := inventoryQuery(r, d.snapshot, 0, true)
	if r.Kind == HotspotPack {
		q = inventoryQuery(r, d.snapshot, checkIterations, false)
	}
	if d.inv, err = src.Inventory(ctx, q); err != nil {
		return data{}, err
	}
	// Peers' errors are gRPC statuses already and pass through unwrapped,
	// as the rest of reporting passes them.
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() (err error) { d.months, err = src.MonthTotals(gctx, d.inv.GWPBasis, asOfDate(r)); return err })
	g.Go(func() (err error) { d.settings, err = src.Settings(gctx); return err })
	g.Go(func() (err error) { d.recalcs, err = src.Recalculations(gctx); return err })
	g.Go(func() (err error) { d.sets, err = src.FactorSets(gctx); return err })
	pq := ParetoQuery{GWPBasis: d.inv.GWPBasis}
	if d.period {
		pq.PeriodStart, pq.PeriodEnd = r.PeriodStart.Format(monthLayout), r.PeriodEnd.Format(monthLayout)
	}
	if d.snapshot.Suppliers {
		pq.Snapshot = d.snapshot.Name
	}
	pq.AsOfDate = asOfDate(r)
	if r.Kind == HotspotPack {
		g.Go(func() (err error) { d.pareto, err = src.SupplierPareto(gctx, paretoTopN, pq); return err })
		g.Go(func() (err error) { d.engaged, err = src.Engagements(gctx); return err })
		g.Go(func() (err error) { d.figures, err = src.SupplierFactors(gctx); return err })
	}
	if err := g.Wait(); err != nil {
		return data{}, err
	}
	if r.Kind == HotspotPack && d.pareto.GWPBasis != d.inv.GWPBasis {
		// A hotspot that does not know the basis would rank under another.
		return data{}, fmt.Errorf("reports: hotspot ranked suppliers under %q, the report is under %q", d.pareto.GWPBasis, d.inv.GWPBasis)
	}
	if r.Kind == HotspotPack && d.pareto.ParetoQuery != pq {
		// Nor one that does not know periods, snapshots or days: it would
		// rank every line as calculated now.
		return data{}, fmt.Errorf("reports: hotspot ranked %+v, the report asked %+v", d.pareto.ParetoQuery, pq)
	}
	if r.Kind == HotspotPack && len(d.pareto.Entries) > 0 {
		if d.methods, err = listedMethods(ctx, src, d.pareto, pq); err != nil {
			return data{}, err
		}
	}
	d.all = d.months
	switch {
	case d.snapshot.Months || !r.AsOf.IsZero(): // the snapshot's or the day's, of the period
		d.months = d.inv.Months
	case d.period:
		d.months = slices.DeleteFunc(slices.Clone(d.months), func(m Total) bool { return !inPeriod(r, m.Key) })
	}
	if !r.AsOf.IsZero() { // those asked for after the day did not shape its figures
		end := r.AsOf.AddDate(0, 0, 1)
		d.recalcs = slices.DeleteFunc(d.recalcs, func(rc Recalculation) bool { return !rc.CreateTime.Before(end) })
	}
	return d, nil
}

// listedMethods reads the methods of p's listed suppliers, refusing an
// answer of other lines than pq's.
func listedMethods(ctx context.Context, src Sources, p Pareto, pq ParetoQuery) (SupplierMethods, error) {
	ids := make([]string, len(p.Entries))
	for i, e := range p.Entries {
		ids[i] = e.SupplierID
	}
	ms, err := src.SupplierMethods(ctx, ids, pq)
	if err != nil {
		return SupplierMethods{}, err
	}
	if ms.ParetoQuery != pq {
		return SupplierMethods{}, fmt.Errorf("reports: the calculator read suppliers' methods of %+v, the report asked %+v", ms.ParetoQuery, pq)
	}
	return ms, nil
}

// checkDecimals refuses a figure a peer sent that is not an exact decimal:
// read as zero, it would misstate the report without a sign.
func (d data) checkDecimals() error {
	inv := d.inv
	vals := []string{inv.TotalKg, inv.Uncertainty.P5, inv.Uncertainty.P50, inv.Uncertainty.P95, d.pareto.TotalKg}
	for _, m := range inv.Methods {
		vals = append(vals, m.Kg)
	}
	for _, c := range inv.Categories {
		vals = append(vals, c.Kg, c.Uncertainty.P5, c.Uncertainty.P50, c.Uncertainty.P95)
		for _, m := range c.Methods {
			vals = append(vals, m.Kg)
		}
	}
	for _, g := range inv.Groups {
		vals = append(vals, g.Kg)
	}
	for _, m := range d.months {
		vals = append(vals, m.Kg)
	}
	for _, e := range d.pareto.Entries {
		vals = append(vals, e.Kg, e.Spend)
	}
	for _, ms := range d.methods.Methods {
		for _, m := range ms {
			vals = append(vals, m.Kg)
		}
	}
	for _, r := range d.recalcs {
		vals = append(vals, r.KgBefore, r.KgAfter)
	}
	for _, v := range vals {
		if v == "" {
			continue
		}
		if _, _, err := decimal.Parse(v); err != nil {
			return fmt.Errorf("reports: a peer sent %w", err)
		}
	}
	return nil
}

// catRow is one of the 15 categories, whether the inventory has it or not.
type catRow struct {
	n        int
	title    string
	c        Category // zero when the inventory has none
	has      bool     // the inventory has lines or emissions in it
	excluded string   // the reason, when excluded
}

func (d data) categories() []catRow {
	out := make([]catRow, 15)
	for i := range out {
		out[i] = catRow{n: i + 1, title: reporting.CategoryTitle(i + 1), excluded: d.excluded[i+1]}
	}
	for _, c := range d.inv.Categories {
		if c.Number < 1 || c.Number > 15 {
			continue
		}
		row := &out[c.Number-1]
		row.c = c
		row.has = c.LineCount != 0 || !isZero(c.Kg)
		if c.Title != "" {
			row.title = c.Title
		}
	}
	return out
}

// status is "calculated", "excluded: {reason}" or "no data".
func (c catRow) status() string {
	switch {
	case c.excluded != "":
		return "excluded: " + c.excluded
	case c.has:
		return "calculated"
	default:
		return "no data"
	}
}

// stamp is t in RFC 3339 (UTC), or "" for a time a peer did not give.
func stamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

func snapshotLabel(d data) string {
	if d.snapshot.DisplayName != "" {
		return fmt.Sprintf("%q (%s)", d.snapshot.DisplayName, d.inv.Snapshot)
	}
	return d.inv.Snapshot
}

// source says which state of the inventory the report shows.
func source(d data) string {
	switch {
	case d.inv.Snapshot != "":
		s := "The figures are those of the inventory snapshot " + snapshotLabel(d)
		if !d.snapshot.CreateTime.IsZero() {
			s += ", recorded " + stamp(d.snapshot.CreateTime)
		}
		return s + ": recalculations since do not change them."
	case d.inv.AsOfDate != "":
		return "The figures are the inventory as calculated at the end of " + d.inv.AsOfDate + " (UTC)."
	default:
		return "The figures are the inventory as calculated when the report was made (" + stamp(d.inv.ReadTime) + "), not a recorded snapshot: a recalculation after that changes them."
	}
}

// limitations are the paragraphs every kind carries about its boundary.
func limitations(d data) document.Section {
	ps := []string{
		fmt.Sprintf("The reporting period is %s to %s. Its figures are those of the lines dated in it (months with data: %s); the tenant's lines dated outside it (%s in all) are not in them.",
			ymd(d.req.PeriodStart), ymd(d.req.PeriodEnd), monthRange(d.months), monthRange(d.all)),
	}
	if !d.period {
		ps[0] = fmt.Sprintf("The reporting period is %s to %s. A snapshot recorded before snapshots kept their months covers every purchase line the tenant has stored, whatever its date, so this report is only made for a period that covers every month with data (%s), and its figures are those of all those lines.",
			ymd(d.req.PeriodStart), ymd(d.req.PeriodEnd), monthRange(d.all))
	}
	if d.inv.Snapshot != "" && !d.snapshot.Months {
		ps = append(ps, "Monthly totals are read from the current calculation, not from the snapshot, which records no months; they may differ from the snapshot where lines were recalculated since.")
	}
	var ex []string
	for _, c := range d.categories() {
		if c.excluded != "" {
			ex = append(ex, fmt.Sprintf("category %d (%s): %s", c.n, c.title, c.excluded))
		}
	}
	if len(ex) > 0 {
		ps = append(ps, "Excluded by the reporter: "+strings.Join(ex, "; ")+".")
	} else {
		ps = append(ps, "The reporter excluded no category.")
	}
	var none []string
	for _, c := range d.categories() {
		if !c.has && c.excluded == "" {
			none = append(none, strconv.Itoa(c.n))
		}
	}
	if len(none) > 0 {
		ps = append(ps, "Categories with no data and no exclusion stated: "+strings.Join(none, ", ")+". No emissions are reported for them; they are not shown as zero because nothing was evaluated.")
	}
	return document.Section{Title: "Boundary and limitations", Paragraphs: ps}
}

func monthRange(ms []Total) string {
	var keys []string
	for _, m := range ms {
		if m.Count != 0 || !isZero(m.Kg) {
			keys = append(keys, m.Key)
		}
	}
	switch len(keys) {
	case 0:
		return "none"
	case 1:
		return keys[0]
	}
	return keys[0] + " to " + keys[len(keys)-1]
}

// Titles and units shared by several tables and charts.
const (
	emissions        = "Emissions"
	tonnesUnit       = "t CO2e"
	emissionsByMonth = "Emissions by month"
)

var (
	colCategory = document.Column{Title: "Category", Kind: document.Integer}
	colTitle    = document.Column{Title: "Title", Kind: document.Text}
	colTonnes   = document.Column{Title: emissions, Unit: tonnesUnit, Kind: document.Decimal, Decimals: tonneDecimals}
	colShare    = document.Column{Title: "Share of total", Unit: "%", Kind: document.Percent, Decimals: percentDecimals}
	colLines    = document.Column{Title: "Lines", Kind: document.Integer}
	colScore    = document.Column{Title: "Data quality score", Unit: "1 best to 5 worst", Kind: document.Decimal, Decimals: 2}
	colMethods  = document.Column{Title: "Methods", Kind: document.Text}
	colStatus   = document.Column{Title: "Status", Kind: document.Text}
)

func col(c document.Column, title string) document.Column {
	c.Title = title
	return c
}

// roundingNote is under every table of rounded tonnes.
const roundingNote = "Emissions are exact kg CO2e converted to t and rounded to 3 decimals, each row on its own: rows may not add up to the total in the last digit."

// monthsSection is the emissions of every month with data, and their chart.
func monthsSection(d data) document.Section {
	t := document.Table{Name: "months", Title: emissionsByMonth, Columns: []document.Column{
		{Title: "Month", Kind: document.Text}, colTonnes, colLines,
	}, Notes: []string{roundingNote}}
	ch := document.Chart{Kind: document.Line, Title: emissionsByMonth, XLabel: "Month", YLabel: tonnesUnit}
	vals := make([]float64, 0, len(d.months))
	for _, m := range d.months {
		t.Rows = append(t.Rows, []string{m.Key, tonnes(m.Kg), strconv.FormatInt(m.Count, 10)})
		ch.Labels = append(ch.Labels, m.Key)
		vals = append(vals, float(tonnes(m.Kg)))
	}
	ch.Series = []document.Series{{Name: emissions, Values: vals}}
	s := document.Section{Title: emissionsByMonth, Tables: []document.Table{t}, Charts: []document.Chart{ch}}
	if len(d.months) == 0 {
		s.Paragraphs = []string{"The calculator reported no monthly totals."}
	}
	return s
}

// methodsTable is the inventory's split by calculation method.
func methodsTable(d data) document.Table {
	t := document.Table{Name: "methods", Title: "Emissions by calculation method", Columns: []document.Column{
		{Title: "Method", Kind: document.Text}, colTonnes, colShare, colLines,
	}, Notes: []string{"Methods in the order of the GHG Protocol's Scope 3 guidance: supplier-product (a supplier's product footprint), supplier-company (a supplier's company intensity), average-data (activity x a published factor), spend-based (spend x an input-output factor)."}}
	total := rat(d.inv.TotalKg)
	for _, m := range byKg(d.inv.Methods) {
		t.Rows = append(t.Rows, []string{m.Method, tonnes(m.Kg), percent(rat(m.Kg), total), strconv.FormatInt(m.LineCount, 10)})
	}
	return t
}

// methodMixChart stacks each calculated category's emissions by method.
func methodMixChart(d data) document.Chart {
	ch := document.Chart{Kind: document.StackedBar, Title: "Method mix by category", XLabel: "Scope 3 category", YLabel: tonnesUnit}
	methods := make([]string, 0, len(d.inv.Methods))
	for _, m := range byKg(d.inv.Methods) {
		methods = append(methods, m.Method)
	}
	series := make([]document.Series, len(methods))
	for i, m := range methods {
		series[i].Name = m
	}
	for _, c := range d.categories() {
		if !c.has {
			continue
		}
		ch.Labels = append(ch.Labels, "C"+strconv.Itoa(c.n))
		for i, m := range methods {
			v := 0.0
			for _, cm := range c.c.Methods {
				if cm.Method == m {
					v = float(tonnes(cm.Kg))
				}
			}
			series[i].Values = append(series[i].Values, v)
		}
	}
	ch.Series = series
	return ch
}

// dqBands are the data quality mix's score bands, as exact lower bounds.
var dqBands = []struct {
	label string
	from  *big.Rat
}{
	{"1.0 to 1.9", big.NewRat(1, 1)}, {"2.0 to 2.9", big.NewRat(2, 1)},
	{"3.0 to 3.9", big.NewRat(3, 1)}, {"4.0 to 5.0", big.NewRat(4, 1)},
}

// dqMix totals the inventory's groups by their data quality score band.
func dqMix(d data) (document.Table, document.Chart) {
	kg := make([]*big.Rat, len(dqBands)+1) // the last: not scored
	lines := make([]int64, len(dqBands)+1)
	for i := range kg {
		kg[i] = new(big.Rat)
	}
	for _, g := range d.inv.Groups {
		b := len(dqBands)
		if score, ok := indicatorScore(g.Indicators); ok {
			for i, band := range slices.Backward(dqBands) {
				if score.Cmp(band.from) >= 0 {
					b = i
					break
				}
			}
		}
		kg[b].Add(kg[b], rat(g.Kg))
		lines[b] += g.LineCount
	}
	t := document.Table{Name: "data_quality_mix", Title: "Emissions by data quality score", Columns: []document.Column{
		{Title: "Score band", Unit: "1 best to 5 worst", Kind: document.Text}, colTonnes, colShare, colLines,
	}, Notes: []string{"A group's score is the mean of its five indicators (docs/quality.md). Not scored: lines stored before vcci scored data quality; they are sampled as the worst in the uncertainty range."}}
	ch := document.Chart{Kind: document.Bar, Title: "Data quality mix", XLabel: "Data quality score", YLabel: tonnesUnit}
	vals := []float64{}
	total := rat(d.inv.TotalKg)
	for i := range kg {
		label := "not scored"
		if i < len(dqBands) {
			label = dqBands[i].label
		}
		if i == len(dqBands) && lines[i] == 0 && kg[i].Sign() == 0 {
			continue
		}
		t.Rows = append(t.Rows, []string{label, tonnesOf(kg[i]), percent(kg[i], total), strconv.FormatInt(lines[i], 10)})
		ch.Labels = append(ch.Labels, label)
		vals = append(vals, float(tonnesOf(kg[i])))
	}
	ch.Series = []document.Series{{Name: emissions, Values: vals}}
	return t, ch
}

// indicatorScore is the mean of "41344"'s digits, exactly.
func indicatorScore(ind string) (*big.Rat, bool) {
	if len(ind) != 5 || strings.Trim(ind, "12345") != "" {
		return nil, false
	}
	s := 0
	for _, c := range ind {
		s += int(c - '0')
	}
	return big.NewRat(int64(s), 5), true
}

// dataQualityTable is the inventory's emissions-weighted indicators.
func dataQualityTable(d data) document.Table {
	dq := d.inv.DataQuality
	sc := document.Column{Kind: document.Decimal, Decimals: 2}
	return document.Table{Name: "data_quality", Title: "Emissions-weighted data quality (1 best to 5 worst)", Columns: []document.Column{
		col(sc, "Technology"), col(sc, "Time"), col(sc, "Geography"), col(sc, "Completeness"), col(sc, "Reliability"), col(sc, "Score"),
	}, Rows: [][]string{{dq.Technology, dq.Time, dq.Geography, dq.Completeness, dq.Reliability, dq.Score}},
		Notes: []string{"GHG Protocol Scope 3 Technical Guidance, chapter 7: each indicator scored 1 to 5 per line and weighted by the line's absolute kg CO2e."}}
}

// uncertaintyText states the inventory's Monte Carlo range, or its absence.
func uncertaintyText(d data) string {
	u := d.inv.Uncertainty
	if u.P5 == "" || u.P95 == "" {
		return "No uncertainty range is available for this inventory: the calculator returned none."
	}
	return fmt.Sprintf("Uncertainty: the total lies between %s and %s t CO2e (5th to 95th percentile, median %s t) by a Monte Carlo simulation of %s iterations with seed %d over %s groups and %s factors; results sharing a factor share its error (docs/quality.md).",
		textTonnes(u.P5), textTonnes(u.P95), textTonnes(u.P50), count(d.inv.Iterations), d.inv.Seed, count(d.inv.GroupCount), count(d.inv.FactorCount))
}

func dataQualitySection(d data) document.Section {
	mix, ch := dqMix(d)
	ps := []string{uncertaintyText(d)}
	if d.inv.DataQuality.Score == "" {
		ps = append([]string{"No data quality score is available: no line of the inventory was scored."}, ps...)
	}
	return document.Section{Title: "Data quality and uncertainty", Paragraphs: ps,
		Tables: []document.Table{dataQualityTable(d), mix}, Charts: []document.Chart{ch}}
}

// factorSetsUsed are the sets the inventory's groups were calculated with,
// largest first, with their kg.
func factorSetsUsed(d data) (names []string, kg map[string]*big.Rat) {
	kg = map[string]*big.Rat{}
	for _, g := range d.inv.Groups {
		set := factorSetOf(g.Factor)
		if kg[set] == nil {
			kg[set] = new(big.Rat)
			names = append(names, set)
		}
		kg[set].Add(kg[set], rat(g.Kg))
	}
	slices.SortFunc(names, func(a, b string) int {
		if c := kg[b].Cmp(kg[a]); c != 0 {
			return c
		}
		return strings.Compare(a, b)
	})
	return names, kg
}

// supplierDataSet is the tenant's own set of supplier figures.
const supplierDataSet = "factorSets/supplier-data"

func (d data) factorSet(name string) (FactorSet, bool) {
	for _, s := range d.sets {
		if s.Name == name {
			return s, true
		}
	}
	if name == supplierDataSet {
		return FactorSet{Name: name, DisplayName: "Supplier figures (the tenant's own)", Publisher: "suppliers"}, true
	}
	return FactorSet{}, false
}

// factorSetLabel is "US EPA ... v1.3.0" for methodology text.
func (d data) factorSetLabel(name string) string {
	s, ok := d.factorSet(name)
	switch {
	case !ok:
		return name
	case s.Version != "":
		return s.DisplayName + " v" + strings.TrimPrefix(s.Version, "v")
	}
	return s.DisplayName
}

func factorSetsSection(d data) document.Section {
	t := document.Table{Name: "factor_sets", Title: "Emission factor sets used", Columns: []document.Column{
		{Title: "Factor set", Kind: document.Text}, {Title: "Name", Kind: document.Text}, {Title: "Publisher", Kind: document.Text},
		{Title: "Version", Kind: document.Text}, {Title: "Data year", Kind: document.Integer}, {Title: "Region", Kind: document.Text},
		colTonnes, colShare,
	}, Notes: []string{"The sets the inventory's results were calculated with, from the results themselves; a set is never changed once loaded, a new version is a new set."}}
	names, kg := factorSetsUsed(d)
	total := rat(d.inv.TotalKg)
	for _, n := range names {
		s, _ := d.factorSet(n)
		year := ""
		if s.Year != 0 {
			year = strconv.Itoa(int(s.Year))
		}
		t.Rows = append(t.Rows, []string{n, s.DisplayName, s.Publisher, s.Version, year, s.Region, tonnesOf(kg[n]), percent(kg[n], total)})
	}
	ps := []string{fmt.Sprintf("CO2e is expressed under %s. Every result keeps its CO2e under AR4, AR5 and AR6, so the basis re-expresses the inventory without recalculating a line.", basisName(d.inv.GWPBasis))}
	if len(names) == 0 {
		ps = append(ps, "The calculator returned no factor groups, so the sets used cannot be listed.")
	}
	if d.settings.SpendFactorSet != "" || d.settings.ActivityFactorSet != "" {
		ps = append(ps, fmt.Sprintf("New lines are calculated with %s (spend) and %s (activity data).", d.settings.SpendFactorSet, d.settings.ActivityFactorSet))
	}
	return document.Section{Title: "Emission factors and GWP basis", Paragraphs: ps, Tables: []document.Table{t}}
}

func baseYearText(d data) string {
	if d.settings.BaseYear == 0 {
		return "No base year is set for this inventory, so no base-year comparison or recalculation policy applies."
	}
	s := fmt.Sprintf("The base year is %d. A base-year recalculation changing its total by at least %s %% is significant (GHG Protocol Corporate Standard, chapter 5).",
		d.settings.BaseYear, d.settings.SignificanceThresholdPercent)
	for _, r := range d.recalcs { // newest first
		if r.BaseYear {
			verdict := "not significant"
			if r.Significant {
				verdict = "significant"
			}
			return s + fmt.Sprintf(" The latest base-year recalculation (%s, %q, %s) changed it from %s to %s t CO2e (%s %%): %s.",
				r.Name, r.Reason, r.State, textTonnes(r.KgBefore), textTonnes(r.KgAfter), r.ChangePct, verdict)
		}
	}
	return s + " The base year has not been recalculated."
}

func recalculationsSection(d data) document.Section {
	t := document.Table{Name: "recalculations", Title: "Recalculations", Columns: []document.Column{
		{Title: "Recalculation", Kind: document.Text}, {Title: "Reason", Kind: document.Text}, {Title: "Scope", Kind: document.Text},
		{Title: "State", Kind: document.Text}, {Title: "Created", Kind: document.Text}, {Title: "Finished", Kind: document.Text},
		{Title: "Lines in scope", Kind: document.Integer}, {Title: "Lines changed", Kind: document.Integer},
		col(colTonnes, "Before"), col(colTonnes, "After"), {Title: "Change", Unit: "%", Kind: document.Percent, Decimals: 2},
	}, Notes: []string{"Before and after are kg CO2e (AR5) of the lines in scope. A changed line keeps its earlier result versions (docs/history.md)."}}
	for _, r := range d.recalcs {
		t.Rows = append(t.Rows, []string{r.Name, r.Reason, recalcScope(r), r.State, stamp(r.CreateTime), stamp(r.FinishTime),
			strconv.FormatInt(r.LineCount, 10), strconv.FormatInt(r.LinesChanged, 10), tonnes(r.KgBefore), tonnes(r.KgAfter), r.ChangePct})
	}
	ps := []string{baseYearText(d)}
	if d.inv.AsOfDate != "" {
		ps = append(ps, "Recalculations asked for after "+d.inv.AsOfDate+" are left out. One finished after that day is not, or not wholly, in these figures: they are the inventory as calculated at the day's end.")
	}
	if len(d.recalcs) == 0 {
		ps = append(ps, "No recalculation has been made: every result is its first calculation.")
	}
	return document.Section{Title: "Base year and recalculations", Paragraphs: ps, Tables: []document.Table{t}}
}

func recalcScope(r Recalculation) string {
	var s []string
	if r.BaseYear {
		s = append(s, "base year")
	}
	if r.SupplierID != "" {
		s = append(s, "supplier "+r.SupplierID)
	}
	if r.FactorSet != "" {
		s = append(s, "lines of "+r.FactorSet)
	}
	if r.Year != 0 {
		s = append(s, "lines of "+strconv.Itoa(int(r.Year)))
	}
	if len(s) == 0 {
		return "every line"
	}
	return strings.Join(s, ", ")
}

// categoryChart is the calculated categories' emissions as bars.
func categoryChart(d data) document.Chart {
	ch := document.Chart{Kind: document.Bar, Title: "Emissions by Scope 3 category", XLabel: "Scope 3 category", YLabel: tonnesUnit}
	vals := []float64{}
	for _, c := range d.categories() {
		if c.has {
			ch.Labels = append(ch.Labels, "C"+strconv.Itoa(c.n))
			vals = append(vals, float(tonnes(c.c.Kg)))
		}
	}
	ch.Series = []document.Series{{Name: emissions, Values: vals}}
	return ch
}

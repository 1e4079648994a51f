// Package reports builds each report kind's document from the calculator's,
// hotspot's and engagement's data. Tables carry the exact decimals the
// services return, converted (kg to t) and rounded as decimals, never
// through float64; only chart values are floats.
package reports

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/vcci-dev/vcci/pkg/apperr"
	"github.com/vcci-dev/vcci/services/reporting/internal/document"
)

// Kind is a report kind, named as the API names it.
type Kind string

const (
	GHGInventory Kind = "GHG_INVENTORY"
	CDP          Kind = "CDP"
	ESRSE16      Kind = "ESRS_E1_6"
	SB253        Kind = "SB_253"
	HotspotPack  Kind = "HOTSPOT_PACK"
)

// Kinds lists every kind, in the order the API documents them.
var Kinds = []Kind{GHGInventory, CDP, ESRSE16, SB253, HotspotPack}

// Exclusion is a Scope 3 category the reporter leaves out, and why.
type Exclusion struct {
	Category int
	Reason   string
}

// Request is what a report is asked for.
type Request struct {
	Kind Kind
	// PeriodStart and PeriodEnd are the first and last days of the
	// reporting period (00:00 UTC), both included.
	PeriodStart, PeriodEnd time.Time
	// Snapshot is "inventorySnapshots/{id}", or empty for the inventory as
	// calculated now.
	Snapshot string
	// AsOf is a past day (00:00 UTC): the inventory as calculated at its
	// end. Zero: now. Not with a snapshot, nor for a hotspot pack.
	AsOf time.Time
	// GWPBasis is "AR4", "AR5", "AR6", or empty for the tenant's (a
	// snapshot's: the one it recorded).
	GWPBasis     string
	Organization string
	Exclusions   []Exclusion
}

// Sources is what the reports read; each call is for the tenant the
// context carries.
type Sources interface {
	// Inventory is the Scope 3 inventory with its groups.
	Inventory(ctx context.Context, q InventoryQuery) (Inventory, error)
	// MonthTotals are the emissions of every month with data, oldest first,
	// under basis ("" for the tenant's), as calculated at the end of day
	// asOf ("YYYY-MM-DD"; "": now).
	MonthTotals(ctx context.Context, basis, asOf string) ([]Total, error)
	// SupplierPareto ranks suppliers by the lines of q's period (empty:
	// every line) under its basis.
	SupplierPareto(ctx context.Context, topN int32, q ParetoQuery) (Pareto, error)
	// SupplierMethods are the methods of suppliers' lines of q's period
	// (empty: every line) under its basis.
	SupplierMethods(ctx context.Context, suppliers []string, q ParetoQuery) (SupplierMethods, error)
	// Engagements is each engaged supplier's latest campaign, by supplier id.
	Engagements(ctx context.Context) (map[string]Engagement, error)
	// SupplierFactors are the suppliers' own figures on file.
	SupplierFactors(ctx context.Context) ([]SupplierFactor, error)
	Settings(ctx context.Context) (Settings, error)
	// Recalculations are the tenant's recalculations, newest first.
	Recalculations(ctx context.Context) ([]Recalculation, error)
	FactorSets(ctx context.Context) ([]FactorSet, error)
	Snapshots(ctx context.Context) ([]Snapshot, error)
}

// InventoryQuery says which inventory to read. Iterations 0 is the
// calculator's default.
type InventoryQuery struct {
	Snapshot, GWPBasis     string
	AsOfDate               string // "YYYY-MM-DD"; "": now
	PeriodStart, PeriodEnd string // "YYYY-MM", first and last months; "": every month
	Iterations             int32
	IncludeGroups          bool
	IncludeMonths          bool
}

// Inventory is the calculator's inventory; quantities are exact kg CO2e.
type Inventory struct {
	GWPBasis, AsOfDate, Snapshot string
	TotalKg                      string
	LineCount                    int64
	Categories                   []Category
	Methods                      []MethodShare
	DataQuality                  DataQuality
	Uncertainty                  Uncertainty
	Iterations                   int32
	Seed                         uint64
	GroupCount, FactorCount      int32
	Groups                       []Group
	Months                       []Total // when IncludeMonths was asked: Key "YYYY-MM", Kg, Count
	ReadTime                     time.Time
}

// Category is one Scope 3 category of an inventory (Number 1..15).
type Category struct {
	Number      int
	Title       string
	Kg          string
	LineCount   int64
	Methods     []MethodShare
	DataQuality DataQuality
	Uncertainty Uncertainty
}

// MethodShare is the part of a total one method calculated.
type MethodShare struct {
	Method    string
	Kg        string
	LineCount int64
}

// DataQuality is an emissions-weighted data quality, 1 best to 5 worst;
// empty strings when nothing was scored.
type DataQuality struct {
	Technology, Time, Geography, Completeness, Reliability, Score string
}

// Uncertainty is a Monte Carlo range of kg CO2e; empty when none was run.
type Uncertainty struct{ P5, P50, P95 string }

// Group is the lines of one category, factor, method and data quality.
type Group struct {
	Category   int
	Factor     string // "factorSets/{set}/factors/{code}"
	Method     string
	Indicators string // "41344", or empty when not scored
	Kg         string
	LineCount  int64
}

// Total is one group of a breakdown (a month: Key "2024-03").
type Total struct {
	Key, Label, Kg, Spend string
	Count                 int64
}

// Pareto is the suppliers ranked by emissions, and what was ranked.
type Pareto struct {
	ParetoQuery
	Entries        []ParetoEntry
	TotalKg        string
	SupplierCount  int32
	Threshold      float64
	ThresholdCount int32
}

// ParetoQuery is the Pareto a hotspot pack asks for: its basis, where
// the pack is of its period's lines the period's months ("YYYY-MM";
// empty: every line), where it is of a snapshot that recorded its
// suppliers its name, and where it is as of a day that day
// ("YYYY-MM-DD"); a Pareto and methods say the same of what they read.
type ParetoQuery struct {
	GWPBasis               string
	PeriodStart, PeriodEnd string
	Snapshot, AsOfDate     string
}

// SupplierMethods are suppliers' lines by method, and what was read.
type SupplierMethods struct {
	ParetoQuery
	// By supplier id, methods by kg descending; a supplier without lines
	// is absent.
	Methods map[string][]MethodShare
}

// ParetoEntry is one ranked supplier.
type ParetoEntry struct {
	Rank           int32
	SupplierID     string
	Name           string
	Kg, Spend      string
	InThresholdSet bool
}

// Engagement is a supplier's place in its latest campaign.
type Engagement struct {
	Campaign, CampaignName string
	Status                 string    // "invited", "submitted" (its figures await review), "data received", "declined"
	Since                  time.Time // the campaign's start, or when the data was received or the target declined
}

// Engagement.Status once the supplier's figures were recorded since its
// campaign began, and once it was recorded as declining.
const (
	StatusDataReceived = "data received"
	StatusDeclined     = "declined"
)

// SupplierFactor is a supplier's own figure on file.
type SupplierFactor struct {
	SupplierID         string
	Kind               string // "supplier-company" or "supplier-product"
	ReportingYear      int32
	Verified           bool
	ValidFrom, ValidTo string
}

// Settings are the tenant's calculation settings.
type Settings struct {
	GWPBasis                          string
	BaseYear                          int32
	SignificanceThresholdPercent      string
	SpendFactorSet, ActivityFactorSet string
}

// Recalculation is a recalculation of stored lines.
type Recalculation struct {
	Name, Reason                 string
	SupplierID, FactorSet        string
	Year                         int32
	BaseYear, Significant        bool
	State                        string
	LineCount, LinesChanged      int64
	KgBefore, KgAfter, ChangePct string
	CreateTime, FinishTime       time.Time
}

// FactorSet is a factor library version the tenant sees.
type FactorSet struct {
	Name, DisplayName, Publisher, Version, Source, Region string
	Year                                                  int32
}

// Snapshot is a recorded inventory.
type Snapshot struct {
	Name, DisplayName string
	CreateTime        time.Time
	GWPBasis, TotalKg string
	Months            bool // its months recorded: a period can be read from it
	Suppliers         bool // its suppliers recorded: a hotspot pack ranks them
}

// checkIterations keeps an inventory read cheap that needs the
// categories, not a precise range (Check's, the hotspot pack's).
const checkIterations = 100

// Check refuses a request that cannot make a report, naming the field.
func Check(ctx context.Context, src Sources, r Request) error {
	if err := checkFields(r); err != nil {
		return err
	}
	snap, err := findSnapshot(ctx, src, r)
	if err != nil {
		return err
	}
	months, err := src.MonthTotals(ctx, r.GWPBasis, asOfDate(r))
	if err != nil {
		return err
	}
	// The inventory, a read of every group, answers only for exclusions
	// and for a tenant without dated data: most requests skip it.
	var inv Inventory
	if len(r.Exclusions) > 0 || !slices.ContainsFunc(months, hasData) {
		if inv, err = src.Inventory(ctx, inventoryQuery(r, snap, checkIterations, false)); err != nil {
			return err
		}
	}
	return checkData(r, byPeriod(r, snap), inv, months)
}

// findSnapshot is r's snapshot; the zero Snapshot for none.
func findSnapshot(ctx context.Context, src Sources, r Request) (Snapshot, error) {
	if r.Snapshot == "" {
		return Snapshot{}, nil
	}
	snaps, err := src.Snapshots(ctx)
	if err != nil {
		return Snapshot{}, err
	}
	i := slices.IndexFunc(snaps, func(s Snapshot) bool { return s.Name == r.Snapshot })
	if i < 0 {
		return Snapshot{}, apperr.Invalid("report.snapshot", "no snapshot %s", r.Snapshot)
	}
	return snaps[i], nil
}

// byPeriod reports whether r's figures are those of its period's lines. A
// snapshot recorded before snapshots kept their months holds every month's
// groups together: a report from it covers every month.
func byPeriod(r Request, snap Snapshot) bool {
	return r.Snapshot == "" || snap.Months
}

// inventoryQuery is the inventory r reads from snap (zero: none), of its
// period's months where byPeriod. From a snapshot with months it also asks
// for the snapshot's months.
func inventoryQuery(r Request, snap Snapshot, iterations int32, groups bool) InventoryQuery {
	q := InventoryQuery{Snapshot: r.Snapshot, AsOfDate: asOfDate(r), GWPBasis: r.GWPBasis, Iterations: iterations, IncludeGroups: groups,
		IncludeMonths: snap.Months || !r.AsOf.IsZero()}
	if byPeriod(r, snap) {
		q.PeriodStart, q.PeriodEnd = r.PeriodStart.Format(monthLayout), r.PeriodEnd.Format(monthLayout)
	}
	return q
}

// asOfDate is r's day as the calculator takes it; "" for now.
func asOfDate(r Request) string {
	if r.AsOf.IsZero() {
		return ""
	}
	return ymd(r.AsOf)
}

// monthLayout is a month's key, as the calculator's totals write it.
const monthLayout = "2006-01"

// inPeriod reports whether month key m ("YYYY-MM") is in r's period.
func inPeriod(r Request, m string) bool {
	return m >= r.PeriodStart.Format(monthLayout) && m <= r.PeriodEnd.Format(monthLayout)
}

func hasData(m Total) bool { return m.Count != 0 || !isZero(m.Kg) }

var bases = []string{"", "AR4", "AR5", "AR6"}

func checkFields(r Request) error {
	if !slices.Contains(Kinds, r.Kind) {
		return apperr.Invalid("report.kind", "must be one of %s, got %q", joinKinds(), r.Kind)
	}
	for _, d := range []struct {
		field string
		t     time.Time
	}{{"report.period_start", r.PeriodStart}, {"report.period_end", r.PeriodEnd}} {
		if d.t.IsZero() {
			return apperr.Invalid(d.field, "is required")
		}
		if !d.t.Equal(day(d.t)) {
			return apperr.Invalid(d.field, "must be a whole day (00:00 UTC), got %s", d.t.UTC().Format(time.RFC3339))
		}
	}
	if r.PeriodEnd.Before(r.PeriodStart) {
		return apperr.Invalid("report.period_end", "%s is before period_start %s", ymd(r.PeriodEnd), ymd(r.PeriodStart))
	}
	if r.Snapshot != "" {
		id, ok := strings.CutPrefix(r.Snapshot, "inventorySnapshots/")
		if !ok || id == "" || strings.Contains(id, "/") {
			return apperr.Invalid("report.snapshot", "must be inventorySnapshots/{id}, got %q", r.Snapshot)
		}
	}
	if !r.AsOf.IsZero() {
		switch {
		case !r.AsOf.Equal(day(r.AsOf)):
			return apperr.Invalid("report.as_of_date", "must be a whole day (00:00 UTC), got %s", r.AsOf.UTC().Format(time.RFC3339))
		case r.Snapshot != "":
			return apperr.Invalid("report.as_of_date", "give a snapshot or a day, not both")
		}
	}
	if !slices.Contains(bases, r.GWPBasis) {
		return apperr.Invalid("report.gwp_basis", "must be AR4, AR5, AR6 or empty, got %q", r.GWPBasis)
	}
	seen := map[int]bool{}
	for i, e := range r.Exclusions {
		field := fmt.Sprintf("report.exclusions[%d]", i)
		switch {
		case e.Category < 1 || e.Category > 15:
			return apperr.Invalid(field+".category", "must be a Scope 3 category from 1 to 15, got %d", e.Category)
		case seen[e.Category]:
			return apperr.Invalid(field+".category", "category %d is excluded twice", e.Category)
		case strings.TrimSpace(e.Reason) == "":
			return apperr.Invalid(field+".reason", "is required: an exclusion must be explained")
		}
		seen[e.Category] = true
	}
	return nil
}

// checkData refuses a period that is not whole months where the report
// is of its period's lines, a period with no data and, where the report
// is of every stored line, a period that leaves out a month with data.
// It also refuses excluding a category that has emissions, which would
// make the report's total differ from the inventory's.
func checkData(r Request, period bool, inv Inventory, months []Total) error {
	if period {
		const why = "the inventory is kept by month of the lines' dates, so a period is whole months"
		if r.PeriodStart.Day() != 1 {
			return apperr.Invalid("report.period_start", "must be the first day of a month (%s): %s", ymd(r.PeriodStart), why)
		}
		if r.PeriodEnd.AddDate(0, 0, 1).Day() != 1 {
			return apperr.Invalid("report.period_end", "must be the last day of a month (%s): %s", ymd(r.PeriodEnd), why)
		}
	}
	var data []string
	for _, m := range months {
		if hasData(m) && (!period || inPeriod(r, m.Key)) {
			data = append(data, m.Key)
		}
	}
	if len(data) == 0 && inv.LineCount == 0 {
		return apperr.Invalid("report.period_start", "the period %s to %s has no data: nothing is calculated", ymd(r.PeriodStart), ymd(r.PeriodEnd))
	}
	if period {
		return checkExclusions(r, inv)
	}
	var before, after []string
	for _, m := range data {
		start, err := time.Parse("2006-01", m)
		if err != nil {
			return fmt.Errorf("reports: month %q: %w", m, err)
		}
		switch {
		case r.PeriodStart.After(start):
			before = append(before, m)
		case r.PeriodEnd.Before(start.AddDate(0, 1, -1)):
			after = append(after, m)
		}
	}
	var vs []apperr.Violation
	const why = "a snapshot recorded before snapshots kept their months covers every stored line, so the period must cover every month with data; outside it: %s"
	if len(before) > 0 {
		vs = append(vs, apperr.Violation{Field: "report.period_start", Description: fmt.Sprintf(why, strings.Join(before, ", "))})
	}
	if len(after) > 0 {
		vs = append(vs, apperr.Violation{Field: "report.period_end", Description: fmt.Sprintf(why, strings.Join(after, ", "))})
	}
	if len(vs) > 0 {
		msg := make([]string, len(vs))
		for i, v := range vs {
			msg[i] = v.Field + ": " + v.Description
		}
		return &apperr.Error{Kind: apperr.InvalidArgument, Msg: strings.Join(msg, "; "), Violations: vs}
	}
	return checkExclusions(r, inv)
}

// checkExclusions refuses excluding a category inv has emissions in.
func checkExclusions(r Request, inv Inventory) error {
	for i, e := range r.Exclusions {
		for _, c := range inv.Categories {
			if c.Number == e.Category && (c.LineCount != 0 || !isZero(c.Kg)) {
				return apperr.Invalid(fmt.Sprintf("report.exclusions[%d].category", i),
					"category %d has %s t CO2e calculated; only a category without data can be excluded", e.Category, tonnes(c.Kg))
			}
		}
	}
	return nil
}

func joinKinds() string {
	s := make([]string, len(Kinds))
	for i, k := range Kinds {
		s[i] = string(k)
	}
	return strings.Join(s, ", ")
}

func day(t time.Time) time.Time {
	u := t.UTC()
	return time.Date(u.Year(), u.Month(), u.Day(), 0, 0, 0, 0, time.UTC)
}

func ymd(t time.Time) string { return t.UTC().Format("2006-01-02") }

// Build reads the sources and builds r's document. It checks r as Check
// does, against the data it reads, so that a report queued after Check
// still never covers a period its data does not fit.
func Build(ctx context.Context, src Sources, r Request) (document.Document, error) {
	if err := checkFields(r); err != nil {
		return document.Document{}, err
	}
	d, err := load(ctx, src, r)
	if err != nil {
		return document.Document{}, err
	}
	if err := d.checkDecimals(); err != nil {
		return document.Document{}, err
	}
	if err := checkData(r, d.period, d.inv, d.all); err != nil {
		return document.Document{}, err
	}
	var doc document.Document
	switch r.Kind {
	case GHGInventory:
		doc = ghgInventory(d)
	case CDP:
		doc = cdp(d)
	case ESRSE16:
		doc = esrs(d)
	case SB253:
		doc = sb253(d)
	case HotspotPack:
		doc = hotspotPack(d)
	}
	doc.Kind = string(r.Kind)
	doc.GeneratedAt = d.now
	doc.Subtitle = subtitle(d)
	if err := doc.Validate(); err != nil {
		return document.Document{}, fmt.Errorf("reports.Build: %w", err)
	}
	return doc, nil
}

func subtitle(d data) string {
	parts := []string{}
	if d.req.Organization != "" {
		parts = append(parts, d.req.Organization)
	}
	parts = append(parts, ymd(d.req.PeriodStart)+" to "+ymd(d.req.PeriodEnd), "GWP "+basisName(d.inv.GWPBasis))
	if d.inv.Snapshot != "" {
		parts = append(parts, "snapshot "+snapshotLabel(d))
	}
	if d.inv.AsOfDate != "" {
		parts = append(parts, "as of "+d.inv.AsOfDate)
	}
	return strings.Join(parts, " · ")
}

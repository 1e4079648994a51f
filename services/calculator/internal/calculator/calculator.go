// Package calculator turns spend lines into emissions with versioned factors
// and answers for every result's provenance.
package calculator

import (
	"cmp"
	"context"
	"fmt"
	"math/big"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/vcci-dev/vcci/pkg/apperr"
	"github.com/vcci-dev/vcci/pkg/decimal"
	"github.com/vcci-dev/vcci/pkg/refdata"
	"github.com/vcci-dev/vcci/services/calculator/internal/factors"
	"github.com/vcci-dev/vcci/services/calculator/internal/quality"
)

// Sentinels.
var (
	ErrResultNotFound = apperr.New(apperr.NotFound, "emission result not found")
	ErrSetNotFound    = apperr.New(apperr.NotFound, "factor set not found")
	ErrSetExists      = apperr.New(apperr.AlreadyExists, "a factor set of that name exists: a new version is a new set, with a new name")
	// ErrConflict is a write that lost to a concurrent one; the whole call
	// was rolled back and may be retried as is.
	ErrConflict               = apperr.New(apperr.Aborted, "concurrent write conflict; retry the call")
	ErrSupplierFactorNotFound = apperr.New(apperr.NotFound, "supplier factor not found")
	ErrSnapshotNotFound       = apperr.New(apperr.NotFound, "inventory snapshot not found")
	ErrSnapshotExists         = apperr.New(apperr.AlreadyExists, "an inventory snapshot of that name exists")
	ErrRecalculationNotFound  = apperr.New(apperr.NotFound, "recalculation not found")
)

// MaxBatch is the most lines one CalculateEmissions call takes.
const MaxBatch = 50_000

// DefaultSet is the factor set spend-based lines are calculated with.
const DefaultSet = "epa-supply-chain-v1.3.0"

// ActivitySet is the factor set activity lines are calculated with.
const ActivitySet = "desnz-2024"

// Methods recorded on results: spend x a spend-based factor, or a
// quantity of activity x an average factor for it (GHG Protocol Scope 3
// Calculation Guidance).
const (
	MethodSpendBased  = "spend-based"
	MethodAverageData = "average-data"
)

// FactorQuantityScale is the most decimals a quantity converted to its
// factor's unit keeps: a conversion that does not end (1 GJ = 2500/9 kWh)
// is rounded half away from zero there.
const FactorQuantityScale = 10

// Line is one purchase line to calculate.
type Line struct {
	TransactionID string
	Date          time.Time
	SupplierID    string
	NAICS         string
	Amount        string // exact decimal USD; Calculate sets it from Original
	Upload        int64  // the upload the line comes from
	// A line in another currency: its ISO 4217 code and amount; Calculate
	// sets the rate it was converted at, and the rate's month. Empty for USD.
	Currency, Original string
	FXRate             string
	FXMonth            time.Time
	// An activity line: the activity (a factor of the tenant's activity
	// set), its quantity and unit as given; Calculate sets the quantity in
	// the factor's unit and the set it resolved the activity in. NAICS is
	// then empty.
	Activity, Quantity, Unit string
	FactorQty                string
	ActivitySet              string
	// Category overrides the factor's default Scope 3 category; 0: none.
	Category int16
	// The price index that brings Amount to the factor set's base-year
	// dollars, and the month it is of; Calculate sets them.
	PriceIndex string
	PriceMonth time.Time
	// The supplier's product (matched to its footprints) and country.
	ProductID, SupplierCountry string
	// What Calculate decides (assess): the spend set, the method, the
	// supplier factor used (0: none) and the quantity it multiplies, the
	// data quality indicators (quality.Indicators.Pack).
	SpendSet       string
	Method         string
	SupplierFactor int64
	SupplierQty    string
	DQ             int32
	// Version is the result version to store: 0 or 1 for a first
	// calculation, one more than the stored one for a recalculation.
	Version int32
}

// FactorSet is a factor library version.
type FactorSet struct {
	Name, DisplayName, Publisher, Version, Unit, Source string
	Count                                               int32 // its factors
	Region                                              string
	Year                                                int16 // data year; 0: not recorded
	Kind                                                factors.Kind
	// A spend set's price year and that year's average CPI-U; 0 and "" for
	// an activity set.
	PriceYear int16
	PriceBase string
}

// Factor is one factor of a set, with what the set says of it.
type Factor struct {
	Set, Code, Title, Value, Unit string // Value: kg CO2e per Unit, AR5
	Category                      int16  // 0: none by default
	SetVersion, Source, Region    string
	Year                          int16
	Licence                       string
	// ActivityUnit is the unit of activity an activity factor is per
	// (a pkg/units id, "litre"); Unit is then "kg CO2e/litre".
	ActivityUnit string
	// The factor's gases, in GasUnit (kg, or kg CO2e under AR5), and its
	// CO2e re-expressed under AR4 and AR6.
	Gases    []Gas
	GasUnit  string
	AR4, AR6 string
}

// Gas is one gas of a factor, per unit.
type Gas struct{ Gas, Value string }

// FactorNotFound is the error for a factor that does not exist, naming it.
func FactorNotFound(k FactorKey) error {
	return apperr.New(apperr.NotFound, fmt.Sprintf("factor factorSets/%s/factors/%s not found", k.Set, k.Code))
}

// AllSets is the FactorQuery set that reads the factors of every set.
const AllSets = "-"

// MaxFactorPage bounds a page of ListFactors.
const MaxFactorPage = 1000

// DefaultFactorOrder is the order of a ListFactors call that names none.
const DefaultFactorOrder = "code"

// FactorOrders are the orders ListFactors takes, by their order_by text.
func FactorOrders() []string {
	return []string{DefaultFactorOrder, "code desc", "title", "title desc", "value", "value desc"}
}

// CondOp is how a filter condition compares.
type CondOp int

const (
	OpEquals   CondOp = iota + 1
	OpPrefix          // the field starts with the value
	OpContains        // the field contains the value, ignoring case
)

// FactorCond is one condition of a factor filter: Field is one of
// category, code, title, unit, region, year.
type FactorCond struct {
	Field string
	Op    CondOp
	Value string
}

// FactorQuery is a validated ListFactors call; its conditions all hold.
type FactorQuery struct {
	Set   string // a set's name, or AllSets
	Conds []FactorCond
	Order string   // one of FactorOrders()
	Limit int      // 1 to MaxFactorPage
	After []string // the sort keys of the last factor served
}

// FactorPage is one page of factors.
type FactorPage struct {
	Factors []Factor
	Next    []string // sort keys to resume after; nil on the last page
	Total   int64    // factors matching the set and conditions
}

// Result is one line's stored emissions with provenance.
type Result struct {
	TransactionID, Upload                      string
	Date                                       time.Time
	SupplierID, NAICS, Amount                  string
	Category                                   int16
	Method, Set, SetVersion, FactorValue, Unit string
	Kg                                         string
	CalculatedAt                               time.Time
	// The price adjustment (empty on results stored before it): Amount in
	// base-year dollars, the index and its month ("YYYY-MM"), the base
	// year's average index and the year.
	AmountBase, PriceIndex, PriceMonth, PriceBase string
	PriceYear                                     int16
	// The conversion of a line not in dollars (empty for USD): its
	// currency and amount, the rate and its month ("YYYY-MM").
	Currency, Original, FXRate, FXMonth string
	// An activity line's activity, quantity and unit as given, and the
	// quantity in the factor's unit of activity (empty on spend lines).
	Activity, Quantity, QtyUnit, FactorQty, ActivityUnit string
	// CO2e under AR4 and AR6 (Kg is AR5), and the line's gases in GasUnit.
	KgAR4, KgAR6 string
	Gases        []Gas
	GasUnit      string
	// The line's product and supplier country as given, its data quality
	// indicators (quality.Indicators.Pack; 0: not assessed, stored before
	// they were), the result's version and the supplier factor used (0:
	// none).
	ProductID, SupplierCountry string
	DQ                         int32
	Version                    int32
	FactorCode                 string // the factor's code in Set
}

// Dimension is what a summary groups by.
type Dimension int

const (
	BySupplier Dimension = iota + 1
	ByCategory
	ByNAICS
	ByMonth
)

// Group is one group of a summary.
type Group struct {
	Key, Label, Kg, Spend string
	Count                 int64
	Share                 float64
}

// Summary is a grouped total.
type Summary struct {
	Groups            []Group
	TotalKg, TotalUSD string
	Count             int64
	GroupCount        int32
	Basis             refdata.Basis // the GWP basis kg CO2e are under
	Period            Period        // the lines' period; zero: every line
	// The first and last months with lines ("YYYY-MM"; "" when none), of
	// a summary of every line.
	FirstMonth, LastMonth string
}

// SupplierMethods are suppliers' emissions by method, of a period's lines.
type SupplierMethods struct {
	Suppliers []SupplierMix // as asked; one without lines is left out
	Basis     refdata.Basis
	Period    Period // zero: every line
}

// SupplierMix is one supplier's lines by method, by kg descending, each
// share of the supplier's kg CO2e (0 when that is zero).
type SupplierMix struct {
	SupplierID, Kg string
	Count          int64
	Methods        []MethodShare
}

// SupplierMethod is a row the store reads: one supplier's lines of one
// method.
type SupplierMethod struct {
	SupplierID, Method, Kg string
	Count                  int64
}

// Period is a range of whole months, From and To their first days, both
// included; the zero Period is every stored line. Snapshot, when not 0,
// reads the lines' groups as that snapshot recorded them; Day, when set
// (00:00 UTC), as they were calculated at the end of that day.
type Period struct {
	From, To time.Time
	Snapshot int64
	Day      time.Time
}

// Set reports whether p is a period rather than every line.
func (p Period) Set() bool { return !p.From.IsZero() }

// End is the first day after p.
func (p Period) End() time.Time { return p.To.AddDate(0, 1, 0) }

// Bounds are p's first day and the first day after it; every month a
// line can have when p is not Set.
func (p Period) Bounds() (from, end time.Time) {
	if !p.Set() {
		return time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(9999, 12, 1, 0, 0, 0, 0, time.UTC)
	}
	return p.From, p.End()
}

// holds reports whether the months first to last ("YYYY-MM"; "" for no
// lines) are all in p.
func (p Period) holds(first, last string) bool {
	return first == "" || first >= p.From.Format("2006-01") && last <= p.To.Format("2006-01")
}

// Settings are a tenant's calculation settings.
type Settings struct {
	Basis      refdata.Basis // AR5 until changed
	UpdateTime time.Time     // zero: never changed
	// The sets spend and activity lines are calculated with: DefaultSet
	// and ActivitySet until changed. "" in an update: unchanged.
	SpendSet, ActivitySet string
	// The base year (0: none; in an update 0 is unchanged and ClearBaseYear
	// clears it) and the change, in percent, that makes its recalculation
	// significant ("" in an update: unchanged).
	BaseYear  int16
	Threshold string
}

// ClearBaseYear is the BaseYear of an update that removes the base year.
const ClearBaseYear = -1

// checkSettings checks an update's base year and threshold.
func checkSettings(set Settings) error {
	if set.BaseYear != 0 && set.BaseYear != ClearBaseYear && (set.BaseYear < 1990 || set.BaseYear > 2100) {
		return apperr.Invalid("settings.base_year", "%d is outside 1990..2100", set.BaseYear)
	}
	if set.Threshold == "" {
		return nil
	}
	v, ok := new(big.Rat).SetString(set.Threshold)
	if !ok || !amountRe.MatchString(set.Threshold) || v.Sign() < 0 || v.Cmp(big.NewRat(100, 1)) > 0 {
		return apperr.Invalid("settings.significance_threshold_percent", "%q is not a decimal percentage from 0 to 100", set.Threshold)
	}
	return nil
}

// Calculated is what a batch stored.
type Calculated struct {
	Stored, Skipped int64
	Kg              string
	// Suppliers totals the batch's lines (stored now or before) by supplier.
	Suppliers []Group
	// Uploads splits the same lines by upload, ascending.
	Uploads []UploadShare
}

// UploadShare is one upload's lines in a batch, totalled.
type UploadShare struct {
	Upload    int64
	Kg        string
	Count     int64
	Suppliers []Group // by supplier, ascending
}

// Store is the persistence the calculator needs.
type Store interface { //nolint:interfacebloat // one store per service: factors, results, summaries, settings

	FactorSets(ctx context.Context, tenant uuid.UUID) ([]FactorSet, error)
	Factors(ctx context.Context, tenant uuid.UUID, keys []FactorKey) ([]Factor, error)
	// SetFactors returns every factor of one set.
	SetFactors(ctx context.Context, tenant uuid.UUID, set string) ([]Factor, error)
	// ListFactors reads a page of factors; ErrSetNotFound for a set that
	// is not there.
	ListFactors(ctx context.Context, tenant uuid.UUID, q FactorQuery) (FactorPage, error)
	// Calculate stores the lines' results; each line names its upload.
	// Spend lines use the tenant's spend set, activity lines its activity
	// set (Settings); ErrConflict when that is no longer the set an
	// activity line was resolved in.
	Calculate(ctx context.Context, tenant uuid.UUID, lines []Line) (Calculated, error)
	Result(ctx context.Context, tenant uuid.UUID, transactionID string) (Result, error)
	// Results reads by id; dates, when not nil, are the ids' dates.
	Results(ctx context.Context, tenant uuid.UUID, transactionIDs []string, dates []time.Time) ([]Result, error)
	// Summarize groups the tenant's emissions from their running totals;
	// basis "" is the tenant's. SummarizePeriod groups those of the lines
	// dated in p (every line when p is not Set), read from their groups
	// by month, today's, as of p.Day or p.Snapshot's (its basis when basis
	// is ""); ErrSnapshotNotFound for a snapshot that is not there. Months
	// are the first and last months with lines ("YYYY-MM"; "" when none).
	Summarize(ctx context.Context, tenant uuid.UUID, dim Dimension, limit int, basis refdata.Basis) (Summary, error)
	SummarizePeriod(ctx context.Context, tenant uuid.UUID, dim Dimension, limit int, basis refdata.Basis, p Period) (Summary, error)
	// MonthsAsOf groups by month the lines dated in p (not Set: every
	// line) as calculated at the end of p.Day, from the inventory's months.
	MonthsAsOf(ctx context.Context, tenant uuid.UUID, limit int, basis refdata.Basis, p Period) (Summary, error)
	Months(ctx context.Context, tenant uuid.UUID) (first, last string, err error)
	// SupplierMethods reads suppliers' emissions by method of the lines
	// dated in p (not Set: every line; as of p.Day or of p.Snapshot if
	// set) under basis ("": the tenant's or the snapshot's).
	SupplierMethods(ctx context.Context, tenant uuid.UUID, suppliers []string, basis refdata.Basis, p Period) ([]SupplierMethod, refdata.Basis, error)
	// Settings reads the tenant's settings (the defaults until changed);
	// UpdateSettings stores them.
	Settings(ctx context.Context, tenant uuid.UUID) (Settings, error)
	UpdateSettings(ctx context.Context, tenant uuid.UUID, s Settings) (Settings, error)
	// ImportSet stores a new set of the tenant's; ErrSetExists when its
	// name is taken.
	ImportSet(ctx context.Context, tenant uuid.UUID, set factors.Set, fs []factors.Factor) (FactorSet, error)
	// SupplierFactorsOf reads the figures of the suppliers named (sorted),
	// each supplier's newest first.
	SupplierFactorsOf(ctx context.Context, tenant uuid.UUID, suppliers []string) ([]SupplierFactor, error)
	// CreateSupplierFactor stores a figure and its factor f (code and
	// values set, the code filled from the new id) in the tenant's
	// SupplierSet, creating that set with its first figure.
	CreateSupplierFactor(ctx context.Context, tenant uuid.UUID, sf SupplierFactor, f factors.Factor) (SupplierFactor, error)
	SupplierFactor(ctx context.Context, tenant uuid.UUID, id int64) (SupplierFactor, error)
	// ListSupplierFactors reads a page of the figures f selects, newest
	// first, after the id given (0: from the newest).
	ListSupplierFactors(ctx context.Context, tenant uuid.UUID, f FactorFilter, limit int, after int64) ([]SupplierFactor, error)
	// InventoryGroups reads the inventory's groups: now (day zero, no
	// snapshot), as of the end of day, or as a snapshot recorded them.
	InventoryGroups(ctx context.Context, tenant uuid.UUID, at InventoryAt) (InventoryData, error)
	CreateSnapshot(ctx context.Context, tenant uuid.UUID, name string) (Snapshot, error)
	Snapshots(ctx context.Context, tenant uuid.UUID) ([]Snapshot, error)
	RecalculationStore
}

// FactorKey names a factor.
type FactorKey struct{ Set, Code string }

// SummaryCache keeps summaries between writes; Invalidate is called after
// every write of a tenant's emissions.
type SummaryCache interface {
	Summary(ctx context.Context, tenant uuid.UUID, dim Dimension, limit int, basis refdata.Basis, compute func(context.Context) (Summary, error)) (Summary, error)
	Invalidate(ctx context.Context, tenant uuid.UUID)
}

// FactorCache keeps whole factor sets.
type FactorCache interface {
	Set(ctx context.Context, tenant uuid.UUID, set string, load func(context.Context) ([]Factor, error)) ([]Factor, error)
	// Invalidate forgets the tenant's sets: a set it asked for before
	// importing it was cached as empty.
	Invalidate(ctx context.Context, tenant uuid.UUID)
}

// Service is the calculator's business logic.
type Service struct {
	store    Store
	cache    SummaryCache
	factors  FactorCache
	settings SettingsCache
	totals   SupplierTotals // nil: no intake to keep in step
	indexes  indexes        // the cached sets, parsed
	memo     *quality.Memo  // the inventories' recent simulations
}

// memoBytes bounds the simulations kept: a 10,000-iteration one takes
// 1.3 MB and its groups.
const memoBytes = 16 << 20

// SettingsCache keeps tenants' settings between changes; Invalidate is
// called after every change of a tenant's.
type SettingsCache interface {
	Settings(ctx context.Context, tenant uuid.UUID, load func(context.Context) (Settings, error)) (Settings, error)
	Invalidate(ctx context.Context, tenant uuid.UUID)
}

// New returns a Service; any cache may be nil.
func New(store Store, cache SummaryCache, sets FactorCache, settings SettingsCache) *Service {
	return &Service{store: store, cache: cache, factors: sets, settings: settings, memo: quality.NewMemo(memoBytes)}
}

var (
	amountRe = regexp.MustCompile(`^-?\d{1,14}(\.\d{1,4})?$`)
	naicsRe  = regexp.MustCompile(`^\d{6}$`)
)

// Calculate validates lines and stores their emissions; lines already
// calculated are skipped. Each line names its upload.
func (s *Service) Calculate(ctx context.Context, tenant uuid.UUID, lines []Line) (Calculated, error) {
	if len(lines) == 0 {
		return Calculated{Kg: "0"}, nil
	}
	if len(lines) > MaxBatch {
		return Calculated{}, apperr.Invalid("lines", "at most %d lines per call, got %d", MaxBatch, len(lines))
	}
	for i, l := range lines {
		if err := checkStored(l, lineField(i)); err != nil {
			return Calculated{}, err
		}
	}
	if err := s.prepare(ctx, tenant, lines); err != nil {
		return Calculated{}, err
	}
	st, err := s.Settings(ctx, tenant)
	if err != nil {
		return Calculated{}, err
	}
	if err := s.assess(ctx, tenant, cmp.Or(st.SpendSet, DefaultSet), lines); err != nil {
		return Calculated{}, err
	}
	out, err := s.store.Calculate(ctx, tenant, lines)
	if err == nil && out.Stored > 0 && s.cache != nil {
		s.cache.Invalidate(ctx, tenant)
	}
	return out, err
}

// lineField names a field of lines[i].
func lineField(i int) func(string) string {
	return func(f string) string { return fmt.Sprintf("lines[%d].%s", i, f) }
}

// checkStored checks what only a line to store needs: the transaction and
// supplier it is stored under and the upload it comes from.
func checkStored(l Line, field func(string) string) error {
	switch {
	case l.TransactionID == "":
		return apperr.Invalid(field("transaction_id"), "required")
	case l.SupplierID == "":
		return apperr.Invalid(field("supplier_id"), "required")
	case l.Upload <= 0:
		return apperr.Invalid(field("upload"), "required")
	}
	return nil
}

// prepare validates lines for either path, stored or not, and completes
// them: amounts in USD, activity quantities in their factor's unit, each
// spend line's price index.
func (s *Service) prepare(ctx context.Context, tenant uuid.UUID, lines []Line) error {
	for i := range lines {
		if err := checkLine(&lines[i], lineField(i)); err != nil {
			return err
		}
	}
	if err := s.resolveActivities(ctx, tenant, lines); err != nil {
		return err
	}
	return convertLines(lines)
}

// checkLine checks one line's own fields, whatever is done with it.
func checkLine(l *Line, field func(string) string) error {
	switch {
	// PostgreSQL's text cannot hold a NUL byte: stored, it would fail
	// the call.
	case strings.ContainsRune(l.TransactionID, 0):
		return apperr.Invalid(field("transaction_id"), "contains a NUL byte")
	case strings.ContainsRune(l.SupplierID, 0):
		return apperr.Invalid(field("supplier_id"), "contains a NUL byte")
	case l.Category < 0 || l.Category > 15:
		return apperr.Invalid(field("category"), "%d is not a Scope 3 category (1 to 15)", l.Category)
	case l.Activity == "" && !naicsRe.MatchString(l.NAICS):
		return apperr.Invalid(field("naics_code"), "%q is not a 6-digit NAICS code", l.NAICS)
	case l.Activity != "" && l.Amount == "" && l.Original == "":
		l.Amount = "0" // no spend recorded
	}
	return checkAmount(l, field)
}

// checkAmount checks a line's amount: in USD (amount_usd, or amount with
// currency USD) or in another currency (amount and currency).
func checkAmount(l *Line, field func(string) string) error {
	switch {
	case l.Currency == "" || l.Currency == "USD":
		if l.Amount == "" {
			l.Amount = l.Original
		} else if l.Original != "" && l.Original != l.Amount {
			return apperr.Invalid(field("amount"), "%q differs from amount_usd %q; give one", l.Original, l.Amount)
		}
		l.Currency, l.Original = "", ""
		if !amountRe.MatchString(l.Amount) {
			return apperr.Invalid(field("amount_usd"), "%q is not a decimal amount with at most 4 decimals", l.Amount)
		}
	case l.Amount != "":
		return apperr.Invalid(field("amount_usd"), "must be empty for a line in %s: the calculator converts amount", l.Currency)
	case !amountRe.MatchString(l.Original):
		return apperr.Invalid(field("amount"), "%q is not a decimal amount with at most 4 decimals", l.Original)
	}
	return nil
}

// convertLines converts each line not in dollars at its month's average
// rate (refdata.FX) and sets each line's price index: CPI-U of its month,
// or of the latest published month before it (refdata.PriceIndex.At).
func convertLines(lines []Line) error {
	cpi, err := refdata.CPIU()
	if err != nil {
		return fmt.Errorf("calculator: %w", err)
	}
	fx, err := refdata.FX()
	if err != nil {
		return fmt.Errorf("calculator: %w", err)
	}
	memo := map[time.Time]refdata.Observation{}
	for i := range lines {
		l := &lines[i]
		m := time.Date(l.Date.Year(), l.Date.Month(), 1, 0, 0, 0, 0, time.UTC)
		if l.Currency != "" {
			rate, err := fx.Rate(l.Currency, m)
			if err != nil {
				return apperr.Invalid(fmt.Sprintf("lines[%d].currency", i), "%v", err)
			}
			a, _, _ := decimal.Parse(l.Original) // checked by checkAmount
			l.Amount, l.FXRate, l.FXMonth = rate.ToUSD(a), rate.UnitsPerUSD, m
		}
		if l.Activity != "" {
			continue // not priced: the factor is per unit of activity
		}
		o, ok := memo[m]
		if !ok {
			if o, err = cpi.At(m); err != nil {
				return apperr.Invalid(fmt.Sprintf("lines[%d].date", i), "%v", err)
			}
			memo[m] = o
		}
		l.PriceIndex, l.PriceMonth = o.Index, o.Month
	}
	return nil
}

// FactorSets lists the loaded factor sets.
func (s *Service) FactorSets(ctx context.Context, tenant uuid.UUID) ([]FactorSet, error) {
	return s.store.FactorSets(ctx, tenant)
}

// Factors resolves factors; unknown ones are left out.
func (s *Service) Factors(ctx context.Context, tenant uuid.UUID, keys []FactorKey) ([]Factor, error) {
	if len(keys) > 1000 {
		return nil, apperr.Invalid("names", "at most 1000 names, got %d", len(keys))
	}
	if len(keys) == 0 {
		return nil, nil
	}
	if s.factors == nil {
		return s.store.Factors(ctx, tenant, keys)
	}
	// Answered from whole cached sets: a set is read once, not per call.
	sets := map[string]setIndex{}
	out := make([]Factor, 0, len(keys))
	for _, k := range keys {
		m, ok := sets[k.Set]
		if !ok {
			var err error
			if m, err = s.index(ctx, tenant, k.Set); err != nil {
				return nil, err
			}
			sets[k.Set] = m
		}
		if f, ok := m[k.Code]; ok {
			out = append(out, f.Factor)
		}
	}
	return out, nil
}

// Factor returns one factor, from the cached set when there is a cache.
func (s *Service) Factor(ctx context.Context, tenant uuid.UUID, k FactorKey) (Factor, error) {
	fs, err := s.Factors(ctx, tenant, []FactorKey{k})
	if err != nil {
		return Factor{}, err
	}
	if len(fs) == 0 {
		return Factor{}, FactorNotFound(k)
	}
	return fs[0], nil
}

// ListFactors reads one page of factors.
func (s *Service) ListFactors(ctx context.Context, tenant uuid.UUID, q FactorQuery) (FactorPage, error) {
	return s.store.ListFactors(ctx, tenant, q)
}

// Result returns one transaction's result.
func (s *Service) Result(ctx context.Context, tenant uuid.UUID, transactionID string) (Result, error) {
	return s.store.Result(ctx, tenant, transactionID)
}

// Results returns the results of the transactions named; ids not
// calculated are left out.
func (s *Service) Results(ctx context.Context, tenant uuid.UUID, ids []string, dates []time.Time) ([]Result, error) {
	if len(ids) > 1000 {
		return nil, apperr.Invalid("names", "at most 1000 names, got %d", len(ids))
	}
	if len(ids) == 0 {
		return nil, nil
	}
	return s.store.Results(ctx, tenant, ids, dates)
}

// Summarize totals emissions by dim under the tenant's GWP basis; limit 0
// means every group.
func (s *Service) Summarize(ctx context.Context, tenant uuid.UUID, dim Dimension, limit int) (Summary, error) {
	return s.SummarizeUnder(ctx, tenant, dim, limit, "", Period{})
}

// SummarizeUnder is Summarize under basis ("": the tenant's), of the lines
// dated in p (zero: every line). Each basis has its own totals, kept as
// lines are stored: switching reads other columns of the same rows. A
// period holding every month with data reads the same totals; one that
// leaves some out is totalled from its lines. A snapshot's figures are
// read from its copy, a day's from the daily logs, never cached; by month
// as of a day, the inventory's months (logged since before suppliers and
// categories were).
func (s *Service) SummarizeUnder(ctx context.Context, tenant uuid.UUID, dim Dimension, limit int, basis refdata.Basis, p Period) (Summary, error) {
	if dim < BySupplier || dim > ByMonth {
		return Summary{}, apperr.Invalid("group_by", "must be one of SUPPLIER, CATEGORY, NAICS, MONTH")
	}
	if limit < 0 {
		return Summary{}, apperr.Invalid("limit", "must not be negative")
	}
	if err := checkSummaryPeriod(p); err != nil {
		return Summary{}, err
	}
	switch {
	case !p.Day.IsZero() && dim == ByMonth:
		return s.store.MonthsAsOf(ctx, tenant, limit, basis, p)
	case !p.Day.IsZero() && dim == ByNAICS:
		return Summary{}, apperr.Invalid("group_by", "NAICS codes are not kept by day: group by supplier, category or month")
	case p.Snapshot != 0 && dim == ByNAICS:
		return Summary{}, apperr.Invalid("group_by", "a snapshot keeps suppliers, categories and months, not NAICS codes")
	case p.Snapshot != 0 || !p.Day.IsZero():
		return s.store.SummarizePeriod(ctx, tenant, dim, limit, basis, p)
	}
	if p.Set() {
		first, last, err := s.store.Months(ctx, tenant)
		if err != nil {
			return Summary{}, err
		}
		if !p.holds(first, last) {
			return s.store.SummarizePeriod(ctx, tenant, dim, limit, basis, p)
		}
	}
	load := func(ctx context.Context) (Summary, error) { return s.store.Summarize(ctx, tenant, dim, limit, basis) }
	var sum Summary
	var err error
	if s.cache == nil {
		sum, err = load(ctx)
	} else {
		sum, err = s.cache.Summary(ctx, tenant, dim, limit, basis, load)
	}
	if err != nil || !p.Set() {
		return sum, err
	}
	// The totals carry their own months: lines stored outside the period
	// since Months was read send the summary to the lines after all.
	if !p.holds(sum.FirstMonth, sum.LastMonth) {
		return s.store.SummarizePeriod(ctx, tenant, dim, limit, basis, p)
	}
	sum.Period = p
	return sum, nil
}

// checkSummaryPeriod checks p's months, and that it is of a snapshot or of
// a day (a whole one), not both.
func checkSummaryPeriod(p Period) error {
	switch {
	case p.Snapshot != 0 && !p.Day.IsZero():
		return apperr.Invalid("as_of_date", "give a snapshot or a day, not both")
	case !p.Day.Equal(p.Day.Truncate(24 * time.Hour)):
		return fmt.Errorf("calculator: %s is not a day", p.Day)
	}
	return checkPeriod(InventoryAt{From: p.From, To: p.To})
}

// MaxSupplierMethods is how many suppliers one SupplierMethods call reads.
const MaxSupplierMethods = 1000

// SupplierMethods are the methods that calculated each supplier's lines
// dated in p (zero: every line; as of its day or snapshot, if any), with
// their kg CO2e under basis ("": the tenant's), lines and share of the
// supplier's kg: which of a hotspot's suppliers are on their own data and
// which on averages.
func (s *Service) SupplierMethods(ctx context.Context, tenant uuid.UUID, suppliers []string, basis refdata.Basis, p Period) (SupplierMethods, error) {
	switch {
	case len(suppliers) == 0:
		return SupplierMethods{}, apperr.Invalid("supplier_ids", "name at least one supplier")
	case len(suppliers) > MaxSupplierMethods:
		return SupplierMethods{}, apperr.Invalid("supplier_ids", "at most %d suppliers, got %d", MaxSupplierMethods, len(suppliers))
	}
	seen := make(map[string]bool, len(suppliers))
	for i, id := range suppliers {
		if id == "" || seen[id] {
			return SupplierMethods{}, apperr.Invalid(fmt.Sprintf("supplier_ids[%d]", i), "%q is empty or named twice", id)
		}
		seen[id] = true
	}
	if err := checkSummaryPeriod(p); err != nil {
		return SupplierMethods{}, err
	}
	rows, basis, err := s.store.SupplierMethods(ctx, tenant, suppliers, basis, p)
	if err != nil {
		return SupplierMethods{}, err
	}
	out := SupplierMethods{Basis: basis, Period: p}
	bySupplier := map[string][]SupplierMethod{}
	for _, r := range rows {
		bySupplier[r.SupplierID] = append(bySupplier[r.SupplierID], r)
	}
	// In the order asked; each supplier's total and shares exact until the
	// ratio (the store's kg are all at one scale).
	for _, id := range suppliers {
		rs := bySupplier[id]
		if len(rs) == 0 {
			continue
		}
		type method struct {
			MethodShare
			kg *big.Int
		}
		ms := make([]method, len(rs))
		total, scale := new(big.Int), 0
		for i, r := range rs {
			kg, sc, err := decimal.ParseScaled(r.Kg)
			if err != nil {
				return SupplierMethods{}, fmt.Errorf("calculator.SupplierMethods: %w", err)
			}
			if i > 0 && sc != scale {
				return SupplierMethods{}, fmt.Errorf("calculator.SupplierMethods: kg %q not at scale %d", r.Kg, scale)
			}
			scale, ms[i] = sc, method{MethodShare{Method: r.Method, Kg: r.Kg, Count: r.Count}, kg}
			total.Add(total, kg)
		}
		// By kg descending, then best data first.
		slices.SortFunc(ms, func(a, b method) int {
			if c := b.kg.Cmp(a.kg); c != 0 {
				return c
			}
			return methodRank(a.Method) - methodRank(b.Method)
		})
		mix := SupplierMix{SupplierID: id, Kg: decimal.FormatScaled(total, scale)}
		for _, m := range ms {
			m.Share = share(m.kg, total)
			mix.Count += m.Count
			mix.Methods = append(mix.Methods, m.MethodShare)
		}
		out.Suppliers = append(out.Suppliers, mix)
	}
	return out, nil
}

// Settings returns the tenant's calculation settings, from the cache when
// there is one.
func (s *Service) Settings(ctx context.Context, tenant uuid.UUID) (Settings, error) {
	load := func(ctx context.Context) (Settings, error) { return s.store.Settings(ctx, tenant) }
	if s.settings == nil {
		return load(ctx)
	}
	return s.settings.Settings(ctx, tenant, load)
}

// UpdateSettings stores the tenant's settings; its cached settings and its
// summaries under its basis are forgotten, so the next read is under the
// new ones.
func (s *Service) UpdateSettings(ctx context.Context, tenant uuid.UUID, set Settings) (Settings, error) {
	if err := checkSettings(set); err != nil {
		return Settings{}, err
	}
	out, err := s.store.UpdateSettings(ctx, tenant, set)
	if err == nil && s.settings != nil {
		s.settings.Invalidate(ctx, tenant)
	}
	if err == nil && s.cache != nil {
		s.cache.Invalidate(ctx, tenant)
	}
	return out, err
}

// CategoryName returns the name of GHG Protocol Scope 3 category c (1 to
// 15).
func CategoryName(c int) (string, bool) {
	if c < 1 || c >= len(categoryNames) {
		return "", false
	}
	return categoryNames[c], true
}

// categoryNames are the Scope 3 categories, 1-based; never written.
var categoryNames = [16]string{"",
	"Purchased goods and services", "Capital goods", "Fuel- and energy-related activities",
	"Upstream transportation and distribution", "Waste generated in operations", "Business travel",
	"Employee commuting", "Upstream leased assets", "Downstream transportation and distribution",
	"Processing of sold products", "Use of sold products", "End-of-life treatment of sold products",
	"Downstream leased assets", "Franchises", "Investments"}

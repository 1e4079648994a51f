package calculator

import (
	"cmp"
	"context"
	"fmt"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/vcci-dev/vcci/pkg/apperr"
	"github.com/vcci-dev/vcci/pkg/decimal"
	"github.com/vcci-dev/vcci/pkg/refdata"
	"github.com/vcci-dev/vcci/services/calculator/internal/quality"
)

// InventoryAt is when an inventory is read: now (the zero value), as of
// the end of a UTC day, or as a snapshot recorded it; and of which lines:
// every line, or those dated in the months From to To (not as of a day).
type InventoryAt struct {
	Day      time.Time
	Snapshot int64
	From, To time.Time // first days of the period's first and last months; zero: every month
	Months   bool      // also total it by month
}

// Period reports whether at reads a period rather than every month.
func (at InventoryAt) Period() bool { return !at.From.IsZero() }

// InventoryRow is one stored inventory group: the lines of one category
// calculated with one factor by one method with the same indicators, under
// each GWP basis.
type InventoryRow struct {
	Category     int16
	Set, Code    string
	Method       string
	DQ           int32 // quality.Indicators.Pack; 0: not assessed
	Kg, Kg4, Kg6 string
	Spend        string
	Count        int64
}

// MonthRow is one month of an inventory's lines, under each GWP basis.
type MonthRow struct {
	Month        time.Time
	Kg, Kg4, Kg6 string
	Count        int64
}

// MonthTotal is one month of an inventory, under its basis.
type MonthTotal struct {
	Month time.Time
	Kg    string
	Count int64
}

// InventoryData is what the store reads of an inventory.
type InventoryData struct {
	Months   []MonthRow // when asked
	Rows     []InventoryRow
	Basis    refdata.Basis // the tenant's now, or the snapshot's
	ReadTime time.Time
}

// Snapshot is an inventory recorded under a name.
type Snapshot struct {
	ID         int64
	Name       string
	Basis      refdata.Basis
	CreateTime time.Time
	Months     bool   // its months recorded: a period can be read from it
	Suppliers  bool   // its summaries' months recorded: Period.Snapshot reads them
	Kg         string // under Basis
	Count      int64
}

// MethodShare is the part of a total one method calculated.
type MethodShare struct {
	Method string
	Kg     string
	Count  int64
	Share  float64
}

// Quality is a weighted data quality: each indicator's and the score.
type Quality struct {
	Indicators quality.IndicatorScores
	Score      string
}

// CategoryTotal is one category of an inventory.
type CategoryTotal struct {
	Category    int16
	Kg          string
	Count       int64
	Share       float64
	Methods     []MethodShare
	Quality     Quality
	Uncertainty quality.Range
}

// InventoryGroup is one Monte Carlo input, as the inventory shows it.
type InventoryGroup struct {
	InventoryRow
	Sigma2 float64
}

// Inventory is the tenant's Scope 3 inventory under one basis.
type Inventory struct {
	Basis       refdata.Basis
	Day         time.Time // as of; zero: now or a snapshot
	Snapshot    int64
	From, To    time.Time // the period's months; zero: every month
	Months      []MonthTotal
	ReadTime    time.Time
	Kg          string
	Count       int64
	Categories  []CategoryTotal
	Methods     []MethodShare
	Quality     Quality
	Uncertainty quality.Range
	Iterations  int
	Seed        uint64
	Factors     int
	Groups      []InventoryGroup
}

// Monte Carlo bounds of an inventory read.
const (
	DefaultIterations = 10_000
	MaxIterations     = 100_000
)

// notAssessed stands for the indicators of lines stored before they were
// assessed: the worst on each, so their uncertainty is not understated.
var notAssessed = quality.Indicators{Technology: 5, Time: 5, Geography: 5, Completeness: 5, Reliability: 5}

// Inventory reads the tenant's inventory at `at` under basis ("": the
// tenant's, or the snapshot's), with data quality weighted by emissions
// and a Monte Carlo range of iterations draws from seed.
func (s *Service) Inventory(ctx context.Context, tenant uuid.UUID, at InventoryAt, basis refdata.Basis, iterations int, seed uint64) (Inventory, error) {
	iterations = cmp.Or(iterations, DefaultIterations)
	if iterations < 100 || iterations > MaxIterations {
		return Inventory{}, apperr.Invalid("iterations", "%d is outside 100..%d", iterations, MaxIterations)
	}
	seed = cmp.Or(seed, 1)
	if err := checkPeriod(at); err != nil {
		return Inventory{}, err
	}
	data, err := s.store.InventoryGroups(ctx, tenant, at)
	if err != nil {
		return Inventory{}, err
	}
	inv := Inventory{Basis: cmp.Or(basis, data.Basis, refdata.AR5), Day: at.Day, Snapshot: at.Snapshot, From: at.From, To: at.To,
		ReadTime: data.ReadTime, Iterations: iterations, Seed: seed}
	// The memo's key says only which simulation to start from: one per view
	// of the tenant's inventory.
	key := fmt.Sprintf("%s|%s|%d|%s|%s|%s", tenant, inv.Basis, at.Snapshot, at.Day.Format(time.DateOnly),
		at.From.Format(time.DateOnly), at.To.Format(time.DateOnly))
	if err := inv.total(data.Rows, s.memo, key); err != nil {
		return Inventory{}, err
	}
	for _, m := range data.Months {
		kg, err := parseFixed(pick(inv.Basis, m.Kg, m.Kg4, m.Kg6))
		if err != nil {
			return Inventory{}, fmt.Errorf("inventory month %s: %w", m.Month.Format("2006-01"), err)
		}
		inv.Months = append(inv.Months, MonthTotal{Month: m.Month, Kg: kg.round(kgDecimals).text(), Count: m.Count})
	}
	return inv, nil
}

// checkPeriod refuses a period that is not whole months in order.
func checkPeriod(at InventoryAt) error {
	switch {
	case at.From.IsZero() != at.To.IsZero():
		return apperr.Invalid("period_end", "a period needs its first and its last month")
	case !at.Period():
		return nil
	case at.From.Day() != 1 || at.To.Day() != 1:
		return fmt.Errorf("calculator: period %s to %s: not first days of months", at.From, at.To)
	case at.To.Before(at.From):
		return apperr.Invalid("period_end", "%s is before the period's start %s", at.To.Format("2006-01"), at.From.Format("2006-01"))
	}
	return nil
}

// pick is the kg of basis: ar5 (the stored kg CO2e), ar4 or ar6.
func pick(basis refdata.Basis, ar5, ar4, ar6 string) string {
	switch basis {
	case refdata.AR4:
		return ar4
	case refdata.AR6:
		return ar6
	case refdata.AR5:
	}
	return ar5
}

// total fills the inventory from its groups, simulating with memo
// (which may be nil) under key. The sums are exact integers at the
// largest scale of the groups' kg, not big.Rat: no normalising per add.
func (inv *Inventory) total(rows []InventoryRow, memo *quality.Memo, key string) error {
	type acc struct {
		kg      *big.Int // x 10^-scale
		count   int64
		methods map[string]*MethodShare
		methKg  map[string]*big.Int
		weighed []quality.Weighed
	}
	newAcc := func() *acc {
		return &acc{kg: new(big.Int), methods: map[string]*MethodShare{}, methKg: map[string]*big.Int{}}
	}
	kgs, scale, err := parseKgs(rows, inv.Basis)
	if err != nil {
		return err
	}
	all, cats := newAcc(), map[int16]*acc{}
	groups := make([]quality.Group, 0, len(rows))
	factors := map[string]bool{}
	for i, r := range rows {
		kgStr := kgs[i].round(kgDecimals).text()
		kg := kgs[i].round(scale).v
		c := cats[r.Category]
		if c == nil {
			c = newAcc()
			cats[r.Category] = c
		}
		d := notAssessed
		if r.DQ != 0 {
			if d, err = quality.Unpack(r.DQ); err != nil {
				return fmt.Errorf("inventory group %s/%s: %w", r.Set, r.Code, err)
			}
		}
		for _, a := range []*acc{all, c} {
			a.kg.Add(a.kg, kg)
			a.count += r.Count
			m := a.methods[r.Method]
			if m == nil {
				m = &MethodShare{Method: r.Method}
				a.methods[r.Method], a.methKg[r.Method] = m, new(big.Int)
			}
			m.Count += r.Count
			a.methKg[r.Method].Add(a.methKg[r.Method], kg)
			if r.DQ != 0 {
				a.weighed = append(a.weighed, quality.Weighed{Kg: kgStr, Indicators: d})
			}
		}
		// The decimal's nearest float64, as big.Rat's Float64 gives it.
		f, _ := strconv.ParseFloat(kgStr, 64)
		// The factor's name as the API shows it: its draws are seeded by it.
		g := quality.Group{Factor: "factorSets/" + r.Set + "/factors/" + r.Code, Category: r.Category, Kg: f, Sigma2: quality.Sigma2(r.Method, d)}
		groups = append(groups, g)
		factors[g.Factor] = true
		inv.Groups = append(inv.Groups, InventoryGroup{InventoryRow: r, Sigma2: g.Sigma2})
		inv.Groups[len(inv.Groups)-1].Kg = kgStr
	}
	inv.Factors = len(factors)
	finish := func(a *acc) (string, []MethodShare, Quality, error) {
		kg := fixed{a.kg, scale}.round(kgDecimals).text()
		ms := make([]MethodShare, 0, len(a.methods))
		for name, m := range a.methKg {
			ms = append(ms, *a.methods[name])
			ms[len(ms)-1].Kg = fixed{m, scale}.round(kgDecimals).text()
			ms[len(ms)-1].Share = share(m, a.kg)
		}
		slices.SortFunc(ms, func(x, y MethodShare) int { return methodRank(x.Method) - methodRank(y.Method) })
		q, err := weighted(a.weighed)
		return kg, ms, q, err
	}
	if inv.Kg, inv.Methods, inv.Quality, err = finish(all); err != nil {
		return err
	}
	inv.Count = all.count
	if len(groups) == 0 {
		return nil
	}
	sim, err := memo.Simulate(key, groups, quality.Options{Iterations: inv.Iterations, Seed: inv.Seed})
	if err != nil {
		return fmt.Errorf("inventory uncertainty: %w", err)
	}
	inv.Uncertainty = sim.Total
	ranges := map[int16]quality.Range{}
	for _, c := range sim.Categories {
		ranges[c.Category] = c.Range
	}
	for cat, a := range cats {
		ct := CategoryTotal{Category: cat, Count: a.count, Share: share(a.kg, all.kg), Uncertainty: ranges[cat]}
		if ct.Kg, ct.Methods, ct.Quality, err = finish(a); err != nil {
			return err
		}
		inv.Categories = append(inv.Categories, ct)
	}
	slices.SortFunc(inv.Categories, func(x, y CategoryTotal) int { return int(x.Category) - int(y.Category) })
	return nil
}

// parseKgs reads each row's kg under basis, and the largest scale.
func parseKgs(rows []InventoryRow, basis refdata.Basis) ([]fixed, int, error) {
	kgs, scale := make([]fixed, len(rows)), 0
	for i, r := range rows {
		kgText := pick(basis, r.Kg, r.Kg4, r.Kg6)
		f, err := parseFixed(kgText)
		if err != nil {
			return nil, 0, fmt.Errorf("inventory group %s/%s: kg %q: %w", r.Set, r.Code, kgText, err)
		}
		kgs[i], scale = f, max(scale, f.scale)
	}
	return kgs, scale, nil
}

// kgDecimals is the scale the inventory writes kg with.
const kgDecimals = 7

// weighted is the emissions-weighted quality of assessed groups; empty
// when none is.
func weighted(ws []quality.Weighed) (Quality, error) {
	if len(ws) == 0 {
		return Quality{}, nil
	}
	score, ind, err := quality.Scores(ws)
	if err != nil {
		return Quality{}, err
	}
	return Quality{Indicators: ind, Score: score}, nil
}

// share is part/whole, both at one scale, or 0 for a zero whole.
func share(part, whole *big.Int) float64 {
	if whole.Sign() == 0 {
		return 0
	}
	return decimal.Ratio(part, whole)
}

// methodRank orders methods best data first.
func methodRank(m string) int {
	switch m {
	case MethodSupplierProduct:
		return 0
	case MethodSupplierCompany:
		return 1
	case MethodAverageData:
		return 2
	case MethodSpendBased:
		return 3
	}
	return 4
}

// InventoryKey is the key of an inventory group in the store's totals:
// category, factor set id, method, packed indicators and the factor's code
// (last: a code may hold '|').
func InventoryKey(category int16, setID int16, method string, dq int32, code string) string {
	return strings.Join([]string{strconv.Itoa(int(category)), strconv.Itoa(int(setID)), method, strconv.Itoa(int(dq)), code}, "|")
}

// MaxSnapshotName bounds a snapshot's name.
const MaxSnapshotName = 200

// CreateSnapshot records the inventory as it is now under name.
func (s *Service) CreateSnapshot(ctx context.Context, tenant uuid.UUID, name string) (Snapshot, error) {
	name = strings.TrimSpace(name)
	switch {
	case name == "":
		return Snapshot{}, apperr.Invalid("snapshot.display_name", "required, for example \"FY2024 as reported\"")
	case utf8.RuneCountInString(name) > MaxSnapshotName || strings.ContainsRune(name, 0):
		return Snapshot{}, apperr.Invalid("snapshot.display_name", "at most %d characters, no NUL byte", MaxSnapshotName)
	}
	return s.store.CreateSnapshot(ctx, tenant, name)
}

// Snapshots lists the tenant's snapshots, newest first.
func (s *Service) Snapshots(ctx context.Context, tenant uuid.UUID) ([]Snapshot, error) {
	return s.store.Snapshots(ctx, tenant)
}

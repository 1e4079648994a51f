package calculator

import (
	"cmp"
	"context"
	"fmt"
	"math/big"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/vcci-dev/vcci/pkg/apperr"
	"github.com/vcci-dev/vcci/pkg/decimal"
	"github.com/vcci-dev/vcci/pkg/refdata"
	"github.com/vcci-dev/vcci/services/calculator/internal/factors"
)

// MaxCompute is the most lines one Compute call takes.
const MaxCompute = 10_000

// Computed is what Compute calculated: each line's result and their exact
// total.
type Computed struct {
	Results []Result
	Kg      *big.Rat // kg CO2e of all the lines, unrounded
}

// Compute calculates lines exactly as Calculate would, from the cached
// factor sets, and stores nothing. Each Result reads as the stored line's
// would (GetEmissionResult), but for its upload (none) and CalculatedAt
// (now). A line needs no transaction, supplier or upload: they are only
// echoed.
func (s *Service) Compute(ctx context.Context, tenant uuid.UUID, lines []Line) (Computed, error) {
	out := Computed{Kg: new(big.Rat)}
	if len(lines) > MaxCompute {
		return out, apperr.Invalid("lines", "at most %d lines per call, got %d", MaxCompute, len(lines))
	}
	rs, kgs, err := s.computeLines(ctx, tenant, lines)
	if err != nil {
		return out, err
	}
	out.Results = rs
	for _, kg := range kgs {
		out.Kg.Add(out.Kg, kg.rat())
	}
	return out, nil
}

// computeLines prepares, assesses and computes lines under the tenant's
// current settings, returning each one's result and exact kg CO2e.
func (s *Service) computeLines(ctx context.Context, tenant uuid.UUID, lines []Line) ([]Result, []fixed, error) {
	if err := s.prepare(ctx, tenant, lines); err != nil {
		return nil, nil, err
	}
	st, err := s.Settings(ctx, tenant)
	if err != nil {
		return nil, nil, err
	}
	e := engine{svc: s, tenant: tenant, now: time.Now(), spendSet: cmp.Or(st.SpendSet, DefaultSet)}
	if err := s.assess(ctx, tenant, e.spendSet, lines); err != nil {
		return nil, nil, err
	}
	rs, kgs := make([]Result, len(lines)), make([]fixed, len(lines))
	for i := range lines {
		if kgs[i], err = e.compute(ctx, &lines[i], &rs[i], lineField(i)); err != nil {
			return nil, nil, err
		}
	}
	return rs, kgs, nil
}

// engine computes one call's lines; it reads each set at most once.
type engine struct {
	svc             *Service
	tenant          uuid.UUID
	now             time.Time
	spendSet        string     // the tenant's
	base            *priceBase // spendSet's, read once
	spend, activity setIndex
	supplier        setIndex
}

// compute sets r to l's result and returns its exact kg CO2e.
func (e *engine) compute(ctx context.Context, l *Line, r *Result, field func(string) string) (fixed, error) {
	*r = Result{TransactionID: l.TransactionID, Date: l.Date, SupplierID: l.SupplierID, Amount: money(l.Amount),
		Category: l.Category, CalculatedAt: e.now, ProductID: l.ProductID, SupplierCountry: l.SupplierCountry, DQ: l.DQ, Version: 1}
	if l.Currency != "" {
		r.Currency, r.Original, r.FXRate, r.FXMonth = l.Currency, money(l.Original), numericText(l.FXRate), l.FXMonth.Format(monthLayout)
	}
	if l.SupplierFactor != 0 {
		return e.supplierLine(ctx, l, r)
	}
	if l.Activity != "" {
		return e.activityLine(ctx, l, r)
	}
	return e.spendLine(ctx, l, r, field)
}

// supplierLine computes a line with supplier data (assess chose it): the
// quantity it decided times the supplier's factor.
func (e *engine) supplierLine(ctx context.Context, l *Line, r *Result) (fixed, error) {
	code := SupplierFactor{ID: l.SupplierFactor}.Code()
	f, err := e.factor(ctx, &e.supplier, SupplierSet, code)
	if err != nil {
		return fixed{}, err
	}
	if f == nil { // assess read the figure moments ago, the set's cache before it
		return fixed{}, fmt.Errorf("calculator.Compute: factor %s/%s: %w", SupplierSet, code, ErrConflict)
	}
	r.Method, r.NAICS, r.FactorCode = l.Method, l.NAICS, code
	if l.Activity != "" {
		r.Activity, r.NAICS = l.Activity, ""
	}
	if l.ProductID != "" || l.Activity != "" {
		r.Quantity, r.QtyUnit = numericText(l.Quantity), l.Unit
	}
	q, err := parseFixed(l.SupplierQty)
	if err != nil {
		return fixed{}, fmt.Errorf("calculator.Compute: supplier quantity: %w", err)
	}
	r.FactorQty = q.text()
	return applyFactor(r, f, q), nil
}

// activityLine computes an activity line: its quantity in the factor's
// unit times the factor.
func (e *engine) activityLine(ctx context.Context, l *Line, r *Result) (fixed, error) {
	// The tenant's activity set, which resolveActivities read and
	// recorded on every activity line of the call.
	f, err := e.factor(ctx, &e.activity, l.ActivitySet, l.Activity)
	if err != nil {
		return fixed{}, err
	}
	if f == nil { // resolveActivities found it moments ago
		return fixed{}, fmt.Errorf("calculator.Compute: factor %s/%s gone", l.ActivitySet, l.Activity)
	}
	r.Method, r.Activity, r.Quantity, r.QtyUnit, r.FactorCode = MethodAverageData, l.Activity, numericText(l.Quantity), l.Unit, l.Activity
	q, err := parseFixed(l.FactorQty)
	if err != nil {
		return fixed{}, fmt.Errorf("calculator.Compute: factor quantity: %w", err)
	}
	r.FactorQty = q.text()
	return applyFactor(r, f, q), nil
}

// spendLine computes a spend line: its amount in the set's base-year
// dollars times its NAICS code's factor.
func (e *engine) spendLine(ctx context.Context, l *Line, r *Result, field func(string) string) (fixed, error) {
	f, err := e.factor(ctx, &e.spend, e.spendSet, l.NAICS)
	if err != nil {
		return fixed{}, err
	}
	if f == nil {
		return fixed{}, apperr.Invalid(field("naics_code"), "no factor in %s for NAICS code %s", e.spendSet, l.NAICS)
	}
	r.Method, r.NAICS, r.FactorCode = MethodSpendBased, l.NAICS, l.NAICS
	if l.ProductID != "" && l.Quantity != "" {
		r.Quantity, r.QtyUnit = numericText(l.Quantity), l.Unit
	}
	base, err := e.priceBase(ctx)
	if err != nil {
		return fixed{}, err
	}
	q, err := priceToBase(l, r, base)
	if err != nil {
		return fixed{}, err
	}
	return applyFactor(r, f, q), nil
}

// factor returns code's factor in set, reading the set into *idx once per
// call; nil when the set has no such code.
func (e *engine) factor(ctx context.Context, idx *setIndex, set, code string) (*parsedFactor, error) {
	if *idx == nil {
		var err error
		if *idx, err = e.svc.index(ctx, e.tenant, set); err != nil {
			return nil, err
		}
	}
	return (*idx)[code], nil
}

// baseScale is the decimals of an amount in base-year dollars
// (amount_base_usd, numeric(18, 4)).
const baseScale = 4

const monthLayout = "2006-01"

// priceToBase sets r's price adjustment and returns the amount in the set's
// base-year dollars: round(amount x base / index, 4), as storeResults
// computes it.
func priceToBase(l *Line, r *Result, base priceBase) (fixed, error) {
	amount, err := parseFixed(l.Amount)
	if err != nil {
		return fixed{}, fmt.Errorf("calculator.Compute: amount: %w", err)
	}
	index, err := parseFixed(l.PriceIndex)
	if err != nil || index.v.Sign() <= 0 {
		return fixed{}, fmt.Errorf("calculator.Compute: price index %q", l.PriceIndex)
	}
	// In units of 10^-baseScale: amount x base x 10^baseScale / index.
	n := amount.mul(base.value)
	n.v.Mul(n.v, decimal.Pow10(baseScale+index.scale))
	d := new(big.Int).Mul(index.v, decimal.Pow10(n.scale))
	q := fixed{decimal.QuoRound(n.v, d), baseScale}
	r.AmountBase = q.text()
	r.PriceIndex, r.PriceMonth, r.PriceBase, r.PriceYear = index.text(), l.PriceMonth.Format(monthLayout), base.value.text(), base.year
	return q, nil
}

// applyFactor sets r's factor fields and CO2e for factor quantity q and
// returns its exact kg CO2e. Reported as resultCols reads them back: kg
// CO2e rounded to 7 decimals under each basis, gases exact.
func applyFactor(r *Result, f *parsedFactor, q fixed) fixed {
	r.Set, r.SetVersion, r.FactorValue, r.Unit, r.ActivityUnit, r.GasUnit = f.Set, f.SetVersion, f.Value, f.Unit, f.ActivityUnit, f.GasUnit
	if r.Category == 0 {
		r.Category = f.Category
	}
	kg := q.mul(f.value)
	r.Kg = kg.round(kgScale).text()
	r.KgAR4, r.KgAR6 = timesRounded(q, f.ar4), timesRounded(q, f.ar6)
	r.Gases = make([]Gas, len(f.gases))
	for i, g := range f.gases {
		r.Gases[i] = Gas{Gas: f.Gases[i].Gas, Value: q.mul(g).text()}
	}
	return kg
}

// kgScale is the decimals kg CO2e are reported to (0.1 g).
const kgScale = 7

// timesRounded is q x v to kgScale decimals, or "" when there is no v.
func timesRounded(q fixed, v *fixed) string {
	if v == nil {
		return ""
	}
	return q.mul(*v).round(kgScale).text()
}

// money is an amount as numeric(18, 4) holds it.
func money(s string) string {
	f, err := parseFixed(s)
	if err != nil {
		return s
	}
	return f.round(4).text()
}

// numericText is a decimal as PostgreSQL's numeric reads and writes it
// back: its scale kept, leading zeros and a zero's sign dropped.
func numericText(s string) string {
	f, err := parseFixed(s)
	if err != nil {
		return s
	}
	return f.text()
}

// priceBase is the spend set's price year and that year's average index.
type priceBase struct {
	year  int16
	value fixed
}

// spendBase is DefaultSet's price base, as store.LoadSet records it: the
// CPI-U average of the set's price year.
var spendBase = sync.OnceValues(func() (priceBase, error) {
	for _, set := range factors.Shipped() {
		if set.Name != DefaultSet {
			continue
		}
		cpi, err := refdata.CPIU()
		if err != nil {
			return priceBase{}, fmt.Errorf("calculator: %w", err)
		}
		text, err := cpi.YearAverage(set.PriceYear)
		if err != nil {
			return priceBase{}, fmt.Errorf("calculator: %w", err)
		}
		v, err := parseFixed(text)
		if err != nil {
			return priceBase{}, fmt.Errorf("calculator: price base: %w", err)
		}
		return priceBase{year: int16(set.PriceYear), value: v}, nil // a year
	}
	return priceBase{}, fmt.Errorf("calculator: %s is not a shipped set", DefaultSet)
})

// priceBase is the spend set's price base: the shipped set's from the
// shipped data, another's as the store recorded it when it was loaded.
func (e *engine) priceBase(ctx context.Context) (priceBase, error) {
	if e.base != nil {
		return *e.base, nil
	}
	if e.spendSet == DefaultSet {
		b, err := spendBase()
		e.base = &b
		return b, err
	}
	sets, err := e.svc.store.FactorSets(ctx, e.tenant)
	if err != nil {
		return priceBase{}, err // the store's own, named
	}
	for _, set := range sets {
		if set.Name != e.spendSet {
			continue
		}
		v, err := parseFixed(set.PriceBase)
		if err != nil {
			return priceBase{}, fmt.Errorf("calculator.Compute: %s has no price base: %w", set.Name, err)
		}
		e.base = &priceBase{year: set.PriceYear, value: v}
		return *e.base, nil
	}
	return priceBase{}, fmt.Errorf("calculator.Compute: spend set %s: %w", e.spendSet, ErrSetNotFound)
}

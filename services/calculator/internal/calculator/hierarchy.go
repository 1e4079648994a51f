package calculator

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/vcci-dev/vcci/pkg/apperr"
	"github.com/vcci-dev/vcci/pkg/decimal"
	"github.com/vcci-dev/vcci/pkg/units"
	"github.com/vcci-dev/vcci/services/calculator/internal/quality"
)

// Methods of supplier-specific data, best first (GHG Protocol Scope 3
// Calculation Guidance): a product footprint, then a company intensity.
const (
	MethodSupplierProduct = quality.MethodProduct
	MethodSupplierCompany = quality.MethodCompany
)

// Methods are every method a result records, best data first.
var Methods = []string{MethodSupplierProduct, MethodSupplierCompany, MethodAverageData, MethodSpendBased}

// SupplierSet is the set a tenant's supplier factors are factors of, one
// per tenant.
const SupplierSet = "supplier-data"

// Kinds of supplier factor.
const (
	SupplierCompany = "company"
	SupplierProduct = "product"
)

// SupplierFactor is a supplier's own figure, private to the tenant.
type SupplierFactor struct {
	ID                      int64
	SupplierID, Kind        string
	ProductID, DeclaredUnit string // product only
	Value                   string // kg CO2e (AR5) per USD of revenue or per declared unit
	Gases                   []Gas  // kg of each gas per unit; optional
	ReportingYear           int16
	Verified                bool
	PrimaryShare, Boundary  string // product only; PrimaryShare "" unknown
	ValidFrom, ValidTo      time.Time
	CreateTime              time.Time
	Recalculation           int64  // queued with it; 0: none
	RequestID               string // the create's (AIP-155); "" none
}

// Code is the supplier factor's code in SupplierSet.
func (f SupplierFactor) Code() string { return "sf-" + strconv.FormatInt(f.ID, 10) }

// covers reports whether the figure applies to a line dated d.
func (f SupplierFactor) covers(d time.Time) bool {
	return !d.Before(f.ValidFrom) && !d.After(f.ValidTo)
}

// assess decides each line's method, best data first, and its data
// quality: a product footprint of the line's supplier and product, else
// the supplier's company intensity for a line with spend, else the line's
// activity (average data), else its spend (spend-based). spendSet is the
// set spend lines are calculated with.
func (s *Service) assess(ctx context.Context, tenant uuid.UUID, spendSet string, lines []Line) error {
	byS, err := s.supplierFactors(ctx, tenant, lines)
	if err != nil {
		return err
	}
	var spend, activity setIndex
	for i := range lines {
		l := &lines[i]
		field := lineField(i)
		l.SpendSet = spendSet
		if sf, ok, err := pickSupplier(l, byS[l.SupplierID], field); err != nil {
			return err
		} else if ok {
			if l.Category == 0 { // the category its own code would give
				f, err := s.lineFactor(ctx, tenant, l, &spend, &activity)
				if err != nil {
					return err
				}
				l.Category = max(f.Category, 1)
			}
			l.DQ = quality.Assess(quality.Inputs{Method: l.Method, LineYear: l.Date.Year(), FactorYear: int(sf.ReportingYear),
				Verified: sf.Verified, PrimaryShare: sf.PrimaryShare}).Pack()
			continue
		}
		f, err := s.lineFactor(ctx, tenant, l, &spend, &activity)
		if err != nil {
			return err
		}
		l.Method = MethodSpendBased
		if l.Activity != "" {
			l.Method = MethodAverageData
		}
		l.DQ = quality.Assess(quality.Inputs{Method: l.Method, LineYear: l.Date.Year(), FactorYear: int(f.Year),
			FactorRegion: f.Region, SupplierCountry: l.SupplierCountry}).Pack()
	}
	return nil
}

// lineFactor is the factor of the line's own code: its activity's, or its
// NAICS code's in the spend set (a zero Factor when the set has none: the
// store refuses the line, naming the code).
func (s *Service) lineFactor(ctx context.Context, tenant uuid.UUID, l *Line, spend, activity *setIndex) (Factor, error) {
	set, idx, code := l.SpendSet, spend, l.NAICS
	if l.Activity != "" {
		set, idx, code = l.ActivitySet, activity, l.Activity
	}
	if *idx == nil {
		var err error
		if *idx, err = s.index(ctx, tenant, set); err != nil {
			return Factor{}, err
		}
	}
	if f, ok := (*idx)[code]; ok {
		return f.Factor, nil
	}
	return Factor{}, nil
}

// pickSupplier applies the best of the supplier's figures (newest first)
// that covers the line, setting its method, supplier factor and the
// quantity that factor multiplies.
func pickSupplier(l *Line, fs []SupplierFactor, field func(string) string) (SupplierFactor, bool, error) {
	if l.ProductID != "" {
		for _, f := range fs {
			if f.Kind != SupplierProduct || f.ProductID != l.ProductID || !f.covers(l.Date) {
				continue
			}
			q, err := declaredQuantity(l, f, field)
			if err != nil {
				return f, false, err
			}
			l.Method, l.SupplierFactor, l.SupplierQty = MethodSupplierProduct, f.ID, q
			return f, true, nil
		}
	}
	if l.Amount == "" || l.Amount == "0" {
		return SupplierFactor{}, false, nil
	}
	for _, f := range fs {
		if f.Kind == SupplierCompany && f.covers(l.Date) {
			// Revenue intensity times the line's dollars as spent: the
			// supplier's revenue is in its reporting year's dollars, not
			// brought to another year's.
			l.Method, l.SupplierFactor, l.SupplierQty = MethodSupplierCompany, f.ID, l.Amount
			return f, true, nil
		}
	}
	return SupplierFactor{}, false, nil
}

// declaredQuantity is a product line's quantity in its footprint's
// declared unit: converted when both are units pkg/units knows, else the
// line's unit must name the declared one ("unit", "item").
func declaredQuantity(l *Line, f SupplierFactor, field func(string) string) (string, error) {
	if l.Quantity == "" {
		return "", apperr.Invalid(field("quantity"), "required: product %s of supplier %s has a footprint per %s (supplierFactors/%d)",
			l.ProductID, l.SupplierID, f.DeclaredUnit, f.ID)
	}
	if !quantityRe.MatchString(l.Quantity) || strings.HasPrefix(l.Quantity, "-") {
		return "", apperr.Invalid(field("quantity"), "%q is not a non-negative decimal quantity with at most 6 decimals", l.Quantity)
	}
	if _, known := units.Normalize(f.DeclaredUnit); !known {
		if !strings.EqualFold(strings.TrimSpace(l.Unit), f.DeclaredUnit) {
			return "", apperr.Invalid(field("unit"), "%q is not %q, the unit product %s's footprint is per (supplierFactors/%d)",
				l.Unit, f.DeclaredUnit, l.ProductID, f.ID)
		}
		return l.Quantity, nil
	}
	q, _, _ := decimal.Parse(l.Quantity)
	out, err := units.Convert(q, l.Unit, f.DeclaredUnit)
	if err != nil {
		return "", apperr.Invalid(field("unit"), "%q does not convert to %q, the unit product %s's footprint is per (supplierFactors/%d)",
			l.Unit, f.DeclaredUnit, l.ProductID, f.ID)
	}
	s, _ := decimal.Format(out, FactorQuantityScale)
	return s, nil
}

// supplierFactors reads the figures of the lines' suppliers, by supplier,
// newest first (the store orders them).
func (s *Service) supplierFactors(ctx context.Context, tenant uuid.UUID, lines []Line) (map[string][]SupplierFactor, error) {
	ids := make([]string, 0, 64)
	seen := map[string]bool{}
	for _, l := range lines {
		if !seen[l.SupplierID] {
			seen[l.SupplierID] = true
			ids = append(ids, l.SupplierID)
		}
	}
	slices.Sort(ids)
	fs, err := s.store.SupplierFactorsOf(ctx, tenant, ids)
	if err != nil {
		return nil, fmt.Errorf("supplier factors: %w", err)
	}
	out := make(map[string][]SupplierFactor, len(fs))
	for _, f := range fs {
		out[f.SupplierID] = append(out[f.SupplierID], f)
	}
	return out, nil
}

// IsNAICS reports whether code is a NAICS-6 code, not an activity's id.
func IsNAICS(code string) bool { return naicsRe.MatchString(code) }

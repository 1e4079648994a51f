package calculator

import (
	"context"
	"fmt"
	"math/big"
	"regexp"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/vcci-dev/vcci/pkg/apperr"
	"github.com/vcci-dev/vcci/pkg/decimal"
	"github.com/vcci-dev/vcci/pkg/refdata"
	"github.com/vcci-dev/vcci/services/calculator/internal/factors"
)

// Bounds of a supplier factor's fields.
const (
	maxIDBytes       = 128
	maxBoundaryBytes = 200
	// MaxSupplierFactors is the largest page of ListSupplierFactors.
	MaxSupplierFactors = 1000
	// GasTolerance is how far a figure's gases, summed under AR5, may be
	// from its CO2e: a supplier rounds each.
	GasTolerance = "0.005"
)

var (
	factorValueRe = regexp.MustCompile(`^\d{1,14}(\.\d{1,12})?$`)
	shareRe       = regexp.MustCompile(`^(0(\.\d{1,6})?|1(\.0{1,6})?)$`)
)

// CreateSupplierFactor checks and stores a supplier's figure as a factor of
// the tenant's SupplierSet, re-expressed under AR4 and AR6 from its gases
// as a public factor is.
func (s *Service) CreateSupplierFactor(ctx context.Context, tenant uuid.UUID, sf SupplierFactor) (SupplierFactor, error) {
	f, err := checkSupplierFactor(&sf)
	if err != nil {
		return SupplierFactor{}, err
	}
	out, err := s.store.CreateSupplierFactor(ctx, tenant, sf, f)
	if err != nil {
		return SupplierFactor{}, err
	}
	if s.factors != nil {
		s.factors.Invalidate(ctx, tenant)
	}
	return out, nil
}

// CheckSupplierFactor checks a supplier's figure as CreateSupplierFactor
// does and returns it as it would be stored, storing nothing.
func (*Service) CheckSupplierFactor(sf SupplierFactor) (SupplierFactor, error) {
	_, err := checkSupplierFactor(&sf)
	return sf, err
}

// checkSupplierFactor checks every field, naming each bad one, and returns
// the figure's factor.
func checkSupplierFactor(sf *SupplierFactor) (factors.Factor, error) {
	var bad []apperr.Violation
	violate := func(field, format string, args ...any) {
		bad = append(bad, apperr.Violation{Field: "supplier_factor." + field, Description: fmt.Sprintf(format, args...)})
	}
	sf.SupplierID, sf.ProductID, sf.DeclaredUnit = strings.TrimSpace(sf.SupplierID), strings.TrimSpace(sf.ProductID), strings.TrimSpace(sf.DeclaredUnit)
	checkID := func(field, v string) {
		switch {
		case v == "":
			violate(field, "required")
		case len(v) > maxIDBytes || strings.ContainsRune(v, 0):
			violate(field, "at most %d bytes, no NUL byte", maxIDBytes)
		}
	}
	checkID("supplier_id", sf.SupplierID)
	unit := "USD"
	switch sf.Kind {
	case SupplierCompany:
		if sf.ProductID != "" || sf.DeclaredUnit != "" || sf.PrimaryShare != "" || sf.Boundary != "" {
			violate("kind", "a company figure is per USD of revenue: product_id, declared_unit, primary_data_share and boundary are a product's")
		}
	case SupplierProduct:
		checkID("product_id", sf.ProductID)
		checkID("declared_unit", sf.DeclaredUnit)
		unit = sf.DeclaredUnit
		if sf.PrimaryShare != "" && !shareRe.MatchString(sf.PrimaryShare) {
			violate("primary_data_share", "%q is not a decimal from 0 to 1", sf.PrimaryShare)
		}
		if len(sf.Boundary) > maxBoundaryBytes || strings.ContainsRune(sf.Boundary, 0) {
			violate("boundary", "at most %d bytes, no NUL byte", maxBoundaryBytes)
		}
	default:
		violate("kind", "required: SUPPLIER_FACTOR_KIND_COMPANY (kg CO2e per USD of revenue) or SUPPLIER_FACTOR_KIND_PRODUCT (per declared unit)")
	}
	if !factorValueRe.MatchString(sf.Value) {
		violate("kg_co2e_per_unit", "%q is not a non-negative decimal with at most 12 decimals", sf.Value)
	}
	if sf.ReportingYear < 1990 || sf.ReportingYear > 2100 {
		violate("reporting_year", "%d is not a year from 1990 to 2100", sf.ReportingYear)
	}
	switch {
	case sf.ValidFrom.IsZero():
		violate("valid_from", "required, YYYY-MM-DD")
	case sf.ValidTo.IsZero():
		violate("valid_to", "required, YYYY-MM-DD")
	case sf.ValidTo.Before(sf.ValidFrom):
		violate("valid_to", "%s is before valid_from %s", sf.ValidTo.Format("2006-01-02"), sf.ValidFrom.Format("2006-01-02"))
	}
	gases := make([]refdata.GasFactor, len(sf.Gases))
	for i, g := range sf.Gases {
		gases[i] = refdata.GasFactor{Gas: g.Gas, Value: g.Value}
	}
	if len(bad) == 0 && len(gases) > 0 {
		if err := checkGases(sf.Value, gases); err != nil {
			violate("gases", "%v", err)
		}
	}
	if len(bad) > 0 {
		return factors.Factor{}, &apperr.Error{Kind: apperr.InvalidArgument, Msg: bad[0].Field + ": " + bad[0].Description, Violations: bad}
	}
	title := fmt.Sprintf("%s company intensity %d", sf.SupplierID, sf.ReportingYear)
	if sf.Kind == SupplierProduct {
		title = fmt.Sprintf("%s product %s, per %s, %d", sf.SupplierID, sf.ProductID, sf.DeclaredUnit, sf.ReportingYear)
	}
	if sf.Verified {
		title += " (verified)"
	}
	f := factors.Factor{Title: title, Value: sf.Value, Unit: unit, Gases: gases}
	if err := factors.Reexpress(&f, factors.GasKg); err != nil {
		return f, fmt.Errorf("calculator.CreateSupplierFactor: %w", err)
	}
	return f, nil
}

// checkGases checks each gas is a known one with a non-negative decimal
// value, and that they add up, under AR5, to value within GasTolerance of
// it.
func checkGases(value string, gases []refdata.GasFactor) error {
	t, err := refdata.GWPs()
	if err != nil {
		return err
	}
	sum := new(big.Rat)
	for i, g := range gases {
		if !factorValueRe.MatchString(g.Value) {
			return fmt.Errorf("[%d] %s: %q is not a non-negative decimal with at most 12 decimals", i, g.Gas, g.Value)
		}
		gwp, err := t.GWP(refdata.AR5, g.Gas)
		if err != nil {
			return fmt.Errorf("[%d]: %q is not a gas of the GWP table (CO2, CH4, N2O, SF6, HFC134a, ...)", i, g.Gas)
		}
		v, _, _ := decimal.Parse(g.Value)
		w, _, err := decimal.Parse(gwp)
		if err != nil {
			return err
		}
		sum.Add(sum, v.Mul(v, w))
	}
	want, _, _ := decimal.Parse(value)
	tol, _, _ := decimal.Parse(GasTolerance)
	diff := new(big.Rat).Sub(sum, want)
	if diff.Abs(diff).Cmp(tol.Mul(tol, want)) > 0 {
		got, _ := decimal.Format(sum, 6)
		return fmt.Errorf("add up to %s kg CO2e under AR5, not %s (more than %s%% apart)", got, value, "0.5")
	}
	return nil
}

// SupplierFactor returns one of the tenant's figures.
func (s *Service) SupplierFactor(ctx context.Context, tenant uuid.UUID, id int64) (SupplierFactor, error) {
	return s.store.SupplierFactor(ctx, tenant, id)
}

// FactorFilter selects supplier factors: of these suppliers (none: every
// supplier's), recorded at or after Since (zero: whenever).
type FactorFilter struct {
	Suppliers []string
	Since     time.Time
}

// ListSupplierFactors reads up to limit figures (1 to MaxSupplierFactors
// + 1: a page and the sign of the next) that f selects, newest first.
func (s *Service) ListSupplierFactors(ctx context.Context, tenant uuid.UUID, f FactorFilter, limit int, after int64) ([]SupplierFactor, error) {
	if len(f.Suppliers) > MaxSupplierFactors {
		return nil, apperr.Invalid("supplier_ids", "at most %d suppliers, got %d", MaxSupplierFactors, len(f.Suppliers))
	}
	return s.store.ListSupplierFactors(ctx, tenant, f, min(max(limit, 1), MaxSupplierFactors+1), after)
}

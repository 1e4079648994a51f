package calculator

import (
	"context"
	"fmt"
	"math/big"
	"regexp"
	"slices"
	"strings"

	"github.com/google/uuid"

	"github.com/vcci-dev/vcci/pkg/apperr"
	"github.com/vcci-dev/vcci/pkg/decimal"
	"github.com/vcci-dev/vcci/pkg/units"
)

var quantityRe = regexp.MustCompile(`^-?\d{1,14}(\.\d{1,6})?$`)

// resolveActivities checks each activity line against its factor in the
// tenant's activity set (ActivitySet until changed), which it records on
// the line: the activity exists, the quantity is a non-negative decimal,
// the unit converts to the factor's, and the line has a Scope 3 category
// (its own or the factor's). It sets each line's quantity in the factor's
// unit.
func (s *Service) resolveActivities(ctx context.Context, tenant uuid.UUID, lines []Line) error {
	if !slices.ContainsFunc(lines, func(l Line) bool { return l.Activity != "" }) {
		return nil
	}
	settings, err := s.Settings(ctx, tenant)
	if err != nil {
		return err
	}
	set := settings.ActivitySet
	// The whole set: a batch may name more activities than a lookup of
	// factors by name takes.
	byCode, err := s.index(ctx, tenant, set)
	if err != nil {
		return err
	}
	for i := range lines {
		lines[i].Activity = strings.ToLower(strings.TrimSpace(lines[i].Activity))
		if lines[i].Activity == "" {
			continue
		}
		lines[i].ActivitySet = set
		f, ok := byCode[lines[i].Activity]
		if !ok {
			return apperr.Invalid(fmt.Sprintf("lines[%d].activity", i),
				"unknown activity %q: not a factor of %s (GET /v1/factorSets/%s/factors lists them)", lines[i].Activity, set, set)
		}
		if err := resolveActivity(&lines[i], f.Factor, func(c string) string { return fmt.Sprintf("lines[%d].%s", i, c) }); err != nil {
			return err
		}
	}
	return nil
}

// resolveActivity checks one activity line against its factor f.
func resolveActivity(l *Line, f Factor, field func(string) string) error {
	switch {
	case !quantityRe.MatchString(l.Quantity):
		return apperr.Invalid(field("quantity"), "%q is not a decimal quantity with at most 6 decimals", l.Quantity)
	case strings.HasPrefix(l.Quantity, "-"):
		return apperr.Invalid(field("quantity"), "%s must not be negative: an activity cannot be undone by a negative amount of it", l.Quantity)
	case l.Category == 0 && f.Category == 0:
		return apperr.Invalid(field("category"),
			"required for %s: the factor has no default Scope 3 category (it is the reporter's own fuel or energy use); name the category the line is reported under", l.Activity)
	}
	q, _, _ := decimal.Parse(l.Quantity) // checked above
	fq, err := units.Convert(q, l.Unit, f.ActivityUnit)
	if err != nil {
		return apperr.Invalid(field("unit"), "%q does not convert to the factor's unit %q (%v)", l.Unit, f.ActivityUnit, strings.TrimPrefix(err.Error(), "units.Convert: "))
	}
	l.FactorQty, _ = decimal.Format(fq, FactorQuantityScale)
	return nil
}

// UnitConversion writes how a quantity in unit from became one in to:
// "1 us-gallon = 3.785411784 litre", or "" when the units are the same.
func UnitConversion(from, to string) string {
	f, _ := units.Normalize(from)
	t, _ := units.Normalize(to)
	if f == t {
		return ""
	}
	r, err := units.Convert(big.NewRat(1, 1), from, to)
	if err != nil {
		return ""
	}
	s, exact := decimal.Format(r, FactorQuantityScale)
	if !exact {
		s = r.RatString() + " (" + s + ")"
	}
	return "1 " + f + " = " + s + " " + t
}

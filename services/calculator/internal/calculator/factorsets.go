package calculator

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/vcci-dev/vcci/pkg/apperr"
	"github.com/vcci-dev/vcci/pkg/refdata"
	"github.com/vcci-dev/vcci/services/calculator/internal/factors"
)

// MaxImportBytes bounds an imported set's CSV.
const MaxImportBytes = 16 << 20

// activityUnit is what an imported activity set's factors are per when
// its import names no unit.
const activityUnit = "kg CO2e per unit of activity (each factor's unit)"

var setNameRe = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,62}$`)

// ImportFactorSet stores a new set of the tenant's from CSV
// (factors.ParseCSV). The set is new or refused: a set once loaded never
// changes, so results calculated with it keep meaning what they did.
func (s *Service) ImportFactorSet(ctx context.Context, tenant uuid.UUID, set factors.Set, csv []byte) (FactorSet, error) {
	if err := checkNewSet(&set, len(csv)); err != nil {
		return FactorSet{}, err
	}
	fs, err := factors.ParseCSV(csv, set.Kind, set.GasUnit)
	if err != nil {
		return FactorSet{}, err // an InvalidArgument naming the cells, or a refdata failure already wrapped
	}
	out, err := s.store.ImportSet(ctx, tenant, set, fs)
	if err == nil && s.factors != nil {
		s.factors.Invalidate(ctx, tenant)
	}
	return out, err
}

// checkNewSet checks an imported set's metadata, naming every bad field,
// and fills the defaults: gas unit kg, an activity set's unit.
func checkNewSet(set *factors.Set, csvBytes int) error {
	var bad []apperr.Violation
	violate := func(field, format string, args ...any) {
		bad = append(bad, apperr.Violation{Field: field, Description: fmt.Sprintf(format, args...)})
	}
	if set.GasUnit == "" {
		set.GasUnit = factors.GasKg
	}
	if set.Kind == factors.KindActivity && set.Unit == "" {
		set.Unit = activityUnit
	}
	if !setNameRe.MatchString(set.Name) {
		violate("factor_set_id", "%q is not a set id: lower-case letters, digits, '.', '-' and '_', at most 63, for example acme-steel-2025", set.Name)
	}
	for _, f := range []struct {
		field, value string
		required     bool
	}{{"display_name", set.DisplayName, true}, {"publisher", set.Publisher, true}, {"version", set.Version, true},
		{"unit", set.Unit, true}, {"source", set.Source, true}, {"licence", set.Licence, false}, {"region", set.Region, false}} {
		switch {
		case f.required && strings.TrimSpace(f.value) == "":
			violate(f.field, "required")
		case utf8.RuneCountInString(f.value) > 500 || !utf8.ValidString(f.value) || strings.ContainsRune(f.value, 0):
			violate(f.field, "must be UTF-8 text of at most 500 characters")
		}
	}
	if set.Year != 0 && (set.Year < 1900 || set.Year > 2100) {
		violate("year", "%d is not a data year (1900 to 2100, or 0: not recorded)", set.Year)
	}
	switch set.Kind {
	case factors.KindSpend:
		checkPriceYear(set.PriceYear, violate)
	case factors.KindActivity:
		if set.PriceYear != 0 {
			violate("price_year", "must be 0 for an activity set: its factors are not per dollar")
		}
	default:
		violate("kind", "required: FACTOR_SET_KIND_SPEND or FACTOR_SET_KIND_ACTIVITY")
	}
	if set.GasUnit != factors.GasKg && set.GasUnit != factors.GasKgCO2eAR5 {
		violate("gas_unit", "%q is neither %q nor %q", set.GasUnit, factors.GasKg, factors.GasKgCO2eAR5)
	}
	switch {
	case csvBytes == 0:
		violate(factors.CSVField, "required: the factors as CSV")
	case csvBytes > MaxImportBytes:
		violate(factors.CSVField, "%d bytes, more than the %d a set may have", csvBytes, MaxImportBytes)
	}
	if len(bad) > 0 {
		return &apperr.Error{Kind: apperr.InvalidArgument, Msg: bad[0].Field + ": " + bad[0].Description, Violations: bad}
	}
	return nil
}

// checkPriceYear checks a spend set's dollar year: spend is brought to its
// dollars with that year's average CPI-U, which must be published.
func checkPriceYear(year int, violate func(field, format string, args ...any)) {
	if year == 0 {
		violate("price_year", "required for a spend set: the year of the dollars its factors are per")
		return
	}
	cpi, err := refdata.CPIU()
	if err == nil {
		_, err = cpi.YearAverage(year)
	}
	if err != nil {
		violate("price_year", "%d: no annual average CPI-U to bring spend to (%v)", year, err)
	}
}

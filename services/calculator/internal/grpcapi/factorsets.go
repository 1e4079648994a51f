package grpcapi

import (
	"context"
	"slices"
	"strings"

	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"github.com/vcci-dev/vcci/pkg/apperr"
	"github.com/vcci-dev/vcci/pkg/fieldmask"
	calculatorv1 "github.com/vcci-dev/vcci/pkg/gen/vcci/calculator/v1"
	"github.com/vcci-dev/vcci/pkg/refdata"
	"github.com/vcci-dev/vcci/pkg/tenancy"
	"github.com/vcci-dev/vcci/services/calculator/internal/calculator"
	"github.com/vcci-dev/vcci/services/calculator/internal/factors"
)

func (a *API) ImportFactorSet(ctx context.Context, req *calculatorv1.ImportFactorSetRequest) (*calculatorv1.FactorSet, error) {
	tenant, err := tenancy.MustTenant(ctx)
	if err != nil {
		return nil, err
	}
	set := factors.Set{
		Name: req.GetFactorSetId(), DisplayName: req.GetDisplayName(), Publisher: req.GetPublisher(), Version: req.GetVersion(),
		Unit: req.GetUnit(), Source: req.GetSource(), Licence: req.GetLicence(), Region: req.GetRegion(),
		Year: int16(min(max(req.GetYear(), -1), 1<<15-1)), PriceYear: int(req.GetPriceYear()),
		Kind: kinds[req.GetKind()], GasUnit: req.GetGasUnit(),
	}
	fs, err := a.svc.ImportFactorSet(ctx, tenant, set, req.GetCsv())
	if err != nil {
		return nil, err
	}
	return factorSetProto(fs), nil
}

func factorSetProto(s calculator.FactorSet) *calculatorv1.FactorSet {
	return &calculatorv1.FactorSet{
		Name: "factorSets/" + s.Name, DisplayName: s.DisplayName, Publisher: s.Publisher,
		Version: s.Version, Unit: s.Unit, Source: s.Source, FactorCount: s.Count, Region: s.Region, Year: int32(s.Year),
		Kind: kindProto(s.Kind),
	}
}

// kinds maps the contract's factor set kinds to the domain's.
var kinds = map[calculatorv1.FactorSetKind]factors.Kind{
	calculatorv1.FactorSetKind_FACTOR_SET_KIND_SPEND: factors.KindSpend, calculatorv1.FactorSetKind_FACTOR_SET_KIND_ACTIVITY: factors.KindActivity,
}

func kindProto(k factors.Kind) calculatorv1.FactorSetKind {
	for p, d := range kinds {
		if d == k {
			return p
		}
	}
	return calculatorv1.FactorSetKind_FACTOR_SET_KIND_UNSPECIFIED
}

// settingsSet reads a settings field naming a factor set, "factorSets/{set}".
func settingsSet(field, name string) (string, error) {
	set, ok := strings.CutPrefix(name, "factorSets/")
	if !ok || badSegment(set) || strings.Contains(set, "/") {
		return "", apperr.Invalid(field, "%q is not factorSets/{set}", name)
	}
	return set, nil
}

// settingsFields are the CalculationSettings fields an update may change.
var settingsFields = []string{fieldGWPBasis, fieldSpendSet, fieldActivitySet, fieldBaseYear, fieldThreshold}

// The CalculationSettings fields, as an update mask names them.
const (
	fieldGWPBasis    = "gwp_basis"
	fieldSpendSet    = "spend_factor_set"
	fieldActivitySet = "activity_factor_set"
	fieldBaseYear    = "base_year"
	fieldThreshold   = "significance_threshold_percent"
)

// settingsUpdate reads what an update changes: the fields its mask names
// (proto or JSON names), each then required, or with no mask those given.
func settingsUpdate(in *calculatorv1.CalculationSettings, fm *fieldmaskpb.FieldMask) (calculator.Settings, error) {
	mask, err := fieldmask.Parse(in, fm, "update_mask")
	if err != nil {
		return calculator.Settings{}, err
	}
	paths := mask.Fields()
	given := map[string]bool{fieldGWPBasis: in.GetGwpBasis() != calculatorv1.GwpBasis_GWP_BASIS_UNSPECIFIED,
		fieldSpendSet: in.GetSpendFactorSet() != "", fieldActivitySet: in.GetActivityFactorSet() != "",
		fieldBaseYear: in.GetBaseYear() != 0, fieldThreshold: in.GetSignificanceThresholdPercent() != ""}
	if len(paths) == 0 {
		for _, f := range settingsFields {
			if given[f] {
				paths = append(paths, f)
			}
		}
		if len(paths) == 0 {
			return calculator.Settings{}, apperr.Invalid("settings", "nothing to update: give %s", strings.Join(settingsFields, ", "))
		}
	}
	var out calculator.Settings
	for _, p := range paths {
		var err error
		switch {
		case !slices.Contains(settingsFields, p):
			return out, apperr.Invalid("update_mask", "%v: only %s can be updated", paths, strings.Join(settingsFields, ", "))
		case p == fieldBaseYear:
			out.BaseYear, err = baseYear(in.GetBaseYear())
		case p == fieldThreshold && !given[p]:
			return out, apperr.Invalid("settings."+fieldThreshold, "required: a decimal percentage from 0 to 100")
		case p == fieldThreshold:
			out.Threshold = in.GetSignificanceThresholdPercent()
		case !given[p] && p == fieldGWPBasis:
			return out, apperr.Invalid("settings.gwp_basis", "required: GWP_BASIS_AR4, GWP_BASIS_AR5 or GWP_BASIS_AR6")
		case !given[p]:
			return out, apperr.Invalid("settings."+p, "required: factorSets/{set}")
		case p == fieldGWPBasis:
			out.Basis, err = refdata.BasisFromProto("settings.gwp_basis", in.GetGwpBasis())
		case p == fieldSpendSet:
			out.SpendSet, err = settingsSet("settings.spend_factor_set", in.GetSpendFactorSet())
		default:
			out.ActivitySet, err = settingsSet("settings.activity_factor_set", in.GetActivityFactorSet())
		}
		if err != nil {
			return out, err
		}
	}
	return out, nil
}

// baseYear reads settings.base_year: 0 (masked) removes it.
func baseYear(y int32) (int16, error) {
	switch {
	case y == 0:
		return calculator.ClearBaseYear, nil
	case y < 1990 || y > 2100:
		return 0, apperr.Invalid("settings.base_year", "%d is outside 1990..2100 (0: none)", y)
	}
	return int16(y), nil
}

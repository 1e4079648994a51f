package grpcapi_test

import (
	"testing"

	"errors"

	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"github.com/vcci-dev/vcci/pkg/apperr"
	calculatorv1 "github.com/vcci-dev/vcci/pkg/gen/vcci/calculator/v1"
)

func TestBaseYearSettings(t *testing.T) {
	api, a, _ := twoTenants(t)
	update := func(s *calculatorv1.CalculationSettings, paths ...string) (*calculatorv1.CalculationSettings, error) {
		return api.UpdateCalculationSettings(a, &calculatorv1.UpdateCalculationSettingsRequest{Settings: s, UpdateMask: &fieldmaskpb.FieldMask{Paths: paths}})
	}
	got, err := update(&calculatorv1.CalculationSettings{BaseYear: 2024, SignificanceThresholdPercent: "7.5"}, "base_year", "significance_threshold_percent")
	if err != nil || got.GetBaseYear() != 2024 || got.GetSignificanceThresholdPercent() != "7.5" || got.GetSpendFactorSet() != "factorSets/epa-supply-chain-v1.3.0" {
		t.Fatalf("set = %v, %v", got, err)
	}
	// base_year masked at 0 removes it; the threshold stays.
	got, err = update(&calculatorv1.CalculationSettings{}, "base_year")
	if err != nil || got.GetBaseYear() != 0 || got.GetSignificanceThresholdPercent() != "7.5" {
		t.Fatalf("cleared = %v, %v", got, err)
	}
	_, err = api.RecalculateBaseYear(a, &calculatorv1.RecalculateBaseYearRequest{Reason: "new method"})
	if apperr.KindOf(err) != apperr.FailedPrecondition {
		t.Fatalf("base year recalculation without a base year: %v", err)
	}
	for _, tc := range []struct {
		name  string
		in    *calculatorv1.CalculationSettings
		field string
	}{
		{"year", &calculatorv1.CalculationSettings{BaseYear: 1989}, "settings.base_year"},
		{"threshold", &calculatorv1.CalculationSettings{SignificanceThresholdPercent: "100.5"}, "settings.significance_threshold_percent"},
		{"threshold text", &calculatorv1.CalculationSettings{SignificanceThresholdPercent: "five"}, "settings.significance_threshold_percent"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := update(tc.in); fieldOf(err) != tc.field {
				t.Fatalf("got %v, want a violation of %s", err, tc.field)
			}
		})
	}
}

func TestRecalculationsAPI(t *testing.T) {
	api, a, b := twoTenants(t)
	for _, tc := range []struct {
		name  string
		in    *calculatorv1.Recalculation
		field string
	}{
		{"no reason", &calculatorv1.Recalculation{}, "recalculation.reason"},
		{"set not a name", &calculatorv1.Recalculation{Reason: "x", FactorSet: "epa-supply-chain-v1.3.0"}, "recalculation.factor_set"},
		{"unknown set", &calculatorv1.Recalculation{Reason: "x", FactorSet: "factorSets/nope"}, "recalculation.factor_set"},
		{"year", &calculatorv1.Recalculation{Reason: "x", Year: 2101}, "recalculation.year"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := api.CreateRecalculation(a, &calculatorv1.CreateRecalculationRequest{Recalculation: tc.in})
			if fieldOf(err) != tc.field {
				t.Fatalf("got %v, want a violation of %s", err, tc.field)
			}
		})
	}
	// No workers here: the recalculations stay queued.
	names := make([]string, 0, 3)
	for _, in := range []*calculatorv1.Recalculation{
		{Reason: "new EPA version", FactorSet: "factorSets/epa-supply-chain-v1.3.0"},
		{Reason: "supplier restated", SupplierId: "S1", Year: 2024},
		{Reason: "everything"},
	} {
		r, err := api.CreateRecalculation(a, &calculatorv1.CreateRecalculationRequest{Recalculation: in})
		if err != nil {
			t.Fatal(err)
		}
		if r.GetState() != calculatorv1.RecalculationState_RECALCULATION_STATE_QUEUED || r.GetReason() != in.GetReason() ||
			r.GetFactorSet() != in.GetFactorSet() || r.GetYear() != in.GetYear() || r.GetSupplierId() != in.GetSupplierId() || r.GetCreateTime() == nil {
			t.Fatalf("created %v", r)
		}
		names = append(names, r.GetName())
	}
	got, err := api.GetRecalculation(a, &calculatorv1.GetRecalculationRequest{Name: names[0]})
	if err != nil || got.GetReason() != "new EPA version" {
		t.Fatalf("get = %v, %v", got, err)
	}
	if _, err := api.GetRecalculation(b, &calculatorv1.GetRecalculationRequest{Name: names[0]}); apperr.KindOf(err) != apperr.NotFound {
		t.Fatalf("another tenant's: %v", err)
	}
	if _, err := api.GetRecalculation(a, &calculatorv1.GetRecalculationRequest{Name: "recalculation/1"}); fieldOf(err) != "name" {
		t.Fatalf("bad name: %v", err)
	}
	first, err := api.ListRecalculations(a, &calculatorv1.ListRecalculationsRequest{PageSize: 2})
	if err != nil || len(first.GetRecalculations()) != 2 || first.GetRecalculations()[0].GetName() != names[2] || first.GetNextPageToken() == "" {
		t.Fatalf("first page = %v, %v", first, err)
	}
	rest, err := api.ListRecalculations(a, &calculatorv1.ListRecalculationsRequest{PageSize: 2, PageToken: first.GetNextPageToken()})
	if err != nil || len(rest.GetRecalculations()) != 1 || rest.GetRecalculations()[0].GetName() != names[0] || rest.GetNextPageToken() != "" {
		t.Fatalf("second page = %v, %v", rest, err)
	}
	changes, err := api.ListRecalculationChanges(a, &calculatorv1.ListRecalculationChangesRequest{Parent: names[0]})
	if err != nil || len(changes.GetChanges()) != 0 {
		t.Fatalf("changes of a queued run = %v, %v", changes, err)
	}
	if _, err := api.ListRecalculationChanges(b, &calculatorv1.ListRecalculationChangesRequest{Parent: names[0]}); apperr.KindOf(err) != apperr.NotFound {
		t.Fatalf("another tenant's changes: %v", err)
	}
}

// fieldOf is the field of err's first violation, as the API returns it
// (the interceptor makes it a status); "" for another error.
func fieldOf(err error) string {
	var ae *apperr.Error
	if !errors.As(err, &ae) || ae.Kind != apperr.InvalidArgument || len(ae.Violations) == 0 {
		return ""
	}
	return ae.Violations[0].Field
}

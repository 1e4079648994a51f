package grpcapi_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"github.com/vcci-dev/vcci/pkg/apperr"
	calculatorv1 "github.com/vcci-dev/vcci/pkg/gen/vcci/calculator/v1"
	"github.com/vcci-dev/vcci/pkg/pagetoken"
	"github.com/vcci-dev/vcci/pkg/tenancy"
	"github.com/vcci-dev/vcci/pkg/testsupport"
	"github.com/vcci-dev/vcci/services/calculator/internal/calculator"
	"github.com/vcci-dev/vcci/services/calculator/internal/grpcapi"
	"github.com/vcci-dev/vcci/services/calculator/internal/store"
)

// twoTenants is the API over a migrated database and two tenants' contexts.
func twoTenants(t *testing.T) (api *grpcapi.API, a, b context.Context) {
	t.Helper()
	pool := testsupport.NewPool(t, "calculator", store.Migrate)
	api = grpcapi.New(calculator.New(store.New(pool), nil, nil, nil), pagetoken.New([]byte("0123456789abcdef0123456789abcdef")))
	a = tenancy.WithTenant(context.Background(), testsupport.Tenant(t, pool, "a"), "key")
	b = tenancy.WithTenant(context.Background(), testsupport.Tenant(t, pool, "b"), "key")
	return api, a, b
}

// steelCSV is a spend set of two factors, gases in kg.
const steelCSV = `code,title,value,category,unit,region,CO2,CH4,N2O
331110,Iron and steel mills and ferroalloy manufacturing,0.9,,,,0.8,0.001,0.0001
331210,Iron and steel pipe and tube manufacturing from purchased steel,0.75,2,,CA,0.7,,
`

func importSteel(name string) *calculatorv1.ImportFactorSetRequest {
	return &calculatorv1.ImportFactorSetRequest{
		FactorSetId: name, DisplayName: "ACME steel factors 2025", Publisher: "ACME Corp", Version: "2025.1",
		Unit: "kg CO2e/2022 USD, purchaser price", Source: "ACME LCA study 2025", Licence: "Proprietary", Region: "US", Year: 2025,
		PriceYear: 2022, Kind: calculatorv1.FactorSetKind_FACTOR_SET_KIND_SPEND, Csv: []byte(steelCSV),
	}
}

func TestImportFactorSetReadsBackExactly(t *testing.T) {
	api, a, b := twoTenants(t)
	set, err := api.ImportFactorSet(a, importSteel("acme-steel-2025"))
	if err != nil {
		t.Fatal(err)
	}
	if set.GetName() != "factorSets/acme-steel-2025" || set.GetFactorCount() != 2 || set.GetKind() != calculatorv1.FactorSetKind_FACTOR_SET_KIND_SPEND {
		t.Fatalf("imported %v", set)
	}
	// 0.9 + 0.001 x (25 - 28) + 0.0001 x (298 - 265); under AR6 27.9 and 273.
	f, err := api.GetFactor(a, &calculatorv1.GetFactorRequest{Name: "factorSets/acme-steel-2025/factors/331110"})
	if err != nil {
		t.Fatal(err)
	}
	if f.GetValue() != "0.9" || f.GetValueAr4() != "0.9003" || f.GetValueAr6() != "0.9007" || f.GetCategory() != 1 || f.GetRegion() != "US" ||
		f.GetUnit() != "kg CO2e/2022 USD, purchaser price" || f.GetFactorSetVersion() != "2025.1" || f.GetGasUnit() != "kg" || f.GetLicence() != "Proprietary" ||
		gasList(f.GetGases()) != "CH4=0.001 CO2=0.8 N2O=0.0001" || f.GetYear() != 2025 {
		t.Fatalf("331110 = %v", f)
	}
	f, err = api.GetFactor(a, &calculatorv1.GetFactorRequest{Name: "factorSets/acme-steel-2025/factors/331210"})
	if err != nil || f.GetValue() != "0.75" || f.GetCategory() != 2 || f.GetRegion() != "CA" || f.GetValueAr4() != "0.75" || len(f.GetGases()) != 1 {
		t.Fatalf("331210 = %v, %v", f, err)
	}
	list, err := api.ListFactors(a, &calculatorv1.ListFactorsRequest{Parent: "factorSets/acme-steel-2025"})
	if err != nil || list.GetTotalSize() != 2 || codesOf(list.GetFactors())[1] != "331210" {
		t.Fatalf("ListFactors = %v, %v", list, err)
	}
	sets, err := api.ListFactorSets(a, &calculatorv1.ListFactorSetsRequest{})
	if err != nil || len(sets.GetFactorSets()) != 3 || sets.GetFactorSets()[0].GetName() != "factorSets/acme-steel-2025" ||
		sets.GetFactorSets()[1].GetKind() != calculatorv1.FactorSetKind_FACTOR_SET_KIND_ACTIVITY {
		t.Fatalf("a's sets = %v, %v", sets, err)
	}

	// Tenant b sees none of it, and may import a set of its own.
	if sets, err := api.ListFactorSets(b, &calculatorv1.ListFactorSetsRequest{}); err != nil || len(sets.GetFactorSets()) != 2 {
		t.Fatalf("b's sets = %v, %v; want the two public ones", sets, err)
	}
	if _, err := api.GetFactor(b, &calculatorv1.GetFactorRequest{Name: "factorSets/acme-steel-2025/factors/331110"}); apperr.KindOf(err) != apperr.NotFound {
		t.Fatalf("b reading a's factor: %v, want NotFound", err)
	}
	if _, err := api.ListFactors(b, &calculatorv1.ListFactorsRequest{Parent: "factorSets/acme-steel-2025"}); apperr.KindOf(err) != apperr.NotFound {
		t.Fatalf("b listing a's set: %v, want NotFound", err)
	}
	if all, err := api.ListFactors(b, &calculatorv1.ListFactorsRequest{Parent: "factorSets/-", Filter: `code = "331210"`}); err != nil || all.GetTotalSize() != 1 {
		t.Fatalf("b listing every set = %v, %v; want only EPA's 331210", all, err)
	}
	// b's names are its own: a's neither block nor show.
	other := importSteel("acme-steel-2025")
	other.Csv = []byte(strings.Replace(steelCSV, ",0.9,", ",0.95,", 1))
	if _, err := api.ImportFactorSet(b, other); err != nil {
		t.Fatal(err)
	}
	for ctx, want := range map[context.Context]string{a: "0.9", b: "0.95"} {
		if f, err := api.GetFactor(ctx, &calculatorv1.GetFactorRequest{Name: "factorSets/acme-steel-2025/factors/331110"}); err != nil || f.GetValue() != want {
			t.Fatalf("each tenant's own 331110: %v, %v; want %s", f, err, want)
		}
	}
	if sets, _ := api.ListFactorSets(a, &calculatorv1.ListFactorSetsRequest{}); len(sets.GetFactorSets()) != 3 {
		t.Fatalf("a's sets after b's import = %v", sets)
	}

	// A name taken, the set's own or a public one, is refused: a new
	// version is a new set.
	for _, name := range []string{"acme-steel-2025", "epa-supply-chain-v1.3.0"} {
		if _, err := api.ImportFactorSet(a, importSteel(name)); !errors.Is(err, calculator.ErrSetExists) {
			t.Fatalf("importing %s again: %v, want AlreadyExists", name, err)
		}
	}
}

func TestImportFactorSetRefusesBadInput(t *testing.T) {
	api, a, _ := twoTenants(t)
	for _, tc := range []struct {
		name  string
		edit  func(*calculatorv1.ImportFactorSetRequest)
		field string
		want  string
	}{
		{"bad id", func(r *calculatorv1.ImportFactorSetRequest) { r.FactorSetId = "ACME steel" }, "factor_set_id", "is not a set id"},
		{"no kind", func(r *calculatorv1.ImportFactorSetRequest) { r.Kind = 0 }, "kind", "required"},
		{"no display name", func(r *calculatorv1.ImportFactorSetRequest) { r.DisplayName = " " }, "display_name", "required"},
		{"spend set without price year", func(r *calculatorv1.ImportFactorSetRequest) { r.PriceYear = 0 }, "price_year", "required for a spend set"},
		{"price year without CPI", func(r *calculatorv1.ImportFactorSetRequest) { r.PriceYear = 1850 }, "price_year", "no annual average CPI-U"},
		{"activity set with price year", func(r *calculatorv1.ImportFactorSetRequest) {
			r.Kind = calculatorv1.FactorSetKind_FACTOR_SET_KIND_ACTIVITY
		}, "price_year", "must be 0"},
		{"gas unit", func(r *calculatorv1.ImportFactorSetRequest) { r.GasUnit = "g" }, "gas_unit", "is neither"},
		{"no csv", func(r *calculatorv1.ImportFactorSetRequest) { r.Csv = nil }, "csv", "required"},
		{"bad cell", func(r *calculatorv1.ImportFactorSetRequest) {
			r.Csv = []byte(strings.Replace(steelCSV, "0.75", "0,75", 1))
		}, "csv", "row 3: has 10 columns"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := importSteel("acme-steel-2025")
			tc.edit(req)
			_, err := api.ImportFactorSet(a, req)
			var ae *apperr.Error
			if !errors.As(err, &ae) || ae.Kind != apperr.InvalidArgument || ae.Violations[0].Field != tc.field || !strings.Contains(ae.Violations[0].Description, tc.want) {
				t.Fatalf("err = %#v, want InvalidArgument on %s: %s", err, tc.field, tc.want)
			}
		})
	}
	// Nothing was half-written: the name is still free.
	if sets, _ := api.ListFactorSets(a, &calculatorv1.ListFactorSetsRequest{}); len(sets.GetFactorSets()) != 2 {
		t.Fatalf("sets after refused imports = %v", sets)
	}
}

func TestCalculationSettingsChooseFactorSets(t *testing.T) {
	api, a, b := twoTenants(t)
	got, err := api.GetCalculationSettings(a, &calculatorv1.GetCalculationSettingsRequest{Name: "calculationSettings"})
	if err != nil || got.GetSpendFactorSet() != "factorSets/epa-supply-chain-v1.3.0" || got.GetActivityFactorSet() != "factorSets/desnz-2024" ||
		got.GetGwpBasis() != calculatorv1.GwpBasis_GWP_BASIS_AR5 {
		t.Fatalf("defaults = %v, %v", got, err)
	}
	if _, err := api.ImportFactorSet(a, importSteel("acme-steel-2025")); err != nil {
		t.Fatal(err)
	}
	update := func(ctx context.Context, s *calculatorv1.CalculationSettings, paths ...string) (*calculatorv1.CalculationSettings, error) {
		s.Name = "calculationSettings"
		req := &calculatorv1.UpdateCalculationSettingsRequest{Settings: s}
		if paths != nil {
			req.UpdateMask = &fieldmaskpb.FieldMask{Paths: paths}
		}
		return api.UpdateCalculationSettings(ctx, req)
	}
	got, err = update(a, &calculatorv1.CalculationSettings{SpendFactorSet: "factorSets/acme-steel-2025"})
	if err != nil || got.GetSpendFactorSet() != "factorSets/acme-steel-2025" || got.GetActivityFactorSet() != "factorSets/desnz-2024" ||
		got.GetGwpBasis() != calculatorv1.GwpBasis_GWP_BASIS_AR5 || got.GetUpdateTime() == nil {
		t.Fatalf("choosing a's set = %v, %v", got, err)
	}
	// A mask may use the JSON names REST clients see.
	got, err = update(a, &calculatorv1.CalculationSettings{ActivityFactorSet: "factorSets/desnz-2024"}, "activityFactorSet")
	if err != nil || got.GetActivityFactorSet() != "factorSets/desnz-2024" || got.GetSpendFactorSet() != "factorSets/acme-steel-2025" {
		t.Fatalf("a mask in JSON names = %v, %v", got, err)
	}
	// The basis alone leaves the sets as they are.
	got, err = update(a, &calculatorv1.CalculationSettings{GwpBasis: calculatorv1.GwpBasis_GWP_BASIS_AR6}, "gwp_basis")
	if err != nil || got.GetSpendFactorSet() != "factorSets/acme-steel-2025" || got.GetGwpBasis() != calculatorv1.GwpBasis_GWP_BASIS_AR6 {
		t.Fatalf("changing the basis = %v, %v", got, err)
	}
	for _, tc := range []struct {
		name  string
		ctx   context.Context
		in    *calculatorv1.CalculationSettings
		paths []string
		field string
	}{
		{"another tenant's set", b, &calculatorv1.CalculationSettings{SpendFactorSet: "factorSets/acme-steel-2025"}, nil, "settings.spend_factor_set"},
		{"unknown set", a, &calculatorv1.CalculationSettings{SpendFactorSet: "factorSets/epa-supply-chain-v9"}, nil, "settings.spend_factor_set"},
		{"activity set for spend", a, &calculatorv1.CalculationSettings{SpendFactorSet: "factorSets/desnz-2024"}, nil, "settings.spend_factor_set"},
		{"spend set for activity", a, &calculatorv1.CalculationSettings{ActivityFactorSet: "factorSets/acme-steel-2025"}, nil, "settings.activity_factor_set"},
		{"not a set name", a, &calculatorv1.CalculationSettings{ActivityFactorSet: "desnz-2024"}, nil, "settings.activity_factor_set"},
		{"masked but empty", a, &calculatorv1.CalculationSettings{}, []string{"spend_factor_set"}, "settings.spend_factor_set"},
		{"path not to update", a, &calculatorv1.CalculationSettings{}, []string{"name"}, "update_mask"},
		{"unknown path", a, &calculatorv1.CalculationSettings{}, []string{"colour"}, "update_mask"},
		{"nothing", a, &calculatorv1.CalculationSettings{}, nil, "settings"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := update(tc.ctx, tc.in, tc.paths...)
			wantInvalid(t, err, tc.field)
		})
	}
	if got, _ := api.GetCalculationSettings(b, &calculatorv1.GetCalculationSettingsRequest{Name: "calculationSettings"}); got.GetSpendFactorSet() != "factorSets/epa-supply-chain-v1.3.0" {
		t.Fatalf("b's settings = %v, want the defaults", got)
	}
}

func gasList(gs []*calculatorv1.FactorGas) string {
	out := make([]string, len(gs))
	for i, g := range gs {
		out[i] = g.GetGas() + "=" + g.GetValue()
	}
	return strings.Join(out, " ")
}

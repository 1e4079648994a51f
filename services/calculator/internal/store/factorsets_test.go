package store_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/vcci-dev/vcci/services/calculator/internal/calculator"
	"github.com/vcci-dev/vcci/services/calculator/internal/factors"
	"github.com/vcci-dev/vcci/services/calculator/internal/store"
)

// epaV14 is a later EPA release, as a tenant would import it: 331110's
// factor changed and 327310 gone.
func epaV14() factors.Set {
	set := factors.EPA()
	set.Name, set.Version, set.DisplayName = "epa-supply-chain-v1.4.0", "1.4.0", "US EPA Supply Chain GHG Emission Factors v1.4 (test)"
	return set
}

const epaV14CSV = `code,title,value,category,unit,region,CO2
331110,Iron and steel mills and ferroalloy manufacturing,0.9,,,,0.9
481111,Scheduled passenger air transportation,0.7,,,,0.7
`

// Switching the spend set calculates new lines with the new version and
// leaves every result already stored as it was: each names its own
// version and value, and the summaries add both.
func TestSwitchingFactorSetVersionRewritesNothing(t *testing.T) {
	ctx := context.Background()
	f := setup(t)
	line := func(id string) calculator.Line {
		// 1000 x 292.655 / 308.417 (CPI-U, January 2024) = 948.8939 2022 USD.
		return calculator.Line{TransactionID: id, Date: day("2024-01-15"), SupplierID: "S1", NAICS: "331110", Amount: "1000.00", Upload: 1}
	}
	if out, err := f.svc.Calculate(ctx, f.a, []calculator.Line{line("OLD")}); err != nil || out.Kg != "746.7794993" { // x 0.787
		t.Fatalf("with v1.3.0: %+v, %v", out, err)
	}
	if _, err := f.svc.ImportFactorSet(ctx, f.a, epaV14(), []byte(epaV14CSV)); err != nil {
		t.Fatal(err)
	}
	s, err := f.svc.UpdateSettings(ctx, f.a, calculator.Settings{SpendSet: "epa-supply-chain-v1.4.0"})
	if err != nil || s.SpendSet != "epa-supply-chain-v1.4.0" || s.ActivitySet != "desnz-2024" {
		t.Fatalf("switching: %+v, %v", s, err)
	}
	// OLD again is skipped, not recalculated.
	out, err := f.svc.Calculate(ctx, f.a, []calculator.Line{line("OLD"), line("NEW")})
	if err != nil || out.Stored != 1 || out.Skipped != 1 {
		t.Fatalf("with v1.4.0: %+v, %v", out, err)
	}
	for id, want := range map[string][4]string{
		"OLD": {"epa-supply-chain-v1.3.0", "1.3.0", "0.787", "746.7794993"},
		"NEW": {"epa-supply-chain-v1.4.0", "1.4.0", "0.9", "854.0045100"}, // 948.8939 x 0.9
	} {
		r, err := f.svc.Result(ctx, f.a, id)
		if err != nil || r.Set != want[0] || r.SetVersion != want[1] || r.FactorValue != want[2] || r.Kg != want[3] || r.KgAR4 != want[3] && id == "NEW" {
			t.Errorf("%s = %+v, %v; want %v", id, r, err, want)
		}
	}
	sum, err := f.svc.Summarize(ctx, f.a, calculator.ByNAICS, 0)
	if err != nil || sum.TotalKg != "1600.7840093" || sum.Count != 2 || len(sum.Groups) != 1 || sum.Groups[0].Kg != "1600.7840093" {
		t.Fatalf("summary = %+v, %v; want both results added", sum, err)
	}
	// Calculating without storing follows the tenant's set too, and a
	// tenant that kept the shipped one gets it.
	for tenant, want := range map[uuid.UUID][2]string{f.a: {"epa-supply-chain-v1.4.0", "854.0045100"}, f.b: {"epa-supply-chain-v1.3.0", "746.7794993"}} {
		c, err := f.svc.Compute(ctx, tenant, []calculator.Line{{Date: day("2024-01-15"), NAICS: "331110", Amount: "1000.00"}})
		if err != nil || c.Results[0].Set != want[0] || c.Results[0].Kg != want[1] || c.Results[0].PriceBase != "292.655" {
			t.Errorf("Compute for %s = %+v, %v; want %v", tenant, c, err, want)
		}
	}
	// A code the new version lacks is refused naming it.
	bad := line("GONE")
	bad.NAICS = "327310"
	if _, err := f.svc.Calculate(ctx, f.a, []calculator.Line{bad}); err == nil || !strings.Contains(err.Error(), "no factor in epa-supply-chain-v1.4.0 for NAICS codes [327310]") {
		t.Fatalf("a code v1.4.0 lacks: %v", err)
	}
	// Tenant b still calculates with v1.3.0.
	if out, err := f.svc.Calculate(ctx, f.b, []calculator.Line{line("OLD")}); err != nil || out.Kg != "746.7794993" {
		t.Fatalf("b: %+v, %v", out, err)
	}
}

// An activity set the tenant imports and chooses resolves its activity
// lines, in its own units.
func TestSwitchingTheActivitySet(t *testing.T) {
	ctx := context.Background()
	f := setup(t)
	set := factors.Set{Name: "acme-travel-2025", DisplayName: "ACME travel", Publisher: "ACME", Version: "1", Source: "ACME", Kind: factors.KindActivity,
		GasUnit: factors.GasKgCO2eAR5, Region: "GB", Year: 2025}
	csv := "code,title,value,category,unit,region,CO2,CH4\nhotel.uk.room-night,Hotel stay UK,12.5,6,room-night,,12,0.5\n"
	if _, err := f.svc.ImportFactorSet(ctx, f.a, set, []byte(csv)); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.UpdateSettings(ctx, f.a, calculator.Settings{ActivitySet: "acme-travel-2025"}); err != nil {
		t.Fatal(err)
	}
	hotel := calculator.Line{TransactionID: "H1", Date: day("2024-03-10"), SupplierID: "S1", Activity: "hotel.uk.room-night", Quantity: "3", Unit: "nights", Upload: 1}
	if out, err := f.svc.Calculate(ctx, f.a, []calculator.Line{hotel}); err != nil || out.Kg != "37.5000000" {
		t.Fatalf("Calculate = %+v, %v", out, err)
	}
	// AR4: 37.5 + 3 x 0.5 x (25/28 - 1).
	if r, err := f.svc.Result(ctx, f.a, "H1"); err != nil || r.Set != "acme-travel-2025" || r.Category != 6 || r.KgAR4 != "37.3392857" {
		t.Fatalf("H1 = %+v, %v", r, err)
	}
	// Calculating without storing uses the same set.
	if c, err := f.svc.Compute(ctx, f.a, []calculator.Line{{Date: hotel.Date, Activity: hotel.Activity, Quantity: "3", Unit: "nights"}}); err != nil ||
		len(c.Results) != 1 || c.Results[0].Set != "acme-travel-2025" || c.Results[0].Kg != "37.5000000" {
		t.Fatalf("Compute = %+v, %v", c, err)
	}
	// An activity the set lacks is refused naming the set.
	hotel.TransactionID, hotel.Activity = "H2", "hotel.france.room-night"
	if _, err := f.svc.Calculate(ctx, f.a, []calculator.Line{hotel}); err == nil || !strings.Contains(err.Error(), "not a factor of acme-travel-2025") {
		t.Fatalf("unknown activity: %v", err)
	}
	// A line resolved in another set than the tenant's (its settings
	// changed meanwhile) is a conflict, to retry.
	hotel.Activity, hotel.ActivitySet, hotel.FactorQty = "hotel.uk.room-night", "desnz-2024", "3"
	if _, err := store.New(f.pool).Calculate(ctx, f.a, []calculator.Line{hotel}); !errors.Is(err, calculator.ErrConflict) {
		t.Fatalf("stale activity set: %v, want ErrConflict", err)
	}
}

// vcci may ship a set under a name a tenant already imported: it loads,
// the tenant keeps meaning its own by the name, and every other tenant
// sees the public one.
func TestShippingANameATenantImported(t *testing.T) {
	ctx := context.Background()
	f := setup(t)
	if _, err := f.svc.ImportFactorSet(ctx, f.a, epaV14(), []byte(epaV14CSV)); err != nil {
		t.Fatal(err)
	}
	shipped := epaV14()
	shipped.Factors = func() ([]factors.Factor, error) {
		return factors.ParseCSV([]byte(strings.Replace(epaV14CSV, ",0.9,", ",0.85,", 1)), factors.KindSpend, factors.GasKg)
	}
	if err := store.LoadSet(ctx, f.pool, shipped); err != nil {
		t.Fatal(err)
	}
	key := calculator.FactorKey{Set: "epa-supply-chain-v1.4.0", Code: "331110"}
	for tenant, want := range map[string]string{"a": "0.9", "b": "0.85"} {
		id := map[string]uuid.UUID{"a": f.a, "b": f.b}[tenant]
		if got, err := f.svc.Factor(ctx, id, key); err != nil || got.Value != want {
			t.Errorf("%s's 331110 = %+v, %v; want %s", tenant, got, err, want)
		}
		if sets, err := f.svc.FactorSets(ctx, id); err != nil || len(sets) != 3 {
			t.Errorf("%s's sets = %+v, %v; want 3, one per name", tenant, sets, err)
		}
	}
	// Choosing the name chooses the tenant's own.
	if _, err := f.svc.UpdateSettings(ctx, f.a, calculator.Settings{SpendSet: key.Set}); err != nil {
		t.Fatal(err)
	}
	line := calculator.Line{TransactionID: "T1", Date: day("2024-01-15"), SupplierID: "S1", NAICS: "331110", Amount: "1000.00", Upload: 1}
	if out, err := f.svc.Calculate(ctx, f.a, []calculator.Line{line}); err != nil || out.Kg != "854.0045100" {
		t.Fatalf("a with its own v1.4.0: %+v, %v", out, err)
	}
	// b sees the public set: the name is taken for it.
	if _, err := f.svc.ImportFactorSet(ctx, f.b, epaV14(), []byte(epaV14CSV)); !errors.Is(err, calculator.ErrSetExists) {
		t.Fatalf("b importing a public name: %v, want ErrSetExists", err)
	}
}

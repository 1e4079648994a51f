package grpcapi_test

import (
	"context"
	"errors"
	"math/big"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/vcci-dev/vcci/pkg/apperr"
	calculatorv1 "github.com/vcci-dev/vcci/pkg/gen/vcci/calculator/v1"
	commonv1 "github.com/vcci-dev/vcci/pkg/gen/vcci/common/v1"
	"github.com/vcci-dev/vcci/pkg/pagetoken"
	"github.com/vcci-dev/vcci/pkg/refdata"
	"github.com/vcci-dev/vcci/pkg/tenancy"
	"github.com/vcci-dev/vcci/pkg/testsupport"
	"github.com/vcci-dev/vcci/services/calculator/internal/calculator"
	"github.com/vcci-dev/vcci/services/calculator/internal/factors"
	"github.com/vcci-dev/vcci/services/calculator/internal/grpcapi"
	"github.com/vcci-dev/vcci/services/calculator/internal/store"
)

func TestMain(m *testing.M) { os.Exit(testsupport.Main(m)) }

const epaSet = "factorSets/epa-supply-chain-v1.3.0"

// factorAPI is the API over a migrated database (the EPA set loaded), and
// a caller's context.
func factorAPI(t *testing.T) (*grpcapi.API, context.Context) {
	t.Helper()
	pool := testsupport.NewPool(t, "calculator", store.Migrate)
	tenant := testsupport.Tenant(t, pool, "a")
	api := grpcapi.New(calculator.New(store.New(pool), nil, nil, nil), pagetoken.New([]byte("0123456789abcdef0123456789abcdef")))
	return api, tenancy.WithTenant(context.Background(), tenant, "key")
}

// epa is the embedded EPA file, read apart from the database.
func epa(t *testing.T) []factors.Factor {
	t.Helper()
	fs, err := factors.EPAFactors()
	if err != nil {
		t.Fatal(err)
	}
	return fs
}

// epaCodes are the codes of the EPA factors keep selects, ascending.
func epaCodes(t *testing.T, keep func(factors.Factor) bool) []string {
	t.Helper()
	var out []string
	for _, f := range epa(t) {
		if keep(f) {
			out = append(out, f.Code)
		}
	}
	slices.Sort(out)
	return out
}

// listAll walks every page of req, checking each page's total.
func listAll(ctx context.Context, t *testing.T, api *grpcapi.API, req *calculatorv1.ListFactorsRequest) []*calculatorv1.Factor {
	t.Helper()
	var out []*calculatorv1.Factor
	var total int64 = -1
	for pages := 0; ; pages++ {
		if pages > 2000 {
			t.Fatal("paging does not end")
		}
		resp, err := api.ListFactors(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		if total >= 0 && resp.GetTotalSize() != total {
			t.Fatalf("total_size changed from %d to %d", total, resp.GetTotalSize())
		}
		total = resp.GetTotalSize()
		out = append(out, resp.GetFactors()...)
		if resp.GetNextPageToken() == "" {
			break
		}
		req.PageToken = resp.GetNextPageToken()
	}
	if int64(len(out)) != total {
		t.Fatalf("%d factors served, total_size %d", len(out), total)
	}
	return out
}

func codesOf(fs []*calculatorv1.Factor) []string {
	out := make([]string, len(fs))
	for i, f := range fs {
		out[i] = f.GetCode()
	}
	return out
}

func TestListFactorsFiltersMatchTheCSV(t *testing.T) {
	api, ctx := factorAPI(t)
	unit := factors.EPA().Unit
	all := func(factors.Factor) bool { return true }
	for filter, keep := range map[string]func(factors.Factor) bool{
		"":                                all,
		"category = 4":                    func(f factors.Factor) bool { return f.Category == 4 },
		"category = SCOPE_CATEGORY_WASTE": func(f factors.Factor) bool { return f.Category == 5 },
		`code = "331110"`:                 func(f factors.Factor) bool { return f.Code == "331110" },
		`code:"3311*"`:                    func(f factors.Factor) bool { return strings.HasPrefix(f.Code, "3311") },
		`code = "3311*"`:                  func(f factors.Factor) bool { return strings.HasPrefix(f.Code, "3311") },
		`code:"331*"`:                     func(f factors.Factor) bool { return strings.HasPrefix(f.Code, "331") },
		"code:33":                         func(f factors.Factor) bool { return strings.HasPrefix(f.Code, "33") },
		`title:"steel"`:                   func(f factors.Factor) bool { return strings.Contains(strings.ToLower(f.Title), "steel") },
		`title:"STEEL" AND category = 1`: func(f factors.Factor) bool {
			return strings.Contains(strings.ToLower(f.Title), "steel") && f.Category == 1
		},
		`unit = "` + unit + `"`:         all,
		`region = "US" AND year = 2022`: all,
		`unit = "kg CO2e/EUR"`:          func(factors.Factor) bool { return false },
		`title = "Iron and Steel Mills and Ferroalloy Manufacturing"`: func(f factors.Factor) bool {
			return f.Title == "Iron and Steel Mills and Ferroalloy Manufacturing"
		},
	} {
		t.Run(filter, func(t *testing.T) {
			want := epaCodes(t, keep)
			if len(want) == 0 && !strings.Contains(filter, "EUR") {
				t.Fatalf("the CSV has no factor for %s: a test of nothing", filter)
			}
			got := codesOf(listAll(ctx, t, api, &calculatorv1.ListFactorsRequest{Parent: epaSet, Filter: filter, PageSize: 1000}))
			if !slices.Equal(got, want) {
				t.Fatalf("%d codes %.80v, want %d %.80v", len(got), got, len(want), want)
			}
		})
	}
}

// Every factor is served exactly once, in order, whatever the order, and
// with its value exactly as the CSV has it.
func TestListFactorsPagesEveryFactorOnce(t *testing.T) {
	api, ctx := factorAPI(t)
	byCode := map[string]factors.Factor{} // codes are unique across the shipped sets
	for _, set := range factors.Shipped() {
		fs, err := set.Factors()
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range fs {
			byCode[f.Code] = f
		}
	}
	if len(byCode) != 1016+1289 {
		t.Fatalf("the shipped sets have %d codes, want 1016 EPA + 1289 DESNZ", len(byCode))
	}
	for _, order := range calculator.FactorOrders() {
		t.Run(order, func(t *testing.T) {
			fs := listAll(ctx, t, api, &calculatorv1.ListFactorsRequest{Parent: "factorSets/-", PageSize: 100, OrderBy: order})
			seen := map[string]bool{}
			for i, f := range fs {
				want, ok := byCode[f.GetCode()]
				if !ok || seen[f.GetCode()] || f.GetValue() != want.Value || f.GetTitle() != want.Title {
					t.Fatalf("factor %d: %v; CSV %+v, seen before %v", i, f, want, seen[f.GetCode()])
				}
				seen[f.GetCode()] = true
				if i > 0 && !inOrder(t, order, fs[i-1], f) {
					t.Fatalf("%s then %s is not %s order", fs[i-1].GetCode(), f.GetCode(), order)
				}
			}
			if len(seen) != len(byCode) {
				t.Fatalf("%d factors served, want %d", len(seen), len(byCode))
			}
		})
	}
}

// inOrder reports whether a may come before b in order (codes are unique
// in one set, so they break ties).
func inOrder(t *testing.T, order string, a, b *calculatorv1.Factor) bool {
	t.Helper()
	name, desc := strings.CutSuffix(order, " desc")
	var c int
	switch name {
	case "code":
	case "title":
		c = strings.Compare(a.GetTitle(), b.GetTitle())
	case "value":
		x, _ := new(big.Rat).SetString(a.GetValue())
		y, _ := new(big.Rat).SetString(b.GetValue())
		c = x.Cmp(y)
	}
	if name == "title" && c != 0 {
		// The database collates titles; only equal titles are checked.
		return true
	}
	if c == 0 {
		c = strings.Compare(a.GetCode(), b.GetCode())
	}
	if desc {
		c = -c
	}
	return c < 0
}

func TestListFactorsPageSize(t *testing.T) {
	api, ctx := factorAPI(t)
	for size, want := range map[int32]int{0: 50, 7: 7, 1000: 1000, 5000: 1000} {
		resp, err := api.ListFactors(ctx, &calculatorv1.ListFactorsRequest{Parent: epaSet, PageSize: size})
		if err != nil {
			t.Fatal(err)
		}
		if len(resp.GetFactors()) != want || resp.GetNextPageToken() == "" || resp.GetTotalSize() != 1016 {
			t.Fatalf("page_size %d: %d factors, total %d, token %q; want %d", size, len(resp.GetFactors()), resp.GetTotalSize(), resp.GetNextPageToken(), want)
		}
	}
}

func TestListFactorsRefusesBadInputNamingTheField(t *testing.T) {
	api, ctx := factorAPI(t)
	first, err := api.ListFactors(ctx, &calculatorv1.ListFactorsRequest{Parent: epaSet, PageSize: 10, Filter: "category = 1"})
	if err != nil {
		t.Fatal(err)
	}
	token := first.GetNextPageToken()
	tampered := []byte(token)
	tampered[len(tampered)/2] ^= 1
	other := tenancy.WithTenant(context.Background(), uuid.New(), "key")
	for name, tc := range map[string]struct {
		ctx   context.Context
		req   *calculatorv1.ListFactorsRequest
		field string
	}{
		"tampered token":        {ctx, &calculatorv1.ListFactorsRequest{Parent: epaSet, Filter: "category = 1", PageToken: string(tampered)}, "page_token"},
		"token of other filter": {ctx, &calculatorv1.ListFactorsRequest{Parent: epaSet, Filter: "category = 2", PageToken: token}, "page_token"},
		"token of other order":  {ctx, &calculatorv1.ListFactorsRequest{Parent: epaSet, Filter: "category = 1", OrderBy: "value", PageToken: token}, "page_token"},
		"token of other parent": {ctx, &calculatorv1.ListFactorsRequest{Parent: "factorSets/-", Filter: "category = 1", PageToken: token}, "page_token"},
		"token of other tenant": {other, &calculatorv1.ListFactorsRequest{Parent: epaSet, Filter: "category = 1", PageToken: token}, "page_token"},
		"negative page size":    {ctx, &calculatorv1.ListFactorsRequest{Parent: epaSet, PageSize: -1}, "page_size"},
		"unknown order":         {ctx, &calculatorv1.ListFactorsRequest{Parent: epaSet, OrderBy: "unit"}, "order_by"},
		"bad direction":         {ctx, &calculatorv1.ListFactorsRequest{Parent: epaSet, OrderBy: "value sideways"}, "order_by"},
		"no parent":             {ctx, &calculatorv1.ListFactorsRequest{}, "parent"},
		"bad parent":            {ctx, &calculatorv1.ListFactorsRequest{Parent: "sets/epa"}, "parent"},
		"NUL in parent":         {ctx, &calculatorv1.ListFactorsRequest{Parent: "factorSets/e\x00"}, "parent"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := api.ListFactors(tc.ctx, tc.req)
			wantInvalid(t, err, tc.field)
		})
	}
	for _, filter := range []string{
		`color = "red"`, "category = 16", "category = 0", "category:4", "year = twenty", `code = ""`, `code = "33*11"`,
		`title:"steel" OR code = "1"`, `NOT code = "1"`, `(code = "1")`, `title:"unterminated`, "title", "title ~ 4",
		`title:"st` + "\x00" + `eel"`, `title:"` + strings.Repeat("x", 600) + `"`, "code = 1 code = 2",
	} {
		t.Run("filter "+filter, func(t *testing.T) {
			_, err := api.ListFactors(ctx, &calculatorv1.ListFactorsRequest{Parent: epaSet, Filter: filter})
			wantInvalid(t, err, "filter")
		})
	}
	if _, err := api.ListFactors(ctx, &calculatorv1.ListFactorsRequest{Parent: "factorSets/no-such-set"}); apperr.KindOf(err) != apperr.NotFound {
		t.Fatalf("unknown set: %v, want NotFound", err)
	}
}

func wantInvalid(t *testing.T, err error, field string) {
	t.Helper()
	var ae *apperr.Error
	if !errors.As(err, &ae) || ae.Kind != apperr.InvalidArgument || len(ae.Violations) != 1 || ae.Violations[0].Field != field {
		t.Fatalf("err = %v, want InvalidArgument on %s", err, field)
	}
}

func TestGetFactorReadsTheCSVValue(t *testing.T) {
	api, ctx := factorAPI(t)
	var want factors.Factor
	for _, f := range epa(t) {
		if f.Code == "331110" {
			want = f
		}
	}
	set := factors.EPA()
	got, err := api.GetFactor(ctx, &calculatorv1.GetFactorRequest{Name: epaSet + "/factors/331110"})
	if err != nil {
		t.Fatal(err)
	}
	if got.GetName() != epaSet+"/factors/331110" || got.GetCode() != "331110" || got.GetValue() != want.Value || want.Value == "" ||
		got.GetTitle() != want.Title || got.GetUnit() != set.Unit || got.GetCategory() != commonv1.ScopeCategory(want.Category) ||
		got.GetFactorSet() != epaSet || got.GetFactorSetVersion() != "1.3.0" || got.GetSource() != set.Source ||
		got.GetRegion() != "US" || got.GetYear() != 2022 {
		t.Fatalf("got %v, want the CSV's %+v", got, want)
	}

	missing := epaSet + "/factors/999999"
	_, err = api.GetFactor(ctx, &calculatorv1.GetFactorRequest{Name: missing})
	if apperr.KindOf(err) != apperr.NotFound || !strings.Contains(err.Error(), missing) {
		t.Fatalf("unknown code: %v, want NotFound naming %s", err, missing)
	}
	for _, name := range []string{"", "factors/331110", epaSet + "/factors", epaSet + "/factors/", epaSet + "/codes/331110", epaSet + "/factors/33\x00"} {
		_, err := api.GetFactor(ctx, &calculatorv1.GetFactorRequest{Name: name})
		wantInvalid(t, err, "name")
	}

	sets, err := api.ListFactorSets(ctx, &calculatorv1.ListFactorSetsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if s := sets.GetFactorSets()[1]; s.GetName() != epaSet || s.GetRegion() != "US" || s.GetYear() != 2022 || s.GetFactorCount() != 1016 {
		t.Fatalf("factor set %v, want %s, region US, year 2022, 1016 factors", s, epaSet)
	}
	if s := sets.GetFactorSets()[0]; s.GetName() != "factorSets/desnz-2024" || s.GetRegion() != "GB" || s.GetYear() != 2024 || s.GetFactorCount() != 1289 {
		t.Fatalf("factor set %v, want desnz-2024, region GB, year 2024, 1289 factors", s)
	}
}

// The activity factors are searched by id prefix, unit of activity,
// version and gas, counted against the shipped file.
func TestListFactorsFindsActivityFactors(t *testing.T) {
	api, ctx := factorAPI(t)
	set, err := refdata.DESNZ()
	if err != nil {
		t.Fatal(err)
	}
	count := func(keep func(refdata.ActivityFactor) bool) int64 {
		n := int64(0)
		for _, f := range set.All() {
			if keep(f) {
				n++
			}
		}
		return n
	}
	for filter, want := range map[string]int64{
		`activity:"air.flights"`:             count(func(f refdata.ActivityFactor) bool { return strings.HasPrefix(f.Activity, "air.flights") }),
		`unit = "litre" AND version = "1.1"`: count(func(f refdata.ActivityFactor) bool { return f.Unit == "litre" }),
		`activity:"hotel." AND gas = "CH4"`:  0, // DESNZ gives hotel nights as CO2e only
		`activity:"fuels." AND gas = "N2O"`:  count(func(f refdata.ActivityFactor) bool { return strings.HasPrefix(f.Activity, "fuels.") && f.KgN2O != "" }),
		`region = "FR" AND activity:"hotel."`: count(func(f refdata.ActivityFactor) bool {
			return f.Region == "FR" && strings.HasPrefix(f.Activity, "hotel.")
		}),
	} {
		resp, err := api.ListFactors(ctx, &calculatorv1.ListFactorsRequest{Parent: "factorSets/desnz-2024", Filter: filter})
		if err != nil || resp.GetTotalSize() != want || (filter != `activity:"hotel." AND gas = "CH4"` && want == 0) {
			t.Errorf("%s: total %d, %v; want %d (and not 0)", filter, resp.GetTotalSize(), err, want)
		}
	}
	// Every EPA factor has SF6 among its 18 gases.
	if resp, err := api.ListFactors(ctx, &calculatorv1.ListFactorsRequest{Parent: epaSet, Filter: `gas = "SF6"`}); err != nil || resp.GetTotalSize() != 1016 {
		t.Fatalf("EPA factors with SF6: %d, %v", resp.GetTotalSize(), err)
	}
	got, err := api.GetFactor(ctx, &calculatorv1.GetFactorRequest{Name: "factorSets/desnz-2024/factors/hotel.uk.room-night"})
	if err != nil || got.GetValue() != "10.4" || got.GetUnit() != "kg CO2e/room-night" || got.GetActivityUnit() != "room-night" ||
		got.GetCategory() != commonv1.ScopeCategory_SCOPE_CATEGORY_BUSINESS_TRAVEL || got.GetLicence() != "Open Government Licence v3.0" || got.GetValueAr4() != "10.4" {
		t.Fatalf("hotel night = %v, %v", got, err)
	}
}

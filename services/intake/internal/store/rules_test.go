package store_test

import (
	"bytes"
	"context"
	"errors"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/vcci-dev/vcci/pkg/apperr"
	"github.com/vcci-dev/vcci/pkg/db"
	"github.com/vcci-dev/vcci/services/intake/internal/intake"
	"github.com/vcci-dev/vcci/services/intake/internal/intaketest"
	"github.com/vcci-dev/vcci/services/intake/internal/store"
)

func TestCategoryRuleCRUD(t *testing.T) {
	ctx := context.Background()
	e := setup(t)
	trucks := intake.CategoryRule{ID: "trucks", NAICSPrefix: "484", Category: 4, Description: "road freight"}
	r, err := e.svc.CreateRule(ctx, e.a, trucks)
	if err != nil || r.ID != "trucks" || r.NAICSPrefix != "484" || r.ActivityPrefix != "" || r.SupplierID != "" || r.Category != 4 ||
		r.Description != "road freight" || r.CreatedAt.IsZero() {
		t.Fatalf("created %+v, %v", r, err)
	}
	if _, err := e.svc.CreateRule(ctx, e.a, trucks); !errors.Is(err, intake.ErrRuleExists) {
		t.Fatalf("create twice: %v", err)
	}
	if _, err := e.svc.CreateRule(ctx, e.a, intake.CategoryRule{ID: "trucks-again", NAICSPrefix: "484", Category: 9}); !errors.Is(err, intake.ErrRuleMatchTaken) {
		t.Fatalf("a second rule on naics_prefix 484: %v", err)
	}
	// The activity prefix is kept lower-case, as uploads' activities are.
	if r, err := e.svc.CreateRule(ctx, e.a, intake.CategoryRule{ID: "hotels", ActivityPrefix: "Hotel.", Category: 6}); err != nil || r.ActivityPrefix != "hotel." {
		t.Fatalf("activity rule = %+v, %v", r, err)
	}
	if _, err := e.svc.CreateRule(ctx, e.a, intake.CategoryRule{ID: "acme", SupplierID: "S1", Category: 2}); err != nil {
		t.Fatal(err)
	}
	got, err := e.svc.Rule(ctx, e.a, "acme")
	if err != nil || got.SupplierID != "S1" || got.Category != 2 || got.NAICSPrefix != "" {
		t.Fatalf("get = %+v, %v", got, err)
	}
	if _, err := e.svc.Rule(ctx, e.b, "acme"); !errors.Is(err, intake.ErrRuleNotFound) {
		t.Fatalf("another tenant's get: %v", err)
	}
	page, err := e.svc.Rules(ctx, e.a, "", 2)
	if err != nil || len(page) != 2 || page[0].ID != "acme" || page[1].ID != "hotels" {
		t.Fatalf("first page = %+v, %v", page, err)
	}
	if page, err = e.svc.Rules(ctx, e.a, "hotels", 2); err != nil || len(page) != 1 || page[0].ID != "trucks" {
		t.Fatalf("second page = %+v, %v", page, err)
	}
	if page, err = e.svc.Rules(ctx, e.b, "", 10); err != nil || len(page) != 0 {
		t.Fatalf("another tenant's list = %+v, %v", page, err)
	}
	// Tenant b has its own rules: the same id and the same match are free.
	if _, err := e.svc.CreateRule(ctx, e.b, trucks); err != nil {
		t.Fatalf("b's own rule of the same id: %v", err)
	}
	if err := e.svc.DeleteRule(ctx, e.b, "acme"); !errors.Is(err, intake.ErrRuleNotFound) {
		t.Fatalf("another tenant's delete: %v", err)
	}
	if err := e.svc.DeleteRule(ctx, e.a, "acme"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Rule(ctx, e.a, "acme"); !errors.Is(err, intake.ErrRuleNotFound) {
		t.Fatalf("get after delete: %v", err)
	}
}

// Each bad rule is refused naming its field.
func TestCategoryRuleValidation(t *testing.T) {
	ctx := context.Background()
	e := setup(t)
	for _, tc := range []struct {
		name  string
		rule  intake.CategoryRule
		field string
	}{
		{"bad id", intake.CategoryRule{ID: "Trucks", NAICSPrefix: "48", Category: 4}, "category_rule_id"},
		{"no match", intake.CategoryRule{ID: "x", Category: 4}, "category_rule"},
		{"two matches", intake.CategoryRule{ID: "x", NAICSPrefix: "48", SupplierID: "S1", Category: 4}, "category_rule.supplier_id"},
		{"naics letters", intake.CategoryRule{ID: "x", NAICSPrefix: "4a", Category: 4}, "category_rule.naics_prefix"},
		{"naics too long", intake.CategoryRule{ID: "x", NAICSPrefix: "4841101", Category: 4}, "category_rule.naics_prefix"},
		{"no such activity", intake.CategoryRule{ID: "x", ActivityPrefix: "rocket.", Category: 6}, "category_rule.activity_prefix"},
		{"supplier with spaces", intake.CategoryRule{ID: "x", SupplierID: " S1", Category: 1}, "category_rule.supplier_id"},
		{"supplier NUL", intake.CategoryRule{ID: "x", SupplierID: "S\x001", Category: 1}, "category_rule.supplier_id"},
		{"no category", intake.CategoryRule{ID: "x", NAICSPrefix: "48"}, "category_rule.category"},
		{"category 16", intake.CategoryRule{ID: "x", NAICSPrefix: "48", Category: 16}, "category_rule.category"},
		{"long description", intake.CategoryRule{ID: "x", NAICSPrefix: "48", Category: 4, Description: strings.Repeat("d", 1025)}, "category_rule.description"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.svc.CreateRule(ctx, e.a, tc.rule)
			ae, ok := errors.AsType[*apperr.Error](err)
			if !ok || ae.Kind != apperr.InvalidArgument || len(ae.Violations) != 1 || ae.Violations[0].Field != tc.field {
				t.Fatalf("err = %v, want a violation of %s", err, tc.field)
			}
		})
	}
	if page, err := e.svc.Rules(ctx, e.a, "", 10); err != nil || len(page) != 0 {
		t.Fatalf("stored %+v, %v", page, err)
	}
}

const diesel = "fuels.liquid-fuels.diesel-average-biofuel-blend.litre"

// ruleFile's lines each meet another kind of rule (see
// TestCategoryRulesDecideCategories): the comment after each is the
// category it should get, and from where.
const ruleFile = "transaction_id,date,supplier_id,supplier_name,naics_code,amount,currency,description,category,activity,quantity,unit\n" +
	"N1,2024-02-01,S1,Haul,484110,100,USD,truck,,,,\n" + // 10, naics 4841 (longer than 48)
	"N2,2024-02-01,S1,Haul,481111,100,USD,air cargo,,,,\n" + // 9, naics 48
	"N3,2024-02-01,S1,Haul,331110,100,USD,steel,,,,\n" + // 1, its factor's
	"P1,2024-02-01,S9,Nine,484110,100,USD,truck,,,,\n" + // 14, supplier S9 (over naics 4841)
	"L1,2024-02-01,S9,Nine,484110,100,USD,truck,2,,,\n" + // 2, the line's own
	"A1,2024-02-01,S2,Inn,,50,USD,stay,,hotel.uk.room-night,2,room-night\n" + // 8, activity hotel.uk (longer than hotel.)
	"A2,2024-02-01,S2,Inn,,50,USD,stay,,hotel.france.room-night,1,room-night\n" + // 7, activity hotel.
	"A3,2024-02-01,S2,Inn,484110,50,USD,stay,,hotel.uk.room-night,1,room-night\n" + // 8, activity (over naics 4841)
	"A4,2024-02-01,S9,Nine,,50,USD,stay,,hotel.uk.room-night,1,room-night\n" + // 14, supplier S9 (over activity)
	"D1,2024-02-01,S3,Fuel Co,,,,diesel,," + diesel + ",40,litre\n" // 3, activity fuels.liquid-fuels: its factor has none

var ruleCategories = map[string]string{"N1": "10 categoryRules/naics4841", "N2": "9 categoryRules/naics48", "N3": "1 factor",
	"P1": "14 categoryRules/supplier-s9", "L1": "2 line", "A1": "8 categoryRules/hotels-uk", "A2": "7 categoryRules/hotels",
	"A3": "8 categoryRules/hotels-uk", "A4": "14 categoryRules/supplier-s9", "D1": "3 categoryRules/diesel"}

func createRules(t *testing.T, e env, tenant uuid.UUID) {
	t.Helper()
	for _, r := range []intake.CategoryRule{
		{ID: "naics48", NAICSPrefix: "48", Category: 9},
		{ID: "naics4841", NAICSPrefix: "4841", Category: 10},
		{ID: "supplier-s9", SupplierID: "S9", Category: 14},
		{ID: "hotels", ActivityPrefix: "hotel.", Category: 7},
		{ID: "hotels-uk", ActivityPrefix: "hotel.uk", Category: 8},
		{ID: "diesel", ActivityPrefix: "fuels.liquid-fuels", Category: 3},
	} {
		if _, err := e.svc.CreateRule(context.Background(), tenant, r); err != nil {
			t.Fatal(err)
		}
	}
}

// storedCategories are an upload's stored lines' "category source", by id.
func storedCategories(t *testing.T, e env, upload int64) map[string]string {
	t.Helper()
	rows, err := e.pool.Query(context.Background(), `SELECT transaction_id, category::text || ' ' || coalesce(category_source, 'factor')
		FROM intake.transactions WHERE upload_id = $1`, upload)
	if err != nil {
		t.Fatal(err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (kv [2]string, err error) {
		err = r.Scan(&kv[0], &kv[1])
		return kv, err
	})
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	for _, kv := range out {
		m[kv[0]] = kv[1]
	}
	return m
}

// processedBy is processed for tenant.
func processedBy(t *testing.T, e env, tenant uuid.UUID, data string) intake.Upload {
	t.Helper()
	ctx := context.Background()
	u, err := e.svc.Receive(ctx, tenant, intake.NewUpload{}, bytes.NewReader([]byte(data)))
	if err != nil {
		t.Fatal(err)
	}
	drain(t, e)
	got, err := e.svc.Get(ctx, tenant, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// The precedence: the line's own category, then a supplier rule, an
// activity rule (longest prefix), a NAICS rule (longest prefix), and the
// factor's default; a diesel line with no category is taken through an
// activity rule. Rules are the tenant's own, and a rule deleted later
// leaves the stored lines as they were.
func TestCategoryRulesDecideCategories(t *testing.T) {
	for _, p := range paths {
		t.Run(p.Name, func(t *testing.T) {
			ctx := context.Background()
			e := setupPath(t, p.Small)
			createRules(t, e, e.a)
			u := processedBy(t, e, e.a, ruleFile)
			if u.State != intake.Succeeded || u.Accepted != 10 || u.Rejected != 0 {
				t.Fatalf("upload = %+v", u)
			}
			if got := storedCategories(t, e, u.ID); !maps.Equal(got, ruleCategories) {
				t.Fatalf("stored categories %v\nwant %v", got, ruleCategories)
			}
			// The read shows where each category came from.
			for id, want := range map[string]string{"N1": "categoryRules/naics4841", "N3": "factor", "L1": "line"} {
				tx, err := e.dir.Transaction(ctx, e.a, id, nil)
				if err != nil || tx.CategorySource != want {
					t.Errorf("transaction %s: category_source %q (%v), want %q", id, tx.CategorySource, err, want)
				}
			}

			// Tenant b has no rules: factor defaults (48xxxx is 4, hotels
			// 6), and the diesel line is refused.
			ub := processedBy(t, e, e.b, ruleFile)
			if ub.State != intake.Succeeded || ub.Accepted != 9 || ub.Rejected != 1 {
				t.Fatalf("tenant b's upload = %+v", ub)
			}
			wantB := map[string]string{"N1": "4 factor", "N2": "4 factor", "N3": "1 factor", "P1": "4 factor", "L1": "2 line",
				"A1": "6 factor", "A2": "6 factor", "A3": "6 factor", "A4": "6 factor"}
			if got := storedCategories(t, e, ub.ID); !maps.Equal(got, wantB) {
				t.Fatalf("tenant b's stored categories %v\nwant %v", got, wantB)
			}
			if s := ub.ErrorSamples; len(s) != 1 || s[0].Row != 11 || s[0].Column != "category" || !strings.HasSuffix(s[0].Reason, "and no category rule matches the line") {
				t.Fatalf("tenant b's errors = %+v", s)
			}

			// A rule change decides later uploads only.
			if err := e.svc.DeleteRule(ctx, e.a, "naics4841"); err != nil {
				t.Fatal(err)
			}
			header, _, _ := strings.Cut(ruleFile, "\n")
			later := processedBy(t, e, e.a, header+"\nN9,2024-02-01,S1,Haul,484110,100,USD,truck,,,,\n")
			if got := storedCategories(t, e, later.ID); !maps.Equal(got, map[string]string{"N9": "9 categoryRules/naics48"}) {
				t.Fatalf("after the delete: %v", got)
			}
			if got := storedCategories(t, e, u.ID); got["N1"] != "10 categoryRules/naics4841" {
				t.Fatalf("the first upload's N1 became %q", got["N1"])
			}
		})
	}
}

// TestCategoryRulesBindTheTablesOwner keeps category rules under the
// tenant policies like every intake table.
func TestCategoryRulesBindTheTablesOwner(t *testing.T) {
	ctx := context.Background()
	e := intaketest.NewOwnedPipeline(t, store.SmallUpload)
	if _, err := e.Svc.CreateRule(ctx, e.A, intake.CategoryRule{ID: "trucks", NAICSPrefix: "484", Category: 4}); err != nil {
		t.Fatal(err)
	}
	var n int64
	if err := e.Pool.QueryRow(ctx, `SELECT count(*) FROM intake.category_rules`).Scan(&n); err == nil {
		t.Fatalf("the owner counted %d rules outside a tenant (%v): the policies do not bind it", n, err)
	}
	if err := db.InTenant(ctx, e.Pool, e.B, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `SELECT count(*) FROM intake.category_rules`).Scan(&n)
	}); err != nil || n != 0 {
		t.Fatalf("tenant b sees %d rules (%v), want 0", n, err)
	}
}

// A tenant keeps at most MaxRules rules.
func TestCategoryRulesAreCapped(t *testing.T) {
	ctx := context.Background()
	e := setup(t)
	if _, err := e.pool.Exec(ctx, `INSERT INTO intake.category_rules (tenant_id, rule_id, supplier_id, category)
		SELECT $1, 'r' || i, 'S' || i, 1 FROM generate_series(1, $2) i`, e.a, intake.MaxRules); err != nil {
		t.Fatal(err)
	}
	_, err := e.svc.CreateRule(ctx, e.a, intake.CategoryRule{ID: "one-more", NAICSPrefix: "48", Category: 4})
	if !errors.Is(err, intake.ErrTooManyRules) {
		t.Fatalf("rule %d: %v", intake.MaxRules+1, err)
	}
	rs, err := e.svc.Rules(ctx, e.a, "", intake.MaxRules+1)
	if err != nil || len(rs) != intake.MaxRules || !slices.ContainsFunc(rs, func(r intake.CategoryRule) bool { return r.ID == "r1000" }) {
		t.Fatalf("kept %d rules, %v", len(rs), err)
	}
}

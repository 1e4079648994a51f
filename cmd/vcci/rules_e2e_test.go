package main

import (
	"net/http"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/trace/noop"
)

// TestCategoryRulesThroughREST saves category rules, is refused a bad one
// naming its field, and uploads lines whose categories the rules decide:
// a diesel line with no category is calculated through an activity rule.
func TestCategoryRulesThroughREST(t *testing.T) {
	p := start(t, noop.NewTracerProvider())
	type rule struct {
		Name, NaicsPrefix, ActivityPrefix, Category string
		Code                                        int
		Message                                     string
	}
	var r rule
	if code := p.call(t, "POST", "/v1/categoryRules?category_rule_id=fleet-diesel", p.key,
		strings.NewReader(`{"activityPrefix": "fuels.liquid-fuels.diesel", "category": "SCOPE_CATEGORY_FUEL_AND_ENERGY"}`), &r); code != http.StatusOK ||
		r.Name != "categoryRules/fleet-diesel" || r.ActivityPrefix != "fuels.liquid-fuels.diesel" || r.Category != "SCOPE_CATEGORY_FUEL_AND_ENERGY" {
		t.Fatalf("create: HTTP %d %+v", code, r)
	}
	if code := p.call(t, "POST", "/v1/categoryRules?category_rule_id=couriers", p.key,
		strings.NewReader(`{"naicsPrefix": "492", "category": "SCOPE_CATEGORY_DOWNSTREAM_TRANSPORTATION"}`), &r); code != http.StatusOK {
		t.Fatalf("create couriers: HTTP %d %+v", code, r)
	}
	var bad rule
	if code := p.call(t, "POST", "/v1/categoryRules?category_rule_id=typo", p.key,
		strings.NewReader(`{"naicsPrefix": "49a", "category": "SCOPE_CATEGORY_DOWNSTREAM_TRANSPORTATION"}`), &bad); code != http.StatusBadRequest ||
		bad.Message != `category_rule.naics_prefix: must be 1 to 6 digits, the start of a NAICS code, got "49a"` {
		t.Fatalf("create a bad rule: HTTP %d %+v", code, bad)
	}
	if code := p.call(t, "POST", "/v1/categoryRules?category_rule_id=couriers-2", p.key,
		strings.NewReader(`{"naicsPrefix": "492", "category": "SCOPE_CATEGORY_UPSTREAM_TRANSPORTATION"}`), &bad); code != http.StatusConflict || bad.Code != 6 {
		t.Fatalf("a second rule on one prefix: HTTP %d %+v", code, bad)
	}
	var list struct{ CategoryRules []rule }
	if code := p.call(t, "GET", "/v1/categoryRules", p.key, nil, &list); code != http.StatusOK || len(list.CategoryRules) != 2 ||
		list.CategoryRules[0].Name != "categoryRules/couriers" {
		t.Fatalf("list: HTTP %d %+v", code, list)
	}

	const file = "transaction_id,date,supplier_id,supplier_name,naics_code,amount,currency,description,category,activity,quantity,unit\n" +
		"R1,2024-02-01,S1,Fleet Fuels,,,,diesel,,fuels.liquid-fuels.diesel-average-biofuel-blend.litre,100,litre\n" +
		"R2,2024-02-01,S2,Parcel Co,492110,80.00,USD,parcels,,,,\n" +
		"R3,2024-02-01,S2,Parcel Co,492110,20.00,USD,inbound parcels,4,,,\n"
	var u struct{ Name string }
	if code := p.call(t, "POST", "/v1/uploads", p.key, strings.NewReader(file), &u, "Content-Type", "text/csv"); code != http.StatusAccepted {
		t.Fatalf("upload: HTTP %d %+v", code, u)
	}
	if got := p.wait(t, p.key, u.Name); got.State != "UPLOAD_STATE_SUCCEEDED" || got.RowsAccepted != "3" {
		t.Fatalf("upload = %+v", got)
	}
	for id, want := range map[string][2]string{
		"R1": {"SCOPE_CATEGORY_FUEL_AND_ENERGY", "categoryRules/fleet-diesel"},
		"R2": {"SCOPE_CATEGORY_DOWNSTREAM_TRANSPORTATION", "categoryRules/couriers"},
		"R3": {"SCOPE_CATEGORY_UPSTREAM_TRANSPORTATION", "line"},
	} {
		var tx struct{ Category, CategorySource string }
		if code := p.call(t, "GET", "/v1/transactions/"+id, p.key, nil, &tx); code != http.StatusOK || tx.Category != want[0] || tx.CategorySource != want[1] {
			t.Errorf("transaction %s: HTTP %d %+v, want %v", id, code, tx, want)
		}
	}
	if code := p.call(t, "DELETE", "/v1/categoryRules/couriers", p.key, nil, nil); code != http.StatusOK {
		t.Fatalf("delete: HTTP %d", code)
	}
	if code := p.call(t, "GET", "/v1/categoryRules/couriers", p.key, nil, &r); code != http.StatusNotFound {
		t.Fatalf("get after delete: HTTP %d %+v", code, r)
	}
}

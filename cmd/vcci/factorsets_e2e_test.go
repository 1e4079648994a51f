package main

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"

	"github.com/vcci-dev/vcci/cmd/vcci/internal/stack"
)

// A tenant imports a new EPA version through REST and switches to it: the
// line uploaded before keeps v1.3.0, the ones uploaded after use v1.4.0
// (its codes, its categories), and the summary adds both. 1000 USD of
// January 2024 is 948.8939 2022 USD: x 0.787 = 746.7794993 kg, x 0.9 =
// 854.0045100 kg; 100 USD is 94.8894, x 0.5 = 47.4447 kg.
func TestFactorSetVersionThroughREST(t *testing.T) {
	p := startWith(t, stack.Options{})
	const head = "transaction_id,date,supplier_id,supplier_name,naics_code,amount,currency,description,supplier_country\n"
	newCode := "V3,2024-01-05,S1,Müller Stahl GmbH,999990,100.00,USD,scrap,DE\n" // only v1.4.0 has 999990
	if u := p.wait(t, p.key, p.upload(t, p.key, []byte(head+"V1,2024-01-05,S1,Müller Stahl GmbH,331110,1000.00,USD,coil,DE\n"+newCode)).Name); u.KgCo2e != "746.7794993" || u.RowsRejected != "1" {
		t.Fatalf("upload with v1.3.0 = %+v", u)
	}

	csv := "code,title,value,category,unit,region,CO2\n331110,Iron and steel mills and ferroalloy manufacturing,0.9,2,,,0.9\n999990,Scrap,0.5,,,,\n"
	req := map[string]any{"factorSetId": "epa-supply-chain-v1.4.0", "displayName": "US EPA v1.4", "publisher": "US EPA", "version": "1.4.0",
		"unit": "kg CO2e/2022 USD, purchaser price", "source": "test", "region": "US", "year": 2022, "priceYear": 2022,
		"kind": "FACTOR_SET_KIND_SPEND", "csv": base64.StdEncoding.EncodeToString([]byte(csv))}
	body, err := json.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	var set struct {
		Name, Kind  string
		FactorCount int
	}
	if code := p.call(t, "POST", "/v1/factorSets:import", p.key, strings.NewReader(string(body)), &set); code != 200 ||
		set.Name != "factorSets/epa-supply-chain-v1.4.0" || set.FactorCount != 2 || set.Kind != "FACTOR_SET_KIND_SPEND" {
		t.Fatalf("import: %d %+v", code, set)
	}
	var conflict map[string]any
	if code := p.call(t, "POST", "/v1/factorSets:import", p.key, strings.NewReader(string(body)), &conflict); code != 409 {
		t.Fatalf("import again: %d %v, want 409", code, conflict)
	}
	req["factorSetId"], req["csv"] = "epa-supply-chain-v1.4.1", base64.StdEncoding.EncodeToString([]byte(strings.Replace(csv, "0.9,", "0.9x,", 1)))
	if body, err = json.Marshal(req); err != nil {
		t.Fatal(err)
	}
	var bad struct {
		Details []struct {
			FieldViolations []struct{ Field, Description string }
		}
	}
	if code := p.call(t, "POST", "/v1/factorSets:import", p.key, strings.NewReader(string(body)), &bad); code != 400 || len(bad.Details) == 0 ||
		len(bad.Details[0].FieldViolations) != 1 || !strings.HasPrefix(bad.Details[0].FieldViolations[0].Description, `row 2, column value: "0.9x"`) {
		t.Fatalf("bad CSV: %d %+v", code, bad)
	}

	var settings struct{ SpendFactorSet, ActivityFactorSet string }
	if code := p.call(t, "PATCH", "/v1/calculationSettings?update_mask=spend_factor_set", p.key,
		strings.NewReader(`{"spendFactorSet":"factorSets/epa-supply-chain-v1.4.0"}`), &settings); code != 200 ||
		settings.SpendFactorSet != "factorSets/epa-supply-chain-v1.4.0" || settings.ActivityFactorSet != "factorSets/desnz-2024" {
		t.Fatalf("PATCH settings: %d %+v", code, settings)
	}
	if u := p.wait(t, p.key, p.upload(t, p.key, []byte(head+"V2,2024-01-05,S1,Müller Stahl GmbH,331110,1000.00,USD,coil,DE\n"+newCode)).Name); u.KgCo2e != "901.4492100" || u.RowsRejected != "" {
		t.Fatalf("upload with v1.4.0 = %+v", u)
	}
	for id, want := range map[string][4]string{
		"V1": {"factorSets/epa-supply-chain-v1.3.0/factors/331110", "1.3.0", "746.7794993", "SCOPE_CATEGORY_PURCHASED_GOODS_AND_SERVICES"},
		"V2": {"factorSets/epa-supply-chain-v1.4.0/factors/331110", "1.4.0", "854.0045100", "SCOPE_CATEGORY_CAPITAL_GOODS"},
		"V3": {"factorSets/epa-supply-chain-v1.4.0/factors/999990", "1.4.0", "47.4447000", "SCOPE_CATEGORY_PURCHASED_GOODS_AND_SERVICES"},
	} {
		var res struct{ Factor, FactorSetVersion, KgCo2e, Category string }
		if code := p.call(t, "GET", "/v1/emissionResults/"+id, p.key, nil, &res); code != 200 || res.Factor != want[0] || res.FactorSetVersion != want[1] ||
			res.KgCo2e != want[2] || res.Category != want[3] {
			t.Fatalf("%s = %d %+v, want %v", id, code, res, want)
		}
	}
	var sum struct{ TotalKgCo2e string }
	if code := p.call(t, "GET", "/v1/emissionResults:summarize?groupBy=SUMMARY_DIMENSION_NAICS", p.key, nil, &sum); code != 200 || sum.TotalKgCo2e != "1648.2287093" {
		t.Fatalf("summary = %d %+v", code, sum)
	}
}

package main

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"

	"github.com/vcci-dev/vcci/cmd/vcci/internal/stack"
)

// A tenant imports a new EPA version through REST and switches to it: the
// line uploaded before keeps v1.3.0, the one uploaded after uses v1.4.0,
// and the summary adds both. 1000 USD of January 2024 is 948.8939 2022 USD:
// x 0.787 = 746.7794993 kg, x 0.9 = 854.0045100 kg.
func TestFactorSetVersionThroughREST(t *testing.T) {
	p := startWith(t, stack.Options{})
	const head = "transaction_id,date,supplier_id,supplier_name,naics_code,amount,currency,description,supplier_country\n"
	if u := p.wait(t, p.key, p.upload(t, p.key, []byte(head+"V1,2024-01-05,S1,Müller Stahl GmbH,331110,1000.00,USD,coil,DE\n")).Name); u.KgCo2e != "746.7794993" {
		t.Fatalf("upload with v1.3.0 = %+v", u)
	}

	csv := "code,title,value,category,unit,region,CO2\n331110,Iron and steel mills and ferroalloy manufacturing,0.9,,,,0.9\n"
	req := map[string]any{"factorSetId": "epa-supply-chain-v1.4.0", "displayName": "US EPA v1.4", "publisher": "US EPA", "version": "1.4.0",
		"unit": "kg CO2e/2022 USD, purchaser price", "source": "test", "region": "US", "year": 2022, "priceYear": 2022,
		"kind": "FACTOR_SET_KIND_SPEND", "csv": base64.StdEncoding.EncodeToString([]byte(csv))}
	body, _ := json.Marshal(req)
	var set struct {
		Name, Kind  string
		FactorCount int
	}
	if code := p.call(t, "POST", "/v1/factorSets:import", p.key, strings.NewReader(string(body)), &set); code != 200 ||
		set.Name != "factorSets/epa-supply-chain-v1.4.0" || set.FactorCount != 1 || set.Kind != "FACTOR_SET_KIND_SPEND" {
		t.Fatalf("import: %d %+v", code, set)
	}
	var conflict map[string]any
	if code := p.call(t, "POST", "/v1/factorSets:import", p.key, strings.NewReader(string(body)), &conflict); code != 409 {
		t.Fatalf("import again: %d %v, want 409", code, conflict)
	}
	req["factorSetId"], req["csv"] = "epa-supply-chain-v1.4.1", base64.StdEncoding.EncodeToString([]byte(strings.Replace(csv, "0.9,", "0.9x,", 1)))
	body, _ = json.Marshal(req)
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
	if u := p.wait(t, p.key, p.upload(t, p.key, []byte(head+"V2,2024-01-05,S1,Müller Stahl GmbH,331110,1000.00,USD,coil,DE\n")).Name); u.KgCo2e != "854.0045100" {
		t.Fatalf("upload with v1.4.0 = %+v", u)
	}
	for id, want := range map[string][3]string{
		"V1": {"factorSets/epa-supply-chain-v1.3.0/factors/331110", "1.3.0", "746.7794993"},
		"V2": {"factorSets/epa-supply-chain-v1.4.0/factors/331110", "1.4.0", "854.0045100"},
	} {
		var res struct{ Factor, FactorSetVersion, KgCo2e string }
		if code := p.call(t, "GET", "/v1/emissionResults/"+id, p.key, nil, &res); code != 200 || res.Factor != want[0] || res.FactorSetVersion != want[1] || res.KgCo2e != want[2] {
			t.Fatalf("%s = %d %+v, want %v", id, code, res, want)
		}
	}
	var sum struct{ TotalKgCo2e string }
	if code := p.call(t, "GET", "/v1/emissionResults:summarize?groupBy=SUMMARY_DIMENSION_NAICS", p.key, nil, &sum); code != 200 || sum.TotalKgCo2e != "1600.7840093" {
		t.Fatalf("summary = %d %+v", code, sum)
	}
}

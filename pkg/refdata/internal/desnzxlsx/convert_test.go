package desnzxlsx

import (
	"strings"
	"testing"
)

func TestExact(t *testing.T) {
	for cell, want := range map[string]string{
		"0.20705000000000001":   "0.20705",
		"8.9999999999999998E-4": "0.0009",
		"1E-4":                  "0.0001",
		"16.100000000000001":    "16.1",
		"2568.1644099999999":    "2568.16441",
		"4.8607767053859851E-6": "0.000004860776705385985", // a formula's result: all its digits
		"2024":                  "2024",
		"-1.5":                  "-1.5",
	} {
		if got, err := exact(cell); err != nil || got != want {
			t.Errorf("exact(%q) = %q, %v; want %q", cell, got, err, want)
		}
	}
	for _, cell := range []string{"", "n/a", "1,5", "Inf"} {
		if got, err := exact(cell); err == nil {
			t.Errorf("exact(%q) = %q, want an error", cell, got)
		}
	}
}

func TestSlug(t *testing.T) {
	for label, want := range map[string]string{
		"Diesel (average biofuel blend)": "diesel-average-biofuel-blend",
		"Rigid (>3.5 - 7.5 tonnes)":      "rigid-over-3-5-7-5-tonnes",
		"200,000+ dwt":                   "200000-plus-dwt",
		"120,000–199,999 dwt":            "120000-199999-dwt",
		"0% Laden":                       "0-percent-laden",
		"T&D- UK electricity":            "t-and-d-uk-electricity",
		"Long-haul, to/from UK":          "long-haul-to-from-uk",
		" All dwt":                       "all-dwt",
		"Average Laden":                  "average-laden",
	} {
		if got := slug(label); got != want {
			t.Errorf("slug(%q) = %q, want %q", label, got, want)
		}
	}
}

var test = sheet{name: "Test sheet", prefix: "test", category: 4}

// A table shaped like Freighting goods: two named groups, per-gas columns,
// labels carried down.
func TestFactors(t *testing.T) {
	rows := [][]string{
		{"Note above a table"},
		{},
		{"", "", "", "Laden", "", "", "", "Empty"},
		{"Activity", "Type", "Unit", "kg CO2e", "kg CO2e of CO2 per unit", "kg CO2e of CH4 per unit", "kg CO2e of N2O per unit", "kg CO2e"},
		{"HGV", "Rigid (>17 tonnes)", "tonne.km", "0.20077000000000001", "0.19841", "4.0000000000000003E-5", "2.32E-3", ""},
		{"", "", "miles", "1.4679", "", "", "", "1.2068099999999999"},
		{"", "All HGVs", "km", "0.5", "", "", "", ""},
		{},
		{"Trailing note"},
	}
	got, err := test.factors(rows)
	if err != nil {
		t.Fatal(err)
	}
	lines := make([]string, 0, len(got))
	for _, f := range got {
		lines = append(lines, strings.Join(append([]string{f.activity, f.unit, f.region, f.description}, f.values[:]...), "|"))
	}
	want := []string{
		"test.hgv.rigid-over-17-tonnes.laden.tonne-km|tonne-km|GB|HGV / Rigid (>17 tonnes) / Laden, per tonne.km|0.20077|0.19841|0.00004|0.00232",
		"test.hgv.rigid-over-17-tonnes.laden.mile|mile|GB|HGV / Rigid (>17 tonnes) / Laden, per miles|1.4679|||",
		"test.hgv.rigid-over-17-tonnes.empty.mile|mile|GB|HGV / Rigid (>17 tonnes) / Empty, per miles|1.20681|||",
		"test.hgv.all-hgvs.laden.km|km|GB|HGV / All HGVs / Laden, per km|0.5|||",
	}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Fatalf("got\n%s\nwant\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
}

// Shapes the converter does not understand fail, naming the row.
func TestFactorsRefuses(t *testing.T) {
	header := []string{"Activity", "Type", "Unit", "kg CO2e", "kg CO2e of CO2 per unit"}
	for name, c := range map[string]struct {
		rows [][]string
		want string
	}{
		"no table": {[][]string{{"Guidance"}}, "no table"},
		"blank label under a new one": {[][]string{header,
			{"Vans", "Small", "km", "1"},
			{"Cars", "", "km", "1"},
		}, "row 3: blank Type"},
		"first row blank":   {[][]string{header, {"", "Small", "km", "1"}}, "row 2: blank Activity"},
		"unknown unit":      {[][]string{header, {"Vans", "Small", "furlongs", "1"}}, `unit "furlongs"`},
		"gas without total": {[][]string{header, {"Vans", "Small", "km", "", "1"}}, "gas shares but no kg CO2e"},
		"not a number":      {[][]string{header, {"Vans", "Small", "km", "n/a"}}, `"n/a" is not a number`},
		"outside the table": {[][]string{header, {"Vans", "Small", "km", "1", "1", "", "stray"}}, `"stray" in column 7`},
		"unknown header":    {[][]string{{"Activity", "Type", "Unit", "kg CO2e", "kg CO2 per unit"}}, `unexpected header "kg CO2 per unit"`},
		"no unit column":    {[][]string{{"Activity", "Type", "kg CO2e"}}, "no Unit column"},
		"gas before total":  {[][]string{{"Activity", "Unit", "kg CO2e of CO2 per unit", "kg CO2e"}}, "unexpected header"},
		"unnamed group": {[][]string{{"", "", "", "With RF"},
			{"Activity", "Type", "Unit", "kg CO2e", "kg CO2e"},
		}, "no group name above column 5"},
		"misplaced group name": {[][]string{{"", "", "", "With RF", "Without RF", "x"},
			{"Activity", "Type", "Unit", "kg CO2e", "kg CO2e"},
		}, `"x" in column 6`},
		"name above a single group": {[][]string{{"", "", "", "With RF"}, header}, "above the only kg CO2e column"},
		"wrong year":                {[][]string{{"Activity", "Type", "Unit", "Year", "kg CO2e"}, {"Grid", "UK", "kWh", "2023", "1"}}, `year "2023"`},
	} {
		_, err := test.factors(c.rows)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error saying %q", name, err, c.want)
		}
	}
}

func TestHotelRegion(t *testing.T) {
	hotel := sheet{name: "Hotel stay", prefix: "hotel", category: 6}
	rows := [][]string{{"Activity", "Country", "Unit", "kg CO2e"}, {"Hotel stay", "Atlantis", "Room per night", "1"}}
	if _, err := hotel.factors(rows); err == nil || !strings.Contains(err.Error(), `country "Atlantis"`) {
		t.Fatalf("unknown country: %v", err)
	}
}

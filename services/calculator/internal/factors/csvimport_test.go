package factors_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/vcci-dev/vcci/pkg/apperr"
	"github.com/vcci-dev/vcci/services/calculator/internal/factors"
)

const header = "code,title,value,category,unit,region,CO2,CH4,N2O\n"

func TestParseCSVReexpressesAsTheShippedSets(t *testing.T) {
	epa, err := factors.EPAFactors()
	if err != nil {
		t.Fatal(err)
	}
	var want factors.Factor
	for _, f := range epa {
		if f.Code == "331110" {
			want = f
		}
	}
	// The EPA factor written in the import shape comes back the same,
	// re-expressed to the same AR4 and AR6 values.
	cols, vals := make([]string, 0, len(want.Gases)), make([]string, 0, len(want.Gases))
	for _, g := range want.Gases {
		cols, vals = append(cols, g.Gas), append(vals, g.Value)
	}
	csv := "code,title,value,category,unit,region," + strings.Join(cols, ",") + "\n" +
		want.Code + `,"` + want.Title + `",` + want.Value + ",,,," + strings.Join(vals, ",") + "\n"
	got, err := factors.ParseCSV([]byte(csv), factors.KindSpend, factors.GasKg)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || fmt.Sprint(got[0]) != fmt.Sprint(want) {
		t.Fatalf("got %+v\nwant %+v", got, want)
	}

	// An activity factor: its unit, no default category, gases in CO2e.
	got, err = factors.ParseCSV([]byte("\ufeff"+header+"steel.hot-rolled.tonne,Hot-rolled steel,1850.5,,tonne,GB,1800,28,22.5\n"),
		factors.KindActivity, factors.GasKgCO2eAR5)
	if err != nil {
		t.Fatal(err)
	}
	// AR4: 1850.5 + 28 x (25/28 - 1) + 22.5 x (298/265 - 1)
	if f := got[0]; f.Unit != "tonne" || f.Category != 0 || f.Region != "GB" || f.AR4 != "1850.301886792453" || len(f.Gases) != 3 {
		t.Fatalf("activity factor = %+v", f)
	}
}

func TestParseCSVNamesTheRowAndColumn(t *testing.T) {
	for _, tc := range []struct {
		name, kind, csv string
		want            []string
	}{
		{"bad value", "spend", header + "331110,Steel,0.9x,,,,,,\n", []string{"row 2, column value: \"0.9x\" is not an exact decimal"}},
		{"bad gas value", "spend", header + "331110,Steel,0.9,,,,1e3,,\n", []string{"row 2, column CO2: \"1e3\" is not an exact decimal"}},
		{"unknown gas column", "spend", "code,title,value,category,unit,region,CO3\n", []string{"row 1, column CO3: is neither one of"}},
		{"missing column", "spend", "code,title,value,category,unit,CO2\n", []string{"row 1, column region: missing"}},
		{"duplicate column", "spend", "code,title,value,category,unit,region,CO2,CO2\n", []string{"row 1, column CO2: appears twice"}},
		{"bad unit", "activity", header + "steel.tonne,Steel,2,,tonnes of steel,,,,\n", []string{"row 2, column unit: \"tonnes of steel\" is not a unit"}},
		{"unit in a spend set", "spend", header + "331110,Steel,2,,kg,,,,\n", []string{"row 2, column unit: must be empty"}},
		{"bad category", "spend", header + "331110,Steel,2,16,,,,,\n331111,Steel,2,x,,,,,\n",
			[]string{"row 2, column category: \"16\" is not a Scope 3 category", "row 3, column category: \"x\" is not"}},
		{"duplicate code", "spend", header + "331110,Steel,2,,,,,,\n331110,Steel,3,,,,,,\n", []string{"row 3, column code: 331110 is already on row 2"}},
		{"bad code", "spend", header + "33111,Steel,2,,,,,,\n", []string{"row 2, column code: \"33111\" is not a 6-digit NAICS code"}},
		{"bad activity id", "activity", header + "Steel Tonne,Steel,2,,tonne,,,,\n", []string{"row 2, column code: \"Steel Tonne\" is not an activity id"}},
		{"missing title", "spend", header + "331110,,2,,,,,,\n", []string{"row 2, column title: required"}},
		{"short row", "spend", header + "331110,Steel,2\n", []string{"row 2: has 3 columns, the header 9"}},
		{"no rows", "spend", header, []string{"row 2: no factors"}},
		{"not UTF-8", "spend", header + "331110,St\xffeel,2,,,,,,\n", []string{"must be UTF-8 text"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := factors.ParseCSV([]byte(tc.csv), factors.Kind(tc.kind), factors.GasKg)
			var ae *apperr.Error
			if !errors.As(err, &ae) || ae.Kind != apperr.InvalidArgument || len(ae.Violations) != len(tc.want) {
				t.Fatalf("err = %#v, want %d violations", err, len(tc.want))
			}
			for i, w := range tc.want {
				if v := ae.Violations[i]; v.Field != "csv" || !strings.Contains(v.Description, w) {
					t.Errorf("violation %d = %+v, want %q", i, v, w)
				}
			}
		})
	}
}

func TestParseCSVStopsAtMaxViolations(t *testing.T) {
	var b strings.Builder
	b.WriteString(header)
	for i := range 250 {
		fmt.Fprintf(&b, "%06d,Thing,bad,,,,,,\n", i)
	}
	_, err := factors.ParseCSV([]byte(b.String()), factors.KindSpend, factors.GasKg)
	var ae *apperr.Error
	if !errors.As(err, &ae) || len(ae.Violations) != factors.MaxViolations || ae.Violations[99].Description != `row 101, column value: "bad" is not an exact decimal (kg CO2e per unit, under AR5)` {
		t.Fatalf("err = %v, want %d violations ending at row 101", err, factors.MaxViolations)
	}
}

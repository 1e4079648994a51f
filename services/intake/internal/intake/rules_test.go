package intake

import "testing"

// Of the rules that match a line, the supplier's wins, then the longest
// activity prefix, then the longest NAICS prefix; nil rules match nothing.
func TestRulesMatchInPrecedence(t *testing.T) {
	rules := NewRules([]CategoryRule{
		{ID: "n4", NAICSPrefix: "4", Category: 1},
		{ID: "n484", NAICSPrefix: "484", Category: 2},
		{ID: "n484110", NAICSPrefix: "484110", Category: 3},
		{ID: "hotel", ActivityPrefix: "hotel.", Category: 4},
		{ID: "hotel-uk", ActivityPrefix: "hotel.uk", Category: 5},
		{ID: "s1", SupplierID: "S1", Category: 6},
	})
	for _, tc := range []struct {
		name string
		row  Row
		want string
	}{
		{"exact naics", Row{SupplierID: "S2", NAICS: "484110"}, "n484110"},
		{"longest naics prefix", Row{SupplierID: "S2", NAICS: "484121"}, "n484"},
		{"shortest naics prefix", Row{SupplierID: "S2", NAICS: "423000"}, "n4"},
		{"no naics rule", Row{SupplierID: "S2", NAICS: "331110"}, ""},
		{"longest activity prefix", Row{SupplierID: "S2", Activity: "hotel.uk-london.room-night"}, "hotel-uk"},
		{"activity again, remembered", Row{SupplierID: "S2", Activity: "hotel.uk-london.room-night"}, "hotel-uk"},
		{"activity over naics", Row{SupplierID: "S2", NAICS: "484110", Activity: "hotel.france.room-night"}, "hotel"},
		{"no activity rule: naics", Row{SupplierID: "S2", NAICS: "484110", Activity: "air.flights.x"}, "n484110"},
		{"supplier over all", Row{SupplierID: "S1", NAICS: "484110", Activity: "hotel.uk.room-night"}, "s1"},
		{"supplier ids are exact", Row{SupplierID: "s1"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := ""
			if r := rules.Match(&tc.row); r != nil {
				got = r.ID
			}
			if got != tc.want {
				t.Fatalf("matched %q, want %q", got, tc.want)
			}
		})
	}
	var none *Rules
	if r := none.Match(&Row{SupplierID: "S1", NAICS: "484110"}); r != nil {
		t.Fatalf("nil rules matched %+v", r)
	}
}

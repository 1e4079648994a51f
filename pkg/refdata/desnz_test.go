package refdata_test

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/vcci-dev/vcci/pkg/decimal"
	"github.com/vcci-dev/vcci/pkg/refdata"
	"github.com/vcci-dev/vcci/pkg/refdata/internal/desnzxlsx"
	"github.com/vcci-dev/vcci/pkg/units"
)

// The shipped file starts with the header the lookups expect.
func TestDESNZHeader(t *testing.T) {
	shipped, err := os.ReadFile("data/desnz_2024.csv")
	if err != nil {
		t.Fatal(err)
	}
	if first, _, _ := strings.Cut(string(shipped), "\n"); first != desnzxlsx.Header {
		t.Fatalf("header %q, want %q", first, desnzxlsx.Header)
	}
}

// Values read by hand from the workbook (sheet, cell), as Excel shows them.
func TestDESNZSpotValues(t *testing.T) {
	set, err := refdata.DESNZ()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		id, where                    string
		category                     int16
		unit, co2e, co2, ch4, n2o, r string
	}{
		// Hotel stay D22: UK, Room per night; the sheet gives no gases.
		{"hotel.uk.room-night", "Hotel stay D22", 6, "room-night", "10.4", "", "", "", "GB"},
		// Hotel stay D42, D79.
		{"hotel.france.room-night", "Hotel stay D42", 6, "room-night", "6.7", "", "", "", "FR"},
		{"hotel.united-states.room-night", "Hotel stay D79", 6, "room-night", "16.1", "", "", "", "US"},
		// Fuels D72:G72, Liquid fuels / Diesel (average biofuel blend) / litres.
		{"fuels.liquid-fuels.diesel-average-biofuel-blend.litre", "Fuels D72:G72", 0, "litre", "2.51279", "2.4796", "0.00029", "0.0329", "GB"},
		// Fuels D39:G39, Gaseous fuels / Natural gas / tonnes.
		{"fuels.gaseous-fuels.natural-gas.tonne", "Fuels D39:G39", 0, "tonne", "2568.16441", "2563.12", "3.8528", "1.19161", "GB"},
		// Business travel- air E30:H30 and I30:L30, long-haul business class.
		{"air.flights.long-haul-to-from-uk.business-class.with-rf.passenger-km", "Business travel- air E30:H30", 6, "passenger-km", "0.58028", "0.57741", "0.00002", "0.00285", "GB"},
		{"air.flights.long-haul-to-from-uk.business-class.without-rf.passenger-km", "Business travel- air I30:L30", 6, "passenger-km", "0.34252", "0.33965", "0.00002", "0.00285", "GB"},
		// Business travel- air E35, I35: international (non-UK), business.
		{"air.flights.international-to-from-non-uk.business-class.with-rf.passenger-km", "Business travel- air E35:H35", 6, "passenger-km", "0.39044", "0.3885", "0.00002", "0.00192", "GB"},
		{"air.flights.international-to-from-non-uk.business-class.without-rf.passenger-km", "Business travel- air I35:L35", 6, "passenger-km", "0.23047", "0.22853", "0.00002", "0.00192", "GB"},
		// UK electricity E25:H25.
		{"uk-electricity.electricity-generated.electricity-uk.kwh", "UK electricity E25:H25", 0, "kwh", "0.20705", "0.20493", "0.0009", "0.00122", "GB"},
		// Transmission and distribution E22.
		{"t-and-d.t-and-d-uk-electricity.electricity-uk.kwh", "Transmission and distribution E22:H22", 3, "kwh", "0.0183", "0.01811", "0.00008", "0.00011", "GB"},
		// Freighting goods H63:K63, L63, P63: HGV (all diesel), All HGVs,
		// tonne.km, 50%, 100% and average laden (0% laden, D63, is blank).
		{"freight.hgv-all-diesel.all-hgvs.50-percent-laden.tonne-km", "Freighting goods H63:K63", 4, "tonne-km", "0.11926", "0.11746", "0.00002", "0.00178", "GB"},
		{"freight.hgv-all-diesel.all-hgvs.100-percent-laden.tonne-km", "Freighting goods L63", 4, "tonne-km", "0.0724", "0.0715", "0.00001", "0.00089", "GB"},
		{"freight.hgv-all-diesel.all-hgvs.average-laden.tonne-km", "Freighting goods P63", 4, "tonne-km", "0.09752", "0.09601", "0.00002", "0.00149", "GB"},
		// Waste disposal I52, G52: commercial and industrial waste.
		{"waste-disposal.refuse.commercial-and-industrial-waste.landfill.tonne", "Waste disposal I52", 5, "tonne", "520.3342", "", "", "", "GB"},
		{"waste-disposal.refuse.commercial-and-industrial-waste.combustion.tonne", "Waste disposal G52", 5, "tonne", "6.41061", "", "", "", "GB"},
		// Water supply D19: million litres.
		{"water-supply.megalitre", "Water supply D19", 1, "megalitre", "153.10865", "", "", "", "GB"},
		// Business travel- land D87: National rail.
		{"land.rail.national-rail.passenger-km", "Business travel- land D87:G87", 6, "passenger-km", "0.03546", "0.0351", "0.00008", "0.00028", "GB"},
	} {
		f, ok := set.Get(c.id)
		if !ok {
			t.Errorf("%s: no factor %q", c.where, c.id)
			continue
		}
		got := []string{f.Unit, f.KgCO2e, f.KgCO2, f.KgCH4, f.KgN2O, f.Region}
		want := []string{c.unit, c.co2e, c.co2, c.ch4, c.n2o, c.r}
		if strings.Join(got, "|") != strings.Join(want, "|") || f.Category != c.category {
			t.Errorf("%s: %q = %v category %d, want %v category %d", c.where, c.id, got, f.Category, want, c.category)
		}
	}
	// Written as a user might.
	if f, ok := set.Get("  Hotel.UK.Room-Night "); !ok || f.KgCO2e != "10.4" {
		t.Errorf("Get with case and spaces = %v, %v", f, ok)
	}
	// Blank in the workbook: not published, so not offered.
	for _, id := range []string{"hotel.argentina.room-night", "freight.hgv-all-diesel.all-hgvs.0-percent-laden.tonne-km", "fuels.liquid-fuels.refinery-miscellaneous.litre"} {
		if f, ok := set.Get(id); ok {
			t.Errorf("Get(%q) = %v, want none: the cell is blank", id, f)
		}
	}
	if set.Name != "desnz-2024" || set.Version != "1.1" || set.Year != 2024 || set.Region != "GB" || set.Licence != "Open Government Licence v3.0" {
		t.Errorf("metadata %+v", set)
	}
}

var activityID = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*(\.[a-z0-9]+(-[a-z0-9]+)*)+$`)

// Every factor: a unique readable id ending in its unit, a total, exact
// decimals, a unit pkg/units converts, a known category.
func TestDESNZRows(t *testing.T) {
	set, err := refdata.DESNZ()
	if err != nil {
		t.Fatal(err)
	}
	all := set.All()
	if len(all) < 1000 {
		t.Fatalf("%d factors", len(all))
	}
	seen := map[string]bool{}
	perSheet := map[string]int{}
	for _, f := range all {
		perSheet[f.Sheet]++
		if seen[f.Activity] {
			t.Errorf("%s twice", f.Activity)
		}
		seen[f.Activity] = true
		if !activityID.MatchString(f.Activity) || !strings.HasSuffix(f.Activity, "."+f.Unit) {
			t.Errorf("%s: not a slug path ending in its unit %q", f.Activity, f.Unit)
		}
		if id, ok := units.Normalize(f.Unit); !ok || id != f.Unit {
			t.Errorf("%s: unit %q normalizes to %q, %v", f.Activity, f.Unit, id, ok)
		}
		if f.KgCO2e == "" {
			t.Errorf("%s: no kg CO2e", f.Activity)
		}
		for _, v := range []string{f.KgCO2e, f.KgCO2, f.KgCH4, f.KgN2O} {
			if v == "" {
				continue
			}
			if _, _, err := decimal.Parse(v); err != nil {
				t.Errorf("%s: %v", f.Activity, err)
			}
		}
		if f.Category < 0 || f.Category > 15 || f.Region == "" || f.Description == "" {
			t.Errorf("%s: category %d region %q description %q", f.Activity, f.Category, f.Region, f.Description)
		}
	}
	// Every sheet the converter reads yields factors.
	for _, sheet := range []string{"Fuels", "Passenger vehicles", "Delivery vehicles", "UK electricity", "Heat and steam",
		"WTT- fuels", "Transmission and distribution", "Water supply", "Water treatment", "Material use", "Waste disposal",
		"Business travel- air", "Business travel- sea", "Business travel- land", "Freighting goods", "Hotel stay"} {
		if perSheet[sheet] == 0 {
			t.Errorf("no factors from %q", sheet)
		}
	}
	// All is the caller's copy.
	all[0].KgCO2e = "changed"
	if f, _ := set.Get(all[0].Activity); f.KgCO2e == "changed" {
		t.Error("All shares its slice")
	}
}

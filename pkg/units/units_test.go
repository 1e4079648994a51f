package units_test

import (
	"errors"
	"math/big"
	"strings"
	"testing"

	"github.com/vcci-dev/vcci/pkg/units"
)

func rat(t *testing.T, s string) *big.Rat {
	t.Helper()
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		t.Fatalf("bad rational %q", s)
	}
	return r
}

func TestConvertExact(t *testing.T) {
	for _, c := range []struct{ qty, from, to, want string }{
		{"1", "US gallons", "litres", "3.785411784"},
		{"1", "gal", "L", "3.785411784"},
		{"1", "UK gallon", "litre", "4.54609"},
		{"1", "m3", "litres", "1000"},
		{"2", "million litres", "cubic metres", "2000"},
		{"10", "miles", "km", "16.09344"},
		{"16.09344", "km", "mi", "10"},
		{"1", "short ton", "t", "0.90718474"},
		{"1", "long ton", "kg", "1016.0469088"},
		{"1", "lb", "kg", "0.45359237"},
		{"1", "MWh", "kWh", "1000"},
		{"1", "GJ", "kWh", "2500/9"},
		{"1", "therm", "kWh", "105505585262/3600000000"}, // 100000 Btu(IT) = 105505585.262 J
		{"1", "MWh (Gross CV)", "kWh (Gross CV)", "1000"},
		{"3.6", "MJ (net)", "kWh net CV", "1"},
		{"1", "passenger.miles", "pkm", "1.609344"},
		{"1", "tonne.miles", "tkm", "1.609344"},
		{"1", "short ton-miles", "tonne.km", "1.45997231821056"}, // 0.90718474 x 1.609344
		{"3", "nights", "Room per night", "3"},
	} {
		got, err := units.Convert(rat(t, c.qty), c.from, c.to)
		if err != nil {
			t.Errorf("Convert(%s %s -> %s): %v", c.qty, c.from, c.to, err)
			continue
		}
		if want := rat(t, c.want); got.Cmp(want) != 0 {
			t.Errorf("Convert(%s %s -> %s) = %s, want %s", c.qty, c.from, c.to, got.RatString(), want.RatString())
		}
	}
}

func TestConvertRefuses(t *testing.T) {
	for _, c := range []struct {
		from, to string
		want     error
		text     []string
	}{
		{"litres", "kg", units.ErrDimensionMismatch, []string{`"litres" is volume`, `"kg" is mass`}},
		{"kWh", "kWh (Gross CV)", units.ErrDimensionMismatch, []string{`"kWh" is energy`, `"kWh (Gross CV)" is energy-gross-cv`}},
		{"kWh (Net CV)", "kWh (Gross CV)", units.ErrDimensionMismatch, []string{"energy-net-cv", "energy-gross-cv"}},
		{"km", "passenger.km", units.ErrDimensionMismatch, []string{`"km" is distance`, `"passenger.km" is passenger-distance`}},
		{"furlong", "km", units.ErrUnknownUnit, []string{`unknown unit "furlong"`}},
		{"km", "ton", units.ErrUnknownUnit, []string{`unknown unit "ton"`}},
	} {
		_, err := units.Convert(big.NewRat(1, 1), c.from, c.to)
		if !errors.Is(err, c.want) {
			t.Errorf("Convert(%s -> %s) = %v, want %v", c.from, c.to, err, c.want)
			continue
		}
		for _, s := range c.text {
			if !strings.Contains(err.Error(), s) {
				t.Errorf("Convert(%s -> %s) error %q does not say %q", c.from, c.to, err, s)
			}
		}
	}
}

func TestNormalize(t *testing.T) {
	for in, want := range map[string]string{
		"L": "litre", "litre": "litre", "liters": "litre", "litres": "litre",
		"gal": "us-gallon", "cubic metres": "m3", "million litres": "megalitre",
		"kWh": "kwh", "MWh": "mwh", "GJ": "gj",
		"kWh (Gross CV)": "kwh-gross-cv", "kWh (Net CV)": "kwh-net-cv", "MWh gross": "mwh-gross-cv",
		"t": "tonne", "tonne": "tonne", "tonnes": "tonne", "short tons": "short-ton", "lbs": "lb",
		"mi": "mile", "km": "km", "Miles": "mile",
		"pkm": "passenger-km", "passenger.km": "passenger-km", "passenger.miles": "passenger-mile",
		"tkm": "tonne-km", "tonne.km": "tonne-km", " Tonne km ": "tonne-km",
		"Room per night": "room-night", "room nights": "room-night",
	} {
		if got, ok := units.Normalize(in); !ok || got != want {
			t.Errorf("Normalize(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
	for _, in := range []string{"", "ton", "tons", "gross", "kg (gross cv)", "furlong"} {
		if got, ok := units.Normalize(in); ok {
			t.Errorf("Normalize(%q) = %q, want unknown", in, got)
		}
	}
	// Every canonical id reads as itself, so ids can be written back.
	for _, id := range units.IDs() {
		if got, ok := units.Normalize(id); !ok || got != id {
			t.Errorf("Normalize(%q) = %q, %v; want itself", id, got, ok)
		}
	}
}

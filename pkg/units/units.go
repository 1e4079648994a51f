// Package units converts activity quantities between units exactly
// (math/big.Rat, no floating point), so that a quantity in US gallons meets
// a factor per litre without a rounding step the user cannot reproduce.
//
// Every unit has a canonical id (lowercase, e.g. "litre", "kwh-gross-cv",
// "tonne-km") and belongs to one dimension; Normalize maps the spellings
// users and the DESNZ workbook write to the id, Convert changes a quantity
// between two units of one dimension.
package units

import (
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strings"
)

// Dimensions. Energy on a gross and on a net calorific-value basis are
// dimensions of their own: a fuel's kWh (Gross CV) and kWh (Net CV) differ
// by a fuel-specific ratio, not a constant, so converting between them or
// from a plain kWh would silently pick the wrong factor.
const (
	Volume            = "volume"
	Energy            = "energy"
	EnergyGrossCV     = "energy-gross-cv"
	EnergyNetCV       = "energy-net-cv"
	Mass              = "mass"
	Distance          = "distance"
	PassengerDistance = "passenger-distance"
	Freight           = "freight" // mass moved over a distance
	RoomNights        = "room-nights"
)

var (
	// ErrUnknownUnit is a unit Normalize does not know.
	ErrUnknownUnit = errors.New("unknown unit")
	// ErrDimensionMismatch is a conversion between units of two dimensions.
	ErrDimensionMismatch = errors.New("units of different dimensions")
)

type unit struct {
	dim  string
	size *big.Rat // in the dimension's base unit
}

// Exact definitions, each in its dimension's base unit (litre, joule,
// kilogram, kilometre).
var (
	// 1 yd = 0.9144 m and 1 lb = 0.45359237 kg exactly (international
	// yard and pound agreement, 1959).
	mile = rat("1.609344") // 1760 yd
	lb   = rat("0.45359237")
	// 1 US gallon = 231 in3 = 231 x 2.54^3 cm3 = 3.785411784 L.
	usGallon = rat("3.785411784")
	// 1 UK (imperial) gallon = 4.54609 L (Weights and Measures Act 1985).
	ukGallon = rat("4.54609")
	// 1 kWh = 3.6 MJ.
	kWh = rat("3600000")
	// 1 Btu (IT) = 1 lb x 1 degF x 4.1868 J/(g K) = 1055.05585262 J, so
	// 1 therm = 100000 Btu (IT). (The EU therm, 105.506 MJ exactly,
	// differs from the sixth digit; DESNZ's Conversions sheet gives
	// 0.10550559 GJ, this one rounded.)
	therm      = new(big.Rat).Mul(rat("1055.05585262"), rat("100000"))
	tonne      = rat("1000")
	shortTon   = new(big.Rat).Mul(lb, rat("2000")) // 907.18474 kg
	longTon    = new(big.Rat).Mul(lb, rat("2240")) // 1016.0469088 kg
	one        = rat("1")
	tonneMile  = new(big.Rat).Mul(rat("1000"), mile)
	shortTonMi = new(big.Rat).Mul(shortTon, mile)
)

func rat(s string) *big.Rat {
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		panic("units: bad constant " + s)
	}
	return r
}

var table = withCVBases(map[string]unit{
	"litre":     {Volume, one},
	"m3":        {Volume, rat("1000")},
	"megalitre": {Volume, rat("1000000")},
	"us-gallon": {Volume, usGallon},
	"uk-gallon": {Volume, ukGallon},

	"kwh":   {Energy, kWh},
	"mwh":   {Energy, rat("3600000000")},
	"gwh":   {Energy, rat("3600000000000")},
	"mj":    {Energy, rat("1000000")},
	"gj":    {Energy, rat("1000000000")},
	"therm": {Energy, therm},

	"kg":        {Mass, one},
	"g":         {Mass, rat("1/1000")},
	"tonne":     {Mass, tonne},
	"short-ton": {Mass, shortTon},
	"long-ton":  {Mass, longTon},
	"lb":        {Mass, lb},

	"km":   {Distance, one},
	"m":    {Distance, rat("1/1000")},
	"mile": {Distance, mile},

	"passenger-km":   {PassengerDistance, one},
	"passenger-mile": {PassengerDistance, mile},

	"tonne-km":       {Freight, tonne},
	"tonne-mile":     {Freight, tonneMile},
	"short-ton-mile": {Freight, shortTonMi},

	"room-night": {RoomNights, one},
})

// withCVBases adds each energy unit again on each calorific-value basis:
// same size, own dimension.
func withCVBases(t map[string]unit) map[string]unit {
	for id, u := range t {
		if u.dim == Energy {
			t[id+"-gross-cv"] = unit{EnergyGrossCV, u.size}
			t[id+"-net-cv"] = unit{EnergyNetCV, u.size}
		}
	}
	return t
}

// aliases maps a cleaned spelling (see clean) to a canonical id. DESNZ's
// own labels are among them ("litres", "kWh (Gross CV)", "tonne.km",
// "Room per night"). A bare "ton" is refused: a US ton is 2000 lb, a UK
// one 2240 lb, and "mt" may be a megatonne. A bare "gallon" is the US one,
// as in the EPA data vcci already reads.
var aliases = map[string]string{
	"l": "litre", "litre": "litre", "litres": "litre", "liter": "litre", "liters": "litre", "ltr": "litre",
	"m3": "m3", "m^3": "m3", "cubic metre": "m3", "cubic metres": "m3", "cubic meter": "m3", "cubic meters": "m3", "cbm": "m3",
	"megalitre": "megalitre", "megalitres": "megalitre", "million litres": "megalitre", "million liters": "megalitre",
	"gal": "us-gallon", "gallon": "us-gallon", "gallons": "us-gallon", "us gal": "us-gallon", "us gallon": "us-gallon", "us gallons": "us-gallon",
	"uk gal": "uk-gallon", "uk gallon": "uk-gallon", "uk gallons": "uk-gallon", "imperial gallon": "uk-gallon", "imperial gallons": "uk-gallon",

	"kwh": "kwh", "kilowatt hour": "kwh", "kilowatt hours": "kwh", "kilowatt-hour": "kwh", "kilowatt-hours": "kwh",
	"mwh": "mwh", "megawatt hour": "mwh", "megawatt hours": "mwh", "megawatt-hour": "mwh", "megawatt-hours": "mwh",
	"gwh": "gwh", "mj": "mj", "megajoule": "mj", "megajoules": "mj", "gj": "gj", "gigajoule": "gj", "gigajoules": "gj",
	"therm": "therm", "therms": "therm",

	"kg": "kg", "kgs": "kg", "kilogram": "kg", "kilograms": "kg", "g": "g", "gram": "g", "grams": "g",
	"t": "tonne", "tonne": "tonne", "tonnes": "tonne", "metric ton": "tonne", "metric tons": "tonne",
	"short ton": "short-ton", "short tons": "short-ton", "us ton": "short-ton", "us tons": "short-ton",
	"long ton": "long-ton", "long tons": "long-ton", "uk ton": "long-ton", "uk tons": "long-ton",
	"lb": "lb", "lbs": "lb", "pound": "lb", "pounds": "lb",

	"km": "km", "kms": "km", "kilometre": "km", "kilometres": "km", "kilometer": "km", "kilometers": "km",
	"m": "m", "metre": "m", "metres": "m", "meter": "m", "meters": "m",
	"mi": "mile", "mile": "mile", "miles": "mile",

	"pkm": "passenger-km", "passenger km": "passenger-km", "passenger kms": "passenger-km", "passenger kilometres": "passenger-km", "passenger kilometers": "passenger-km",
	"pmi": "passenger-mile", "passenger mile": "passenger-mile", "passenger miles": "passenger-mile",

	"tkm": "tonne-km", "tonne km": "tonne-km", "tonne kms": "tonne-km", "tonne kilometres": "tonne-km", "tonne kilometers": "tonne-km", "t km": "tonne-km",
	"tonne mile": "tonne-mile", "tonne miles": "tonne-mile",
	"short ton mile": "short-ton-mile", "short ton miles": "short-ton-mile",

	"room night": "room-night", "room nights": "room-night", "room per night": "room-night", "night": "room-night", "nights": "room-night",
}

// clean lowercases s, reads the separators people put inside unit names
// (".", "-", "_", "·", "/") as spaces, and collapses spaces, so "tonne.km",
// "tonne-km" and "Tonne km" are one spelling.
func clean(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	s = strings.Map(func(r rune) rune {
		switch r {
		case '.', '-', '_', '·', '/':
			return ' '
		case '³':
			return '3'
		}
		return r
	}, s)
	return strings.Join(strings.Fields(s), " ")
}

// Normalize returns the canonical id of a unit as written, and whether it
// is known. Energy with a calorific-value basis is written the way DESNZ
// writes it, "kWh (Gross CV)", or "kWh gross"/"MWh net".
func Normalize(s string) (string, bool) {
	c := clean(s)
	if _, ok := table[c]; ok {
		return c, true
	}
	if id, ok := aliases[c]; ok {
		return id, true
	}
	// "kwh (gross cv)", "kwh gross cv", "mwh (net)" and the like.
	for _, basis := range []string{"gross", "net"} {
		for _, suffix := range []string{" (" + basis + " cv)", " " + basis + " cv", " (" + basis + ")", " " + basis} {
			base, ok := strings.CutSuffix(c, suffix)
			if !ok {
				continue
			}
			if id, ok := aliases[base]; ok && table[id].dim == Energy {
				return id + "-" + basis + "-cv", true
			}
		}
	}
	return "", false
}

// DimensionOf returns the dimension of a unit as written.
func DimensionOf(s string) (string, bool) {
	id, ok := Normalize(s)
	if !ok {
		return "", false
	}
	return table[id].dim, true
}

// Convert returns qty, in unit from, in unit to. Both are read with
// Normalize; an unknown unit is ErrUnknownUnit and units of two dimensions
// are ErrDimensionMismatch, each naming the units as written.
func Convert(qty *big.Rat, from, to string) (*big.Rat, error) {
	f, ok := Normalize(from)
	if !ok {
		return nil, fmt.Errorf("units.Convert: %w %q", ErrUnknownUnit, from)
	}
	t, ok := Normalize(to)
	if !ok {
		return nil, fmt.Errorf("units.Convert: %w %q", ErrUnknownUnit, to)
	}
	uf, ut := table[f], table[t]
	if uf.dim != ut.dim {
		return nil, fmt.Errorf("units.Convert: %w: %q is %s, %q is %s", ErrDimensionMismatch, from, uf.dim, to, ut.dim)
	}
	r := new(big.Rat).Mul(qty, uf.size)
	return r.Quo(r, ut.size), nil
}

// IDs returns every canonical id, sorted.
func IDs() []string {
	ids := make([]string, 0, len(table))
	for id := range table {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

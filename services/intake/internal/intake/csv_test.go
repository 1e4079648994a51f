package intake

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/vcci-dev/vcci/pkg/apperr"
)

type knownCodes map[string]bool

// Categories answers category 1 for every known code.
func (k knownCodes) Categories(_ context.Context, codes []string) (map[string]int16, error) {
	out := map[string]int16{}
	for _, c := range codes {
		if k[c] {
			out[c] = 1
		}
	}
	return out, nil
}

const header = "transaction_id,date,supplier_id,supplier_name,naics_code,amount,currency,description\n"

func validate(t *testing.T, body string) (*Validator, []Row) {
	t.Helper()
	v, err := NewValidator(context.Background(), strings.NewReader(body), knownCodes{"331110": true, "541511": true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := v.All()
	if err != nil {
		t.Fatal(err)
	}
	return v, rows
}

func TestValidatorRowErrors(t *testing.T) {
	for name, tc := range map[string]struct {
		line, column, reason string
	}{
		"bad date":          {"T2,2024-13-01,S1,Acme,331110,10.00,USD,x", "date", "not a date"},
		"date too old":      {"T2,1980-01-01,S1,Acme,331110,10.00,USD,x", "date", "outside"},
		"non-numeric":       {"T2,2024-01-01,S1,Acme,331110,ten,USD,x", "amount", "not a number"},
		"too many decimals": {"T2,2024-01-01,S1,Acme,331110,1.23456,USD,x", "amount", "not a number"},
		"unknown naics":     {"T2,2024-01-01,S1,Acme,999999,10.00,USD,x", "naics_code", "no emission factor"},
		"short naics":       {"T2,2024-01-01,S1,Acme,3311,10.00,USD,x", "naics_code", "6-digit"},
		"currency":          {"T2,2024-01-01,S1,Acme,331110,10.00,EURO,x", "currency", "not an ISO 4217 currency code"},
		"unknown currency":  {"T2,2024-01-01,S1,Acme,331110,10.00,XYZ,x", "currency", `unknown currency "XYZ": not an ISO 4217 code the FX data has rates for`},
		"no rate":           {"T2,2026-07-01,S1,Acme,331110,10.00,EUR,x", "currency", "no FX rate for EUR in 2026-07: the series covers 1999-01 to 2026-06"},
		"no currency":       {"T2,2024-01-01,S1,Acme,331110,10.00,,x", "currency", "not an ISO 4217 currency code"},
		"duplicate id":      {"T1,2024-01-01,S1,Acme,331110,10.00,USD,x", "transaction_id", "first seen on row 2"},
		"missing field":     {"T2,2024-01-01,S1,Acme,331110,10.00,USD", "", "has 7 fields"},
		"no supplier":       {"T2,2024-01-01,,Acme,331110,10.00,USD,x", "supplier_id", "required"},
		"encoding":          {"T2,2024-01-01,S1,Acme \xff\xfe,331110,10.00,USD,x", "supplier_name", "not valid UTF-8 text at byte 6 of the field"},
		"nul":               {"T2,2024-01-01,S1,Acme,331110,10.00,USD,PO\x0042", "description", "NUL byte (0x00) at byte 3 of the field"},
		"nul in an id":      {"T2\x00,2024-01-01,S1,Acme,331110,10.00,USD,x", "transaction_id", "NUL byte"},
		"oversized line":    {"T2,2024-01-01,S1,Acme,331110,10.00,USD," + strings.Repeat("x", MaxLineBytes), "", "over the 65536-byte limit"},
		"bad quoting":       {"T2,2024-01-01,S1,\"Acme\"x,331110,10.00,USD,x", "", "malformed CSV"},
		"bad first quote":   {"\"T2\"x,2024-01-01,S1,Acme,331110,10.00,USD,x", "", "malformed CSV"},
	} {
		t.Run(name, func(t *testing.T) {
			body := header + "T1,2024-01-01,S1,Acme,331110,10.00,USD,first\n" + tc.line + "\nT3,2024-02-01,S2,Beta,541511,-5.5,usd,credit note\n"
			v, rows := validate(t, body)
			if len(rows) != 2 || rows[0].TransactionID != "T1" || rows[1].TransactionID != "T3" {
				t.Fatalf("accepted %+v, want T1 and T3", rows)
			}
			if rows[1].Amount != "-5.5" || rows[1].Currency != "USD" {
				t.Fatalf("credit note = %+v", rows[1])
			}
			if v.Read != 3 || v.Accepted != 2 || v.Rejected != 1 || len(v.Errors) != 1 {
				t.Fatalf("read %d accepted %d rejected %d errors %v", v.Read, v.Accepted, v.Rejected, v.Errors)
			}
			e := v.Errors[0]
			if e.Row != 3 || e.Column != tc.column || !strings.Contains(e.Reason, tc.reason) {
				t.Fatalf("error = %+v, want row 3 column %q reason ~%q", e, tc.column, tc.reason)
			}
		})
	}
}

func TestValidatorHeader(t *testing.T) {
	for name, tc := range map[string]struct {
		header, column, reason string
	}{
		"missing column": {"transaction_id,date,supplier_id,supplier_name,naics_code,currency,description\n", "amount", "missing required column"},
		"unknown column": {"transaction_id,date,supplier_id,supplier_name,naics_code,amount,currency,description,colour\n", "colour", "unknown column"},
		"twice":          {"transaction_id,date,date,supplier_id,supplier_name,naics_code,amount,currency,description\n", "date", "appears twice"},
		// What an error names is stored as text: no invalid UTF-8, no NUL.
		"not text": {"transaction_id,date,supplier_id,supplier_name,naics_code,amount,currency,description,col\x00our\xff\n", "col\ufffdour\ufffd", "unknown column"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := NewValidator(context.Background(), strings.NewReader(tc.header), knownCodes{}, nil)
			var he *HeaderError
			if !errors.As(err, &he) || he.Errors[0].Row != 1 || he.Errors[0].Column != tc.column || !strings.Contains(he.Errors[0].Reason, tc.reason) {
				t.Fatalf("err = %v, want header error on %s", err, tc.column)
			}
		})
	}
	// A header of thousands of unknown columns is told in 100 errors.
	wide := "transaction_id,date,supplier_id,supplier_name,naics_code,amount,currency,description" + strings.Repeat(",extra", 5000) + "\n"
	_, err := NewValidator(context.Background(), strings.NewReader(wide), knownCodes{}, nil)
	he, ok := errors.AsType[*HeaderError](err)
	if !ok || len(he.Errors) != 100 || he.Errors[98].Column != "extra" || he.Errors[99].Reason != "and 4901 more header errors" {
		t.Fatalf("wide header: %v", err)
	}
	// Columns in another order, any case, with a BOM, still map.
	v, err := NewValidator(context.Background(), strings.NewReader("\ufeffAMOUNT,currency,date,transaction_id,supplier_id,supplier_name,naics_code,description\n12.5,USD,2024-03-01,T9,S9,\"Nine, Inc\",331110,\"a \"\"quoted\"\" word\"\n"), knownCodes{"331110": true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	r, ok := v.Next()
	if !ok || r.TransactionID != "T9" || r.Amount != "12.5" || r.SupplierName != "Nine, Inc" || r.Description != `a "quoted" word` || r.Line != 2 {
		t.Fatalf("row = %+v, %v", r, v.Err())
	}
}

func TestSniff(t *testing.T) {
	for name, tc := range map[string]struct {
		head string
		ok   bool
	}{
		"csv":         {header, true},
		"csv bom":     {"\ufeff" + header, true},
		"empty":       {"", false},
		"binary":      {"PK\x03\x04\x00\x00zip", false},
		"latin1":      {"a,b\n" + strings.Repeat("1,Soci\xe9t\xe9 G\xe9n\xe9rale\n", 20), false},
		"utf16":       {"\xff\xfet\x00x\x00,\x00d\x00\n\x00", false},
		"nul header":  {"transaction_id,da\x00te\n", false},
		"latin1 head": {"transaction_id,soci\xe9t\xe9\n", false},
		// One bad byte in a row is that row's error, not the file's.
		"one latin1 byte": {header + "T1,2024-01-01,S1,Soci\xe9t\xe9,331110,10.00,USD,x\n", true},
		"one nul":         {header + "T1,2024-01-01,S1,Acme,331110,10.00,USD,x\x00\n", true},
		"no comma":        {"just some text\nmore\n", false},
		"cut rune ok":     {header + "caf\xc3", true},
	} {
		t.Run(name, func(t *testing.T) {
			err := Sniff([]byte(tc.head))
			if tc.ok != (err == nil) {
				t.Fatalf("Sniff = %v, want ok=%v", err, tc.ok)
			}
			if err != nil && apperr.KindOf(err) != apperr.InvalidArgument {
				t.Fatalf("kind = %v, want InvalidArgument", apperr.KindOf(err))
			}
		})
	}
}

// What is kept of a rejected value or an unknown column's name is stored as
// text, which holds no NUL byte and no invalid sequence.
func TestRejectedValuesAreText(t *testing.T) {
	if got := keep("a\x00b\xffc"); got != "a\ufffdb\ufffdc" {
		t.Errorf("keep = %q", got)
	}
	// A file name of 400 bytes is cut at 256, between two runes.
	if got := clean(strings.Repeat("é", 200), 256); got != strings.Repeat("é", 128) {
		t.Errorf("clean cut %q", got)
	}
	if got := clean("x"+strings.Repeat("é", 200), 256); got != "x"+strings.Repeat("é", 127) {
		t.Errorf("clean cut %q", got)
	}
	_, err := NewValidator(context.Background(), strings.NewReader(strings.TrimSuffix(header, "\n")+",col\x00our\n"), knownCodes{}, nil)
	var he *HeaderError
	if !errors.As(err, &he) || he.Errors[0].Column != "col\ufffdour" || he.Errors[0].Value != "col\ufffdour" {
		t.Fatalf("err = %#v", err)
	}
}

// A panic in the parser fails the upload with an error; it must not take
// the process down (the parser runs in a goroutine of its own).
func TestValidatorPanicFailsTheUpload(t *testing.T) {
	var b strings.Builder
	b.WriteString(header)
	for i := range blockRows + 1 {
		fmt.Fprintf(&b, "T%d,2024-01-01,S1,Acme,331110,10.00,USD,x\n", i)
	}
	v, err := NewValidator(context.Background(), strings.NewReader(b.String()), knownCodes{"331110": true}, func(int64) { panic("boom") })
	if err != nil {
		t.Fatal(err)
	}
	rows, err := v.All()
	if err == nil || !strings.Contains(err.Error(), "panic: boom") || len(rows) != blockRows {
		t.Fatalf("All = %d rows, %v; want the first block and the panic as an error", len(rows), err)
	}
}

// Lines in other currencies keep their amount and get it in dollars at the
// average rate of their month (pkg/refdata: EUR 2024-06 0.9291).
func TestValidatorConvertsCurrencies(t *testing.T) {
	_, rows := validate(t, header+"T1,2024-06-14,S1,Acme,331110,100,eur,x\nT2,2024-06-01,S1,Acme,331110,-12.5,USD,y\n")
	if len(rows) != 2 {
		t.Fatalf("accepted %+v", rows)
	}
	if r := rows[0]; r.Amount != "100" || r.Currency != "EUR" || r.AmountUSD != "107.6310" {
		t.Fatalf("EUR row = %+v, want 100 EUR = 107.6310 USD", r)
	}
	if r := rows[1]; r.Amount != "-12.5" || r.AmountUSD != "-12.5" {
		t.Fatalf("USD row = %+v", r)
	}
}

const activityHeader = "transaction_id,date,supplier_id,supplier_name,naics_code,amount,currency,description,category,activity,quantity,unit\n"

// Activity lines are checked against the shipped activity factors, each
// fault naming its column.
func TestValidatorActivityLines(t *testing.T) {
	const diesel = "fuels.liquid-fuels.diesel-average-biofuel-blend.litre"
	body := activityHeader +
		"A1,2024-01-05,S1,Acme,,,,fuel,1," + diesel + ",10,gal\n" +
		"A2,2024-01-05,S2,Inn,,120.5,EUR,stay,,hotel.uk.room-night,3,nights\n" +
		"A3,2024-01-05,S1,Acme,331110,10,USD,coil,4,,,\n" + // spend, its category overridden
		"B1,2024-01-05,S1,Acme,,,,x,,fuels.unobtainium.litre,1,L\n" +
		"B2,2024-01-05,S1,Acme,,,,x,1," + diesel + ",-1,L\n" +
		"B3,2024-01-05,S1,Acme,,,,x,1," + diesel + ",1,kg\n" +
		"B4,2024-01-05,S1,Acme,,,,x,," + diesel + ",1,L\n" +
		"B5,2024-01-05,S1,Acme,331110,10,USD,x,16,,,\n"
	v, rows := validate(t, body)
	if len(rows) != 3 {
		t.Fatalf("accepted %+v", rows)
	}
	if r := rows[0]; r.Activity != diesel || r.Quantity != "10" || r.Unit != "gal" || r.Category != 1 || r.Amount != "0" || r.AmountUSD != "0" || r.NAICS != "" {
		t.Fatalf("diesel row = %+v", r)
	}
	if r := rows[1]; r.Category != 6 || r.Override || r.Amount != "120.5" || r.Currency != "EUR" || r.AmountUSD != "131.3351" {
		t.Fatalf("hotel row = %+v (120.5 EUR / 0.9175 in 2024-01)", r)
	}
	if r := rows[2]; r.Category != 4 || !r.Override || r.Activity != "" {
		t.Fatalf("spend row = %+v", r)
	}
	want := []struct{ column, reason string }{
		{"activity", "unknown activity: not a factor of desnz-2024"},
		{"quantity", "not a non-negative number"},
		{"unit", `does not convert to the factor's unit "litre"`},
		{"category", "required for this activity"},
		{"category", "not a Scope 3 category (a number from 1 to 15)"},
	}
	if len(v.Errors) != len(want) {
		t.Fatalf("errors = %+v", v.Errors)
	}
	for i, w := range want {
		if e := v.Errors[i]; e.Row != int64(i+5) || e.Column != w.column || !strings.HasPrefix(e.Reason, w.reason) {
			t.Errorf("error %d = %+v, want row %d %s: %s", i, e, i+5, w.column, w.reason)
		}
	}
}

const productHeader = "transaction_id,date,supplier_id,supplier_name,naics_code,amount,currency,description,supplier_country,quantity,unit,product_id\n"

// A product line keeps its quantity and unit (any unit: the footprint's
// is the supplier's), still needs its NAICS code and amount for the
// spend fallback, and a quantity it gives must be one, with a unit. A
// plain spend line's quantity is dropped.
func TestValidatorProductLines(t *testing.T) {
	body := productHeader +
		"P1,2024-01-05,S1,Acme,331110,1200.00,USD,coil,de,2.5,tonne,STEEL-HR-01\n" +
		"P2,2024-01-05,S1,Acme,331110,80,USD,bolts,,400,piece,BOLT-M8\n" +
		"P3,2024-01-05,S1,Acme,331110,10,USD,no quantity,,,,BOLT-M8\n" +
		"P4,2024-01-05,S2,Beta,541511,10,USD,spend,,7,h,\n" +
		"B1,2024-01-05,S1,Acme,331110,10,USD,x,,abc,kg,STEEL-HR-01\n" +
		"B2,2024-01-05,S1,Acme,331110,10,USD,x,,12,,STEEL-HR-01\n" +
		"B3,2024-01-05,S1,Acme,331110,10,USD,x,,,kg,STEEL-HR-01\n" +
		"B4,2024-01-05,S1,Acme,331110,10,USD,x,,-1,kg,STEEL-HR-01\n" +
		"B5,2024-01-05,S1,Acme,331110,10,USD,x,,1.1234567,kg,STEEL-HR-01\n" +
		"B6,2024-01-05,S1,Acme,,10,USD,x,,1,kg,STEEL-HR-01\n" +
		"B7,2024-01-05,S1,Acme,331110,,USD,x,,1,kg,STEEL-HR-01\n" +
		"B8,2024-01-05,S1,Acme,331110,10,USD,x,,1,kg," + strings.Repeat("p", 129) + "\n"
	v, rows := validate(t, body)
	if len(rows) != 4 {
		t.Fatalf("accepted %+v", rows)
	}
	want := []struct{ product, qty, unit, country string }{
		{"STEEL-HR-01", "2.5", "tonne", "DE"}, {"BOLT-M8", "400", "piece", ""}, {"BOLT-M8", "", "", ""}, {"", "", "", ""},
	}
	for i, w := range want {
		r := rows[i]
		if r.ProductID != w.product || r.Quantity != w.qty || r.Unit != w.unit || r.Country != w.country || r.Activity != "" || r.Category != 1 {
			t.Errorf("row %s = %+v, want %+v", r.TransactionID, r, w)
		}
	}
	if r := rows[0]; r.NAICS != "331110" || r.AmountUSD != "1200.00" {
		t.Errorf("P1 spend fallback = %s %s", r.NAICS, r.AmountUSD)
	}
	errs := []struct{ column, reason string }{
		{"quantity", "not a non-negative number with at most 6 decimals (like 12.5)"},
		{"unit", "required with a quantity"},
		{"quantity", "required with a unit"},
		{"quantity", "not a non-negative number with at most 6 decimals (like 12.5)"},
		{"quantity", "not a non-negative number with at most 6 decimals (like 12.5)"},
		{"naics_code", "not a 6-digit NAICS code"},
		{"amount", "not a number with at most 4 decimals (like 1234.56 or -80.00)"},
		{"product_id", "longer than 128 bytes"},
	}
	if len(v.Errors) != len(errs) {
		t.Fatalf("errors = %+v", v.Errors)
	}
	for i, w := range errs {
		if e := v.Errors[i]; e.Row != int64(i+6) || e.Column != w.column || e.Reason != w.reason {
			t.Errorf("error %d = %+v, want row %d %s: %s", i, e, i+6, w.column, w.reason)
		}
	}
	if e := v.Errors[0]; e.Value != "abc" {
		t.Errorf("B1 value = %q, want abc", e.Value)
	}
}

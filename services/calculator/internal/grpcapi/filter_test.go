package grpcapi

import (
	"errors"
	"testing"

	"github.com/vcci-dev/vcci/pkg/apperr"
	"github.com/vcci-dev/vcci/services/calculator/internal/calculator"
)

func TestParseFilterReadsEveryForm(t *testing.T) {
	got, err := parseFilter("category = SCOPE_CATEGORY_WASTE\tAND\ncode:331 AND title:\"Steel \\\"mills\\\"\" AND code = \"33*\" AND unit=kg AND year = 2022")
	if err != nil {
		t.Fatal(err)
	}
	want := []calculator.FactorCond{
		{Field: "category", Op: calculator.OpEquals, Value: "5"},
		{Field: "code", Op: calculator.OpPrefix, Value: "331"},
		{Field: "title", Op: calculator.OpContains, Value: `Steel "mills"`},
		{Field: "code", Op: calculator.OpPrefix, Value: "33"},
		{Field: "unit", Op: calculator.OpEquals, Value: "kg"},
		{Field: "year", Op: calculator.OpEquals, Value: "2022"},
	}
	if len(got) != len(want) {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("condition %d: %+v, want %+v", i, got[i], want[i])
		}
	}
}

// Whatever the text, a filter is read or refused naming the field, never
// a panic or another error.
func FuzzParseFilter(f *testing.F) {
	for _, s := range []string{`category = 4`, `code:"3311*" AND title:"steel"`, `title:"a\"b"`, `code = "`, `AND`, "year = 99999", "x = \xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		conds, err := parseFilter(s)
		var ae *apperr.Error
		switch {
		case err == nil:
			for _, c := range conds {
				if c.Value == "" || c.Op == 0 {
					t.Fatalf("%q: condition %+v", s, c)
				}
			}
		case !errors.As(err, &ae) || ae.Kind != apperr.InvalidArgument || ae.Violations[0].Field != "filter":
			t.Fatalf("%q: %v", s, err)
		}
	})
}

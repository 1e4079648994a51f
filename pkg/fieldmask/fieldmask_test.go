package fieldmask

import (
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	calculatorv1 "github.com/vcci-dev/vcci/pkg/gen/vcci/calculator/v1"
	intakev1 "github.com/vcci-dev/vcci/pkg/gen/vcci/intake/v1"
)

func tx() *intakev1.Transaction {
	return &intakev1.Transaction{
		Name: "transactions/T1", Date: "2024-03-01", SupplierId: "S1", AmountUsd: "10.00",
		Supplier:       &intakev1.Supplier{Name: "suppliers/S1", DisplayName: "Acme", KgCo2E: "3.5"},
		EmissionResult: &calculatorv1.EmissionResult{Name: "emissionResults/T1", KgCo2E: "1.25", Method: "spend-based"},
	}
}

func TestParseAndPrune(t *testing.T) {
	m, err := Parse(&intakev1.Transaction{}, &fieldmaskpb.FieldMask{Paths: []string{"date", "supplier.displayName", "emission_result"}}, "read_mask")
	if err != nil {
		t.Fatal(err)
	}
	if !m.Has("date") || !m.Has("supplier") || !m.Has("emission_result") || m.Has("amount_usd") || m.Has("name") {
		t.Fatalf("Has is wrong for %s", m)
	}
	if !m.Sub("emission_result").IsAll() || m.Sub("supplier").IsAll() || !m.Sub("supplier").Has("display_name") {
		t.Fatalf("Sub is wrong for %s", m)
	}
	got := tx()
	m.Prune(got)
	want := &intakev1.Transaction{Date: "2024-03-01", Supplier: &intakev1.Supplier{DisplayName: "Acme"},
		EmissionResult: &calculatorv1.EmissionResult{Name: "emissionResults/T1", KgCo2E: "1.25", Method: "spend-based"}}
	if !proto.Equal(got, want) {
		t.Fatalf("pruned = %v, want %v", got, want)
	}
	if s := m.String(); s != "date,emission_result,supplier(display_name)" {
		t.Fatalf("String = %q", s)
	}
}

func TestWholeFieldWins(t *testing.T) {
	for _, paths := range [][]string{{"supplier.name", "supplier"}, {"supplier", "supplier.name"}} {
		m, err := Parse(&intakev1.Transaction{}, &fieldmaskpb.FieldMask{Paths: paths}, "read_mask")
		if err != nil {
			t.Fatal(err)
		}
		if !m.Sub("supplier").IsAll() {
			t.Fatalf("%v: supplier should be whole, mask %s", paths, m)
		}
	}
}

// A bad path is refused whatever comes before it, even its field whole.
func TestBadPathUnderWholeField(t *testing.T) {
	for _, tc := range []struct {
		paths []string
		bad   string
	}{
		{[]string{"supplier", "supplier.nope"}, "supplier.nope"},
		{[]string{"supplier.nope", "supplier"}, "supplier.nope"},
		{[]string{"date", "date.year", "supplier"}, "date.year"},
	} {
		_, err := Parse(&intakev1.Transaction{}, &fieldmaskpb.FieldMask{Paths: tc.paths}, "read_mask")
		if err == nil || !strings.HasPrefix(err.Error(), "read_mask: ") || !strings.Contains(err.Error(), `"`+tc.bad+`"`) {
			t.Fatalf("%q: err = %v, want read_mask naming %q", tc.paths, err, tc.bad)
		}
	}
}

func TestEmptyIsAll(t *testing.T) {
	m, err := Parse(&intakev1.Transaction{}, nil, "read_mask")
	if err != nil || !m.IsAll() || !m.Has("anything") {
		t.Fatalf("nil mask: %v %v", m, err)
	}
	got := tx()
	m.Prune(got)
	if !proto.Equal(got, tx()) {
		t.Fatal("All pruned something")
	}
}

func TestErrorsNameTheField(t *testing.T) {
	cases := map[string]string{
		"kg":                      `unknown field "kg" in Transaction`,
		"supplier.nope":           `"supplier.nope": unknown field "nope" in Supplier`,
		"date.year":               `date is not a message`,
		"":                        "empty path",
		"name; DROP TABLE x":      `unknown field "name; DROP TABLE x"`,
		"emission_result.kg_co2e": "",
	}
	for path, want := range cases {
		_, err := Parse(&intakev1.Transaction{}, &fieldmaskpb.FieldMask{Paths: []string{path}}, "read_mask")
		if want == "" {
			if err != nil {
				t.Fatalf("%q: %v", path, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), want) || !strings.HasPrefix(err.Error(), "read_mask: ") {
			t.Fatalf("%q: err = %v, want read_mask: ...%s", path, err, want)
		}
	}
}

func TestFieldsListsTopLevel(t *testing.T) {
	m, err := Parse(&intakev1.Transaction{}, &fieldmaskpb.FieldMask{Paths: []string{"supplier.name", "date", "amountUsd"}}, "read_mask")
	if err != nil {
		t.Fatal(err)
	}
	if got := m.Fields(); strings.Join(got, ",") != "amount_usd,date,supplier" {
		t.Fatalf("Fields = %v", got)
	}
	if All.Fields() != nil {
		t.Fatal("All.Fields() should be nil (every field)")
	}
}

package calculator

import (
	"fmt"
	"testing"
)

// The parsed sets stay bounded, and a set the cache still hands out is
// parsed once.
func TestIndexesAreBoundedAndReused(t *testing.T) {
	var x indexes
	set := func(i int) []Factor {
		return []Factor{{Set: "s", Code: fmt.Sprint(i), Value: "1.5", AR4: "1.25", Gases: []Gas{{Gas: "CO2", Value: "0.001"}}}}
	}
	kept := set(0)
	first, err := x.get(kept)
	if err != nil || first["0"].value.text() != "1.5" || first["0"].ar6 != nil || first["0"].gases[0].scale != 3 {
		t.Fatalf("index = %+v, %v", first, err)
	}
	for i := 1; i < 3*maxIndexes; i++ {
		if _, err := x.get(set(i)); err != nil {
			t.Fatal(err)
		}
		if len(x.m) > maxIndexes {
			t.Fatalf("%d indexes kept, want at most %d", len(x.m), maxIndexes)
		}
	}
	again, _ := x.get(kept)
	if again2, _ := x.get(kept); fmt.Sprintf("%p", again["0"]) != fmt.Sprintf("%p", again2["0"]) {
		t.Fatal("the same cached set was parsed twice in a row")
	}
	if _, err := x.get([]Factor{{Set: "s", Code: "x", Value: "1e5"}}); err == nil {
		t.Fatal("a malformed value was indexed")
	}
}

// fixed rounds and writes as PostgreSQL's numeric does.
func TestFixedRoundsAsNumeric(t *testing.T) {
	for _, c := range []struct {
		in    string
		scale int
		want  string
	}{
		{"1.00005", 4, "1.0001"}, {"-1.00005", 4, "-1.0001"}, {"1.00004999", 4, "1.0000"}, {"-0.00004", 4, "0.0000"},
		{"2.5", 0, "3"}, {"-2.5", 0, "-3"}, {"10.5", 4, "10.5000"}, {"007.50", 2, "7.50"}, {"-0.000", 3, "0.000"},
	} {
		f, err := parseFixed(c.in)
		if err != nil {
			t.Fatal(err)
		}
		if got := f.round(c.scale).text(); got != c.want {
			t.Errorf("round(%s, %d) = %s, want %s", c.in, c.scale, got, c.want)
		}
	}
	for _, bad := range []string{"", ".", "1e5", "1,5", "--1", "0x10"} {
		if _, err := parseFixed(bad); err == nil {
			t.Errorf("parseFixed(%q) accepted", bad)
		}
	}
}

package document

import (
	"strings"
	"testing"
)

func TestValidateNamesWhatIsWrong(t *testing.T) {
	ok := Document{Kind: "k", Sections: []Section{{Tables: []Table{{Name: "a", Columns: []Column{{Title: "x", Kind: Text}, {Title: "kg", Kind: Decimal}},
		Rows: [][]string{{"s", "1.5"}, {"t", ""}}}}, Charts: []Chart{{Labels: []string{"a"}, Series: []Series{{Values: []float64{1}}}}}}}}
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		edit func(*Document)
		want string
	}{
		{"duplicate table", func(d *Document) { d.Sections = append(d.Sections, Section{Tables: []Table{{Name: "a"}}}) }, `table "a": empty or duplicate`},
		{"short row", func(d *Document) { d.Sections[0].Tables[0].Rows[0] = []string{"s"} }, "row 0: 1 cells for 2 columns"},
		{"not a number", func(d *Document) { d.Sections[0].Tables[0].Rows[1][1] = "1,5" }, `row 1 column "kg": "1,5" is not a number`},
		{"series length", func(d *Document) { d.Sections[0].Charts[0].Labels = nil }, "1 values for 0 labels"},
	} {
		d := ok
		d.Sections = []Section{{Tables: []Table{{Name: "a", Columns: ok.Sections[0].Tables[0].Columns,
			Rows: [][]string{{"s", "1.5"}, {"t", ""}}}}, Charts: []Chart{{Labels: []string{"a"}, Series: []Series{{Values: []float64{1}}}}}}}
		c.edit(&d)
		if err := d.Validate(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.name, err, c.want)
		}
	}
}

func TestThousands(t *testing.T) {
	for in, want := range map[string]string{
		"-1234567.5": "-1,234,567.5", "1000": "1,000", "999": "999", "0.1250": "0.1250", "100000": "100,000", "": "",
	} {
		if got := Thousands(in); got != want {
			t.Errorf("Thousands(%q) = %q, want %q", in, got, want)
		}
	}
}

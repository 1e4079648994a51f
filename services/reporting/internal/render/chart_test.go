package render

import (
	"bytes"
	"image/png"
	"reflect"
	"strings"
	"testing"

	"github.com/vcci-dev/vcci/services/reporting/internal/document"
)

func TestChartPNGForEveryKind(t *testing.T) {
	charts := map[document.ChartKind]document.Chart{}
	for _, s := range Sample(300).Sections {
		for _, c := range s.Charts {
			charts[c.Kind] = c
		}
	}
	for _, kind := range []document.ChartKind{document.Bar, document.StackedBar, document.Line, document.Pareto} {
		c, ok := charts[kind]
		if !ok {
			t.Fatalf("Sample has no %s chart", kind)
		}
		b, err := chartPNG(c)
		if err != nil {
			t.Fatalf("%s: %v", kind, err)
		}
		img, err := png.Decode(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("%s: %v", kind, err)
		}
		// 180 mm wide at 150 dpi; Pareto 130 mm high, others 95 mm.
		wantH := 561
		if kind == document.Pareto {
			wantH = 768
		}
		if got := img.Bounds().Size(); got.X != 1063 || got.Y != wantH {
			t.Errorf("%s: %v pixels, want 1063x%d", kind, got, wantH)
		}
	}
	if _, err := chartPNG(document.Chart{Kind: "pie", Title: "t"}); err == nil || !strings.Contains(err.Error(), `"pie"`) {
		t.Errorf("unknown chart kind: %v", err)
	}
}

func TestTopLabelsKeepsTheLargestInOrder(t *testing.T) {
	c := document.Chart{Title: "Spend", Labels: []string{"a", "b", "c", "d"},
		Series: []document.Series{{Name: "x", Values: []float64{1, 9, 3, 7}}, {Name: "y", Values: []float64{5, 0, 0, 0}}}}
	got := topLabels(c, 2)
	want := document.Chart{Title: "Spend (largest 2 of 4)", Labels: []string{"b", "d"},
		Series: []document.Series{{Name: "x", Values: []float64{9, 7}}, {Name: "y", Values: []float64{0, 0}}}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("topLabels = %+v, want %+v", got, want)
	}
	if got := topLabels(c, 4); !reflect.DeepEqual(got, c) {
		t.Errorf("topLabels with room for all changed the chart: %+v", got)
	}
}

func TestGroupedTicks(t *testing.T) {
	var labels []string
	for _, tk := range (groupedTicks{}).Ticks(0, 12500) {
		if tk.Label != "" {
			labels = append(labels, tk.Label)
		}
	}
	if want := []string{"0", "4,000", "8,000", "12,000"}; !reflect.DeepEqual(labels, want) {
		t.Errorf("ticks %q, want %q", labels, want)
	}
	labels = nil
	for _, tk := range (groupedTicks{}).Ticks(0, 1.2) {
		if tk.Label != "" {
			labels = append(labels, tk.Label)
		}
	}
	if want := []string{"0.0", "0.5", "1.0"}; !reflect.DeepEqual(labels, want) {
		t.Errorf("ticks %q, want %q", labels, want)
	}
}

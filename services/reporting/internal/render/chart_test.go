package render

import (
	"bytes"
	"image"
	"image/png"
	"reflect"
	"strings"
	"testing"

	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"

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

// newCanvas draws what vgimg's own canvas of the same size draws: it only
// skips vgimg's copy of the blank image. Its size is whole pixels (1063 at
// 150 dpi is 180.001 mm, not 180), so edges fall a hair apart: a few per
// cent of the bytes differ, by little on average.
func TestCanvasDrawsAsVgimgWould(t *testing.T) {
	for _, s := range Sample(300).Sections {
		for _, c := range s.Charts {
			w, h := chartWidth, chartHeight(c)
			ours, theirs := newCanvas(w, h), vgimg.NewWith(vgimg.UseWH(w, h), vgimg.UseDPI(chartDPI))
			for _, cv := range []*vgimg.Canvas{ours, theirs} {
				if err := drawChart(draw.New(cv), c); err != nil {
					t.Fatal(err)
				}
			}
			a, b := ours.Image().(*image.RGBA), theirs.Image().(*image.RGBA)
			if a.Bounds() != b.Bounds() {
				t.Fatalf("%s %q: %v pixels, vgimg's %v", c.Kind, c.Title, a.Bounds(), b.Bounds())
			}
			diff, sum := 0, 0
			for i := range a.Pix {
				if d := max(int(a.Pix[i])-int(b.Pix[i]), int(b.Pix[i])-int(a.Pix[i])); d > 0 {
					diff++
					sum += d
				}
			}
			if share, mean := float64(diff)/float64(len(a.Pix)), float64(sum)/float64(len(a.Pix)); share > 0.05 || mean > 1 {
				t.Errorf("%s %q: %.1f%% of the bytes differ, by %.2f on average; want under 5%% and 1", c.Kind, c.Title, 100*share, mean)
			} else {
				t.Logf("%s %q: %.1f%% of the bytes differ, by %.3f on average", c.Kind, c.Title, 100*share, mean)
			}
		}
	}
}

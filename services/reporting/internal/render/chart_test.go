package render

import (
	"bytes"
	"image"
	"math"
	"reflect"
	"strings"
	"testing"

	"codeberg.org/go-pdf/fpdf"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/vcci-dev/vcci/services/reporting/internal/document"
)

// Every kind of chart is drawn into the PDF as paths and text: no image,
// its title, axis labels and category labels set as text, its bars as
// filled paths.
func TestChartsAreDrawnAsPathsAndText(t *testing.T) {
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
		d := document.Document{Title: "t", Sections: []document.Section{{Title: "s", Charts: []document.Chart{c}}}}
		var buf bytes.Buffer
		if err := writePDF(&buf, d, false); err != nil {
			t.Fatalf("%s: %v", kind, err)
		}
		pdf := buf.String()
		if strings.Contains(pdf, "/Subtype /Image") {
			t.Errorf("%s: an image in the PDF", kind)
		}
		// The title as drawn: a Pareto's says how many of its suppliers it shows.
		for _, text := range []string{topLabels(c, maxBars).Title, c.YLabel, c.XLabel} {
			if text != "" && !strings.Contains(pdf, "("+pdfEscape(text)+") Tj") {
				t.Errorf("%s: no text %q", kind, text)
			}
		}
		// Bars are closed, filled paths ("h", "f"), one a shown label at least.
		if fills := strings.Count(pdf, " l\nh\nf\n"); kind != document.Line && fills < min(len(c.Labels), maxBars) {
			t.Errorf("%s: %d filled paths for %d labels", kind, fills, len(c.Labels))
		}
	}
	cv := newPDFCanvas(fpdf.New("P", "mm", "A4", ""), func(s string) string { return s }, 0, 0, chartWidth, 95*vg.Millimeter)
	if err := drawChart(draw.New(cv), document.Chart{Kind: "pie", Title: "t"}); err == nil || !strings.Contains(err.Error(), `"pie"`) {
		t.Errorf("unknown chart kind: %v", err)
	}
}

// pdfEscape is s as a PDF string literal's content.
func pdfEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, "(", `\(`, ")", `\)`).Replace(s)
}

// The canvas maps the plot's points, through its transforms, to the page:
// its rectangle's bottom left is the plot's origin, y up.
func TestPDFCanvasMapsThePlotToThePage(t *testing.T) {
	p := fpdf.New("P", "mm", "A4", "")
	p.AddPage()
	cv := newPDFCanvas(p, func(s string) string { return s }, 10, 20, 72, 72) // 1 inch square at (10, 20) mm
	near := func(what string, x, y, wantX, wantY float64) {
		t.Helper()
		if math.Abs(x-wantX) > 1e-9 || math.Abs(y-wantY) > 1e-9 {
			t.Errorf("%s at (%.4f, %.4f) mm, want (%.4f, %.4f)", what, x, y, wantX, wantY)
		}
	}
	x, y := cv.page(vg.Point{})
	near("the origin", x, y, 10, 45.4)
	cv.Push()
	cv.Translate(vg.Point{X: 36, Y: 36})
	cv.Rotate(math.Pi / 2)
	x, y = cv.page(vg.Point{X: 18})
	near("18 pt along x, turned a quarter about the centre", x, y, 10+12.7, 20+12.7-6.35)
	cv.Scale(2, 1)
	x, y = cv.page(vg.Point{X: 9})
	near("9 pt along x scaled by 2", x, y, 10+12.7, 20+12.7-6.35)
	cv.Pop()
	x, y = cv.page(vg.Point{X: 72, Y: 72})
	near("the top right corner after Pop", x, y, 35.4, 20)
	if err := cv.done("Helvetica", 10); err != nil {
		t.Fatal(err)
	}
	cv.Pop()
	if err := cv.done("Helvetica", 10); err == nil || !strings.Contains(err.Error(), "Pop without Push") {
		t.Errorf("Pop without Push: %v", err)
	}
	img := newPDFCanvas(p, func(s string) string { return s }, 10, 20, 72, 72)
	img.DrawImage(vg.Rectangle{Max: vg.Point{X: 10, Y: 10}}, image.NewRGBA(image.Rect(0, 0, 1, 1)))
	if err := img.done("Helvetica", 10); err == nil || !strings.Contains(err.Error(), "drew an image") {
		t.Errorf("an image: %v", err)
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

package render

import (
	"cmp"
	"fmt"
	"image/color"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/vcci-dev/vcci/services/reporting/internal/document"
)

const (
	// maxBars is how many labels a bar or Pareto chart shows before it
	// keeps the largest and says so in its title; more do not fit A4.
	maxBars = 15
	// maxLabel is how many characters of an x label are shown.
	maxLabel = 22
)

// chartWidth and chartHeight are a chart's printed size, at which the
// plot's font sizes are real.
const chartWidth = 180 * vg.Millimeter

func chartHeight(c document.Chart) vg.Length {
	if c.Kind == document.Pareto {
		return 130 * vg.Millimeter
	}
	return 95 * vg.Millimeter
}

// palette is colour-blind safe (Okabe-Ito), one colour per series.
var palette = []color.Color{
	color.RGBA{0, 114, 178, 255}, color.RGBA{230, 159, 0, 255}, color.RGBA{0, 158, 115, 255},
	color.RGBA{204, 121, 167, 255}, color.RGBA{86, 180, 233, 255}, color.RGBA{213, 94, 0, 255},
	color.RGBA{240, 228, 66, 255}, color.RGBA{0, 0, 0, 255},
}

func seriesColor(i int) color.Color { return palette[i%len(palette)] }

// drawChart draws c on dc.
func drawChart(dc draw.Canvas, c document.Chart) error {
	switch c.Kind {
	case document.Bar, document.StackedBar:
		return drawBars(dc, c)
	case document.Line:
		return drawLine(dc, c)
	case document.Pareto:
		return drawPareto(dc, c)
	}
	return fmt.Errorf("unknown chart kind %q", c.Kind)
}

// newPlot is a plot with the chart's title and axis labels, thousands
// separators on the value axis and x labels that do not overlap.
func newPlot(title, xLabel, yLabel string, labels []string) *plot.Plot {
	p := plot.New()
	// Sans, as the PDF's text; the package default is serif.
	p.Title.TextStyle.Font = sans(12)
	p.X.Label.TextStyle.Font, p.Y.Label.TextStyle.Font = sans(10), sans(10)
	p.X.Tick.Label.Font, p.Y.Tick.Label.Font = sans(8), sans(9)
	p.Legend.TextStyle.Font = sans(9)
	p.Title.Text = title
	p.X.Label.Text = xLabel
	p.Y.Label.Text = yLabel
	p.Y.Tick.Marker = groupedTicks{}
	p.Y.Min = 0
	// Labels wrap onto up to three lines when that fits each under its
	// own slot (about 150 mm across, 1.7 mm a character at 8 pt, with room);
	// otherwise they are cut short and slanted.
	perSlot := int(150 / 1.7 / float64(max(len(labels), 1)))
	shown, ok := wrapLabels(labels, perSlot)
	if !ok {
		for i, l := range labels {
			shown[i] = abbreviate(l)
		}
		p.X.Tick.Label.Rotation = math.Pi / 4
		p.X.Tick.Label.XAlign = text.XRight
		p.X.Tick.Label.YAlign = text.YCenter
	}
	if len(labels) > 0 {
		p.NominalX(shown...)
	} else {
		p.Title.Text += " (no data)"
	}
	p.X.Min, p.X.Max = -0.5, max(float64(len(labels))-0.5, 0.5)
	p.Legend.Top = true
	// Horizontal lines only: vertical ones would cut through the legend
	// and say nothing on a nominal axis.
	grid := plotter.NewGrid()
	grid.Vertical.Color = nil
	p.Add(grid)
	return p
}

func sans(size vg.Length) font.Font {
	return font.Font{Typeface: "Liberation", Variant: "Sans", Size: size}
}

// legendRoom raises the value axis so a legend in the top right corner
// sits above the data instead of over it.
func legendRoom(p *plot.Plot, c document.Chart, stacked bool) {
	if len(c.Series) < 2 {
		return
	}
	var top float64
	for i := range c.Labels {
		var sum float64
		for _, sr := range c.Series {
			if stacked {
				sum += sr.Values[i]
			} else {
				sum = max(sum, sr.Values[i])
			}
		}
		top = max(top, sum)
	}
	p.Y.Max = top * (1.05 + 0.09*float64(len(c.Series)))
}

// wrapLabels breaks each label at spaces into at most three lines of width
// characters, and reports whether every label fit.
func wrapLabels(labels []string, width int) ([]string, bool) {
	out := make([]string, len(labels))
	for i, l := range labels {
		var lines []string
		for w := range strings.FieldsSeq(l) {
			if n := len(lines); n > 0 && utf8.RuneCountInString(lines[n-1])+1+utf8.RuneCountInString(w) <= width {
				lines[n-1] += " " + w
				continue
			}
			lines = append(lines, w)
		}
		for _, line := range lines {
			if utf8.RuneCountInString(line) > width {
				return out, false
			}
		}
		if len(lines) > 3 {
			return out, false
		}
		out[i] = strings.Join(lines, "\n")
	}
	return out, true
}

func abbreviate(s string) string {
	r := []rune(s)
	if len(r) <= maxLabel {
		return s
	}
	return strings.TrimSpace(string(r[:maxLabel-1])) + "…"
}

// topLabels keeps the n labels with the largest total across series, in
// their original order, and says so in the title.
func topLabels(c document.Chart, n int) document.Chart {
	if len(c.Labels) <= n {
		return c
	}
	idx := make([]int, len(c.Labels))
	for i := range idx {
		idx[i] = i
	}
	total := func(i int) float64 {
		var s float64
		for _, sr := range c.Series {
			s += sr.Values[i]
		}
		return s
	}
	slices.SortStableFunc(idx, func(a, b int) int { return cmp.Compare(total(b), total(a)) })
	idx = idx[:n]
	slices.Sort(idx)
	out := c
	out.Title = fmt.Sprintf("%s (largest %d of %d)", c.Title, n, len(c.Labels))
	out.Labels = make([]string, n)
	out.Series = make([]document.Series, len(c.Series))
	for k, sr := range c.Series {
		out.Series[k] = document.Series{Name: sr.Name, Values: make([]float64, n)}
		for j, i := range idx {
			out.Series[k].Values[j] = sr.Values[i]
		}
	}
	for j, i := range idx {
		out.Labels[j] = c.Labels[i]
	}
	return out
}

func drawBars(dc draw.Canvas, c document.Chart) error {
	c = topLabels(c, maxBars)
	p := newPlot(c.Title, c.XLabel, c.YLabel, c.Labels)
	// Bars share about 70 % of each label's slot of the plot's width.
	slot := dc.Size().X * 0.85 / vg.Length(max(len(c.Labels), 1))
	width := slot * 0.7
	if c.Kind == document.Bar && len(c.Series) > 1 {
		width /= vg.Length(len(c.Series))
	}
	var below *plotter.BarChart
	legend := make([]plot.Thumbnailer, len(c.Series))
	for k, sr := range c.Series {
		b, err := plotter.NewBarChart(plotter.Values(sr.Values), width)
		if err != nil {
			return fmt.Errorf("series %q: NewBarChart: %w", sr.Name, err)
		}
		b.Color = seriesColor(k)
		b.LineStyle.Width = 0
		if c.Kind == document.StackedBar {
			if below != nil {
				b.StackOn(below)
			}
			below = b
		} else {
			b.Offset = (vg.Length(k) - vg.Length(len(c.Series)-1)/2) * width
		}
		p.Add(b)
		legend[k] = b
	}
	if len(c.Series) > 1 {
		// A stack's legend lists its series top down, as they are drawn.
		for k := range c.Series {
			if c.Kind == document.StackedBar {
				k = len(c.Series) - 1 - k
			}
			p.Legend.Add(c.Series[k].Name, legend[k])
		}
	}
	legendRoom(p, c, c.Kind == document.StackedBar)
	p.Draw(dc)
	return nil
}

func drawLine(dc draw.Canvas, c document.Chart) error {
	p := newPlot(c.Title, c.XLabel, c.YLabel, c.Labels)
	for k, sr := range c.Series {
		xy := make(plotter.XYs, len(sr.Values))
		for i, v := range sr.Values {
			xy[i] = plotter.XY{X: float64(i), Y: v}
		}
		l, pts, err := plotter.NewLinePoints(xy)
		if err != nil {
			return fmt.Errorf("series %q: NewLinePoints: %w", sr.Name, err)
		}
		l.Color, pts.Color = seriesColor(k), seriesColor(k)
		l.Width = vg.Points(1.5)
		p.Add(l, pts)
		if len(c.Series) > 1 {
			p.Legend.Add(sr.Name, l, pts)
		}
	}
	legendRoom(p, c, false)
	p.Draw(dc)
	return nil
}

// drawPareto draws the labels' first series as descending bars and, in a
// second plot under it on the same x positions, their cumulative share of
// the total of all labels on a 0-100 % axis: gonum/plot has no second y
// axis, and two scales on one axis would mislead.
func drawPareto(dc draw.Canvas, c document.Chart) error {
	if len(c.Series) == 0 {
		return drawBars(dc, c) // the axes and "no data"
	}
	vals := c.Series[0].Values
	idx := make([]int, len(vals))
	var total float64
	for i, v := range vals {
		idx[i] = i
		total += v
	}
	slices.SortStableFunc(idx, func(a, b int) int { return cmp.Compare(vals[b], vals[a]) })
	title := c.Title
	if len(idx) > maxBars {
		title = fmt.Sprintf("%s (largest %d of %d)", c.Title, maxBars, len(idx))
		idx = idx[:maxBars]
	}
	labels := make([]string, len(idx))
	bars := make(plotter.Values, len(idx))
	cum := make(plotter.XYs, len(idx))
	var run float64
	for j, i := range idx {
		labels[j], bars[j] = c.Labels[i], vals[i]
		run += vals[i]
		share := 0.0
		if total > 0 {
			share = 100 * run / total
		}
		cum[j] = plotter.XY{X: float64(j), Y: share}
	}

	top := newPlot(title, "", c.YLabel, labels)
	slot := dc.Size().X * 0.85 / vg.Length(max(len(labels), 1))
	b, err := plotter.NewBarChart(bars, slot*0.7)
	if err != nil {
		return fmt.Errorf("pareto bars: NewBarChart: %w", err)
	}
	b.Color, b.LineStyle.Width = seriesColor(0), 0
	top.Add(b)
	// The labels are under the share plot; the bars keep their positions.
	blank := make([]plot.Tick, len(labels))
	for j := range blank {
		blank[j] = plot.Tick{Value: float64(j)}
	}
	top.X.Tick.Marker = plot.ConstantTicks(blank)

	bottom := newPlot("", c.XLabel, "Cumulative share (%)", labels)
	bottom.Y.Min, bottom.Y.Max = 0, 100
	bottom.Y.Tick.Marker = plot.ConstantTicks([]plot.Tick{{Value: 0, Label: "0"}, {Value: 20}, {Value: 40, Label: "40"},
		{Value: 60}, {Value: 80, Label: "80"}, {Value: 100, Label: "100"}})
	l, pts, err := plotter.NewLinePoints(cum)
	if err != nil {
		return fmt.Errorf("pareto share: NewLinePoints: %w", err)
	}
	l.Color, pts.Color, l.Width = seriesColor(1), seriesColor(1), vg.Points(1.5)
	bottom.Add(l, pts)

	// The bars take the upper 45 % of the canvas, the share plot the rest
	// (it also carries the x labels).
	split := dc.Min.Y + (dc.Max.Y-dc.Min.Y)*0.55
	// A gap keeps the bars' 0 clear of the share axis's 100.
	upper := draw.Canvas{Canvas: dc.Canvas, Rectangle: vg.Rectangle{Min: vg.Point{X: dc.Min.X, Y: split + 4*vg.Millimeter}, Max: dc.Max}}
	lower := draw.Canvas{Canvas: dc.Canvas, Rectangle: vg.Rectangle{Min: dc.Min, Max: vg.Point{X: dc.Max.X, Y: split}}}
	// Both plots' data areas must span the same x, so that each bar sits
	// over its share point: crop whichever starts left of the other, then
	// whichever ends right of the other.
	a, b2 := top.DataCanvas(upper), bottom.DataCanvas(lower)
	if d := a.Min.X - b2.Min.X; d > 0 {
		lower = draw.Crop(lower, d, 0, 0, 0)
	} else {
		upper = draw.Crop(upper, -d, 0, 0, 0)
	}
	a, b2 = top.DataCanvas(upper), bottom.DataCanvas(lower)
	if d := a.Max.X - b2.Max.X; d > 0 {
		upper = draw.Crop(upper, 0, -d, 0, 0)
	} else {
		lower = draw.Crop(lower, 0, d, 0, 0)
	}
	top.Draw(upper)
	bottom.Draw(lower)
	return nil
}

// groupedTicks are plot.DefaultTicks with thousands separators and as
// few decimals as the labelled ticks need ("5,000", not "5,000.00").
type groupedTicks struct{}

func (groupedTicks) Ticks(lo, hi float64) []plot.Tick {
	ticks := plot.DefaultTicks{}.Ticks(lo, hi)
	prec := 0
	for _, t := range ticks {
		if t.Label == "" {
			continue
		}
		s := strconv.FormatFloat(t.Value, 'f', -1, 64)
		if i := strings.IndexByte(s, '.'); i >= 0 {
			prec = max(prec, len(s)-i-1)
		}
	}
	prec = min(prec, 6)
	for i, t := range ticks {
		if t.Label != "" {
			ticks[i].Label = document.Thousands(strconv.FormatFloat(t.Value, 'f', prec, 64))
		}
	}
	return ticks
}

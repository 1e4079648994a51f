package render

import (
	"errors"
	"fmt"
	"image"
	"image/color"
	"math"

	"codeberg.org/go-pdf/fpdf"
	stdfont "golang.org/x/image/font"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/vg"
)

// pdfCanvas draws a plot into a rectangle of an fpdf page as vector
// paths and text, instead of a rasterised image: gonum's vgpdf writes a
// document of its own, not into ours. It keeps the plot's transforms
// itself and hands fpdf page coordinates, so fpdf's own transforms are
// used only to turn text. Text is set in the PDF's core fonts: Liberation
// Sans, which the plot measures with, has Helvetica's metrics.
type pdfCanvas struct {
	pdf  *fpdf.Fpdf
	tr   func(string) string // UTF-8 to the core fonts' cp1252
	x, y float64             // the rectangle's top left corner, mm
	w, h vg.Length
	// stack holds the state Push saves; its last entry is the current.
	stack []canvasState
	alpha float64 // fpdf's, set only when it changes
	err   error
}

type canvasState struct {
	m     affine
	color color.Color
	width vg.Length
	dash  []vg.Length
	off   vg.Length
}

// affine maps (x, y) to (a x + c y + e, b x + d y + f).
type affine struct{ a, b, c, d, e, f float64 }

func (m affine) apply(p vg.Point) (x, y float64) {
	px, py := float64(p.X), float64(p.Y)
	return m.a*px + m.c*py + m.e, m.b*px + m.d*py + m.f
}

// then is m followed by n.
func (m affine) then(n affine) affine {
	return affine{
		a: n.a*m.a + n.c*m.b, b: n.b*m.a + n.d*m.b,
		c: n.a*m.c + n.c*m.d, d: n.b*m.c + n.d*m.d,
		e: n.a*m.e + n.c*m.f + n.e, f: n.b*m.e + n.d*m.f + n.f,
	}
}

const mmPerPt = 25.4 / 72

// newPDFCanvas is a canvas of w x h whose top left corner is at (x, y) mm
// on pdf's current page. Call done after drawing.
func newPDFCanvas(pdf *fpdf.Fpdf, tr func(string) string, x, y float64, w, h vg.Length) *pdfCanvas {
	c := &pdfCanvas{pdf: pdf, tr: tr, x: x, y: y, w: w, h: h, alpha: 1,
		stack: []canvasState{{m: affine{a: 1, d: 1}, color: color.Black, width: 1}}}
	vg.Initialize(c)
	return c
}

func (c *pdfCanvas) state() *canvasState { return &c.stack[len(c.stack)-1] }

// page is p on the page, in mm from its top left corner.
func (c *pdfCanvas) page(p vg.Point) (x, y float64) {
	px, py := c.state().m.apply(p)
	return c.x + px*mmPerPt, c.y + (float64(c.h)-py)*mmPerPt
}

func (c *pdfCanvas) Size() (w, h vg.Length) { return c.w, c.h }

func (c *pdfCanvas) SetLineWidth(w vg.Length) {
	c.state().width = w
	c.pdf.SetLineWidth(float64(w) * mmPerPt)
}

func (c *pdfCanvas) SetLineDash(pattern []vg.Length, offset vg.Length) {
	s := c.state()
	s.dash, s.off = append([]vg.Length(nil), pattern...), offset
	mm := make([]float64, len(pattern))
	for i, l := range pattern {
		mm[i] = float64(l) * mmPerPt
	}
	c.pdf.SetDashPattern(mm, float64(offset)*mmPerPt)
}

func (c *pdfCanvas) SetColor(col color.Color) {
	if col == nil {
		col = color.Black
	}
	c.state().color = col
	r, g, b, a := col.RGBA()
	if a == 0 {
		a = 1 // fully transparent: drawn as black would be wrong; the channels are 0 too
	}
	// Un-premultiplied 8-bit channels, as the PDF's colours are.
	un := func(v uint32) int { return int(v * 0xffff / a >> 8) }
	c.pdf.SetDrawColor(un(r), un(g), un(b))
	c.pdf.SetFillColor(un(r), un(g), un(b))
	c.pdf.SetTextColor(un(r), un(g), un(b))
	if al := float64(a) / 0xffff; al != c.alpha {
		c.pdf.SetAlpha(al, "Normal")
		c.alpha = al
	}
}

func (c *pdfCanvas) Rotate(rad float64) {
	sin, cos := math.Sincos(rad)
	c.state().m = affine{a: cos, b: sin, c: -sin, d: cos}.then(c.state().m)
}

func (c *pdfCanvas) Translate(pt vg.Point) {
	c.state().m = affine{a: 1, d: 1, e: float64(pt.X), f: float64(pt.Y)}.then(c.state().m)
}

func (c *pdfCanvas) Scale(x, y float64) {
	c.state().m = affine{a: x, d: y}.then(c.state().m)
}

func (c *pdfCanvas) Push() { c.stack = append(c.stack, *c.state()) }

// Pop restores the state Push saved, fpdf's settings with it.
func (c *pdfCanvas) Pop() {
	if len(c.stack) < 2 {
		c.fail(errors.New("pdf canvas: Pop without Push"))
		return
	}
	c.stack = c.stack[:len(c.stack)-1]
	s := *c.state()
	c.SetLineWidth(s.width)
	c.SetLineDash(s.dash, s.off)
	c.SetColor(s.color)
}

func (c *pdfCanvas) Stroke(p vg.Path) {
	if c.state().width > 0 {
		c.path(p, "D")
	}
}

func (c *pdfCanvas) Fill(p vg.Path) { c.path(p, "F") }

// arcStep is the largest angle a flattened arc's segment spans: a
// segment of a 3 mm marker's arc is then off the circle by 0.01 mm.
const arcStep = math.Pi / 16

func (c *pdfCanvas) path(p vg.Path, style string) {
	if len(p) == 0 {
		return
	}
	started := false
	to := func(pt vg.Point) {
		x, y := c.page(pt)
		if started {
			c.pdf.LineTo(x, y)
		} else {
			c.pdf.MoveTo(x, y)
			started = true
		}
	}
	for _, comp := range p {
		switch comp.Type {
		case vg.MoveComp:
			started = false
			to(comp.Pos)
		case vg.LineComp:
			to(comp.Pos)
		case vg.ArcComp:
			// Flattened: under the plot's transforms an arc may not stay
			// a circle's.
			n := max(int(math.Ceil(math.Abs(comp.Angle)/arcStep)), 1)
			for i := 0; i <= n; i++ {
				sin, cos := math.Sincos(comp.Start + comp.Angle*float64(i)/float64(n))
				to(vg.Point{X: comp.Pos.X + comp.Radius*vg.Length(cos), Y: comp.Pos.Y + comp.Radius*vg.Length(sin)})
			}
		case vg.CurveComp:
			x, y := c.page(comp.Pos)
			switch len(comp.Control) {
			case 1:
				cx, cy := c.page(comp.Control[0])
				c.pdf.CurveTo(cx, cy, x, y)
			case 2:
				cx0, cy0 := c.page(comp.Control[0])
				cx1, cy1 := c.page(comp.Control[1])
				c.pdf.CurveBezierCubicTo(cx0, cy0, cx1, cy1, x, y)
			default:
				c.fail(fmt.Errorf("pdf canvas: a curve with %d control points", len(comp.Control)))
				return
			}
		case vg.CloseComp:
			c.pdf.ClosePath()
		default:
			c.fail(fmt.Errorf("pdf canvas: path component %d", comp.Type))
			return
		}
	}
	c.pdf.DrawPath(style)
}

// FillString sets text in the core font matching f, its baseline's start
// at pt, turned as the plot's transforms turn it.
func (c *pdfCanvas) FillString(f font.Face, pt vg.Point, text string) {
	if f.Font.Size == 0 {
		return
	}
	family := "Helvetica"
	switch f.Font.Variant {
	case "Serif":
		family = "Times"
	case "Mono":
		family = "Courier"
	}
	style := ""
	if f.Font.Weight >= stdfont.WeightBold {
		style += "B"
	}
	if f.Font.Style == stdfont.StyleItalic {
		style += "I"
	}
	c.pdf.SetFont(family, style, float64(f.Font.Size))
	x, y := c.page(pt)
	m := c.state().m
	angle := math.Atan2(m.b, m.a) * 180 / math.Pi
	if math.Abs(angle) > 1e-9 {
		c.pdf.TransformBegin()
		c.pdf.TransformRotate(angle, x, y)
		defer c.pdf.TransformEnd()
	}
	c.pdf.Text(x, y, c.tr(text))
}

// DrawImage is not drawn: vcci's charts hold no images, and one would
// be a raster in a vector chart. It fails the chart instead.
func (c *pdfCanvas) DrawImage(vg.Rectangle, image.Image) {
	c.fail(errors.New("pdf canvas: a chart drew an image"))
}

func (c *pdfCanvas) fail(err error) {
	if c.err == nil {
		c.err = err
	}
}

// done ends the drawing: it puts back what the document's text and tables
// expect (solid black lines 0.2 mm wide, black text, no transparency) and
// returns the first error met.
func (c *pdfCanvas) done(family string, size float64) error {
	c.pdf.SetDashPattern(nil, 0)
	c.pdf.SetLineWidth(0.2)
	c.pdf.SetDrawColor(0, 0, 0)
	c.pdf.SetFillColor(255, 255, 255)
	c.pdf.SetTextColor(0, 0, 0)
	if c.alpha != 1 {
		c.pdf.SetAlpha(1, "Normal")
	}
	c.pdf.SetFont(family, "", size)
	return c.err
}

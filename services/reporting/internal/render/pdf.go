package render

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"codeberg.org/go-pdf/fpdf"
	"gonum.org/v1/plot/vg/draw"

	"github.com/vcci-dev/vcci/services/reporting/internal/document"
)

// A4 portrait layout, in millimetres.
const (
	margin      = 15.0
	footerSpace = 18.0 // bottom margin: the footer sits in it
	lineH       = 5.0
	rowH        = 5.0
	cellPad     = 1.5 // fpdf's cell margin, left and right of a cell's text
	tocPerPage  = 34  // 7 mm lines under the heading
)

// renderPDF lays d out for print: a title page, contents with page
// numbers, then a page per section with its paragraphs, tables and charts.
func renderPDF(w io.Writer, d document.Document) error {
	return writePDF(w, d, true)
}

// writePDF is renderPDF with the choice to leave page contents
// uncompressed, so a test can find the text in them.
func writePDF(w io.Writer, d document.Document, compress bool) error {
	pdf := fpdf.New("P", "mm", "A4", "")
	pdf.SetCompression(compress)
	pdf.SetCreationDate(d.GeneratedAt)
	pdf.SetModificationDate(d.GeneratedAt)
	pdf.SetTitle(d.Title, true)
	pdf.SetMargins(margin, margin, margin)
	pdf.SetAutoPageBreak(true, footerSpace)
	pdf.SetCellMargin(cellPad)
	pdf.AliasNbPages("{nb}")
	r := &pdfRenderer{pdf: pdf, tr: pdf.UnicodeTranslatorFromDescriptor("")}
	pdf.SetFooterFunc(r.footer)

	r.titlePage(d)
	links := r.contents(d)
	for i, s := range d.Sections {
		if err := r.section(i, s, links[i]); err != nil {
			return fmt.Errorf("render.PDF: %w", err)
		}
	}
	if err := pdf.Output(w); err != nil {
		return fmt.Errorf("render.PDF: %w", err)
	}
	return nil
}

type pdfRenderer struct {
	pdf *fpdf.Fpdf
	// tr maps UTF-8 to the core fonts' cp1252.
	tr func(string) string
}

func (r *pdfRenderer) footer() {
	p := r.pdf
	p.SetY(-12)
	p.SetFont("Helvetica", "", 8)
	p.SetTextColor(90, 90, 90)
	// Left-aligned: fpdf measures "{nb}", not the page count it becomes.
	p.CellFormat(0, 4, fmt.Sprintf("Page %d of {nb}", p.PageNo()), "", 0, "L", false, 0, "")
	p.SetTextColor(0, 0, 0)
}

func (r *pdfRenderer) titlePage(d document.Document) {
	p := r.pdf
	p.AddPage()
	p.SetY(90)
	p.SetFont("Helvetica", "B", 24)
	p.MultiCell(0, 11, r.tr(d.Title), "", "L", false)
	if d.Subtitle != "" {
		p.Ln(4)
		p.SetFont("Helvetica", "", 13)
		p.MultiCell(0, 7, r.tr(d.Subtitle), "", "L", false)
	}
	p.Ln(8)
	p.SetFont("Helvetica", "", 10)
	p.CellFormat(0, lineH, "Generated "+generated(d), "", 1, "L", false, 0, "")
}

// tocAlias is the placeholder for section i's page number, replaced when
// the PDF is written. '#' and digits are equally wide in Helvetica, and a
// digit as wide as two spaces, so padding the number with spaces to the
// placeholder's width keeps it right-aligned.
func tocAlias(i int) (alias string, pad func(page int) string) {
	alias = fmt.Sprintf("#%02d#", i)
	return alias, func(page int) string {
		n := strconv.Itoa(page)
		return strings.Repeat("  ", max(len(alias)-len(n), 0)) + n
	}
}

// contents lists the sections with their page numbers, which are not
// known yet: each is an alias that section() registers. It returns each
// section's link target.
func (r *pdfRenderer) contents(d document.Document) []int {
	p := r.pdf
	links := make([]int, len(d.Sections))
	for i, s := range d.Sections {
		if i%tocPerPage == 0 {
			p.AddPage()
			p.SetFont("Helvetica", "B", 16)
			p.CellFormat(0, 10, "Contents", "", 1, "L", false, 0, "")
			p.Ln(4)
		}
		links[i] = p.AddLink()
		alias, _ := tocAlias(i)
		p.SetFont("Helvetica", "", 11)
		title := r.tr(fmt.Sprintf("%d  %s", i+1, s.Title))
		width, _ := p.GetPageSize()
		avail := width - 2*margin - p.GetStringWidth(alias) - 2
		title = fit(p, title, avail)
		// Dot leaders from the title to the number.
		dots := strings.Repeat(".", max(int((avail-p.GetStringWidth(title)-2)/p.GetStringWidth(".")), 0))
		p.CellFormat(p.GetStringWidth(title)+1, 7, title, "", 0, "L", false, links[i], "")
		p.SetTextColor(150, 150, 150)
		p.CellFormat(avail-p.GetStringWidth(title)-1, 7, dots, "", 0, "R", false, links[i], "")
		p.SetTextColor(0, 0, 0)
		p.CellFormat(0, 7, alias, "", 1, "R", false, links[i], "")
	}
	return links
}

// fit cuts s with "..." to fit w millimetres in the current font.
func fit(p *fpdf.Fpdf, s string, w float64) string {
	if p.GetStringWidth(s) <= w {
		return s
	}
	for s != "" && p.GetStringWidth(s+"...") > w {
		s = s[:len(s)-1]
	}
	return s + "..."
}

func (r *pdfRenderer) section(i int, s document.Section, link int) error {
	p := r.pdf
	p.AddPage()
	p.SetLink(link, 0, -1)
	alias, pad := tocAlias(i)
	p.RegisterAlias(alias, pad(p.PageNo()))
	p.SetFont("Helvetica", "B", 16)
	p.MultiCell(0, 9, r.tr(fmt.Sprintf("%d  %s", i+1, s.Title)), "", "L", false)
	p.Ln(2)
	p.SetFont("Helvetica", "", 10)
	for _, para := range s.Paragraphs {
		p.MultiCell(0, lineH, r.tr(para), "", "L", false)
		p.Ln(2)
	}
	for _, t := range s.Tables {
		r.table(t)
	}
	for _, c := range s.Charts {
		if err := r.chart(c); err != nil {
			return err
		}
	}
	return nil
}

// spaceLeft is how much of the page is left above the footer.
func (r *pdfRenderer) spaceLeft() float64 {
	_, h := r.pdf.GetPageSize()
	return h - footerSpace - r.pdf.GetY()
}

// table draws t's title, header and rows, starting a new page with the
// header again when a row would not fit.
func (r *pdfRenderer) table(t document.Table) {
	p := r.pdf
	p.SetFont("Helvetica", "B", 11)
	if r.spaceLeft() < 8+12+3*rowH {
		p.AddPage()
	}
	p.Ln(2)
	p.MultiCell(0, 6, r.tr(t.Title), "", "L", false)
	p.Ln(1)

	widths, size := r.fitTable(t)
	lineH := size * 0.475 // a header line, in mm
	headers := make([][]string, len(t.Columns))
	lines := 1
	p.SetFont("Helvetica", "B", size)
	for i, c := range t.Columns {
		headers[i] = r.wrapHeader(c, widths[i])
		lines = max(lines, len(headers[i]))
	}
	headH := float64(lines)*lineH + 2
	header := func() {
		p.SetFont("Helvetica", "B", size)
		p.SetFillColor(221, 228, 238)
		x, y := p.GetX(), p.GetY()
		for i, c := range t.Columns {
			p.Rect(x, y, widths[i], headH, "F")
			align := "L"
			if numeric(c) {
				align = "R"
			}
			// Headers sit on the bottom line, over their values.
			top := y + 1 + float64(lines-len(headers[i]))*lineH
			for k, l := range headers[i] {
				p.SetXY(x, top+float64(k)*lineH)
				p.CellFormat(widths[i], lineH, l, "", 0, align, false, 0, "")
			}
			x += widths[i]
		}
		p.SetXY(margin, y+headH)
		p.SetFont("Helvetica", "", size)
	}
	header()
	step := size * 0.45 // a wrapped line, in mm
	for n, row := range t.Rows {
		// Text wraps (a category's status with its reason, a methods mix);
		// numbers stay on one line.
		cells := make([][]string, len(t.Columns))
		rows := 1
		for i, c := range t.Columns {
			if numeric(c) {
				cells[i] = []string{formatCell(c, row[i])}
				continue
			}
			cells[i] = r.wrapCell(r.tr(row[i]), widths[i]-2*cellPad)
			rows = max(rows, len(cells[i]))
		}
		h := max(rowH, float64(rows)*step+rowH-step)
		if r.spaceLeft() < h {
			p.AddPage()
			p.SetFont("Helvetica", "I", size)
			p.CellFormat(0, 5, r.tr(t.Title+" (continued)"), "", 1, "L", false, 0, "")
			header()
		}
		if n%2 == 1 {
			p.SetFillColor(244, 246, 249)
			pw, _ := p.GetPageSize()
			p.Rect(margin, p.GetY(), pw-2*margin, h, "F")
		}
		x, y := p.GetX(), p.GetY()
		for i, c := range t.Columns {
			align := "L"
			if numeric(c) {
				align = "R"
			}
			for k, l := range cells[i] {
				p.SetXY(x, y+(rowH-step)/2+float64(k)*step)
				p.CellFormat(widths[i], step, l, "", 0, align, false, 0, "")
			}
			x += widths[i]
		}
		p.SetXY(margin, y+h)
	}
	// A rule under the last row closes the table.
	w, _ := p.GetPageSize()
	p.Line(margin, p.GetY(), w-margin, p.GetY())
	p.SetFont("Helvetica", "I", 8)
	p.Ln(1)
	for _, note := range t.Notes {
		p.MultiCell(0, 4, r.tr(note), "", "L", false)
	}
	p.Ln(4)
	p.SetFont("Helvetica", "", 10)
}

// maxCellLines bounds a wrapped text cell; the last line is cut with
// "..." beyond it, so one long text cannot outgrow a page.
const maxCellLines = 8

// glue is a space SplitText does not break at: a control character, as
// wide as a space in the core fonts (TestGlueIsASpace).
const glue = "\x01"

// wrapCell breaks text into lines that fit w millimetres in the current
// font.
func (r *pdfRenderer) wrapCell(text string, w float64) []string {
	if text == "" {
		return nil
	}
	// SplitText takes the cell's width: it keeps fpdf's cell margins. It
	// breaks at spaces; a figure's " %" is glued to it, so that no line
	// starts with "%".
	lines := r.pdf.SplitText(strings.ReplaceAll(text, " %", glue+"%"), w+2*r.pdf.GetCellMargin())
	for i, l := range lines {
		lines[i] = strings.ReplaceAll(l, glue, " ")
	}
	if len(lines) > maxCellLines {
		last := fit(r.pdf, strings.Join(lines[maxCellLines-1:], " "), w)
		lines = append(lines[:maxCellLines-1], last)
	}
	return lines
}

// headerWords are a column header's words in cp1252, its unit one word
// so that a wrapped header keeps "(t CO2e)" on one line.
func (r *pdfRenderer) headerWords(c document.Column) []string {
	unit := strings.TrimPrefix(columnHeader(c), c.Title)
	words := strings.Fields(r.tr(c.Title))
	if unit = strings.TrimSpace(unit); unit != "" {
		words = append(words, r.tr(unit))
	}
	return words
}

// wrapHeader breaks a column header into lines that fit w.
func (r *pdfRenderer) wrapHeader(c document.Column, w float64) []string {
	var lines []string
	for _, word := range r.headerWords(c) {
		if n := len(lines); n > 0 && r.pdf.GetStringWidth(lines[n-1]+" "+word) <= w-2*cellPad {
			lines[n-1] += " " + word
			continue
		}
		lines = append(lines, word)
	}
	return lines
}

// fitTable picks the largest font size, from 8 pt down to 5, at which
// t's numbers fit across the page, and the columns' widths at that size.
func (r *pdfRenderer) fitTable(t document.Table) ([]float64, float64) {
	pw, _ := r.pdf.GetPageSize()
	for size := 8.0; ; size -= 0.5 {
		widths, need := r.tableWidths(t, size)
		if need <= pw-2*margin || size <= 5 {
			return widths, size
		}
	}
}

// tableWidths gives each column the width of its widest value at size
// points (numbers first: they must not be cut) and each text column at
// least its longest word (text wraps between words, never inside one);
// what is left goes to text columns in proportion to how much wider
// their longest cell is. need is the width numbers and longest words take.
func (r *pdfRenderer) tableWidths(t document.Table, size float64) (widths []float64, need float64) {
	p := r.pdf
	pw, _ := p.GetPageSize()
	avail := pw - 2*margin
	widths = make([]float64, len(t.Columns))
	full := make([]float64, len(t.Columns))
	p.SetFont("Helvetica", "B", size)
	for i, c := range t.Columns {
		// A header may wrap, but not inside a word.
		for _, word := range r.headerWords(c) {
			widths[i] = max(widths[i], p.GetStringWidth(word))
		}
	}
	p.SetFont("Helvetica", "", size)
	var spare float64
	for i, c := range t.Columns {
		for _, row := range t.Rows {
			if numeric(c) {
				widths[i] = max(widths[i], p.GetStringWidth(formatCell(c, row[i])))
				continue
			}
			v := r.tr(row[i])
			full[i] = max(full[i], p.GetStringWidth(v))
			for word := range strings.FieldsSeq(v) {
				widths[i] = max(widths[i], p.GetStringWidth(word))
			}
		}
		widths[i] += 2*cellPad + 1
		need += widths[i]
		if !numeric(c) {
			full[i] = max(full[i]+2*cellPad+1-widths[i], 0)
			spare += full[i]
		}
	}
	left := max(avail-need, 0)
	for i, c := range t.Columns {
		switch {
		case numeric(c):
		case spare > 0:
			widths[i] += left * full[i] / spare
		default:
			widths[i] += left / float64(len(t.Columns))
		}
	}
	if spare == 0 {
		// Only numbers (or text that already fits): the spare width is
		// shared by every column, so the table spans the page.
		for i, c := range t.Columns {
			if numeric(c) {
				widths[i] += left / float64(len(t.Columns))
			}
		}
	}
	return widths, need
}

// chart draws c as vector paths and text, centred on the page's width.
func (r *pdfRenderer) chart(c document.Chart) error {
	p := r.pdf
	w, h := chartWidth, chartHeight(c)
	wmm, hmm := w.Points()*mmPerPt, h.Points()*mmPerPt
	if r.spaceLeft() < hmm+4 {
		p.AddPage()
	}
	pw, _ := p.GetPageSize()
	size, _ := p.GetFontSize()
	cv := newPDFCanvas(p, r.tr, (pw-wmm)/2, p.GetY()+2, w, h)
	err := drawChart(draw.New(cv), c)
	if err := errors.Join(err, cv.done(p.GetFontFamily(), size), p.Error()); err != nil {
		return fmt.Errorf("chart %q: %w", c.Title, err)
	}
	p.SetY(p.GetY() + hmm + 6)
	return nil
}

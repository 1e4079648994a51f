package render

import (
	"archive/zip"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"codeberg.org/go-pdf/fpdf"
	"github.com/xuri/excelize/v2"

	"github.com/vcci-dev/vcci/services/reporting/internal/document"
)

func mustRender(t testing.TB, d document.Document, f Format) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := Render(&buf, d, f); err != nil {
		t.Fatalf("Render %s: %v", f, err)
	}
	return buf.Bytes()
}

func TestFormatCell(t *testing.T) {
	for _, c := range []struct {
		col  document.Column
		in   string
		want string
	}{
		{document.Column{Kind: document.Decimal, Decimals: 3}, "1234567.8915", "1,234,567.892"},
		{document.Column{Kind: document.Decimal, Decimals: 3}, "999.9996", "1,000.000"},
		{document.Column{Kind: document.Decimal, Decimals: 0}, "-1234.5", "-1,235"},
		{document.Column{Kind: document.Decimal, Decimals: 2}, "12", "12.00"},
		{document.Column{Kind: document.Decimal, Decimals: 2}, "1/8", "0.13"},
		{document.Column{Kind: document.Percent, Decimals: 2}, "12.5", "12.50 %"},
		{document.Column{Kind: document.Integer, Decimals: 2}, "1000000", "1,000,000"},
		{document.Column{Kind: document.Decimal, Decimals: 3}, "", ""},
		{document.Column{Kind: document.Text}, "1234.5", "1234.5"},
	} {
		if got := formatCell(c.col, c.in); got != c.want {
			t.Errorf("formatCell(%+v, %q) = %q, want %q", c.col, c.in, got, c.want)
		}
	}
}

func TestColumnHeader(t *testing.T) {
	for _, c := range []struct {
		col  document.Column
		want string
	}{
		{document.Column{Title: "Emissions", Unit: "t CO2e", Kind: document.Decimal}, "Emissions (t CO2e)"},
		{document.Column{Title: "Share", Kind: document.Percent}, "Share (%)"},
		{document.Column{Title: "Share", Unit: "% of spend", Kind: document.Percent}, "Share (% of spend)"},
		{document.Column{Title: "Supplier", Kind: document.Text}, "Supplier"},
	} {
		if got := columnHeader(c.col); got != c.want {
			t.Errorf("columnHeader(%+v) = %q, want %q", c.col, got, c.want)
		}
	}
}

func TestContentTypeAndExtension(t *testing.T) {
	for _, c := range []struct {
		f         Format
		mime, ext string
	}{
		{PDF, "application/pdf", ".pdf"},
		{XLSX, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", ".xlsx"},
		{CSV, "application/zip", ".zip"},
		{JSON, "application/json", ".json"},
		{"DOCX", "", ""},
	} {
		if got := ContentType(c.f); got != c.mime {
			t.Errorf("ContentType(%s) = %q, want %q", c.f, got, c.mime)
		}
		if got := Extension(c.f); got != c.ext {
			t.Errorf("Extension(%s) = %q, want %q", c.f, got, c.ext)
		}
	}
}

func TestRenderRejectsBadInput(t *testing.T) {
	bad := Sample(5)
	bad.Sections[1].Tables[0].Rows[2][1] = "1,234"
	want := bad.Validate()
	if want == nil {
		t.Fatal("Validate accepted a cell with a comma")
	}
	for _, f := range []Format{PDF, XLSX, CSV, JSON} {
		var buf bytes.Buffer
		if err := Render(&buf, bad, f); err == nil || err.Error() != want.Error() {
			t.Errorf("Render %s: %v, want %v", f, err, want)
		}
		if buf.Len() != 0 {
			t.Errorf("Render %s wrote %d bytes of an invalid document", f, buf.Len())
		}
	}
	err := Render(io.Discard, Sample(5), "DOCX")
	if err == nil || !strings.Contains(err.Error(), `"DOCX"`) {
		t.Errorf("unknown format: %v, want an error naming DOCX", err)
	}
}

func TestJSONIsTheDocument(t *testing.T) {
	d := Sample(40)
	var got document.Document
	if err := json.Unmarshal(mustRender(t, d, JSON), &got); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, d) {
		t.Error("JSON round trip differs from the document")
	}
}

func TestCSVHoldsTheExactCells(t *testing.T) {
	d := Sample(40)
	out := mustRender(t, d, CSV)
	zr, err := zip.NewReader(bytes.NewReader(out), int64(len(out)))
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{}
	names := make([]string, 0, len(zr.File))
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		files[f.Name] = b
		names = append(names, f.Name)
	}
	wantNames := []string{"about.txt", "categories.csv", "months.csv", "category_months.csv", "suppliers.csv", "method_mix.csv", "data_quality.csv"}
	if !reflect.DeepEqual(names, wantNames) {
		t.Fatalf("zip holds %v, want %v", names, wantNames)
	}
	for _, tb := range d.Tables() {
		recs, err := csv.NewReader(bytes.NewReader(files[tb.Name+".csv"])).ReadAll()
		if err != nil {
			t.Fatalf("%s: %v", tb.Name, err)
		}
		if len(recs) != len(tb.Rows)+1 {
			t.Fatalf("%s: %d records, want %d rows and a header", tb.Name, len(recs), len(tb.Rows))
		}
		for i, c := range tb.Columns {
			if want := columnHeader(c); recs[0][i] != want {
				t.Errorf("%s header %d = %q, want %q", tb.Name, i, recs[0][i], want)
			}
		}
		if !reflect.DeepEqual(recs[1:], tb.Rows) {
			t.Errorf("%s: rows differ from the document's cells", tb.Name)
		}
	}
	if got := string(files["suppliers.csv"][:bytes.IndexByte(files["suppliers.csv"], '\n')]); got !=
		"Supplier,Country,Category,Spend (EUR),Emissions (t CO2e),Share of suppliers (%),Method,Data quality (1-5)" {
		t.Errorf("suppliers.csv header = %q", got)
	}
	about := string(files["about.txt"])
	for _, want := range []string{d.Title, d.Subtitle, "Generated 2026-02-14 09:30 UTC", d.Sections[0].Paragraphs[0], d.Sections[6].Paragraphs[1]} {
		if !strings.Contains(about, want) {
			t.Errorf("about.txt lacks %q", want)
		}
	}
}

func TestXLSXStoresNumbers(t *testing.T) {
	d := Sample(40)
	f, err := excelize.OpenReader(bytes.NewReader(mustRender(t, d, XLSX)))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	wantSheets := []string{"About", "categories", "months", "category_months", "suppliers", "method_mix", "data_quality"}
	if got := f.GetSheetList(); !reflect.DeepEqual(got, wantSheets) {
		t.Fatalf("sheets %v, want %v", got, wantSheets)
	}
	for i, want := range []string{d.Title, d.Subtitle, "Generated 2026-02-14 09:30 UTC"} {
		if got, _ := f.GetCellValue("About", fmt.Sprintf("A%d", i+1)); got != want {
			t.Errorf("About!A%d = %q, want %q", i+1, got, want)
		}
	}
	for _, tb := range d.Tables() {
		panes, err := f.GetPanes(tb.Name)
		if err != nil || !panes.Freeze || panes.YSplit != 1 {
			t.Errorf("%s: panes %+v, %v; want the header row frozen", tb.Name, panes, err)
		}
		for j, c := range tb.Columns {
			cell, _ := excelize.CoordinatesToCellName(j+1, 1)
			if got, _ := f.GetCellValue(tb.Name, cell); got != columnHeader(c) {
				t.Errorf("%s!%s = %q, want %q", tb.Name, cell, got, columnHeader(c))
			}
		}
		for i, row := range tb.Rows {
			for j, c := range tb.Columns {
				cell, _ := excelize.CoordinatesToCellName(j+1, i+2)
				raw, err := f.GetCellValue(tb.Name, cell, excelize.Options{RawCellValue: true})
				if err != nil {
					t.Fatal(err)
				}
				if !numeric(c) {
					if raw != row[j] {
						t.Errorf("%s!%s = %q, want %q", tb.Name, cell, raw, row[j])
					}
					continue
				}
				// A cell with no type attribute is a number in OOXML.
				typ, _ := f.GetCellType(tb.Name, cell)
				if typ != excelize.CellTypeNumber && typ != excelize.CellTypeUnset {
					t.Errorf("%s!%s has type %v, want a number", tb.Name, cell, typ)
				}
				got, err := strconv.ParseFloat(raw, 64)
				want, _ := strconv.ParseFloat(row[j], 64)
				if err != nil || got != want {
					t.Errorf("%s!%s = %q, want %v", tb.Name, cell, raw, want)
				}
			}
		}
	}
	// The number format shows what the PDF shows, without " %".
	for cell, want := range map[string]string{"B2": formatCell(d.Sections[1].Tables[0].Columns[1], d.Sections[1].Tables[0].Rows[0][1]),
		"C2": strings.TrimSuffix(formatCell(d.Sections[1].Tables[0].Columns[2], d.Sections[1].Tables[0].Rows[0][2]), " %")} {
		if got, _ := f.GetCellValue("categories", cell); got != want {
			t.Errorf("categories!%s shows %q, want %q", cell, got, want)
		}
	}
}

// pdfPages renders d uncompressed and returns each page's content stream.
// fpdf writes the pages' streams first, in page order.
func pdfPages(t *testing.T, d document.Document) []string {
	t.Helper()
	var buf bytes.Buffer
	if err := d.Validate(); err != nil {
		t.Fatal(err)
	}
	if err := writePDF(&buf, d, false); err != nil {
		t.Fatal(err)
	}
	raw := buf.String()
	m := regexp.MustCompile(`/Type /Pages\n/Kids \[[^\]]*\]\n/Count (\d+)`).FindStringSubmatch(raw)
	if m == nil {
		t.Fatal("no page tree in the PDF")
	}
	n, _ := strconv.Atoi(m[1])
	streams := regexp.MustCompile(`(?s)stream\n(.*?)\nendstream`).FindAllStringSubmatch(raw, n)
	pages := make([]string, len(streams))
	for i, s := range streams {
		pages[i] = s[1]
	}
	return pages
}

func TestPDFLayout(t *testing.T) {
	d := Sample(300)
	pages := pdfPages(t, d)
	n := len(pages)
	// 300 supplier rows at about 48 a page, plus title, contents and a
	// page or more per other section.
	if n < 14 {
		t.Fatalf("%d pages, want at least 14", n)
	}
	for i, p := range pages {
		if want := fmt.Sprintf("(Page %d of %d)Tj", i+1, n); !strings.Contains(p, want) {
			t.Errorf("page %d lacks footer %q", i+1, want)
		}
	}
	if !strings.Contains(pages[0], "(Scope 3 greenhouse gas inventory 2025)Tj") || !strings.Contains(pages[0], "(Generated 2026-02-14 09:30 UTC)Tj") {
		t.Error("title page lacks the title or the time")
	}

	// The contents give each section the page its heading is on.
	for i, s := range d.Sections {
		heading := fmt.Sprintf("(%d  %s)Tj", i+1, s.Title)
		at := 0
		for k, p := range pages[2:] { // after the title and contents
			if strings.Contains(p, heading) {
				at = k + 3
				break
			}
		}
		if at == 0 {
			t.Fatalf("no page has heading %q", heading)
		}
		_, pad := tocAlias(i)
		if entry := "(" + pad(at) + ")Tj"; !strings.Contains(pages[1], entry) {
			t.Errorf("contents lack %q for section %q on page %d", entry, s.Title, at)
		}
	}
	if regexp.MustCompile(`#\d+#`).MatchString(pages[1]) {
		t.Error("a contents alias was left unreplaced")
	}
	// Summary on page 3, categories on 4: fixed by the layout.
	if _, pad := tocAlias(0); !strings.Contains(pages[1], "("+pad(3)+")Tj") {
		t.Error("contents do not put Summary on page 3")
	}

	// Every supplier's emissions appear formatted; every page with a
	// supplier row repeats the header.
	sup := d.Sections[3].Tables[0]
	supPages := map[int]bool{}
	for _, row := range sup.Rows {
		cell := "(" + formatCell(sup.Columns[4], row[4]) + ")Tj"
		found := false
		for k, p := range pages {
			if strings.Contains(p, cell) {
				found = true
				supPages[k] = true
			}
		}
		if !found {
			t.Errorf("no page shows %s for %s", cell, row[0])
		}
	}
	if len(supPages) < 6 {
		t.Errorf("300 suppliers fill %d pages, want at least 6", len(supPages))
	}
	for k := range supPages {
		// fpdf escapes the unit's parentheses.
		if !strings.Contains(pages[k], "(Supplier)Tj") || !strings.Contains(pages[k], `(\(t CO2e\))Tj`) {
			t.Errorf("page %d has supplier rows but no header", k+1)
		}
	}
	cats := d.Sections[1].Tables[0]
	total := cats.Rows[len(cats.Rows)-1]
	for _, want := range []string{formatCell(cats.Columns[1], total[1]), "100.00 %"} {
		if !strings.Contains(strings.Join(pages, ""), "("+want+")Tj") {
			t.Errorf("the PDF lacks the categories' total %q", want)
		}
	}
}

func TestSampleAddsUp(t *testing.T) {
	d := Sample(200)
	sum := func(rows [][]string, col int) *big.Rat {
		s := new(big.Rat)
		for _, r := range rows {
			v, _ := new(big.Rat).SetString(r[col])
			s.Add(s, v)
		}
		return s
	}
	cats := d.Sections[1].Tables[0].Rows
	total, _ := new(big.Rat).SetString(cats[len(cats)-1][1])
	if got := sum(cats[:len(cats)-1], 1); got.Cmp(total) != 0 {
		t.Errorf("categories add to %s, total row says %s", got.FloatString(3), total.FloatString(3))
	}
	if got := sum(d.Sections[2].Tables[0].Rows, 4); got.Cmp(total) != 0 {
		t.Errorf("months add to %s, want %s", got.FloatString(3), total.FloatString(3))
	}
	for i, row := range d.Sections[2].Tables[1].Rows {
		year, _ := new(big.Rat).SetString(row[13])
		months := sum([][]string{row[1:13]}, 0)
		for m := 1; m < 12; m++ {
			months.Add(months, sum([][]string{row[1:13]}, m))
		}
		if months.Cmp(year) != 0 || row[13] != cats[i][1] {
			t.Errorf("category %s: months add to %s, year %s, categories table %s", row[0], months.FloatString(3), row[13], cats[i][1])
		}
	}
	sups := sum(d.Sections[3].Tables[0].Rows, 4)
	if got := sum(d.Sections[4].Tables[0].Rows, 2); got.Cmp(sups) != 0 {
		t.Errorf("methods add to %s, suppliers to %s", got.FloatString(3), sups.FloatString(3))
	}
	if got := sum(d.Sections[5].Tables[0].Rows, 2); got.Cmp(sups) != 0 {
		t.Errorf("quality scores add to %s, suppliers to %s", got.FloatString(3), sups.FloatString(3))
	}
	if !reflect.DeepEqual(Sample(200), d) {
		t.Error("Sample(200) differs between calls")
	}
}

func BenchmarkPDF(b *testing.B) {
	d := Sample(1000)
	for b.Loop() {
		if err := Render(io.Discard, d, PDF); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkXLSX(b *testing.B) {
	d := Sample(10000)
	for b.Loop() {
		if err := Render(io.Discard, d, XLSX); err != nil {
			b.Fatal(err)
		}
	}
}

// TestRenderEdgeDocuments renders documents with nothing in them, empty
// tables and charts, and negative or zero values.
func TestRenderEdgeDocuments(t *testing.T) {
	empty := document.Document{Kind: "empty", Title: "Empty"}
	noData := document.Document{Kind: "nodata", Title: "No data", Sections: []document.Section{{Title: "S",
		Tables: []document.Table{{Name: "t", Title: "T", Columns: []document.Column{{Title: "a", Unit: "kg", Kind: document.Decimal}}}},
		Charts: []document.Chart{{Kind: document.Bar, Title: "b"}, {Kind: document.Pareto, Title: "p"}, {Kind: document.Line, Title: "l"}, {Kind: document.StackedBar, Title: "s"}}}}}
	negative := document.Document{Kind: "neg", Title: "Negative", Sections: []document.Section{{Title: "S",
		Charts: []document.Chart{
			{Kind: document.Bar, Title: "b", Labels: []string{"x", "y"}, Series: []document.Series{{Name: "a", Values: []float64{-5, 3}}, {Name: "b", Values: []float64{0, 0}}}},
			{Kind: document.Pareto, Title: "p", Labels: []string{"x", "y"}, Series: []document.Series{{Name: "a", Values: []float64{0, 0}}}}}}}}
	for _, d := range []document.Document{empty, noData, negative} {
		for _, f := range []Format{PDF, XLSX, CSV, JSON} {
			mustRender(t, d, f)
		}
	}
	if n := len(pdfPages(t, empty)); n != 1 {
		t.Errorf("an empty document has %d pages, want the title page only", n)
	}
	// Title, contents, the section with its table and four charts.
	if n := len(pdfPages(t, noData)); n != 5 {
		t.Errorf("the no-data document has %d pages, want 5", n)
	}
	out := mustRender(t, noData, CSV)
	zr, err := zip.NewReader(bytes.NewReader(out), int64(len(out)))
	if err != nil {
		t.Fatal(err)
	}
	rc, err := zr.Open("t.csv")
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	if b, _ := io.ReadAll(rc); string(b) != "a (kg)\n" {
		t.Errorf("t.csv = %q, want the header alone", b)
	}
}

func TestSheetNamesAreUniqueAndShort(t *testing.T) {
	long := strings.Repeat("x", 40)
	names := []string{"about", "History", long, long + "y", "a", "A"}
	tables := make([]document.Table, 0, len(names))
	for _, n := range names {
		tables = append(tables, document.Table{Name: n})
	}
	want := []string{"about_2", "History_2", strings.Repeat("x", 31), strings.Repeat("x", 29) + "_2", "a", "A_2"}
	if got := sheetNames(tables); !reflect.DeepEqual(got, want) {
		t.Errorf("sheetNames = %q, want %q", got, want)
	}
	d := document.Document{Kind: "k", Title: "T", Sections: []document.Section{{Title: "S", Tables: tables}}}
	f, err := excelize.OpenReader(bytes.NewReader(mustRender(t, d, XLSX)))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if got := f.GetSheetList(); !reflect.DeepEqual(got, append([]string{"About"}, want...)) {
		t.Errorf("sheets %q", got)
	}
}

func TestWideTableFitsThePage(t *testing.T) {
	d := Sample(50)
	pdf := fpdf.New("P", "mm", "A4", "")
	pdf.SetCellMargin(cellPad)
	r := &pdfRenderer{pdf: pdf, tr: pdf.UnicodeTranslatorFromDescriptor("")}
	for _, c := range []struct {
		table    document.Table
		wantSize float64
	}{
		{d.Sections[2].Tables[0], 8},   // five columns
		{d.Sections[2].Tables[1], 6.5}, // fourteen
	} {
		widths, size := r.fitTable(c.table)
		if size != c.wantSize {
			t.Errorf("%s: font %v pt, want %v", c.table.Name, size, c.wantSize)
		}
		total := 0.0
		for _, w := range widths {
			total += w
		}
		if math.Abs(total-180) > 0.01 {
			t.Errorf("%s: columns span %.2f mm, want the 180 mm between margins", c.table.Name, total)
		}
	}
}

// TestPDFTextAsAReaderSeesIt reads the compressed PDF, as served, with
// poppler's pdftotext: every page's footer and the contents' page numbers.
func TestPDFTextAsAReaderSeesIt(t *testing.T) {
	if _, err := exec.LookPath("pdftotext"); err != nil {
		t.Skip("pdftotext not installed (apt-get install poppler-utils); TestPDFLayout covers the uncompressed PDF")
	}
	d := Sample(300)
	path := filepath.Join(t.TempDir(), "r.pdf")
	if err := os.WriteFile(path, mustRender(t, d, PDF), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("pdftotext", "-layout", path, "-").Output()
	if err != nil {
		t.Fatal(err)
	}
	pages := strings.Split(strings.TrimSuffix(string(out), "\f"), "\f")
	for i, p := range pages {
		if want := fmt.Sprintf("Page %d of %d", i+1, len(pages)); !strings.Contains(p, want) {
			t.Errorf("page %d lacks %q", i+1, want)
		}
	}
	for i, s := range d.Sections {
		m := regexp.MustCompile(fmt.Sprintf(`(?m)^\s*%d\s+%s[ .]*\s(\d+)\s*$`, i+1, regexp.QuoteMeta(s.Title))).FindStringSubmatch(pages[1])
		if m == nil {
			t.Errorf("contents lack section %q", s.Title)
			continue
		}
		at, _ := strconv.Atoi(m[1])
		if at < 3 || at > len(pages) || !strings.Contains(pages[at-1], fmt.Sprintf("%d  %s", i+1, s.Title)) && !strings.Contains(pages[at-1], fmt.Sprintf("%d %s", i+1, s.Title)) {
			t.Errorf("contents put %q on page %d, which lacks its heading", s.Title, at)
		}
	}
	cats := d.Sections[1].Tables[0]
	if total := formatCell(cats.Columns[1], cats.Rows[15][1]); !strings.Contains(string(out), total) {
		t.Errorf("the categories' total %s is not in the text", total)
	}
}

// A text cell a spreadsheet would run as a formula gets an apostrophe;
// a negative number stays a number.
func TestCSVDefusesFormulas(t *testing.T) {
	d := document.Document{Kind: "k", Sections: []document.Section{{Title: "s", Tables: []document.Table{{Name: "t",
		Columns: []document.Column{{Title: "Supplier", Kind: document.Text}, {Title: "Emissions", Unit: "t CO2e", Kind: document.Decimal, Decimals: 3}},
		Rows:    [][]string{{"=HYPERLINK(\"x\")", "-1.500"}, {"Steel Co", "2"}}}}}}}
	out := mustRender(t, d, CSV)
	zr, err := zip.NewReader(bytes.NewReader(out), int64(len(out)))
	if err != nil {
		t.Fatal(err)
	}
	f, err := zr.Open("t.csv")
	if err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if want := [][]string{{"Supplier", "Emissions (t CO2e)"}, {"'=HYPERLINK(\"x\")", "-1.500"}, {"Steel Co", "2"}}; !reflect.DeepEqual(recs, want) {
		t.Fatalf("csv = %q, want %q", recs, want)
	}
}

// A text cell wraps onto as many lines as it needs, up to maxCellLines,
// the last cut with "..."; numbers never wrap.
func TestPDFTextCellsWrap(t *testing.T) {
	r := &pdfRenderer{pdf: fpdf.New("P", "mm", "A4", "")}
	r.pdf.SetFont("Helvetica", "", 8)
	r.tr = r.pdf.UnicodeTranslatorFromDescriptor("")
	if got := r.wrapCell("excluded: Acme has no franchises", 20); len(got) < 2 || strings.Join(got, " ") != "excluded: Acme has no franchises" {
		t.Errorf("wrapped = %q, want every word over 2 or more lines", got)
	}
	long := strings.Repeat("spend-based 12.50 % ", 40)
	got := r.wrapCell(long, 20)
	if len(got) != maxCellLines || !strings.HasSuffix(got[maxCellLines-1], "...") {
		t.Errorf("a long cell wraps to %d lines ending %q, want %d ending ...", len(got), got[len(got)-1], maxCellLines)
	}
	if got := r.wrapCell("", 20); got != nil {
		t.Errorf("empty cell = %q", got)
	}
	// A percent sign stays with its figure, at any width its longest word
	// fits.
	const mix = "average-data 68.79 %, spend-based 2.45 %, supplier-company 0.08 %"
	for w := r.pdf.GetStringWidth("supplier-company"); w <= 40; w += 0.25 {
		got := r.wrapCell(mix, w)
		if strings.Join(got, " ") != mix || slices.ContainsFunc(got, func(l string) bool { return strings.HasPrefix(l, "%") }) {
			t.Fatalf("%q at %.1f mm wraps to %q, a line starting with %%", mix, w, got)
		}
	}
}

// The glue that keeps a figure and its percent sign together is as wide as
// the space it stands for.
func TestGlueIsASpace(t *testing.T) {
	p := fpdf.New("P", "mm", "A4", "")
	for _, style := range []string{"", "B"} {
		p.SetFont("Helvetica", style, 8)
		if g, s := p.GetStringWidth("1"+glue+"%"), p.GetStringWidth("1 %"); g != s {
			t.Errorf("Helvetica %q: glued %.3f mm, spaced %.3f mm", style, g, s)
		}
	}
}

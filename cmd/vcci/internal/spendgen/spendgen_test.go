package spendgen

import (
	"bytes"
	"crypto/sha256"
	"encoding/csv"
	"io"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Codes from several sectors, so names and descriptions vary.
var codes = []string{"331110", "541511", "484121", "327310", "481111", "221100", "561210"}

func gen(t *testing.T, opts Options) ([]byte, Stats) {
	t.Helper()
	if opts.Codes == nil {
		opts.Codes = codes
	}
	var b bytes.Buffer
	st, err := Write(&b, opts)
	if err != nil {
		t.Fatal(err)
	}
	if st.Bytes != int64(b.Len()) {
		t.Fatalf("Stats.Bytes %d, wrote %d", st.Bytes, b.Len())
	}
	return b.Bytes(), st
}

// parse reads the whole file with encoding/csv, which checks our quoting,
// and returns the data rows.
func parse(t *testing.T, raw []byte) [][]string {
	t.Helper()
	r := csv.NewReader(bytes.NewReader(raw))
	r.FieldsPerRecord = 8
	recs, err := r.ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(recs[0], ","); got+"\n" != Header ||
		got != "transaction_id,date,supplier_id,supplier_name,naics_code,amount,currency,description" {
		t.Fatalf("header %q", got)
	}
	return recs[1:]
}

func TestDeterministic(t *testing.T) {
	a, _ := gen(t, Options{Rows: 20_000, Seed: 3})
	b, _ := gen(t, Options{Rows: 20_000, Seed: 3})
	c, _ := gen(t, Options{Rows: 20_000, Seed: 4})
	if sha256.Sum256(a) != sha256.Sum256(b) {
		t.Fatal("same options, different files")
	}
	if sha256.Sum256(a) == sha256.Sum256(c) {
		t.Fatal("different seeds, same file")
	}
	// Rows does not feed the setup, so a shorter file is a prefix of a
	// longer one: a sample of a big benchmark file is cheap to regenerate.
	d, _ := gen(t, Options{Rows: 5_000, Seed: 3})
	if !bytes.HasPrefix(a, d) {
		t.Fatal("5k-row file is not a prefix of the 20k-row file")
	}
}

func TestRows(t *testing.T) {
	start := time.Date(2023, 7, 1, 0, 0, 0, 0, time.UTC)
	const days = 90
	raw, st := gen(t, Options{Rows: 20_000, Seed: 9, Start: start, Days: days})
	recs := parse(t, raw)
	if len(recs) != 20_000 || st.Rows != 20_000 {
		t.Fatalf("%d rows, stats %+v", len(recs), st)
	}
	end := start.AddDate(0, 0, days)
	ids := make(map[string]bool, len(recs))
	suppliers := map[string]bool{}
	negative, quoted := 0, 0
	for i, r := range recs {
		if want := "T" + pad(i+1, 9); r[0] != want || ids[r[0]] {
			t.Fatalf("row %d: id %q, want unique %q", i, r[0], want)
		}
		ids[r[0]] = true
		if d, err := time.Parse(time.DateOnly, r[1]); err != nil || d.Before(start) || !d.Before(end) {
			t.Fatalf("row %d: date %q not in [%s, %s)", i, r[1], start.Format(time.DateOnly), end.Format(time.DateOnly))
		}
		if len(r[2]) != 6 || r[2][0] != 'S' {
			t.Fatalf("row %d: supplier id %q", i, r[2])
		}
		suppliers[r[2]] = true
		if r[3] == "" {
			t.Fatalf("row %d: empty supplier name", i)
		}
		if strings.ContainsAny(r[3], `,"`) {
			quoted++
		}
		if !slices.Contains(codes, r[4]) {
			t.Fatalf("row %d: code %q not in %v", i, r[4], codes)
		}
		v := amount(t, r[5])
		if v < 0 {
			negative++
			v = -v
		}
		if v < 10 || v > 500_000 {
			t.Fatalf("row %d: amount %q outside 10..500,000", i, r[5])
		}
		if r[6] != "USD" || !strings.HasPrefix(r[7], "PO-") {
			t.Fatalf("row %d: %q", i, r)
		}
	}
	if share := float64(negative) / float64(len(recs)); share < 0.005 || share > 0.015 {
		t.Fatalf("credit notes %.2f%% of rows, want ~1%%", share*100)
	}
	if quoted == 0 {
		t.Fatal("no supplier name needed quoting")
	}
	if st.Suppliers != len(suppliers) {
		t.Fatalf("Stats.Suppliers %d, file has %d", st.Suppliers, len(suppliers))
	}
}

// amount parses a decimal with exactly two places.
func amount(t *testing.T, s string) float64 {
	t.Helper()
	dot := strings.IndexByte(s, '.')
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || dot < 1 || len(s)-dot != 3 {
		t.Fatalf("amount %q: want exactly 2 decimals", s)
	}
	return v
}

func pad(n, width int) string {
	s := strconv.Itoa(n)
	return strings.Repeat("0", width-len(s)) + s
}

func TestSkew(t *testing.T) {
	raw, st := gen(t, Options{Rows: 200_000, Seed: 1})
	recs := parse(t, raw)
	spend := map[string]float64{}
	total := 0.0
	for _, r := range recs {
		v := amount(t, r[5])
		spend[r[2]] += v
		total += v
	}
	if len(spend) < 9000 || st.Suppliers != len(spend) {
		t.Fatalf("%d distinct suppliers of 10,000 (stats say %d), want >= 9,000", len(spend), st.Suppliers)
	}
	vs := make([]float64, 0, len(spend))
	for _, v := range spend {
		vs = append(vs, v)
	}
	slices.Sort(vs)
	slices.Reverse(vs)
	top := 0.0
	for _, v := range vs[:10_000/5] { // top 20% of the supplier master
		top += v
	}
	if share := top / total; share <= 0.6 {
		t.Fatalf("top 20%% of suppliers hold %.0f%% of spend, want > 60%%", 100*share)
	}
	t.Logf("%d suppliers used; top 20%% hold %.1f%% of spend", len(spend), 100*top/total)
}

// The ≥9,000 bound should not hang on one lucky seed.
func TestSuppliersAcrossSeeds(t *testing.T) {
	for seed := uint64(2); seed <= 4; seed++ {
		st, err := Write(io.Discard, Options{Rows: 200_000, Seed: seed, Codes: codes})
		if err != nil {
			t.Fatal(err)
		}
		if st.Suppliers < 9000 {
			t.Fatalf("seed %d: %d suppliers used", seed, st.Suppliers)
		}
	}
}

func TestSmall(t *testing.T) {
	// Fewer codes than a supplier may want, and a tiny master.
	raw, st := gen(t, Options{Rows: 1000, Suppliers: 3, Codes: []string{"541511"}})
	recs := parse(t, raw)
	if len(recs) != 1000 || st.Suppliers > 3 {
		t.Fatalf("%d rows, stats %+v", len(recs), st)
	}
	raw, st = gen(t, Options{Rows: 0})
	if string(raw) != Header || st != (Stats{Bytes: int64(len(Header))}) {
		t.Fatalf("empty file %q, stats %+v", raw, st)
	}
}

func TestErrors(t *testing.T) {
	for _, o := range []Options{
		{Rows: 10},
		{Rows: -1, Codes: codes},
		{Rows: 1_000_000_000, Codes: codes},
		{Rows: 10, Suppliers: 100_001, Codes: codes},
		{Rows: 10, Days: 1_000_001, Codes: codes},
		{Rows: 10, Start: time.Date(9999, 12, 1, 0, 0, 0, 0, time.UTC), Codes: codes},
		{Rows: 10, Codes: codes, Mix: true},
	} {
		if _, err := Write(io.Discard, o); err == nil {
			t.Errorf("%+v: no error", o)
		}
	}
}

func TestCSVField(t *testing.T) {
	for in, want := range map[string]string{
		"Acme Steel Ltd":          "Acme Steel Ltd",
		"Acme Steel, Inc":         `"Acme Steel, Inc"`,
		`The "Summit" Freight Co`: `"The ""Summit"" Freight Co"`,
		"a\nb":                    "\"a\nb\"",
		" lead":                   `" lead"`,
	} {
		if got := csvField(in); got != want {
			t.Errorf("csvField(%q) = %q, want %q", in, got, want)
		}
	}
}

// BenchmarkWrite writes b.N rows in one file, so ns/op is ns per row.
func BenchmarkWrite(b *testing.B) {
	// One call, not b.Loop: a row is the op, and one long file is the
	// real use (the supplier setup is amortised as it would be).
	st, err := Write(io.Discard, Options{Rows: b.N, Codes: codes})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rows/s")
	b.ReportMetric(float64(st.Bytes)/float64(b.N), "B/row")
}

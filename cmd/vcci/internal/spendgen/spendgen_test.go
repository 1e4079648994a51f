package spendgen

import (
	"bytes"
	"crypto/sha256"
	"encoding/csv"
	"io"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

var codes = []string{"331110", "541511", "484121", "327310", "481111"}

func gen(t *testing.T, rows int, seed uint64) ([]byte, Stats) {
	t.Helper()
	var b bytes.Buffer
	st, err := Write(&b, Options{Rows: rows, Seed: seed, Codes: codes})
	if err != nil {
		t.Fatal(err)
	}
	return b.Bytes(), st
}

func TestDeterministic(t *testing.T) {
	a, _ := gen(t, 5000, 3)
	b, _ := gen(t, 5000, 3)
	c, _ := gen(t, 5000, 4)
	if sha256.Sum256(a) != sha256.Sum256(b) {
		t.Fatal("same seed, different files")
	}
	if sha256.Sum256(a) == sha256.Sum256(c) {
		t.Fatal("different seeds, same file")
	}
}

func TestShape(t *testing.T) {
	raw, st := gen(t, 200_000, 1)
	if !strings.HasPrefix(string(raw), Header) || st.Rows != 200_000 || st.Bytes != int64(len(raw)) {
		t.Fatalf("stats %+v, %d bytes", st, len(raw))
	}
	recs, err := csv.NewReader(bytes.NewReader(raw)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	recs = recs[1:]
	if len(recs) != 200_000 {
		t.Fatalf("%d rows", len(recs))
	}
	ids := map[string]bool{}
	spend := map[string]float64{}
	quoted, negative := 0, 0
	total := 0.0
	start, end := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, r := range recs {
		if len(r) != 8 || ids[r[0]] || r[6] != "USD" {
			t.Fatalf("row %v", r)
		}
		ids[r[0]] = true
		d, err := time.Parse(time.DateOnly, r[1])
		if err != nil || d.Before(start) || !d.Before(end) {
			t.Fatalf("date %q", r[1])
		}
		if i := sort.SearchStrings([]string{"327310", "331110", "481111", "484121", "541511"}, r[4]); i == 5 {
			t.Fatalf("code %q", r[4])
		}
		dot := strings.IndexByte(r[5], '.')
		v, err := strconv.ParseFloat(r[5], 64)
		if err != nil || dot < 0 || len(r[5])-dot != 3 {
			t.Fatalf("amount %q", r[5])
		}
		if v < 0 {
			negative++
		}
		if strings.ContainsAny(r[3], ",\"") {
			quoted++
		}
		spend[r[2]] += v
		total += v
	}
	if share := float64(negative) / float64(len(recs)); share < 0.005 || share > 0.015 {
		t.Fatalf("credit notes %.3f%%", share*100)
	}
	if quoted == 0 {
		t.Fatal("no supplier name needed quoting")
	}
	if len(spend) < 9000 || st.Suppliers != len(spend) {
		t.Fatalf("%d distinct suppliers (stats say %d)", len(spend), st.Suppliers)
	}
	var vs []float64
	for _, v := range spend {
		vs = append(vs, v)
	}
	sort.Sort(sort.Reverse(sort.Float64Slice(vs)))
	top := 0.0
	for _, v := range vs[:len(vs)/5] {
		top += v
	}
	if top/total < 0.6 {
		t.Fatalf("top 20%% of suppliers hold %.0f%% of spend, want > 60%%", 100*top/total)
	}
}

func BenchmarkWrite(b *testing.B) {
	for b.Loop() {
		if _, err := Write(io.Discard, Options{Rows: 100_000, Codes: codes}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(100_000*b.N)/b.Elapsed().Seconds(), "rows/s")
}

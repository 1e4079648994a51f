package intake

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"testing"
)

// benchFile is 100k realistic rows (one NAICS code known per row).
func benchFile() []byte {
	var b bytes.Buffer
	b.WriteString(header)
	for i := range 100_000 {
		fmt.Fprintf(&b, "T%09d,2024-%02d-%02d,S%05d,\"Northwind Steel, Ltd\",331110,%d.%02d,USD,PO-%d steel coils\n",
			i, 1+i%12, 1+i%28, i%10_000, 10+i%5000, i%100, 10_000+i%90_000)
	}
	return b.Bytes()
}

// BenchmarkParseBaseline is encoding/csv alone over the same bytes: the
// ceiling the validator is compared with.
func BenchmarkParseBaseline(b *testing.B) {
	data := benchFile()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		r := csv.NewReader(bytes.NewReader(data))
		r.ReuseRecord = true
		for {
			if _, err := r.Read(); err == io.EOF {
				break
			}
		}
	}
	b.ReportMetric(float64(100_000*b.N)/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkValidate is the whole validation: parse, check every field, dedupe
// ids, resolve codes.
func BenchmarkValidate(b *testing.B) {
	data := benchFile()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		v, err := NewValidator(context.Background(), bytes.NewReader(data), knownCodes{"331110": true}, nil)
		if err != nil {
			b.Fatal(err)
		}
		for {
			if _, ok := v.Next(); !ok {
				break
			}
		}
		if v.Accepted != 100_000 {
			b.Fatalf("accepted %d", v.Accepted)
		}
	}
	b.ReportMetric(float64(100_000*b.N)/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkRecordLimiter is the record limiter alone over the same bytes,
// to set against BenchmarkParseBaseline.
func BenchmarkRecordLimiter(b *testing.B) {
	data := benchFile()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := io.Copy(io.Discard, newRecordLimiter(bytes.NewReader(data), MaxRecordBytes)); err != nil {
			b.Fatal(err)
		}
	}
}

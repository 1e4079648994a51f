package refdata_test

import (
	"bytes"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/vcci-dev/vcci/pkg/refdata"
	"github.com/vcci-dev/vcci/pkg/refdata/internal/desnzxlsx"
)

// Running the generator again reproduces each shipped file byte for byte.
func TestShippedDataIsGenerated(t *testing.T) {
	for _, c := range []struct {
		source, shipped string
		convert         func([]byte) ([]byte, error)
	}{
		{"cpiai.csv", "cpi_u.csv", refdata.ConvertCPI},
		{desnzxlsx.Source, "desnz_2024.csv", desnzxlsx.Convert},
	} {
		src, err := os.ReadFile("data/source/" + c.source)
		if err != nil {
			t.Fatal(err)
		}
		got, err := c.convert(src)
		if err != nil {
			t.Fatalf("%s: %v", c.source, err)
		}
		shipped, err := os.ReadFile("data/" + c.shipped)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, shipped) {
			t.Errorf("data/%s is not what the generator makes of its source: run go run ./pkg/refdata/gen", c.shipped)
		}
	}
}

func TestConvertCPIRefusesBadSource(t *testing.T) {
	for name, src := range map[string]string{
		"header":       "Date,Value\n2022-01-01,1\n",
		"not a month":  "Date,Index,Inflation\n2022-01-15,281.148,\n",
		"out of order": "Date,Index,Inflation\n2022-02-01,283.716,\n2022-01-01,281.148,\n",
		"not a number": "Date,Index,Inflation\n2022-01-01,n/a,\n",
		"not positive": "Date,Index,Inflation\n2022-01-01,0,\n",
	} {
		if _, err := refdata.ConvertCPI([]byte(src)); err == nil {
			t.Errorf("%s: converted", name)
		}
	}
}

func month(s string) time.Time {
	m, err := time.Parse("2006-01", s)
	if err != nil {
		panic(err)
	}
	return m
}

func TestCPIU(t *testing.T) {
	p, err := refdata.CPIU()
	if err != nil {
		t.Fatal(err)
	}
	// The 2022 annual average the EPA v1.3 factors' dollars are in (the
	// data's README: the mean of the twelve 2022 months).
	if avg, err := p.YearAverage(2022); err != nil || avg != "292.655" {
		t.Fatalf("YearAverage(2022) = %q, %v; want 292.655", avg, err)
	}
	// Other years against the annual averages the BLS publishes for the
	// series (rounded as it rounds them).
	for year, want := range map[int]string{2019: "255.657", 2020: "258.811", 2021: "270.970", 2023: "304.702", 2024: "313.689"} {
		if avg, err := p.YearAverage(year); err != nil || avg != want {
			t.Errorf("YearAverage(%d) = %q, %v; want %s", year, avg, err, want)
		}
	}
	// 2025 lacks October: no average.
	if _, err := p.YearAverage(2025); !errors.Is(err, refdata.ErrNoIndex) {
		t.Fatalf("YearAverage(2025) = %v, want ErrNoIndex", err)
	}
	for _, c := range []struct{ in, month, index string }{
		{"2024-06", "2024-06", "314.175"}, // as published
		{"2025-10", "2025-09", "324.8"},   // not published that month: the month before
		{"2026-05", "2026-05", "335.123"}, // the last published
		{"2026-11", "2026-05", "335.123"}, // not published yet
		{"1913-01", "1913-01", "9.8"},     // the first
	} {
		o, err := p.At(month(c.in).Add(20 * 24 * time.Hour))
		if err != nil || o.Month.Format("2006-01") != c.month || o.Index != c.index {
			t.Errorf("At(%s) = %s %s, %v; want %s %s", c.in, o.Month.Format("2006-01"), o.Index, err, c.month, c.index)
		}
	}
	if _, err := p.At(month("1912-12")); !errors.Is(err, refdata.ErrNoIndex) {
		t.Fatalf("At(1912-12) = %v, want ErrNoIndex", err)
	}
	if last := p.Last(); last.Month.Format("2006-01") != "2026-05" {
		t.Fatalf("Last = %v", last)
	}
}

package spendgen

import (
	"bytes"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"math/big"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vcci-dev/vcci/pkg/refdata"
	"github.com/vcci-dev/vcci/pkg/units"
)

// The default file is what the bench guard and the figures in
// docs/benchmarks.md were measured on: the mixed mode must not change a
// byte of it. The hashes were taken before the mixed mode was added.
func TestDefaultOutputUnchanged(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts Options
		want string
	}{
		{"defaults", Options{Rows: 5_000, Seed: 7}, "9f87de82586f233554650cdb8c8c9b345f2463fb97b9263e3921d760d589d7ed"},
		{"dates and suppliers", Options{Rows: 5_000, Seed: 7, Start: time.Date(2023, 7, 1, 0, 0, 0, 0, time.UTC), Days: 90, Suppliers: 300},
			"1eb3c3fa9373e6e0df0ad50be2a8d96bbf91cb3b41282e313ea63df55e4cdc9b"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			raw, _ := gen(t, tc.opts)
			if sum := sha256.Sum256(raw); hex.EncodeToString(sum[:]) != tc.want {
				t.Fatalf("sha256 %x, want %s: the default file changed", sum, tc.want)
			}
		})
	}
}

func desnz(t *testing.T) *refdata.ActivityFactors {
	t.Helper()
	f, err := refdata.DESNZ()
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestMixed(t *testing.T) {
	factors := desnz(t)
	const rows = 100_000
	opts := Options{Rows: rows, Seed: 5, Mix: true, Activities: factors.All()}
	raw, st := gen(t, opts)
	again, _ := gen(t, opts)
	if !bytes.Equal(raw, again) {
		t.Fatal("same options, different mixed files")
	}
	r := csv.NewReader(bytes.NewReader(raw))
	r.FieldsPerRecord = 11
	recs, err := r.ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(recs[0], ",") + "\n"; got != MixHeader {
		t.Fatalf("header %q", got)
	}
	recs = recs[1:]
	if len(recs) != rows || st.Rows != rows {
		t.Fatalf("%d rows, stats %+v", len(recs), st)
	}

	// Every sheet with a Scope 3 category, so every kind of activity.
	wantSheets := map[string]bool{}
	for _, f := range factors.All() {
		if f.Category != 0 {
			wantSheets[f.Sheet] = true
		}
	}
	sheets, currencies, years := map[string]bool{}, map[string]int{}, map[int]bool{}
	activities, withCost, otherUnit := 0, 0, 0
	first, last := time.Date(2022, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2025, 12, 31, 0, 0, 0, 0, time.UTC)
	for i, rec := range recs {
		d, err := time.Parse(time.DateOnly, rec[1])
		if err != nil || d.Before(first) || d.After(last) {
			t.Fatalf("row %d: date %q not in 2022-2025", i, rec[1])
		}
		years[d.Year()] = true
		if rec[5] != "" {
			if _, ok := new(big.Rat).SetString(rec[5]); !ok || decimals(rec[5]) > 4 {
				t.Fatalf("row %d: amount %q", i, rec[5])
			}
			if !slices.Contains(Currencies(), rec[6]) {
				t.Fatalf("row %d: currency %q", i, rec[6])
			}
			currencies[rec[6]]++
		} else if rec[6] != "" {
			t.Fatalf("row %d: a currency without an amount: %q", i, rec)
		}
		if rec[8] == "" { // spend
			if !slices.Contains(codes, rec[4]) || rec[5] == "" || rec[9] != "" || rec[10] != "" {
				t.Fatalf("row %d: spend line %q", i, rec)
			}
			continue
		}
		activities++
		if rec[4] != "" {
			t.Fatalf("row %d: an activity line with a NAICS code: %q", i, rec)
		}
		if rec[5] != "" {
			withCost++
		}
		f, ok := factors.Get(rec[8])
		if !ok || f.Activity != rec[8] || f.Category == 0 {
			t.Fatalf("row %d: activity %q is not a DESNZ factor with a Scope 3 category", i, rec[8])
		}
		sheets[f.Sheet] = true
		q, ok := new(big.Rat).SetString(rec[9])
		if !ok || q.Sign() <= 0 || decimals(rec[9]) > 6 {
			t.Fatalf("row %d: quantity %q is not a positive decimal of at most 6 places", i, rec[9])
		}
		if _, err := units.Convert(q, rec[10], f.Unit); err != nil {
			t.Fatalf("row %d: %v", i, err)
		}
		if rec[10] != f.Unit {
			otherUnit++
		}
	}

	if share := float64(activities) / rows; share < 0.39 || share > 0.41 || st.Activity != activities {
		t.Fatalf("activity lines %.2f%% (stats %d), want 40%% within 1%%", 100*share, st.Activity)
	}
	for s := range wantSheets {
		if !sheets[s] {
			t.Errorf("no activity from sheet %q", s)
		}
	}
	if len(years) != 4 {
		t.Errorf("dates in %d years, want 2022-2025", len(years))
	}
	spend := rows - activities
	for _, c := range currencyShares {
		got := float64(currencies[c.code]) / float64(spend+withCost)
		if want := float64(c.percent) / 100; got < want-0.01 || got > want+0.01 {
			t.Errorf("%s on %.2f%% of amounts, want %d%% within 1%%", c.code, 100*got, c.percent)
		}
	}
	if share := float64(withCost) / float64(activities); share < 0.09 || share > 0.11 {
		t.Errorf("%.2f%% of activity lines carry a cost, want %d%%", 100*share, activityCostPercent)
	}
	if share := float64(otherUnit) / float64(activities); share < 0.15 || share > 0.35 {
		t.Errorf("%.2f%% of activity lines in another unit, want about %d%%", 100*share, 100-canonicalUnitPercent)
	}
}

// decimals counts the places after a decimal point.
func decimals(s string) int {
	if i := strings.IndexByte(s, '.'); i >= 0 {
		return len(s) - i - 1
	}
	return 0
}

// Every spelling a factor's unit may be written in is one units reads, of
// the factor's dimension: the file never holds a unit the upload must
// refuse.
func TestUnitChoices(t *testing.T) {
	for _, f := range desnz(t).All() {
		us, err := unitChoices(f.Unit)
		if err != nil {
			t.Fatalf("%s: %v", f.Activity, err)
		}
		if us[0] != f.Unit || len(us) < 2 {
			t.Fatalf("%s: choices %q", f.Activity, us)
		}
		for _, u := range us {
			if _, err := units.Convert(big.NewRat(1, 1), u, f.Unit); err != nil {
				t.Fatalf("%s: %v", f.Activity, err)
			}
		}
	}
}

package decimal

import (
	"math/big"
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	for in, want := range map[string]struct {
		rat   string
		scale int
		ok    bool
	}{
		"-12.3400": {"-617/50", 4, true}, "787.0000000": {"787/1", 7, true}, "+5": {"5/1", 0, true},
		"1e5": {"", 0, false}, "": {"", 0, false}, ".": {"", 0, false}, "1/2": {"", 0, false}, "0x10": {"", 0, false},
	} {
		r, sc, err := Parse(in)
		if (err == nil) != want.ok || (want.ok && (r.String() != want.rat || sc != want.scale)) {
			t.Errorf("Parse(%q) = %v, %d, %v; want %s, %d, ok=%v", in, r, sc, err, want.rat, want.scale, want.ok)
		}
	}
}

func TestRound(t *testing.T) {
	for _, c := range []struct {
		in    string
		scale int
		want  string
	}{
		{"292.655", 3, "292.655"}, {"1.00005", 4, "1.0001"}, {"-1.00005", 4, "-1.0001"}, {"1.00004999", 4, "1.0000"},
		{"-0.00004", 4, "0.0000"}, {"2.5", 0, "3"}, {"-2.5", 0, "-3"}, {"35/12", 2, "2.92"}, {"-35/12", 2, "-2.92"},
	} {
		r, ok := new(big.Rat).SetString(c.in)
		if !ok {
			t.Fatalf("bad case %q", c.in)
		}
		if got := Round(r, c.scale); got != c.want {
			t.Errorf("Round(%s, %d) = %s, want %s", c.in, c.scale, got, c.want)
		}
	}
}

func TestFormat(t *testing.T) {
	for _, c := range []struct {
		num, den int64
		want     string
		exact    bool
	}{
		{1, 4, "0.25", true}, {-3, 1, "-3", true}, {7, 8000, "0.000875", true},
		{2500, 9, "277.777777777778", false}, {-1, 3, "-0.333333333333", false},
	} {
		if got, exact := Format(big.NewRat(c.num, c.den), 12); got != c.want || exact != c.exact {
			t.Errorf("Format(%d/%d) = %s, %v; want %s, %v", c.num, c.den, got, exact, c.want, c.exact)
		}
	}
}

func TestParseScaledAndQuoRound(t *testing.T) {
	for in, want := range map[string]string{"-12.3400": "-123400/4", "+5": "5/0", "007.50": "750/2", ".5": "5/1",
		// 18 digits and 19: the int64 path and big.Int's.
		"-99999999999.9999999": "-999999999999999999/7", "999999999999.9999999": "9999999999999999999/7",
		"123456789012345678901234.5678901": "1234567890123456789012345678901/7"} {
		v, scale, err := ParseScaled(in)
		if err != nil || v.String()+"/"+big.NewInt(int64(scale)).String() != want {
			t.Errorf("ParseScaled(%q) = %v, %d, %v; want %s", in, v, scale, err, want)
		}
	}
	for _, bad := range []string{"", "-", "1e5", "1/2", "1,5", ".", "1.2.3", "--1", "1-", "12345678901234567890.1.2"} {
		if _, _, err := ParseScaled(bad); err == nil {
			t.Errorf("ParseScaled(%q) accepted", bad)
		}
	}
	// 5/2 and -5/2 round away from zero, 7/3 and -7/3 to the nearest.
	for _, c := range [][3]int64{{5, 2, 3}, {-5, 2, -3}, {7, 3, 2}, {-7, 3, -2}, {8, 3, 3}} {
		if got := QuoRound(big.NewInt(c[0]), big.NewInt(c[1])); got.Int64() != c[2] {
			t.Errorf("QuoRound(%d, %d) = %v, want %d", c[0], c[1], got, c[2])
		}
	}
}

// Ratio agrees with big.Rat's Float64 of the quotient, on exact halves
// and on many random pairs of up to 128 bits.
func TestRatio(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	// randInt has up to 128 random bits.
	randInt := func() *big.Int {
		v := new(big.Int).Lsh(new(big.Int).SetUint64(rng.Uint64()), 64)
		v.Or(v, new(big.Int).SetUint64(rng.Uint64()))
		return v.Rsh(v, uint(rng.IntN(127)))
	}
	one := big.NewInt(1)
	pairs := [][2]*big.Int{{big.NewInt(4), big.NewInt(5)}, {big.NewInt(1), big.NewInt(3)}, {big.NewInt(-2), big.NewInt(3)},
		{new(big.Int).Lsh(one, 53), one}, {new(big.Int).Add(new(big.Int).Lsh(one, 53), one), one}}
	for range 20_000 {
		x, y := randInt(), randInt()
		if y.Sign() == 0 {
			continue
		}
		if rng.IntN(4) == 0 {
			x.Neg(x)
		}
		pairs = append(pairs, [2]*big.Int{x, y})
	}
	for _, p := range pairs {
		want, _ := new(big.Rat).SetFrac(p[0], p[1]).Float64()
		if got := Ratio(p[0], p[1]); got != want {
			t.Fatalf("Ratio(%v, %v) = %v, want %v", p[0], p[1], got, want)
		}
	}
}

// BenchmarkParseScaled reads an inventory group's kg.
func BenchmarkParseScaled(b *testing.B) {
	for b.Loop() {
		if _, _, err := ParseScaled("123456.7890123"); err != nil {
			b.Fatal(err)
		}
	}
}

// FuzzParseScaled holds ParseScaled to big.Rat's reading of a plain
// decimal: it accepts what big.Rat reads as [+-]digits[.digits] and gives
// the same value.
func FuzzParseScaled(f *testing.F) {
	for _, s := range []string{"-12.3400", "+5", ".5", "5.", "999999999999999999", "1234567890123456789.5", "1e5", "1.2.3", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, scale, err := ParseScaled(s)
		plain := plainDecimal.MatchString(s)
		if (err == nil) != plain {
			t.Fatalf("ParseScaled(%q): %v, want accepted = %v", s, err, plain)
		}
		if err != nil {
			return
		}
		want, ok := new(big.Rat).SetString(s)
		if !ok || new(big.Rat).SetFrac(v, Pow10(scale)).Cmp(want) != 0 || scale != fracDigits(s) {
			t.Fatalf("ParseScaled(%q) = %v, %d; big.Rat reads %v", s, v, scale, want)
		}
	})
}

var plainDecimal = regexp.MustCompile(`^[+-]?(\d+\.?\d*|\.\d+)$`)

func fracDigits(s string) int {
	if _, frac, ok := strings.Cut(s, "."); ok {
		return len(frac)
	}
	return 0
}

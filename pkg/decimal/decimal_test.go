package decimal

import "testing"

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

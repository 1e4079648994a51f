package factors

import "testing"

func TestEPAFactors(t *testing.T) {
	fs, err := EPAFactors()
	if err != nil {
		t.Fatal(err)
	}
	if len(fs) != 1016 {
		t.Fatalf("got %d factors, want 1016", len(fs))
	}
	byCode := map[string]Factor{}
	for _, f := range fs {
		if _, dup := byCode[f.Code]; dup {
			t.Fatalf("duplicate code %s", f.Code)
		}
		byCode[f.Code] = f
	}
	// Values from the EPA README: with-margins factors.
	for code, want := range map[string]string{"331110": "0.787", "327310": "3.924", "541511": "0.084", "484121": "0.595", "481111": "0.644"} {
		if got := byCode[code].Value; got != want {
			t.Errorf("%s = %s, want %s", code, got, want)
		}
	}
}

func TestCategoryOf(t *testing.T) {
	for code, want := range map[string]int16{
		"481111": 6, "721110": 6, "484121": 4, "493110": 4, "562111": 5,
		"236220": 2, "333120": 2, "336111": 2, "531120": 8, "331110": 1, "541511": 1,
	} {
		if got := CategoryOf(code); got != want {
			t.Errorf("CategoryOf(%s) = %d, want %d", code, got, want)
		}
	}
}

package render

import (
	"os"
	"path/filepath"
	"testing"
)

// TestWriteSamples writes the sample report in every format to
// $RENDER_SAMPLE_DIR, for a person to look at.
func TestWriteSamples(t *testing.T) {
	dir := os.Getenv("RENDER_SAMPLE_DIR")
	if dir == "" {
		t.Skip("RENDER_SAMPLE_DIR not set")
	}
	d := Sample(300)
	for _, f := range []Format{PDF, XLSX, CSV, JSON} {
		out, err := os.Create(filepath.Join(dir, "sample"+Extension(f)))
		if err != nil {
			t.Fatal(err)
		}
		if err := Render(out, d, f); err != nil {
			t.Fatal(err)
		}
		if err := out.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

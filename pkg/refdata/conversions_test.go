package refdata_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/vcci-dev/vcci/pkg/refdata"
	"github.com/vcci-dev/vcci/pkg/refdata/internal/desnzxlsx"
)

// Running the generator again reproduces every shipped file byte for byte.
func TestShippedDataIsGenerated(t *testing.T) {
	for _, c := range append(refdata.Conversions(), desnzxlsx.Conversion()) {
		t.Run(c.Output, func(t *testing.T) {
			got, err := c.Convert(readSource(t, c.Source))
			if err != nil {
				t.Fatal(err)
			}
			shipped, err := os.ReadFile(filepath.Join("data", c.Output))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, shipped) {
				t.Fatalf("data/%s is not what the generator makes of its source: run go run ./pkg/refdata/gen", c.Output)
			}
		})
	}
}

// readSource reads a source file as shipped in data/source.
func readSource(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("data", "source", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// assertRefuses checks that convert refuses each of the bad sources, each
// a changed copy of src (the check that it changed keeps a case from
// passing because the source moved under it).
func assertRefuses(t *testing.T, convert func([]byte) ([]byte, error), src string, bad map[string]string) {
	t.Helper()
	for name, b := range bad {
		if b == src {
			t.Fatalf("%s: the source was not changed", name)
		}
		if _, err := convert([]byte(b)); err == nil {
			t.Errorf("%s: converted", name)
		}
	}
}

// Command gen converts the reference data's sources (pkg/refdata/data/source)
// into the files vcci ships (pkg/refdata/data). Run from the repository's
// root: go run ./pkg/refdata/gen. TestShippedDataIsGenerated checks that
// running it again changes nothing.
package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/vcci-dev/vcci/pkg/refdata"
	"github.com/vcci-dev/vcci/pkg/refdata/internal/desnzxlsx"
)

func main() {
	if err := run("pkg/refdata/data"); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

func run(dir string) error {
	for _, c := range append(refdata.Conversions(), desnzxlsx.Conversion()) {
		src, err := os.ReadFile(filepath.Join(dir, "source", c.Source)) //nolint:gosec // the repository's own data folder
		if err != nil {
			return fmt.Errorf("read %s: %w", c.Source, err)
		}
		out, err := c.Convert(src)
		if err != nil {
			return fmt.Errorf("convert %s: %w", c.Source, err)
		}
		if err := os.WriteFile(filepath.Join(dir, c.Output), out, 0o644); err != nil { //nolint:gosec // a data file in the repository
			return fmt.Errorf("write %s: %w", c.Output, err)
		}
	}
	return nil
}

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
)

func main() {
	if err := run("pkg/refdata/data"); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

func run(dir string) error {
	src, err := os.ReadFile(filepath.Join(dir, "source", "cpiai.csv")) //nolint:gosec // the repository's own data folder
	if err != nil {
		return fmt.Errorf("read the CPI source: %w", err)
	}
	out, err := refdata.ConvertCPI(src)
	if err != nil {
		return fmt.Errorf("convert: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "cpi_u.csv"), out, 0o644); err != nil { //nolint:gosec // a data file in the repository
		return fmt.Errorf("write: %w", err)
	}
	if err := desnz(dir); err != nil {
		return fmt.Errorf("DESNZ: %w", err)
	}
	return nil
}

package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/vcci-dev/vcci/pkg/refdata/internal/desnzxlsx"
)

func desnz(dir string) error {
	src, err := os.ReadFile(filepath.Join(dir, "source", desnzxlsx.Source)) //nolint:gosec // the repository's own data folder
	if err != nil {
		return fmt.Errorf("read the DESNZ source: %w", err)
	}
	out, err := desnzxlsx.Convert(src)
	if err != nil {
		return fmt.Errorf("convert: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "desnz_2024.csv"), out, 0o644); err != nil { //nolint:gosec // a data file in the repository
		return fmt.Errorf("write: %w", err)
	}
	return nil
}

package main

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/vcci-dev/vcci/cmd/vcci/internal/spendgen"
	"github.com/vcci-dev/vcci/pkg/refdata"
	calculator "github.com/vcci-dev/vcci/services/calculator/server"
)

// gen writes a deterministic spend file.
func gen(args []string) error {
	fs := flag.NewFlagSet("gen", flag.ContinueOnError)
	rows := fs.Int("rows", 10_000, "data rows")
	suppliers := fs.Int("suppliers", 10_000, "distinct suppliers")
	seed := fs.Uint64("seed", 1, "seed; the same seed gives the same file")
	out := fs.String("o", "spend.csv", "output file")
	mix := fs.Bool("mix", false, "a mixed file: 60% spend lines in six currencies over 2022-2025, 40% activity lines of every kind (DESNZ factors)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	return writeSpend(*out, *rows, *suppliers, *seed, *mix)
}

// writeSpend writes a spend file of rows lines over suppliers to path;
// with mix, a mixed file of spend and activity lines.
func writeSpend(path string, rows, suppliers int, seed uint64, mix bool) error {
	opts := spendgen.Options{Rows: rows, Suppliers: suppliers, Seed: seed, Mix: mix}
	var err error
	if opts.Codes, err = calculator.FactorCodes(); err != nil {
		return err
	}
	if mix {
		factors, err := refdata.DESNZ()
		if err != nil {
			return err
		}
		opts.Activities = factors.All()
	}
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("creating the spend file: %w", err)
	}
	defer f.Close()
	start := time.Now()
	w := bufio.NewWriterSize(f, 1<<20)
	st, err := spendgen.Write(w, opts)
	if err != nil {
		return err
	}
	if err := w.Flush(); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	kind := ""
	if mix {
		kind = fmt.Sprintf(" (%d activity lines)", st.Activity)
	}
	fmt.Fprintf(os.Stderr, "wrote %s: %d rows%s, %d suppliers, %.1f MB in %.2fs\n", path, st.Rows, kind, st.Suppliers, float64(st.Bytes)/1e6, time.Since(start).Seconds())
	if err := f.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

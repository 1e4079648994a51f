package main

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/vcci-dev/vcci/cmd/vcci/internal/spendgen"
	calculator "github.com/vcci-dev/vcci/services/calculator/server"
)

// gen writes a deterministic spend file.
func gen(args []string) error {
	fs := flag.NewFlagSet("gen", flag.ContinueOnError)
	rows := fs.Int("rows", 10_000, "data rows")
	suppliers := fs.Int("suppliers", 10_000, "distinct suppliers")
	seed := fs.Uint64("seed", 1, "seed; the same seed gives the same file")
	out := fs.String("o", "spend.csv", "output file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	_, err := writeSpend(*out, *rows, *suppliers, *seed)
	return err
}

func writeSpend(path string, rows, suppliers int, seed uint64) (spendgen.Stats, error) {
	codes, err := calculator.FactorCodes()
	if err != nil {
		return spendgen.Stats{}, err
	}
	f, err := os.Create(path)
	if err != nil {
		return spendgen.Stats{}, err
	}
	defer f.Close()
	start := time.Now()
	w := bufio.NewWriterSize(f, 1<<20)
	st, err := spendgen.Write(w, spendgen.Options{Rows: rows, Suppliers: suppliers, Seed: seed, Codes: codes})
	if err != nil {
		return st, err
	}
	if err := w.Flush(); err != nil {
		return st, err
	}
	fmt.Fprintf(os.Stderr, "wrote %s: %d rows, %d suppliers, %.1f MB in %.2fs\n", path, st.Rows, st.Suppliers, float64(st.Bytes)/1e6, time.Since(start).Seconds())
	return st, f.Close()
}

package refdata

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"strings"
)

// Conversion makes one shipped file, data/<Output>, from its source,
// data/source/<Source>, kept unchanged.
type Conversion struct {
	Source, Output string
	Convert        func(src []byte) ([]byte, error)
}

// Conversions lists every shipped file: gen writes them and
// TestShippedDataIsGenerated checks them, from this one list.
func Conversions() []Conversion {
	return []Conversion{
		{"cpiai.csv", "cpi_u.csv", ConvertCPI},
		{"globalwarmingpotentials.csv", "gwp.csv", ConvertGWP},
		{"SupplyChainGHGEmissionFactors_v1.3.0_NAICS_byGHG_USD2022.csv", "epa_v1.3_bygas.csv", ConvertEPAByGas},
		{"fx_monthly.csv", "fx_monthly.csv", ConvertFX},
	}
}

// readShipped reads a shipped file's rows, the header first, checking the
// header: the files are generated and tested, so this only guards against
// an embed of the wrong file.
func readShipped(name string, b []byte, header string) ([][]string, error) {
	rows, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
	if err != nil {
		return nil, fmt.Errorf("refdata: the shipped %s file: %w", name, err)
	}
	if len(rows) < 2 || strings.Join(rows[0], ",") != header {
		return nil, fmt.Errorf("refdata: the shipped %s file has no data or another header", name)
	}
	return rows, nil
}

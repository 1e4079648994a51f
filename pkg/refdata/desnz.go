package refdata

import (
	"bytes"
	_ "embed"
	"encoding/csv"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
)

//go:embed data/desnz_2024.csv
var desnzCSV []byte

// desnzHeader is the first line of the shipped file (the generator's
// desnzxlsx.Header; a test keeps them equal).
const desnzHeader = "activity,sheet,scope3_category,unit,kg_co2e,kg_co2,kg_ch4,kg_n2o,region,description"

// ActivityFactor is the emissions of one unit of an activity. The values
// are exact decimals as published; the gas columns are CO2e contributions
// under AR5 GWP-100 (kg CO2e of that gas, not kg of the gas) and are ""
// where the sheet gives only the total.
type ActivityFactor struct {
	Activity    string // the id a user writes, e.g. "fuels.liquid-fuels.diesel-average-biofuel-blend.litre"
	Sheet       string // the workbook sheet it comes from
	Category    int16  // default GHG Protocol Scope 3 category; 0: none, the line must name one
	Unit        string // canonical pkg/units id of the activity quantity
	KgCO2e      string
	KgCO2       string
	KgCH4       string
	KgN2O       string
	Region      string // ISO 3166-1 alpha-2 code of where it applies
	Description string // the sheet's labels and the unit as DESNZ writes them
}

// ActivityFactors is a published set of activity factors.
type ActivityFactors struct {
	Name      string
	Version   string
	Year      int
	Publisher string
	SourceURL string
	Licence   string
	Region    string // of the set; a factor's own Region may differ

	all  []ActivityFactor
	byID map[string]int
}

// DESNZ returns the UK Government GHG conversion factors for company
// reporting 2024 (full set v1.1), read once.
var DESNZ = sync.OnceValues(func() (*ActivityFactors, error) {
	s := &ActivityFactors{
		Name:      "desnz-2024",
		Version:   "1.1",
		Year:      2024,
		Publisher: "UK Department for Energy Security and Net Zero (DESNZ)",
		SourceURL: "https://www.gov.uk/government/publications/greenhouse-gas-reporting-conversion-factors-2024",
		Licence:   "Open Government Licence v3.0",
		Region:    "GB",
	}
	return s, s.read(desnzCSV)
})

func (s *ActivityFactors) read(b []byte) error {
	rows, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
	if err != nil {
		return fmt.Errorf("refdata: the shipped DESNZ file: %w", err)
	}
	if len(rows) < 2 || strings.Join(rows[0], ",") != desnzHeader {
		return errors.New("refdata: the shipped DESNZ file has no data or another header")
	}
	s.all = make([]ActivityFactor, 0, len(rows)-1)
	s.byID = make(map[string]int, len(rows)-1)
	for _, r := range rows[1:] {
		c, err := strconv.ParseInt(r[2], 10, 16)
		if err != nil {
			return fmt.Errorf("refdata: the shipped DESNZ file: %s: %w", r[0], err)
		}
		s.byID[r[0]] = len(s.all)
		s.all = append(s.all, ActivityFactor{Activity: r[0], Sheet: r[1], Category: int16(c), Unit: r[3],
			KgCO2e: r[4], KgCO2: r[5], KgCH4: r[6], KgN2O: r[7], Region: r[8], Description: r[9]})
	}
	return nil
}

// Get returns the factor of an activity id, as a user may write it (case
// and outer spaces do not matter).
func (s *ActivityFactors) Get(activity string) (ActivityFactor, bool) {
	i, ok := s.byID[strings.ToLower(strings.TrimSpace(activity))]
	if !ok {
		return ActivityFactor{}, false
	}
	return s.all[i], true
}

// All returns every factor, in the workbook's order; the slice is the
// caller's.
func (s *ActivityFactors) All() []ActivityFactor {
	return append([]ActivityFactor(nil), s.all...)
}

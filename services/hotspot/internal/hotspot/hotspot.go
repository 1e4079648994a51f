// Package hotspot finds where a tenant's emissions concentrate: the few
// suppliers that together make up most of the total (a Pareto analysis).
package hotspot

import (
	"context"
	"fmt"
	"math"
	"math/big"
	"slices"
	"strings"

	"github.com/vcci-dev/vcci/pkg/apperr"
	"github.com/vcci-dev/vcci/pkg/decimal"
	"github.com/vcci-dev/vcci/pkg/refdata"
)

// Request limits and defaults, as the contract states them.
const (
	DefaultTopN      = 10
	MaxTopN          = 1000
	DefaultThreshold = 0.8
)

// SupplierTotal is one supplier's emissions and spend, exact decimals.
type SupplierTotal struct {
	SupplierID string
	Kg, Spend  string
}

// Period is a range of whole months as the contract gives them ("YYYY-MM",
// first and last, both included); the zero Period is every stored line.
// Snapshot, when set ("inventorySnapshots/{id}"), ranks the lines as that
// calculator snapshot recorded them; AsOfDate ("YYYY-MM-DD") as they were
// calculated at the end of that day. The calculator checks them.
type Period struct{ Start, End, Snapshot, AsOfDate string }

// Totals are every supplier's totals, the basis they are under and the
// period of the lines they total.
type Totals struct {
	Suppliers []SupplierTotal
	Basis     refdata.Basis
	Period    Period
}

// Emissions gives the totals of every supplier of the caller's tenant,
// under basis ("": the tenant's), of the lines dated in p.
type Emissions interface {
	SupplierTotals(ctx context.Context, basis refdata.Basis, p Period) (Totals, error)
}

// SupplierNames resolves supplier ids to display names; unknown ids are left
// out of the map.
type SupplierNames interface {
	SupplierNames(ctx context.Context, ids []string) (map[string]string, error)
}

// Entry is one ranked supplier.
type Entry struct {
	Rank                   int32
	SupplierID             string
	SupplierName           string
	Kg, Spend              string
	Share, CumulativeShare float64
	InThresholdSet         bool
}

// Analysis is a supplier Pareto.
type Analysis struct {
	Entries        []Entry
	Basis          refdata.Basis // the GWP basis of the kg CO2e
	Period         Period        // the lines ranked
	TotalKg        string
	SupplierCount  int32
	Threshold      float64
	ThresholdCount int32
}

// Service runs analyses for API callers.
type Service struct {
	emissions Emissions
	names     SupplierNames
}

// New returns a Service.
func New(emissions Emissions, names SupplierNames) *Service {
	return &Service{emissions: emissions, names: names}
}

// AnalyzeSuppliers ranks the caller's suppliers under basis ("": the
// tenant's) by the lines dated in p and returns the first topN (0 means
// DefaultTopN) with their names; threshold 0 means DefaultThreshold.
func (s *Service) AnalyzeSuppliers(ctx context.Context, topN int32, threshold float64, basis refdata.Basis, p Period) (Analysis, error) {
	switch {
	case topN == 0:
		topN = DefaultTopN
	case topN < 0 || topN > MaxTopN:
		return Analysis{}, apperr.Invalid("top_n", "must be between 1 and %d, got %d", MaxTopN, topN)
	}
	switch {
	case threshold == 0:
		threshold = DefaultThreshold
	case !(threshold > 0 && threshold <= 1): // written so that NaN fails too
		return Analysis{}, apperr.Invalid("threshold", "must be in (0, 1], got %g", threshold)
	}
	// Peers' errors are gRPC statuses already; they pass through unwrapped so
	// the caller sees the peer's own code and message.
	totals, err := s.emissions.SupplierTotals(ctx, basis, p)
	if err != nil {
		return Analysis{}, err
	}
	a, err := Pareto(totals.Suppliers, threshold)
	if err != nil {
		return Analysis{}, err
	}
	a.Basis, a.Period = totals.Basis, totals.Period
	a.Entries = a.Entries[:min(int(topN), len(a.Entries))]
	if len(a.Entries) == 0 {
		return a, nil
	}
	ids := make([]string, len(a.Entries))
	for i, e := range a.Entries {
		ids[i] = e.SupplierID
	}
	names, err := s.names.SupplierNames(ctx, ids)
	if err != nil {
		return Analysis{}, err
	}
	for i := range a.Entries {
		a.Entries[i].SupplierName = names[a.Entries[i].SupplierID]
	}
	return a, nil
}

// Pareto ranks every supplier by kg CO2e (largest first, ties by id) and marks
// the smallest prefix whose cumulative share reaches threshold; the supplier
// that crosses it is in the set.
//
// Shares are of the net total over all suppliers, so a supplier with only
// credit notes has a negative share and ranks last, and cumulative shares may
// pass 1 before such suppliers bring them back to exactly 1. When the net
// total is not positive no share is meaningful: all are 0 and the set is empty.
func Pareto(totals []SupplierTotal, threshold float64) (Analysis, error) {
	// Exact integers at the largest scale given: sums and comparisons
	// without big.Rat's normalising on every step.
	type ranked struct {
		SupplierTotal
		kg    *big.Int // x 10^-scale
		scale int
	}
	n := len(totals)
	if n > math.MaxInt32 {
		return Analysis{}, fmt.Errorf("hotspot.Pareto: %d suppliers, more than the contract counts", n)
	}
	rs := make([]ranked, n)
	scale := 0
	for i, t := range totals {
		kg, sc, err := decimal.ParseScaled(t.Kg)
		if err != nil {
			return Analysis{}, fmt.Errorf("hotspot.Pareto: supplier %q: %w", t.SupplierID, err)
		}
		rs[i] = ranked{t, kg, sc}
		scale = max(scale, sc)
	}
	total := new(big.Int)
	for i := range rs {
		if rs[i].scale < scale {
			rs[i].kg.Mul(rs[i].kg, decimal.Pow10(scale-rs[i].scale))
		}
		total.Add(total, rs[i].kg)
	}
	slices.SortFunc(rs, func(a, b ranked) int {
		if c := b.kg.Cmp(a.kg); c != 0 {
			return c
		}
		return strings.Compare(a.SupplierID, b.SupplierID)
	})

	a := Analysis{Entries: make([]Entry, len(rs)), TotalKg: decimal.FormatScaled(total, scale), SupplierCount: int32(n), Threshold: threshold}
	cum := new(big.Int)
	var rank int32
	for i, r := range rs {
		rank++
		cum.Add(cum, r.kg)
		e := Entry{Rank: rank, SupplierID: r.SupplierID, Kg: r.Kg, Spend: r.Spend}
		if total.Sign() > 0 {
			// Cumulative shares come from the exact running sum, so rounding
			// never accumulates; the comparison is on the share as reported,
			// so that exactly 4/5 meets a threshold of 0.8 (whose float64 is
			// a hair above 4/5).
			e.Share, e.CumulativeShare = decimal.Ratio(r.kg, total), decimal.Ratio(cum, total)
			e.InThresholdSet = a.ThresholdCount == 0
			if a.ThresholdCount == 0 && e.CumulativeShare >= threshold {
				a.ThresholdCount = rank
			}
		}
		a.Entries[i] = e
	}
	return a, nil
}

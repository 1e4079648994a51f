// Package reporting assembles a tenant's Scope 3 inventory from the
// calculator's breakdowns, labelled for people to read.
package reporting

import (
	"context"
	"math/big"
	"strconv"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/vcci-dev/vcci/pkg/apperr"
)

// Request limits and defaults, as the contract states them.
const (
	DefaultTopN = 100
	MaxTopN     = 1000
)

// Dimension is what a breakdown groups by (values match the calculator's
// contract).
type Dimension int32

const (
	BySupplier Dimension = iota + 1
	ByCategory
	ByNAICS
	ByMonth
)

// Group is one line of a breakdown; quantities are exact decimals.
type Group struct {
	Key, Label string
	Kg, Spend  string
	Count      int64
	Share      float64
}

// Breakdown is the largest groups of one dimension, with totals over all.
type Breakdown struct {
	Groups     []Group
	TotalKg    string
	TotalSpend string
	Count      int64
	GroupCount int32
}

// Emissions gives the caller's breakdowns (limit 0 means every group) and
// the names of the factor sets loaded.
type Emissions interface {
	Breakdown(ctx context.Context, dim Dimension, limit int32) (Breakdown, error)
	FactorSets(ctx context.Context) ([]string, error)
}

// Labels resolves keys to display labels; unknown keys are left out.
type Labels interface {
	SupplierNames(ctx context.Context, ids []string) (map[string]string, error)
	NAICSTitles(ctx context.Context, codes []string) (map[string]string, error)
}

// Inventory is a labelled summary of a tenant's emissions.
type Inventory struct {
	TotalKg, TotalSpend                      string
	Count                                    int64
	ByCategory, BySupplier, ByNAICS, ByMonth []Group
	SupplierCount, NAICSCount                int32
	FactorSets                               []string
	GeneratedAt                              time.Time
}

// categoryNames are the GHG Protocol's Scope 3 categories, by number;
// never written.
var categoryNames = map[string]string{
	"1": "Purchased goods and services", "2": "Capital goods", "3": "Fuel- and energy-related activities",
	"4": "Upstream transportation and distribution", "5": "Waste generated in operations", "6": "Business travel",
	"7": "Employee commuting", "8": "Upstream leased assets", "9": "Downstream transportation and distribution",
	"10": "Processing of sold products", "11": "Use of sold products", "12": "End-of-life treatment of sold products",
	"13": "Downstream leased assets", "14": "Franchises", "15": "Investments",
}

// Service builds inventories for API callers.
type Service struct {
	emissions Emissions
	labels    Labels
}

// New returns a Service.
func New(emissions Emissions, labels Labels) *Service {
	return &Service{emissions: emissions, labels: labels}
}

// InventorySummary returns the caller's inventory with its topN largest
// suppliers and NAICS codes (0 means DefaultTopN) and every category and month.
func (s *Service) InventorySummary(ctx context.Context, topN int32) (Inventory, error) {
	switch {
	case topN == 0:
		topN = DefaultTopN
	case topN < 0 || topN > MaxTopN:
		return Inventory{}, apperr.Invalid("top_n", "must be between 1 and %d, got %d", MaxTopN, topN)
	}
	// Peers' errors are gRPC statuses already; they pass through unwrapped so
	// the caller sees the peer's own code and message.
	var sup, naics, cat, month Breakdown
	var sets []string
	g, gctx := errgroup.WithContext(ctx)
	for _, q := range []struct {
		dim   Dimension
		limit int32
		out   *Breakdown
	}{{BySupplier, topN, &sup}, {ByNAICS, topN, &naics}, {ByCategory, 0, &cat}, {ByMonth, 0, &month}} {
		g.Go(func() (err error) {
			*q.out, err = s.emissions.Breakdown(gctx, q.dim, q.limit)
			return err
		})
	}
	g.Go(func() (err error) {
		sets, err = s.emissions.FactorSets(gctx)
		return err
	})
	if err := g.Wait(); err != nil {
		return Inventory{}, err
	}

	var names, titles map[string]string
	g, gctx = errgroup.WithContext(ctx)
	g.Go(func() (err error) {
		names, err = s.labels.SupplierNames(gctx, keys(sup.Groups))
		return err
	})
	g.Go(func() (err error) {
		titles, err = s.labels.NAICSTitles(gctx, keys(naics.Groups))
		return err
	})
	if err := g.Wait(); err != nil {
		return Inventory{}, err
	}
	label(sup.Groups, names)
	label(naics.Groups, titles)
	label(cat.Groups, categoryNames)

	// The four breakdowns are separate reads, not one snapshot. The totals
	// come from the category breakdown: it is never cut by a limit, so its
	// groups always add up to the totals shown beside them.
	inv := Inventory{
		TotalKg: cat.TotalKg, TotalSpend: cat.TotalSpend, Count: cat.Count,
		ByCategory: cat.Groups, BySupplier: sup.Groups, ByNAICS: naics.Groups, ByMonth: month.Groups,
		SupplierCount: sup.GroupCount, NAICSCount: naics.GroupCount, GeneratedAt: time.Now(),
	}
	// Results carry no set of their own in the summaries, so the sets loaded
	// are named; with nothing calculated, nothing was calculated with them.
	if inv.Count > 0 {
		inv.FactorSets = sets
	}
	return inv, nil
}

// CategoryTitle is the GHG Protocol's name of Scope 3 category n (1..15),
// or "" for another number.
func CategoryTitle(n int) string { return categoryNames[strconv.Itoa(n)] }

func keys(gs []Group) []string {
	out := make([]string, len(gs))
	for i, g := range gs {
		out[i] = g.Key
	}
	return out
}

func label(gs []Group, labels map[string]string) {
	for i := range gs {
		gs[i].Label = labels[gs[i].Key]
	}
}

// Dashboard limits.
const (
	DefaultTopSuppliers = 10
	MaxTopSuppliers     = 100
)

// Dashboard is the headline view of a tenant's emissions.
type Dashboard struct {
	TotalKg, TotalSpend, Intensity string
	Count                          int64
	SupplierCount                  int32
	ByCategory, ByMonth, Top       []Group
	TopShare                       float64
	GeneratedAt                    time.Time
}

// Dashboard returns totals, emissions by category and by month, and the top
// suppliers (0 means DefaultTopSuppliers), from three rollup reads made at
// once and one batched name lookup.
func (s *Service) Dashboard(ctx context.Context, top int32) (Dashboard, error) {
	switch {
	case top == 0:
		top = DefaultTopSuppliers
	case top < 0 || top > MaxTopSuppliers:
		return Dashboard{}, apperr.Invalid("top_suppliers", "must be between 1 and %d, got %d", MaxTopSuppliers, top)
	}
	var sup, cat, month Breakdown
	g, gctx := errgroup.WithContext(ctx)
	for _, q := range []struct {
		dim   Dimension
		limit int32
		out   *Breakdown
	}{{BySupplier, top, &sup}, {ByCategory, 0, &cat}, {ByMonth, 0, &month}} {
		g.Go(func() (err error) {
			*q.out, err = s.emissions.Breakdown(gctx, q.dim, q.limit)
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return Dashboard{}, err
	}
	names, err := s.labels.SupplierNames(ctx, keys(sup.Groups))
	if err != nil {
		return Dashboard{}, err
	}
	label(sup.Groups, names)
	label(cat.Groups, categoryNames)
	d := Dashboard{
		TotalKg: cat.TotalKg, TotalSpend: cat.TotalSpend, Count: cat.Count, SupplierCount: sup.GroupCount,
		ByCategory: cat.Groups, ByMonth: month.Groups, Top: sup.Groups, GeneratedAt: time.Now(),
	}
	for _, g := range sup.Groups {
		d.TopShare += g.Share
	}
	d.Intensity = Intensity(cat.TotalKg, cat.TotalSpend)
	return d, nil
}

// Intensity is kg per USD to 6 decimals, or "" when spend is zero or unknown.
func Intensity(kg, spend string) string {
	k, ok1 := new(big.Rat).SetString(kg)
	s, ok2 := new(big.Rat).SetString(spend)
	if !ok1 || !ok2 || s.Sign() == 0 {
		return ""
	}
	return new(big.Rat).Quo(k, s).FloatString(6)
}

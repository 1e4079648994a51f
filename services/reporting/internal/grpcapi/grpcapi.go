// Package grpcapi translates between reporting's domain and the contracts:
// the ReportingService it serves and the calculator and intake services it
// calls.
package grpcapi

import (
	"context"
	"fmt"
	"strings"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/vcci-dev/vcci/pkg/batch"
	"github.com/vcci-dev/vcci/pkg/cache"
	calculatorv1 "github.com/vcci-dev/vcci/pkg/gen/vcci/calculator/v1"
	commonv1 "github.com/vcci-dev/vcci/pkg/gen/vcci/common/v1"
	intakev1 "github.com/vcci-dev/vcci/pkg/gen/vcci/intake/v1"
	reportingv1 "github.com/vcci-dev/vcci/pkg/gen/vcci/reporting/v1"
	"github.com/vcci-dev/vcci/pkg/grpcserver"
	"github.com/vcci-dev/vcci/pkg/pagetoken"
	"github.com/vcci-dev/vcci/pkg/tenancy"
	"github.com/vcci-dev/vcci/services/reporting/internal/reporting"
)

// FactorSet is the factor set whose titles label NAICS codes.
const FactorSet = "factorSets/epa-supply-chain-v1.3.0"

const supplierPrefix = "suppliers/"

// API implements reportingv1.ReportingServiceServer.
type API struct {
	reportingv1.UnimplementedReportingServiceServer
	svc   *reporting.Service
	cache DashboardCache
	// Reports (WithReports).
	reports *reporting.Reports
	tokens  *pagetoken.Codec
	links   *reporting.Links
}

// DashboardCache keeps dashboards per tenant until the tenant's emissions
// change (the calculator invalidates the "summaries" cache it shares).
type DashboardCache interface {
	Get(ctx context.Context, scope, key string, load func(context.Context) (*reportingv1.Dashboard, error)) (*reportingv1.Dashboard, error)
}

// New returns the API over svc; dashboards may be nil.
func New(svc *reporting.Service, dashboards DashboardCache) *API {
	return &API{svc: svc, cache: dashboards}
}

func (a *API) GetInventorySummary(ctx context.Context, req *reportingv1.GetInventorySummaryRequest) (*reportingv1.InventorySummary, error) {
	// Reporting keeps no tenant data; its peers scope by the forwarded key.
	// Checking here refuses an unauthenticated context before any peer call.
	if _, err := tenancy.MustTenant(ctx); err != nil {
		return nil, err
	}
	inv, err := a.svc.InventorySummary(ctx, req.GetTopN())
	if err != nil {
		return nil, err
	}
	return &reportingv1.InventorySummary{
		TotalKgCo2E: inv.TotalKg, TotalSpendUsd: inv.TotalSpend, TransactionCount: inv.Count,
		ByCategory: totals(inv.ByCategory), BySupplier: totals(inv.BySupplier), ByNaics: totals(inv.ByNAICS), ByMonth: totals(inv.ByMonth),
		SupplierCount: inv.SupplierCount, NaicsCount: inv.NAICSCount, FactorSets: inv.FactorSets,
		GenerateTime: timestamppb.New(inv.GeneratedAt),
	}, nil
}

func (a *API) GetDashboard(ctx context.Context, req *reportingv1.GetDashboardRequest) (*reportingv1.Dashboard, error) {
	tenant, err := tenancy.MustTenant(ctx)
	if err != nil {
		return nil, err
	}
	load := func(ctx context.Context) (*reportingv1.Dashboard, error) {
		d, err := a.svc.Dashboard(ctx, req.GetTopSuppliers())
		if err != nil {
			return nil, err
		}
		return &reportingv1.Dashboard{
			TotalKgCo2E: d.TotalKg, TotalSpendUsd: d.TotalSpend, KgCo2EPerUsd: d.Intensity, TransactionCount: d.Count,
			SupplierCount: d.SupplierCount, ByCategory: totals(d.ByCategory), ByMonth: totals(d.ByMonth),
			TopSuppliers: totals(d.Top), TopSuppliersShare: d.TopShare, GenerateTime: timestamppb.New(d.GeneratedAt),
		}, nil
	}
	if a.cache == nil {
		return load(ctx)
	}
	// The answer is the cached dashboard alone: the REST gateway may keep it
	// as long as its cache version stands.
	ctx, stamps := cache.CollectStamps(ctx)
	d, err := a.cache.Get(ctx, tenant.String(), fmt.Sprintf("dashboard|%d", req.GetTopSuppliers()), load)
	if err != nil {
		return nil, err
	}
	grpcserver.MarkCached(ctx, stamps)
	return d, nil
}

func totals(gs []reporting.Group) []*commonv1.EmissionTotal {
	out := make([]*commonv1.EmissionTotal, len(gs))
	for i, g := range gs {
		out[i] = &commonv1.EmissionTotal{Key: g.Key, Label: g.Label, KgCo2E: g.Kg, SpendUsd: g.Spend, TransactionCount: g.Count, Share: g.Share}
	}
	return out
}

// Calculator gives reporting the calculator's breakdowns and factor sets.
type Calculator struct {
	Client calculatorv1.CalculatorServiceClient
}

func (c Calculator) Breakdown(ctx context.Context, dim reporting.Dimension, limit int32) (reporting.Breakdown, error) {
	resp, err := c.Client.SummarizeEmissions(ctx, &calculatorv1.SummarizeEmissionsRequest{
		GroupBy: calculatorv1.SummaryDimension(dim), Limit: limit,
	})
	if err != nil {
		return reporting.Breakdown{}, err
	}
	b := reporting.Breakdown{
		Groups:  make([]reporting.Group, len(resp.GetGroups())),
		TotalKg: resp.GetTotalKgCo2E(), TotalSpend: resp.GetTotalSpendUsd(), Count: resp.GetTransactionCount(), GroupCount: resp.GetGroupCount(),
	}
	for i, g := range resp.GetGroups() {
		b.Groups[i] = reporting.Group{Key: g.GetKey(), Label: g.GetLabel(), Kg: g.GetKgCo2E(), Spend: g.GetSpendUsd(), Count: g.GetTransactionCount(), Share: g.GetShare()}
	}
	return b, nil
}

func (c Calculator) FactorSets(ctx context.Context) ([]string, error) {
	resp, err := c.Client.ListFactorSets(ctx, &calculatorv1.ListFactorSetsRequest{})
	if err != nil {
		return nil, err
	}
	out := make([]string, len(resp.GetFactorSets()))
	for i, fs := range resp.GetFactorSets() {
		out[i] = fs.GetName()
	}
	return out, nil
}

// Labels resolves supplier names through intake and NAICS titles through the
// calculator's factors.
type Labels struct {
	Suppliers intakev1.IntakeServiceClient
	Factors   calculatorv1.CalculatorServiceClient
}

// Each lookup makes its own Loader, and each request makes one lookup of each
// kind: a Loader's memo never outlives the request's tenant, and it splits
// the keys into the peers' 1000-name batches.

func (l Labels) SupplierNames(ctx context.Context, ids []string) (map[string]string, error) {
	return batch.New(func(ctx context.Context, ids []string) (map[string]string, error) {
		names := make([]string, len(ids))
		for i, id := range ids {
			names[i] = supplierPrefix + id
		}
		resp, err := l.Suppliers.BatchGetSuppliers(ctx, &intakev1.BatchGetSuppliersRequest{Names: names})
		if err != nil {
			return nil, err
		}
		out := make(map[string]string, len(resp.GetSuppliers()))
		for _, s := range resp.GetSuppliers() {
			if id, ok := strings.CutPrefix(s.GetName(), supplierPrefix); ok {
				out[id] = s.GetDisplayName()
			}
		}
		return out, nil
	}, batch.Options{MaxBatch: 1000}).LoadMany(ctx, ids)
}

func (l Labels) NAICSTitles(ctx context.Context, codes []string) (map[string]string, error) {
	return batch.New(func(ctx context.Context, codes []string) (map[string]string, error) {
		names := make([]string, len(codes))
		for i, code := range codes {
			names[i] = FactorSet + "/factors/" + code
		}
		resp, err := l.Factors.BatchGetFactors(ctx, &calculatorv1.BatchGetFactorsRequest{Names: names})
		if err != nil {
			return nil, err
		}
		out := make(map[string]string, len(resp.GetFactors()))
		for _, f := range resp.GetFactors() {
			out[f.GetCode()] = f.GetTitle()
		}
		return out, nil
	}, batch.Options{MaxBatch: 1000}).LoadMany(ctx, codes)
}

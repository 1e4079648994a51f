// Package grpcapi translates between hotspot's domain and the contracts: the
// HotspotService it serves and the calculator and intake services it calls.
package grpcapi

import (
	"context"
	"strings"

	"github.com/vcci-dev/vcci/pkg/batch"
	calculatorv1 "github.com/vcci-dev/vcci/pkg/gen/vcci/calculator/v1"
	hotspotv1 "github.com/vcci-dev/vcci/pkg/gen/vcci/hotspot/v1"
	intakev1 "github.com/vcci-dev/vcci/pkg/gen/vcci/intake/v1"
	"github.com/vcci-dev/vcci/pkg/refdata"
	"github.com/vcci-dev/vcci/pkg/tenancy"
	"github.com/vcci-dev/vcci/services/hotspot/internal/hotspot"
)

// API implements hotspotv1.HotspotServiceServer.
type API struct {
	hotspotv1.UnimplementedHotspotServiceServer
	svc *hotspot.Service
}

// New returns the API over svc.
func New(svc *hotspot.Service) *API { return &API{svc: svc} }

func (a *API) AnalyzeSupplierPareto(ctx context.Context, req *hotspotv1.AnalyzeSupplierParetoRequest) (*hotspotv1.AnalyzeSupplierParetoResponse, error) {
	// Hotspot keeps no tenant data; its peers scope by the forwarded key.
	// Checking here refuses an unauthenticated context before any peer call.
	if _, err := tenancy.MustTenant(ctx); err != nil {
		return nil, err
	}
	basis, err := refdata.BasisFromProto("gwp_basis", req.GetGwpBasis())
	if err != nil {
		return nil, err
	}
	an, err := a.svc.AnalyzeSuppliers(ctx, req.GetTopN(), req.GetThreshold(), basis,
		hotspot.Period{Start: req.GetPeriodStart(), End: req.GetPeriodEnd(), Snapshot: req.GetSnapshot(), AsOfDate: req.GetAsOfDate()})
	if err != nil {
		return nil, err
	}
	resp := &hotspotv1.AnalyzeSupplierParetoResponse{
		Entries: make([]*hotspotv1.ParetoEntry, len(an.Entries)), GwpBasis: refdata.BasisProto(an.Basis), TotalKgCo2E: an.TotalKg,
		SupplierCount: an.SupplierCount, Threshold: an.Threshold, ThresholdSupplierCount: an.ThresholdCount,
		PeriodStart: an.Period.Start, PeriodEnd: an.Period.End, Snapshot: an.Period.Snapshot, AsOfDate: an.Period.AsOfDate,
	}
	for i, e := range an.Entries {
		resp.Entries[i] = &hotspotv1.ParetoEntry{
			Rank: e.Rank, Supplier: supplierPrefix + e.SupplierID, SupplierDisplayName: e.SupplierName,
			KgCo2E: e.Kg, SpendUsd: e.Spend, Share: e.Share, CumulativeShare: e.CumulativeShare, InThresholdSet: e.InThresholdSet,
		}
	}
	return resp, nil
}

const supplierPrefix = "suppliers/"

// Calculator gives hotspot the per-supplier totals of the calculator.
type Calculator struct {
	Client calculatorv1.CalculatorServiceClient
}

func (c Calculator) SupplierTotals(ctx context.Context, basis refdata.Basis, p hotspot.Period) (hotspot.Totals, error) {
	resp, err := c.Client.SummarizeEmissions(ctx, &calculatorv1.SummarizeEmissionsRequest{
		GroupBy: calculatorv1.SummaryDimension_SUMMARY_DIMENSION_SUPPLIER, Limit: 0, // every supplier: shares need the whole
		GwpBasis: refdata.BasisProto(basis), PeriodStart: p.Start, PeriodEnd: p.End, Snapshot: p.Snapshot, AsOfDate: p.AsOfDate,
	})
	if err != nil {
		return hotspot.Totals{}, err
	}
	out := hotspot.Totals{Suppliers: make([]hotspot.SupplierTotal, len(resp.GetGroups())),
		Period: hotspot.Period{Start: resp.GetPeriodStart(), End: resp.GetPeriodEnd(), Snapshot: resp.GetSnapshot(), AsOfDate: resp.GetAsOfDate()}}
	for i, g := range resp.GetGroups() {
		out.Suppliers[i] = hotspot.SupplierTotal{SupplierID: g.GetKey(), Kg: g.GetKgCo2E(), Spend: g.GetSpendUsd()}
	}
	// An answer under a basis the contract does not define reads as unstated.
	out.Basis, _ = refdata.BasisFromProto("", resp.GetGwpBasis())
	return out, nil
}

// Suppliers resolves supplier names through intake.
type Suppliers struct{ Client intakev1.IntakeServiceClient }

func (s Suppliers) SupplierNames(ctx context.Context, ids []string) (map[string]string, error) {
	// A Loader per call, and one call per request: its memo never outlives the
	// request's tenant, and it splits the ids into intake's 1000-name batches.
	l := batch.New(func(ctx context.Context, ids []string) (map[string]string, error) {
		names := make([]string, len(ids))
		for i, id := range ids {
			names[i] = supplierPrefix + id
		}
		resp, err := s.Client.BatchGetSuppliers(ctx, &intakev1.BatchGetSuppliersRequest{Names: names})
		if err != nil {
			return nil, err
		}
		out := make(map[string]string, len(resp.GetSuppliers()))
		for _, sp := range resp.GetSuppliers() {
			if id, ok := strings.CutPrefix(sp.GetName(), supplierPrefix); ok {
				out[id] = sp.GetDisplayName()
			}
		}
		return out, nil
	}, batch.Options{MaxBatch: 1000})
	return l.LoadMany(ctx, ids)
}

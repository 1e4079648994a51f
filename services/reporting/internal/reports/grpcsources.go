package reports

import (
	"context"
	"fmt"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/vcci-dev/vcci/pkg/apperr"
	calculatorv1 "github.com/vcci-dev/vcci/pkg/gen/vcci/calculator/v1"
	engagementv1 "github.com/vcci-dev/vcci/pkg/gen/vcci/engagement/v1"
	hotspotv1 "github.com/vcci-dev/vcci/pkg/gen/vcci/hotspot/v1"
)

// maxPages bounds a listing, so that a peer repeating a page token cannot
// loop a report for ever.
const maxPages = 1000

// NewGRPCSources reads the peers through their gRPC clients. The tenant
// travels as every reporting call's does: the connections are dialled with
// pkg/grpcclient, which forwards the caller the context carries.
func NewGRPCSources(calc calculatorv1.CalculatorServiceClient, hot hotspotv1.HotspotServiceClient, eng engagementv1.EngagementServiceClient) Sources {
	return grpcSources{calc: calc, hot: hot, eng: eng}
}

type grpcSources struct {
	calc calculatorv1.CalculatorServiceClient
	hot  hotspotv1.HotspotServiceClient
	eng  engagementv1.EngagementServiceClient
}

// Peers' errors are returned as they come: they are gRPC statuses, whose
// code and message the caller should see.

// asOfErr names the report's field in the calculator's refusal of a read as
// of day asOf (its months log starting after it): the request's fields
// were checked, so the day is what it refuses.
func asOfErr(asOf string, err error) error {
	if asOf != "" && status.Code(err) == codes.InvalidArgument {
		return apperr.Invalid("report.as_of_date", "the calculator cannot read the inventory by month as of %s: %s", asOf, status.Convert(err).Message())
	}
	return err
}

func basisOf(b calculatorv1.GwpBasis) string {
	if b == calculatorv1.GwpBasis_GWP_BASIS_UNSPECIFIED {
		return ""
	}
	return strings.TrimPrefix(b.String(), "GWP_BASIS_")
}

func basisEnum(s string) calculatorv1.GwpBasis {
	return calculatorv1.GwpBasis(calculatorv1.GwpBasis_value["GWP_BASIS_"+s])
}

func timeOf(t *timestamppb.Timestamp) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.AsTime()
}

func (s grpcSources) Inventory(ctx context.Context, q InventoryQuery) (Inventory, error) {
	resp, err := s.calc.GetInventory(ctx, &calculatorv1.GetInventoryRequest{
		GwpBasis: basisEnum(q.GWPBasis), Snapshot: q.Snapshot, AsOfDate: q.AsOfDate, Iterations: q.Iterations, IncludeGroups: q.IncludeGroups,
		PeriodStart: q.PeriodStart, PeriodEnd: q.PeriodEnd, IncludeMonths: q.IncludeMonths,
	})
	if err != nil {
		return Inventory{}, asOfErr(q.AsOfDate, err)
	}
	inv := Inventory{
		GWPBasis: basisOf(resp.GetGwpBasis()), AsOfDate: resp.GetAsOfDate(), Snapshot: resp.GetSnapshot(),
		TotalKg: resp.GetTotalKgCo2E(), LineCount: resp.GetLineCount(), Methods: methodShares(resp.GetMethods()),
		DataQuality: dataQuality(resp.GetDataQuality()), Uncertainty: uncertainty(resp.GetUncertainty()),
		Iterations: resp.GetIterations(), Seed: resp.GetSeed(), GroupCount: resp.GetGroupCount(), FactorCount: resp.GetFactorCount(),
		ReadTime: timeOf(resp.GetReadTime()),
	}
	for _, c := range resp.GetCategories() {
		inv.Categories = append(inv.Categories, Category{
			Number: int(c.GetCategory()), Title: c.GetTitle(), Kg: c.GetKgCo2E(), LineCount: c.GetLineCount(),
			Methods: methodShares(c.GetMethods()), DataQuality: dataQuality(c.GetDataQuality()), Uncertainty: uncertainty(c.GetUncertainty()),
		})
	}
	for _, m := range resp.GetMonths() {
		inv.Months = append(inv.Months, Total{Key: m.GetMonth(), Label: m.GetMonth(), Kg: m.GetKgCo2E(), Count: m.GetLineCount()})
	}
	for _, g := range resp.GetGroups() {
		inv.Groups = append(inv.Groups, Group{
			Category: int(g.GetCategory()), Factor: g.GetFactor(), Method: g.GetMethod(), Indicators: g.GetIndicators(),
			Kg: g.GetKgCo2E(), LineCount: g.GetLineCount(),
		})
	}
	return inv, nil
}

func methodShares(ms []*calculatorv1.MethodShare) []MethodShare {
	out := make([]MethodShare, len(ms))
	for i, m := range ms {
		out[i] = MethodShare{Method: m.GetMethod(), Kg: m.GetKgCo2E(), LineCount: m.GetLineCount()}
	}
	return out
}

func dataQuality(q *calculatorv1.DataQuality) DataQuality {
	return DataQuality{Technology: q.GetTechnology(), Time: q.GetTime(), Geography: q.GetGeography(),
		Completeness: q.GetCompleteness(), Reliability: q.GetReliability(), Score: q.GetScore()}
}

func uncertainty(u *calculatorv1.UncertaintyRange) Uncertainty {
	return Uncertainty{P5: u.GetP5(), P50: u.GetP50(), P95: u.GetP95()}
}

func (s grpcSources) MonthTotals(ctx context.Context, basis, asOf string) ([]Total, error) {
	resp, err := s.calc.SummarizeEmissions(ctx, &calculatorv1.SummarizeEmissionsRequest{
		GroupBy: calculatorv1.SummaryDimension_SUMMARY_DIMENSION_MONTH, GwpBasis: basisEnum(basis), AsOfDate: asOf,
	})
	if err != nil {
		return nil, asOfErr(asOf, err)
	}
	if resp.GetAsOfDate() != asOf {
		// A calculator that does not know the day would chart today's months.
		return nil, fmt.Errorf("reports: the calculator read months as of %q, the report is as of %q", resp.GetAsOfDate(), asOf)
	}
	out := make([]Total, len(resp.GetGroups()))
	for i, g := range resp.GetGroups() {
		out[i] = Total{Key: g.GetKey(), Label: g.GetLabel(), Kg: g.GetKgCo2E(), Spend: g.GetSpendUsd(), Count: g.GetTransactionCount()}
	}
	return out, nil
}

func (s grpcSources) SupplierMethods(ctx context.Context, suppliers []string, q ParetoQuery) (SupplierMethods, error) {
	resp, err := s.calc.BatchGetSupplierMethods(ctx, &calculatorv1.BatchGetSupplierMethodsRequest{SupplierIds: suppliers,
		GwpBasis: basisEnum(q.GWPBasis), PeriodStart: q.PeriodStart, PeriodEnd: q.PeriodEnd, Snapshot: q.Snapshot, AsOfDate: q.AsOfDate})
	if err != nil {
		return SupplierMethods{}, err
	}
	out := SupplierMethods{ParetoQuery: ParetoQuery{GWPBasis: basisOf(resp.GetGwpBasis()), PeriodStart: resp.GetPeriodStart(), PeriodEnd: resp.GetPeriodEnd(),
		Snapshot: resp.GetSnapshot(), AsOfDate: resp.GetAsOfDate()}, Methods: make(map[string][]MethodShare, len(resp.GetSuppliers()))}
	for _, sm := range resp.GetSuppliers() {
		out.Methods[sm.GetSupplierId()] = methodShares(sm.GetMethods())
	}
	return out, nil
}

func (s grpcSources) SupplierPareto(ctx context.Context, topN int32, q ParetoQuery) (Pareto, error) {
	resp, err := s.hot.AnalyzeSupplierPareto(ctx, &hotspotv1.AnalyzeSupplierParetoRequest{TopN: topN, GwpBasis: basisEnum(q.GWPBasis),
		PeriodStart: q.PeriodStart, PeriodEnd: q.PeriodEnd, Snapshot: q.Snapshot, AsOfDate: q.AsOfDate})
	if err != nil {
		return Pareto{}, err
	}
	p := Pareto{ParetoQuery: ParetoQuery{GWPBasis: basisOf(resp.GetGwpBasis()), PeriodStart: resp.GetPeriodStart(), PeriodEnd: resp.GetPeriodEnd(),
		Snapshot: resp.GetSnapshot(), AsOfDate: resp.GetAsOfDate()}, TotalKg: resp.GetTotalKgCo2E(), SupplierCount: resp.GetSupplierCount(), Threshold: resp.GetThreshold(), ThresholdCount: resp.GetThresholdSupplierCount()}
	for _, e := range resp.GetEntries() {
		p.Entries = append(p.Entries, ParetoEntry{
			Rank: e.GetRank(), SupplierID: strings.TrimPrefix(e.GetSupplier(), "suppliers/"), Name: e.GetSupplierDisplayName(),
			Kg: e.GetKgCo2E(), Spend: e.GetSpendUsd(), InThresholdSet: e.GetInThresholdSet(),
		})
	}
	return p, nil
}

// Engagements reads every campaign, newest first, so each supplier keeps
// the first (latest) campaign that targets it.
func (s grpcSources) Engagements(ctx context.Context) (map[string]Engagement, error) {
	out := map[string]Engagement{}
	token := ""
	for range maxPages {
		resp, err := s.eng.ListCampaigns(ctx, &engagementv1.ListCampaignsRequest{PageSize: 1000, PageToken: token})
		if err != nil {
			return nil, err
		}
		for _, c := range resp.GetCampaigns() {
			for _, t := range c.GetTargets() {
				id := strings.TrimPrefix(t.GetSupplier(), "suppliers/")
				if _, ok := out[id]; ok {
					continue
				}
				e := Engagement{Campaign: c.GetName(), CampaignName: c.GetDisplayName(),
					Status: strings.ToLower(strings.ReplaceAll(strings.TrimPrefix(t.GetStatus().String(), "TARGET_STATUS_"), "_", " ")), Since: timeOf(c.GetCreateTime())}
				switch t.GetStatus() {
				case engagementv1.TargetStatus_TARGET_STATUS_DATA_RECEIVED:
					e.Since = timeOf(t.GetDataReceiveTime())
				case engagementv1.TargetStatus_TARGET_STATUS_DECLINED:
					e.Since = timeOf(t.GetDeclineTime())
				case engagementv1.TargetStatus_TARGET_STATUS_INVITED, engagementv1.TargetStatus_TARGET_STATUS_SUBMITTED,
					engagementv1.TargetStatus_TARGET_STATUS_UNSPECIFIED:
					// Since the campaign began.
				}
				out[id] = e
			}
		}
		if token = resp.GetNextPageToken(); token == "" {
			return out, nil
		}
	}
	return nil, fmt.Errorf("reports: ListCampaigns: more than %d pages", maxPages)
}

var supplierFactorKinds = map[calculatorv1.SupplierFactorKind]string{
	calculatorv1.SupplierFactorKind_SUPPLIER_FACTOR_KIND_COMPANY: methodSupplierCompany,
	calculatorv1.SupplierFactorKind_SUPPLIER_FACTOR_KIND_PRODUCT: methodSupplierProduct,
}

func (s grpcSources) SupplierFactors(ctx context.Context) ([]SupplierFactor, error) {
	var out []SupplierFactor
	token := ""
	for range maxPages {
		resp, err := s.calc.ListSupplierFactors(ctx, &calculatorv1.ListSupplierFactorsRequest{PageSize: 1000, PageToken: token})
		if err != nil {
			return nil, err
		}
		for _, f := range resp.GetSupplierFactors() {
			out = append(out, SupplierFactor{SupplierID: f.GetSupplierId(), Kind: supplierFactorKinds[f.GetKind()],
				ReportingYear: f.GetReportingYear(), Verified: f.GetVerified(), ValidFrom: f.GetValidFrom(), ValidTo: f.GetValidTo()})
		}
		if token = resp.GetNextPageToken(); token == "" {
			return out, nil
		}
	}
	return nil, fmt.Errorf("reports: ListSupplierFactors: more than %d pages", maxPages)
}

func (s grpcSources) Settings(ctx context.Context) (Settings, error) {
	resp, err := s.calc.GetCalculationSettings(ctx, &calculatorv1.GetCalculationSettingsRequest{})
	if err != nil {
		return Settings{}, err
	}
	return Settings{GWPBasis: basisOf(resp.GetGwpBasis()), BaseYear: resp.GetBaseYear(), SignificanceThresholdPercent: resp.GetSignificanceThresholdPercent(),
		SpendFactorSet: resp.GetSpendFactorSet(), ActivityFactorSet: resp.GetActivityFactorSet()}, nil
}

func (s grpcSources) Recalculations(ctx context.Context) ([]Recalculation, error) {
	var out []Recalculation
	token := ""
	for range maxPages {
		resp, err := s.calc.ListRecalculations(ctx, &calculatorv1.ListRecalculationsRequest{PageSize: 100, PageToken: token})
		if err != nil {
			return nil, err
		}
		for _, r := range resp.GetRecalculations() {
			out = append(out, Recalculation{
				Name: r.GetName(), Reason: r.GetReason(), SupplierID: r.GetSupplierId(), FactorSet: r.GetFactorSet(), Year: r.GetYear(),
				BaseYear: r.GetBaseYear(), Significant: r.GetSignificant(),
				State:     strings.ToLower(strings.TrimPrefix(r.GetState().String(), "RECALCULATION_STATE_")),
				LineCount: r.GetLineCount(), LinesChanged: r.GetLinesChanged(),
				KgBefore: r.GetKgCo2EBefore(), KgAfter: r.GetKgCo2EAfter(), ChangePct: r.GetChangePercent(),
				CreateTime: timeOf(r.GetCreateTime()), FinishTime: timeOf(r.GetFinishTime()),
			})
		}
		if token = resp.GetNextPageToken(); token == "" {
			return out, nil
		}
	}
	return nil, fmt.Errorf("reports: ListRecalculations: more than %d pages", maxPages)
}

func (s grpcSources) FactorSets(ctx context.Context) ([]FactorSet, error) {
	resp, err := s.calc.ListFactorSets(ctx, &calculatorv1.ListFactorSetsRequest{})
	if err != nil {
		return nil, err
	}
	out := make([]FactorSet, len(resp.GetFactorSets()))
	for i, f := range resp.GetFactorSets() {
		out[i] = FactorSet{Name: f.GetName(), DisplayName: f.GetDisplayName(), Publisher: f.GetPublisher(), Version: f.GetVersion(),
			Source: f.GetSource(), Region: f.GetRegion(), Year: f.GetYear()}
	}
	return out, nil
}

func (s grpcSources) Snapshots(ctx context.Context) ([]Snapshot, error) {
	resp, err := s.calc.ListInventorySnapshots(ctx, &calculatorv1.ListInventorySnapshotsRequest{})
	if err != nil {
		return nil, err
	}
	out := make([]Snapshot, len(resp.GetSnapshots()))
	for i, sn := range resp.GetSnapshots() {
		out[i] = Snapshot{Name: sn.GetName(), DisplayName: sn.GetDisplayName(), CreateTime: timeOf(sn.GetCreateTime()),
			GWPBasis: basisOf(sn.GetGwpBasis()), TotalKg: sn.GetTotalKgCo2E(), Months: sn.GetMonthsRecorded(), Suppliers: sn.GetSuppliersRecorded()}
	}
	return out, nil
}

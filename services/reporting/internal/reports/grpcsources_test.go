package reports_test

import (
	"context"
	"errors"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/vcci-dev/vcci/pkg/apperr"
	calculatorv1 "github.com/vcci-dev/vcci/pkg/gen/vcci/calculator/v1"
	commonv1 "github.com/vcci-dev/vcci/pkg/gen/vcci/common/v1"
	engagementv1 "github.com/vcci-dev/vcci/pkg/gen/vcci/engagement/v1"
	hotspotv1 "github.com/vcci-dev/vcci/pkg/gen/vcci/hotspot/v1"
	"github.com/vcci-dev/vcci/pkg/testsupport"
	"github.com/vcci-dev/vcci/services/reporting/internal/reports"
)

// keys records the API keys the fake peers were called with.
type keys struct {
	mu   sync.Mutex
	seen []string
}

func (k *keys) record(ctx context.Context) {
	md, _ := metadata.FromIncomingContext(ctx)
	k.mu.Lock()
	defer k.mu.Unlock()
	k.seen = append(k.seen, md.Get("x-api-key")...)
}

type fakeCalc struct {
	calculatorv1.UnimplementedCalculatorServiceServer
	*keys
	invReq *calculatorv1.GetInventoryRequest
	sumReq *calculatorv1.SummarizeEmissionsRequest
	mixReq *calculatorv1.BatchGetSupplierMethodsRequest
}

func (f *fakeCalc) BatchGetSupplierMethods(ctx context.Context, req *calculatorv1.BatchGetSupplierMethodsRequest) (*calculatorv1.BatchGetSupplierMethodsResponse, error) {
	f.record(ctx)
	f.mixReq = req
	return &calculatorv1.BatchGetSupplierMethodsResponse{GwpBasis: req.GetGwpBasis(), PeriodStart: req.GetPeriodStart(), PeriodEnd: req.GetPeriodEnd(),
		AsOfDate: req.GetAsOfDate(),
		Suppliers: []*calculatorv1.SupplierMethods{{SupplierId: "S1", TotalKgCo2E: "12.5000000", LineCount: 3, Methods: []*calculatorv1.MethodShare{
			{Method: "supplier-company", KgCo2E: "10.0000000", LineCount: 1, Share: 0.8}, {Method: "spend-based", KgCo2E: "2.5000000", LineCount: 2, Share: 0.2}}}}}, nil
}

func (f *fakeCalc) GetInventory(ctx context.Context, req *calculatorv1.GetInventoryRequest) (*calculatorv1.Inventory, error) {
	f.record(ctx)
	f.invReq = req
	if req.GetAsOfDate() == "2020-01-01" { // before the tenant's months log starts
		return nil, status.Error(codes.InvalidArgument, "period_start: months are logged from 2026-12-07: as of 2020-01-01 the inventory is read whole, without a period or months")
	}
	return &calculatorv1.Inventory{
		GwpBasis: calculatorv1.GwpBasis_GWP_BASIS_AR6, Snapshot: req.GetSnapshot(), TotalKgCo2E: "12.5000000", LineCount: 3,
		Categories: []*calculatorv1.InventoryCategory{{
			Category: commonv1.ScopeCategory_SCOPE_CATEGORY_BUSINESS_TRAVEL, Title: "Business travel", KgCo2E: "12.5000000", LineCount: 3, Share: 1,
			Methods:     []*calculatorv1.MethodShare{{Method: "average-data", KgCo2E: "12.5000000", LineCount: 3, Share: 1}},
			DataQuality: &calculatorv1.DataQuality{Score: "2.20"}, Uncertainty: &calculatorv1.UncertaintyRange{P5: "10.1", P50: "12.6", P95: "15.2"},
		}},
		Methods:     []*calculatorv1.MethodShare{{Method: "average-data", KgCo2E: "12.5000000", LineCount: 3, Share: 1}},
		DataQuality: &calculatorv1.DataQuality{Technology: "2.00", Time: "1.00", Geography: "3.00", Completeness: "3.00", Reliability: "2.00", Score: "2.20"},
		Iterations:  10000, Seed: 1, GroupCount: 1, FactorCount: 1,
		Groups: []*calculatorv1.InventoryGroup{{Category: commonv1.ScopeCategory_SCOPE_CATEGORY_BUSINESS_TRAVEL, Factor: "factorSets/desnz-2024/factors/hotel.uk.room-night",
			Method: "average-data", Indicators: "21332", KgCo2E: "12.5000000", LineCount: 3, Sigma2: 0.01}},
		Months:   []*calculatorv1.InventoryMonth{{Month: "2024-03", KgCo2E: "12.5000000", LineCount: 3}},
		ReadTime: timestamppb.New(time.Date(2026, 12, 6, 6, 0, 0, 0, time.UTC)),
	}, nil
}

func (f *fakeCalc) SummarizeEmissions(ctx context.Context, req *calculatorv1.SummarizeEmissionsRequest) (*calculatorv1.SummarizeEmissionsResponse, error) {
	f.record(ctx)
	f.sumReq = req
	switch req.GetAsOfDate() {
	case "2020-01-01": // before the tenant's months log starts
		return nil, status.Error(codes.InvalidArgument, "as_of_date: months are logged from 2026-12-07: 2020-01-01 is before")
	case "2026-01-31":
		return &calculatorv1.SummarizeEmissionsResponse{AsOfDate: req.GetAsOfDate(),
			Groups: []*commonv1.EmissionTotal{{Key: "2024-05", KgCo2E: "10.0000000", SpendUsd: "250.0000", TransactionCount: 2}}}, nil
	}
	return &calculatorv1.SummarizeEmissionsResponse{Groups: []*commonv1.EmissionTotal{{Key: "2024-05", KgCo2E: "12.5000000", SpendUsd: "300.0000", TransactionCount: 3}}}, nil
}

func (f *fakeCalc) GetCalculationSettings(ctx context.Context, _ *calculatorv1.GetCalculationSettingsRequest) (*calculatorv1.CalculationSettings, error) {
	f.record(ctx)
	return &calculatorv1.CalculationSettings{GwpBasis: calculatorv1.GwpBasis_GWP_BASIS_AR6, BaseYear: 2023, SignificanceThresholdPercent: "5",
		SpendFactorSet: "factorSets/epa-supply-chain-v1.3.0", ActivityFactorSet: "factorSets/desnz-2024"}, nil
}

// ListRecalculations answers in two pages.
func (f *fakeCalc) ListRecalculations(ctx context.Context, req *calculatorv1.ListRecalculationsRequest) (*calculatorv1.ListRecalculationsResponse, error) {
	f.record(ctx)
	if req.GetPageToken() == "" {
		return &calculatorv1.ListRecalculationsResponse{NextPageToken: "p2", Recalculations: []*calculatorv1.Recalculation{{
			Name: "recalculations/2", Reason: "base year", BaseYear: true, Year: 2023, State: calculatorv1.RecalculationState_RECALCULATION_STATE_SUCCEEDED,
			LineCount: 10, LinesChanged: 4, KgCo2EBefore: "100.0000000", KgCo2EAfter: "106.0000000", ChangePercent: "6.00", Significant: true,
			CreateTime: timestamppb.New(time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)),
		}}}, nil
	}
	return &calculatorv1.ListRecalculationsResponse{Recalculations: []*calculatorv1.Recalculation{{
		Name: "recalculations/1", Reason: "supplier figure", SupplierId: "S1", State: calculatorv1.RecalculationState_RECALCULATION_STATE_FAILED,
	}}}, nil
}

func (f *fakeCalc) ListFactorSets(ctx context.Context, _ *calculatorv1.ListFactorSetsRequest) (*calculatorv1.ListFactorSetsResponse, error) {
	f.record(ctx)
	return &calculatorv1.ListFactorSetsResponse{FactorSets: []*calculatorv1.FactorSet{{
		Name: "factorSets/desnz-2024", DisplayName: "UK DESNZ 2024", Publisher: "DESNZ", Version: "1.1", Region: "GB", Year: 2024, Source: "gov.uk",
	}}}, nil
}

func (f *fakeCalc) ListInventorySnapshots(ctx context.Context, _ *calculatorv1.ListInventorySnapshotsRequest) (*calculatorv1.ListInventorySnapshotsResponse, error) {
	f.record(ctx)
	return &calculatorv1.ListInventorySnapshotsResponse{Snapshots: []*calculatorv1.InventorySnapshot{{
		Name: "inventorySnapshots/7", DisplayName: "FY2024 as reported", GwpBasis: calculatorv1.GwpBasis_GWP_BASIS_AR5, TotalKgCo2E: "12.5000000",
		CreateTime: timestamppb.New(time.Date(2025, 3, 31, 12, 0, 0, 0, time.UTC)),
	}}}, nil
}

func (f *fakeCalc) ListSupplierFactors(ctx context.Context, _ *calculatorv1.ListSupplierFactorsRequest) (*calculatorv1.ListSupplierFactorsResponse, error) {
	f.record(ctx)
	return &calculatorv1.ListSupplierFactorsResponse{SupplierFactors: []*calculatorv1.SupplierFactor{{
		SupplierId: "S2", Kind: calculatorv1.SupplierFactorKind_SUPPLIER_FACTOR_KIND_PRODUCT, ReportingYear: 2024, ValidFrom: "2024-01-01", ValidTo: "2024-12-31",
	}}}, nil
}

type fakeHotspot struct {
	hotspotv1.UnimplementedHotspotServiceServer
	*keys
	topN     int32
	basis    calculatorv1.GwpBasis
	from, to string
}

func (f *fakeHotspot) AnalyzeSupplierPareto(ctx context.Context, req *hotspotv1.AnalyzeSupplierParetoRequest) (*hotspotv1.AnalyzeSupplierParetoResponse, error) {
	f.record(ctx)
	f.topN, f.basis, f.from, f.to = req.GetTopN(), req.GetGwpBasis(), req.GetPeriodStart(), req.GetPeriodEnd()
	return &hotspotv1.AnalyzeSupplierParetoResponse{GwpBasis: req.GetGwpBasis(), PeriodStart: req.GetPeriodStart(), PeriodEnd: req.GetPeriodEnd(),
		AsOfDate: req.GetAsOfDate(), TotalKgCo2E: "12.5000000", SupplierCount: 1, Threshold: 0.8, ThresholdSupplierCount: 1,
		Entries: []*hotspotv1.ParetoEntry{{Rank: 1, Supplier: "suppliers/S1", SupplierDisplayName: "Acme", KgCo2E: "12.5000000", SpendUsd: "300.0000", Share: 1, CumulativeShare: 1, InThresholdSet: true}}}, nil
}

type fakeEngagement struct {
	engagementv1.UnimplementedEngagementServiceServer
	*keys
}

// ListCampaigns lists the newer campaign on the first page, as the
// service lists newest first.
func (f *fakeEngagement) ListCampaigns(ctx context.Context, req *engagementv1.ListCampaignsRequest) (*engagementv1.ListCampaignsResponse, error) {
	f.record(ctx)
	target := func(s string) *engagementv1.CampaignTarget {
		return &engagementv1.CampaignTarget{Supplier: "suppliers/" + s, Status: engagementv1.TargetStatus_TARGET_STATUS_INVITED}
	}
	if req.GetPageToken() == "" {
		s1 := target("S1")
		s1.Status, s1.DataReceiveTime = engagementv1.TargetStatus_TARGET_STATUS_DATA_RECEIVED, timestamppb.New(time.Date(2026, 5, 2, 0, 0, 0, 0, time.UTC))
		return &engagementv1.ListCampaignsResponse{NextPageToken: "older", Campaigns: []*engagementv1.Campaign{{
			Name: "campaigns/2", DisplayName: "Q2", Targets: []*engagementv1.CampaignTarget{s1},
			CreateTime: timestamppb.New(time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)),
		}}}, nil
	}
	s3 := target("S3")
	s3.Status, s3.DeclineTime = engagementv1.TargetStatus_TARGET_STATUS_DECLINED, timestamppb.New(time.Date(2026, 2, 3, 0, 0, 0, 0, time.UTC))
	return &engagementv1.ListCampaignsResponse{Campaigns: []*engagementv1.Campaign{{
		Name: "campaigns/1", DisplayName: "Q1", Targets: []*engagementv1.CampaignTarget{target("S1"), target("S2"), s3},
		CreateTime: timestamppb.New(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)),
	}}}, nil
}

func TestGRPCSources(t *testing.T) {
	k := &keys{}
	calc, hot, eng := &fakeCalc{keys: k}, &fakeHotspot{keys: k}, &fakeEngagement{keys: k}
	s := grpc.NewServer()
	calculatorv1.RegisterCalculatorServiceServer(s, calc)
	hotspotv1.RegisterHotspotServiceServer(s, hot)
	engagementv1.RegisterEngagementServiceServer(s, eng)
	cc := testsupport.ServeInMemory(t, s)
	src := reports.NewGRPCSources(calculatorv1.NewCalculatorServiceClient(cc), hotspotv1.NewHotspotServiceClient(cc), engagementv1.NewEngagementServiceClient(cc))
	ctx := testsupport.WithKey(testsupport.APIKey)

	if _, err := src.Inventory(ctx, reports.InventoryQuery{PeriodStart: "2024-04", PeriodEnd: "2025-03"}); err != nil {
		t.Fatal(err)
	}
	if r := calc.invReq; r.GetPeriodStart() != "2024-04" || r.GetPeriodEnd() != "2025-03" || r.GetSnapshot() != "" {
		t.Errorf("GetInventory request of a period = %v", r)
	}
	inv, err := src.Inventory(ctx, reports.InventoryQuery{Snapshot: "inventorySnapshots/7", GWPBasis: "AR6", Iterations: 100, IncludeGroups: true, IncludeMonths: true})
	if err != nil {
		t.Fatal(err)
	}
	if r := calc.invReq; r.GetGwpBasis() != calculatorv1.GwpBasis_GWP_BASIS_AR6 || r.GetSnapshot() != "inventorySnapshots/7" || r.GetIterations() != 100 || !r.GetIncludeGroups() || !r.GetIncludeMonths() {
		t.Errorf("GetInventory request = %v", r)
	}
	want := reports.Inventory{
		GWPBasis: "AR6", Snapshot: "inventorySnapshots/7", TotalKg: "12.5000000", LineCount: 3,
		Categories: []reports.Category{{Number: 6, Title: "Business travel", Kg: "12.5000000", LineCount: 3,
			Methods:     []reports.MethodShare{{Method: "average-data", Kg: "12.5000000", LineCount: 3}},
			DataQuality: reports.DataQuality{Score: "2.20"}, Uncertainty: reports.Uncertainty{P5: "10.1", P50: "12.6", P95: "15.2"}}},
		Methods:     []reports.MethodShare{{Method: "average-data", Kg: "12.5000000", LineCount: 3}},
		DataQuality: reports.DataQuality{Technology: "2.00", Time: "1.00", Geography: "3.00", Completeness: "3.00", Reliability: "2.00", Score: "2.20"},
		Iterations:  10000, Seed: 1, GroupCount: 1, FactorCount: 1,
		Groups:   []reports.Group{{Category: 6, Factor: "factorSets/desnz-2024/factors/hotel.uk.room-night", Method: "average-data", Indicators: "21332", Kg: "12.5000000", LineCount: 3}},
		Months:   []reports.Total{{Key: "2024-03", Label: "2024-03", Kg: "12.5000000", Count: 3}},
		ReadTime: time.Date(2026, 12, 6, 6, 0, 0, 0, time.UTC),
	}
	if !reflect.DeepEqual(inv, want) {
		t.Errorf("Inventory =\n%+v\nwant\n%+v", inv, want)
	}

	months, err := src.MonthTotals(ctx, "AR6", "")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(months, []reports.Total{{Key: "2024-05", Kg: "12.5000000", Spend: "300.0000", Count: 3}}) ||
		calc.sumReq.GetGroupBy() != calculatorv1.SummaryDimension_SUMMARY_DIMENSION_MONTH || calc.sumReq.GetGwpBasis() != calculatorv1.GwpBasis_GWP_BASIS_AR6 {
		t.Errorf("MonthTotals = %v from %v", months, calc.sumReq)
	}

	// As of a day, the months are the calculator's of that day, and a
	// calculator that answers with today's is refused.
	months, err = src.MonthTotals(ctx, "AR6", "2026-01-31")
	if err != nil {
		t.Fatal(err)
	}
	if r := calc.sumReq; !slices.Equal(months, []reports.Total{{Key: "2024-05", Kg: "10.0000000", Spend: "250.0000", Count: 2}}) ||
		r.GetAsOfDate() != "2026-01-31" || r.GetGroupBy() != calculatorv1.SummaryDimension_SUMMARY_DIMENSION_MONTH || r.GetGwpBasis() != calculatorv1.GwpBasis_GWP_BASIS_AR6 {
		t.Errorf("MonthTotals as of a day = %v from %v", months, r)
	}
	if _, err = src.MonthTotals(ctx, "AR6", "2026-02-01"); err == nil || !strings.Contains(err.Error(), `months as of "", the report is as of "2026-02-01"`) {
		t.Errorf("MonthTotals answered with today's months: %v", err)
	}
	// The calculator's refusal of a day names the report's field.
	_, err = src.Inventory(ctx, reports.InventoryQuery{AsOfDate: "2020-01-01", PeriodStart: "2024-01", PeriodEnd: "2024-12"})
	var ae *apperr.Error
	if !errors.As(err, &ae) || len(ae.Violations) != 1 || ae.Violations[0].Field != "report.as_of_date" || !strings.Contains(ae.Msg, "months are logged from 2026-12-07") {
		t.Errorf("Inventory before the months log = %v, want report.as_of_date named", err)
	}
	_, err = src.MonthTotals(ctx, "AR6", "2020-01-01")
	if !errors.As(err, &ae) || len(ae.Violations) != 1 || ae.Violations[0].Field != "report.as_of_date" || !strings.Contains(ae.Msg, "months are logged from 2026-12-07") {
		t.Errorf("MonthTotals before the months log = %v, want report.as_of_date named", err)
	}

	q := reports.ParetoQuery{GWPBasis: "AR6", PeriodStart: "2024-01", PeriodEnd: "2024-06", AsOfDate: "2026-01-31"}
	mix, err := src.SupplierMethods(ctx, []string{"S1", "S2"}, q)
	if err != nil {
		t.Fatal(err)
	}
	if r := calc.mixReq; !slices.Equal(r.GetSupplierIds(), []string{"S1", "S2"}) || r.GetGwpBasis() != calculatorv1.GwpBasis_GWP_BASIS_AR6 ||
		r.GetPeriodStart() != "2024-01" || r.GetPeriodEnd() != "2024-06" || r.GetAsOfDate() != "2026-01-31" {
		t.Errorf("BatchGetSupplierMethods request = %v", r)
	}
	if !reflect.DeepEqual(mix, reports.SupplierMethods{ParetoQuery: q, Methods: map[string][]reports.MethodShare{
		"S1": {{Method: "supplier-company", Kg: "10.0000000", LineCount: 1}, {Method: "spend-based", Kg: "2.5000000", LineCount: 2}}}}) {
		t.Errorf("SupplierMethods = %+v", mix)
	}

	settings, err := src.Settings(ctx)
	if err != nil || settings != (reports.Settings{GWPBasis: "AR6", BaseYear: 2023, SignificanceThresholdPercent: "5",
		SpendFactorSet: "factorSets/epa-supply-chain-v1.3.0", ActivityFactorSet: "factorSets/desnz-2024"}) {
		t.Errorf("Settings = %+v, %v", settings, err)
	}

	recalcs, err := src.Recalculations(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(recalcs) != 2 || recalcs[0].State != "succeeded" || !recalcs[0].BaseYear || recalcs[0].KgAfter != "106.0000000" || recalcs[0].ChangePct != "6.00" ||
		recalcs[1].State != "failed" || recalcs[1].SupplierID != "S1" || !recalcs[1].CreateTime.IsZero() {
		t.Errorf("Recalculations = %+v", recalcs)
	}

	sets, err := src.FactorSets(ctx)
	if err != nil || !slices.Equal(sets, []reports.FactorSet{{Name: "factorSets/desnz-2024", DisplayName: "UK DESNZ 2024", Publisher: "DESNZ", Version: "1.1", Source: "gov.uk", Region: "GB", Year: 2024}}) {
		t.Errorf("FactorSets = %+v, %v", sets, err)
	}

	snaps, err := src.Snapshots(ctx)
	if err != nil || !slices.Equal(snaps, []reports.Snapshot{{Name: "inventorySnapshots/7", DisplayName: "FY2024 as reported",
		CreateTime: time.Date(2025, 3, 31, 12, 0, 0, 0, time.UTC), GWPBasis: "AR5", TotalKg: "12.5000000"}}) {
		t.Errorf("Snapshots = %+v, %v", snaps, err)
	}

	figures, err := src.SupplierFactors(ctx)
	if err != nil || !slices.Equal(figures, []reports.SupplierFactor{{SupplierID: "S2", Kind: "supplier-product", ReportingYear: 2024, ValidFrom: "2024-01-01", ValidTo: "2024-12-31"}}) {
		t.Errorf("SupplierFactors = %+v, %v", figures, err)
	}

	q = reports.ParetoQuery{GWPBasis: "AR6", PeriodStart: "2024-04", PeriodEnd: "2025-03", AsOfDate: "2026-01-31"}
	p, err := src.SupplierPareto(ctx, 100, q)
	if err != nil {
		t.Fatal(err)
	}
	if hot.topN != 100 || hot.basis != calculatorv1.GwpBasis_GWP_BASIS_AR6 || hot.from != "2024-04" || hot.to != "2025-03" ||
		!reflect.DeepEqual(p, reports.Pareto{ParetoQuery: q, TotalKg: "12.5000000", SupplierCount: 1, Threshold: 0.8, ThresholdCount: 1,
			Entries: []reports.ParetoEntry{{Rank: 1, SupplierID: "S1", Name: "Acme", Kg: "12.5000000", Spend: "300.0000", InThresholdSet: true}}}) {
		t.Errorf("SupplierPareto = %+v (top_n %d, basis %v, period %s to %s)", p, hot.topN, hot.basis, hot.from, hot.to)
	}

	engaged, err := src.Engagements(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(engaged, map[string]reports.Engagement{
		"S1": {Campaign: "campaigns/2", CampaignName: "Q2", Status: "data received", Since: time.Date(2026, 5, 2, 0, 0, 0, 0, time.UTC)},
		"S2": {Campaign: "campaigns/1", CampaignName: "Q1", Status: "invited", Since: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)},
		"S3": {Campaign: "campaigns/1", CampaignName: "Q1", Status: "declined", Since: time.Date(2026, 2, 3, 0, 0, 0, 0, time.UTC)},
	}) {
		t.Errorf("Engagements = %+v", engaged)
	}

	// Every call carried the caller's key, as pkg/grpcclient forwards it.
	k.mu.Lock()
	seen := slices.Compact(slices.Clone(k.seen))
	calls := len(k.seen)
	k.mu.Unlock()
	if !slices.Equal(seen, []string{testsupport.APIKey}) || calls != 17 {
		t.Errorf("API keys seen = %v over %d calls, want %s on 17", seen, calls, testsupport.APIKey)
	}
}

// A peer's error reaches the caller with its own code.
func TestGRPCSourcesPassErrors(t *testing.T) {
	s := grpc.NewServer()
	calculatorv1.RegisterCalculatorServiceServer(s, calculatorv1.UnimplementedCalculatorServiceServer{})
	cc := testsupport.ServeInMemory(t, s)
	src := reports.NewGRPCSources(calculatorv1.NewCalculatorServiceClient(cc), nil, nil)
	_, err := src.Inventory(testsupport.WithKey(testsupport.APIKey), reports.InventoryQuery{})
	if status.Code(err) != codes.Unimplemented {
		t.Errorf("Inventory = %v, want Unimplemented", err)
	}
}

package grpcapi_test

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.opentelemetry.io/otel/trace/noop"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	calculatorv1 "github.com/vcci-dev/vcci/pkg/gen/vcci/calculator/v1"
	commonv1 "github.com/vcci-dev/vcci/pkg/gen/vcci/common/v1"
	intakev1 "github.com/vcci-dev/vcci/pkg/gen/vcci/intake/v1"
	reportingv1 "github.com/vcci-dev/vcci/pkg/gen/vcci/reporting/v1"
	"github.com/vcci-dev/vcci/pkg/grpcserver"
	"github.com/vcci-dev/vcci/pkg/testsupport"
	"github.com/vcci-dev/vcci/services/reporting/internal/grpcapi"
	"github.com/vcci-dev/vcci/services/reporting/internal/reporting"
)

// calls records the requests a fake peer received, and their API keys.
type calls struct {
	mu       sync.Mutex
	keys     []string
	byMethod map[string][][]string
}

func (c *calls) record(ctx context.Context, method string, args ...string) {
	md, _ := metadata.FromIncomingContext(ctx)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.keys = append(c.keys, md.Get("x-api-key")...)
	if c.byMethod == nil {
		c.byMethod = map[string][][]string{}
	}
	c.byMethod[method] = append(c.byMethod[method], args)
}

// count returns how many calls of method were made, and their args, sorted.
func (c *calls) count(method string) (int, []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.byMethod[method]), slices.Sorted(slices.Values(slices.Concat(c.byMethod[method]...)))
}

func (c *calls) apiKeys() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Compact(slices.Clone(c.keys))
}

type fakeCalculator struct {
	calculatorv1.UnimplementedCalculatorServiceServer
	calls
	sums   map[calculatorv1.SummaryDimension]*calculatorv1.SummarizeEmissionsResponse
	titles map[string]string // NAICS code -> title
	fail   atomic.Int32      // a dimension whose summary fails
}

func (f *fakeCalculator) SummarizeEmissions(ctx context.Context, req *calculatorv1.SummarizeEmissionsRequest) (*calculatorv1.SummarizeEmissionsResponse, error) {
	f.record(ctx, "SummarizeEmissions", fmt.Sprintf("%s=%d", req.GetGroupBy(), req.GetLimit()))
	if int32(req.GetGroupBy()) == f.fail.Load() {
		return nil, status.Error(codes.Unavailable, "fake: calculator is down")
	}
	full := f.sums[req.GetGroupBy()]
	if full == nil { // a tenant with no data
		return &calculatorv1.SummarizeEmissionsResponse{TotalKgCo2E: "0", TotalSpendUsd: "0"}, nil
	}
	resp := &calculatorv1.SummarizeEmissionsResponse{
		Groups: full.GetGroups(), TotalKgCo2E: full.GetTotalKgCo2E(), TotalSpendUsd: full.GetTotalSpendUsd(),
		TransactionCount: full.GetTransactionCount(), GroupCount: int32(len(full.GetGroups())),
	}
	if l := int(req.GetLimit()); l > 0 && l < len(resp.GetGroups()) {
		resp.Groups = resp.GetGroups()[:l]
	}
	return resp, nil
}

func (f *fakeCalculator) BatchGetFactors(ctx context.Context, req *calculatorv1.BatchGetFactorsRequest) (*calculatorv1.BatchGetFactorsResponse, error) {
	f.record(ctx, "BatchGetFactors", req.GetNames()...)
	resp := &calculatorv1.BatchGetFactorsResponse{}
	for _, n := range req.GetNames() {
		code := n[len("factorSets/epa-supply-chain-v1.3.0/factors/"):]
		if title, ok := f.titles[code]; ok {
			resp.Factors = append(resp.Factors, &calculatorv1.Factor{Name: n, Code: code, Title: title, Value: "0.5"})
		}
	}
	return resp, nil
}

func (f *fakeCalculator) ListFactorSets(ctx context.Context, _ *calculatorv1.ListFactorSetsRequest) (*calculatorv1.ListFactorSetsResponse, error) {
	f.record(ctx, "ListFactorSets")
	return &calculatorv1.ListFactorSetsResponse{FactorSets: []*calculatorv1.FactorSet{{Name: "factorSets/epa-supply-chain-v1.3.0", Version: "1.3.0"}}}, nil
}

type fakeIntake struct {
	intakev1.UnimplementedIntakeServiceServer
	calls
	names map[string]string // supplier id -> display name
}

func (f *fakeIntake) BatchGetSuppliers(ctx context.Context, req *intakev1.BatchGetSuppliersRequest) (*intakev1.BatchGetSuppliersResponse, error) {
	f.record(ctx, "BatchGetSuppliers", req.GetNames()...)
	resp := &intakev1.BatchGetSuppliersResponse{}
	for _, n := range req.GetNames() {
		if name, ok := f.names[n[len("suppliers/"):]]; ok {
			resp.Suppliers = append(resp.Suppliers, &intakev1.Supplier{Name: n, DisplayName: name})
		}
	}
	return resp, nil
}

// start runs reporting on the shared server bootstrap (authentication, error
// mapping) against the fakes, and returns a client of it.
func start(t *testing.T, calc *fakeCalculator, in *fakeIntake) reportingv1.ReportingServiceClient {
	t.Helper()
	calcSrv, intakeSrv := grpc.NewServer(), grpc.NewServer()
	calculatorv1.RegisterCalculatorServiceServer(calcSrv, calc)
	intakev1.RegisterIntakeServiceServer(intakeSrv, in)
	calcClient := calculatorv1.NewCalculatorServiceClient(testsupport.Dial(t, testsupport.Serve(t, calcSrv)))
	intakeClient := intakev1.NewIntakeServiceClient(testsupport.Dial(t, testsupport.Serve(t, intakeSrv)))
	svc := reporting.New(grpcapi.Calculator{Client: calcClient}, grpcapi.Labels{Suppliers: intakeClient, Factors: calcClient})
	srv := grpcserver.New(grpcserver.Options{
		Name: "reporting", Log: slog.New(slog.DiscardHandler), TracerProvider: noop.NewTracerProvider(), Auth: testsupport.KeyAuth{Tenant: uuid.New()},
	})
	reportingv1.RegisterReportingServiceServer(srv.GRPC, grpcapi.New(svc, nil))
	return reportingv1.NewReportingServiceClient(testsupport.Dial(t, testsupport.Start(t, srv)))
}

// withKey is a context whose calls carry the key the service accepts.
func withKey() context.Context { return testsupport.WithKey(testsupport.APIKey) }

func g(key, kg, spend string, n int64, share float64) *commonv1.EmissionTotal {
	return &commonv1.EmissionTotal{Key: key, KgCo2E: kg, SpendUsd: spend, TransactionCount: n, Share: share}
}

func summary(groups ...*commonv1.EmissionTotal) *calculatorv1.SummarizeEmissionsResponse {
	return &calculatorv1.SummarizeEmissionsResponse{Groups: groups, TotalKgCo2E: "1000.0000000", TotalSpendUsd: "2000.0000", TransactionCount: 42}
}

func acme() (*fakeCalculator, *fakeIntake) {
	return &fakeCalculator{
			sums: map[calculatorv1.SummaryDimension]*calculatorv1.SummarizeEmissionsResponse{
				calculatorv1.SummaryDimension_SUMMARY_DIMENSION_SUPPLIER: summary(
					g("S1", "600.0000000", "1100.0000", 20, 0.6), g("S2", "300.0000000", "800.0000", 15, 0.3),
					g("S3", "100.5000000", "101.0000", 6, 0.1005), g("S4", "-0.5000000", "-1.0000", 1, -0.0005)),
				calculatorv1.SummaryDimension_SUMMARY_DIMENSION_NAICS: summary(
					g("331110", "700.0000000", "1000.0000", 30, 0.7), g("541511", "200.0000000", "900.0000", 10, 0.2),
					g("999999", "100.0000000", "100.0000", 2, 0.1)),
				calculatorv1.SummaryDimension_SUMMARY_DIMENSION_CATEGORY: summary(
					g("1", "900.0000000", "1900.0000", 40, 0.9), g("2", "100.0000000", "100.0000", 2, 0.1)),
				calculatorv1.SummaryDimension_SUMMARY_DIMENSION_MONTH: summary(
					g("2024-01", "400.0000000", "900.0000", 22, 0.4), g("2024-02", "600.0000000", "1100.0000", 20, 0.6)),
			},
			titles: map[string]string{"331110": "Iron and steel mills and ferroalloy manufacturing", "541511": "Custom computer programming services"},
		}, &fakeIntake{
			names: map[string]string{"S1": "Acme Steel", "S2": "Globex", "S3": "Initech"},
		}
}

type line struct {
	key, label, kg, spend string
	n                     int64
	share                 float64
}

func check(t *testing.T, what string, got []*commonv1.EmissionTotal, want []line) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d groups, want %d: %v", what, len(got), len(want), got)
	}
	for i, w := range want {
		e := got[i]
		if e.GetKey() != w.key || e.GetLabel() != w.label || e.GetKgCo2E() != w.kg || e.GetSpendUsd() != w.spend || e.GetTransactionCount() != w.n || e.GetShare() != w.share {
			t.Errorf("%s[%d] = %v, want %+v", what, i, e, w)
		}
	}
}

func TestGetInventorySummary(t *testing.T) {
	calc, in := acme()
	client := start(t, calc, in)
	before := time.Now()
	inv, err := client.GetInventorySummary(withKey(), &reportingv1.GetInventorySummaryRequest{TopN: 2})
	if err != nil {
		t.Fatal(err)
	}
	if inv.GetTotalKgCo2E() != "1000.0000000" || inv.GetTotalSpendUsd() != "2000.0000" || inv.GetTransactionCount() != 42 ||
		inv.GetSupplierCount() != 4 || inv.GetNaicsCount() != 3 {
		t.Fatalf("totals = %s kg %s USD %d lines, %d suppliers %d naics", inv.GetTotalKgCo2E(), inv.GetTotalSpendUsd(),
			inv.GetTransactionCount(), inv.GetSupplierCount(), inv.GetNaicsCount())
	}
	check(t, "by_supplier", inv.GetBySupplier(), []line{
		{"S1", "Acme Steel", "600.0000000", "1100.0000", 20, 0.6}, {"S2", "Globex", "300.0000000", "800.0000", 15, 0.3},
	})
	check(t, "by_naics", inv.GetByNaics(), []line{
		{"331110", "Iron and steel mills and ferroalloy manufacturing", "700.0000000", "1000.0000", 30, 0.7},
		{"541511", "Custom computer programming services", "200.0000000", "900.0000", 10, 0.2},
	})
	check(t, "by_category", inv.GetByCategory(), []line{
		{"1", "Purchased goods and services", "900.0000000", "1900.0000", 40, 0.9}, {"2", "Capital goods", "100.0000000", "100.0000", 2, 0.1},
	})
	check(t, "by_month", inv.GetByMonth(), []line{
		{"2024-01", "", "400.0000000", "900.0000", 22, 0.4}, {"2024-02", "", "600.0000000", "1100.0000", 20, 0.6},
	})
	if !slices.Equal(inv.GetFactorSets(), []string{"factorSets/epa-supply-chain-v1.3.0"}) {
		t.Fatalf("factor sets = %v", inv.GetFactorSets())
	}
	if gt := inv.GetGenerateTime().AsTime(); gt.Before(before.Truncate(time.Microsecond)) || gt.After(time.Now()) {
		t.Fatalf("generate time %v is not now", gt)
	}

	// Suppliers and NAICS are cut to top_n; categories and months are whole.
	if _, limits := calc.count("SummarizeEmissions"); !slices.Equal(slices.Sorted(slices.Values(limits)),
		[]string{"SUMMARY_DIMENSION_CATEGORY=0", "SUMMARY_DIMENSION_MONTH=0", "SUMMARY_DIMENSION_NAICS=2", "SUMMARY_DIMENSION_SUPPLIER=2"}) {
		t.Fatalf("summaries asked for: %v", limits)
	}
	// One lookup of each kind, for the listed keys only.
	if n, names := in.count("BatchGetSuppliers"); n != 1 || !slices.Equal(names, []string{"suppliers/S1", "suppliers/S2"}) {
		t.Fatalf("BatchGetSuppliers: %d calls for %v", n, names)
	}
	if n, names := calc.count("BatchGetFactors"); n != 1 || !slices.Equal(names, []string{
		"factorSets/epa-supply-chain-v1.3.0/factors/331110", "factorSets/epa-supply-chain-v1.3.0/factors/541511"}) {
		t.Fatalf("BatchGetFactors: %d calls for %v", n, names)
	}
	// Every peer call was made as the caller.
	if !slices.Equal(calc.apiKeys(), []string{testsupport.APIKey}) || !slices.Equal(in.apiKeys(), []string{testsupport.APIKey}) {
		t.Fatalf("keys seen by calculator %v, intake %v", calc.apiKeys(), in.apiKeys())
	}
}

func TestGetInventorySummaryDefaultTopNLabelsUnknownKeysEmpty(t *testing.T) {
	calc, in := acme()
	client := start(t, calc, in)
	inv, err := client.GetInventorySummary(withKey(), &reportingv1.GetInventorySummaryRequest{})
	if err != nil {
		t.Fatal(err)
	}
	// top_n 0 means 100: every supplier and code here; S4 and 999999 have no label.
	labels := func(gs []*commonv1.EmissionTotal) map[string]string {
		m := map[string]string{}
		for _, g := range gs {
			m[g.GetKey()] = g.GetLabel()
		}
		return m
	}
	if want := map[string]string{"S1": "Acme Steel", "S2": "Globex", "S3": "Initech", "S4": ""}; !maps.Equal(labels(inv.GetBySupplier()), want) {
		t.Fatalf("supplier labels = %v, want %v", labels(inv.GetBySupplier()), want)
	}
	if got := labels(inv.GetByNaics()); len(got) != 3 || got["999999"] != "" || got["331110"] == "" {
		t.Fatalf("naics labels = %v", got)
	}
	if _, limits := calc.count("SummarizeEmissions"); !slices.Contains(limits, "SUMMARY_DIMENSION_SUPPLIER=100") {
		t.Fatalf("summaries asked for %v, want the supplier limit at the default", limits)
	}
}

func TestGetInventorySummaryWithoutData(t *testing.T) {
	calc, in := &fakeCalculator{}, &fakeIntake{}
	client := start(t, calc, in)
	inv, err := client.GetInventorySummary(withKey(), &reportingv1.GetInventorySummaryRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if inv.GetTotalKgCo2E() != "0" || inv.GetTransactionCount() != 0 || inv.GetSupplierCount() != 0 || len(inv.GetByCategory()) != 0 || len(inv.GetFactorSets()) != 0 {
		t.Fatalf("empty inventory = %v", inv)
	}
	if n, _ := in.count("BatchGetSuppliers"); n != 0 {
		t.Fatalf("%d name lookups for no suppliers", n)
	}
}

func TestGetInventorySummaryErrors(t *testing.T) {
	calc, in := acme()
	client := start(t, calc, in)
	for _, topN := range []int32{-1, 1001} {
		_, err := client.GetInventorySummary(withKey(), &reportingv1.GetInventorySummaryRequest{TopN: topN})
		st := status.Convert(err)
		if st.Code() != codes.InvalidArgument || len(st.Details()) != 1 || st.Details()[0].(*errdetails.BadRequest).GetFieldViolations()[0].GetField() != "top_n" {
			t.Fatalf("top_n %d: %v %v", topN, st, st.Details())
		}
	}
	if _, err := client.GetInventorySummary(context.Background(), &reportingv1.GetInventorySummaryRequest{}); status.Code(err) != codes.Unauthenticated {
		t.Fatalf("no key: %v", err)
	}
	// A peer's failure reaches the caller with the peer's code.
	calc.fail.Store(int32(calculatorv1.SummaryDimension_SUMMARY_DIMENSION_MONTH))
	if _, err := client.GetInventorySummary(withKey(), &reportingv1.GetInventorySummaryRequest{}); status.Code(err) != codes.Unavailable {
		t.Fatalf("calculator down: %v", err)
	}
}

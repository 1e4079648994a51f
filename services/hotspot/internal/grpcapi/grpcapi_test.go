package grpcapi_test

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"testing"

	"github.com/google/uuid"
	"go.opentelemetry.io/otel/trace/noop"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	calculatorv1 "github.com/vcci-dev/vcci/pkg/gen/vcci/calculator/v1"
	commonv1 "github.com/vcci-dev/vcci/pkg/gen/vcci/common/v1"
	hotspotv1 "github.com/vcci-dev/vcci/pkg/gen/vcci/hotspot/v1"
	intakev1 "github.com/vcci-dev/vcci/pkg/gen/vcci/intake/v1"
	"github.com/vcci-dev/vcci/pkg/grpcserver"
	"github.com/vcci-dev/vcci/pkg/testsupport"
	"github.com/vcci-dev/vcci/services/hotspot/internal/grpcapi"
	"github.com/vcci-dev/vcci/services/hotspot/internal/hotspot"
)

// keyLog records the API key each peer call carried.
type keyLog struct {
	mu   sync.Mutex
	seen []string
}

func (k *keyLog) seenKeys() []string {
	k.mu.Lock()
	defer k.mu.Unlock()
	return slices.Clone(k.seen)
}

func (k *keyLog) record(ctx context.Context) {
	md, _ := metadata.FromIncomingContext(ctx)
	k.mu.Lock()
	defer k.mu.Unlock()
	k.seen = append(k.seen, md.Get("x-api-key")...)
}

type fakeCalculator struct {
	calculatorv1.UnimplementedCalculatorServiceServer
	keyLog
	groups []*commonv1.EmissionTotal
	asked  []calculatorv1.GwpBasis // the bases asked for, in order
	period []string                // the periods asked for, "start end snapshot day"
}

// tenantBasis is the fake tenant's GWP basis, the answer's when none is asked.
const tenantBasis = calculatorv1.GwpBasis_GWP_BASIS_AR6

func (f *fakeCalculator) SummarizeEmissions(ctx context.Context, req *calculatorv1.SummarizeEmissionsRequest) (*calculatorv1.SummarizeEmissionsResponse, error) {
	f.record(ctx)
	if req.GetGroupBy() != calculatorv1.SummaryDimension_SUMMARY_DIMENSION_SUPPLIER || req.GetLimit() != 0 {
		return nil, status.Errorf(codes.InvalidArgument, "fake: unexpected request %v", req)
	}
	f.mu.Lock()
	f.asked = append(f.asked, req.GetGwpBasis())
	f.period = append(f.period, req.GetPeriodStart()+" "+req.GetPeriodEnd()+" "+req.GetSnapshot()+" "+req.GetAsOfDate())
	f.mu.Unlock()
	basis := req.GetGwpBasis()
	if basis == calculatorv1.GwpBasis_GWP_BASIS_UNSPECIFIED {
		basis = tenantBasis
	}
	return &calculatorv1.SummarizeEmissionsResponse{Groups: f.groups, GroupCount: int32(len(f.groups)), GwpBasis: basis,
		PeriodStart: req.GetPeriodStart(), PeriodEnd: req.GetPeriodEnd(), Snapshot: req.GetSnapshot(), AsOfDate: req.GetAsOfDate()}, nil
}

type fakeIntake struct {
	intakev1.UnimplementedIntakeServiceServer
	keyLog
	names map[string]string // supplier id -> display name
	calls [][]string
}

func (f *fakeIntake) BatchGetSuppliers(ctx context.Context, req *intakev1.BatchGetSuppliersRequest) (*intakev1.BatchGetSuppliersResponse, error) {
	f.record(ctx)
	f.mu.Lock()
	f.calls = append(f.calls, slices.Clone(req.GetNames()))
	f.mu.Unlock()
	resp := &intakev1.BatchGetSuppliersResponse{}
	for _, n := range req.GetNames() {
		if name, ok := f.names[n[len("suppliers/"):]]; ok {
			resp.Suppliers = append(resp.Suppliers, &intakev1.Supplier{Name: n, DisplayName: name})
		}
	}
	return resp, nil
}

// batches returns the BatchGetSuppliers requests since the last call.
func (f *fakeIntake) batches() [][]string {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.calls
	f.calls = nil
	return c
}

// start runs hotspot on the shared server bootstrap (authentication, error
// mapping) against the fakes, and returns a client of it.
func start(t *testing.T, calc *fakeCalculator, in *fakeIntake) hotspotv1.HotspotServiceClient {
	t.Helper()
	calcSrv, intakeSrv := grpc.NewServer(), grpc.NewServer()
	calculatorv1.RegisterCalculatorServiceServer(calcSrv, calc)
	intakev1.RegisterIntakeServiceServer(intakeSrv, in)
	svc := hotspot.New(
		grpcapi.Calculator{Client: calculatorv1.NewCalculatorServiceClient(testsupport.Dial(t, testsupport.Serve(t, calcSrv)))},
		grpcapi.Suppliers{Client: intakev1.NewIntakeServiceClient(testsupport.Dial(t, testsupport.Serve(t, intakeSrv)))},
	)
	srv := grpcserver.New(grpcserver.Options{
		Name: "hotspot", Log: slog.New(slog.DiscardHandler), TracerProvider: noop.NewTracerProvider(), Auth: testsupport.KeyAuth{Tenant: uuid.New()},
	})
	hotspotv1.RegisterHotspotServiceServer(srv.GRPC, grpcapi.New(svc))
	return hotspotv1.NewHotspotServiceClient(testsupport.Dial(t, testsupport.Start(t, srv)))
}

// withKey is a context whose calls carry the key the service accepts.
func withKey() context.Context { return testsupport.WithKey(testsupport.APIKey) }

func group(key, kg, spend string) *commonv1.EmissionTotal {
	return &commonv1.EmissionTotal{Key: key, KgCo2E: kg, SpendUsd: spend}
}

func TestAnalyzeSupplierPareto(t *testing.T) {
	calc := &fakeCalculator{groups: []*commonv1.EmissionTotal{
		// Out of order on purpose: hotspot must rank them itself.
		group("S4", "-50.0000000", "-100.0000"),
		group("S5", "150.0000000", "300.0000"),
		group("S1", "249.8750000", "499.7500"),
		group("S2", "150.0000000", "310.0000"),
		group("S3", "500.1250000", "1000.2500"),
	}}
	in := &fakeIntake{names: map[string]string{"S1": "Acme Steel", "S3": "Globex", "S5": "Initech", "S4": "Umbrella"}}
	client := start(t, calc, in)

	resp, err := client.AnalyzeSupplierPareto(withKey(), &hotspotv1.AnalyzeSupplierParetoRequest{TopN: 4})
	if err != nil {
		t.Fatal(err)
	}
	// Net total 1000: the cumulative shares are 0.500125, 0.75, 0.9, so the
	// default threshold of 0.8 is crossed by the third supplier.
	if resp.GetTotalKgCo2E() != "1000.0000000" || resp.GetSupplierCount() != 5 || resp.GetThreshold() != 0.8 || resp.GetThresholdSupplierCount() != 3 {
		t.Fatalf("response = total %s suppliers %d threshold %g count %d", resp.GetTotalKgCo2E(), resp.GetSupplierCount(), resp.GetThreshold(), resp.GetThresholdSupplierCount())
	}
	want := []*hotspotv1.ParetoEntry{
		{Rank: 1, Supplier: "suppliers/S3", SupplierDisplayName: "Globex", KgCo2E: "500.1250000", SpendUsd: "1000.2500", Share: 0.500125, CumulativeShare: 0.500125, InThresholdSet: true},
		{Rank: 2, Supplier: "suppliers/S1", SupplierDisplayName: "Acme Steel", KgCo2E: "249.8750000", SpendUsd: "499.7500", Share: 0.249875, CumulativeShare: 0.75, InThresholdSet: true},
		{Rank: 3, Supplier: "suppliers/S2", SupplierDisplayName: "", KgCo2E: "150.0000000", SpendUsd: "310.0000", Share: 0.15, CumulativeShare: 0.9, InThresholdSet: true},
		{Rank: 4, Supplier: "suppliers/S5", SupplierDisplayName: "Initech", KgCo2E: "150.0000000", SpendUsd: "300.0000", Share: 0.15, CumulativeShare: 1.05, InThresholdSet: false},
	}
	if len(resp.GetEntries()) != len(want) {
		t.Fatalf("%d entries, want %d", len(resp.GetEntries()), len(want))
	}
	for i, w := range want {
		e := resp.GetEntries()[i]
		if e.GetRank() != w.GetRank() || e.GetSupplier() != w.GetSupplier() || e.GetSupplierDisplayName() != w.GetSupplierDisplayName() || e.GetKgCo2E() != w.GetKgCo2E() ||
			e.GetSpendUsd() != w.GetSpendUsd() || e.GetShare() != w.GetShare() || e.GetCumulativeShare() != w.GetCumulativeShare() || e.GetInThresholdSet() != w.GetInThresholdSet() {
			t.Errorf("entry %d = %v, want %v", i, e, w)
		}
	}
	// Names of the returned entries only, in one call; S2 is unknown to intake.
	if calls := in.batches(); len(calls) != 1 || !slices.Equal(slices.Sorted(slices.Values(calls[0])), []string{"suppliers/S1", "suppliers/S2", "suppliers/S3", "suppliers/S5"}) {
		t.Fatalf("BatchGetSuppliers calls = %v", calls)
	}
	// Both peers were called as the caller.
	if !slices.Equal(calc.seenKeys(), []string{testsupport.APIKey}) || !slices.Equal(in.seenKeys(), []string{testsupport.APIKey}) {
		t.Fatalf("keys seen by calculator %v, intake %v", calc.seenKeys(), in.seenKeys())
	}
}

func TestAnalyzeSupplierParetoDefaultsAndOneNameCall(t *testing.T) {
	calc := &fakeCalculator{}
	in := &fakeIntake{names: map[string]string{}}
	for i := 1; i <= 300; i++ {
		id := fmt.Sprintf("S%03d", i)
		calc.groups = append(calc.groups, group(id, fmt.Sprintf("%d.5", i), "1"))
		in.names[id] = "Supplier " + id
	}
	client := start(t, calc, in)

	resp, err := client.AnalyzeSupplierPareto(withKey(), &hotspotv1.AnalyzeSupplierParetoRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.GetEntries()) != hotspot.DefaultTopN || resp.GetThreshold() != hotspot.DefaultThreshold || resp.GetSupplierCount() != 300 {
		t.Fatalf("defaults: %d entries, threshold %g, %d suppliers", len(resp.GetEntries()), resp.GetThreshold(), resp.GetSupplierCount())
	}
	// sum(i + 0.5, i = 1..300) = 45150 + 150.
	if resp.GetTotalKgCo2E() != "45300.0" || resp.GetEntries()[0].GetSupplier() != "suppliers/S300" || resp.GetEntries()[0].GetKgCo2E() != "300.5" {
		t.Fatalf("total %s, first %v", resp.GetTotalKgCo2E(), resp.GetEntries()[0])
	}

	in.batches()
	resp, err = client.AnalyzeSupplierPareto(withKey(), &hotspotv1.AnalyzeSupplierParetoRequest{TopN: 250, Threshold: 0.5})
	if err != nil {
		t.Fatal(err)
	}
	if calls := in.batches(); len(resp.GetEntries()) != 250 || len(calls) != 1 || len(calls[0]) != 250 {
		t.Fatalf("%d entries resolved with %d BatchGetSuppliers calls", len(resp.GetEntries()), len(calls))
	}
	for _, e := range resp.GetEntries() {
		if e.GetSupplierDisplayName() != "Supplier "+e.GetSupplier()[len("suppliers/"):] {
			t.Fatalf("entry %v has the wrong name", e)
		}
	}
}

func TestAnalyzeSupplierParetoRefusesBadInput(t *testing.T) {
	client := start(t, &fakeCalculator{}, &fakeIntake{})
	for _, c := range []struct {
		req   *hotspotv1.AnalyzeSupplierParetoRequest
		field string
	}{
		{&hotspotv1.AnalyzeSupplierParetoRequest{TopN: 1001}, "top_n"},
		{&hotspotv1.AnalyzeSupplierParetoRequest{TopN: -1}, "top_n"},
		{&hotspotv1.AnalyzeSupplierParetoRequest{Threshold: 1.5}, "threshold"},
		{&hotspotv1.AnalyzeSupplierParetoRequest{Threshold: -0.2}, "threshold"},
		{&hotspotv1.AnalyzeSupplierParetoRequest{GwpBasis: 9}, "gwp_basis"},
	} {
		t.Run(c.field, func(t *testing.T) {
			_, err := client.AnalyzeSupplierPareto(withKey(), c.req)
			st := status.Convert(err)
			if st.Code() != codes.InvalidArgument || len(st.Details()) != 1 {
				t.Fatalf("status = %v", st)
			}
			br, ok := st.Details()[0].(*errdetails.BadRequest)
			if !ok || br.GetFieldViolations()[0].GetField() != c.field {
				t.Fatalf("details = %v, want a violation of %s", st.Details(), c.field)
			}
		})
	}
	if _, err := client.AnalyzeSupplierPareto(context.Background(), &hotspotv1.AnalyzeSupplierParetoRequest{}); status.Code(err) != codes.Unauthenticated {
		t.Fatalf("no key: %v", err)
	}
}

// The ranking is under the basis asked for, or the tenant's, and says which.
func TestAnalyzeSupplierParetoUnderABasis(t *testing.T) {
	calc := &fakeCalculator{groups: []*commonv1.EmissionTotal{group("S1", "10.0000000", "20.0000")}}
	client := start(t, calc, &fakeIntake{names: map[string]string{}})
	for _, c := range []struct{ ask, want calculatorv1.GwpBasis }{
		{calculatorv1.GwpBasis_GWP_BASIS_UNSPECIFIED, tenantBasis},
		{calculatorv1.GwpBasis_GWP_BASIS_AR4, calculatorv1.GwpBasis_GWP_BASIS_AR4},
		{calculatorv1.GwpBasis_GWP_BASIS_AR5, calculatorv1.GwpBasis_GWP_BASIS_AR5},
	} {
		resp, err := client.AnalyzeSupplierPareto(withKey(), &hotspotv1.AnalyzeSupplierParetoRequest{GwpBasis: c.ask})
		if err != nil || resp.GetGwpBasis() != c.want || resp.GetTotalKgCo2E() != "10.0000000" {
			t.Fatalf("asked %v: %v, %v; want the ranking under %v", c.ask, resp, err, c.want)
		}
	}
	if want := []calculatorv1.GwpBasis{0, 1, 2}; !slices.Equal(calc.asked, want) {
		t.Fatalf("the calculator was asked for %v, want %v", calc.asked, want)
	}
}

// The ranking is of the period and snapshot or day asked for, passed to
// the calculator, and says which.
func TestAnalyzeSupplierParetoOfAPeriod(t *testing.T) {
	calc := &fakeCalculator{groups: []*commonv1.EmissionTotal{group("S1", "10.0000000", "20.0000")}}
	client := start(t, calc, &fakeIntake{names: map[string]string{}})
	resp, err := client.AnalyzeSupplierPareto(withKey(), &hotspotv1.AnalyzeSupplierParetoRequest{PeriodStart: "2024-04", PeriodEnd: "2025-03"})
	if err != nil || resp.GetPeriodStart() != "2024-04" || resp.GetPeriodEnd() != "2025-03" || resp.GetTotalKgCo2E() != "10.0000000" {
		t.Fatalf("Pareto of April 2024 to March 2025: %v, %v", resp, err)
	}
	if resp, err = client.AnalyzeSupplierPareto(withKey(), &hotspotv1.AnalyzeSupplierParetoRequest{}); err != nil || resp.GetPeriodStart() != "" || resp.GetSnapshot() != "" {
		t.Fatalf("Pareto of every line: %v, %v", resp, err)
	}
	resp, err = client.AnalyzeSupplierPareto(withKey(), &hotspotv1.AnalyzeSupplierParetoRequest{PeriodStart: "2024-01", PeriodEnd: "2024-12",
		Snapshot: "inventorySnapshots/3"})
	if err != nil || resp.GetSnapshot() != "inventorySnapshots/3" || resp.GetPeriodEnd() != "2024-12" {
		t.Fatalf("Pareto of 2024 as snapshot 3 recorded it: %v, %v", resp, err)
	}
	resp, err = client.AnalyzeSupplierPareto(withKey(), &hotspotv1.AnalyzeSupplierParetoRequest{PeriodStart: "2024-01", PeriodEnd: "2024-12",
		AsOfDate: "2025-03-31"})
	if err != nil || resp.GetAsOfDate() != "2025-03-31" || resp.GetSnapshot() != "" {
		t.Fatalf("Pareto of 2024 as of 2025-03-31: %v, %v", resp, err)
	}
	if want := []string{"2024-04 2025-03  ", "   ", "2024-01 2024-12 inventorySnapshots/3 ", "2024-01 2024-12  2025-03-31"}; !slices.Equal(calc.period, want) {
		t.Fatalf("the calculator was asked for %q, want %q", calc.period, want)
	}
}

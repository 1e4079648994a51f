package grpcapi_test

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.opentelemetry.io/otel/trace/noop"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	calculatorv1 "github.com/vcci-dev/vcci/pkg/gen/vcci/calculator/v1"
	commonv1 "github.com/vcci-dev/vcci/pkg/gen/vcci/common/v1"
	"github.com/vcci-dev/vcci/pkg/grpcserver"
	"github.com/vcci-dev/vcci/pkg/pagetoken"
	"github.com/vcci-dev/vcci/pkg/testsupport"
	"github.com/vcci-dev/vcci/services/calculator/internal/cache"
	"github.com/vcci-dev/vcci/services/calculator/internal/calculator"
	"github.com/vcci-dev/vcci/services/calculator/internal/grpcapi"
	"github.com/vcci-dev/vcci/services/calculator/internal/store"
)

// calcServer is the calculator over a migrated database behind the real
// server stack (authentication, scopes, error mapping, metrics), with its
// factor cache in process as in production, over TCP.
func calcServer(tb testing.TB) *grpc.ClientConn {
	tb.Helper()
	pool := testsupport.NewPool(tb, "calculator", store.Migrate)
	tenant := testsupport.Tenant(tb, pool, "a")
	caches := cache.New(nil, slog.New(slog.DiscardHandler), nil)
	tb.Cleanup(caches.Close)
	svc := calculator.New(store.New(pool), caches.Summaries, caches.Factors, caches.Settings)
	srv := grpcserver.New(grpcserver.Options{Name: "calculator", Log: slog.New(slog.DiscardHandler), TracerProvider: noop.NewTracerProvider(),
		Auth: testsupport.KeyAuth{Tenant: tenant}})
	calculatorv1.RegisterCalculatorServiceServer(srv.GRPC, grpcapi.New(svc, pagetoken.New([]byte("0123456789abcdef0123456789abcdef"))))
	return testsupport.Dial(tb, testsupport.Serve(tb, srv.GRPC))
}

func keyCtx() context.Context { return testsupport.WithKey(testsupport.APIKey) }

// eur is 100 EUR of steel on 2024-06-14: 100 / 0.9291 = 107.6310 USD;
// x 292.655 / 314.175 = 100.2586 2022 USD; x 0.787 = 78.9035182 kg.
func eur(id string) *calculatorv1.SpendLine {
	return &calculatorv1.SpendLine{TransactionId: id, Date: "2024-06-14", NaicsCode: "331110", Currency: "EUR", Amount: "100"}
}

func TestCalculateAnswersWithProvenanceAndStoresNothing(t *testing.T) {
	cc := calcServer(t)
	calc := calculatorv1.NewCalculatorServiceClient(cc)
	r, err := calc.Calculate(keyCtx(), &calculatorv1.CalculateRequest{Line: eur("E1")})
	if err != nil {
		t.Fatal(err)
	}
	if r.GetName() != "emissionResults/E1" || r.GetKgCo2E() != "78.9035182" || r.GetAmountUsd() != "107.6310" || r.GetAmountBaseUsd() != "100.2586" ||
		r.GetFxRate() != "0.9291" || r.GetFxMonth() != "2024-06" || r.GetPriceIndex() != "314.175" || r.GetPriceIndexBase() != "292.655" ||
		r.GetFactor() != "factorSets/epa-supply-chain-v1.3.0/factors/331110" || r.GetMethod() != "spend-based" || r.GetUpload() != "" ||
		r.GetCategory() != commonv1.ScopeCategory(1) || r.GetCalculateTime() == nil {
		t.Fatalf("Calculate = %v", r)
	}
	if _, err := calc.GetEmissionResult(keyCtx(), &calculatorv1.GetEmissionResultRequest{Name: "emissionResults/E1"}); status.Code(err) != codes.NotFound {
		t.Fatalf("GetEmissionResult after Calculate: %v, want NotFound: nothing is stored", err)
	}
	// 10 US gal of diesel = 37.85411784 L x 2.51279 = 95.1194488 kg; no
	// transaction id, no name.
	r, err = calc.Calculate(keyCtx(), &calculatorv1.CalculateRequest{Line: &calculatorv1.SpendLine{Date: "2024-03-10",
		Activity: "fuels.liquid-fuels.diesel-average-biofuel-blend.litre", Quantity: "10", Unit: "gal", Category: 1}})
	if err != nil {
		t.Fatal(err)
	}
	if r.GetName() != "" || r.GetKgCo2E() != "95.1194488" || r.GetFactorQuantity() != "37.85411784" || r.GetKgCo2EAr4() != "95.2733602" ||
		r.GetUnitConversion() != "1 us-gallon = 3.785411784 litre" || fmt.Sprint(r.GetGases()) == "[]" || r.GetMethod() != "average-data" {
		t.Fatalf("Calculate(diesel) = %v", r)
	}
}

func TestBatchCalculateTotalsExactly(t *testing.T) {
	calc := calculatorv1.NewCalculatorServiceClient(calcServer(t))
	// As TestCurrencyLinesAreConvertedAndRecorded stores them:
	// 78.9035182 - 24.9245808 + 4643.9438447 + 7.330905.
	lines := []*calculatorv1.SpendLine{eur("E1"),
		{TransactionId: "E2", Date: "2024-06-30", NaicsCode: "541511", Currency: "GBP", Amount: "-250.50"},
		{TransactionId: "E3", Date: "2024-06-01", NaicsCode: "331110", Currency: "JPY", Amount: "1000000"},
		{TransactionId: "E4", Date: "2024-06-01", NaicsCode: "331110", AmountUsd: "10"}}
	resp, err := calc.BatchCalculate(keyCtx(), &calculatorv1.BatchCalculateRequest{Lines: lines})
	if err != nil {
		t.Fatal(err)
	}
	kgs := make([]string, 0, len(resp.GetResults()))
	for _, r := range resp.GetResults() {
		kgs = append(kgs, r.GetName()+"="+r.GetKgCo2E())
	}
	want := "[emissionResults/E1=78.9035182 emissionResults/E2=-24.9245808 emissionResults/E3=4643.9438447 emissionResults/E4=7.3309050]"
	if fmt.Sprint(kgs) != want || resp.GetKgCo2E() != "4705.2536871" || resp.GetLineCount() != 4 {
		t.Fatalf("BatchCalculate = %v, total %s, %d lines; want %s, 4705.2536871", kgs, resp.GetKgCo2E(), resp.GetLineCount(), want)
	}
}

// A stream of any length is calculated a chunk at a time: the total covers
// every line, the results the first 10,000.
func TestStreamCalculateTotalsEveryLine(t *testing.T) {
	calc := calculatorv1.NewCalculatorServiceClient(calcServer(t))
	const n = calculator.MaxCompute + 2500
	stream, err := calc.StreamCalculate(keyCtx())
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if err := stream.Send(&calculatorv1.StreamCalculateRequest{Line: eur(fmt.Sprintf("L%d", i))}); err != nil {
			t.Fatal(err)
		}
	}
	resp, err := stream.CloseAndRecv()
	if err != nil {
		t.Fatal(err)
	}
	// 12,500 x 78.9035182.
	last := resp.GetResults()[len(resp.GetResults())-1]
	if resp.GetKgCo2E() != "986293.9775000" || resp.GetLineCount() != n || len(resp.GetResults()) != calculator.MaxCompute ||
		last.GetName() != "emissionResults/L9999" || last.GetKgCo2E() != "78.9035182" {
		t.Fatalf("StreamCalculate: total %s, %d lines, %d results, last %s", resp.GetKgCo2E(), resp.GetLineCount(), len(resp.GetResults()), last.GetName())
	}
}

func TestCalculateRefusesNamingTheField(t *testing.T) {
	calc := calculatorv1.NewCalculatorServiceClient(calcServer(t))
	bad := &calculatorv1.SpendLine{Date: "2024-01-01", NaicsCode: "331110", AmountUsd: "1e5"}
	unknown := &calculatorv1.SpendLine{Date: "2024-01-01", NaicsCode: "999999", AmountUsd: "1"}
	many := make([]*calculatorv1.SpendLine, calculator.MaxCompute+1)
	for i := range many {
		many[i] = eur("")
	}
	stream := func(at int, l *calculatorv1.SpendLine) error {
		s, err := calc.StreamCalculate(keyCtx())
		if err != nil {
			return err
		}
		for i := range at + 1 {
			req := &calculatorv1.StreamCalculateRequest{Line: eur("")}
			if i == at {
				req.Line = l
			}
			if s.Send(req) != nil {
				break // refused early: CloseAndRecv says why
			}
		}
		_, err = s.CloseAndRecv()
		return err
	}
	for field, call := range map[string]func() error{
		"line": func() error { _, err := calc.Calculate(keyCtx(), &calculatorv1.CalculateRequest{}); return err },
		"line.amount_usd": func() error {
			_, err := calc.Calculate(keyCtx(), &calculatorv1.CalculateRequest{Line: bad})
			return err
		},
		"line.date": func() error {
			_, err := calc.Calculate(keyCtx(), &calculatorv1.CalculateRequest{Line: &calculatorv1.SpendLine{NaicsCode: "331110"}})
			return err
		},
		"lines[1].naics_code": func() error {
			_, err := calc.BatchCalculate(keyCtx(), &calculatorv1.BatchCalculateRequest{Lines: []*calculatorv1.SpendLine{eur(""), unknown}})
			return err
		},
		"lines": func() error {
			_, err := calc.BatchCalculate(keyCtx(), &calculatorv1.BatchCalculateRequest{Lines: many})
			return err
		},
		"lines[1500].amount_usd": func() error { return stream(1500, bad) },
		"lines[3].naics_code":    func() error { return stream(3, unknown) },
	} {
		t.Run(field, func(t *testing.T) {
			if got := violation(call()); got != field {
				t.Fatalf("violation on %q, want %q", got, field)
			}
		})
	}
	// Exactly the bound is calculated.
	resp, err := calc.BatchCalculate(keyCtx(), &calculatorv1.BatchCalculateRequest{Lines: many[1:]})
	if err != nil || resp.GetLineCount() != calculator.MaxCompute || resp.GetKgCo2E() != "789035.1820000" {
		t.Fatalf("BatchCalculate of %d lines: %d lines, %s kg, %v", calculator.MaxCompute, resp.GetLineCount(), resp.GetKgCo2E(), err)
	}
}

// violation is the field of err's first field violation, as a client
// reads it; "" for another error.
func violation(err error) string {
	st, ok := status.FromError(err)
	if !ok || st.Code() != codes.InvalidArgument {
		return ""
	}
	for _, d := range st.Details() {
		if br, ok := d.(*errdetails.BadRequest); ok && len(br.GetFieldViolations()) > 0 {
			return br.GetFieldViolations()[0].GetField()
		}
	}
	return ""
}

// BenchmarkCalculateVersusEmptyRPC measures Calculate of one line and an
// empty RPC (the health check) on the same server stack and connection,
// four calls in flight as bench-api's ghz runs, alternating, and reports
// their rates and the ratio.
func BenchmarkCalculateVersusEmptyRPC(b *testing.B) {
	cc := calcServer(b)
	calc, health := calculatorv1.NewCalculatorServiceClient(cc), healthpb.NewHealthClient(cc)
	ctx := keyCtx()
	req := &calculatorv1.CalculateRequest{Line: eur("E1")}
	if r, err := calc.Calculate(ctx, req); err != nil || r.GetKgCo2E() != "78.9035182" {
		b.Fatalf("Calculate = %v, %v", r, err)
	}
	emptyCall := func() error { _, err := health.Check(ctx, &healthpb.HealthCheckRequest{}); return err }
	calcCall := func() error { _, err := calc.Calculate(ctx, req); return err }
	var empty, full float64
	b.ResetTimer()
	for range 2 {
		empty += callRate(b, emptyCall) / 2
		full += callRate(b, calcCall) / 2
	}
	b.ReportMetric(empty, "empty-rps")
	b.ReportMetric(full, "calculate-rps")
	b.ReportMetric(full/empty, "calculate/empty")
}

// callRate runs call from four goroutines for two seconds and returns the
// calls per second.
func callRate(b *testing.B, call func() error) float64 {
	const workers, d = 4, 2 * time.Second
	var n atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range workers {
		wg.Go(func() {
			for time.Since(start) < d {
				if err := call(); err != nil {
					b.Error(err)
					return
				}
				n.Add(1)
			}
		})
	}
	wg.Wait()
	return float64(n.Load()) / time.Since(start).Seconds()
}

package grpcapi

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	calculatorv1 "github.com/vcci-dev/vcci/pkg/gen/vcci/calculator/v1"
	"github.com/vcci-dev/vcci/services/intake/internal/intake"
)

// sentLines keeps the lines of the CalculateEmissions requests it is sent.
type sentLines struct {
	calculatorv1.CalculatorServiceClient
	lines []*calculatorv1.SpendLine
}

func (s *sentLines) CalculateEmissions(_ context.Context, req *calculatorv1.CalculateEmissionsRequest, _ ...grpc.CallOption) (*calculatorv1.CalculateEmissionsResponse, error) {
	s.lines = append(s.lines, req.GetLines()...)
	return &calculatorv1.CalculateEmissionsResponse{}, nil
}

// A product line goes with its product, quantity, unit and supplier
// country; a spend line with its country only, and an activity line as
// before.
func TestSpendLinesCarryProductAndCountry(t *testing.T) {
	d := time.Date(2024, 6, 14, 0, 0, 0, 0, time.UTC)
	rows := []intake.Row{
		{TransactionID: "P1", Date: d, SupplierID: "S1", NAICS: "331110", Amount: "1200", Currency: "USD", Category: 1,
			ProductID: "STEEL-HR-01", Quantity: "2.5", Unit: "tonne", Country: "DE"},
		{TransactionID: "T1", Date: d, SupplierID: "S2", NAICS: "541511", Amount: "10", Currency: "USD", Category: 1, Country: "FR"},
		{TransactionID: "A1", Date: d, SupplierID: "S3", Amount: "0", Currency: "USD", Category: 3,
			Activity: "fuels.liquid-fuels.diesel-average-biofuel-blend.litre", Quantity: "10", Unit: "gal"},
	}
	c := &sentLines{}
	if _, err := (calculatorClient{c, uuid.New(), "token"}).Calculate(context.Background(), 7, rows); err != nil {
		t.Fatal(err)
	}
	want := [][6]string{
		{"P1", "STEEL-HR-01", "DE", "", "2.5", "tonne"},
		{"T1", "", "FR", "", "", ""},
		{"A1", "", "", "fuels.liquid-fuels.diesel-average-biofuel-blend.litre", "10", "gal"},
	}
	if len(c.lines) != len(want) {
		t.Fatalf("sent %v", c.lines)
	}
	for i, l := range c.lines {
		got := [6]string{l.GetTransactionId(), l.GetProductId(), l.GetSupplierCountry(), l.GetActivity(), l.GetQuantity(), l.GetUnit()}
		if got != want[i] || l.GetAmountUsd() != rows[i].Amount || l.GetNaicsCode() != rows[i].NAICS {
			t.Errorf("line %d = %v (amount %s, naics %s), want %v", i, got, l.GetAmountUsd(), l.GetNaicsCode(), want[i])
		}
	}
}

// failing answers every call with its code, counting the calls.
type failing struct {
	calculatorv1.CalculatorServiceClient
	code  codes.Code
	calls int
}

func (f *failing) CalculateEmissions(context.Context, *calculatorv1.CalculateEmissionsRequest, ...grpc.CallOption) (*calculatorv1.CalculateEmissionsResponse, error) {
	f.calls++
	return nil, status.Error(f.code, "calculator says no")
}

func (f *failing) GetCalculationSettings(context.Context, *calculatorv1.GetCalculationSettingsRequest, ...grpc.CallOption) (*calculatorv1.CalculationSettings, error) {
	f.calls++
	return nil, status.Error(f.code, "calculator says no")
}

// A calculator that cannot be reached is told apart from one that refuses
// the call: only the first makes the upload wait for it, after the
// client's own retries.
func TestUnavailableCalculatorIsMarked(t *testing.T) {
	rows := []intake.Row{{TransactionID: "T1", Date: time.Date(2024, 6, 14, 0, 0, 0, 0, time.UTC), SupplierID: "S1", NAICS: "331110", Amount: "10", Currency: "USD", Category: 1}}
	for _, tc := range []struct {
		code        codes.Code
		calls       int
		unavailable bool
	}{
		{codes.Unavailable, 5, true},
		{codes.Aborted, 5, false},
		{codes.InvalidArgument, 1, false},
	} {
		f := &failing{code: tc.code}
		_, err := (calculatorClient{f, uuid.New(), "token"}).Calculate(context.Background(), 7, rows)
		if f.calls != tc.calls || status.Code(err) != tc.code || errors.Is(err, intake.ErrCalculatorUnavailable) != tc.unavailable {
			t.Errorf("%v: %d calls, error %v; want %d calls, unavailable %v", tc.code, f.calls, err, tc.calls, tc.unavailable)
		}
		// Validation asks the calculator for codes' categories too.
		f.calls = 0
		_, err = newCodeChecker(f, uuid.New(), "token", &sync.Map{}).Categories(context.Background(), []string{"331110"})
		if f.calls != 1 || status.Code(err) != tc.code || errors.Is(err, intake.ErrCalculatorUnavailable) != tc.unavailable {
			t.Errorf("codes, %v: %d calls, error %v; want unavailable %v", tc.code, f.calls, err, tc.unavailable)
		}
	}
}

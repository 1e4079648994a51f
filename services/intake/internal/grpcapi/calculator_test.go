package grpcapi

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"google.golang.org/grpc"

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

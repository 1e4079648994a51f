package grpcapi_test

import (
	"context"
	"errors"
	"testing"

	"github.com/google/uuid"
	"google.golang.org/protobuf/proto"

	"github.com/vcci-dev/vcci/pkg/apperr"
	calculatorv1 "github.com/vcci-dev/vcci/pkg/gen/vcci/calculator/v1"
	"github.com/vcci-dev/vcci/pkg/tenancy"
	"github.com/vcci-dev/vcci/services/calculator/internal/calculator"
	"github.com/vcci-dev/vcci/services/calculator/internal/grpcapi"
)

// A line's upload is its own or the request's; a missing or malformed one
// is refused naming the line, before anything is stored.
func TestCalculateEmissionsNamesTheLineWithoutAnUpload(t *testing.T) {
	api := grpcapi.New(calculator.New(nil, nil, nil, nil), nil) // never reached
	ctx := tenancy.WithTenant(context.Background(), uuid.New(), "key")
	line := func(upload string) *calculatorv1.SpendLine {
		return &calculatorv1.SpendLine{TransactionId: "T1", Date: "2024-01-01", SupplierId: "S1", NaicsCode: "331110", AmountUsd: "1", Upload: upload}
	}
	for name, tc := range map[string]struct {
		req   *calculatorv1.CalculateEmissionsRequest
		field string
	}{
		"no upload anywhere":  {&calculatorv1.CalculateEmissionsRequest{Lines: []*calculatorv1.SpendLine{line("uploads/3"), line("")}}, "lines[1].upload"},
		"malformed line's":    {&calculatorv1.CalculateEmissionsRequest{Upload: "uploads/1", Lines: []*calculatorv1.SpendLine{line("uploads/x")}}, "lines[0].upload"},
		"malformed request's": {&calculatorv1.CalculateEmissionsRequest{Upload: "uploads/0", Lines: []*calculatorv1.SpendLine{line("")}}, "upload"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := api.CalculateEmissions(ctx, tc.req)
			var ae *apperr.Error
			if !errors.As(err, &ae) || ae.Kind != apperr.InvalidArgument || ae.Violations[0].Field != tc.field {
				t.Fatalf("err = %v, want InvalidArgument on %s", err, tc.field)
			}
		})
	}
}

// PostgreSQL's text cannot hold a NUL byte, so a name or line holding one is
// refused naming the field, before any lookup or write (none is reachable
// here) rather than failing there as an internal error.
func TestNULBytesAreRefusedNamingTheField(t *testing.T) {
	api := grpcapi.New(calculator.New(nil, nil, nil, nil), nil) // never reached
	ctx := tenancy.WithTenant(context.Background(), uuid.New(), "key")
	line := &calculatorv1.SpendLine{TransactionId: "T1", Date: "2024-01-01", SupplierId: "S1", NaicsCode: "331110", AmountUsd: "1"}
	withNUL := func(f func(*calculatorv1.SpendLine)) []*calculatorv1.SpendLine {
		l := proto.CloneOf(line)
		f(l)
		return []*calculatorv1.SpendLine{line, l}
	}
	for field, call := range map[string]func() error{
		"name": func() error {
			_, err := api.GetEmissionResult(ctx, &calculatorv1.GetEmissionResultRequest{Name: "emissionResults/T\x001"})
			return err
		},
		"names[1]": func() error {
			_, err := api.BatchGetEmissionResults(ctx, &calculatorv1.BatchGetEmissionResultsRequest{Names: []string{"emissionResults/T1", "emissionResults/\x00"}})
			return err
		},
		"lines[1].transaction_id": func() error {
			_, err := api.CalculateEmissions(ctx, &calculatorv1.CalculateEmissionsRequest{Upload: "uploads/1",
				Lines: withNUL(func(l *calculatorv1.SpendLine) { l.TransactionId = "T\x002" })})
			return err
		},
		"lines[1].supplier_id": func() error {
			_, err := api.CalculateEmissions(ctx, &calculatorv1.CalculateEmissionsRequest{Upload: "uploads/1",
				Lines: withNUL(func(l *calculatorv1.SpendLine) { l.SupplierId = "S1\x00" })})
			return err
		},
	} {
		t.Run(field, func(t *testing.T) {
			var ae *apperr.Error
			if err := call(); !errors.As(err, &ae) || ae.Kind != apperr.InvalidArgument || ae.Violations[0].Field != field {
				t.Fatalf("err = %v, want InvalidArgument on %s", err, field)
			}
		})
	}
}

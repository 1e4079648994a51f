package grpcserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/vcci-dev/vcci/pkg/apperr"
)

func TestToStatus(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	ctx := context.Background()
	for name, tc := range map[string]struct {
		err  error
		code codes.Code
		msg  string
	}{
		"invalid":     {fmt.Errorf("svc.Do: %w", apperr.Invalid("page_size", "must be at most 1000")), codes.InvalidArgument, "page_size: must be at most 1000"},
		"not found":   {apperr.New(apperr.NotFound, "upload not found"), codes.NotFound, "upload not found"},
		"driver text": {errors.New(`ERROR: relation "intake.secret" does not exist`), codes.Internal, "internal error"},
		"canceled":    {fmt.Errorf("x: %w", context.Canceled), codes.Canceled, "request canceled"},
		"downstream":  {status.Error(codes.FailedPrecondition, "no emissions yet"), codes.FailedPrecondition, "no emissions yet"},
		"server shut the connection": {fmt.Errorf("db.InTenant: %w", &pgconn.PgError{Code: "57P01", Message: "terminating connection due to administrator command"}),
			codes.Unavailable, "the database is unavailable; retry shortly"},
	} {
		t.Run(name, func(t *testing.T) {
			st, _ := status.FromError(ToStatus(ctx, log, "/m", tc.err))
			if st.Code() != tc.code || st.Message() != tc.msg {
				t.Fatalf("got %v %q, want %v %q", st.Code(), st.Message(), tc.code, tc.msg)
			}
		})
	}
	st, _ := status.FromError(ToStatus(ctx, log, "/m", apperr.Invalid("rows[3].amount", "not a number")))
	br, ok := st.Details()[0].(*errdetails.BadRequest)
	if !ok || br.GetFieldViolations()[0].GetField() != "rows[3].amount" || br.GetFieldViolations()[0].GetDescription() != "not a number" {
		t.Fatalf("details = %v", st.Details())
	}
}

func TestToStatusSendsTheReason(t *testing.T) {
	err := &apperr.Error{Kind: apperr.FailedPrecondition, Msg: `Idempotency-Key "k" was used for a different body (uploads/3)`,
		Reason: apperr.ReasonIdempotencyKeyReused, Metadata: map[string]string{"upload": "uploads/3"}}
	st, _ := status.FromError(ToStatus(context.Background(), slog.New(slog.DiscardHandler), "/m", fmt.Errorf("store: %w", err)))
	if st.Code() != codes.FailedPrecondition || st.Message() != err.Msg || len(st.Details()) != 1 {
		t.Fatalf("status = %v %q %v", st.Code(), st.Message(), st.Details())
	}
	info, ok := st.Details()[0].(*errdetails.ErrorInfo)
	if !ok || info.GetReason() != apperr.ReasonIdempotencyKeyReused || info.GetDomain() != apperr.Domain || info.GetMetadata()["upload"] != "uploads/3" {
		t.Fatalf("details = %v", st.Details())
	}
}

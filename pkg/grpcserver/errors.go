package grpcserver

import (
	"context"
	"errors"
	"log/slog"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/vcci-dev/vcci/pkg/apperr"
	"github.com/vcci-dev/vcci/pkg/db"
)

// codeOf is the one table from error kinds to gRPC codes.
var codeOf = map[apperr.Kind]codes.Code{
	apperr.Internal:           codes.Internal,
	apperr.InvalidArgument:    codes.InvalidArgument,
	apperr.NotFound:           codes.NotFound,
	apperr.AlreadyExists:      codes.AlreadyExists,
	apperr.FailedPrecondition: codes.FailedPrecondition,
	apperr.Unauthenticated:    codes.Unauthenticated,
	apperr.PermissionDenied:   codes.PermissionDenied,
	apperr.ResourceExhausted:  codes.ResourceExhausted,
	apperr.Unavailable:        codes.Unavailable,
	apperr.Aborted:            codes.Aborted,
}

// ToStatus turns any error into the status a client may see. Internal errors
// are logged here, once, and never show their text to the client.
func ToStatus(ctx context.Context, log *slog.Logger, method string, err error) error {
	if err == nil {
		return nil
	}
	var ae *apperr.Error
	switch {
	case errors.As(err, &ae):
		if ae.Kind == apperr.Internal {
			break
		}
		st := status.New(codeOf[ae.Kind], ae.Msg)
		if len(ae.Violations) > 0 {
			br := &errdetails.BadRequest{}
			for _, v := range ae.Violations {
				br.FieldViolations = append(br.FieldViolations, &errdetails.BadRequest_FieldViolation{Field: v.Field, Description: v.Description})
			}
			if withDetails, derr := st.WithDetails(br); derr == nil {
				st = withDetails
			}
		}
		if ae.Reason != "" {
			info := &errdetails.ErrorInfo{Reason: ae.Reason, Domain: apperr.Domain, Metadata: ae.Metadata}
			if withDetails, derr := st.WithDetails(info); derr == nil {
				st = withDetails
			}
		}
		return st.Err()
	case errors.Is(err, context.Canceled):
		return status.Error(codes.Canceled, "request canceled")
	case errors.Is(err, context.DeadlineExceeded):
		return status.Error(codes.DeadlineExceeded, "deadline exceeded")
	}
	// A status from a downstream service passes through unchanged.
	if st, ok := status.FromError(err); ok && st.Code() != codes.Unknown && ae == nil {
		return err
	}
	// A database connection that broke (a restart, a failover) is the
	// client's to retry, not a fault of the request.
	if db.ConnectionLost(err) {
		log.WarnContext(ctx, "database connection lost", "method", method, "error", err.Error())
		return status.Error(codes.Unavailable, "the database is unavailable; retry shortly")
	}
	log.ErrorContext(ctx, "internal error", "method", method, "error", err.Error())
	return status.Error(codes.Internal, "internal error")
}

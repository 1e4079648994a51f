// Package apperr is the one vocabulary of errors the services share. Business
// packages declare their sentinels with New; the gRPC error interceptor maps
// each Kind to a status code exactly once (see grpcserver).
package apperr

import (
	"errors"
	"fmt"
)

// Kind classifies an error for the caller.
type Kind int

const (
	Internal Kind = iota
	InvalidArgument
	NotFound
	AlreadyExists
	FailedPrecondition
	Unauthenticated
	PermissionDenied
	ResourceExhausted
	Unavailable
	Aborted
)

// Violation names one bad field, or one bad CSV cell.
type Violation struct {
	Field       string
	Description string
}

// Error is an error with a Kind and, for bad input, the fields at fault.
type Error struct {
	Kind       Kind
	Msg        string
	Violations []Violation
	// Reason, when set, is sent as a google.rpc.ErrorInfo (domain Domain,
	// with Metadata) for clients, and the gateway, to tell this error apart
	// from others of its Kind.
	Reason   string
	Metadata map[string]string
}

// Domain is the ErrorInfo domain of every Reason.
const Domain = "vcci"

// ReasonIdempotencyKeyReused says an Idempotency-Key was sent again with a
// different body. Its Kind is FailedPrecondition; the gateway answers 422.
const ReasonIdempotencyKeyReused = "IDEMPOTENCY_KEY_REUSED"

// ReasonReportLinkExpired says a report's download link is past its
// expiry. Its Kind is FailedPrecondition; the gateway answers 410.
const ReasonReportLinkExpired = "REPORT_LINK_EXPIRED"

// ReasonSubmissionLinkExpired says a supplier's submission link is past
// its expiry (the gateway answers 410 Gone).
const ReasonSubmissionLinkExpired = "SUBMISSION_LINK_EXPIRED"

func (e *Error) Error() string { return e.Msg }

// New returns a sentinel-ready error of the given kind.
func New(kind Kind, msg string) *Error { return &Error{Kind: kind, Msg: msg} }

// Invalid reports bad input in one field.
func Invalid(field, format string, args ...any) *Error {
	d := fmt.Sprintf(format, args...)
	return &Error{Kind: InvalidArgument, Msg: field + ": " + d, Violations: []Violation{{Field: field, Description: d}}}
}

// KindOf returns the Kind of the first *Error in err's chain, or Internal.
func KindOf(err error) Kind {
	if e, ok := errors.AsType[*Error](err); ok {
		return e.Kind
	}
	return Internal
}

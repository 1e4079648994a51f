package grpcapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/vcci-dev/vcci/pkg/apperr"
	"github.com/vcci-dev/vcci/services/reporting/internal/reporting"
)

// acceptAll is a Checker that checks nothing against the tenant's data.
type acceptAll struct{}

func (acceptAll) Check(context.Context, uuid.UUID, reporting.Report) error { return nil }

// requestJSON is a Producer that writes the request itself as JSON, so a
// test can tell which request a file was built from.
type requestJSON struct{}

type requestDoc struct {
	Report       int64                 `json:"report"`
	Kind         reporting.Kind        `json:"kind"`
	PeriodStart  string                `json:"periodStart"`
	PeriodEnd    string                `json:"periodEnd"`
	Snapshot     int64                 `json:"snapshot,omitempty"`
	AsOfDate     string                `json:"asOfDate,omitempty"`
	GWPBasis     string                `json:"gwpBasis,omitempty"`
	Organization string                `json:"organization,omitempty"`
	Exclusions   []reporting.Exclusion `json:"exclusions,omitempty"`
}

func (requestJSON) Produce(_ context.Context, _ uuid.UUID, r reporting.Report) ([]byte, error) {
	if r.Format != reporting.FormatJSON {
		return nil, apperr.New(apperr.FailedPrecondition, "the test producer writes JSON only")
	}
	d := requestDoc{Report: r.ID, Kind: r.Kind, PeriodStart: r.PeriodStart.Format(time.DateOnly),
		PeriodEnd: r.PeriodEnd.Format(time.DateOnly), Snapshot: r.Snapshot, GWPBasis: string(r.GWPBasis), Organization: r.Organization,
		Exclusions: r.Exclusions}
	if !r.AsOf.IsZero() {
		d.AsOfDate = r.AsOf.Format(time.DateOnly)
	}
	b, err := json.Marshal(d)
	if err != nil {
		return nil, fmt.Errorf("requestJSON: %w", err)
	}
	return b, nil
}

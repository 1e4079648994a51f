package reporting

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/vcci-dev/vcci/pkg/apperr"
)

// AcceptAll is the Checker that checks nothing against the tenant's data:
// until the report contents are written, a request that Validate passes
// is queued.
type AcceptAll struct{}

func (AcceptAll) Check(context.Context, uuid.UUID, Report) error { return nil }

// RequestJSON is the Producer that renders the request itself as JSON, the
// stand-in until the report contents and renderers are written. Other
// formats fail with a message saying so.
type RequestJSON struct{}

// requestDoc is what RequestJSON writes.
type requestDoc struct {
	Report       int64       `json:"report"`
	Kind         string      `json:"kind"`
	PeriodStart  string      `json:"periodStart"`
	PeriodEnd    string      `json:"periodEnd"`
	Snapshot     int64       `json:"snapshot,omitempty"`
	GWPBasis     string      `json:"gwpBasis,omitempty"`
	Organization string      `json:"organization,omitempty"`
	Exclusions   []Exclusion `json:"exclusions,omitempty"`
}

func (RequestJSON) Produce(_ context.Context, _ uuid.UUID, r Report) ([]byte, error) {
	if r.Format != FormatJSON {
		return nil, apperr.New(apperr.FailedPrecondition, "this report format is not available yet: ask for REPORT_FORMAT_JSON")
	}
	b, err := json.Marshal(requestDoc{Report: r.ID, Kind: r.Kind.slug(), PeriodStart: r.PeriodStart.Format(time.DateOnly),
		PeriodEnd: r.PeriodEnd.Format(time.DateOnly), Snapshot: r.Snapshot, GWPBasis: string(r.GWPBasis), Organization: r.Organization,
		Exclusions: r.Exclusions})
	if err != nil {
		return nil, fmt.Errorf("RequestJSON: %w", err)
	}
	return b, nil
}

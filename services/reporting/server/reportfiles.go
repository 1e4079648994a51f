package server

import (
	"bytes"
	"context"
	"fmt"

	"github.com/google/uuid"

	"github.com/vcci-dev/vcci/pkg/tenancy"
	"github.com/vcci-dev/vcci/services/reporting/internal/render"
	"github.com/vcci-dev/vcci/services/reporting/internal/reporting"
	"github.com/vcci-dev/vcci/services/reporting/internal/reports"
)

// reportFiles checks report requests against the tenant's data and builds
// their files: the kind's document from the peers (reports), rendered in
// the format asked (render).
type reportFiles struct{ src reports.Sources }

// kinds and formats name the contract's values in the packages' terms.
var (
	kinds = map[reporting.Kind]reports.Kind{
		reporting.KindGHGInventory: reports.GHGInventory, reporting.KindCDP: reports.CDP, reporting.KindESRSE16: reports.ESRSE16,
		reporting.KindSB253: reports.SB253, reporting.KindHotspotPack: reports.HotspotPack,
	}
	formats = map[reporting.Format]render.Format{
		reporting.FormatPDF: render.PDF, reporting.FormatXLSX: render.XLSX, reporting.FormatCSV: render.CSV, reporting.FormatJSON: render.JSON,
	}
)

func request(r reporting.Report) reports.Request {
	q := reports.Request{Kind: kinds[r.Kind], PeriodStart: r.PeriodStart, PeriodEnd: r.PeriodEnd, GWPBasis: string(r.GWPBasis),
		Organization: r.Organization}
	if r.Snapshot != 0 {
		q.Snapshot = fmt.Sprintf("inventorySnapshots/%d", r.Snapshot)
	}
	q.AsOf = r.AsOf
	for _, e := range r.Exclusions {
		q.Exclusions = append(q.Exclusions, reports.Exclusion{Category: int(e.Category), Reason: e.Reason})
	}
	return q
}

// Check reads the peers as the tenant: a job has no caller to forward.
func (f reportFiles) Check(ctx context.Context, tenant uuid.UUID, r reporting.Report) error {
	return reports.Check(tenancy.AsService(ctx, tenant, ""), f.src, request(r))
}

func (f reportFiles) Produce(ctx context.Context, tenant uuid.UUID, r reporting.Report) ([]byte, error) {
	d, err := reports.Build(tenancy.AsService(ctx, tenant, ""), f.src, request(r))
	if err != nil {
		return nil, fmt.Errorf("build report %d: %w", r.ID, err)
	}
	reporting.SetProgress(ctx, 50)
	var b bytes.Buffer
	if err := render.Render(&b, d, formats[r.Format]); err != nil {
		return nil, fmt.Errorf("render report %d: %w", r.ID, err)
	}
	return b.Bytes(), nil
}

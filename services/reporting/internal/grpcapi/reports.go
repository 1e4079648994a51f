package grpcapi

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/vcci-dev/vcci/pkg/apperr"
	reportingv1 "github.com/vcci-dev/vcci/pkg/gen/vcci/reporting/v1"
	"github.com/vcci-dev/vcci/pkg/pagetoken"
	"github.com/vcci-dev/vcci/pkg/refdata"
	"github.com/vcci-dev/vcci/pkg/tenancy"
	"github.com/vcci-dev/vcci/services/reporting/internal/reporting"
)

const (
	reportPrefix   = "reports/"
	snapshotPrefix = "inventorySnapshots/"
	// SharedFilePath is where the gateway serves a report link's file.
	SharedFilePath = "/v1/reportFiles/"
	// fileChunk is the bytes a file's message carries: well under the
	// 4 MiB a gRPC client accepts by default.
	fileChunk = 1 << 20
)

// GetSharedReportFileMethod needs no API key: its token is its credential
// (grpcserver.Options.Open).
const GetSharedReportFileMethod = "/vcci.reporting.v1.ReportingService/GetSharedReportFile"

// WithReports makes a serve reports: kept and built by reports, listed
// with tokens, shared with links.
func (a *API) WithReports(reports *reporting.Reports, tokens *pagetoken.Codec, links *reporting.Links) *API {
	a.reports, a.tokens, a.links = reports, tokens, links
	return a
}

// named reads the caller's tenant and the id of the report name names.
func named(ctx context.Context, name string) (uuid.UUID, int64, error) {
	tenant, err := tenancy.MustTenant(ctx)
	if err != nil {
		return uuid.Nil, 0, err
	}
	id, err := parseID("name", reportPrefix, name)
	return tenant, id, err
}

// parseID reads "prefix{id}" into id.
func parseID(field, prefix, name string) (int64, error) {
	s, ok := strings.CutPrefix(name, prefix)
	var id int64
	if ok {
		var err error
		id, err = strconv.ParseInt(s, 10, 64)
		ok = err == nil && id > 0 && strconv.FormatInt(id, 10) == s
	}
	if !ok {
		return 0, apperr.Invalid(field, "%q is not %s{id}", name, prefix)
	}
	return id, nil
}

func parseDate(field, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, apperr.Invalid(field, "is required, as YYYY-MM-DD")
	}
	d, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return time.Time{}, apperr.Invalid(field, "%q is not a date YYYY-MM-DD", s)
	}
	return d, nil
}

// parsePeriod reads a period's first (end false) or last day: a date,
// or a month "YYYY-MM" (its first or last day), as the inventory's
// periods are written.
func parsePeriod(field, s string, end bool) (time.Time, error) {
	m, err := time.Parse("2006-01", s)
	if err != nil {
		d, err := parseDate(field, s)
		if err != nil && s != "" {
			err = apperr.Invalid(field, "%q is neither a date YYYY-MM-DD nor a month YYYY-MM", s)
		}
		return d, err
	}
	if end {
		return m.AddDate(0, 1, -1), nil
	}
	return m, nil
}

// reportIn translates a request; the domain validates the rest.
func reportIn(in *reportingv1.Report) (reporting.Report, error) {
	r := reporting.Report{Kind: reporting.Kind(in.GetKind()), Format: reporting.Format(in.GetFormat()), Organization: in.GetOrganization()}
	var err error
	if r.PeriodStart, err = parsePeriod("report.period_start", in.GetPeriodStart(), false); err != nil {
		return r, err
	}
	if r.PeriodEnd, err = parsePeriod("report.period_end", in.GetPeriodEnd(), true); err != nil {
		return r, err
	}
	if s := in.GetSnapshot(); s != "" {
		if r.Snapshot, err = parseID("report.snapshot", snapshotPrefix, s); err != nil {
			return r, err
		}
	}
	if s := in.GetAsOfDate(); s != "" {
		if r.AsOf, err = parseDate("report.as_of_date", s); err != nil {
			return r, err
		}
	}
	if r.GWPBasis, err = refdata.BasisFromProto("report.gwp_basis", in.GetGwpBasis()); err != nil {
		return r, err
	}
	for _, e := range in.GetExclusions() {
		r.Exclusions = append(r.Exclusions, reporting.Exclusion{Category: e.GetCategory(), Reason: e.GetReason()})
	}
	return r, nil
}

func reportProto(r reporting.Report) *reportingv1.Report {
	out := &reportingv1.Report{
		Name: reportPrefix + strconv.FormatInt(r.ID, 10), Kind: reportingv1.ReportKind(r.Kind), Format: reportingv1.ReportFormat(r.Format),
		PeriodStart: r.PeriodStart.Format(time.DateOnly), PeriodEnd: r.PeriodEnd.Format(time.DateOnly), Organization: r.Organization,
		State: stateProto(r.State), ProgressPercent: r.Progress, Error: r.Error, FileName: r.File.Name, ContentType: r.File.ContentType,
		SizeBytes: r.File.Size, Sha256: r.File.SHA256, CreateTime: timestamppb.New(r.CreateTime), GwpBasis: refdata.BasisProto(r.GWPBasis),
	}
	if r.Snapshot != 0 {
		out.Snapshot = snapshotPrefix + strconv.FormatInt(r.Snapshot, 10)
	}
	if !r.AsOf.IsZero() {
		out.AsOfDate = r.AsOf.Format(time.DateOnly)
	}
	for _, e := range r.Exclusions {
		out.Exclusions = append(out.Exclusions, &reportingv1.ReportExclusion{Category: e.Category, Reason: e.Reason})
	}
	if !r.FinishTime.IsZero() {
		out.FinishTime = timestamppb.New(r.FinishTime)
	}
	if !r.ExpireTime.IsZero() {
		out.ExpireTime = timestamppb.New(r.ExpireTime)
	}
	return out
}

func stateProto(s reporting.State) reportingv1.ReportState {
	switch s {
	case reporting.Queued:
		return reportingv1.ReportState_REPORT_STATE_QUEUED
	case reporting.Running:
		return reportingv1.ReportState_REPORT_STATE_RUNNING
	case reporting.Succeeded:
		return reportingv1.ReportState_REPORT_STATE_SUCCEEDED
	case reporting.Failed:
		return reportingv1.ReportState_REPORT_STATE_FAILED
	}
	return reportingv1.ReportState_REPORT_STATE_UNSPECIFIED
}

func (a *API) CreateReport(ctx context.Context, req *reportingv1.CreateReportRequest) (*reportingv1.Report, error) {
	tenant, err := tenancy.MustTenant(ctx)
	if err != nil {
		return nil, err
	}
	r, err := reportIn(req.GetReport())
	if err != nil {
		return nil, err
	}
	out, err := a.reports.CreateReport(ctx, tenant, r)
	if err != nil {
		return nil, err
	}
	return reportProto(out), nil
}

func (a *API) GetReport(ctx context.Context, req *reportingv1.GetReportRequest) (*reportingv1.Report, error) {
	tenant, id, err := named(ctx, req.GetName())
	if err != nil {
		return nil, err
	}
	r, err := a.reports.Report(ctx, tenant, id)
	if err != nil {
		return nil, err
	}
	return reportProto(r), nil
}

func (a *API) DeleteReport(ctx context.Context, req *reportingv1.DeleteReportRequest) (*emptypb.Empty, error) {
	tenant, id, err := named(ctx, req.GetName())
	if err != nil {
		return nil, err
	}
	if err := a.reports.Delete(ctx, tenant, id); err != nil {
		return nil, err
	}
	return &emptypb.Empty{}, nil
}

func (a *API) ListReports(ctx context.Context, req *reportingv1.ListReportsRequest) (*reportingv1.ListReportsResponse, error) {
	tenant, err := tenancy.MustTenant(ctx)
	if err != nil {
		return nil, err
	}
	limit := 20
	switch n := req.GetPageSize(); {
	case n < 0:
		return nil, apperr.Invalid("page_size", "must not be negative, got %d", n)
	case n > 0:
		limit = min(int(n), 100)
	}
	const fp = "reports"
	var after int64
	if tok := req.GetPageToken(); tok != "" {
		keys, err := a.tokens.Decode(tok, tenant, fp)
		if err != nil {
			return nil, err
		}
		if len(keys) == 1 {
			after, err = strconv.ParseInt(keys[0], 10, 64)
		}
		if len(keys) != 1 || err != nil || after <= 0 {
			return nil, apperr.Invalid("page_token", "is malformed; pass next_page_token unchanged")
		}
	}
	rs, err := a.reports.List(ctx, tenant, limit+1, after)
	if err != nil {
		return nil, err
	}
	out := &reportingv1.ListReportsResponse{}
	if len(rs) > limit {
		rs = rs[:limit]
		out.NextPageToken = a.tokens.Encode(tenant, fp, []string{strconv.FormatInt(rs[limit-1].ID, 10)})
	}
	for _, r := range rs {
		out.Reports = append(out.Reports, reportProto(r))
	}
	return out, nil
}

func (a *API) CreateReportLink(ctx context.Context, req *reportingv1.CreateReportLinkRequest) (*reportingv1.ReportLink, error) {
	tenant, id, err := named(ctx, req.GetName())
	if err != nil {
		return nil, err
	}
	r, err := a.reports.Report(ctx, tenant, id)
	if err != nil {
		return nil, err
	}
	if r.State != reporting.Succeeded {
		return nil, reporting.ErrReportNotReady
	}
	tok, exp := a.links.Sign(tenant, id)
	return &reportingv1.ReportLink{Url: SharedFilePath + tok, ExpireTime: timestamppb.New(exp)}, nil
}

func (a *API) GetReportFile(req *reportingv1.GetReportFileRequest, stream reportingv1.ReportingService_GetReportFileServer) error {
	tenant, id, err := named(stream.Context(), req.GetName())
	if err != nil {
		return err
	}
	return a.sendFile(stream, tenant, id)
}

func (a *API) GetSharedReportFile(req *reportingv1.GetSharedReportFileRequest, stream reportingv1.ReportingService_GetSharedReportFileServer) error {
	// No API key reached here (GetSharedReportFileMethod is open): the
	// link's signature is the only proof of the tenant.
	tenant, id, err := a.links.Verify(req.GetToken())
	if err != nil {
		return err
	}
	return a.sendFile(stream, tenant, id)
}

type fileStream interface {
	Context() context.Context
	Send(chunk *reportingv1.ReportFileChunk) error
}

// sendFile sends the report, then its file in chunks; only the report
// when the entity tags in the caller's "if-none-match" metadata (the
// gateway's reading of If-None-Match) name the file, which is then not
// read.
func (a *API) sendFile(stream fileStream, tenant uuid.UUID, id int64) error {
	if inm := metadata.ValueFromIncomingContext(stream.Context(), "if-none-match"); len(inm) > 0 {
		r, err := a.reports.Report(stream.Context(), tenant, id)
		if err == nil && r.State == reporting.Succeeded && holds(inm, r.File.SHA256) {
			if err := stream.Send(&reportingv1.ReportFileChunk{Report: reportProto(r)}); err != nil {
				return fmt.Errorf("send report: %w", err)
			}
			return nil
		}
	}
	r, body, err := a.reports.File(stream.Context(), tenant, id)
	if err != nil {
		return err
	}
	if err := stream.Send(&reportingv1.ReportFileChunk{Report: reportProto(r)}); err != nil {
		return fmt.Errorf("send report: %w", err)
	}
	for len(body) > 0 {
		n := min(len(body), fileChunk)
		if err := stream.Send(&reportingv1.ReportFileChunk{Data: body[:n]}); err != nil {
			return fmt.Errorf("send file: %w", err)
		}
		body = body[n:]
	}
	return nil
}

// holds reports whether the entity tags a caller holds (the gateway's
// reading of If-None-Match: opaque tags, or "*") name the file whose
// SHA-256, its ETag, is sha.
func holds(tags []string, sha string) bool {
	return slices.Contains(tags, sha) || slices.Contains(tags, "*")
}

package grpcapi

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/vcci-dev/vcci/pkg/apperr"
	calculatorv1 "github.com/vcci-dev/vcci/pkg/gen/vcci/calculator/v1"
	engagementv1 "github.com/vcci-dev/vcci/pkg/gen/vcci/engagement/v1"
	"github.com/vcci-dev/vcci/pkg/signedlink"
	"github.com/vcci-dev/vcci/pkg/tenancy"
	"github.com/vcci-dev/vcci/services/engagement/internal/engagement"
)

// The methods a submission link's token stands in for an API key on.
const (
	GetSupplierRequestMethod = "/vcci.engagement.v1.EngagementService/GetSupplierRequest"
	SubmitSupplierDataMethod = "/vcci.engagement.v1.EngagementService/SubmitSupplierData"
)

// SubmissionPage is the gateway's page of a submission link, before its
// token.
const SubmissionPage = "/submit/"

func (a *API) CreateSubmissionLink(ctx context.Context, req *engagementv1.CreateSubmissionLinkRequest) (*engagementv1.SubmissionLink, error) {
	tenant, err := tenancy.MustTenant(ctx)
	if err != nil {
		return nil, err
	}
	id, supplier, err := targetName(req.GetName())
	if err != nil {
		return nil, err
	}
	tok, exp, err := a.subs.CreateLink(ctx, tenant, id, supplier)
	if err != nil {
		return nil, err
	}
	return linkProto(tok, exp), nil
}

func (a *API) BatchCreateSubmissionLinks(ctx context.Context, req *engagementv1.BatchCreateSubmissionLinksRequest) (*engagementv1.BatchCreateSubmissionLinksResponse, error) {
	tenant, err := tenancy.MustTenant(ctx)
	if err != nil {
		return nil, err
	}
	id, err := campaignID("parent", req.GetParent())
	if err != nil {
		return nil, err
	}
	var suppliers []string
	for i, s := range req.GetSuppliers() {
		s = strings.TrimPrefix(s, supplierPrefix)
		if s == "" || strings.Contains(s, "/") {
			return nil, apperr.Invalid(fmt.Sprintf("suppliers[%d]", i), "%q is not suppliers/{supplier}", req.GetSuppliers()[i])
		}
		suppliers = append(suppliers, s)
	}
	links, err := a.subs.CreateLinks(ctx, tenant, id, suppliers)
	if err != nil {
		return nil, err
	}
	out := &engagementv1.BatchCreateSubmissionLinksResponse{Links: make([]*engagementv1.SupplierSubmissionLink, len(links))}
	for i, l := range links {
		out.Links[i] = &engagementv1.SupplierSubmissionLink{Supplier: supplierPrefix + l.Target.SupplierID,
			SupplierDisplayName: l.Target.SupplierName, Link: linkProto(l.Token, l.ExpiresAt)}
	}
	return out, nil
}

func linkProto(tok string, exp time.Time) *engagementv1.SubmissionLink {
	return &engagementv1.SubmissionLink{Url: SubmissionPage + tok, Token: tok, ExpireTime: timestamppb.New(exp)}
}

func (a *API) GetSupplierRequest(ctx context.Context, req *engagementv1.GetSupplierRequestRequest) (*engagementv1.SupplierRequest, error) {
	r, err := a.subs.Request(ctx, signedlink.Token(ctx, req.GetToken()))
	if err != nil {
		return nil, err
	}
	out := &engagementv1.SupplierRequest{RequesterDisplayName: r.Requester, CampaignDisplayName: r.Campaign.DisplayName,
		Supplier: supplierPrefix + r.Target.SupplierID, SupplierDisplayName: r.Target.SupplierName,
		ExpireTime: timestamppb.New(r.ExpiresAt), SubmissionsLeft: int32(r.Left)} //nolint:gosec // at most MaxSubmissions
	out.Submissions, err = submissionProtos(r.Submissions)
	return out, err
}

func (a *API) SubmitSupplierData(ctx context.Context, req *engagementv1.SubmitSupplierDataRequest) (*engagementv1.Submission, error) {
	if req.GetSupplierFactor() == nil {
		return nil, apperr.Invalid("supplier_factor", "required")
	}
	fig, err := proto.Marshal(req.GetSupplierFactor())
	if err != nil {
		return nil, fmt.Errorf("grpcapi: encode figure: %w", err)
	}
	s, err := a.subs.Submit(ctx, signedlink.Token(ctx, req.GetToken()), engagement.Submission{Figure: fig,
		ContactName: req.GetContactName(), ContactEmail: req.GetContactEmail(), Comment: req.GetComment()})
	if err != nil {
		return nil, err
	}
	return submissionProto(s)
}

func (a *API) ListSubmissions(ctx context.Context, req *engagementv1.ListSubmissionsRequest) (*engagementv1.ListSubmissionsResponse, error) {
	tenant, err := tenancy.MustTenant(ctx)
	if err != nil {
		return nil, err
	}
	id, err := campaignID("parent", req.GetParent())
	if err != nil {
		return nil, err
	}
	size, after, err := page(req.GetPageSize(), req.GetPageToken())
	if err != nil {
		return nil, err
	}
	subs, err := a.subs.List(ctx, tenant, id, after.ID, size+1)
	if err != nil {
		return nil, err
	}
	out := &engagementv1.ListSubmissionsResponse{}
	if len(subs) > size {
		subs = subs[:size]
		last := subs[size-1]
		out.NextPageToken = encodeToken(engagement.Cursor{CreatedAt: last.CreatedAt, ID: last.ID})
	}
	out.Submissions, err = submissionProtos(subs)
	return out, err
}

func (a *API) AcceptSubmission(ctx context.Context, req *engagementv1.AcceptSubmissionRequest) (*engagementv1.Submission, error) {
	n, err := submissionName(ctx, req.GetName())
	if err != nil {
		return nil, err
	}
	s, err := a.subs.Accept(ctx, n.tenant, n.campaign, n.id)
	if err != nil {
		return nil, err
	}
	return submissionProto(s)
}

func (a *API) RejectSubmission(ctx context.Context, req *engagementv1.RejectSubmissionRequest) (*engagementv1.Submission, error) {
	n, err := submissionName(ctx, req.GetName())
	if err != nil {
		return nil, err
	}
	s, err := a.subs.Reject(ctx, n.tenant, n.campaign, n.id, req.GetReason())
	if err != nil {
		return nil, err
	}
	return submissionProto(s)
}

// submission names one of the caller's submissions.
type submission struct {
	tenant       uuid.UUID
	campaign, id int64
}

// submissionName reads the caller's tenant and
// "campaigns/{campaign}/submissions/{submission}".
func submissionName(ctx context.Context, name string) (submission, error) {
	tenant, err := tenancy.MustTenant(ctx)
	if err != nil {
		return submission{}, err
	}
	campaign, sub, err := childName(name, "/submissions/")
	id, perr := strconv.ParseInt(sub, 10, 64)
	if err != nil || perr != nil || id <= 0 {
		return submission{}, apperr.Invalid("name", "%q is not campaigns/{campaign}/submissions/{submission}", name)
	}
	return submission{tenant, campaign, id}, nil
}

func submissionProtos(subs []engagement.Submission) ([]*engagementv1.Submission, error) {
	out := make([]*engagementv1.Submission, len(subs))
	for i, s := range subs {
		var err error
		if out[i], err = submissionProto(s); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func submissionProto(s engagement.Submission) (*engagementv1.Submission, error) {
	fig := &calculatorv1.SupplierFactor{}
	if err := proto.Unmarshal(s.Figure, fig); err != nil {
		return nil, fmt.Errorf("grpcapi: submission %d's figure: %w", s.ID, err)
	}
	p := &engagementv1.Submission{
		Name:     engagement.SubmissionName(s),
		Supplier: supplierPrefix + s.SupplierID, SupplierFactor: fig,
		ContactName: s.ContactName, ContactEmail: s.ContactEmail, Comment: s.Comment,
		State: engagementv1.SubmissionState(s.State), CreateTime: timestamppb.New(s.CreatedAt),
		RejectReason: s.RejectReason, RecordedSupplierFactor: s.SupplierFactor, Recalculation: s.Recalculation,
	}
	if !s.ReviewedAt.IsZero() {
		p.ReviewTime = timestamppb.New(s.ReviewedAt)
	}
	return p, nil
}

// Check has the calculator check a figure for tenant's supplier, as the
// platform acting for the tenant (a supplier's link carries no key).
func (c Calculator) Check(ctx context.Context, tenant uuid.UUID, supplier string, fig []byte) ([]byte, error) {
	f := &calculatorv1.SupplierFactor{}
	if err := proto.Unmarshal(fig, f); err != nil {
		return nil, fmt.Errorf("grpcapi: figure: %w", err)
	}
	switch id := strings.TrimSpace(f.GetSupplierId()); id {
	case "", supplier:
	default:
		return nil, apperr.Invalid("supplier_factor.supplier_id", "%q is not the supplier this link is for (%s): leave it empty", id, supplier)
	}
	if f.GetName() != "" || f.GetFactor() != "" || f.GetRecalculation() != "" || f.GetCreateTime() != nil {
		return nil, apperr.Invalid("supplier_factor", "name, factor, recalculation and create_time are set when the figure is recorded: leave them empty")
	}
	f.SupplierId = supplier
	out, err := c.Client.CreateSupplierFactor(tenancy.AsService(ctx, tenant, ""),
		&calculatorv1.CreateSupplierFactorRequest{SupplierFactor: f, ValidateOnly: true})
	if err != nil {
		return nil, err // the calculator's status, naming the field
	}
	b, err := proto.Marshal(out)
	if err != nil {
		return nil, fmt.Errorf("grpcapi: encode figure: %w", err)
	}
	return b, nil
}

// Record records a checked figure as the caller's supplier factor, once
// for request.
func (c Calculator) Record(ctx context.Context, request string, fig []byte) (engagement.Recorded, error) {
	f := &calculatorv1.SupplierFactor{}
	if err := proto.Unmarshal(fig, f); err != nil {
		return engagement.Recorded{}, fmt.Errorf("grpcapi: figure: %w", err)
	}
	out, err := c.Client.CreateSupplierFactor(ctx, &calculatorv1.CreateSupplierFactorRequest{SupplierFactor: f, RequestId: request})
	if err != nil {
		return engagement.Recorded{}, err
	}
	return engagement.Recorded{SupplierFactor: out.GetName(), Recalculation: out.GetRecalculation()}, nil
}

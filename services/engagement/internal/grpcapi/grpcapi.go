// Package grpcapi translates between engagement's domain and the contracts:
// the EngagementService it serves, and the HotspotService and
// CalculatorService it calls.
package grpcapi

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"hash/crc32"
	"slices"
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/vcci-dev/vcci/pkg/apperr"
	calculatorv1 "github.com/vcci-dev/vcci/pkg/gen/vcci/calculator/v1"
	engagementv1 "github.com/vcci-dev/vcci/pkg/gen/vcci/engagement/v1"
	hotspotv1 "github.com/vcci-dev/vcci/pkg/gen/vcci/hotspot/v1"
	"github.com/vcci-dev/vcci/pkg/tenancy"
	"github.com/vcci-dev/vcci/services/engagement/internal/engagement"
)

// Listing page sizes, as the contract states them.
const (
	DefaultPageSize = 50
	MaxPageSize     = 1000
)

const (
	campaignPrefix = "campaigns/"
	supplierPrefix = "suppliers/"
)

// API implements engagementv1.EngagementServiceServer.
type API struct {
	engagementv1.UnimplementedEngagementServiceServer
	svc   *engagement.Service
	hooks *engagement.Webhooks
	subs  *engagement.Submissions
}

// New returns the API over svc and hooks.
func New(svc *engagement.Service, hooks *engagement.Webhooks) *API {
	return &API{svc: svc, hooks: hooks}
}

// WithSubmissions has a serve supplier submissions.
func (a *API) WithSubmissions(subs *engagement.Submissions) *API {
	a.subs = subs
	return a
}

func (a *API) CreateCampaign(ctx context.Context, req *engagementv1.CreateCampaignRequest) (*engagementv1.Campaign, error) {
	tenant, err := tenancy.MustTenant(ctx)
	if err != nil {
		return nil, err
	}
	c, err := a.svc.Create(ctx, tenant, req.GetCampaign().GetDisplayName(), req.GetCampaign().GetTopN())
	if err != nil {
		return nil, err
	}
	return toProto(c), nil
}

func (a *API) GetCampaign(ctx context.Context, req *engagementv1.GetCampaignRequest) (*engagementv1.Campaign, error) {
	tenant, err := tenancy.MustTenant(ctx)
	if err != nil {
		return nil, err
	}
	id, err := campaignID("name", req.GetName())
	if err != nil {
		return nil, err
	}
	c, err := a.svc.Get(ctx, tenant, id)
	if err != nil {
		return nil, err
	}
	return toProto(c), nil
}

func (a *API) DeclineCampaignTarget(ctx context.Context, req *engagementv1.DeclineCampaignTargetRequest) (*engagementv1.Campaign, error) {
	tenant, err := tenancy.MustTenant(ctx)
	if err != nil {
		return nil, err
	}
	id, supplier, err := targetName(req.GetName())
	if err != nil {
		return nil, err
	}
	camp, err := a.svc.Decline(ctx, tenant, id, supplier, req.GetReason())
	if err != nil {
		return nil, err
	}
	return toProto(camp), nil
}

func (a *API) ListCampaigns(ctx context.Context, req *engagementv1.ListCampaignsRequest) (*engagementv1.ListCampaignsResponse, error) {
	tenant, err := tenancy.MustTenant(ctx)
	if err != nil {
		return nil, err
	}
	size, after, err := page(req.GetPageSize(), req.GetPageToken())
	if err != nil {
		return nil, err
	}
	// One more than a page tells whether another page follows.
	cs, err := a.svc.List(ctx, tenant, after, size+1)
	if err != nil {
		return nil, err
	}
	campaigns, next := listPage(cs, size, toProto, func(c engagement.Campaign) engagement.Cursor {
		return engagement.Cursor{CreatedAt: c.CreatedAt, ID: c.ID}
	})
	return &engagementv1.ListCampaignsResponse{Campaigns: campaigns, NextPageToken: next}, nil
}

// campaignID reads field's "campaigns/{campaign}".
func campaignID(field, name string) (int64, error) {
	s, ok := strings.CutPrefix(name, campaignPrefix)
	id, err := strconv.ParseInt(s, 10, 64)
	if !ok || err != nil || id <= 0 {
		return 0, apperr.Invalid(field, "%q is not campaigns/{campaign}", name)
	}
	return id, nil
}

// targetName reads "campaigns/{campaign}/targets/{supplier}".
func targetName(name string) (int64, string, error) {
	id, supplier, err := childName(name, "/targets/")
	if err != nil || supplier == "" {
		return 0, "", apperr.Invalid("name", "%q is not campaigns/{campaign}/targets/{supplier}", name)
	}
	return id, supplier, nil
}

// childName reads "campaigns/{campaign}" and, after sep, the rest, which
// must not hold a "/".
func childName(name, sep string) (int64, string, error) {
	rest, ok := strings.CutPrefix(name, campaignPrefix)
	c, child, ok2 := strings.Cut(rest, sep)
	id, perr := strconv.ParseInt(c, 10, 64)
	if !ok || !ok2 || perr != nil || id <= 0 || strings.Contains(child, "/") {
		return 0, "", apperr.Invalid("name", "%q is not campaigns/{campaign}%s...", name, sep)
	}
	return id, child, nil
}

// page reads a listing's page size and token.
func page(pageSize int32, token string) (int, engagement.Cursor, error) {
	size := int(pageSize)
	switch {
	case size == 0:
		size = DefaultPageSize
	case size < 0 || size > MaxPageSize:
		return 0, engagement.Cursor{}, apperr.Invalid("page_size", "must be between 1 and %d, got %d", MaxPageSize, size)
	}
	after, err := decodeToken(token)
	return size, after, err
}

// listPage turns rows read with one past size into at most size messages
// and the next page's token, "" on the last page.
func listPage[T, P any](rows []T, size int, toProto func(T) P, cursor func(T) engagement.Cursor) ([]P, string) {
	var next string
	if len(rows) > size {
		rows = rows[:size]
		next = encodeToken(cursor(rows[len(rows)-1]))
	}
	out := make([]P, len(rows))
	for i, r := range rows {
		out[i] = toProto(r)
	}
	return out, next
}

func toProto(c engagement.Campaign) *engagementv1.Campaign {
	p := &engagementv1.Campaign{
		Name: campaignPrefix + strconv.FormatInt(c.ID, 10), DisplayName: c.DisplayName, TopN: c.TopN,
		Targets:        make([]*engagementv1.CampaignTarget, len(c.Targets)),
		TargetedKgCo2E: c.TargetedKg, TargetedShare: c.TargetedShare, CreateTime: timestamppb.New(c.CreatedAt),
		DataReceivedCount: c.ReceivedCount, DataReceivedKgCo2E: c.ReceivedKg, DataReceivedShare: c.ReceivedShare, DeclinedCount: c.DeclinedCount,
	}
	for i, t := range c.Targets {
		p.Targets[i] = &engagementv1.CampaignTarget{
			Supplier: supplierPrefix + t.SupplierID, SupplierDisplayName: t.SupplierName, Rank: t.Rank,
			KgCo2E: t.Kg, Share: t.Share, Status: engagementv1.TargetStatus(t.Status),
		}
		if t.Status == engagement.DataReceived {
			p.Targets[i].SupplierFactor, p.Targets[i].DataReceiveTime = t.Received.SupplierFactor, timestamppb.New(t.Received.At)
		}
		if !t.Declined.IsZero() {
			p.Targets[i].DeclineReason, p.Targets[i].DeclineTime = t.DeclineReason, timestamppb.New(t.Declined)
		}
		if !t.LinkIssued.IsZero() {
			p.Targets[i].LinkCreateTime = timestamppb.New(t.LinkIssued)
		}
		p.Targets[i].PendingSubmissions = t.Pending
	}
	return p
}

// A page token is a version byte, the cursor (created_at in microseconds,
// PostgreSQL's precision, and id) and a CRC of them: a token the client
// altered is refused rather than silently starting the page elsewhere.
const tokenVersion, tokenLen = 1, 1 + 8 + 8 + 4

var tokenEncoding = base64.RawURLEncoding.Strict()

func encodeToken(c engagement.Cursor) string {
	b := make([]byte, 0, tokenLen)
	b = append(b, tokenVersion)
	b = binary.BigEndian.AppendUint64(b, uint64(c.CreatedAt.UnixMicro()))
	b = binary.BigEndian.AppendUint64(b, uint64(c.ID)) //nolint:gosec // G115: the id's bits, as decodeToken reads them back
	b = binary.BigEndian.AppendUint32(b, crc32.ChecksumIEEE(b))
	return tokenEncoding.EncodeToString(b)
}

func decodeToken(tok string) (engagement.Cursor, error) {
	if tok == "" {
		return engagement.Cursor{}, nil
	}
	b, err := tokenEncoding.DecodeString(tok)
	if err != nil || len(b) != tokenLen || b[0] != tokenVersion || crc32.ChecksumIEEE(b[:17]) != binary.BigEndian.Uint32(b[17:]) {
		return engagement.Cursor{}, apperr.Invalid("page_token", "not a token from this listing")
	}
	// The bits encodeToken wrote, read back as the int64s they were.
	c := engagement.Cursor{CreatedAt: time.UnixMicro(int64(binary.BigEndian.Uint64(b[1:9]))), ID: int64(binary.BigEndian.Uint64(b[9:17]))} //nolint:gosec // G115: see above
	if c.ID <= 0 {
		return engagement.Cursor{}, apperr.Invalid("page_token", "not a token from this listing")
	}
	return c, nil
}

// Hotspot gives engagement the top suppliers of hotspot's Pareto analysis.
type Hotspot struct {
	Client hotspotv1.HotspotServiceClient
}

func (h Hotspot) TopSuppliers(ctx context.Context, topN int32) ([]engagement.Target, error) {
	resp, err := h.Client.AnalyzeSupplierPareto(ctx, &hotspotv1.AnalyzeSupplierParetoRequest{TopN: topN})
	if err != nil {
		return nil, err
	}
	out := make([]engagement.Target, len(resp.GetEntries()))
	for i, e := range resp.GetEntries() {
		out[i] = engagement.Target{
			Rank: e.GetRank(), SupplierID: strings.TrimPrefix(e.GetSupplier(), supplierPrefix),
			SupplierName: e.GetSupplierDisplayName(), Kg: e.GetKgCo2E(), Share: e.GetShare(),
		}
	}
	return out, nil
}

// maxFactorPages bounds the pages of supplier factors one call lists for
// a campaign read: 100,000 figures since the campaign began.
const maxFactorPages = 100

// Calculator gives engagement the supplier data on file: the caller's
// tenant's supplier factors, as the calculator records them.
type Calculator struct {
	Client calculatorv1.CalculatorServiceClient
}

func (c Calculator) Received(ctx context.Context, suppliers []string, since time.Time) (map[string][]engagement.Receipt, error) {
	out := map[string][]engagement.Receipt{}
	for chunk := range slices.Chunk(suppliers, 1000) {
		if err := c.listFactors(ctx, chunk, since, out); err != nil {
			return nil, err
		}
	}
	for _, rs := range out {
		slices.Reverse(rs) // listed newest first
	}
	return out, nil
}

// listFactors adds the figures of up to 1000 suppliers since then to out.
func (c Calculator) listFactors(ctx context.Context, suppliers []string, since time.Time, out map[string][]engagement.Receipt) error {
	token := ""
	for range maxFactorPages {
		resp, err := c.Client.ListSupplierFactors(ctx, &calculatorv1.ListSupplierFactorsRequest{PageSize: 1000, PageToken: token,
			SupplierIds: suppliers, MinCreateTime: timestamppb.New(since)})
		if err != nil {
			return err
		}
		for _, f := range resp.GetSupplierFactors() {
			out[f.GetSupplierId()] = append(out[f.GetSupplierId()], engagement.Receipt{SupplierFactor: f.GetName(), At: f.GetCreateTime().AsTime()})
		}
		if token = resp.GetNextPageToken(); token == "" {
			return nil
		}
	}
	return apperr.New(apperr.FailedPrecondition, "more than 100,000 supplier factors since the campaign began: its progress cannot be read")
}

package engagement

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net/mail"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/vcci-dev/vcci/pkg/apperr"
	"github.com/vcci-dev/vcci/pkg/signedlink"
	"github.com/vcci-dev/vcci/pkg/webhook"
)

// Submission links and what goes through them.
const (
	// LinkTTL is how long a submission link works: a campaign runs weeks.
	LinkTTL = 30 * 24 * time.Hour
	// MaxSubmissions a target takes through its links.
	MaxSubmissions = 20
	MaxContact     = 200
	MaxComment     = 2000
	maxToken       = 400
)

// Link errors. A forged, altered or replaced link proves no tenant.
var (
	ErrBadLink       = apperr.New(apperr.Unauthenticated, "the submission link is not valid: ask for a new one")
	ErrLinkExpired   = &apperr.Error{Kind: apperr.FailedPrecondition, Msg: "the submission link has expired: ask for a new one", Reason: apperr.ReasonSubmissionLinkExpired}
	ErrNoSubmission  = apperr.New(apperr.NotFound, "submission not found")
	ErrTooMany       = apperr.New(apperr.ResourceExhausted, fmt.Sprintf("this supplier has sent %d submissions to this campaign: no more are taken", MaxSubmissions))
	ErrNotPending    = apperr.New(apperr.FailedPrecondition, "the submission was reviewed already")
	errLinkMalformed = errors.New("engagement: link payload")
)

// SubmissionState is a submission's review state (values match the
// contract's enum).
type SubmissionState int16

// A submission is Pending until the tenant accepts or rejects it.
const (
	SubmissionPending  SubmissionState = 1
	SubmissionAccepted SubmissionState = 2
	SubmissionRejected SubmissionState = 3
)

// Submitted is a status a target shows while a submission of its supplier
// awaits review (values match the contract's enum).
const Submitted Status = 4

// Submission is a figure a supplier sent through a link.
type Submission struct {
	ID         int64
	CampaignID int64
	SupplierID string
	// The figure, as the calculator checked it: opaque here (the
	// contract's encoding), read and recorded by Figures.
	Figure                             []byte
	ContactName, ContactEmail, Comment string
	State                              SubmissionState
	CreatedAt, ReviewedAt              time.Time
	RejectReason                       string
	Recorded
}

// Recorded is what accepting a figure recorded: the supplier factor
// ("supplierFactors/{id}") and the recalculation it queued
// ("recalculations/{id}", "" for none).
type Recorded struct {
	SupplierFactor, Recalculation string
}

// Figures checks and records suppliers' figures (the calculator).
type Figures interface {
	// Check returns fig as the calculator would record it for tenant's
	// supplier, or an error naming the bad field.
	Check(ctx context.Context, tenant uuid.UUID, supplier string, fig []byte) ([]byte, error)
	// Record records fig as the caller's supplier factor, once for a
	// request id: recording it again answers what the first recorded.
	Record(ctx context.Context, request string, fig []byte) (Recorded, error)
}

// LinkTarget is whom a link is for: a campaign's target, and the link's
// creation, which the target must still hold for the link to work.
type LinkTarget struct {
	Tenant     uuid.UUID
	CampaignID int64
	SupplierID string
	IssuedAt   time.Time // microseconds, as PostgreSQL keeps it
}

// SupplierRequest is what a link asks of its supplier.
type SupplierRequest struct {
	Requester   string   // the tenant's name
	Campaign    Campaign // without its targets
	Target      Target
	ExpiresAt   time.Time
	Submissions []Submission // the target's, newest first
	Left        int          // submissions it may still send
}

// SubmissionStore keeps submissions and the targets' links.
type SubmissionStore interface {
	// IssueLinks marks a new link of each target named (none: every
	// target), issued at the given time (replacing the last), and returns
	// them in rank order; ErrCampaignNotFound, or ErrTargetNotFound when
	// one is not a target (and none is marked).
	IssueLinks(ctx context.Context, tenant uuid.UUID, campaign int64, suppliers []string, at time.Time) ([]Target, error)
	// LinkIssued returns the campaign (no targets) and the target, with
	// when its working link was issued (zero: none).
	LinkIssued(ctx context.Context, tenant uuid.UUID, campaign int64, supplier string) (Campaign, Target, error)
	// AddSubmission stores s PENDING unless the target has MaxSubmissions
	// already (ErrTooMany) or its link was replaced since issued
	// (ErrBadLink), and in the same transaction publishes the event
	// announce makes of it.
	AddSubmission(ctx context.Context, tenant uuid.UUID, issued time.Time, s Submission, announce func(Submission) (Event, []byte, error)) (Submission, error)
	// Submissions returns up to limit of a campaign's submissions (of
	// supplier only, unless ""), newest first, before id (0: from the
	// newest).
	Submissions(ctx context.Context, tenant uuid.UUID, campaign int64, supplier string, before int64, limit int) ([]Submission, error)
	// Review moves a PENDING submission to state with reason and what was
	// recorded; ErrNoSubmission or ErrNotPending.
	Review(ctx context.Context, tenant uuid.UUID, campaign, id int64, state SubmissionState, reason string, rec Recorded) (Submission, error)
	// Submission returns one submission.
	Submission(ctx context.Context, tenant uuid.UUID, campaign, id int64) (Submission, error)
}

// Links signs and opens submission links.
type Links struct{ s *signedlink.Signer }

// NewLinks returns Links signing with key and also accepting links signed
// with previous; now is the clock (nil: time.Now).
func NewLinks(key []byte, now func() time.Time, previous ...[]byte) *Links {
	return &Links{signedlink.New("vcci/submission-link", key, now, previous...)}
}

// expiry is when t's link stops working.
func (t LinkTarget) expiry() time.Time { return t.IssuedAt.Add(LinkTTL).Truncate(time.Second) }

// sign returns t's token and when it expires.
func (l *Links) sign(t LinkTarget) (string, time.Time) {
	exp := t.expiry()
	p := make([]byte, 0, 32+len(t.SupplierID))
	p = append(p, t.Tenant[:]...)
	p = binary.BigEndian.AppendUint64(p, uint64(t.CampaignID)) //nolint:gosec // ids are positive
	p = binary.BigEndian.AppendUint64(p, uint64(t.IssuedAt.UnixMicro()))
	p = append(p, t.SupplierID...)
	return l.s.Sign(p, exp), exp
}

// open returns the target a token names and when it expires.
func (l *Links) open(token string) (LinkTarget, error) {
	p, err := l.s.Open(token, maxToken)
	switch {
	case errors.Is(err, signedlink.ErrExpired):
		return LinkTarget{}, ErrLinkExpired
	case err != nil || len(p) <= 32:
		return LinkTarget{}, ErrBadLink
	}
	t := LinkTarget{Tenant: uuid.UUID(p[:16]), CampaignID: int64(binary.BigEndian.Uint64(p[16:24])), //nolint:gosec // signed by sign
		IssuedAt: time.UnixMicro(int64(binary.BigEndian.Uint64(p[24:32]))), SupplierID: string(p[32:])} //nolint:gosec // signed by sign
	if t.CampaignID <= 0 {
		return LinkTarget{}, fmt.Errorf("%w: %w", ErrBadLink, errLinkMalformed)
	}
	return t, nil
}

// Submissions runs submission links and their review.
type Submissions struct {
	store   SubmissionStore
	links   *Links
	figures Figures
	names   func(context.Context, uuid.UUID) (string, error) // a tenant's name
	hooks   *Webhooks                                        // announces each submission
}

// NewSubmissions returns Submissions; names gives a tenant's name, hooks
// sends submission.received.
func NewSubmissions(store SubmissionStore, links *Links, figures Figures, names func(context.Context, uuid.UUID) (string, error), hooks *Webhooks) *Submissions {
	return &Submissions{store: store, links: links, figures: figures, names: names, hooks: hooks}
}

// CreateLink issues a new link for a campaign's target, stopping the
// last, and returns its token and expiry.
func (s *Submissions) CreateLink(ctx context.Context, tenant uuid.UUID, campaign int64, supplier string) (string, time.Time, error) {
	links, err := s.CreateLinks(ctx, tenant, campaign, []string{supplier})
	if err != nil {
		return "", time.Time{}, err
	}
	return links[0].Token, links[0].ExpiresAt, nil
}

// TargetLink is a target's new link.
type TargetLink struct {
	Target    Target
	Token     string
	ExpiresAt time.Time
}

// CreateLinks issues a new link for each target named (none: every
// target) in one transaction, and returns them in rank order.
func (s *Submissions) CreateLinks(ctx context.Context, tenant uuid.UUID, campaign int64, suppliers []string) ([]TargetLink, error) {
	if len(suppliers) > MaxTopN {
		return nil, apperr.Invalid("suppliers", "at most %d, got %d", MaxTopN, len(suppliers))
	}
	at := s.links.s.Now().Truncate(time.Microsecond)
	ts, err := s.store.IssueLinks(ctx, tenant, campaign, suppliers, at)
	if err != nil {
		return nil, err
	}
	out := make([]TargetLink, len(ts))
	for i, t := range ts {
		tok, exp := s.links.sign(LinkTarget{Tenant: tenant, CampaignID: campaign, SupplierID: t.SupplierID, IssuedAt: at})
		out[i] = TargetLink{Target: t, Token: tok, ExpiresAt: exp}
	}
	return out, nil
}

// linked is what a working link names.
type linked struct {
	LinkTarget
	campaign Campaign
	target   Target
}

// open opens token and checks the target still holds its link.
func (s *Submissions) open(ctx context.Context, token string) (linked, error) {
	lt, err := s.links.open(token)
	if err != nil {
		return linked{}, err
	}
	c, t, err := s.store.LinkIssued(ctx, lt.Tenant, lt.CampaignID, lt.SupplierID)
	switch {
	case errors.Is(err, ErrCampaignNotFound), errors.Is(err, ErrTargetNotFound):
		return linked{}, ErrBadLink // deleted since: the link proves nothing now
	case err != nil:
		return linked{}, err
	case !t.LinkIssued.Equal(lt.IssuedAt):
		return linked{}, ErrBadLink // replaced by a newer link
	}
	return linked{lt, c, t}, nil
}

// Request returns what token's link asks, with what was sent through it.
func (s *Submissions) Request(ctx context.Context, token string) (SupplierRequest, error) {
	l, err := s.open(ctx, token)
	if err != nil {
		return SupplierRequest{}, err
	}
	lt := l.LinkTarget
	name, err := s.names(ctx, lt.Tenant)
	if err != nil {
		return SupplierRequest{}, err
	}
	subs, err := s.store.Submissions(ctx, lt.Tenant, lt.CampaignID, lt.SupplierID, 0, MaxSubmissions)
	if err != nil {
		return SupplierRequest{}, err
	}
	return SupplierRequest{Requester: name, Campaign: l.campaign, Target: l.target, ExpiresAt: lt.expiry(), Submissions: subs,
		Left: MaxSubmissions - len(subs)}, nil
}

// Submit checks a figure sent through token's link and keeps it PENDING.
func (s *Submissions) Submit(ctx context.Context, token string, sub Submission) (Submission, error) {
	l, err := s.open(ctx, token)
	if err != nil {
		return Submission{}, err
	}
	lt := l.LinkTarget
	if sub.ContactName, err = text("contact_name", sub.ContactName, MaxContact); err != nil {
		return Submission{}, err
	}
	if sub.ContactEmail, err = text("contact_email", sub.ContactEmail, MaxContact); err != nil {
		return Submission{}, err
	}
	if a, perr := mail.ParseAddress(sub.ContactEmail); perr != nil || a.Address != sub.ContactEmail {
		return Submission{}, apperr.Invalid("contact_email", "%q is not an email address", sub.ContactEmail)
	}
	if sub.Comment = strings.TrimSpace(sub.Comment); sub.Comment != "" {
		if sub.Comment, err = text("comment", sub.Comment, MaxComment); err != nil {
			return Submission{}, err
		}
	}
	// The calculator's checks, as the tenant's service: a figure it would
	// refuse is refused now, to the supplier, not at review.
	if sub.Figure, err = s.figures.Check(ctx, lt.Tenant, lt.SupplierID, sub.Figure); err != nil {
		return Submission{}, err
	}
	sub.CampaignID, sub.SupplierID, sub.State = lt.CampaignID, lt.SupplierID, SubmissionPending
	return s.store.AddSubmission(ctx, lt.Tenant, lt.IssuedAt, sub, s.announce)
}

// announce is a submission's submission.received event.
func (s *Submissions) announce(sub Submission) (Event, []byte, error) {
	data, err := json.Marshal(map[string]string{
		"submission": SubmissionName(sub), "campaign": "campaigns/" + strconv.FormatInt(sub.CampaignID, 10),
		"supplier": "suppliers/" + sub.SupplierID, "contact_name": sub.ContactName, "contact_email": sub.ContactEmail,
	})
	if err != nil {
		return Event{}, nil, fmt.Errorf("engagement: submission event: %w", err)
	}
	e := Event{ID: "submission-" + strconv.FormatInt(sub.ID, 10) + "-received", Type: webhook.SubmissionReceived, Data: data}
	body, err := s.hooks.envelope(e)
	return e, body, err
}

// SubmissionName is "campaigns/{campaign}/submissions/{submission}".
func SubmissionName(sub Submission) string {
	return "campaigns/" + strconv.FormatInt(sub.CampaignID, 10) + "/submissions/" + strconv.FormatInt(sub.ID, 10)
}

// List returns up to limit of a campaign's submissions before id, newest
// first.
func (s *Submissions) List(ctx context.Context, tenant uuid.UUID, campaign, before int64, limit int) ([]Submission, error) {
	return s.store.Submissions(ctx, tenant, campaign, "", before, limit)
}

// Accept records a PENDING submission's figure as the tenant's supplier
// factor, then marks it. The factor is recorded under the submission's
// name as its request id, so an accept retried after the mark failed, or
// two at once, record it once; the second mark then finds it reviewed.
func (s *Submissions) Accept(ctx context.Context, tenant uuid.UUID, campaign, id int64) (Submission, error) {
	sub, err := s.store.Submission(ctx, tenant, campaign, id)
	if err != nil {
		return sub, err
	}
	if sub.State != SubmissionPending {
		return sub, ErrNotPending
	}
	rec, err := s.figures.Record(ctx, SubmissionName(sub), sub.Figure)
	if err != nil {
		return sub, err
	}
	return s.store.Review(ctx, tenant, campaign, id, SubmissionAccepted, "", rec)
}

// Reject refuses a PENDING submission for reason.
func (s *Submissions) Reject(ctx context.Context, tenant uuid.UUID, campaign, id int64, reason string) (Submission, error) {
	reason, err := text("reason", reason, MaxReason)
	if err != nil {
		return Submission{}, err
	}
	return s.store.Review(ctx, tenant, campaign, id, SubmissionRejected, reason, Recorded{})
}

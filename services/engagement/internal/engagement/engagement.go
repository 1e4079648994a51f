// Package engagement runs supplier engagement campaigns: a campaign invites
// the suppliers at the top of a fresh Pareto analysis and keeps them as a
// snapshot, so it still shows whom it targeted after the inventory changes.
package engagement

import (
	"context"
	"fmt"
	"math/big"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/vcci-dev/vcci/pkg/apperr"
	"github.com/vcci-dev/vcci/pkg/decimal"
)

// Sentinels.
var (
	ErrCampaignNotFound = apperr.New(apperr.NotFound, "campaign not found")
	ErrTargetNotFound   = apperr.New(apperr.NotFound, "the campaign does not target this supplier")
	ErrNoEmissions      = apperr.New(apperr.FailedPrecondition, "no emissions have been calculated yet: upload spend data before creating a campaign")
)

// Limits on a new campaign.
const (
	MaxTopN        = 1000
	MaxDisplayName = 200
	MaxReason      = 500
)

// Status is a target's state (values match the contract's enum).
type Status int16

// A target is Invited until the supplier's own figures are recorded
// after the campaign began (DataReceived), or it is recorded as Declined
// (until figures arrive all the same); while figures it sent through its
// link await review, it is Submitted.
const (
	Invited      Status = 1
	DataReceived Status = 2
	Declined     Status = 3
)

// Target is one supplier a campaign invited.
type Target struct {
	Rank         int32
	SupplierID   string
	SupplierName string
	Kg           string // exact decimal
	Share        float64
	Status       Status
	// DataReceived: the first of the supplier's figures recorded since
	// the campaign began.
	Received Receipt
	// When the supplier was recorded as declining, and why; zero if not.
	Declined      time.Time
	DeclineReason string
	// When its working submission link was issued (zero: none), and its
	// submissions awaiting review.
	LinkIssued time.Time
	Pending    int32
}

// Campaign is a campaign and its targets.
type Campaign struct {
	ID            int64
	DisplayName   string
	TopN          int32
	Targets       []Target
	TargetedKg    string // exact sum of the targets' kg
	TargetedShare float64
	CreatedAt     time.Time
	// The targets whose data was received, their kg at creation (exact
	// sum) and their share.
	ReceivedCount int32
	ReceivedKg    string
	ReceivedShare float64
	DeclinedCount int32
}

// Receipt is one of a supplier's own figures on file: a supplier factor
// ("supplierFactors/{id}") and when it was recorded.
type Receipt struct {
	SupplierFactor string
	At             time.Time
}

// SupplierData tells which suppliers' own figures are on file.
type SupplierData interface {
	// Received returns the caller's supplier factors of these suppliers
	// recorded at or after since, by supplier, each supplier's oldest
	// first.
	Received(ctx context.Context, suppliers []string, since time.Time) (map[string][]Receipt, error)
}

// Cursor is a position in the newest-first listing; the zero Cursor is its
// start.
type Cursor struct {
	CreatedAt time.Time
	ID        int64
}

// Store keeps campaigns, each tenant's apart.
type Store interface {
	// Create stores c with its targets and returns it with ID and CreatedAt.
	Create(ctx context.Context, tenant uuid.UUID, c Campaign) (Campaign, error)
	// Campaign returns a campaign with its targets, or ErrCampaignNotFound.
	Campaign(ctx context.Context, tenant uuid.UUID, id int64) (Campaign, error)
	// Campaigns returns up to limit campaigns after the cursor, newest first, with
	// their targets.
	Campaigns(ctx context.Context, tenant uuid.UUID, after Cursor, limit int) ([]Campaign, error)
	// Decline records that supplier declined campaign id, for reason, and
	// returns the campaign; ErrCampaignNotFound or ErrTargetNotFound.
	Decline(ctx context.Context, tenant uuid.UUID, id int64, supplier, reason string) (Campaign, error)
}

// Pareto gives the caller's topN largest suppliers by emissions, ranked, with
// their shares of the total.
type Pareto interface {
	TopSuppliers(ctx context.Context, topN int32) ([]Target, error)
}

// Service is engagement's API-facing logic.
type Service struct {
	store  Store
	pareto Pareto
	data   SupplierData
}

// New returns a Service.
func New(store Store, pareto Pareto, data SupplierData) *Service {
	return &Service{store: store, pareto: pareto, data: data}
}

// Create creates a campaign on the topN largest suppliers as they are now.
func (s *Service) Create(ctx context.Context, tenant uuid.UUID, displayName string, topN int32) (Campaign, error) {
	displayName, err := text("campaign.display_name", displayName, MaxDisplayName)
	if err != nil {
		return Campaign{}, err
	}
	if topN < 1 || topN > MaxTopN {
		return Campaign{}, apperr.Invalid("campaign.top_n", "must be between 1 and %d, got %d", MaxTopN, topN)
	}
	// The peer's error is a gRPC status already; it passes through unwrapped
	// so the caller sees the peer's own code and message.
	targets, err := s.pareto.TopSuppliers(ctx, topN)
	if err != nil {
		return Campaign{}, err
	}
	if len(targets) == 0 {
		return Campaign{}, ErrNoEmissions
	}
	c := Campaign{DisplayName: displayName, TopN: topN, Targets: targets}
	kg, scale := new(big.Rat), 0
	for i := range c.Targets {
		t := &c.Targets[i]
		v, sc, err := decimal.Parse(t.Kg)
		if err != nil {
			return Campaign{}, fmt.Errorf("engagement.Create: supplier %q: %w", t.SupplierID, err)
		}
		kg.Add(kg, v)
		scale = max(scale, sc)
		c.TargetedShare += t.Share
		t.Status = Invited
	}
	c.TargetedKg = kg.FloatString(scale)
	// A new campaign has no answers yet: it is not read back from the
	// calculator, whose failure would fail a campaign already stored.
	c.ReceivedKg = "0"
	created, err := s.store.Create(ctx, tenant, c)
	created.ReceivedKg = c.ReceivedKg
	return created, err
}

// Get returns one of the tenant's campaigns, its targets' status as of now.
func (s *Service) Get(ctx context.Context, tenant uuid.UUID, id int64) (Campaign, error) {
	c, err := s.store.Campaign(ctx, tenant, id)
	if err != nil {
		return c, err
	}
	return s.progressOf(ctx, c)
}

// Decline records that supplier declined campaign id, for reason.
func (s *Service) Decline(ctx context.Context, tenant uuid.UUID, id int64, supplier, reason string) (Campaign, error) {
	reason, err := text("reason", reason, MaxReason)
	if err != nil {
		return Campaign{}, err
	}
	c, err := s.store.Decline(ctx, tenant, id, supplier, reason)
	if err != nil {
		return c, err
	}
	return s.progressOf(ctx, c)
}

// text is s without its surrounding spaces, refused (naming field) when
// that is empty, longer than limit characters, or holds a NUL byte, which
// PostgreSQL's text cannot store.
func text(field, s string, limit int) (string, error) {
	s = strings.TrimSpace(s)
	switch {
	case s == "":
		return "", apperr.Invalid(field, "is required")
	case utf8.RuneCountInString(s) > limit:
		return "", apperr.Invalid(field, "must be at most %d characters", limit)
	case strings.ContainsRune(s, 0):
		return "", apperr.Invalid(field, "contains a NUL byte")
	}
	return s, nil
}

// progressOf is c with its progress.
func (s *Service) progressOf(ctx context.Context, c Campaign) (Campaign, error) {
	cs := []Campaign{c}
	err := s.progress(ctx, cs)
	return cs[0], err
}

// List returns up to limit of the tenant's campaigns after the cursor,
// newest first, their targets' status as of now.
func (s *Service) List(ctx context.Context, tenant uuid.UUID, after Cursor, limit int) ([]Campaign, error) {
	cs, err := s.store.Campaigns(ctx, tenant, after, limit)
	if err != nil || len(cs) == 0 {
		return cs, err
	}
	return cs, s.progress(ctx, cs)
}

// answering are what can answer campaigns cs: their targets, and the time
// the oldest began.
func answering(cs []Campaign) ([]string, time.Time) {
	seen := map[string]bool{}
	var suppliers []string
	since := cs[0].CreatedAt
	for _, c := range cs {
		if c.CreatedAt.Before(since) {
			since = c.CreatedAt
		}
		for _, t := range c.Targets {
			if !seen[t.SupplierID] {
				seen[t.SupplierID] = true
				suppliers = append(suppliers, t.SupplierID)
			}
		}
	}
	return suppliers, since
}

// progress sets each target's status from the supplier data on file (a
// target's data is received once a figure of its supplier is recorded
// at or after the campaign's creation) and each campaign's totals of
// those received. It is read, not stored: a figure recorded shows at
// once.
func (s *Service) progress(ctx context.Context, cs []Campaign) error {
	// The peer's error is a gRPC status already, passed through as is.
	suppliers, since := answering(cs)
	on, err := s.data.Received(ctx, suppliers, since)
	if err != nil {
		return err
	}
	for i := range cs {
		c := &cs[i]
		kg, scale := new(big.Rat), 0
		c.ReceivedCount, c.ReceivedShare, c.DeclinedCount = 0, 0, 0
		for j := range c.Targets {
			t := &c.Targets[j]
			t.Status, t.Received = Invited, Receipt{}
			switch {
			case t.Pending > 0:
				t.Status = Submitted
			case !t.Declined.IsZero():
				t.Status = Declined
			}
			for _, r := range on[t.SupplierID] {
				if !r.At.Before(c.CreatedAt) {
					t.Status, t.Received = DataReceived, r
					break
				}
			}
			if t.Status == Declined {
				c.DeclinedCount++
			}
			if t.Status != DataReceived {
				continue
			}
			v, sc, err := decimal.Parse(t.Kg)
			if err != nil {
				return fmt.Errorf("engagement: campaign %d, supplier %q: %w", c.ID, t.SupplierID, err)
			}
			kg.Add(kg, v)
			scale = max(scale, sc)
			c.ReceivedCount++
			c.ReceivedShare += t.Share
		}
		c.ReceivedKg = kg.FloatString(scale)
	}
	return nil
}

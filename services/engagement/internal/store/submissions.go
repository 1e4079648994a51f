package store

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/vcci-dev/vcci/pkg/db"
	"github.com/vcci-dev/vcci/services/engagement/internal/engagement"
)

// IssueLinks marks a new submission link of each target named (none:
// every target), all or none.
func (s *Store) IssueLinks(ctx context.Context, tenant uuid.UUID, campaign int64, suppliers []string, at time.Time) ([]engagement.Target, error) {
	var out []engagement.Target
	err := db.InTenant(ctx, s.pool, tenant, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `UPDATE engagement.campaign_targets SET link_issued_at = $3
			WHERE campaign_id = $1 AND ($2::text[] IS NULL OR supplier_id = ANY($2))
			RETURNING rank, supplier_id, supplier_name`, campaign, suppliers, at)
		if err != nil {
			return fmt.Errorf("issue links: %w", err)
		}
		if out, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (engagement.Target, error) {
			var t engagement.Target
			t.LinkIssued = at
			return t, r.Scan(&t.Rank, &t.SupplierID, &t.SupplierName)
		}); err != nil {
			return fmt.Errorf("read targets: %w", err)
		}
		if len(out) == 0 || (suppliers != nil && len(out) < len(distinct(suppliers))) {
			return missing(ctx, tx, campaign) // rolled back: none is marked
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store.IssueLinks: %w", err)
	}
	slices.SortFunc(out, func(a, b engagement.Target) int { return cmp.Compare(a.Rank, b.Rank) })
	return out, nil
}

// distinct is ss without repeats.
func distinct(ss []string) []string {
	out := slices.Clone(ss)
	slices.Sort(out)
	return slices.Compact(out)
}

// missing tells a campaign not found from a supplier it does not target.
func missing(ctx context.Context, tx pgx.Tx, campaign int64) error {
	var found bool
	if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM engagement.campaigns WHERE id = $1)`, campaign).Scan(&found); err != nil {
		return fmt.Errorf("find campaign: %w", err)
	}
	if !found {
		return engagement.ErrCampaignNotFound
	}
	return engagement.ErrTargetNotFound
}

// LinkIssued returns the campaign (without targets) and the target, with
// when its working link was issued.
func (s *Store) LinkIssued(ctx context.Context, tenant uuid.UUID, campaign int64, supplier string) (engagement.Campaign, engagement.Target, error) {
	var c engagement.Campaign
	var t engagement.Target
	var issued *time.Time
	err := db.InTenant(ctx, s.pool, tenant, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `
			SELECT c.id, c.display_name, c.created_at, t.rank, t.supplier_id, t.supplier_name, t.link_issued_at
			FROM engagement.campaign_targets t JOIN engagement.campaigns c ON c.id = t.campaign_id
			WHERE t.campaign_id = $1 AND t.supplier_id = $2`, campaign, supplier).
			Scan(&c.ID, &c.DisplayName, &c.CreatedAt, &t.Rank, &t.SupplierID, &t.SupplierName, &issued)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			return missing(ctx, tx, campaign)
		case err != nil:
			return fmt.Errorf("read target: %w", err)
		}
		return nil
	})
	if err != nil {
		return c, t, fmt.Errorf("store.LinkIssued: %w", err)
	}
	if issued != nil {
		t.LinkIssued = *issued
	}
	return c, t, nil
}

// AddSubmission stores sub PENDING, under the target's lock (the link
// must still be the one issued at issued, and the target under
// MaxSubmissions), and publishes announce's event of it.
func (s *Store) AddSubmission(ctx context.Context, tenant uuid.UUID, issued time.Time, sub engagement.Submission,
	announce func(engagement.Submission) (engagement.Event, []byte, error)) (engagement.Submission, error) {
	var out engagement.Submission
	err := db.InTenant(ctx, s.pool, tenant, func(tx pgx.Tx) error {
		var at *time.Time
		err := tx.QueryRow(ctx, `SELECT link_issued_at FROM engagement.campaign_targets
			WHERE campaign_id = $1 AND supplier_id = $2 FOR UPDATE`, sub.CampaignID, sub.SupplierID).Scan(&at)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			return engagement.ErrBadLink
		case err != nil:
			return fmt.Errorf("lock target: %w", err)
		case at == nil || !at.Equal(issued):
			return engagement.ErrBadLink
		}
		var n int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM engagement.submissions WHERE campaign_id = $1 AND supplier_id = $2`,
			sub.CampaignID, sub.SupplierID).Scan(&n); err != nil {
			return fmt.Errorf("count submissions: %w", err)
		}
		if n >= engagement.MaxSubmissions {
			return engagement.ErrTooMany
		}
		rows, err := tx.Query(ctx, `
			INSERT INTO engagement.submissions (tenant_id, campaign_id, supplier_id, figure, contact_name, contact_email, comment, state)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING `+submissionCols,
			tenant, sub.CampaignID, sub.SupplierID, sub.Figure, sub.ContactName, sub.ContactEmail, sub.Comment, sub.State)
		if err != nil {
			return fmt.Errorf("insert submission: %w", err)
		}
		if out, err = pgx.CollectExactlyOneRow(rows, scanSubmission); err != nil {
			return fmt.Errorf("read submission: %w", err)
		}
		e, body, err := announce(out)
		if err != nil {
			return err
		}
		_, _, err = s.publishTx(ctx, tx, tenant, e, body, false)
		return err
	})
	if err != nil {
		return out, fmt.Errorf("store.AddSubmission: %w", err)
	}
	return out, nil
}

const submissionCols = `id, campaign_id, supplier_id, figure, contact_name, contact_email, comment, state, created_at,
	reviewed_at, reject_reason, supplier_factor, recalculation`

func scanSubmission(r pgx.CollectableRow) (engagement.Submission, error) {
	var s engagement.Submission
	var reviewed *time.Time
	if err := r.Scan(&s.ID, &s.CampaignID, &s.SupplierID, &s.Figure, &s.ContactName, &s.ContactEmail, &s.Comment, &s.State, &s.CreatedAt,
		&reviewed, &s.RejectReason, &s.SupplierFactor, &s.Recalculation); err != nil {
		return s, fmt.Errorf("scan submission: %w", err)
	}
	if reviewed != nil {
		s.ReviewedAt = *reviewed
	}
	return s, nil
}

// Submissions returns up to limit of a campaign's submissions (of supplier
// only, unless ""), newest first, before id (0: from the newest); a
// campaign not found is ErrCampaignNotFound.
func (s *Store) Submissions(ctx context.Context, tenant uuid.UUID, campaign int64, supplier string, before int64, limit int) ([]engagement.Submission, error) {
	var out []engagement.Submission
	err := db.InTenant(ctx, s.pool, tenant, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT `+submissionCols+` FROM engagement.submissions
			WHERE campaign_id = $1 AND ($2 = '' OR supplier_id = $2) AND ($3 = 0 OR id < $3)
			ORDER BY id DESC LIMIT $4`, campaign, supplier, before, limit)
		if err != nil {
			return fmt.Errorf("query submissions: %w", err)
		}
		if out, err = pgx.CollectRows(rows, scanSubmission); err != nil {
			return fmt.Errorf("read submissions: %w", err)
		}
		if len(out) == 0 && before == 0 {
			if err := missing(ctx, tx, campaign); errors.Is(err, engagement.ErrCampaignNotFound) {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store.Submissions: %w", err)
	}
	return out, nil
}

// Submission returns one of a campaign's submissions.
func (s *Store) Submission(ctx context.Context, tenant uuid.UUID, campaign, id int64) (engagement.Submission, error) {
	var out engagement.Submission
	err := db.InTenant(ctx, s.pool, tenant, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT `+submissionCols+` FROM engagement.submissions WHERE campaign_id = $1 AND id = $2`, campaign, id)
		if err != nil {
			return fmt.Errorf("query submission: %w", err)
		}
		out, err = pgx.CollectExactlyOneRow(rows, scanSubmission)
		return db.NotFound(err, "read submission", engagement.ErrNoSubmission)
	})
	if err != nil {
		return out, fmt.Errorf("store.Submission: %w", err)
	}
	return out, nil
}

// Review moves a PENDING submission to state; only one review of a
// submission succeeds.
func (s *Store) Review(ctx context.Context, tenant uuid.UUID, campaign, id int64, state engagement.SubmissionState, reason string, rec engagement.Recorded) (engagement.Submission, error) {
	var out engagement.Submission
	err := db.InTenant(ctx, s.pool, tenant, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `UPDATE engagement.submissions SET state = $3, reviewed_at = now(), reject_reason = $4,
				supplier_factor = $5, recalculation = $6
			WHERE campaign_id = $1 AND id = $2 AND state = $7 RETURNING `+submissionCols,
			campaign, id, state, reason, rec.SupplierFactor, rec.Recalculation, engagement.SubmissionPending)
		if err != nil {
			return fmt.Errorf("review submission: %w", err)
		}
		out, err = pgx.CollectExactlyOneRow(rows, scanSubmission)
		switch {
		case err == nil:
			return nil
		case !errors.Is(err, pgx.ErrNoRows):
			return fmt.Errorf("read submission: %w", err)
		}
		var found bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM engagement.submissions WHERE campaign_id = $1 AND id = $2)`, campaign, id).Scan(&found); err != nil {
			return fmt.Errorf("find submission: %w", err)
		}
		if found {
			return engagement.ErrNotPending
		}
		return engagement.ErrNoSubmission
	})
	if err != nil {
		return out, fmt.Errorf("store.Review: %w", err)
	}
	return out, nil
}

var _ engagement.SubmissionStore = (*Store)(nil)

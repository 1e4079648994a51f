// Package store is engagement's PostgreSQL persistence.
package store

import (
	"context"
	"embed"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"

	"github.com/vcci-dev/vcci/pkg/db"
	"github.com/vcci-dev/vcci/pkg/secretbox"
	"github.com/vcci-dev/vcci/services/engagement/internal/engagement"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Migrate creates or updates the engagement schema and its River tables.
func Migrate(ctx context.Context, pool *pgxpool.Pool) error {
	if err := db.Migrate(ctx, pool, "engagement", migrations); err != nil {
		return err
	}
	return migrateRiver(ctx, pool)
}

// Store implements engagement.Store and engagement.WebhookStore.
type Store struct {
	pool *pgxpool.Pool
	jobs *river.Client[pgx.Tx] // inserts only
	box  *secretbox.Box        // seals endpoints' secrets; nil stores them in the clear
}

// WithSecrets has s seal endpoints' signing secrets with box.
func (s *Store) WithSecrets(box *secretbox.Box) *Store {
	s.box = box
	return s
}

// New returns a Store.
func New(pool *pgxpool.Pool) *Store {
	jobs, err := river.NewClient(riverpgxv5.New(pool), &river.Config{Schema: RiverSchema})
	if err != nil {
		panic(fmt.Sprintf("store.New: river: %v", err)) // a fixed, valid config
	}
	return &Store{pool: pool, jobs: jobs}
}

// Create stores c and its targets in one transaction and returns the campaign
// as stored, so that Create and Campaign answer alike to the last digit.
func (s *Store) Create(ctx context.Context, tenant uuid.UUID, c engagement.Campaign) (engagement.Campaign, error) {
	n := len(c.Targets)
	ranks, statuses := make([]int32, n), make([]int16, n)
	ids, names, kgs := make([]string, n), make([]string, n), make([]string, n)
	shares := make([]float64, n)
	for i, t := range c.Targets {
		ranks[i], ids[i], names[i], kgs[i], shares[i], statuses[i] = t.Rank, t.SupplierID, t.SupplierName, t.Kg, t.Share, int16(t.Status)
	}
	var out []engagement.Campaign
	err := db.InTenant(ctx, s.pool, tenant, func(tx pgx.Tx) error {
		var id int64
		if err := tx.QueryRow(ctx, `
			INSERT INTO engagement.campaigns (tenant_id, display_name, top_n, targeted_kg_co2e, targeted_share)
			VALUES ($1, $2, $3, $4::text::numeric, $5) RETURNING id`,
			tenant, c.DisplayName, c.TopN, c.TargetedKg, c.TargetedShare).Scan(&id); err != nil {
			return fmt.Errorf("insert campaign: %w", err)
		}
		// One statement for all targets: COPY is refused on tables under
		// row-level security.
		if _, err := tx.Exec(ctx, `
			INSERT INTO engagement.campaign_targets (tenant_id, campaign_id, rank, supplier_id, supplier_name, kg_co2e, share, status)
			SELECT $1, $2, t.rank, t.supplier_id, t.supplier_name, t.kg::numeric, t.share, t.status
			FROM unnest($3::int[], $4::text[], $5::text[], $6::text[], $7::float8[], $8::smallint[])
				AS t (rank, supplier_id, supplier_name, kg, share, status)`,
			tenant, id, ranks, ids, names, kgs, shares, statuses); err != nil {
			return fmt.Errorf("insert targets: %w", err)
		}
		var err error
		out, err = campaigns(ctx, tx, `id = $1`, id)
		return err
	})
	if err != nil {
		return engagement.Campaign{}, fmt.Errorf("store.Create: %w", err)
	}
	return out[0], nil
}

// Campaign returns one campaign with its targets.
func (s *Store) Campaign(ctx context.Context, tenant uuid.UUID, id int64) (engagement.Campaign, error) {
	var out []engagement.Campaign
	err := db.InTenant(ctx, s.pool, tenant, func(tx pgx.Tx) error {
		var err error
		out, err = campaigns(ctx, tx, `id = $1`, id)
		return err
	})
	if err != nil {
		return engagement.Campaign{}, fmt.Errorf("store.Campaign: %w", err)
	}
	if len(out) == 0 {
		return engagement.Campaign{}, engagement.ErrCampaignNotFound
	}
	return out[0], nil
}

// Decline records that supplier declined campaign id, for reason, and
// returns the campaign.
func (s *Store) Decline(ctx context.Context, tenant uuid.UUID, id int64, supplier, reason string) (engagement.Campaign, error) {
	var out []engagement.Campaign
	err := db.InTenant(ctx, s.pool, tenant, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE engagement.campaign_targets SET declined_at = now(), decline_reason = $3
			WHERE campaign_id = $1 AND supplier_id = $2`, id, supplier, reason)
		if err != nil {
			return fmt.Errorf("decline target: %w", err)
		}
		out, err = campaigns(ctx, tx, `id = $1`, id)
		switch {
		case err != nil:
			return err
		case len(out) == 0:
			return engagement.ErrCampaignNotFound
		case tag.RowsAffected() == 0:
			return engagement.ErrTargetNotFound
		}
		return nil
	})
	if err != nil {
		return engagement.Campaign{}, fmt.Errorf("store.Decline: %w", err)
	}
	return out[0], nil
}

// Campaigns returns up to limit campaigns after the cursor, newest first. The keyset
// (created_at, id) is a total order, so pages neither skip nor repeat rows
// however many campaigns share a timestamp.
func (s *Store) Campaigns(ctx context.Context, tenant uuid.UUID, after engagement.Cursor, limit int) ([]engagement.Campaign, error) {
	var out []engagement.Campaign
	err := db.InTenant(ctx, s.pool, tenant, func(tx pgx.Tx) error {
		var err error
		if after.ID == 0 {
			out, err = campaigns(ctx, tx, `tenant_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2`, tenant, limit)
		} else {
			out, err = campaigns(ctx, tx, `tenant_id = $1 AND (created_at, id) < ($2, $3) ORDER BY created_at DESC, id DESC LIMIT $4`,
				tenant, after.CreatedAt, after.ID, limit)
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("store.Campaigns: %w", err)
	}
	return out, nil
}

// campaigns reads the campaigns matching where (which may also order and
// limit them), then all their targets in one more query.
func campaigns(ctx context.Context, tx pgx.Tx, where string, args ...any) ([]engagement.Campaign, error) {
	rows, err := tx.Query(ctx, `
		SELECT id, display_name, top_n, targeted_kg_co2e::text, targeted_share, created_at
		FROM engagement.campaigns WHERE `+where, args...)
	if err != nil {
		return nil, fmt.Errorf("query campaigns: %w", err)
	}
	cs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (engagement.Campaign, error) {
		var c engagement.Campaign
		if err := r.Scan(&c.ID, &c.DisplayName, &c.TopN, &c.TargetedKg, &c.TargetedShare, &c.CreatedAt); err != nil {
			return c, fmt.Errorf("scan campaign: %w", err)
		}
		return c, nil
	})
	if err != nil {
		return nil, fmt.Errorf("read campaigns: %w", err)
	}
	if len(cs) == 0 {
		return cs, nil
	}
	ids := make([]int64, len(cs))
	at := make(map[int64]int, len(cs))
	for i, c := range cs {
		ids[i], at[c.ID] = c.ID, i
	}
	rows, err = tx.Query(ctx, `
		SELECT campaign_id, rank, supplier_id, supplier_name, kg_co2e::text, share, status, declined_at, coalesce(decline_reason, ''),
			link_issued_at, (SELECT count(*) FROM engagement.submissions s
				WHERE s.campaign_id = t.campaign_id AND s.supplier_id = t.supplier_id AND s.state = $2)::int
		FROM engagement.campaign_targets t WHERE campaign_id = ANY($1) ORDER BY campaign_id, rank`, ids, engagement.SubmissionPending)
	if err != nil {
		return nil, fmt.Errorf("query targets: %w", err)
	}
	var campaign int64
	var t engagement.Target
	var declined, issued *time.Time
	if _, err := pgx.ForEachRow(rows, []any{&campaign, &t.Rank, &t.SupplierID, &t.SupplierName, &t.Kg, &t.Share, &t.Status, &declined, &t.DeclineReason,
		&issued, &t.Pending}, func() error {
		t.Declined, t.LinkIssued = time.Time{}, time.Time{}
		if declined != nil {
			t.Declined = *declined
		}
		if issued != nil {
			t.LinkIssued = *issued
		}
		cs[at[campaign]].Targets = append(cs[at[campaign]].Targets, t)
		return nil
	}); err != nil {
		return nil, fmt.Errorf("read targets: %w", err)
	}
	return cs, nil
}

var _ engagement.Store = (*Store)(nil)

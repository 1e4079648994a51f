package store_test

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/vcci-dev/vcci/pkg/db"
	"github.com/vcci-dev/vcci/pkg/testsupport"
	"github.com/vcci-dev/vcci/services/engagement/internal/engagement"
	"github.com/vcci-dev/vcci/services/engagement/internal/store"
)

func TestMain(m *testing.M) { os.Exit(testsupport.Main(m)) }

// fixture is a migrated database, a Store over it, and two tenants.
type fixture struct {
	pool *pgxpool.Pool
	st   *store.Store
	a, b uuid.UUID
}

func setup(t *testing.T) fixture {
	t.Helper()
	pool := testsupport.NewPool(t, "engagement", store.Migrate)
	return fixture{pool: pool, st: store.New(pool), a: testsupport.Tenant(t, pool, "acme"), b: testsupport.Tenant(t, pool, "globex")}
}

func campaign(name string) engagement.Campaign {
	return engagement.Campaign{
		DisplayName: name, TopN: 3, TargetedKg: "750.0000000", TargetedShare: 0.75,
		Targets: []engagement.Target{
			{Rank: 1, SupplierID: "S3", SupplierName: "Globex", Kg: "500.1250000", Share: 0.500125, Status: engagement.Invited},
			{Rank: 2, SupplierID: "S1", SupplierName: "Acme Steel", Kg: "249.8750000", Share: 0.249875, Status: engagement.Invited},
			{Rank: 3, SupplierID: "S9", SupplierName: "", Kg: "0.0000000", Share: 0, Status: engagement.Invited},
		},
	}
}

func equal(t *testing.T, got, want engagement.Campaign) {
	t.Helper()
	if got.ID != want.ID || got.DisplayName != want.DisplayName || got.TopN != want.TopN || got.TargetedKg != want.TargetedKg ||
		got.TargetedShare != want.TargetedShare || !got.CreatedAt.Equal(want.CreatedAt) || len(got.Targets) != len(want.Targets) {
		t.Fatalf("campaign = %+v, want %+v", got, want)
	}
	for i := range want.Targets {
		if got.Targets[i] != want.Targets[i] {
			t.Fatalf("target %d = %+v, want %+v", i, got.Targets[i], want.Targets[i])
		}
	}
}

func TestCreateAndGet(t *testing.T) {
	ctx := context.Background()
	f := setup(t)
	st, a := f.st, f.a
	before := time.Now().Add(-time.Second)
	c, err := st.Create(ctx, a, campaign("Top emitters"))
	if err != nil {
		t.Fatal(err)
	}
	if c.ID <= 0 || c.CreatedAt.Before(before) || c.CreatedAt.After(time.Now().Add(time.Second)) {
		t.Fatalf("created = id %d at %v", c.ID, c.CreatedAt)
	}
	want := campaign("Top emitters")
	want.ID, want.CreatedAt = c.ID, c.CreatedAt
	equal(t, c, want)
	got, err := st.Campaign(ctx, a, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	equal(t, got, want)

	if _, err := st.Campaign(ctx, a, c.ID+1); !errors.Is(err, engagement.ErrCampaignNotFound) {
		t.Fatalf("missing campaign: %v", err)
	}
}

func TestCampaignsNewestFirstInPages(t *testing.T) {
	ctx := context.Background()
	f := setup(t)
	pool, st, a := f.pool, f.st, f.a
	names := []string{"first", "second", "third", "fourth", "fifth"}
	ids := make([]int64, 0, len(names))
	for _, name := range names {
		c, err := st.Create(ctx, a, campaign(name))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, c.ID)
	}
	// Campaigns two to four share a timestamp: the id breaks the tie.
	// (The superuser pool bypasses row-level security.)
	if _, err := pool.Exec(ctx, `UPDATE engagement.campaigns SET created_at = '2024-03-01T12:00:00Z' WHERE id = ANY($1)`, ids[1:4]); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `UPDATE engagement.campaigns SET created_at = '2024-01-01T00:00:00Z' WHERE id = $1`, ids[4]); err != nil {
		t.Fatal(err)
	}
	want := []int64{ids[0], ids[3], ids[2], ids[1], ids[4]} // first is newest (now); fifth oldest
	var got []int64
	var after engagement.Cursor
	for page := 0; ; page++ {
		cs, err := st.Campaigns(ctx, a, after, 2)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range cs {
			got = append(got, c.ID)
			if len(c.Targets) != 3 || c.Targets[0].SupplierID != "S3" || c.Targets[2].Rank != 3 {
				t.Fatalf("campaign %d targets = %+v", c.ID, c.Targets)
			}
		}
		if len(cs) < 2 {
			break
		}
		after = engagement.Cursor{CreatedAt: cs[len(cs)-1].CreatedAt, ID: cs[len(cs)-1].ID}
	}
	if len(got) != len(want) {
		t.Fatalf("listed %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("listed %v, want %v", got, want)
		}
	}
}

func TestTenantsAreIsolated(t *testing.T) {
	ctx := context.Background()
	f := setup(t)
	pool, st, a, b := f.pool, f.st, f.a, f.b
	c, err := st.Create(ctx, a, campaign("Acme's"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Campaign(ctx, b, c.ID); !errors.Is(err, engagement.ErrCampaignNotFound) {
		t.Fatalf("tenant b reads tenant a's campaign: %v", err)
	}
	if cs, err := st.Campaigns(ctx, b, engagement.Cursor{}, 10); err != nil || len(cs) != 0 {
		t.Fatalf("tenant b lists %d campaigns (%v)", len(cs), err)
	}
	// The database itself enforces it, whatever the query says.
	var campaigns, targets int
	err = db.InTenant(ctx, pool, b, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `SELECT (SELECT count(*) FROM engagement.campaigns), (SELECT count(*) FROM engagement.campaign_targets)`).Scan(&campaigns, &targets)
	})
	if err != nil || campaigns != 0 || targets != 0 {
		t.Fatalf("tenant b sees %d campaigns, %d targets (%v)", campaigns, targets, err)
	}
	err = db.InTenant(ctx, pool, b, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE engagement.campaigns SET display_name = 'mine' WHERE id = $1`, c.ID)
		if tag.RowsAffected() != 0 {
			t.Errorf("tenant b updated %d of tenant a's campaigns", tag.RowsAffected())
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	err = db.InTenant(ctx, pool, b, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO engagement.campaigns (tenant_id, display_name, top_n, targeted_kg_co2e, targeted_share)
			VALUES ($1, 'forged', 1, 0, 0)`, a)
		return err
	})
	if err == nil {
		t.Fatal("tenant b wrote a campaign for tenant a")
	}
	if got, err := st.Campaign(ctx, a, c.ID); err != nil || got.DisplayName != "Acme's" {
		t.Fatalf("tenant a's campaign = %+v (%v)", got, err)
	}
}

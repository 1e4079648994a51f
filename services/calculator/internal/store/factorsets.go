package store

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/vcci-dev/vcci/pkg/apperr"
	"github.com/vcci-dev/vcci/pkg/db"
	"github.com/vcci-dev/vcci/services/calculator/internal/calculator"
	"github.com/vcci-dev/vcci/services/calculator/internal/factors"
)

// visibleSets are the factor sets a tenant sees, one per name: a public
// set and one of the tenant's can share a name only when vcci ships a set
// under a name the tenant had imported, and then the tenant's own is the
// one its names mean.
const visibleSets = `(SELECT DISTINCT ON (name) * FROM calculator.factor_sets ORDER BY name, tenant_id NULLS LAST)`

// ImportSet stores a new set of the tenant's, its factors and their gases
// in one transaction; ErrSetExists when the tenant sees a set of that name
// (public or its own: another tenant's names are not its business).
func (s *Store) ImportSet(ctx context.Context, tenant uuid.UUID, set factors.Set, fs []factors.Factor) (calculator.FactorSet, error) {
	var base *string
	if set.PriceYear != 0 {
		b, err := priceBase(set.PriceYear)
		if err != nil {
			return calculator.FactorSet{}, fmt.Errorf("store.ImportSet: %w", err)
		}
		base = &b
	}
	err := db.InTenant(ctx, s.pool, tenant, func(tx pgx.Tx) error {
		var taken bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM calculator.factor_sets WHERE name = $1)`, set.Name).Scan(&taken); err != nil {
			return fmt.Errorf("look up name: %w", err)
		}
		if taken {
			return calculator.ErrSetExists
		}
		err := insertSet(ctx, tx, &tenant, set, base, fs)
		return err
	})
	if db.IsUniqueViolation(err) || errors.Is(err, calculator.ErrSetExists) {
		return calculator.FactorSet{}, calculator.ErrSetExists
	}
	if err != nil {
		return calculator.FactorSet{}, fmt.Errorf("store.ImportSet: %w", err)
	}
	return calculator.FactorSet{Name: set.Name, DisplayName: set.DisplayName, Publisher: set.Publisher, Version: set.Version, Unit: set.Unit,
		Source: set.Source, Count: int32(min(len(fs), math.MaxInt32)), Region: set.Region, Year: set.Year, Kind: set.Kind}, nil
}

// tenantSets reads the sets the tenant calculates with: its choices, or
// the shipped defaults. An activity line resolved in another set than the
// one read here (the settings changed meanwhile) makes the batch a
// conflict, to be retried.
func tenantSets(ctx context.Context, tx pgx.Tx, tenant uuid.UUID, lines []calculator.Line) (setIDs, error) {
	var sets setIDs
	err := tx.QueryRow(ctx, `SELECT s.id, s.name, s.price_index_base::text, a.id, a.name
		FROM (SELECT) d LEFT JOIN calculator.tenant_settings t ON t.tenant_id = $1
		JOIN calculator.factor_sets s ON s.id = coalesce(t.spend_factor_set_id, (SELECT id FROM calculator.factor_sets WHERE name = $2 AND tenant_id IS NULL))
		JOIN calculator.factor_sets a ON a.id = coalesce(t.activity_factor_set_id, (SELECT id FROM calculator.factor_sets WHERE name = $3 AND tenant_id IS NULL))`,
		tenant, calculator.DefaultSet, calculator.ActivitySet).Scan(&sets.spend, &sets.spendName, &sets.base, &sets.activity, &sets.activityName)
	if err := db.NotFound(err, "factor sets", calculator.ErrSetNotFound); err != nil {
		return sets, err
	}
	for _, l := range lines {
		if l.Activity != "" && l.ActivitySet != sets.activityName || l.SpendSet != "" && l.SpendSet != sets.spendName {
			return sets, calculator.ErrConflict
		}
	}
	if slices.ContainsFunc(lines, func(l calculator.Line) bool { return l.SupplierFactor != 0 }) {
		err := tx.QueryRow(ctx, `SELECT id FROM calculator.factor_sets WHERE tenant_id = $1 AND name = $2`, tenant, calculator.SupplierSet).Scan(&sets.supplier)
		if err != nil {
			return sets, fmt.Errorf("supplier set: %w", err)
		}
	}
	return sets, nil
}

// settingsQuery reads a tenant's settings, with the defaults for what it
// never changed.
const settingsQuery = `SELECT coalesce(t.gwp_basis, 'AR5'), t.update_time, coalesce(s.name, $2), coalesce(a.name, $3),
		coalesce(t.base_year, 0), coalesce(t.significance_threshold, 5)::text
	FROM (SELECT) d LEFT JOIN calculator.tenant_settings t ON t.tenant_id = $1
	LEFT JOIN calculator.factor_sets s ON s.id = t.spend_factor_set_id
	LEFT JOIN calculator.factor_sets a ON a.id = t.activity_factor_set_id`

func scanSettings(row pgx.Row) (calculator.Settings, error) {
	var out calculator.Settings
	var updated *time.Time
	if err := row.Scan(&out.Basis, &updated, &out.SpendSet, &out.ActivitySet, &out.BaseYear, &out.Threshold); err != nil {
		return out, fmt.Errorf("scan settings: %w", err)
	}
	if updated != nil {
		out.UpdateTime = *updated
	}
	return out, nil
}

// Settings reads the tenant's settings; a tenant that never changed them
// has the defaults.
func (s *Store) Settings(ctx context.Context, tenant uuid.UUID) (calculator.Settings, error) {
	var out calculator.Settings
	err := db.InTenantBatch(ctx, s.pool, tenant, db.Stmt{SQL: settingsQuery, Args: []any{tenant, calculator.DefaultSet, calculator.ActivitySet},
		Scan: db.OneRow(func(row pgx.Row) error {
			var err error
			out, err = scanSettings(row)
			return err
		})})
	if err != nil {
		return out, fmt.Errorf("store.Settings: %w", err)
	}
	return out, nil
}

// UpdateSettings stores what set changes of the tenant's settings (an
// empty field is unchanged) and returns them all. A factor set named must
// be one the tenant sees, of its kind.
func (s *Store) UpdateSettings(ctx context.Context, tenant uuid.UUID, set calculator.Settings) (calculator.Settings, error) {
	var out calculator.Settings
	err := db.InTenant(ctx, s.pool, tenant, func(tx pgx.Tx) error {
		spend, err := settingsSet(ctx, tx, "settings.spend_factor_set", set.SpendSet, factors.KindSpend)
		if err != nil {
			return err
		}
		activity, err := settingsSet(ctx, tx, "settings.activity_factor_set", set.ActivitySet, factors.KindActivity)
		if err != nil {
			return err
		}
		// Base year 0 is unchanged, ClearBaseYear (-1) none; threshold ""
		// unchanged.
		if _, err := tx.Exec(ctx, `INSERT INTO calculator.tenant_settings AS t (tenant_id, gwp_basis, spend_factor_set_id, activity_factor_set_id,
				base_year, significance_threshold)
			VALUES ($1, coalesce(nullif($2, ''), 'AR5'), $3, $4, greatest($5::smallint, 0), coalesce(nullif($6, '')::numeric, 5))
			ON CONFLICT (tenant_id) DO UPDATE SET gwp_basis = coalesce(nullif($2, ''), t.gwp_basis),
				spend_factor_set_id = coalesce($3, t.spend_factor_set_id), activity_factor_set_id = coalesce($4, t.activity_factor_set_id),
				base_year = CASE $5::smallint WHEN 0 THEN t.base_year ELSE greatest($5::smallint, 0) END,
				significance_threshold = coalesce(nullif($6, '')::numeric, t.significance_threshold),
				update_time = now()`, tenant, string(set.Basis), spend, activity, set.BaseYear, set.Threshold); err != nil {
			return fmt.Errorf("store settings: %w", err)
		}
		out, err = scanSettings(tx.QueryRow(ctx, settingsQuery, tenant, calculator.DefaultSet, calculator.ActivitySet))
		return err
	})
	if err != nil {
		return out, fmt.Errorf("store.UpdateSettings: %w", err)
	}
	return out, nil
}

// settingsSet is the id of the set a settings field names (nil: the field
// is not changed), which must be of kind.
func settingsSet(ctx context.Context, tx pgx.Tx, field, name string, kind factors.Kind) (*int16, error) {
	if name == "" {
		return nil, nil //nolint:nilnil // no set named: nothing to change
	}
	var id int16
	var got factors.Kind
	err := db.NotFound(tx.QueryRow(ctx, `SELECT id, kind FROM `+visibleSets+` s WHERE name = $1`, name).Scan(&id, &got),
		"look up set", calculator.ErrSetNotFound)
	switch {
	case errors.Is(err, calculator.ErrSetNotFound):
		return nil, apperr.Invalid(field, "factorSets/%s is not a factor set (GET /v1/factorSets lists them)", name)
	case err != nil:
		return nil, err
	case got != kind:
		return nil, apperr.Invalid(field, "factorSets/%s is a %s set, not a %s set", name, got, kind)
	}
	return &id, nil
}

package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/vcci-dev/vcci/pkg/db"
	"github.com/vcci-dev/vcci/services/intake/internal/intake"
)

var rules = resource[intake.CategoryRule]{table: "intake.category_rules", id: "rule_id",
	cols: `rule_id, coalesce(naics_prefix, ''), coalesce(activity_prefix, ''), coalesce(supplier_id, ''), category, description, created_at`,
	scan: scanRule, notFound: intake.ErrRuleNotFound}

func scanRule(row pgx.Row) (intake.CategoryRule, error) {
	var r intake.CategoryRule
	if err := row.Scan(&r.ID, &r.NAICSPrefix, &r.ActivityPrefix, &r.SupplierID, &r.Category, &r.Description, &r.CreatedAt); err != nil {
		return r, fmt.Errorf("scan category rule: %w", err)
	}
	return r, nil
}

// CreateRule stores a category rule, unless the tenant has MaxRules: the
// count and the insert are one statement, so two concurrent creates may
// each pass it by one, never more (LoadRules refuses past the cap).
func (s *Store) CreateRule(ctx context.Context, tenant uuid.UUID, r intake.CategoryRule) (intake.CategoryRule, error) {
	out, err := rules.insert(ctx, s.pool, tenant, `INSERT INTO intake.category_rules
			(tenant_id, rule_id, naics_prefix, activity_prefix, supplier_id, category, description)
		SELECT $1, $2, nullif($3, ''), nullif($4, ''), nullif($5, ''), $6, $7
		WHERE (SELECT count(*) FROM intake.category_rules WHERE tenant_id = $1) < $8`,
		tenant, r.ID, r.NAICSPrefix, r.ActivityPrefix, r.SupplierID, r.Category, r.Description, intake.MaxRules)
	switch pe, _ := errors.AsType[*pgconn.PgError](err); {
	case errors.Is(err, pgx.ErrNoRows):
		return out, intake.ErrTooManyRules
	case db.IsUniqueViolation(err) && pe.ConstraintName == "category_rules_pkey":
		return out, intake.ErrRuleExists
	case db.IsUniqueViolation(err): // one of the indexes of one match each
		return out, intake.ErrRuleMatchTaken
	case err != nil:
		return out, fmt.Errorf("store.CreateRule: %w", err)
	}
	return out, nil
}

// Rule returns one category rule.
func (s *Store) Rule(ctx context.Context, tenant uuid.UUID, id string) (intake.CategoryRule, error) {
	return rules.get(ctx, s.pool, tenant, id)
}

// Rules lists category rules by id, after afterID.
func (s *Store) Rules(ctx context.Context, tenant uuid.UUID, afterID string, limit int) ([]intake.CategoryRule, error) {
	return rules.list(ctx, s.pool, tenant, afterID, limit)
}

// DeleteRule deletes one category rule.
func (s *Store) DeleteRule(ctx context.Context, tenant uuid.UUID, id string) error {
	return rules.delete(ctx, s.pool, tenant, id)
}

package store

import (
	"context"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/vcci-dev/vcci/pkg/db"
	"github.com/vcci-dev/vcci/services/intake/internal/intake"
)

// AdjustSupplierTotals adds each supplier's change of kg CO2e to its
// total, in one transaction with the record of id, unless id was applied
// before.
func (s *Store) AdjustSupplierTotals(ctx context.Context, tenant uuid.UUID, id string, totals []intake.SupplierTotal) (bool, error) {
	sups, kgs := make([]string, len(totals)), make([]string, len(totals))
	for i, t := range totals {
		sups[i], kgs[i] = t.ID, t.Kg
	}
	var applied bool
	err := db.InTenant(ctx, s.pool, tenant, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `
			WITH rec AS (
				INSERT INTO intake.supplier_adjustments (tenant_id, id) VALUES ($1, $2) ON CONFLICT DO NOTHING RETURNING id
			), upd AS (
				UPDATE intake.supplier_totals s SET kg_co2e = s.kg_co2e + d.kg, updated_at = now()
				FROM (SELECT d.id, d.kg FROM unnest($3::text[], $4::text[]::numeric[]) AS d(id, kg) ORDER BY d.id) d
				WHERE EXISTS (SELECT 1 FROM rec) AND s.tenant_id = $1 AND s.supplier_id = d.id
			)
			SELECT EXISTS (SELECT 1 FROM rec)`, tenant, id, sups, kgs).Scan(&applied)
	})
	if err != nil {
		return false, fmt.Errorf("store.AdjustSupplierTotals: %w", err)
	}
	return applied, nil
}

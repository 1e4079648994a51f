package store

import (
	"context"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/vcci-dev/vcci/pkg/db"
	"github.com/vcci-dev/vcci/services/intake/internal/intake"
)

var mappings = resource[intake.ColumnMapping]{table: "intake.column_mappings", id: "mapping_id", cols: `mapping_id, columns, created_at`,
	scan: scanMapping, notFound: intake.ErrMappingNotFound}

func scanMapping(row pgx.Row) (intake.ColumnMapping, error) {
	var m intake.ColumnMapping
	if err := row.Scan(&m.ID, &m.Columns, &m.CreatedAt); err != nil {
		return m, fmt.Errorf("scan column mapping: %w", err)
	}
	return m, nil
}

// CreateMapping stores a column mapping.
func (s *Store) CreateMapping(ctx context.Context, tenant uuid.UUID, m intake.ColumnMapping) (intake.ColumnMapping, error) {
	out, err := mappings.insert(ctx, s.pool, tenant, `INSERT INTO intake.column_mappings (tenant_id, mapping_id, columns)
		VALUES ($1, $2, $3)`, tenant, m.ID, m.Columns)
	if db.IsUniqueViolation(err) {
		return out, intake.ErrMappingExists
	}
	if err != nil {
		return out, fmt.Errorf("store.CreateMapping: %w", err)
	}
	return out, nil
}

// Mapping returns one column mapping.
func (s *Store) Mapping(ctx context.Context, tenant uuid.UUID, id string) (intake.ColumnMapping, error) {
	return mappings.get(ctx, s.pool, tenant, id)
}

// Mappings lists column mappings by id, after afterID.
func (s *Store) Mappings(ctx context.Context, tenant uuid.UUID, afterID string, limit int) ([]intake.ColumnMapping, error) {
	return mappings.list(ctx, s.pool, tenant, afterID, limit)
}

// DeleteMapping deletes one column mapping.
func (s *Store) DeleteMapping(ctx context.Context, tenant uuid.UUID, id string) error {
	return mappings.delete(ctx, s.pool, tenant, id)
}

package store

import (
	"context"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/vcci-dev/vcci/pkg/db"
	"github.com/vcci-dev/vcci/services/intake/internal/intake"
)

const mappingCols = `mapping_id, columns, created_at`

func scanMapping(row pgx.Row) (intake.ColumnMapping, error) {
	var m intake.ColumnMapping
	if err := row.Scan(&m.ID, &m.Columns, &m.CreatedAt); err != nil {
		return m, fmt.Errorf("scan column mapping: %w", err)
	}
	return m, nil
}

// CreateMapping stores a column mapping.
func (s *Store) CreateMapping(ctx context.Context, tenant uuid.UUID, m intake.ColumnMapping) (intake.ColumnMapping, error) {
	var out intake.ColumnMapping
	err := db.InTenant(ctx, s.pool, tenant, func(tx pgx.Tx) error {
		var err error
		out, err = scanMapping(tx.QueryRow(ctx, `INSERT INTO intake.column_mappings (tenant_id, mapping_id, columns)
			VALUES ($1, $2, $3) RETURNING `+mappingCols, tenant, m.ID, m.Columns))
		return err
	})
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
	var m intake.ColumnMapping
	err := db.InTenant(ctx, s.pool, tenant, func(tx pgx.Tx) error {
		var err error
		m, err = scanMapping(tx.QueryRow(ctx, `SELECT `+mappingCols+` FROM intake.column_mappings
			WHERE tenant_id = $1 AND mapping_id = $2`, tenant, id))
		return err
	})
	return m, db.NotFound(err, "store.Mapping", intake.ErrMappingNotFound)
}

// Mappings lists column mappings by id, after afterID.
func (s *Store) Mappings(ctx context.Context, tenant uuid.UUID, afterID string, limit int) ([]intake.ColumnMapping, error) {
	var out []intake.ColumnMapping
	err := db.InTenant(ctx, s.pool, tenant, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT `+mappingCols+` FROM intake.column_mappings
			WHERE tenant_id = $1 AND mapping_id > $2 ORDER BY mapping_id LIMIT $3`, tenant, afterID, limit)
		if err != nil {
			return fmt.Errorf("query column mappings: %w", err)
		}
		out, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (intake.ColumnMapping, error) { return scanMapping(r) })
		return err //nolint:wrapcheck // wrapped below, with the call's name
	})
	if err != nil {
		return nil, fmt.Errorf("store.Mappings: %w", err)
	}
	return out, nil
}

// DeleteMapping deletes one column mapping.
func (s *Store) DeleteMapping(ctx context.Context, tenant uuid.UUID, id string) error {
	var n int64
	err := db.InTenant(ctx, s.pool, tenant, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM intake.column_mappings WHERE tenant_id = $1 AND mapping_id = $2`, tenant, id)
		n = tag.RowsAffected()
		return err //nolint:wrapcheck // wrapped below, with the call's name
	})
	if err != nil {
		return fmt.Errorf("store.DeleteMapping: %w", err)
	}
	if n == 0 {
		return intake.ErrMappingNotFound
	}
	return nil
}

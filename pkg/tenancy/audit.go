package tenancy

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/vcci-dev/vcci/pkg/db"
)

// AuditEvent is one row of a tenant's audit log: who did what to which
// resource, when, in which request.
type AuditEvent struct {
	ID        int64
	Tenant    uuid.UUID
	Time      time.Time
	Actor     string // apiKeys/{id}, or service
	KeyPrefix string
	Method    string // the full gRPC method
	Resource  string // the resource's name, when the call names one
	RequestID string
}

// AuditLog is the append-only iam.audit_log, read and written in the
// tenant's row-level-security scope.
type AuditLog struct{ pool *pgxpool.Pool }

// NewAuditLog returns the audit log of pool's platform.
func NewAuditLog(pool *pgxpool.Pool) *AuditLog { return &AuditLog{pool: pool} }

// Append adds e to its tenant's log; ID and Time are set by the database.
func (l *AuditLog) Append(ctx context.Context, e AuditEvent) error {
	err := db.InTenant(ctx, l.pool, e.Tenant, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `
			INSERT INTO iam.audit_log (tenant_id, actor, key_prefix, method, resource, request_id) VALUES ($1, $2, $3, $4, $5, $6)`,
			e.Tenant, e.Actor, e.KeyPrefix, e.Method, e.Resource, e.RequestID)
		if err != nil {
			return fmt.Errorf("insert: %w", err)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("tenancy.AuditLog.Append: %w", err)
	}
	return nil
}

// List returns up to limit of tenant's events, newest first, older than
// the event before (0: from the newest).
func (l *AuditLog) List(ctx context.Context, tenant uuid.UUID, limit int, before int64) ([]AuditEvent, error) {
	var out []AuditEvent
	err := db.InTenant(ctx, l.pool, tenant, func(tx pgx.Tx) error {
		q := `SELECT id, tenant_id, occurred_at, actor, key_prefix, method, resource, request_id FROM iam.audit_log`
		args := []any{limit}
		if before > 0 {
			q += ` WHERE id < $2`
			args = append(args, before)
		}
		rows, err := tx.Query(ctx, q+` ORDER BY id DESC LIMIT $1`, args...)
		if err != nil {
			return fmt.Errorf("query: %w", err)
		}
		out, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (AuditEvent, error) {
			var e AuditEvent
			if err := r.Scan(&e.ID, &e.Tenant, &e.Time, &e.Actor, &e.KeyPrefix, &e.Method, &e.Resource, &e.RequestID); err != nil {
				return AuditEvent{}, fmt.Errorf("scan: %w", err)
			}
			return e, nil
		})
		if err != nil {
			return fmt.Errorf("rows: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("tenancy.AuditLog.List: %w", err)
	}
	return out, nil
}

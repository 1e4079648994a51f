// Package riverdb migrates River's tables into a schema of a service's
// own: each service works its own queues.
package riverdb

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"

	"github.com/vcci-dev/vcci/pkg/db"
)

// Migrate creates or updates River's tables in schema, then runs grants
// (the roles' access to them). Replicas that start together migrate one at
// a time, waiting without a timeout; River's versions go in a transaction
// each (one adds an enum value the next uses).
func Migrate(ctx context.Context, pool *pgxpool.Pool, schema, grants string) error {
	m, err := rivermigrate.New(riverpgxv5.New(pool), &rivermigrate.Config{Schema: schema})
	if err != nil {
		return fmt.Errorf("riverdb.Migrate: %w", err)
	}
	conn, release, err := db.Unbounded(ctx, pool)
	if err != nil {
		return fmt.Errorf("riverdb.Migrate: %w", err)
	}
	defer release()
	lock := `hashtext('` + schema + `.river')`
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock(`+lock+`)`); err != nil {
		return fmt.Errorf("riverdb.Migrate: %w", err)
	}
	defer func() {
		// Best effort: the lock ends with the session anyway.
		_, _ = conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock(`+lock+`)`)
	}()
	if _, err := conn.Exec(ctx, `CREATE SCHEMA IF NOT EXISTS `+schema); err != nil {
		return fmt.Errorf("riverdb.Migrate: %w", err)
	}
	if _, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return fmt.Errorf("riverdb.Migrate: %s: %w", schema, err)
	}
	if _, err := conn.Exec(ctx, grants); err != nil {
		return fmt.Errorf("riverdb.Migrate: grants: %w", err)
	}
	return nil
}

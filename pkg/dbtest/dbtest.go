// Package dbtest is where testsupport's database helpers used to live. It
// forwards to them while some tests still import it, and goes when none
// do.
//
// Deprecated: use testsupport.
package dbtest

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/vcci-dev/vcci/pkg/testsupport"
)

// AdminURL is testsupport.AdminURL.
func AdminURL() string { return testsupport.AdminURL() }

// URL is testsupport.URL.
func URL(name string) string { return testsupport.URL(name) }

// NewDatabase is testsupport.NewDatabase; migrate may apply tenancy's schema
// again, which is a no-op.
func NewDatabase(t testing.TB, key string, migrate func(ctx context.Context, pool *pgxpool.Pool) error) string {
	t.Helper()
	return testsupport.NewDatabase(t, key, migrate)
}

// NewPool is testsupport.NewPool.
func NewPool(t testing.TB, key string, migrate func(ctx context.Context, pool *pgxpool.Pool) error) *pgxpool.Pool {
	t.Helper()
	return testsupport.NewPool(t, key, migrate)
}

// Main is testsupport.Main.
func Main(m *testing.M) int { return testsupport.Main(m) }

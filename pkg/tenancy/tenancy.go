// Package tenancy maps API keys to tenants and what they may do. Keys are
// random, shown once, and stored only as their SHA-256 hash. The iam schema
// is the platform's identity store, the one set of tables every service
// reads (through Authenticator): tenants, API keys and their scopes, the
// audit log, and the service credentials.
package tenancy

import (
	"context"
	"crypto/sha256"
	"embed"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/vcci-dev/vcci/pkg/apperr"
	"github.com/vcci-dev/vcci/pkg/db"
)

//go:embed migrations/*.sql
var migrations embed.FS

// ErrBadKey is returned for a missing, unknown, revoked or expired key.
var ErrBadKey = apperr.New(apperr.Unauthenticated, "missing or invalid API key: send it as the x-api-key header or metadata")

// Migrate creates or updates the iam schema.
func Migrate(ctx context.Context, pool *pgxpool.Pool) error {
	if err := db.Migrate(ctx, pool, "iam", migrations); err != nil {
		return fmt.Errorf("tenancy.Migrate: %w", err)
	}
	return nil
}

type ctxKey struct{}

// identity is who a call is made by.
type identity struct {
	tenant  uuid.UUID
	key     string
	keyID   uuid.UUID // the key's id; nil for a key no table holds (tests' fakes)
	prefix  string
	scopes  Scopes
	service string // service token, for work done on a tenant's behalf
}

// WithTenant returns ctx carrying the tenant and the key it was proven
// with, allowed every scope (an authenticator that knows no scopes).
func WithTenant(ctx context.Context, tenant uuid.UUID, key string) context.Context {
	return context.WithValue(ctx, ctxKey{}, identity{tenant: tenant, key: key, prefix: prefixOf(key), scopes: AllScopes})
}

// WithCaller returns ctx carrying the caller a key proved and the key.
func WithCaller(ctx context.Context, c Caller, key string) context.Context {
	return context.WithValue(ctx, ctxKey{}, identity{tenant: c.Tenant, key: key, keyID: c.KeyID, prefix: c.Prefix, scopes: c.Scopes})
}

// AsService returns ctx acting for tenant with the platform's service token,
// for background work that has no user key. A service may read and write
// for the tenant, never administer it (ServiceScopes).
func AsService(ctx context.Context, tenant uuid.UUID, token string) context.Context {
	return context.WithValue(ctx, ctxKey{}, identity{tenant: tenant, service: token, scopes: ServiceScopes})
}

// ServiceTokenFrom returns the service token ctx acts with, if any.
func ServiceTokenFrom(ctx context.Context) string {
	id, _ := ctx.Value(ctxKey{}).(identity)
	return id.service
}

// TenantFrom returns the caller's tenant.
func TenantFrom(ctx context.Context) (uuid.UUID, bool) {
	id, ok := ctx.Value(ctxKey{}).(identity)
	return id.tenant, ok
}

// KeyFrom returns the API key the caller authenticated with, to forward to
// downstream services.
func KeyFrom(ctx context.Context) string {
	id, _ := ctx.Value(ctxKey{}).(identity)
	return id.key
}

// ScopesFrom returns what the caller may do; none without a caller.
func ScopesFrom(ctx context.Context) Scopes {
	id, _ := ctx.Value(ctxKey{}).(identity)
	return id.scopes
}

// ActorFrom names the caller as the audit log records it: "service" for a
// service acting for a tenant, "apiKeys/{id}" for a key (its prefix when
// no table holds it), and the key's prefix.
func ActorFrom(ctx context.Context) (actor, prefix string) {
	id, _ := ctx.Value(ctxKey{}).(identity)
	switch {
	case id.service != "":
		return "service", ""
	case id.keyID != uuid.Nil:
		return KeyName(id.keyID), id.prefix
	default:
		return "apiKeys/" + id.prefix, id.prefix
	}
}

// MustTenant returns the caller's tenant or ErrBadKey.
func MustTenant(ctx context.Context) (uuid.UUID, error) {
	t, ok := TenantFrom(ctx)
	if !ok {
		return uuid.Nil, ErrBadKey
	}
	return t, nil
}

// Hash is the stored form of a key.
func Hash(key string) []byte {
	h := sha256.Sum256([]byte(key))
	return h[:]
}

// EnsureTenant returns the id of the tenant with this name, creating it.
func EnsureTenant(ctx context.Context, pool *pgxpool.Pool, name string) (uuid.UUID, error) {
	var id uuid.UUID
	err := pool.QueryRow(ctx, `
		INSERT INTO iam.tenants (id, name) VALUES ($1, $2)
		ON CONFLICT (name) DO UPDATE SET name = excluded.name
		RETURNING id`, uuid.New(), name).Scan(&id)
	if err != nil {
		return uuid.Nil, fmt.Errorf("tenancy.EnsureTenant: %w", err)
	}
	return id, nil
}

// TenantName returns the name a tenant was created with.
func TenantName(ctx context.Context, pool *pgxpool.Pool, tenant uuid.UUID) (string, error) {
	var name string
	if err := pool.QueryRow(ctx, `SELECT name FROM iam.tenants WHERE id = $1`, tenant).Scan(&name); err != nil {
		return "", fmt.Errorf("tenancy.TenantName: %w", err)
	}
	return name, nil
}

// Package tenancy maps API keys to tenants. Keys are random, shown once, and
// stored only as their SHA-256 hash. The iam schema is the platform's identity
// store, the one set of tables every service reads (through Authenticator).
package tenancy

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/vcci-dev/vcci/pkg/apperr"
	"github.com/vcci-dev/vcci/pkg/db"
)

//go:embed migrations/*.sql
var migrations embed.FS

// ErrBadKey is returned for a missing, unknown or revoked key.
var ErrBadKey = apperr.New(apperr.Unauthenticated, "missing or invalid API key: send it as the x-api-key header or metadata")

// Migrate creates or updates the iam schema.
func Migrate(ctx context.Context, pool *pgxpool.Pool) error {
	return db.Migrate(ctx, pool, "iam", migrations)
}

type ctxKey struct{}

type identity struct {
	tenant  uuid.UUID
	key     string
	service string // service token, for work done on a tenant's behalf
}

// WithTenant returns ctx carrying the tenant and the key it was proven with.
func WithTenant(ctx context.Context, tenant uuid.UUID, key string) context.Context {
	return context.WithValue(ctx, ctxKey{}, identity{tenant: tenant, key: key})
}

// AsService returns ctx acting for tenant with the platform's service token,
// for background work that has no user key.
func AsService(ctx context.Context, tenant uuid.UUID, token string) context.Context {
	return context.WithValue(ctx, ctxKey{}, identity{tenant: tenant, service: token})
}

// ServiceTokenFrom returns the service token ctx acts with, if any.
func ServiceTokenFrom(ctx context.Context) string {
	id, _ := ctx.Value(ctxKey{}).(identity)
	return id.service
}

// ServiceToken returns the platform's service token, creating it once.
func ServiceToken(ctx context.Context, pool *pgxpool.Pool) (string, error) {
	secret, err := platformSecret(ctx, pool)
	if err != nil {
		return "", fmt.Errorf("tenancy.ServiceToken: %w", err)
	}
	return hex.EncodeToString(secret), nil
}

// DeriveKey returns a key for one purpose (say "page-token") derived from the
// platform secret, so every replica of every service derives the same key
// and none of them ever sees the secret used for another purpose.
func DeriveKey(ctx context.Context, pool *pgxpool.Pool, purpose string) ([]byte, error) {
	secret, err := platformSecret(ctx, pool)
	if err != nil {
		return nil, fmt.Errorf("tenancy.DeriveKey: %w", err)
	}
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("vcci/" + purpose))
	return m.Sum(nil), nil
}

// platformSecret reads the platform secret, creating it on first use.
func platformSecret(ctx context.Context, pool *pgxpool.Pool) ([]byte, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return nil, err
	}
	var secret []byte
	err := pool.QueryRow(ctx, `
		WITH ins AS (INSERT INTO iam.service_secret (secret) VALUES ($1) ON CONFLICT (id) DO NOTHING RETURNING secret)
		SELECT secret FROM ins UNION ALL SELECT secret FROM iam.service_secret LIMIT 1`, b).Scan(&secret)
	if errors.Is(err, pgx.ErrNoRows) {
		// Another process inserted the secret concurrently: the conflict
		// waited for its commit, but this statement's snapshot predates
		// it. A new statement sees it.
		err = pool.QueryRow(ctx, `SELECT secret FROM iam.service_secret`).Scan(&secret)
	}
	return secret, err
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

// IssueKey creates a new API key for tenant and returns it; only its hash is kept.
func IssueKey(ctx context.Context, pool *pgxpool.Pool, tenant uuid.UUID, label string) (string, error) {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("tenancy.IssueKey: %w", err)
	}
	key := "vcci_" + hex.EncodeToString(b)
	_, err := pool.Exec(ctx, `INSERT INTO iam.api_keys (key_hash, tenant_id, prefix, label) VALUES ($1, $2, $3, $4)`,
		Hash(key), tenant, key[:9], label)
	if err != nil {
		return "", fmt.Errorf("tenancy.IssueKey: %w", err)
	}
	return key, nil
}

// RegisterKey stores a caller-chosen key (for example one given in the
// environment) for tenant; registering it again is a no-op.
func RegisterKey(ctx context.Context, pool *pgxpool.Pool, tenant uuid.UUID, key, label string) error {
	if len(key) < 16 {
		return apperr.Invalid("api_key", "must be at least 16 characters")
	}
	_, err := pool.Exec(ctx, `INSERT INTO iam.api_keys (key_hash, tenant_id, prefix, label) VALUES ($1, $2, $3, $4)
		ON CONFLICT (key_hash) DO NOTHING`, Hash(key), tenant, key[:9], label)
	if err != nil {
		return fmt.Errorf("tenancy.RegisterKey: %w", err)
	}
	return nil
}

// Authenticator resolves keys to tenants, remembering answers for a short
// while so that a request costs no query in the steady state.
type Authenticator struct {
	pool *pgxpool.Pool
	ttl  time.Duration

	mu    sync.Mutex
	cache map[string]cached
	token string // the service token, loaded on first use
}

type cached struct {
	tenant  uuid.UUID
	ok      bool
	expires time.Time
}

// NewAuthenticator returns an Authenticator; revocations take effect within ttl.
func NewAuthenticator(pool *pgxpool.Pool, ttl time.Duration) *Authenticator {
	return &Authenticator{pool: pool, ttl: ttl, cache: make(map[string]cached)}
}

// AuthenticateService accepts a service acting for tenant.
func (a *Authenticator) AuthenticateService(ctx context.Context, token, tenant string) (uuid.UUID, error) {
	a.mu.Lock()
	want := a.token
	a.mu.Unlock()
	if want == "" {
		t, err := ServiceToken(ctx, a.pool)
		if err != nil {
			return uuid.Nil, err
		}
		a.mu.Lock()
		a.token, want = t, t
		a.mu.Unlock()
	}
	if subtle.ConstantTimeCompare([]byte(token), []byte(want)) != 1 {
		return uuid.Nil, ErrBadKey
	}
	id, err := uuid.Parse(tenant)
	if err != nil {
		return uuid.Nil, apperr.Invalid("x-vcci-tenant", "not a tenant id")
	}
	return id, nil
}

// Authenticate returns the tenant of key, or ErrBadKey.
func (a *Authenticator) Authenticate(ctx context.Context, key string) (uuid.UUID, error) {
	key = strings.TrimSpace(key)
	if key == "" {
		return uuid.Nil, ErrBadKey
	}
	h := string(Hash(key))
	now := time.Now()
	a.mu.Lock()
	c, hit := a.cache[h]
	a.mu.Unlock()
	if hit && now.Before(c.expires) {
		if !c.ok {
			return uuid.Nil, ErrBadKey
		}
		return c.tenant, nil
	}
	var tenant uuid.UUID
	err := a.pool.QueryRow(ctx, `SELECT tenant_id FROM iam.api_keys WHERE key_hash = $1 AND revoked_at IS NULL`, []byte(h)).Scan(&tenant)
	err = db.NotFound(err, "tenancy.Authenticate", ErrBadKey)
	if err != nil && !errors.Is(err, ErrBadKey) {
		return uuid.Nil, err
	}
	ok := err == nil
	a.mu.Lock()
	if len(a.cache) > 100_000 { // bound memory under a flood of random keys
		clear(a.cache)
	}
	a.cache[h] = cached{tenant: tenant, ok: ok, expires: now.Add(a.ttl)}
	a.mu.Unlock()
	if !ok {
		return uuid.Nil, ErrBadKey
	}
	return tenant, nil
}

package tenancy

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"golang.org/x/sync/singleflight"

	"github.com/vcci-dev/vcci/pkg/apperr"
)

// DefaultAuthTTL is how long a replica trusts what it learnt of a key: a
// revoked key stops working on every replica within it, at the cost of one
// indexed read per key, replica and TTL.
const DefaultAuthTTL = 5 * time.Second

// lastUsedEvery is the resolution of a key's last use: a key is written to
// at most this often, whatever its traffic.
const lastUsedEvery = time.Minute

// maxCached bounds the answers remembered under a flood of random keys.
const maxCached = 100_000

// Authenticator resolves keys to callers, remembering answers for a short
// while so that a request costs no query in the steady state, and checks
// the service credentials.
type Authenticator struct {
	pool   *pgxpool.Pool
	ttl    time.Duration
	tokens *ServiceTokens

	mu         sync.Mutex
	cache      map[string]cached
	lookups    singleflight.Group
	refreshing sync.Map // key hash -> struct{}: a lookup ahead of expiry is running
}

// cached is an answer about a key, served until expires; from refreshAt
// on, the first request to see it starts the next lookup in the
// background, so that a key in steady use never waits for one.
type cached struct {
	caller             Caller
	ok                 bool
	refreshAt, expires time.Time
}

// NewAuthenticator returns an Authenticator; revocations take effect
// within ttl (DefaultAuthTTL), expiries at once.
func NewAuthenticator(pool *pgxpool.Pool, ttl time.Duration) *Authenticator {
	return &Authenticator{pool: pool, ttl: ttl, tokens: NewServiceTokens(pool), cache: make(map[string]cached)}
}

// AuthenticateService accepts a service acting for tenant with a current or
// previous service token.
func (a *Authenticator) AuthenticateService(ctx context.Context, token, tenant string) (uuid.UUID, error) {
	ok, err := a.tokens.Accepts(ctx, token)
	if err != nil {
		return uuid.Nil, fmt.Errorf("tenancy.AuthenticateService: %w", err)
	}
	if !ok {
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
	c, err := a.AuthenticateKey(ctx, key)
	return c.Tenant, err
}

// AuthenticateKey returns who key proves the caller to be, or ErrBadKey for
// a key that is unknown, revoked or expired.
func (a *Authenticator) AuthenticateKey(ctx context.Context, key string) (Caller, error) {
	key = strings.TrimSpace(key)
	if key == "" {
		return Caller{}, ErrBadKey
	}
	h := string(Hash(key))
	now := time.Now()
	a.mu.Lock()
	c, hit := a.cache[h]
	a.mu.Unlock()
	if hit && now.Before(c.expires) {
		if now.After(c.refreshAt) {
			a.refreshAhead(ctx, h)
		}
		if !c.ok {
			return Caller{}, ErrBadKey
		}
		return c.caller, nil
	}
	// One lookup per key at a time: when an answer expires, the requests
	// of that moment share the next one instead of all querying the same
	// row.
	v, err := a.sharedLookup(ctx, h)
	if err != nil {
		return Caller{}, err
	}
	if c := v.(cached); c.ok {
		return c.caller, nil
	}
	return Caller{}, ErrBadKey
}

// refreshAhead looks key hash h up in the background, once at a time.
func (a *Authenticator) refreshAhead(ctx context.Context, h string) {
	if _, running := a.refreshing.LoadOrStore(h, struct{}{}); running {
		return
	}
	go func() {
		defer a.refreshing.Delete(h)
		_, _ = a.sharedLookup(ctx, h) // a failure is met again, in a request's path, once the answer expires
	}()
}

// sharedLookup is lookup, run once for every request asking at the same
// time; it outlives a caller that gives up, for the others waiting.
func (a *Authenticator) sharedLookup(ctx context.Context, h string) (any, error) {
	v, err, _ := a.lookups.Do(h, func() (any, error) {
		lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), lookupTimeout)
		defer cancel()
		return a.lookup(lctx, h)
	})
	return v, err //nolint:wrapcheck // lookup's own error, wrapped there
}

// lookupTimeout bounds a key's lookup, shared by the requests waiting on it.
const lookupTimeout = 10 * time.Second

// lookup reads the key with hash h and remembers the answer for the TTL
// (never past the key's expiry). Its last use is recorded at most once a
// lastUsedEvery, off the request's path.
func (a *Authenticator) lookup(ctx context.Context, h string) (cached, error) {
	var (
		caller  Caller
		names   []string
		expires *time.Time
		stale   bool
	)
	now := time.Now()
	err := a.pool.QueryRow(ctx, `
		SELECT tenant_id, id, prefix, scopes, expires_at, last_used_at IS NULL OR last_used_at < now() - $2::interval
		FROM iam.api_keys WHERE key_hash = $1 AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > now())`,
		[]byte(h), lastUsedEvery).Scan(&caller.Tenant, &caller.KeyID, &caller.Prefix, &names, &expires, &stale)
	ok := err == nil
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return cached{}, fmt.Errorf("tenancy.Authenticate: %w", err)
	}
	if ok {
		if caller.Scopes, err = ParseScopes(names); err != nil {
			return cached{}, fmt.Errorf("tenancy.Authenticate: %w", err)
		}
		if stale {
			go a.touch(context.WithoutCancel(ctx), h)
		}
	}
	until := now.Add(a.ttl)
	if expires != nil && expires.Before(until) {
		until = *expires
	}
	c := cached{caller: caller, ok: ok, refreshAt: now.Add(a.ttl - a.ttl/5), expires: until}
	a.mu.Lock()
	if len(a.cache) > maxCached {
		clear(a.cache)
	}
	a.cache[h] = c
	a.mu.Unlock()
	return c, nil
}

// touch records a key's use, best effort: a lost write only makes its
// "last used" older than it is.
func (a *Authenticator) touch(ctx context.Context, h string) {
	ctx, cancel := context.WithTimeout(ctx, lookupTimeout)
	defer cancel()
	_, _ = a.pool.Exec(ctx, `UPDATE iam.api_keys SET last_used_at = now() WHERE key_hash = $1`, []byte(h))
}

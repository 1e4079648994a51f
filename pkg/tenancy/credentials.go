package tenancy

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"golang.org/x/sync/singleflight"

	"github.com/vcci-dev/vcci/pkg/apperr"
	"github.com/vcci-dev/vcci/pkg/db"
)

// CredentialRefresh is how often a process reads the service credentials
// again: a rotated token is sent by every service within it.
const CredentialRefresh = 5 * time.Second

// RetireAfter is how long a rotation must have been in place before the
// previous token may be retired: every process has read the new one by then.
const RetireAfter = 3 * CredentialRefresh

// minReload spaces the reads an unknown token causes, so that a flood of
// bad tokens costs at most one query a second.
const minReload = time.Second

// ErrRotationPending refuses a rotation while the previous token is still
// accepted: rotating again would drop a token services may still send.
var ErrRotationPending = apperr.New(apperr.FailedPrecondition,
	"a previous service token is still accepted: retire it first (vcci service-token retire)")

// ErrRetireTooSoon refuses to retire the previous token before every
// process can have read the current one.
var ErrRetireTooSoon = apperr.New(apperr.FailedPrecondition,
	fmt.Sprintf("the current service token is younger than %s: services may still send the previous one", RetireAfter))

// ServiceTokens are the service credentials as one process knows them,
// read again every CredentialRefresh: the current token, which it sends,
// and the previous one, which it still accepts during a rotation. A read
// starts in the background in the last fifth of that period, so that under
// steady traffic no call waits for one; past the period, calls wait.
type ServiceTokens struct {
	pool  *pgxpool.Pool
	every time.Duration

	mu    sync.Mutex
	known tokens

	loads      singleflight.Group
	refreshing atomic.Bool
}

// NewServiceTokens returns the service credentials of pool's platform.
func NewServiceTokens(pool *pgxpool.Pool) *ServiceTokens {
	return &ServiceTokens{pool: pool, every: CredentialRefresh}
}

// tokens are the credentials as read at one moment.
type tokens struct {
	current, previous string
	loaded            time.Time
}

func (s *ServiceTokens) last() tokens {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.known
}

// fresh returns the tokens as last read, reading them first when they are
// older than s.every, and starting a read in the background when they are
// in the last fifth of it.
func (s *ServiceTokens) fresh(ctx context.Context) (tokens, error) {
	t := s.last()
	age := time.Since(t.loaded)
	switch {
	case age >= s.every:
		if err := s.reload(ctx); err != nil {
			return t, err
		}
		return s.last(), nil
	case age >= s.every-s.every/5 && s.refreshing.CompareAndSwap(false, true):
		go func() {
			defer s.refreshing.Store(false)
			_ = s.reload(context.WithoutCancel(ctx)) // a failure is met again, in the caller's path, once the tokens are stale
		}()
	}
	return t, nil
}

// reload reads the tokens once for every caller asking at the same time.
func (s *ServiceTokens) reload(ctx context.Context) error {
	_, err, _ := s.loads.Do("", func() (any, error) {
		lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), lookupTimeout)
		defer cancel()
		return nil, s.load(lctx)
	})
	return err //nolint:wrapcheck // load's own error, wrapped there
}

// Current returns the token to send. When a read fails, the last token
// read is kept (the database may be back by the next call).
func (s *ServiceTokens) Current(ctx context.Context) (string, error) {
	t, err := s.fresh(ctx)
	if err != nil && t.current == "" {
		return "", err
	}
	return t.current, nil
}

// Accepts reports whether token is the current or the previous token. One
// it does not know makes it read the credentials again (at most once a
// second), so that a token rotated elsewhere is accepted at once.
func (s *ServiceTokens) Accepts(ctx context.Context, token string) (bool, error) {
	t, err := s.fresh(ctx)
	if err != nil {
		return false, err
	}
	if t.matches(token) {
		return true, nil
	}
	if time.Since(t.loaded) < minReload {
		return false, nil
	}
	if err := s.reload(ctx); err != nil {
		return false, err
	}
	return s.last().matches(token), nil
}

func (t tokens) matches(token string) bool {
	b := []byte(token)
	cur := subtle.ConstantTimeCompare(b, []byte(t.current)) == 1
	prev := t.previous != "" && subtle.ConstantTimeCompare(b, []byte(t.previous)) == 1
	return cur || prev
}

// load reads both tokens, creating the first.
func (s *ServiceTokens) load(ctx context.Context) error {
	rows, err := s.pool.Query(ctx, `SELECT slot, token FROM iam.service_credentials`)
	if err != nil {
		return fmt.Errorf("tenancy.ServiceTokens: %w", err)
	}
	var cur, prev string
	var slot, token string
	_, err = pgx.ForEachRow(rows, []any{&slot, &token}, func() error {
		if slot == "current" {
			cur = token
		} else {
			prev = token
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("tenancy.ServiceTokens: %w", err)
	}
	if cur == "" { // the platform's first start
		if cur, err = ServiceToken(ctx, s.pool); err != nil {
			return err
		}
	}
	s.mu.Lock()
	s.known = tokens{current: cur, previous: prev, loaded: time.Now()}
	s.mu.Unlock()
	return nil
}

// newToken is a new random service token.
func newToken() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("random token: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// ServiceToken returns the current service token, creating the first one.
func ServiceToken(ctx context.Context, pool *pgxpool.Pool) (string, error) {
	fresh, err := newToken()
	if err != nil {
		return "", fmt.Errorf("tenancy.ServiceToken: %w", err)
	}
	var token string
	err = pool.QueryRow(ctx, `
		WITH ins AS (INSERT INTO iam.service_credentials (slot, token) VALUES ('current', $1) ON CONFLICT (slot) DO NOTHING RETURNING token)
		SELECT token FROM ins UNION ALL SELECT token FROM iam.service_credentials WHERE slot = 'current' LIMIT 1`, fresh).Scan(&token)
	if errors.Is(err, pgx.ErrNoRows) {
		// Another process inserted the token concurrently: the conflict
		// waited for its commit, but this statement's snapshot predates
		// it. A new statement sees it.
		err = pool.QueryRow(ctx, `SELECT token FROM iam.service_credentials WHERE slot = 'current'`).Scan(&token)
	}
	if err != nil {
		return "", fmt.Errorf("tenancy.ServiceToken: %w", err)
	}
	return token, nil
}

// RotateServiceToken makes a new current service token; the one it
// replaces stays accepted, as the previous one, until RetireServiceToken.
// Services send the new one within CredentialRefresh, without a restart.
func RotateServiceToken(ctx context.Context, pool *pgxpool.Pool) error {
	if _, err := ServiceToken(ctx, pool); err != nil {
		return err
	}
	fresh, err := newToken()
	if err != nil {
		return fmt.Errorf("tenancy.RotateServiceToken: %w", err)
	}
	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		var pending bool
		if err := tx.QueryRow(ctx, `
			SELECT EXISTS (SELECT 1 FROM iam.service_credentials WHERE slot = 'previous')
			FROM iam.service_credentials WHERE slot = 'current' FOR UPDATE`).Scan(&pending); err != nil {
			return fmt.Errorf("lock: %w", err)
		}
		if pending {
			return ErrRotationPending
		}
		if _, err := tx.Exec(ctx, `
			INSERT INTO iam.service_credentials (slot, token) SELECT 'previous', token FROM iam.service_credentials WHERE slot = 'current'`); err != nil {
			if db.IsUniqueViolation(err) { // a concurrent rotation won
				return ErrRotationPending
			}
			return fmt.Errorf("keep the previous token: %w", err)
		}
		if _, err := tx.Exec(ctx, `UPDATE iam.service_credentials SET token = $1, created_at = now() WHERE slot = 'current'`, fresh); err != nil {
			return fmt.Errorf("set the current token: %w", err)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("tenancy.RotateServiceToken: %w", err)
	}
	return nil
}

// RetireServiceToken stops accepting the previous service token, on every
// replica within CredentialRefresh. It refuses (ErrRetireTooSoon) until the
// current token is RetireAfter old, and reports whether there was one.
func RetireServiceToken(ctx context.Context, pool *pgxpool.Pool) (bool, error) {
	var retired, young bool
	err := pool.QueryRow(ctx, `
		WITH young AS (SELECT created_at > now() - $1::interval AS young FROM iam.service_credentials WHERE slot = 'current'),
		del AS (DELETE FROM iam.service_credentials WHERE slot = 'previous' AND NOT coalesce((SELECT young FROM young), false) RETURNING 1)
		SELECT EXISTS (SELECT 1 FROM del), coalesce((SELECT young FROM young), false)
			AND EXISTS (SELECT 1 FROM iam.service_credentials WHERE slot = 'previous')`, RetireAfter).Scan(&retired, &young)
	if err != nil {
		return false, fmt.Errorf("tenancy.RetireServiceToken: %w", err)
	}
	if young {
		return false, ErrRetireTooSoon
	}
	return retired, nil
}

// DeriveKey returns a key for one purpose (say "page-token") derived from the
// platform secret, so every replica of every service derives the same key
// and none of them ever sees the secret used for another purpose. The
// secret is never sent and never rotated with the service tokens, so
// derived keys (page tokens clients hold) outlive a rotation.
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
		return nil, fmt.Errorf("random secret: %w", err)
	}
	var secret []byte
	err := pool.QueryRow(ctx, `
		WITH ins AS (INSERT INTO iam.service_secret (secret) VALUES ($1) ON CONFLICT (id) DO NOTHING RETURNING secret)
		SELECT secret FROM ins UNION ALL SELECT secret FROM iam.service_secret LIMIT 1`, b).Scan(&secret)
	if errors.Is(err, pgx.ErrNoRows) {
		// As in ServiceToken: a concurrent creator won.
		err = pool.QueryRow(ctx, `SELECT secret FROM iam.service_secret`).Scan(&secret)
	}
	if err != nil {
		return nil, fmt.Errorf("platform secret: %w", err)
	}
	return secret, nil
}

package tenancy

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/vcci-dev/vcci/pkg/apperr"
)

// Scopes are what a key may do, as a set.
type Scopes uint8

// The scopes. Read covers every read of a tenant's data, write every change
// to it, admin the tenant's keys and its audit log. They are independent: a
// key made with admin alone manages keys but reads no emissions.
const (
	ScopeRead Scopes = 1 << iota
	ScopeWrite
	ScopeAdmin

	// AllScopes is what a key made before scopes existed may do, and what
	// IssueKey and RegisterKey give.
	AllScopes = ScopeRead | ScopeWrite | ScopeAdmin
	// ServiceScopes is what a service acting for a tenant may do: never
	// manage its keys or read its audit log.
	ServiceScopes = ScopeRead | ScopeWrite
)

var scopeNames = []struct {
	s    Scopes
	name string
}{{ScopeRead, "read"}, {ScopeWrite, "write"}, {ScopeAdmin, "admin"}}

// Has reports whether s holds every scope of want.
func (s Scopes) Has(want Scopes) bool { return s&want == want }

// Names are the scopes of s by name, in the order read, write, admin.
func (s Scopes) Names() []string {
	var out []string
	for _, n := range scopeNames {
		if s.Has(n.s) {
			out = append(out, n.name)
		}
	}
	return out
}

func (s Scopes) String() string { return strings.Join(s.Names(), ",") }

// ParseScopes reads scope names ("read", "write", "admin").
func ParseScopes(names []string) (Scopes, error) {
	var s Scopes
next:
	for _, name := range names {
		for _, n := range scopeNames {
			if n.name == name {
				s |= n.s
				continue next
			}
		}
		return 0, fmt.Errorf("tenancy.ParseScopes: unknown scope %q", name)
	}
	return s, nil
}

// Caller is who an API key proves a caller to be.
type Caller struct {
	Tenant uuid.UUID
	KeyID  uuid.UUID
	Prefix string
	Scopes Scopes
}

// KeyInfo is what the platform shows of a key: never the key itself.
type KeyInfo struct {
	ID       uuid.UUID
	Prefix   string // the key's first characters, to recognise it by
	Label    string
	Scopes   Scopes
	Created  time.Time
	Expires  time.Time // zero: never
	LastUsed time.Time // zero: never; recorded to the minute
	Revoked  time.Time // zero: not revoked
}

// ErrKeyNotFound is a key name that names no key of the caller's tenant.
var ErrKeyNotFound = apperr.New(apperr.NotFound, "no such API key")

// MaxLabel bounds a key's label, in characters.
const MaxLabel = 200

// KeyName is a key's resource name.
func KeyName(id uuid.UUID) string { return "apiKeys/" + id.String() }

// ParseKeyName reads a key's resource name; field names the request field
// it came in, for the error.
func ParseKeyName(field, name string) (uuid.UUID, error) {
	s, ok := strings.CutPrefix(name, "apiKeys/")
	id, err := uuid.Parse(s)
	if !ok || err != nil || len(s) != 36 {
		return uuid.Nil, apperr.Invalid(field, "must be apiKeys/{id}, as ListApiKeys names the key")
	}
	return id, nil
}

// prefixLen is how much of a key is kept in the clear, to recognise it by.
const prefixLen = 9

func prefixOf(key string) string { return key[:min(len(key), prefixLen)] }

// newKey returns a new random key.
func newKey() (string, error) {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("random key: %w", err)
	}
	return "vcci_" + hex.EncodeToString(b), nil
}

// NewKey is what CreateKey stores.
type NewKey struct {
	Label   string
	Scopes  Scopes
	Expires time.Time // zero: never
}

// CreateKey makes a key for tenant and returns it (the only time it is
// seen: only its hash is kept) with what is shown of it afterwards.
func CreateKey(ctx context.Context, pool *pgxpool.Pool, tenant uuid.UUID, nk NewKey) (string, KeyInfo, error) {
	var bad []apperr.Violation
	if nk.Scopes == 0 || nk.Scopes&^AllScopes != 0 {
		bad = append(bad, apperr.Violation{Field: "api_key.scopes", Description: "give at least one of SCOPE_READ, SCOPE_WRITE, SCOPE_ADMIN"})
	}
	if n := utf8.RuneCountInString(nk.Label); n > MaxLabel || !utf8.ValidString(nk.Label) || strings.ContainsRune(nk.Label, 0) {
		bad = append(bad, apperr.Violation{Field: "api_key.display_name", Description: fmt.Sprintf("must be UTF-8 text of at most %d characters", MaxLabel)})
	}
	if !nk.Expires.IsZero() && !nk.Expires.After(time.Now()) {
		bad = append(bad, apperr.Violation{Field: "api_key.expire_time", Description: "must be in the future"})
	}
	if len(bad) > 0 {
		return "", KeyInfo{}, &apperr.Error{Kind: apperr.InvalidArgument, Msg: bad[0].Field + ": " + bad[0].Description, Violations: bad}
	}
	key, err := newKey()
	if err != nil {
		return "", KeyInfo{}, fmt.Errorf("tenancy.CreateKey: %w", err)
	}
	var expires *time.Time
	if !nk.Expires.IsZero() {
		expires = &nk.Expires
	}
	row := pool.QueryRow(ctx, `
		INSERT INTO iam.api_keys (key_hash, tenant_id, prefix, label, scopes, expires_at) VALUES ($1, $2, $3, $4, $5, $6)
		RETURNING `+keyColumns, Hash(key), tenant, prefixOf(key), nk.Label, nk.Scopes.Names(), expires)
	info, err := scanKey(row)
	if err != nil {
		return "", KeyInfo{}, fmt.Errorf("tenancy.CreateKey: %w", err)
	}
	return key, info, nil
}

const keyColumns = `id, prefix, label, scopes, created_at, expires_at, last_used_at, revoked_at`

func scanKey(row pgx.Row) (KeyInfo, error) {
	var k KeyInfo
	var names []string
	var expires, used, revoked *time.Time
	if err := row.Scan(&k.ID, &k.Prefix, &k.Label, &names, &k.Created, &expires, &used, &revoked); err != nil {
		return KeyInfo{}, fmt.Errorf("scan key: %w", err)
	}
	s, err := ParseScopes(names)
	if err != nil {
		return KeyInfo{}, err
	}
	k.Scopes = s
	for _, t := range []struct {
		from *time.Time
		to   *time.Time
	}{{expires, &k.Expires}, {used, &k.LastUsed}, {revoked, &k.Revoked}} {
		if t.from != nil {
			*t.to = *t.from
		}
	}
	return k, nil
}

// KeyCursor is where a page of keys resumes: after this key.
type KeyCursor struct {
	Created time.Time
	ID      uuid.UUID
}

// ListKeys returns up to limit of tenant's keys, revoked ones too, newest
// first, after the cursor (nil: from the newest).
func ListKeys(ctx context.Context, pool *pgxpool.Pool, tenant uuid.UUID, limit int, after *KeyCursor) ([]KeyInfo, error) {
	q := `SELECT ` + keyColumns + ` FROM iam.api_keys WHERE tenant_id = $1`
	args := []any{tenant, limit}
	if after != nil {
		q += ` AND (created_at, id) < ($3, $4)`
		args = append(args, after.Created, after.ID)
	}
	rows, err := pool.Query(ctx, q+` ORDER BY created_at DESC, id DESC LIMIT $2`, args...)
	if err != nil {
		return nil, fmt.Errorf("tenancy.ListKeys: %w", err)
	}
	keys, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (KeyInfo, error) { return scanKey(r) })
	if err != nil {
		return nil, fmt.Errorf("tenancy.ListKeys: %w", err)
	}
	return keys, nil
}

// RevokeKey revokes tenant's key id: it stops working on every replica
// within the Authenticator's TTL. Revoking a revoked key changes nothing.
func RevokeKey(ctx context.Context, pool *pgxpool.Pool, tenant, id uuid.UUID) (KeyInfo, error) {
	row := pool.QueryRow(ctx, `
		UPDATE iam.api_keys SET revoked_at = coalesce(revoked_at, now())
		WHERE tenant_id = $1 AND id = $2 RETURNING `+keyColumns, tenant, id)
	k, err := scanKey(row)
	if errors.Is(err, pgx.ErrNoRows) {
		return KeyInfo{}, ErrKeyNotFound
	}
	if err != nil {
		return KeyInfo{}, fmt.Errorf("tenancy.RevokeKey: %w", err)
	}
	return k, nil
}

// IssueKey creates a new API key for tenant with every scope and returns
// it; only its hash is kept.
func IssueKey(ctx context.Context, pool *pgxpool.Pool, tenant uuid.UUID, label string) (string, error) {
	key, _, err := CreateKey(ctx, pool, tenant, NewKey{Label: label, Scopes: AllScopes})
	if err != nil {
		return "", fmt.Errorf("tenancy.IssueKey: %w", err)
	}
	return key, nil
}

// RegisterKey stores a caller-chosen key (for example one given in the
// environment) for tenant, with every scope; registering it again is a
// no-op.
func RegisterKey(ctx context.Context, pool *pgxpool.Pool, tenant uuid.UUID, key, label string) error {
	if len(key) < 16 {
		return apperr.Invalid("api_key", "must be at least 16 characters")
	}
	_, err := pool.Exec(ctx, `INSERT INTO iam.api_keys (key_hash, tenant_id, prefix, label) VALUES ($1, $2, $3, $4)
		ON CONFLICT (key_hash) DO NOTHING`, Hash(key), tenant, prefixOf(key), label)
	if err != nil {
		return fmt.Errorf("tenancy.RegisterKey: %w", err)
	}
	return nil
}

package tenancy_test

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/vcci-dev/vcci/pkg/apperr"
	"github.com/vcci-dev/vcci/pkg/db"
	"github.com/vcci-dev/vcci/pkg/tenancy"
	"github.com/vcci-dev/vcci/pkg/testsupport"
)

func TestKeyLifecycle(t *testing.T) {
	ctx := context.Background()
	pool := testsupport.NewPool(t, "tenancy")
	acme, other := testsupport.Tenant(t, pool, "acme"), testsupport.Tenant(t, pool, "other")
	expires := time.Now().Add(time.Hour).Truncate(time.Microsecond)
	key, made, err := tenancy.CreateKey(ctx, pool, acme, tenancy.NewKey{Label: "dashboards", Scopes: tenancy.ScopeRead, Expires: expires})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(key, made.Prefix) || len(made.Prefix) != 9 || made.Label != "dashboards" || made.Scopes != tenancy.ScopeRead ||
		!made.Expires.Equal(expires) || !made.LastUsed.IsZero() || !made.Revoked.IsZero() {
		t.Fatalf("created %+v for key %s", made, key)
	}
	auth := tenancy.NewAuthenticator(pool, time.Minute)
	c, err := auth.AuthenticateKey(ctx, key)
	if err != nil || c != (tenancy.Caller{Tenant: acme, KeyID: made.ID, Prefix: made.Prefix, Scopes: tenancy.ScopeRead}) {
		t.Fatalf("AuthenticateKey = %+v, %v", c, err)
	}

	// Two more keys of acme's and one of another tenant's.
	_, second, err := tenancy.CreateKey(ctx, pool, acme, tenancy.NewKey{Label: "ci", Scopes: tenancy.ScopeRead | tenancy.ScopeWrite})
	if err != nil {
		t.Fatal(err)
	}
	legacy, err := tenancy.IssueKey(ctx, pool, acme, "old")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tenancy.IssueKey(ctx, pool, other, "theirs"); err != nil {
		t.Fatal(err)
	}
	var labels []string
	var after *tenancy.KeyCursor
	for range 3 {
		page, err := tenancy.ListKeys(ctx, pool, acme, 2, after)
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range page {
			labels = append(labels, k.Label+":"+k.Scopes.String())
		}
		if len(page) < 2 {
			break
		}
		after = &tenancy.KeyCursor{Created: page[len(page)-1].Created, ID: page[len(page)-1].ID}
	}
	if want := []string{"old:read,write,admin", "ci:read,write", "dashboards:read"}; !slices.Equal(labels, want) {
		t.Fatalf("acme's keys, newest first, two a page: %v, want %v", labels, want)
	}
	// The use is recorded off the request's path.
	var keys []tenancy.KeyInfo
	testsupport.WaitFor(t, "the key's use to be recorded", 5*time.Second, func() bool {
		keys, _ = tenancy.ListKeys(ctx, pool, acme, 10, nil)
		return len(keys) == 3 && keys[2].LastUsed.After(time.Now().Add(-time.Minute))
	})
	if !keys[0].LastUsed.IsZero() {
		t.Fatalf("last used: a key never used %v", keys[0].LastUsed)
	}

	// A key of one tenant cannot be revoked through another.
	if _, err := tenancy.RevokeKey(ctx, pool, other, second.ID); !errors.Is(err, tenancy.ErrKeyNotFound) {
		t.Fatalf("revoking acme's key as other: %v, want ErrKeyNotFound", err)
	}
	revoked, err := tenancy.RevokeKey(ctx, pool, acme, second.ID)
	if err != nil || revoked.Revoked.IsZero() || revoked.ID != second.ID {
		t.Fatalf("RevokeKey = %+v, %v", revoked, err)
	}
	again, err := tenancy.RevokeKey(ctx, pool, acme, second.ID)
	if err != nil || !again.Revoked.Equal(revoked.Revoked) {
		t.Fatalf("revoking again: %v, %v; want the first revocation's time %v", again.Revoked, err, revoked.Revoked)
	}
	if c, err := auth.AuthenticateKey(ctx, legacy); err != nil || c.Scopes != tenancy.AllScopes {
		t.Fatalf("a key issued without scopes: %+v, %v; want every scope", c, err)
	}
}

func TestCreateKeyRefusesBadInput(t *testing.T) {
	ctx := context.Background()
	pool := testsupport.NewPool(t, "tenancy")
	acme := testsupport.Tenant(t, pool, "acme")
	for _, c := range []struct {
		nk    tenancy.NewKey
		field string
	}{
		{tenancy.NewKey{Label: "none"}, "api_key.scopes"},
		{tenancy.NewKey{Scopes: tenancy.ScopeRead, Label: strings.Repeat("x", 201)}, "api_key.display_name"},
		{tenancy.NewKey{Scopes: tenancy.ScopeRead, Label: "nul\x00"}, "api_key.display_name"},
		{tenancy.NewKey{Scopes: tenancy.ScopeRead, Expires: time.Now().Add(-time.Second)}, "api_key.expire_time"},
	} {
		_, _, err := tenancy.CreateKey(ctx, pool, acme, c.nk)
		var ae *apperr.Error
		if !errors.As(err, &ae) || ae.Kind != apperr.InvalidArgument || len(ae.Violations) != 1 || ae.Violations[0].Field != c.field {
			t.Errorf("CreateKey(%+v) = %v, want InvalidArgument on %s", c.nk, err, c.field)
		}
	}
	var n int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM iam.api_keys`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("%d keys stored (%v), want 0", n, err)
	}
}

// Keys made before scopes existed (the dev key, every test key) keep every
// scope: the migration's default.
func TestKeysFromBeforeScopesKeepEveryScope(t *testing.T) {
	ctx := context.Background()
	pool := testsupport.NewPool(t, "tenancy")
	acme := testsupport.Tenant(t, pool, "acme")
	const key = "vcci_a-key-from-before-scopes"
	if _, err := pool.Exec(ctx, `INSERT INTO iam.api_keys (key_hash, tenant_id, prefix) VALUES ($1, $2, 'vcci_a-ke')`, tenancy.Hash(key), acme); err != nil {
		t.Fatal(err)
	}
	if c, err := tenancy.NewAuthenticator(pool, time.Minute).AuthenticateKey(ctx, key); err != nil || c.Scopes != tenancy.AllScopes {
		t.Fatalf("AuthenticateKey = %+v, %v; want every scope", c, err)
	}
}

// A revoked key stops working on every replica within the TTL: two
// authenticators, as two replicas would, both holding the key's answer
// when it is revoked.
// keyFixture is a database with the tenant acme and a read key of it.
type keyFixture struct {
	pool *pgxpool.Pool
	acme uuid.UUID
	key  string
	info tenancy.KeyInfo
}

func readKey(t *testing.T) keyFixture {
	t.Helper()
	f := keyFixture{pool: testsupport.NewPool(t, "tenancy")}
	f.acme = testsupport.Tenant(t, f.pool, "acme")
	var err error
	if f.key, f.info, err = tenancy.CreateKey(context.Background(), f.pool, f.acme, tenancy.NewKey{Scopes: tenancy.ScopeRead}); err != nil {
		t.Fatal(err)
	}
	return f
}

func TestRevocationReachesEveryReplica(t *testing.T) {
	ctx := context.Background()
	f := readKey(t)
	pool, acme, key, info := f.pool, f.acme, f.key, f.info
	replicas := []*tenancy.Authenticator{tenancy.NewAuthenticator(pool, tenancy.DefaultAuthTTL), tenancy.NewAuthenticator(pool, tenancy.DefaultAuthTTL)}
	for _, a := range replicas {
		if _, err := a.Authenticate(ctx, key); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := tenancy.RevokeKey(ctx, pool, acme, info.ID); err != nil {
		t.Fatal(err)
	}
	revoked := time.Now()
	for i, a := range replicas {
		testsupport.WaitFor(t, "the revoked key to be refused", tenancy.DefaultAuthTTL+time.Second, func() bool {
			_, err := a.Authenticate(ctx, key)
			return errors.Is(err, tenancy.ErrBadKey)
		})
		t.Logf("replica %d refuses the revoked key %v after the revocation (TTL %v)", i+1, time.Since(revoked).Round(time.Millisecond), tenancy.DefaultAuthTTL)
	}
}

// A key in steady use is looked up again before its answer expires, by a
// request that does not wait for it: the answer's expiry moves on while
// the key keeps working, and the lookup sees a revocation as before.
func TestKeyInUseIsLookedUpAhead(t *testing.T) {
	ctx := context.Background()
	f := readKey(t)
	pool, acme, key, info := f.pool, f.acme, f.key, f.info
	const ttl = time.Second
	a := tenancy.NewAuthenticator(pool, ttl)
	if _, err := a.Authenticate(ctx, key); err != nil {
		t.Fatal(err)
	}
	first := a.AnswerExpires(key)
	if first.IsZero() {
		t.Fatal("no answer remembered")
	}
	time.Sleep(ttl - ttl/10) // past the refresh point, before the expiry
	if _, err := a.Authenticate(ctx, key); err != nil {
		t.Fatalf("before its answer expired: %v", err)
	}
	testsupport.WaitFor(t, "the answer to be renewed ahead of its expiry", 5*time.Second, func() bool {
		return a.AnswerExpires(key).After(first)
	})
	// The next lookup ahead sees the revocation; the key is refused once
	// the answer in use expires, as without the lookup ahead.
	if _, err := tenancy.RevokeKey(ctx, pool, acme, info.ID); err != nil {
		t.Fatal(err)
	}
	testsupport.WaitFor(t, "the revoked key to be refused", 2*ttl+time.Second, func() bool {
		_, err := a.Authenticate(ctx, key)
		return errors.Is(err, tenancy.ErrBadKey)
	})
}

// An expiring key stops at its expiry, whatever the TTL.
func TestExpiredKeyStopsAtItsExpiry(t *testing.T) {
	ctx := context.Background()
	pool := testsupport.NewPool(t, "tenancy")
	acme := testsupport.Tenant(t, pool, "acme")
	expires := time.Now().Add(time.Second)
	key, _, err := tenancy.CreateKey(ctx, pool, acme, tenancy.NewKey{Scopes: tenancy.ScopeRead, Expires: expires})
	if err != nil {
		t.Fatal(err)
	}
	a := tenancy.NewAuthenticator(pool, time.Hour)
	if _, err := a.Authenticate(ctx, key); err != nil {
		t.Fatalf("before its expiry: %v", err)
	}
	time.Sleep(time.Until(expires))
	if _, err := a.Authenticate(ctx, key); !errors.Is(err, tenancy.ErrBadKey) {
		t.Fatalf("at its expiry: %v, want ErrBadKey", err)
	}
}

func TestServiceTokenRotation(t *testing.T) {
	ctx := context.Background()
	pool := testsupport.NewPool(t, "tenancy")
	first, err := tenancy.ServiceToken(ctx, pool)
	if err != nil {
		t.Fatal(err)
	}
	pageKey, err := tenancy.DeriveKey(ctx, pool, "page-token")
	if err != nil {
		t.Fatal(err)
	}
	// Two processes that read the credentials before the rotation.
	sender, receiver := tenancy.NewServiceTokens(pool), tenancy.NewServiceTokens(pool)
	sender.SetRefresh(200 * time.Millisecond)
	if cur, err := sender.Current(ctx); err != nil || cur != first {
		t.Fatalf("Current = %q, %v", cur, err)
	}
	if ok, err := receiver.Accepts(ctx, first); !ok || err != nil {
		t.Fatalf("Accepts(first) = %v, %v", ok, err)
	}

	if err := tenancy.RotateServiceToken(ctx, pool); err != nil {
		t.Fatal(err)
	}
	second, _ := tenancy.ServiceToken(ctx, pool)
	if second == first || len(second) != 64 {
		t.Fatalf("after a rotation the token is %q (was %q)", second, first)
	}
	// The receiver has not refreshed, but a token it does not know makes
	// it look; the old one is still accepted.
	time.Sleep(time.Second) // past minReload
	for _, tok := range []string{second, first} {
		if ok, err := receiver.Accepts(ctx, tok); !ok || err != nil {
			t.Fatalf("during the rotation, Accepts(%.8s) = %v, %v", tok, ok, err)
		}
	}
	testsupport.WaitFor(t, "the sender to send the new token", 2*time.Second, func() bool {
		cur, _ := sender.Current(ctx)
		return cur == second
	})
	if err := tenancy.RotateServiceToken(ctx, pool); !errors.Is(err, tenancy.ErrRotationPending) {
		t.Fatalf("rotating again before retiring: %v, want ErrRotationPending", err)
	}
	if _, err := tenancy.RetireServiceToken(ctx, pool); !errors.Is(err, tenancy.ErrRetireTooSoon) {
		t.Fatalf("retiring at once: %v, want ErrRetireTooSoon", err)
	}
	// As if RetireAfter had passed.
	if _, err := pool.Exec(ctx, `UPDATE iam.service_credentials SET created_at = now() - interval '1 hour' WHERE slot = 'current'`); err != nil {
		t.Fatal(err)
	}
	if retired, err := tenancy.RetireServiceToken(ctx, pool); !retired || err != nil {
		t.Fatalf("RetireServiceToken = %v, %v", retired, err)
	}
	fresh := tenancy.NewServiceTokens(pool)
	if ok, err := fresh.Accepts(ctx, first); ok || err != nil {
		t.Fatalf("the retired token: Accepts = %v, %v; want false", ok, err)
	}
	if ok, _ := fresh.Accepts(ctx, second); !ok {
		t.Fatal("the current token is refused")
	}
	if again, _ := tenancy.DeriveKey(ctx, pool, "page-token"); !bytes.Equal(again, pageKey) {
		t.Fatal("the page-token key changed with the rotation")
	}
}

func TestAuditLogIsAppendOnlyAndTenantScoped(t *testing.T) {
	ctx := context.Background()
	pool := testsupport.NewPool(t, "tenancy")
	acme, other := testsupport.Tenant(t, pool, "acme"), testsupport.Tenant(t, pool, "other")
	log := tenancy.NewAuditLog(pool)
	for i, e := range []tenancy.AuditEvent{
		{Tenant: acme, Actor: "service", Method: "m/One", Resource: "uploads/1", RequestID: "r1"},
		{Tenant: other, Actor: "service", Method: "m/Theirs"},
		{Tenant: acme, Actor: "apiKeys/k", KeyPrefix: "vcci_abcd", Method: "m/Two", Resource: "campaigns/2", RequestID: "r2"},
		{Tenant: acme, Actor: "apiKeys/k", KeyPrefix: "vcci_abcd", Method: "m/Three"},
	} {
		if err := log.Append(ctx, e); err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
	}
	page, err := log.List(ctx, acme, 2, 0)
	if err != nil || len(page) != 2 {
		t.Fatalf("List = %d events, %v", len(page), err)
	}
	rest, err := log.List(ctx, acme, 2, page[1].ID)
	if err != nil || len(rest) != 1 {
		t.Fatalf("second page: %d events, %v", len(rest), err)
	}
	got := make([]string, 0, len(page)+len(rest))
	for _, e := range append(page, rest...) {
		got = append(got, e.Actor+" "+e.KeyPrefix+" "+e.Method+" "+e.Resource+" "+e.RequestID)
		if e.Tenant != acme || time.Since(e.Time) > time.Minute {
			t.Errorf("event %+v", e)
		}
	}
	want := []string{"apiKeys/k vcci_abcd m/Three  ", "apiKeys/k vcci_abcd m/Two campaigns/2 r2", "service  m/One uploads/1 r1"}
	if !slices.Equal(got, want) {
		t.Fatalf("acme's log, newest first:\n%q\nwant\n%q", got, want)
	}
	// No role changes or removes a row: not the services' role, not even
	// the superuser that owns the table here.
	for _, stmt := range []string{`UPDATE iam.audit_log SET actor = 'someone'`, `DELETE FROM iam.audit_log`, `TRUNCATE iam.audit_log`} {
		if _, err := pool.Exec(ctx, stmt); err == nil || !strings.Contains(err.Error(), "append-only") {
			t.Errorf("%s as the owner: %v, want the append-only refusal", stmt, err)
		}
		err := db.InTenant(ctx, pool, acme, func(tx pgx.Tx) error { _, err := tx.Exec(ctx, stmt); return err })
		if err == nil || !strings.Contains(err.Error(), "permission denied") {
			t.Errorf("%s as %s: %v, want permission denied", stmt, db.AppRole, err)
		}
	}
	var n int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM iam.audit_log WHERE actor <> 'someone'`).Scan(&n); err != nil || n != 4 {
		t.Fatalf("%d rows left unchanged (%v), want 4", n, err)
	}
	if _, err := log.List(ctx, uuid.New(), 10, 0); err != nil {
		t.Fatalf("a tenant with no events: %v", err)
	}
}

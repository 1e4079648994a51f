package tenancy_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/vcci-dev/vcci/pkg/tenancy"
	"github.com/vcci-dev/vcci/pkg/testsupport"
)

func TestMain(m *testing.M) { os.Exit(testsupport.Main(m)) }

func TestKeys(t *testing.T) {
	ctx := context.Background()
	pool := testsupport.NewPool(t, "tenancy")
	a, err := tenancy.EnsureTenant(ctx, pool, "acme")
	if err != nil {
		t.Fatal(err)
	}
	if again, _ := tenancy.EnsureTenant(ctx, pool, "acme"); again != a {
		t.Fatalf("EnsureTenant twice gave %s and %s", a, again)
	}
	key, err := tenancy.IssueKey(ctx, pool, a, "ci")
	if err != nil {
		t.Fatal(err)
	}
	var stored, plain int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM iam.api_keys WHERE key_hash = $1 AND prefix = $2`, tenancy.Hash(key), key[:9]).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	// No column holds the key itself.
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM iam.api_keys k WHERE k::text LIKE '%' || $1 || '%'`, key).Scan(&plain); err != nil {
		t.Fatal(err)
	}
	if stored != 1 || plain != 0 {
		t.Fatalf("key stored %d times by hash, %d in plain text", stored, plain)
	}
	auth := tenancy.NewAuthenticator(pool, time.Minute)
	if got, err := auth.Authenticate(ctx, key); err != nil || got != a {
		t.Fatalf("Authenticate = %s, %v", got, err)
	}
	for _, bad := range []string{"", "vcci_nope", key + "x"} {
		if _, err := auth.Authenticate(ctx, bad); !errors.Is(err, tenancy.ErrBadKey) {
			t.Fatalf("Authenticate(%q) = %v, want ErrBadKey", bad, err)
		}
	}
	tok, err := tenancy.ServiceToken(ctx, pool)
	if err != nil || len(tok) != 64 {
		t.Fatalf("service token %q, %v", tok, err)
	}
	if tok2, _ := tenancy.ServiceToken(ctx, pool); tok2 != tok {
		t.Fatal("service token changed")
	}
	if got, err := auth.AuthenticateService(ctx, tok, a.String()); err != nil || got != a {
		t.Fatalf("AuthenticateService = %s, %v", got, err)
	}
	if _, err := auth.AuthenticateService(ctx, "00"+tok[2:], a.String()); !errors.Is(err, tenancy.ErrBadKey) {
		t.Fatalf("wrong service token accepted: %v", err)
	}
}

// Every service creates the service token and the platform secret on its
// first start, and they start together: one that loses the race must read
// what won.
func TestLosingTheCreateRace(t *testing.T) {
	winner := "0123456789abcdef0123456789abcdef"
	mac := hmac.New(sha256.New, []byte(winner))
	mac.Write([]byte("vcci/page-token"))
	for _, c := range []struct {
		name, insert, table string
		want                string
	}{
		{"the service token", `INSERT INTO iam.service_credentials (slot, token) VALUES ('current', $1)`, "service_credentials", winner},
		{"the platform secret", `INSERT INTO iam.service_secret (secret) VALUES ($1::text::bytea)`, "service_secret", hex.EncodeToString(mac.Sum(nil))},
	} {
		t.Run(c.name, func(t *testing.T) {
			ctx := context.Background()
			pool := testsupport.NewPool(t, "tenancy")
			get := func() (string, error) {
				if c.table == "service_secret" {
					k, err := tenancy.DeriveKey(ctx, pool, "page-token")
					return hex.EncodeToString(k), err
				}
				return tenancy.ServiceToken(ctx, pool)
			}
			// The winner's insert, held uncommitted while the loser starts.
			tx, err := pool.Begin(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = tx.Rollback(ctx) }()
			if _, err := tx.Exec(ctx, c.insert, winner); err != nil {
				t.Fatal(err)
			}
			type result struct {
				got string
				err error
			}
			got := make(chan result, 1)
			go func() {
				v, err := get()
				got <- result{v, err}
			}()
			// Let the loser's insert reach the conflict and wait on the winner.
			testsupport.WaitFor(t, "the second caller to wait on the first one's insert", 10*time.Second, func() bool {
				var waiting bool
				if err := pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_stat_activity
					WHERE wait_event_type = 'Lock' AND query LIKE '%'||$1||'%' AND datname = current_database())`, c.table).Scan(&waiting); err != nil {
					t.Fatal(err)
				}
				return waiting
			})
			if err := tx.Commit(ctx); err != nil {
				t.Fatal(err)
			}
			r := <-got
			if r.err != nil || r.got != c.want {
				t.Fatalf("got %q, %v; want %q, from the winner's row", r.got, r.err, c.want)
			}
		})
	}
}

package tenancy_test

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/vcci-dev/vcci/pkg/dbtest"
	"github.com/vcci-dev/vcci/pkg/tenancy"
)

func TestMain(m *testing.M) { os.Exit(dbtest.Main(m)) }

func TestKeys(t *testing.T) {
	ctx := context.Background()
	pool := dbtest.NewPool(t, "tenancy", tenancy.Migrate)
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
	var stored int
	pool.QueryRow(ctx, `SELECT count(*) FROM iam.api_keys WHERE key_hash = $1 AND prefix = $2`, tenancy.Hash(key), key[:9]).Scan(&stored)
	var plain int
	// No column holds the key itself.
	pool.QueryRow(ctx, `SELECT count(*) FROM iam.api_keys k WHERE k::text LIKE '%' || $1 || '%'`, key).Scan(&plain)
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

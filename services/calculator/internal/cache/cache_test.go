package cache_test

import (
	"context"
	"io"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/vcci-dev/vcci/pkg/dbtest"
	"github.com/vcci-dev/vcci/pkg/tenancy"
	"github.com/vcci-dev/vcci/services/calculator/internal/cache"
	"github.com/vcci-dev/vcci/services/calculator/internal/calculator"
	"github.com/vcci-dev/vcci/services/calculator/internal/store"
)

func TestMain(m *testing.M) { os.Exit(dbtest.Main(m)) }

func redisURL() string {
	if u := os.Getenv("TEST_REDIS_URL"); u != "" {
		return u
	}
	return "redis://127.0.0.1:6379/0"
}

func line(id, amount string) calculator.Line {
	return calculator.Line{TransactionID: id, Date: time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC), SupplierID: "S1", NAICS: "331110", Amount: amount}
}

func TestSummariesCachedAndInvalidatedByWrites(t *testing.T) {
	ctx := context.Background()
	pool := dbtest.NewPool(t, "cache", func(ctx context.Context, p *pgxpool.Pool) error {
		if err := tenancy.Migrate(ctx, p); err != nil {
			return err
		}
		return store.Migrate(ctx, p)
	})
	tenant, _ := tenancy.EnsureTenant(ctx, pool, "a")
	opt, _ := redis.ParseURL(redisURL())
	rdb := redis.NewClient(opt)
	defer rdb.Close()
	if err := rdb.Ping(ctx).Err(); err != nil {
		t.Fatalf("redis at %s: %v", redisURL(), err)
	}
	c := cache.New(rdb, slog.New(slog.NewTextHandler(io.Discard, nil)))
	svc := calculator.New(store.New(pool), c)

	if _, err := svc.Calculate(ctx, tenant, 1, []calculator.Line{line("T1", "100")}); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		s, err := svc.Summarize(ctx, tenant, calculator.BySupplier, 0)
		if err != nil || s.TotalKg != "78.7000000" {
			t.Fatalf("summary %d = %+v, %v", i, s, err)
		}
	}
	if c.Misses.Load() != 1 || c.Hits.Load() != 2 {
		t.Fatalf("misses %d hits %d, want 1 and 2", c.Misses.Load(), c.Hits.Load())
	}
	// A write shows at once: the version moved.
	if _, err := svc.Calculate(ctx, tenant, 1, []calculator.Line{line("T2", "100")}); err != nil {
		t.Fatal(err)
	}
	s, _ := svc.Summarize(ctx, tenant, calculator.BySupplier, 0)
	if s.TotalKg != "157.4000000" || c.Misses.Load() != 2 {
		t.Fatalf("after write: %s kg, %d misses", s.TotalKg, c.Misses.Load())
	}

	// Redis down: every call still succeeds from PostgreSQL.
	dead := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", DialTimeout: 50 * time.Millisecond, MaxRetries: -1})
	defer dead.Close()
	down := cache.New(dead, slog.New(slog.NewTextHandler(io.Discard, nil)))
	svc2 := calculator.New(store.New(pool), down)
	if _, err := svc2.Calculate(ctx, tenant, 1, []calculator.Line{line("T3", "1")}); err != nil {
		t.Fatal(err)
	}
	s, err := svc2.Summarize(ctx, tenant, calculator.BySupplier, 0)
	if err != nil || s.TotalKg != "158.1870000" || down.Errors.Load() == 0 {
		t.Fatalf("redis down: %+v, %v, errors %d", s, err, down.Errors.Load())
	}
}

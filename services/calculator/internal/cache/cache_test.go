package cache_test

import (
	"context"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/vcci-dev/vcci/pkg/testsupport"
	"github.com/vcci-dev/vcci/services/calculator/internal/cache"
	"github.com/vcci-dev/vcci/services/calculator/internal/calculator"
	"github.com/vcci-dev/vcci/services/calculator/internal/store"
)

func TestMain(m *testing.M) { os.Exit(testsupport.Main(m)) }

// line is a March 2024 line of factor 0.787: 100 USD is 100 x 292.655 /
// 312.332 = 93.7000 2022 USD, 73.7419 kg; 1 USD is 0.9370, 0.737419 kg.
func line(id, amount string) calculator.Line {
	return calculator.Line{TransactionID: id, Date: time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC), SupplierID: "S1", NAICS: "331110", Amount: amount, Upload: 1}
}

// replicas are two calculators on one database sharing one Redis, and a
// tenant.
type replicas struct {
	tenant     uuid.UUID
	srv        *testsupport.Redis
	c1, c2     cache.Caches
	svc1, svc2 *calculator.Service
}

func startReplicas(t *testing.T) replicas {
	t.Helper()
	pool := testsupport.NewPool(t, "cache", store.Migrate)
	r := replicas{tenant: testsupport.Tenant(t, pool, "a"), srv: testsupport.StartRedis(t)}
	log := slog.New(slog.DiscardHandler)
	r.c1, r.c2 = cache.New(r.srv.Client(), log, nil), cache.New(r.srv.Client(), log, nil)
	t.Cleanup(r.c1.Close)
	t.Cleanup(r.c2.Close)
	r.svc1 = calculator.New(store.New(pool), r.c1.Summaries, r.c1.Factors, r.c1.Settings)
	r.svc2 = calculator.New(store.New(pool), r.c2.Summaries, r.c2.Factors, r.c2.Settings)
	return r
}

func TestCachesAcrossReplicasAndRedisOutage(t *testing.T) {
	ctx := context.Background()
	r := startReplicas(t)
	tenant, srv, c1, c2, svc1, svc2 := r.tenant, r.srv, r.c1, r.c2, r.svc1, r.svc2

	if _, err := svc1.Calculate(ctx, tenant, []calculator.Line{line("T1", "100")}); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		s, err := svc1.Summarize(ctx, tenant, calculator.BySupplier, 0)
		if err != nil || s.TotalKg != "73.7419000" {
			t.Fatalf("summary %d = %+v, %v", i, s, err)
		}
	}
	// The echo of the write's own invalidation may purge the local entry
	// once more; either way the summary is computed once.
	if st := c1.Summaries.C.Stats(); st.Loads != 1 || st.LocalHits+st.RedisHits != 2 {
		t.Fatalf("replica 1: %+v, want 1 load and 2 hits", st)
	}
	// The other replica finds it in Redis.
	if s, _ := svc2.Summarize(ctx, tenant, calculator.BySupplier, 0); s.TotalKg != "73.7419000" || c2.Summaries.C.Stats().RedisHits != 1 || c2.Summaries.C.Stats().Loads != 0 {
		t.Fatalf("replica 2: %s kg, %+v", s.TotalKg, c2.Summaries.C.Stats())
	}
	// A write on replica 1 shows on replica 2 at once.
	if _, err := svc1.Calculate(ctx, tenant, []calculator.Line{line("T2", "100")}); err != nil {
		t.Fatal(err)
	}
	testsupport.WaitFor(t, "replica 2 to see the write", 5*time.Second, func() bool {
		s, _ := svc2.Summarize(ctx, tenant, calculator.BySupplier, 0)
		return s.TotalKg == "147.4838000"
	})

	// Factor sets load once per replica (the first calculation read the
	// spend set, for its lines' data quality) and answer every use after:
	// the second calculation and the three lookups.
	keys := []calculator.FactorKey{{Set: calculator.DefaultSet, Code: "331110"}, {Set: calculator.DefaultSet, Code: "484110"}, {Set: calculator.DefaultSet, Code: "000000"}}
	for range 3 {
		fs, err := svc1.Factors(ctx, tenant, keys)
		if err != nil || len(fs) != 2 || fs[0].Value != "0.787" || fs[1].Category != 4 {
			t.Fatalf("factors = %+v, %v", fs, err)
		}
	}
	if st := c1.Factors.C.Stats(); st.Loads != 1 || st.LocalHits != 4 {
		t.Fatalf("factor cache: %+v", st)
	}

	// Redis dies: reads and writes keep working, and a write still shows
	// on the replica that made it.
	srv.Stop()
	if _, err := svc1.Calculate(ctx, tenant, []calculator.Line{line("T3", "1")}); err != nil {
		t.Fatal(err)
	}
	s, err := svc1.Summarize(ctx, tenant, calculator.BySupplier, 0)
	if err != nil || s.TotalKg != "148.2212190" {
		t.Fatalf("redis down: %+v, %v", s, err)
	}
	if fs, err := svc2.Factors(ctx, tenant, keys[:1]); err != nil || len(fs) != 1 {
		t.Fatalf("factors with redis down: %v, %v", fs, err)
	}
	if c1.Summaries.C.Stats().RedisErrors == 0 {
		t.Fatal("no Redis errors counted with Redis down")
	}
}

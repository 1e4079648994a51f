// Package cache gives the calculator its two caches, both three layers deep
// (in process, Redis, PostgreSQL) through pkg/cache:
//
//   - summaries, per tenant, invalidated by every calculation that stores
//     something (on every replica of every service sharing the "summaries"
//     cache, reporting's dashboards included);
//   - factor sets, whole, per tenant: a set is loaded once and every
//     BatchGetFactors after that is answered from memory.
package cache

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"github.com/vcci-dev/vcci/pkg/cache"
	"github.com/vcci-dev/vcci/pkg/refdata"
	"github.com/vcci-dev/vcci/services/calculator/internal/calculator"
)

// SummariesName is the cache summaries share with reporting's dashboards.
const SummariesName = "summaries"

// Caches are the calculator's caches.
type Caches struct {
	Summaries *Summaries
	Factors   *Factors
	Settings  *Settings
}

// New returns the caches over rdb (nil: in-process layer only).
func New(rdb *redis.Client, log *slog.Logger, metrics *cache.Metrics) Caches {
	return Caches{
		Summaries: &Summaries{cache.New(cache.Options[calculator.Summary]{Name: SummariesName, Redis: rdb, Log: log,
			LocalSize: 10_000, LocalTTL: 30 * time.Second, RedisTTL: 10 * time.Minute, Metrics: metrics})},
		// Factor sets change only when a new version is loaded, which makes
		// a new set: an hour in process is safe.
		Factors: &Factors{cache.New(cache.Options[[]calculator.Factor]{Name: "factors", Redis: rdb, Log: log,
			LocalSize: 1_000, LocalTTL: time.Hour, RedisTTL: 24 * time.Hour, Metrics: metrics})},
		// Read by every calculation that has an activity line and every
		// Calculate call; invalidated on every replica by UpdateSettings.
		Settings: &Settings{cache.New(cache.Options[calculator.Settings]{Name: "settings", Redis: rdb, Log: log,
			LocalSize: 10_000, LocalTTL: 30 * time.Second, RedisTTL: 10 * time.Minute, Metrics: metrics})},
	}
}

// Close stops the caches' subscribers.
func (c Caches) Close() {
	c.Summaries.C.Close()
	c.Factors.C.Close()
	c.Settings.C.Close()
}

// Settings caches calculator.Settings per tenant.
type Settings struct {
	C *cache.Cache[calculator.Settings]
}

// Settings returns the tenant's cached settings, or loads and keeps them.
func (s *Settings) Settings(ctx context.Context, tenant uuid.UUID, load func(context.Context) (calculator.Settings, error)) (calculator.Settings, error) {
	return s.C.Get(ctx, tenant.String(), "settings", load)
}

// Invalidate forgets the tenant's settings after they changed.
func (s *Settings) Invalidate(ctx context.Context, tenant uuid.UUID) {
	s.C.Invalidate(ctx, tenant.String())
}

// Summaries caches calculator.Summary values per tenant.
type Summaries struct {
	C *cache.Cache[calculator.Summary]
}

// Summary returns the cached summary, or computes and stores it.
// A basis of "" is the tenant's: UpdateSettings invalidates it. v3: a
// summary carries its first and last months since.
func (s *Summaries) Summary(ctx context.Context, tenant uuid.UUID, dim calculator.Dimension, limit int, basis refdata.Basis,
	compute func(context.Context) (calculator.Summary, error)) (calculator.Summary, error) {
	return s.C.Get(ctx, tenant.String(), fmt.Sprintf("sum|v3|%d|%d|%s", dim, limit, basis), compute)
}

// Invalidate forgets the tenant's summaries after its emissions changed.
func (s *Summaries) Invalidate(ctx context.Context, tenant uuid.UUID) {
	s.C.Invalidate(ctx, tenant.String())
}

// Factors caches whole factor sets per tenant (a tenant sees the public
// sets and its own).
type Factors struct {
	C *cache.Cache[[]calculator.Factor]
}

// Set returns the factors of one set.
func (f *Factors) Set(ctx context.Context, tenant uuid.UUID, set string, load func(context.Context) ([]calculator.Factor, error)) ([]calculator.Factor, error) {
	// v3: factors carry their gases, re-expressed values and licence since;
	// older entries lack them.
	return f.C.Get(ctx, tenant.String(), "set|v3|"+set, load)
}

// Invalidate forgets the tenant's sets, after it imported one.
func (f *Factors) Invalidate(ctx context.Context, tenant uuid.UUID) {
	f.C.Invalidate(ctx, tenant.String())
}

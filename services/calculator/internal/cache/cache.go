// Package cache keeps emission summaries in Redis under a per-tenant version
// that every calculation bumps, so a write invalidates every replica's view at
// once and stale entries simply age out. Redis is optional: with no client,
// or when Redis fails, every call falls through to PostgreSQL.
package cache

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"github.com/vcci-dev/vcci/services/calculator/internal/calculator"
)

// TTL bounds how long an entry outlives its version.
const TTL = 10 * time.Minute

// Summaries caches calculator.Summary values.
type Summaries struct {
	rdb *redis.Client
	log *slog.Logger

	Hits, Misses, Errors atomic.Int64
}

// New returns a cache over rdb; rdb may be nil (no caching).
func New(rdb *redis.Client, log *slog.Logger) *Summaries { return &Summaries{rdb: rdb, log: log} }

func versionKey(t uuid.UUID) string { return "vcci:calc:" + t.String() + ":v" }

// Summary returns the cached summary, or computes and stores it.
func (c *Summaries) Summary(ctx context.Context, tenant uuid.UUID, dim calculator.Dimension, limit int,
	compute func() (calculator.Summary, error)) (calculator.Summary, error) {
	if c == nil || c.rdb == nil {
		return compute()
	}
	v, err := c.rdb.Get(ctx, versionKey(tenant)).Int64()
	if err != nil && err != redis.Nil {
		c.fail(ctx, err)
		return compute()
	}
	key := fmt.Sprintf("vcci:calc:%s:sum:%d:%d:%d", tenant, v, dim, limit)
	if b, err := c.rdb.Get(ctx, key).Bytes(); err == nil {
		var s calculator.Summary
		if json.Unmarshal(b, &s) == nil {
			c.Hits.Add(1)
			return s, nil
		}
	} else if err != redis.Nil {
		c.fail(ctx, err)
		return compute()
	}
	c.Misses.Add(1)
	s, err := compute()
	if err != nil {
		return s, err
	}
	if b, err := json.Marshal(s); err == nil {
		if err := c.rdb.Set(ctx, key, b, TTL).Err(); err != nil {
			c.fail(ctx, err)
		}
	}
	return s, nil
}

// Invalidate bumps the tenant's version after its emissions changed.
func (c *Summaries) Invalidate(ctx context.Context, tenant uuid.UUID) {
	if c == nil || c.rdb == nil {
		return
	}
	if err := c.rdb.Incr(ctx, versionKey(tenant)).Err(); err != nil {
		// The next read may serve the previous version until Redis is back
		// and the entry's TTL passes; say so once per failure.
		c.fail(ctx, err)
	}
}

func (c *Summaries) fail(ctx context.Context, err error) {
	c.Errors.Add(1)
	c.log.WarnContext(ctx, "redis unavailable; using PostgreSQL", "error", err.Error())
}

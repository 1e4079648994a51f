package calculator

import (
	"sync"
	"time"

	"github.com/google/uuid"
)

// resultCache keeps emission results by tenant, transaction and date. A
// stored result never changes: results are inserted once (a second
// calculation of the same transaction is skipped) and never updated, so an
// entry cannot go stale and needs no invalidation; "not calculated" is
// never cached, since it can change. The cache is bounded: past its size,
// the oldest entry makes room. It grows as it fills: made whole at start it
// was a live heap of its own in every calculator, read side or not.
type resultCache struct {
	mu   sync.Mutex
	m    map[resultKey]Result
	ring []resultKey // insertion order, for eviction
	next int
	size int
}

type resultKey struct {
	tenant uuid.UUID
	id     string
	day    int64 // the date, in days since the epoch
}

func newResultCache(size int) *resultCache {
	return &resultCache{m: map[resultKey]Result{}, size: size}
}

func keyOf(tenant uuid.UUID, id string, date time.Time) resultKey {
	return resultKey{tenant, id, date.Unix() / 86400}
}

// get returns the cached results of ids (with their dates) and the
// positions of those it does not hold.
func (c *resultCache) get(tenant uuid.UUID, ids []string, dates []time.Time) (hits []Result, missing []int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, id := range ids {
		if r, ok := c.m[keyOf(tenant, id, dates[i])]; ok {
			hits = append(hits, r)
		} else {
			missing = append(missing, i)
		}
	}
	return hits, missing
}

func (c *resultCache) put(tenant uuid.UUID, rs []Result) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, r := range rs {
		k := keyOf(tenant, r.TransactionID, r.Date)
		if _, ok := c.m[k]; ok {
			continue
		}
		if len(c.ring) < c.size {
			c.ring = append(c.ring, k)
		} else {
			delete(c.m, c.ring[c.next])
			c.ring[c.next] = k
			c.next = (c.next + 1) % len(c.ring)
		}
		c.m[k] = r
	}
}

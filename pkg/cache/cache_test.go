package cache

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/redis/go-redis/v9"

	"github.com/vcci-dev/vcci/pkg/testsupport"
)

type supplier struct {
	ID     string  `json:"id"`
	Name   string  `json:"name"`
	Factor float64 `json:"factor"`
}

// db stands in for PostgreSQL: a value per key that tests change, and a
// count of reads.
type db struct {
	mu    sync.Mutex
	rows  map[string]supplier
	reads atomic.Int64
}

func newDB() *db { return &db{rows: map[string]supplier{}} }

func (d *db) set(key string, s supplier) {
	d.mu.Lock()
	d.rows[key] = s
	d.mu.Unlock()
}

var errNotFound = errors.New("not found")

// loader returns the load function of key.
func (d *db) loader(key string) func(context.Context) (supplier, error) {
	return func(context.Context) (supplier, error) {
		d.reads.Add(1)
		d.mu.Lock()
		defer d.mu.Unlock()
		s, ok := d.rows[key]
		if !ok {
			return supplier{}, errNotFound
		}
		return s, nil
	}
}

// newCache returns a cache closed at the end of the test, whose subscriber
// (with Redis) has confirmed its subscription: before that, a confirmation
// arriving mid-test would make it forget what it learned.
func newCache(t *testing.T, o Options[supplier]) *Cache[supplier] {
	t.Helper()
	if o.Name == "" {
		o.Name = "suppliers"
	}
	c := New(o)
	t.Cleanup(c.Close)
	if o.Redis != nil {
		select {
		case <-c.subscribed:
		case <-time.After(5 * time.Second):
			t.Fatal("subscriber did not subscribe")
		}
	}
	return c
}

// waitLost waits for c to notice its subscription is gone.
func waitLost(t *testing.T, c *Cache[supplier]) {
	t.Helper()
	testsupport.WaitFor(t, "the cache to lose its subscription", 5*time.Second, func() bool { return !c.live.Load() })
}

func get(t *testing.T, c *Cache[supplier], d *db, scope, key string) supplier {
	t.Helper()
	v, err := c.Get(context.Background(), scope, key, d.loader(key))
	if err != nil {
		t.Fatalf("Get(%s, %s): %v", scope, key, err)
	}
	return v
}

// withRedis runs f with a private Redis and without one.
func withRedis(t *testing.T, f func(t *testing.T, rdb *redis.Client)) {
	for _, tc := range []struct {
		name  string
		redis bool
	}{{"redis", true}, {"nil redis", false}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var rdb *redis.Client
			if tc.redis {
				rdb = testsupport.StartRedis(t).Client()
			}
			f(t, rdb)
		})
	}
}

func TestLoadOnceThenLocalHits(t *testing.T) {
	t.Parallel()
	withRedis(t, func(t *testing.T, rdb *redis.Client) {
		d := newDB()
		want := supplier{ID: "s1", Name: "Acme Steel", Factor: 1.85}
		d.set("s1", want)
		c := newCache(t, Options[supplier]{Redis: rdb})
		for range 3 {
			if got := get(t, c, d, "tenant-a", "s1"); got != want {
				t.Fatalf("Get = %+v, want %+v", got, want)
			}
		}
		if n := d.reads.Load(); n != 1 {
			t.Fatalf("loads = %d, want 1", n)
		}
		if s := c.Stats(); s != (Stats{LocalHits: 2, Misses: 1, Loads: 1}) {
			t.Fatalf("Stats = %+v", s)
		}
		// Scopes are separate: the same key in another scope loads again.
		get(t, c, d, "tenant-b", "s1")
		if n := d.reads.Load(); n != 2 {
			t.Fatalf("loads after another scope = %d, want 2", n)
		}
	})
}

func TestSecondReplicaReadsRedis(t *testing.T) {
	t.Parallel()
	s := testsupport.StartRedis(t)
	d := newDB()
	want := supplier{ID: "s1", Name: "Acme Steel", Factor: 1.85}
	d.set("s1", want)
	a := newCache(t, Options[supplier]{Redis: s.Client()})
	b := newCache(t, Options[supplier]{Redis: s.Client()})

	get(t, a, d, "tenant-a", "s1")
	if got := get(t, b, d, "tenant-a", "s1"); got != want {
		t.Fatalf("replica b: Get = %+v, want %+v", got, want)
	}
	if n := d.reads.Load(); n != 1 {
		t.Fatalf("loads = %d, want 1 (b should have read Redis)", n)
	}
	get(t, b, d, "tenant-a", "s1")
	if st := b.Stats(); st != (Stats{RedisHits: 1, LocalHits: 1}) {
		t.Fatalf("replica b: Stats = %+v", st)
	}
	// A cache of another name does not read the suppliers' entries.
	other := newCache(t, Options[supplier]{Name: "factors", Redis: s.Client()})
	get(t, other, d, "tenant-a", "s1")
	if n := d.reads.Load(); n != 2 {
		t.Fatalf("loads = %d, want 2 (names are separate namespaces)", n)
	}
}

func TestInvalidateReachesOtherReplicas(t *testing.T) {
	t.Parallel()
	s := testsupport.StartRedis(t)
	d := newDB()
	d.set("s1", supplier{ID: "s1", Name: "Acme Steel", Factor: 1.85})
	d.set("s2", supplier{ID: "s2", Name: "Borealis Pulp", Factor: 0.4})
	a := newCache(t, Options[supplier]{Redis: s.Client()})
	b := newCache(t, Options[supplier]{Redis: s.Client()})

	get(t, a, d, "tenant-a", "s1")
	get(t, b, d, "tenant-a", "s1")
	get(t, b, d, "tenant-b", "s2")
	readsBefore := d.reads.Load()

	updated := supplier{ID: "s1", Name: "Acme Steel", Factor: 1.62}
	d.set("s1", updated)
	d.set("s2", supplier{ID: "s2", Name: "changed but not invalidated"})
	a.Invalidate(context.Background(), "tenant-a")

	testsupport.WaitFor(t, "replica b to see the new value", 10*time.Second, func() bool {
		return get(t, b, d, "tenant-a", "s1") == updated
	})
	if n := d.reads.Load() - readsBefore; n != 1 {
		t.Fatalf("loads after invalidate = %d, want 1 (b reloads once)", n)
	}
	// a reads the value b loaded, from Redis under the new version.
	if got := get(t, a, d, "tenant-a", "s1"); got != updated {
		t.Fatalf("replica a: Get = %+v, want %+v", got, updated)
	}
	if st := a.Stats(); st.RedisHits != 1 {
		t.Fatalf("replica a: Stats = %+v, want one Redis hit", st)
	}
	// Other scopes keep their entries.
	if got := get(t, b, d, "tenant-b", "s2"); got.Name != "Borealis Pulp" {
		t.Fatalf("tenant-b was invalidated too: %+v", got)
	}
}

func TestConcurrentMissesLoadOnce(t *testing.T) {
	t.Parallel()
	withRedis(t, func(t *testing.T, rdb *redis.Client) {
		c := newCache(t, Options[supplier]{Redis: rdb})
		var loads atomic.Int64
		release := make(chan struct{})
		//nolint:unparam // the signature is Get's load, whose error this test does not need
		load := func(context.Context) (supplier, error) {
			loads.Add(1)
			<-release
			return supplier{ID: "s1", Factor: 2.5}, nil
		}
		const n = 64
		var started, wg sync.WaitGroup
		got := make([]supplier, n)
		for i := range n {
			started.Add(1)
			wg.Go(func() {
				started.Done()
				v, err := c.Get(context.Background(), "tenant-a", "s1", load)
				if err != nil {
					t.Error(err)
				}
				got[i] = v
			})
		}
		started.Wait()
		// Give the callers time to queue on the load. A caller that comes
		// later finds the value in the local layer, so the count of loads
		// below does not depend on this wait.
		time.Sleep(20 * time.Millisecond)
		close(release)
		wg.Wait()
		if l := loads.Load(); l != 1 {
			t.Fatalf("loads = %d, want 1", l)
		}
		for i, v := range got {
			if v.Factor != 2.5 {
				t.Fatalf("caller %d got %+v", i, v)
			}
		}
		st := c.Stats()
		if st.Loads != 1 || st.LocalHits+st.RedisHits+st.Misses != n || st.RedisHits != 0 {
			t.Fatalf("Stats = %+v, want 1 load and %d counted Gets", st, n)
		}
	})
}

func TestCancelledCallerDoesNotFailSharedLoad(t *testing.T) {
	t.Parallel()
	withRedis(t, func(t *testing.T, rdb *redis.Client) {
		c := newCache(t, Options[supplier]{Redis: rdb})
		release := make(chan struct{})
		load := func(ctx context.Context) (supplier, error) {
			select {
			case <-release:
				return supplier{ID: "s1", Factor: 3}, nil
			case <-ctx.Done():
				return supplier{}, ctx.Err()
			}
		}
		ctx, cancel := context.WithCancel(context.Background())
		first := make(chan error)
		go func() {
			_, err := c.Get(ctx, "tenant-a", "s1", load)
			first <- err
		}()
		second := make(chan supplier)
		go func() {
			time.Sleep(10 * time.Millisecond) // join the first caller's load
			v, err := c.Get(context.Background(), "tenant-a", "s1", load)
			if err != nil {
				t.Error(err)
			}
			second <- v
		}()
		time.Sleep(20 * time.Millisecond)
		cancel()
		if err := <-first; !errors.Is(err, context.Canceled) {
			t.Fatalf("cancelled caller: err = %v, want context.Canceled", err)
		}
		close(release)
		if v := <-second; v.Factor != 3 {
			t.Fatalf("second caller got %+v", v)
		}
	})
}

// A load that read the old row before an Invalidate must not be what a Get
// after the Invalidate returns.
func TestLoadRacingInvalidate(t *testing.T) {
	t.Parallel()
	withRedis(t, func(t *testing.T, rdb *redis.Client) {
		c := newCache(t, Options[supplier]{Redis: rdb})
		started, release := make(chan struct{}), make(chan struct{})
		stale := make(chan supplier)
		go func() {
			v, err := c.Get(context.Background(), "tenant-a", "s1", func(context.Context) (supplier, error) {
				close(started)
				<-release
				return supplier{ID: "s1", Factor: 1}, nil // read before the change
			})
			if err != nil {
				t.Error(err)
			}
			stale <- v
		}()
		<-started
		c.Invalidate(context.Background(), "tenant-a")
		close(release)
		<-stale
		v, err := c.Get(context.Background(), "tenant-a", "s1", func(context.Context) (supplier, error) {
			return supplier{ID: "s1", Factor: 2}, nil
		})
		if err != nil || v.Factor != 2 {
			t.Fatalf("Get after Invalidate = %+v, %v; want the value loaded after it", v, err)
		}
	})
}

func TestLoadErrorNotCached(t *testing.T) {
	t.Parallel()
	withRedis(t, func(t *testing.T, rdb *redis.Client) {
		d := newDB()
		c := newCache(t, Options[supplier]{Redis: rdb})
		_, err := c.Get(context.Background(), "tenant-a", "s1", d.loader("s1"))
		if !errors.Is(err, errNotFound) {
			t.Fatalf("err = %v, want errNotFound", err)
		}
		if rdb != nil {
			keys, err := rdb.Keys(context.Background(), "vcci:cache:suppliers:tenant-a:*:s1").Result()
			if err != nil || len(keys) != 0 {
				t.Fatalf("Redis entries after a failed load: %v, %v", keys, err)
			}
		}
		want := supplier{ID: "s1", Factor: 1}
		d.set("s1", want)
		if got := get(t, c, d, "tenant-a", "s1"); got != want {
			t.Fatalf("Get after the row exists = %+v", got)
		}
		if n := d.reads.Load(); n != 2 {
			t.Fatalf("loads = %d, want 2", n)
		}
		if s := c.Stats(); s.Misses != 2 || s.Loads != 2 {
			t.Fatalf("Stats = %+v", s)
		}
		// A panicking load is an error too, not a crash.
		_, err = c.Get(context.Background(), "tenant-a", "s2", func(context.Context) (supplier, error) {
			panic("boom")
		})
		if err == nil {
			t.Fatal("panicking load: no error")
		}
	})
}

func TestLocalTTL(t *testing.T) {
	t.Parallel()
	withRedis(t, func(t *testing.T, rdb *redis.Client) {
		d := newDB()
		d.set("s1", supplier{ID: "s1", Factor: 1})
		const ttl = 150 * time.Millisecond
		c := newCache(t, Options[supplier]{Redis: rdb, LocalTTL: ttl})
		start := time.Now()
		get(t, c, d, "tenant-a", "s1")
		get(t, c, d, "tenant-a", "s1")
		if s := c.Stats(); s.LocalHits != 1 {
			t.Fatalf("Stats before expiry = %+v", s)
		}
		testsupport.WaitFor(t, "the local entry to expire", 10*time.Second, func() bool {
			get(t, c, d, "tenant-a", "s1")
			s := c.Stats()
			return s.RedisHits+s.Misses > 1
		})
		if elapsed := time.Since(start); elapsed < ttl {
			t.Fatalf("entry expired after %v, before LocalTTL %v", elapsed, ttl)
		}
		s := c.Stats()
		if rdb != nil && (s.RedisHits != 1 || s.Loads != 1) {
			t.Fatalf("with Redis, an expired local entry should be read from Redis: %+v", s)
		}
		if rdb == nil && s.Loads != 2 {
			t.Fatalf("without Redis, an expired local entry should be loaded: %+v", s)
		}
	})
}

func TestLocalSizeBound(t *testing.T) {
	t.Parallel()
	withRedis(t, func(t *testing.T, rdb *redis.Client) {
		d := newDB()
		for i := range 5 {
			d.set("s"+strconv.Itoa(i), supplier{ID: "s" + strconv.Itoa(i)})
		}
		c := newCache(t, Options[supplier]{Redis: rdb, LocalSize: 3})
		for i := range 5 {
			get(t, c, d, "tenant-a", "s"+strconv.Itoa(i))
		}
		if n := c.local.Len(); n != 3 {
			t.Fatalf("local entries = %d, want 3", n)
		}
		get(t, c, d, "tenant-a", "s4") // most recent: still local
		get(t, c, d, "tenant-a", "s0") // least recent: evicted
		s := c.Stats()
		if s.LocalHits != 1 {
			t.Fatalf("Stats = %+v, want exactly one local hit", s)
		}
		if rdb != nil && s.RedisHits != 1 {
			t.Fatalf("evicted entry not read from Redis: %+v", s)
		}
		if rdb == nil && s.Loads != 6 {
			t.Fatalf("evicted entry not reloaded: %+v", s)
		}
	})
}

func TestInvalidateWithoutRedis(t *testing.T) {
	t.Parallel()
	d := newDB()
	d.set("s1", supplier{ID: "s1", Factor: 1})
	c := newCache(t, Options[supplier]{})
	get(t, c, d, "tenant-a", "s1")
	get(t, c, d, "tenant-b", "s1")
	d.set("s1", supplier{ID: "s1", Factor: 2})
	c.Invalidate(context.Background(), "tenant-a")
	if got := get(t, c, d, "tenant-a", "s1"); got.Factor != 2 {
		t.Fatalf("after Invalidate: %+v, want the new value", got)
	}
	if got := get(t, c, d, "tenant-b", "s1"); got.Factor != 1 {
		t.Fatalf("other scope: %+v, want its cached value", got)
	}
}

func TestRedisDownAndBack(t *testing.T) {
	t.Parallel()
	s := testsupport.StartRedis(t)
	d := newDB()
	for i := range 3000 { // the polls below read a new key each time
		d.set("s"+strconv.Itoa(i), supplier{ID: "s" + strconv.Itoa(i), Factor: float64(i)})
	}
	a := newCache(t, Options[supplier]{Redis: s.Client()})
	b := newCache(t, Options[supplier]{Redis: s.Client()})
	get(t, a, d, "tenant-a", "s0")

	s.Stop()
	// Once the subscription is lost, nothing held is served (another
	// process's invalidations cannot be heard) and Redis is not asked.
	waitLost(t, a)
	for i := range 100 {
		if got := get(t, a, d, "tenant-a", "s"+strconv.Itoa(i)); got.Factor != float64(i) {
			t.Fatalf("Get s%d with Redis down = %+v", i, got)
		}
	}
	if st := a.Stats(); st.RedisErrors != 0 || st.Loads != 101 || st.LocalHits != 0 {
		t.Fatalf("Stats with Redis down = %+v, want every Get loaded and no Redis error", st)
	}

	// Invalidate still purges this process.
	d.set("s0", supplier{ID: "s0", Factor: -1})
	a.Invalidate(context.Background(), "tenant-a")
	if got := get(t, a, d, "tenant-a", "s0"); got.Factor != -1 {
		t.Fatalf("Get after Invalidate with Redis down = %+v, want the new value", got)
	}

	// Back: the cache uses Redis again (b reads what a stored), and
	// invalidations reach the other replica again.
	s.Restart()
	key := 100
	testsupport.WaitFor(t, "replica b to read an entry of a from Redis", 10*time.Second, func() bool {
		k := "s" + strconv.Itoa(key)
		key++
		get(t, a, d, "tenant-a", k)
		before := b.Stats().RedisHits
		get(t, b, d, "tenant-a", k)
		return b.Stats().RedisHits == before+1
	})
	k := "s" + strconv.Itoa(key-1)
	d.set(k, supplier{ID: k, Factor: -2})
	a.Invalidate(context.Background(), "tenant-a")
	testsupport.WaitFor(t, "replica b to hear the invalidation", 10*time.Second, func() bool {
		return get(t, b, d, "tenant-a", k).Factor == -2
	})
}

// While Redis refuses writes, an Invalidate cannot bump the version: this
// replica skips Redis for the scope, and replays the invalidation when Redis
// takes writes again, so that the other replicas stop serving the old value.
func TestInvalidateReplayedAfterRedisRecovers(t *testing.T) {
	t.Parallel()
	s := testsupport.StartRedis(t)
	d := newDB()
	d.set("s1", supplier{ID: "s1", Factor: 1})
	const backoff = 50 * time.Millisecond
	a := newCache(t, Options[supplier]{Redis: s.Client(), RedisBackoff: backoff})
	b := newCache(t, Options[supplier]{Redis: s.Client()})
	get(t, b, d, "tenant-a", "s1")

	// Writes (INCR, PUBLISH) block for 1s; the client gives up after 200ms.
	admin := s.Client()
	if err := admin.Do(context.Background(), "CLIENT", "PAUSE", "1000", "WRITE").Err(); err != nil {
		t.Fatal(err)
	}
	d.set("s1", supplier{ID: "s1", Factor: 2})
	a.Invalidate(context.Background(), "tenant-a")
	if st := a.Stats(); st.RedisErrors != 1 {
		t.Fatalf("Stats after a failed Invalidate = %+v, want 1 Redis error", st)
	}
	// Past the backoff Redis answers reads again, but a must not read the
	// entry b stored before the change: its version was not bumped yet.
	time.Sleep(2 * backoff)
	if got := get(t, a, d, "tenant-a", "s1"); got.Factor != 2 {
		t.Fatalf("replica a after its Invalidate failed in Redis: %+v, want the new value", got)
	}
	testsupport.WaitFor(t, "the invalidation to be replayed to replica b", 10*time.Second, func() bool {
		return get(t, b, d, "tenant-a", "s1").Factor == 2
	})
}

// While Redis is down a replica cannot hear another's invalidation, so it
// must not answer from what it holds: b reads a's write at once.
func TestNoStaleEntryWhileRedisIsDown(t *testing.T) {
	t.Parallel()
	s := testsupport.StartRedis(t)
	d := newDB()
	d.set("s1", supplier{ID: "s1", Factor: 1})
	a := newCache(t, Options[supplier]{Redis: s.Client()})
	b := newCache(t, Options[supplier]{Redis: s.Client(), LocalTTL: time.Hour})
	get(t, b, d, "tenant-a", "s1")
	if got := get(t, b, d, "tenant-a", "s1"); got.Factor != 1 || b.Stats().LocalHits != 1 {
		t.Fatalf("before: %+v, %+v", got, b.Stats())
	}
	s.Stop()
	waitLost(t, b)
	d.set("s1", supplier{ID: "s1", Factor: 2})
	a.Invalidate(context.Background(), "tenant-a") // published to no one
	if got := get(t, b, d, "tenant-a", "s1"); got.Factor != 2 {
		t.Fatalf("replica b after a's write with Redis down: %+v, want the new value", got)
	}
	// An answer built from that and a stamped read is not marked cached.
	ctx, stamps := CollectStamps(context.Background())
	if _, err := b.Get(ctx, "tenant-a", "s1", d.loader("s1")); err != nil {
		t.Fatal(err)
	}
	stamps.add(Stamp{key: "suppliers:tenant-b", ver: 3})
	if h := stamps.Header(); h != nil {
		t.Fatalf("Header = %q, want nil: one read had no version", h)
	}
}

// A replica whose subscription drops may miss invalidations: on
// reconnecting it relearns every version instead of waiting for LocalTTL.
func TestMissedInvalidationAfterReconnect(t *testing.T) {
	t.Parallel()
	s := testsupport.StartRedis(t)
	d := newDB()
	d.set("s1", supplier{ID: "s1", Factor: 1})
	c := newCache(t, Options[supplier]{Redis: s.Client()})
	get(t, c, d, "tenant-a", "s1")

	// Another replica's invalidation whose message this one misses.
	d.set("s1", supplier{ID: "s1", Factor: 2})
	admin := s.Client()
	ctx := context.Background()
	if err := admin.Incr(ctx, "vcci:cache:suppliers:tenant-a:ver").Err(); err != nil {
		t.Fatal(err)
	}
	if got := get(t, c, d, "tenant-a", "s1"); got.Factor != 1 {
		t.Fatalf("Get before the reconnect = %+v, want the cached value", got)
	}
	if err := admin.Do(ctx, "CLIENT", "KILL", "TYPE", "pubsub").Err(); err != nil {
		t.Fatal(err)
	}
	testsupport.WaitFor(t, "the reconnected replica to reload", 10*time.Second, func() bool {
		return get(t, c, d, "tenant-a", "s1").Factor == 2
	})
}

func TestMetricsMatchStats(t *testing.T) {
	t.Parallel()
	s := testsupport.StartRedis(t)
	reg := prometheus.NewPedanticRegistry()
	m := NewMetrics(reg)
	if again := NewMetrics(reg); again.requests != m.requests {
		t.Fatal("NewMetrics on the same registry made new collectors")
	}
	d := newDB()
	for i := range 5 {
		d.set("s"+strconv.Itoa(i), supplier{ID: "s" + strconv.Itoa(i)})
	}
	a := newCache(t, Options[supplier]{Name: "suppliers", Redis: s.Client(), Metrics: m})
	b := newCache(t, Options[supplier]{Name: "suppliers-b", Redis: s.Client(), Metrics: m})
	for i := range 5 {
		get(t, a, d, "tenant-a", "s"+strconv.Itoa(i))
		get(t, a, d, "tenant-a", "s"+strconv.Itoa(i))
	}
	get(t, b, d, "tenant-a", "s0")
	s.Stop()
	waitLost(t, b)
	get(t, b, d, "tenant-a", "s1") // not kept: nothing is, without a subscription
	get(t, b, d, "tenant-a", "s1")

	for _, c := range []*Cache[supplier]{a, b} {
		st := c.Stats()
		for _, tc := range []struct {
			metric prometheus.Counter
			want   int64
		}{
			{m.requests.WithLabelValues(c.name, "local_hit"), st.LocalHits},
			{m.requests.WithLabelValues(c.name, "redis_hit"), st.RedisHits},
			{m.requests.WithLabelValues(c.name, "miss"), st.Misses},
			{m.redisErrors.WithLabelValues(c.name), st.RedisErrors},
		} {
			if got := testutil.ToFloat64(tc.metric); got != float64(tc.want) {
				t.Errorf("%s: metric %v = %v, Stats say %d", c.name, tc.metric.Desc(), got, tc.want)
			}
		}
	}
	if st := a.Stats(); st != (Stats{LocalHits: 5, Misses: 5, Loads: 5}) {
		t.Fatalf("a: Stats = %+v", st)
	}
	if st := b.Stats(); st != (Stats{Misses: 3, Loads: 3}) {
		t.Fatalf("b: Stats = %+v, want 3 misses and loads", st)
	}
	if n := testutil.CollectAndCount(reg, "vcci_cache_requests_total"); n != 6 {
		t.Fatalf("request series = %d, want 3 results x 2 caches", n)
	}
}

func BenchmarkGetLocalHit(b *testing.B) {
	s := testsupport.StartRedis(b)
	c := New(Options[supplier]{Name: "bench", Redis: s.Client(), Metrics: NewMetrics(nil)})
	defer c.Close()
	<-c.subscribed
	load := func(context.Context) (supplier, error) { return supplier{ID: "s1", Factor: 1}, nil }
	ctx := context.Background()
	if _, err := c.Get(ctx, "tenant-a", "s1", load); err != nil {
		b.Fatal(err)
	}
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := c.Get(ctx, "tenant-a", "s1", load); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := c.Get(ctx, "tenant-a", "s1", load); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
	if st := c.Stats(); st.Loads != 1 {
		b.Fatalf("Stats = %+v", st)
	}
}

// Every Get misses the local layer (one entry, two keys read in turn) and
// finds the value in Redis.
func BenchmarkGetRedisHit(b *testing.B) {
	s := testsupport.StartRedis(b)
	c := New(Options[supplier]{Name: "bench", Redis: s.Client(), LocalSize: 1, Metrics: NewMetrics(nil)})
	defer c.Close()
	<-c.subscribed
	load := func(context.Context) (supplier, error) {
		return supplier{ID: "s1", Name: "Acme Steel", Factor: 1.85}, nil
	}
	ctx := context.Background()
	keys := []string{"s1", "s2"}
	for _, k := range keys {
		if _, err := c.Get(ctx, "tenant-a", k, load); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := c.Get(ctx, "tenant-a", keys[i%2], load); err != nil {
			b.Fatal(err)
		}
		i++
	}
	if st := c.Stats(); st.Loads != 2 || st.RedisErrors != 0 || st.LocalHits != 0 {
		b.Fatalf("Stats = %+v", st)
	}
}

func ExampleCache_Get() {
	c := New(Options[supplier]{Name: "suppliers"}) // Redis: nil, local layer only
	defer c.Close()
	load := func(context.Context) (supplier, error) { return supplier{ID: "s1", Factor: 1.85}, nil }
	v, err := c.Get(context.Background(), "public", "s1", load)
	fmt.Println(v.Factor, err)
	// Output: 1.85 <nil>
}

// listening starts a Redis and subscribes to InvalidateChannel on it,
// confirmed.
func listening(t *testing.T) (*redis.Client, *redis.PubSub) {
	t.Helper()
	rdb := testsupport.StartRedis(t).Client()
	ps := rdb.Subscribe(context.Background(), InvalidateChannel)
	t.Cleanup(func() { ps.Close() })
	if _, err := ps.Receive(context.Background()); err != nil { // the confirmation
		t.Fatal(err)
	}
	return rdb, ps
}

func TestStampsNameTheVersionAndInvalidationsPublishTheNext(t *testing.T) {
	rdb, ps := listening(t)
	d := newDB()
	d.set("s1", supplier{ID: "s1"})
	c := newCache(t, Options[supplier]{Name: "sup pliers", Redis: rdb})

	ctx, stamps := CollectStamps(context.Background())
	if _, err := c.Get(ctx, "tenant:1", "s1", d.loader("s1")); err != nil {
		t.Fatal(err)
	}
	_, st, err := c.GetStamped(context.Background(), "tenant:1", "s1", d.loader("s1"))
	if err != nil || !st.Valid() {
		t.Fatalf("GetStamped: %v %v", st, err)
	}
	got := stamps.Header()
	key, ver, ok := ParseStamp(got[0])
	if len(got) != 1 || !ok || key != "sup+pliers:tenant%3A1" || got[0] != st.String() || ver < time.Now().Add(-time.Hour).UnixMicro() {
		t.Fatalf("stamps %q (key %q ver %d), GetStamped %q", got, key, ver, st)
	}

	c.Invalidate(context.Background(), "tenant:1")
	msg, err := ps.ReceiveMessage(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("sup+pliers:tenant%%3A1:%d", ver+1); msg.Payload != want {
		t.Fatalf("published %q, want %q", msg.Payload, want)
	}
	_, st2, _ := c.GetStamped(context.Background(), "tenant:1", "s1", d.loader("s1"))
	if _, v2, _ := ParseStamp(st2.String()); v2 != ver+1 {
		t.Fatalf("after the invalidation the stamp is %q, want version %d", st2, ver+1)
	}
}

func TestInvalidateSeveralScopesInOneMessage(t *testing.T) {
	rdb, ps := listening(t)
	d := newDB()
	d.set("s1", supplier{ID: "s1", Factor: 1})
	a := newCache(t, Options[supplier]{Name: "sup", Redis: rdb})
	b := newCache(t, Options[supplier]{Name: "sup", Redis: rdb})
	vers := map[string]int64{}
	for _, scope := range []string{"t1", "t1:s 2", "t2"} {
		get(t, b, d, scope, "s1")
		_, st, err := b.GetStamped(context.Background(), scope, "s1", d.loader("s1"))
		_, ver, ok := ParseStamp(st.String())
		if err != nil || !ok {
			t.Fatalf("stamp of %s: %q %v", scope, st, err)
		}
		vers[scope] = ver
	}
	d.set("s1", supplier{ID: "s1", Factor: 2})

	a.Invalidate(context.Background(), "t1", "t1:s 2")
	msg, err := ps.ReceiveMessage(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("sup:t1:%d sup:t1%%3As+2:%d", vers["t1"]+1, vers["t1:s 2"]+1); msg.Payload != want {
		t.Fatalf("published %q, want %q", msg.Payload, want)
	}
	for _, scope := range []string{"t1", "t1:s 2"} {
		testsupport.WaitFor(t, "replica b to forget "+scope, 10*time.Second, func() bool {
			return get(t, b, d, scope, "s1").Factor == 2
		})
	}
	if got := get(t, b, d, "t2", "s1"); got.Factor != 1 {
		t.Fatalf("t2 was invalidated too: %+v", got)
	}
	// Nothing else was published: the next message is the next call's.
	a.Invalidate(context.Background(), "t2")
	if msg, err = ps.ReceiveMessage(context.Background()); err != nil || msg.Payload != fmt.Sprintf("sup:t2:%d", vers["t2"]+1) {
		t.Fatalf("next message %q, %v", msg.Payload, err)
	}
}

func TestStampsWithoutAKnownVersionMarkNothing(t *testing.T) {
	d := newDB()
	d.set("s1", supplier{ID: "s1"})
	c := newCache(t, Options[supplier]{}) // no Redis: no versions
	ctx, stamps := CollectStamps(context.Background())
	if _, err := c.Get(ctx, "t", "s1", d.loader("s1")); err != nil {
		t.Fatal(err)
	}
	if h := stamps.Header(); h != nil {
		t.Fatalf("Header = %q, want nil", h)
	}
	_, fresh := CollectStamps(context.Background())
	if fresh.Header() != nil {
		t.Fatal("no Get, yet a stamp")
	}
	for _, bad := range []string{"", "name", ":scope", "name:", "n:s:x", "n:s:-2"} {
		if _, _, ok := ParseStamp(bad); ok {
			t.Errorf("ParseStamp(%q) accepted", bad)
		}
	}
	if k, v, ok := ParseStamp("n:s"); !ok || k != "n:s" || v != -1 {
		t.Errorf("a message without a version: %q %d %v", k, v, ok)
	}
}

// Package cache is a read-through cache in three layers: a bounded
// in-process LRU with a short TTL, then Redis (shared by every replica), then
// the caller's loader, usually a PostgreSQL query.
//
// Entries live in scopes, usually one per tenant ("public" for shared data),
// and are invalidated a whole scope at a time. Each (cache, scope) has a
// version in Redis that every Redis key embeds; Invalidate increments it, so
// old entries are never read again and expire by their TTL, and publishes a
// message so that every replica forgets its in-process entries for the scope
// at once. A replica cannot hear those messages while its subscription is
// down, so meanwhile it serves nothing it holds: every Get loads; a new
// subscription starts from nothing it learned before.
//
// Redis is an optimisation, never a dependency: its errors are counted and
// logged but never returned; after one, Redis is skipped for a short backoff
// so that an outage costs one timeout per backoff rather than one per request.
// A client from redisx.Connect fails fast during an outage and logs it
// once; the refusals (redisx.ErrUnavailable) are counted, not logged.
//
// Values are shared by every caller that reads them and must be treated as
// immutable.
package cache

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/golang-lru/v2/expirable"
	"github.com/redis/go-redis/v9"
	"golang.org/x/sync/singleflight"

	"github.com/vcci-dev/vcci/pkg/redisx"
)

// InvalidateChannel is the Redis pub/sub channel on which Invalidate tells
// every replica to forget a scope; one channel serves every cache Name.
const InvalidateChannel = "vcci:cache:invalidate"

const (
	keyPrefix          = "vcci:cache:"
	defaultLocalSize   = 10_000
	defaultLocalTTL    = 30 * time.Second
	defaultRedisTTL    = 10 * time.Minute
	defaultLoadTimeout = 10 * time.Second
	defaultBackoff     = time.Second
	// logEvery bounds Redis error logging: one line per period, carrying
	// the count of errors since the previous one.
	logEvery = 10 * time.Second
	// subscriberTick is how long the subscriber waits for a message before
	// pinging Redis; a ping unanswered for a further tick means the
	// connection is dead even if TCP has not noticed, and it is replaced.
	subscriberTick = 3 * time.Second
	// Reconnect waits of the subscriber while Redis is down.
	subscriberRetryFirst = 100 * time.Millisecond
	subscriberRetryLast  = 2 * time.Second
	// replayChunk bounds the scopes of one replayed message.
	replayChunk = 256
)

// Options configure a Cache; zero values take the defaults.
type Options[V any] struct {
	// Name is the cache's namespace, e.g. "suppliers": part of every Redis
	// key and the cache label of the metrics. Required. Change it (e.g.
	// "suppliers.v2") when V's encoding changes incompatibly.
	Name string
	// Redis is the shared layer; nil runs with the local layer and the
	// loader only. Its timeouts (DialTimeout, ReadTimeout, WriteTimeout)
	// bound every Redis call the cache makes.
	Redis     *redis.Client
	LocalSize int           // max entries in process; default 10_000
	LocalTTL  time.Duration // default 30s
	RedisTTL  time.Duration // default 10m
	// LoadTimeout is the deadline of a load, which runs detached from the
	// callers sharing it so that one caller giving up does not fail the
	// others; default 10s.
	LoadTimeout time.Duration
	// RedisBackoff is how long Redis is skipped after an error; default 1s.
	RedisBackoff time.Duration
	Marshal      func(V) ([]byte, error) // default encoding/json
	Unmarshal    func([]byte) (V, error) // default encoding/json
	Log          *slog.Logger
	Metrics      *Metrics // shared collectors; nil counts only in Stats
}

// Stats are a cache's counts since New. Every Get that returns is counted
// once in LocalHits, RedisHits or Misses; callers that shared one load each
// count a miss (or a Redis hit), while Loads counts the load calls.
type Stats struct {
	LocalHits   int64
	RedisHits   int64
	Misses      int64 // Gets answered by a load (or failed by one)
	Loads       int64 // calls of a load function
	RedisErrors int64 // failed Redis commands; skipped ones are not counted
}

type result int

const (
	localHit result = iota
	redisHit
	miss
)

// counter is an atomic count on its own cache line, so that the counts
// bumped on every hit do not slow each other down across cores.
type counter struct {
	atomic.Int64
	_ [56]byte
}

// Cache is a read-through cache of V. It is safe for concurrent use.
type Cache[V any] struct {
	name        string
	escName     string
	rdb         *redis.Client
	local       *expirable.LRU[localKey, V]
	localTTL    time.Duration
	redisTTL    time.Duration
	loadTimeout time.Duration
	backoff     time.Duration
	marshal     func(V) ([]byte, error)
	unmarshal   func([]byte) (V, error)
	log         *slog.Logger
	t0          time.Time // origin of now(), read on the monotonic clock

	// scopes maps a scope to its current *scopeState. States are never
	// modified, only replaced, so the hot path reads one without a lock.
	scopes sync.Map
	// epoch is bumped when every learned version must be forgotten (the
	// subscription was (re)established, so messages may have been missed);
	// a state of an older epoch is not used.
	epoch atomic.Uint64
	// live is set while the subscription is confirmed. Without it this
	// process cannot hear other processes' invalidations, so nothing it
	// holds is served (with Redis; without, only Invalidate changes data).
	live atomic.Bool
	// gens numbers the scope states; a state's gen names its local entries.
	gens        atomic.Uint64
	scopeFlight singleflight.Group
	loadFlight  singleflight.Group

	brk breaker

	// pending are scopes whose Invalidate could not reach Redis: they are
	// replayed when it answers again and, meanwhile, their Redis entries
	// are not used by this replica (they may be the ones invalidated).
	pendingMu  sync.Mutex
	pending    map[string]struct{}
	npending   atomic.Int32
	replaying  atomic.Bool
	background sync.WaitGroup

	counts      [3]counter
	loads       counter
	redisErrors counter
	metrics     [3]interface{ Inc() } // nil without Metrics
	metricErr   interface{ Inc() }

	lastLog   atomic.Int64 // now() of the last Redis error log line
	unlogged  atomic.Int64 // Redis errors since then
	logged    atomic.Bool  // an error was logged since Redis last recovered
	closeOnce sync.Once
	cancel    context.CancelFunc
	done      chan struct{} // closed when the subscriber returns
	// subscribed is closed once the subscriber first receives its
	// subscription's confirmation (tests wait for it).
	subscribed chan struct{}
	psMu       sync.Mutex // guards closed, against replays started late
	closed     bool
}

// localKey names an in-process entry. gen identifies the scope and the
// version it was loaded under, so purging a scope is replacing its state:
// a load that began before the purge stores its value under the old gen,
// where no later Get looks.
type localKey struct {
	gen uint64
	key string
}

// scopeState is what a replica knows of one scope.
type scopeState struct {
	gen    uint64
	ver    int64 // the scope's version in Redis; -1: unknown, skip Redis
	epoch  uint64
	purged bool // a tombstone left by a purge, never used, always replaced
	esc    string
	// stale is set by a timer when the version is to be relearned (a
	// timer rather than a clock read on every Get, which costs as much as
	// the rest of a local hit).
	stale atomic.Bool
}

// New returns a Cache. It starts a goroutine subscribed to invalidations
// when o.Redis is set; Close stops it.
func New[V any](o Options[V]) *Cache[V] {
	if o.Name == "" {
		panic("cache.New: Options.Name is required") // a programming error
	}
	if o.LocalSize <= 0 {
		o.LocalSize = defaultLocalSize
	}
	if o.LocalTTL <= 0 {
		o.LocalTTL = defaultLocalTTL
	}
	if o.RedisTTL <= 0 {
		o.RedisTTL = defaultRedisTTL
	}
	if o.LoadTimeout <= 0 {
		o.LoadTimeout = defaultLoadTimeout
	}
	if o.RedisBackoff <= 0 {
		o.RedisBackoff = defaultBackoff
	}
	if o.Marshal == nil {
		o.Marshal = func(v V) ([]byte, error) { return json.Marshal(v) }
	}
	if o.Unmarshal == nil {
		o.Unmarshal = func(b []byte) (V, error) {
			var v V
			if err := json.Unmarshal(b, &v); err != nil {
				return v, fmt.Errorf("cache: decode: %w", err)
			}
			return v, nil
		}
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	c := &Cache[V]{
		name:        o.Name,
		escName:     url.QueryEscape(o.Name),
		rdb:         o.Redis,
		local:       expirable.NewLRU[localKey, V](o.LocalSize, nil, o.LocalTTL),
		localTTL:    o.LocalTTL,
		redisTTL:    o.RedisTTL,
		loadTimeout: o.LoadTimeout,
		backoff:     o.RedisBackoff,
		marshal:     o.Marshal,
		unmarshal:   o.Unmarshal,
		log:         o.Log.With("cache", o.Name),
		t0:          time.Now(),
		pending:     make(map[string]struct{}),
		done:        make(chan struct{}),
		subscribed:  make(chan struct{}),
	}
	c.lastLog.Store(-int64(logEvery))
	if o.Metrics != nil {
		for r, label := range []string{"local_hit", "redis_hit", "miss"} {
			c.metrics[r] = o.Metrics.requests.WithLabelValues(o.Name, label)
		}
		c.metricErr = o.Metrics.redisErrors.WithLabelValues(o.Name)
	}
	if c.rdb == nil {
		close(c.done)
		return c
	}
	ctx, cancel := context.WithCancel(context.Background()) //nolint:gosec // G118: Close calls c.cancel
	c.cancel = cancel
	go c.subscribe(ctx)
	return c
}

// Get returns the value of key in scope: from the local layer, else from
// Redis, else from load, whose value is then stored in both. Concurrent
// misses of one key share one call of load. An error of load is returned
// (as is) and not cached; Redis errors are never returned.
func (c *Cache[V]) Get(ctx context.Context, scope, key string, load func(context.Context) (V, error)) (V, error) {
	v, _, err := c.GetStamped(ctx, scope, key, load)
	return v, err
}

// GetStamped is Get, and also says which version of scope the value belongs
// to: it stays current until an invalidation of the scope publishes a
// later version. A cache further out (the REST gateway's) may keep the
// answer built from it that long, hearing the versions on InvalidateChannel.
// The stamp is zero, not Valid, when the version is unknown (no Redis, or
// Redis unreachable): then nothing tells a further cache when to let go.
func (c *Cache[V]) GetStamped(ctx context.Context, scope, key string, load func(context.Context) (V, error)) (V, Stamp, error) {
	if c.rdb != nil && !c.live.Load() {
		c.count(miss)
		if col, ok := ctx.Value(stampsKey{}).(*Stamps); ok {
			col.add(Stamp{}) // an answer built from this is not to be kept
		}
		v, err := c.callLoad(ctx, load)
		return v, Stamp{}, err
	}
	st, ok := c.current(scope)
	if !ok {
		var err error
		if st, err = c.refresh(ctx, scope, st); err != nil {
			c.count(miss)
			var zero V
			return zero, Stamp{}, err
		}
	}
	stamp := c.stamp(st)
	if col, ok := ctx.Value(stampsKey{}).(*Stamps); ok {
		col.add(stamp)
	}
	if v, ok := c.local.Get(localKey{st.gen, key}); ok {
		c.count(localHit)
		return v, stamp, nil
	}
	v, err := c.fill(ctx, st, key, load)
	if err != nil {
		return v, Stamp{}, err
	}
	return v, stamp, nil
}

// Stamp names the version of a (cache, scope) that a value was read under.
type Stamp struct {
	key string // escaped name ":" escaped scope, as in invalidation messages
	ver int64
}

// Valid reports whether the stamp names a version.
func (s Stamp) Valid() bool { return s.key != "" }

// String is the stamp as "name:scope:version" (name and scope
// query-escaped), the form ParseStamp reads; "" when not Valid.
func (s Stamp) String() string {
	if !s.Valid() {
		return ""
	}
	return s.key + ":" + strconv.FormatInt(s.ver, 10)
}

// ParseStamp reads what Stamp.String wrote, and also the payload of a
// message on InvalidateChannel: key identifies the (cache, scope), ver is
// the version the message made current (-1 in a message from a publisher
// that did not say).
func ParseStamp(s string) (key string, ver int64, ok bool) {
	name, rest, ok := strings.Cut(s, ":")
	if !ok || name == "" {
		return "", 0, false
	}
	scope, v, hasVer := strings.Cut(rest, ":")
	if scope == "" {
		return "", 0, false
	}
	ver = -1
	if hasVer {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			return "", 0, false
		}
		ver = n
	}
	return name + ":" + scope, ver, true
}

// UnsureHeader is the gRPC response header a service sets on every answer
// while Unpublished: the REST gateway then answers nothing from its edge
// cache, which may hold what the unpublished invalidations were for.
const UnsureHeader = "x-vcci-cache-unsure"

// unpublished counts, over every cache of the process, the scopes whose
// invalidation has not reached Redis yet.
var unpublished atomic.Int64

// Unpublished reports whether an invalidation made in this process has not
// reached Redis yet (it is retried until it does): meanwhile other
// processes may still serve what it invalidated.
func Unpublished() bool { return unpublished.Load() > 0 }

// StampHeader is the gRPC response header under which a service names the
// stamps of an answer built only from cached values (Stamps.Header).
const StampHeader = "x-vcci-cache-stamp"

// Stamps collects the stamps of every Get made with a context from
// CollectStamps, so that a handler whose answer is built from nothing but
// cached values can say which versions it depends on.
type Stamps struct {
	mu      sync.Mutex
	list    []string
	unknown bool
}

type stampsKey struct{}

// CollectStamps returns a context under which Get and GetStamped record
// their stamps in the returned Stamps.
func CollectStamps(ctx context.Context) (context.Context, *Stamps) {
	s := &Stamps{}
	return context.WithValue(ctx, stampsKey{}, s), s
}

func (s *Stamps) add(st Stamp) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !st.Valid() {
		s.unknown = true
		return
	}
	v := st.String()
	if !slices.Contains(s.list, v) {
		s.list = append(s.list, v)
	}
}

// Header is the stamps as StampHeader's values: nil when no Get was made,
// or when one of them read under a version that is not known, so that a
// further cache cannot tell when the answer goes stale.
func (s *Stamps) Header() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.unknown {
		return nil
	}
	return slices.Clone(s.list)
}

func (c *Cache[V]) stamp(st *scopeState) Stamp {
	if st.ver < 0 || st.esc == "" {
		return Stamp{}
	}
	return Stamp{key: c.escName + ":" + st.esc, ver: st.ver}
}

// Invalidate makes every replica's entries for the scopes unreachable: it
// bumps each scope's version in Redis, publishes them all in one message
// on InvalidateChannel and forgets this process's entries for them. Call it
// after the change is committed. When Redis cannot be reached the local
// entries are still forgotten, and the Redis part is retried when Redis
// answers again.
func (c *Cache[V]) Invalidate(ctx context.Context, scopes ...string) {
	// This replica sees the write at once, whatever Redis does; the purge
	// after the bump drops what a read filled from Redis's old version
	// meanwhile.
	c.purge(scopes...)
	if c.rdb != nil && len(scopes) > 0 {
		if c.brk.allow(c.now(), c.backoff) {
			if err := c.bump(context.WithoutCancel(ctx), scopes...); err != nil {
				c.redisFailed("invalidate", err, true)
				c.addPending(scopes...)
			} else {
				c.redisOK()
			}
		} else {
			c.addPending(scopes...)
		}
	}
	c.purge(scopes...)
}

// Stats returns the counts since New.
func (c *Cache[V]) Stats() Stats {
	return Stats{
		LocalHits:   c.counts[localHit].Load(),
		RedisHits:   c.counts[redisHit].Load(),
		Misses:      c.counts[miss].Load(),
		Loads:       c.loads.Load(),
		RedisErrors: c.redisErrors.Load(),
	}
}

// Close stops the subscriber and drops the local entries. Get keeps working
// afterwards but no longer hears of other replicas' invalidations sooner
// than LocalTTL.
func (c *Cache[V]) Close() {
	c.closeOnce.Do(func() {
		c.psMu.Lock()
		c.closed = true
		if c.cancel != nil {
			c.cancel() // Watch closes its connection, which ends a pending receive
		}
		c.psMu.Unlock()
		<-c.done
		c.background.Wait()
		c.local.Purge()
		// A closed cache retries nothing: its process no longer answers
		// for what it could not publish.
		c.pendingMu.Lock()
		unpublished.Add(-int64(len(c.pending)))
		clear(c.pending)
		c.npending.Store(0)
		c.pendingMu.Unlock()
	})
}

func (c *Cache[V]) now() int64 { return int64(time.Since(c.t0)) }

func (c *Cache[V]) count(r result) {
	c.counts[r].Add(1)
	if m := c.metrics[r]; m != nil {
		m.Inc()
	}
}

// current returns the state of scope and whether it may be used; when not,
// the state returned (possibly nil) is the one to replace.
func (c *Cache[V]) current(scope string) (*scopeState, bool) {
	v, ok := c.scopes.Load(scope)
	if !ok {
		return nil, false
	}
	st := v.(*scopeState)
	return st, st.epoch == c.epoch.Load() && !st.stale.Load()
}

// refresh learns the state of scope, replacing old. Callers that saw the
// same old state share one lookup; a caller that saw a newer one (after a
// purge) does not join a lookup that may have read the version before it.
func (c *Cache[V]) refresh(ctx context.Context, scope string, old *scopeState) (*scopeState, error) {
	e := c.epoch.Load()
	var oldGen uint64
	if old != nil {
		oldGen = old.gen
	}
	fk := strconv.FormatUint(e, 36) + ":" + strconv.FormatUint(oldGen, 36) + ":" + scope
	ch := c.scopeFlight.DoChan(fk, func() (any, error) {
		return c.learn(scope, e, old), nil
	})
	select {
	case r := <-ch:
		return r.Val.(*scopeState), nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// learn reads the version of scope and installs a state for it unless the
// scope was purged, or the epoch changed, meanwhile.
func (c *Cache[V]) learn(scope string, e uint64, old *scopeState) *scopeState {
	st := &scopeState{ver: -1, epoch: e, esc: url.QueryEscape(scope)}
	known := false
	switch {
	case c.rdb == nil:
		// Nothing to relearn: only Invalidate changes the state.
	case c.isPending(scope):
		// Redis may hold entries of this scope that this replica's
		// Invalidate could not get to: skip Redis for it until replayed.
	case c.brk.allow(c.now(), c.backoff):
		ctx, cancel := context.WithTimeout(context.Background(), c.loadTimeout)
		ver, err := c.version(ctx, st.esc)
		cancel()
		if err != nil {
			c.redisFailed("version", err, true)
		} else {
			c.redisOK()
			st.ver, known = ver, true
		}
	}
	// The local entries stay valid if the version has not moved, or if it
	// cannot be read (Redis down): then nobody can invalidate through it,
	// and the entries still expire by LocalTTL.
	if old != nil && !old.purged && old.epoch == e && (old.ver == st.ver || !known) {
		st.gen = old.gen
	} else {
		st.gen = c.gens.Add(1)
	}
	installed := false
	if c.epoch.Load() == e {
		if old == nil {
			_, loaded := c.scopes.LoadOrStore(scope, st)
			installed = !loaded
		} else {
			installed = c.scopes.CompareAndSwap(scope, old, st)
		}
	}
	if installed && c.rdb != nil {
		ttl := c.localTTL
		if !known {
			// Relearn soon, so that Redis is used again soon after it
			// recovers.
			ttl = min(c.backoff, ttl)
		}
		time.AfterFunc(ttl, func() { st.stale.Store(true) })
	}
	if !installed {
		// Another lookup installed a state first (one that saw old == nil
		// too, or that began after this one's flight ended): use it.
		if cur, ok := c.current(scope); ok {
			return cur
		}
		if old != nil && st.gen == old.gen {
			// Purged meanwhile: this caller may use what it read, but
			// must not read or write the purged entries.
			st.gen = c.gens.Add(1)
		}
	}
	return st
}

// version returns the version of a scope in Redis, creating it if missing.
// A new version starts at the current time in microseconds rather than 0,
// so that after Redis loses its data (restart without persistence) versions
// are not reused: a replica that still knows an old version must not find
// entries written under a new one that happens to be equal.
func (c *Cache[V]) version(ctx context.Context, esc string) (int64, error) {
	k := c.versionKey(esc)
	ver, err := c.rdb.Get(ctx, k).Int64()
	switch {
	case err == nil:
		return ver, nil
	case !errors.Is(err, redis.Nil):
		return 0, fmt.Errorf("get version: %w", err)
	}
	var get *redis.StringCmd
	_, err = c.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.SetNX(ctx, k, time.Now().UnixMicro(), 0)
		get = p.Get(ctx, k)
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("create version: %w", err)
	}
	if ver, err = get.Int64(); err != nil {
		return 0, fmt.Errorf("create version: %w", err)
	}
	return ver, nil
}

// bump increments the versions of scopes and tells the other replicas, in
// one message: an upload changes a tenant and its suppliers together, and
// every replica's subscriber wakes for each message.
func (c *Cache[V]) bump(ctx context.Context, scopes ...string) error {
	keys := make([]string, len(scopes))
	args := make([]any, 2, 2+len(scopes))
	args[0], args[1] = time.Now().UnixMicro(), InvalidateChannel
	for i, s := range scopes {
		esc := url.QueryEscape(s)
		keys[i] = c.versionKey(esc)
		args = append(args, c.escName+":"+esc)
	}
	return bumpScript.Run(ctx, c.rdb, keys, args...).Err()
}

// bumpScript increments versions (each created as in version if missing)
// and publishes "name:scope:new version" of each, separated by spaces
// (names and scopes are query-escaped), in one atomic step: a listener
// that hears version n knows that answers stamped below n are stale. (Lua
// numbers are doubles: %d, not tostring, keeps a version an integer; at
// microseconds since 1970 it stays exact until 2255.)
var bumpScript = redis.NewScript(`
local heard = {}
for i, k in ipairs(KEYS) do
	redis.call('SET', k, ARGV[1], 'NX')
	heard[i] = ARGV[i + 2] .. ':' .. string.format('%d', redis.call('INCR', k))
end
redis.call('PUBLISH', ARGV[2], table.concat(heard, ' '))
return #heard`)

// purge forgets this process's entries for scope by replacing its state
// with a tombstone: the next Get learns a new state, with a new gen. A
// tombstone (rather than a deletion) also defeats a concurrent learn that
// read the version before the purge: its compare-and-swap fails.
func (c *Cache[V]) purge(scopes ...string) {
	for _, scope := range scopes {
		st := &scopeState{gen: c.gens.Add(1), purged: true}
		st.stale.Store(true)
		c.scopes.Store(scope, st)
	}
}

// forgetScopes makes every state unusable, after missed messages.
func (c *Cache[V]) forgetScopes() {
	c.epoch.Add(1)
	c.scopes.Clear()
}

type filled[V any] struct {
	v    V
	from result
}

// fill answers a local miss. Callers with the same state and key share one
// fill, which runs detached from their contexts so that one caller giving up
// does not fail the others.
func (c *Cache[V]) fill(ctx context.Context, st *scopeState, key string, load func(context.Context) (V, error)) (V, error) {
	fk := strconv.FormatUint(st.gen, 36) + ":" + key
	ch := c.loadFlight.DoChan(fk, func() (any, error) {
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.loadTimeout)
		defer cancel()
		return c.fetch(fctx, st, key, load)
	})
	var zero V
	select {
	case r := <-ch:
		if r.Err != nil {
			c.count(miss)
			return zero, r.Err
		}
		f := r.Val.(filled[V])
		c.count(f.from)
		return f.v, nil
	case <-ctx.Done():
		c.count(miss)
		return zero, ctx.Err()
	}
}

func (c *Cache[V]) fetch(ctx context.Context, st *scopeState, key string, load func(context.Context) (V, error)) (filled[V], error) {
	lk := localKey{st.gen, key}
	rkey := ""
	if st.ver >= 0 && c.brk.allow(c.now(), c.backoff) {
		rkey = c.dataKey(st, key)
		b, err := c.rdb.Get(ctx, rkey).Bytes()
		switch {
		case err == nil:
			c.redisOK()
			v, err := c.unmarshal(b)
			if err == nil {
				c.local.Add(lk, v)
				return filled[V]{v, redisHit}, nil
			}
			// Not Redis's fault: load, and overwrite the entry.
			c.redisFailed("decode", err, false)
		case errors.Is(err, redis.Nil):
			c.redisOK()
		default:
			c.redisFailed("get", err, true)
			rkey = ""
		}
	}
	v, err := c.callLoad(ctx, load)
	if err != nil {
		return filled[V]{}, err
	}
	c.local.Add(lk, v)
	if rkey != "" {
		if b, err := c.marshal(v); err != nil {
			c.log.ErrorContext(ctx, "cache: encode value", "err", err)
		} else if err := c.rdb.Set(ctx, rkey, b, c.redisTTL).Err(); err != nil {
			c.redisFailed("set", err, true)
		}
	}
	return filled[V]{v, miss}, nil
}

// callLoad calls load, turning a panic into an error: the load runs on a
// goroutine of its own, where a panic would end the process.
func (c *Cache[V]) callLoad(ctx context.Context, load func(context.Context) (V, error)) (v V, err error) {
	c.loads.Add(1)
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("cache %s: load panicked: %v", c.name, p)
		}
	}()
	return load(ctx)
}

func (c *Cache[V]) versionKey(esc string) string {
	return keyPrefix + c.escName + ":" + esc + ":ver"
}

// dataKey is the Redis key of an entry. Name and scope are escaped, so they
// hold no ':' and keys of different (scope, version, key) cannot collide.
func (c *Cache[V]) dataKey(st *scopeState, key string) string {
	return keyPrefix + c.escName + ":" + st.esc + ":" + strconv.FormatInt(st.ver, 10) + ":" + key
}

// redisFailed counts and logs (rate-limited) a Redis error; trip starts a
// backoff during which Redis is skipped.
func (c *Cache[V]) redisFailed(op string, err error, trip bool) {
	c.redisErrors.Add(1)
	if c.metricErr != nil {
		c.metricErr.Inc()
	}
	now := c.now()
	if trip {
		c.brk.fail(now, c.backoff)
	}
	if errors.Is(err, redisx.ErrUnavailable) {
		return // refused by the client during an outage it has logged
	}
	n := c.unlogged.Add(1)
	last := c.lastLog.Load()
	if now-last < int64(logEvery) || !c.lastLog.CompareAndSwap(last, now) {
		return
	}
	c.unlogged.Add(-n)
	c.logged.Store(true)
	c.log.Warn("cache: redis error; skipping redis for a while", "op", op, "err", err,
		"errors_since_last_log", n, "backoff", c.backoff)
}

// redisOK notes a Redis success: it ends a backoff.
func (c *Cache[V]) redisOK() {
	if !c.brk.succeed() {
		return
	}
	if c.logged.CompareAndSwap(true, false) {
		c.log.Info("cache: redis answers again")
	}
	if c.npending.Load() > 0 {
		c.replayInBackground()
	}
}

// breaker skips Redis for a backoff after an error, then lets one request
// at a time probe it until one succeeds.
type breaker struct {
	open    atomic.Bool
	retryAt atomic.Int64
}

func (b *breaker) allow(now int64, backoff time.Duration) bool {
	if !b.open.Load() {
		return true
	}
	r := b.retryAt.Load()
	return now >= r && b.retryAt.CompareAndSwap(r, now+int64(backoff))
}

func (b *breaker) fail(now int64, backoff time.Duration) {
	b.retryAt.Store(now + int64(backoff))
	b.open.Store(true)
}

// succeed closes the breaker and reports whether it was open.
func (b *breaker) succeed() bool {
	return b.open.Load() && b.open.CompareAndSwap(true, false)
}

func (c *Cache[V]) addPending(scopes ...string) {
	c.pendingMu.Lock()
	for _, scope := range scopes {
		if _, ok := c.pending[scope]; !ok {
			c.pending[scope] = struct{}{}
			c.npending.Add(1)
			unpublished.Add(1)
		}
	}
	c.pendingMu.Unlock()
}

func (c *Cache[V]) isPending(scope string) bool {
	if c.npending.Load() == 0 {
		return false
	}
	c.pendingMu.Lock()
	defer c.pendingMu.Unlock()
	_, ok := c.pending[scope]
	return ok
}

func (c *Cache[V]) replayInBackground() {
	c.psMu.Lock()
	defer c.psMu.Unlock()
	if c.closed {
		return
	}
	c.background.Go(func() {
		c.replay()
	})
}

// replay retries the invalidations that could not reach Redis. A scope
// leaves pending before its purge, so that the state learned after the
// purge uses Redis again, at the bumped version.
func (c *Cache[V]) replay() {
	if c.npending.Load() == 0 || !c.replaying.CompareAndSwap(false, true) {
		return
	}
	defer c.replaying.Store(false)
	c.pendingMu.Lock()
	scopes := make([]string, 0, len(c.pending))
	for s := range c.pending {
		scopes = append(scopes, s)
	}
	c.pendingMu.Unlock()
	done := 0
	for chunk := range slices.Chunk(scopes, replayChunk) {
		if err := c.bump(context.Background(), chunk...); err != nil {
			c.redisFailed("invalidate", err, true)
			break
		}
		c.pendingMu.Lock()
		for _, s := range chunk {
			delete(c.pending, s)
		}
		c.npending.Add(-int32(len(chunk))) //nolint:gosec // at most replayChunk
		unpublished.Add(-int64(len(chunk)))
		c.pendingMu.Unlock()
		c.purge(chunk...)
		done += len(chunk)
	}
	if done > 0 {
		c.log.Info("cache: replayed invalidations that failed while redis was unreachable", "scopes", done)
	}
}

// subscribe receives invalidations until ctx ends, across Redis restarts.
func (c *Cache[V]) subscribe(ctx context.Context) {
	defer close(c.done)
	Watch(ctx, c.rdb, watcher[V]{c})
}

// watcher is what a Cache does with what Watch hears.
type watcher[V any] struct{ c *Cache[V] }

func (w watcher[V]) Subscribed() {
	// New connection: invalidations may have been missed while there was
	// none.
	w.c.forgetScopes()
	w.c.live.Store(true)
	select {
	case <-w.c.subscribed:
	default:
		close(w.c.subscribed)
	}
	w.c.replay()
}

func (w watcher[V]) Message(payload string) { w.c.onMessage(payload) }

func (w watcher[V]) Idle() { w.c.replay() }

func (w watcher[V]) Lost(err error) {
	w.c.live.Store(false)
	if errors.Is(err, ErrUnresponsive) {
		w.c.log.Warn("cache: invalidation subscription unresponsive; reconnecting")
		return
	}
	w.c.subscriberFailed(err)
}

func (c *Cache[V]) subscriberFailed(err error) {
	if errors.Is(err, redisx.ErrUnavailable) {
		return // refused by the client during an outage it has logged
	}
	now := c.now()
	n := c.unlogged.Add(1)
	last := c.lastLog.Load()
	if now-last < int64(logEvery) || !c.lastLog.CompareAndSwap(last, now) {
		return
	}
	c.unlogged.Add(-n)
	c.logged.Store(true)
	c.log.Warn("cache: invalidation subscription lost; retrying", "err", err, "errors_since_last_log", n)
}

func (c *Cache[V]) onMessage(payload string) {
	key, _, ok := ParseStamp(payload)
	if !ok {
		return
	}
	name, esc, _ := strings.Cut(key, ":")
	if name != c.escName {
		return
	}
	scope, err := url.QueryUnescape(esc)
	if err != nil {
		return
	}
	c.purge(scope)
}

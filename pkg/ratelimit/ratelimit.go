// Package ratelimit keeps a request budget per API key and request class:
// in Redis (GCRA, so every replica of every service shares one budget), and
// in process while Redis is absent or failing, so that limits hold through
// an outage.
package ratelimit

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"log/slog"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-redis/redis_rate/v10"
	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"golang.org/x/time/rate"
)

const (
	// redisTimeout bounds one decision in Redis; past it the request is
	// decided locally. go-redis ignores context deadlines on socket reads
	// unless the client opts in, so the limiter enforces this itself.
	redisTimeout = 100 * time.Millisecond
	// redisBackoff is how long the limiter stays local after a Redis error,
	// so that an outage costs one timeout per backoff, not one per request.
	redisBackoff = time.Second
	// localKeys caps the in-process buckets; the least recently used key
	// loses its bucket (and so starts again with a full burst).
	localKeys = 100_000
)

// Result is one decision.
type Result struct {
	Allowed bool
	// Limit is the most requests allowed at once: the class's burst.
	Limit int
	// Remaining is how many more requests would be allowed right now.
	Remaining int
	// ResetAfter is the time until the bucket is full again.
	ResetAfter time.Duration
	// RetryAfter is the time until the next request would be allowed; zero
	// when this one was.
	RetryAfter time.Duration
}

// Limiter decides whether an API key may make a request of a class.
type Limiter struct {
	cfg     Config
	log     *slog.Logger
	gcra    *redis_rate.Limiter // nil: local only
	local   *lru.Cache[string, *bucket]
	timeout time.Duration
	backoff time.Duration
	leaseMu sync.Mutex
	leases  map[string]*lease // by Redis key
	// downUntil is 0 while Redis answers; after an error, the UnixNano
	// time until which decisions stay local.
	downUntil atomic.Int64
	// decisions[class][limited][local]
	decisions [3][2][2]prometheus.Counter
}

// New returns a Limiter keeping budgets in rdb, or only in process if rdb is
// nil. cfg must be valid (Config.Validate; ConfigFromEnv's result is).
// Decisions are counted in reg, if not nil, as
// vcci_ratelimit_decisions_total{class,result,store}.
func New(rdb *redis.Client, cfg Config, log *slog.Logger, reg prometheus.Registerer) *Limiter {
	if err := cfg.Validate(); err != nil {
		// A programming error: ConfigFromEnv and DefaultConfig only return
		// valid configurations.
		panic(err)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	local, err := lru.New[string, *bucket](localKeys)
	if err != nil {
		panic(err) // only for a size below 1
	}
	l := &Limiter{cfg: cfg, log: log, local: local, timeout: redisTimeout, backoff: redisBackoff, leases: map[string]*lease{}}
	if rdb != nil {
		l.gcra = redis_rate.NewLimiter(rdb)
	}
	vec := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "vcci_ratelimit_decisions_total",
		Help: "Rate limit decisions on API-key requests, by request class, result (allowed, limited) and where the budget was kept (redis, local).",
	}, []string{"class", "result", "store"})
	if reg != nil {
		if err := reg.Register(vec); err != nil {
			// A second limiter on the same registry (tests, or two servers
			// in one process) counts into the first one's series.
			are, ok := errors.AsType[prometheus.AlreadyRegisteredError](err)
			if !ok {
				panic(err)
			}
			vec = are.ExistingCollector.(*prometheus.CounterVec)
		}
	}
	for c := range l.decisions {
		for lim, result := range []string{"allowed", "limited"} {
			for loc, store := range []string{"redis", "local"} {
				l.decisions[c][lim][loc] = vec.WithLabelValues(Class(c).String(), result, store)
			}
		}
	}
	return l
}

// Limit returns the limit of class.
func (l *Limiter) Limit(class Class) Limit { return l.cfg.Of(class) }

// Allow charges one request of class to key's budget and reports whether it
// may go ahead. It never fails: when Redis cannot decide, the local bucket
// does.
func (l *Limiter) Allow(ctx context.Context, key string, class Class) Result {
	if class != Read && class != Heavy {
		class = Write
	}
	limit := l.cfg.Of(class)
	// The raw key never leaves the process: Redis and the local map see a
	// prefix of its SHA-256.
	sum := sha256.Sum256([]byte(key))
	id := "vcci:" + class.String() + ":" + hex.EncodeToString(sum[:16])

	if l.gcra != nil && l.useRedis() {
		if res, ok := l.allowShared(ctx, id, limit); ok {
			l.count(class, res, false)
			return res
		}
	}
	res := l.allowLocal(id, limit)
	l.count(class, res, true)
	return res
}

func (l *Limiter) count(class Class, res Result, local bool) {
	var lim, loc int
	if !res.Allowed {
		lim = 1
	}
	if local {
		loc = 1
	}
	l.decisions[class][lim][loc].Inc()
}

// useRedis reports whether this decision should go to Redis: always while
// it answers; after an error only once the backoff has passed, and then for
// one request alone, which probes it while the others stay local.
func (l *Limiter) useRedis() bool {
	until := l.downUntil.Load()
	if until == 0 {
		return true
	}
	nowNano := time.Now().UnixNano()
	if nowNano < until {
		return false
	}
	return l.downUntil.CompareAndSwap(until, nowNano+int64(l.backoff))
}

// Leases. A budget lives in Redis so that every replica draws on the same
// one, but asking Redis for every request costs a round trip per request in
// the process, the network and Redis. Where the burst is large, a process
// takes tokens in small blocks (leaseSize) and grants them itself until the
// block is spent or leaseTTL passes: Redis still counts every token before
// it is granted, so no replica together with the others exceeds the budget;
// a block left unspent when its time is up is lost to the key (at most
// leaseSize-1 requests' worth per replica). X-RateLimit-Remaining is then
// what Redis had left when the block was taken plus what is left of the
// block here.
const (
	leaseDivisor = 20 // a block is at most a twentieth of the burst
	leaseMax     = 64
	leaseTTL     = time.Second
	leaseKeys    = 100_000
)

// leaseSize is how many tokens are taken from Redis at once for limit: 1
// (no leasing) for bursts under 2 × leaseDivisor.
func leaseSize(limit Limit) int {
	return min(max(limit.Burst/leaseDivisor, 1), leaseMax)
}

type lease struct {
	left       int // tokens not yet granted
	remaining  int // what Redis had left when the block was taken
	resetAfter time.Duration
	until      time.Time
}

// allowShared decides in Redis, through a block of tokens when the limit
// allows leasing.
func (l *Limiter) allowShared(ctx context.Context, id string, limit Limit) (Result, bool) {
	n := leaseSize(limit)
	if n == 1 {
		return l.allowRedis(ctx, id, limit, 1)
	}
	now := time.Now()
	l.leaseMu.Lock()
	if ls, ok := l.leases[id]; ok && ls.left > 0 && now.Before(ls.until) {
		ls.left--
		res := Result{Allowed: true, Limit: limit.Burst, Remaining: ls.remaining + ls.left, ResetAfter: ls.resetAfter}
		l.leaseMu.Unlock()
		return res, true
	}
	l.leaseMu.Unlock()
	res, ok := l.allowRedis(ctx, id, limit, n)
	if !ok {
		return res, false
	}
	if !res.Allowed {
		// Fewer than a block left: the last tokens go one at a time.
		return l.allowRedis(ctx, id, limit, 1)
	}
	l.leaseMu.Lock()
	if len(l.leases) >= leaseKeys {
		clear(l.leases)
	}
	l.leases[id] = &lease{left: n - 1, remaining: res.Remaining, resetAfter: res.ResetAfter, until: now.Add(leaseTTL)}
	l.leaseMu.Unlock()
	res.Remaining += n - 1
	return res, true
}

type redisReply struct {
	res *redis_rate.Result
	err error
}

func (l *Limiter) allowRedis(ctx context.Context, id string, limit Limit, n int) (Result, bool) {
	// The call runs on its own goroutine so that a hung connection costs
	// this request l.timeout, not the client's read timeout and retries. The
	// caller going away does not cancel it: the script is one atomic step.
	replies := make(chan redisReply, 1)
	go func() {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), l.timeout)
		defer cancel()
		res, err := l.gcra.AllowN(rctx, id, redis_rate.Limit{Rate: limit.Rate, Period: limit.Period, Burst: limit.Burst}, n)
		replies <- redisReply{res, err}
	}()
	timer := time.NewTimer(l.timeout)
	defer timer.Stop()
	var r redisReply
	select {
	case r = <-replies:
	case <-timer.C:
		r.err = context.DeadlineExceeded
	case <-ctx.Done():
		// The caller is gone; decide locally and leave Redis's health alone.
		return Result{}, false
	}
	if r.err != nil {
		if l.downUntil.Swap(time.Now().UnixNano()+int64(l.backoff)) == 0 {
			l.log.WarnContext(ctx, "rate limits: redis failed; limiting in process", "error", r.err.Error(), "retry_in", l.backoff.String())
		}
		return Result{}, false
	}
	if l.downUntil.Swap(0) != 0 {
		l.log.InfoContext(ctx, "rate limits: redis answers again")
	}
	res := Result{
		Allowed:    r.res.Allowed > 0,
		Limit:      limit.Burst,
		Remaining:  r.res.Remaining,
		ResetAfter: max(r.res.ResetAfter, 0),
		RetryAfter: max(r.res.RetryAfter, 0), // -1 when allowed
	}
	return res, true
}

// bucket is one key's local token bucket. The mutex makes the decision and
// the token count it reports one step.
type bucket struct {
	mu  sync.Mutex
	lim *rate.Limiter
}

func (l *Limiter) allowLocal(id string, limit Limit) Result {
	b, ok := l.local.Get(id)
	if !ok {
		perSecond := float64(limit.Rate) / limit.Period.Seconds()
		b = &bucket{lim: rate.NewLimiter(rate.Limit(perSecond), limit.Burst)}
		if prev, found, _ := l.local.PeekOrAdd(id, b); found {
			b = prev
		}
	}
	now := time.Now()
	b.mu.Lock()
	allowed := b.lim.AllowN(now, 1)
	tokens := b.lim.TokensAt(now)
	b.mu.Unlock()

	// Durations in float: a token's interval can be below a nanosecond's
	// resolution of Period/Rate for very high rates.
	interval := float64(limit.Period) / float64(limit.Rate)
	res := Result{
		Allowed:    allowed,
		Limit:      limit.Burst,
		Remaining:  max(int(math.Floor(tokens)), 0),
		ResetAfter: time.Duration(max(float64(limit.Burst)-tokens, 0) * interval),
	}
	if !allowed {
		res.RetryAfter = time.Duration(math.Ceil((1 - tokens) * interval))
	}
	return res
}

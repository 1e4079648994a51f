package edge

import (
	"container/list"
	"context"
	"crypto/sha256"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/vcci-dev/vcci/pkg/cache"
	"github.com/vcci-dev/vcci/pkg/grpcserver"
	"github.com/vcci-dev/vcci/pkg/ratelimit"
)

// stampHeader is the HTTP name grpc-gateway gives the services' cache
// stamps (cache.StampHeader). It never leaves the gateway: cacheWriter
// takes it off every answer.
const stampHeader = "X-Vcci-Cache-Stamp"

// unsureHeader is the HTTP name of cache.UnsureHeader: a service answering
// it holds invalidations Redis has not heard. Never sent on either.
const unsureHeader = "X-Vcci-Cache-Unsure"

// unsureFor is how long the edge answers nothing after an answer marked
// unsure: every answer of that service renews it until Redis has heard
// its invalidations.
const unsureFor = time.Second

// Edge cache defaults.
const (
	DefaultEdgeCacheBytes = 64 << 20
	// DefaultEdgeCacheTTL is the services' key TTL (tenancy.DefaultAuthTTL):
	// a revoked key's cached reads end when the services refuse the key.
	DefaultEdgeCacheTTL = 5 * time.Second
	// edgeMaxEntry keeps one large answer from displacing hundreds of
	// small ones.
	edgeMaxEntry = 1 << 20
	// edgeMaxHeard bounds the versions remembered; past it they are all
	// forgotten along with every entry (a new epoch).
	edgeMaxHeard   = 100_000
	edgeCacheLabel = "vcci.edge_cache"
)

// edgeCache keeps whole REST answers to GETs in the gateway, so that a
// repeated read is answered without a call to a service. It keeps only
// answers a service marked as built from its own caches (cache.Stamps),
// each with the versions it was read under, and it hears the same
// invalidations the services do (cache.InvalidateChannel, whose messages
// carry the new version): an entry is served only while no version later
// than its own has been heard, and only while the subscription is known
// to be live. While Redis is down nothing is kept or served here.
//
// An entry is keyed by the caller's credential, path and query, so only
// the credential that was answered is answered again; it lives at most TTL
// (by default no longer than a revoked key keeps working at the services). A hit
// still costs the credential one request of its read budget, decided by
// the same limiter the services use, with the same headers and the same
// 429.
type edgeCache struct {
	log      *slog.Logger
	limiter  *ratelimit.Limiter
	ttl      time.Duration
	maxBytes int64
	t0       time.Time

	mu    sync.Mutex
	lru   *list.List // of *edgeEntry, most recently used first
	byKey map[string]*list.Element
	bytes int64

	// flights are the misses on their way to a service, by key: a GET that
	// finds one waits for its answer instead of asking too (collapsed
	// forwarding), so that an invalidation costs the service one refill per
	// key rather than one per client waiting meanwhile.
	flightsMu sync.Mutex
	flights   map[string]*edgeFlight

	heardMu sync.RWMutex
	heard   map[string]int64 // "name:scope" -> latest version heard
	seq     atomic.Uint64    // versions heard so far
	// epoch changes whenever versions may have been missed (a new
	// subscription); entries of an older epoch are never served.
	epoch atomic.Uint64
	live  atomic.Bool
	// unsureUntil (since t0) is when a service last marked as unsure
	// stops keeping the cache from answering (see distrust).
	unsureUntil atomic.Int64

	requests               *prometheus.CounterVec
	hits, misses, bypassed prometheus.Counter // its series, resolved once
	size                   prometheus.Gauge
}

// edgeFlight is one miss being answered by a service.
type edgeFlight struct {
	done chan struct{}
	// entry is the leader's answer, stored or not (it may have been
	// superseded before it arrived); nil: nothing to share.
	entry *edgeEntry
	// events are the versions heard while the flight was in the air, in
	// order; appended under flightsMu until the flight lands.
	events []heardEvent
}

// heardEvent is one version heard: the seq'th, for key, which had been at
// prev before it.
type heardEvent struct {
	seq  uint64
	key  string
	prev int64
}

type edgeStamp struct {
	key string
	ver int64
}

type edgeEntry struct {
	key     string
	epoch   uint64
	expires int64 // since t0
	stamps  []edgeStamp
	body    []byte
	sum     uint64
	header  [][2]string // Content-Type and grpc-gateway's metadata headers
	policy  string
	// gz is body gzipped, once a client that takes gzip was sent it (see
	// gzipped): set once, under edgeCache.mu, which counts its bytes.
	gz     []byte
	gzOnce sync.Once
}

// size is what e counts against the cache's bound. ec.mu is held.
func (e *edgeEntry) size() int64 { return int64(len(e.body) + len(e.gz) + len(e.key) + 256) }

func newEdgeCache(log *slog.Logger, limiter *ratelimit.Limiter, maxBytes int64, ttl time.Duration, reg prometheus.Registerer) *edgeCache {
	ec := &edgeCache{
		log: log, limiter: limiter, ttl: ttl, maxBytes: maxBytes, t0: time.Now(),
		lru: list.New(), byKey: map[string]*list.Element{}, heard: map[string]int64{}, flights: map[string]*edgeFlight{},
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vcci_gateway_edge_cache_requests_total",
			Help: "GETs the gateway answered from its edge cache (hit), sent on to a service (miss), or sent on because the cache could not be trusted (bypass: its invalidation subscription is down).",
		}, []string{"result"}),
		size: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "vcci_gateway_edge_cache_bytes",
			Help: "Bytes of answers held by the gateway's edge cache.",
		}),
	}
	ec.hits, ec.misses, ec.bypassed = ec.requests.WithLabelValues("hit"), ec.requests.WithLabelValues("miss"), ec.requests.WithLabelValues("bypass")
	if reg != nil {
		reg.MustRegister(ec.requests, ec.size)
	}
	return ec
}

func (ec *edgeCache) now() int64 { return int64(time.Since(ec.t0)) }

// credential is the API key a request presents, as the services read it
// (grpcserver.APIKey): x-api-key, else a bearer token.
func credential(r *http.Request) string {
	if k := r.Header.Get("X-Api-Key"); k != "" {
		return k
	}
	if k, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		return k
	}
	return ""
}

// key is the entry key of a GET by cred: a digest of the credential (the
// key itself is not kept), then the path and query as sent.
func edgeKey(cred string, u *url.URL) string {
	sum := sha256.Sum256([]byte(cred))
	var b strings.Builder
	b.Grow(32 + 1 + len(u.Path) + 1 + len(u.RawQuery))
	b.Write(sum[:16])
	b.WriteByte(0)
	b.WriteString(u.Path)
	b.WriteByte('?')
	b.WriteString(u.RawQuery)
	return b.String()
}

// usable reports whether the cache may be used at all, and its epoch.
func (ec *edgeCache) usable() (uint64, bool) {
	e := ec.epoch.Load()
	return e, ec.live.Load() && ec.now() >= ec.unsureUntil.Load()
}

// distrust forgets every entry and answers nothing for unsureFor: a service
// answered while holding invalidations Redis has not heard, so the
// subscription may not have heard them either, even while it looks live.
// Without this, a write read back before the gateway noticed an outage
// could be answered from before the write.
func (ec *edgeCache) distrust() {
	now := ec.now()
	if ec.unsureUntil.Swap(now+int64(unsureFor)) <= now {
		ec.log.Warn("edge cache: not answering while a service has invalidations redis has not heard")
	}
	ec.newEpoch()
}

// current reports whether e may still be served.
func (ec *edgeCache) current(e *edgeEntry) bool { return ec.currentAsOf(e, nil, 0) }

// currentAsOf reports whether e could be served to a request that arrived
// when seq versions had been heard, events being those heard since (in
// order; nil: none, i.e. now).
func (ec *edgeCache) currentAsOf(e *edgeEntry, events []heardEvent, seq uint64) bool {
	if ep, ok := ec.usable(); !ok || e.epoch != ep || ec.now() >= e.expires {
		return false
	}
	ec.heardMu.RLock()
	defer ec.heardMu.RUnlock()
	for _, s := range e.stamps {
		then := ec.heard[s.key]
		for _, ev := range events { // the first version heard after arrival
			if ev.seq > seq && ev.key == s.key {
				then = ev.prev
				break
			}
		}
		if then > s.ver {
			return false
		}
	}
	return true
}

// get returns the entry of key if it may be served.
func (ec *edgeCache) get(key string) *edgeEntry {
	ec.mu.Lock()
	el, ok := ec.byKey[key]
	if !ok {
		ec.mu.Unlock()
		return nil
	}
	e := el.Value.(*edgeEntry)
	ec.lru.MoveToFront(el)
	ec.mu.Unlock()
	if !ec.current(e) {
		ec.remove(e)
		return nil
	}
	return e
}

func (ec *edgeCache) remove(e *edgeEntry) {
	ec.mu.Lock()
	defer ec.mu.Unlock()
	if el, ok := ec.byKey[e.key]; ok && el.Value.(*edgeEntry) == e {
		ec.lru.Remove(el)
		delete(ec.byKey, e.key)
		ec.bytes -= e.size()
		ec.size.Set(float64(ec.bytes))
	}
}

// lead returns the flight of key and whether the caller leads it: a leader
// must call land exactly once; anyone else may await it, with the seq it
// joined at.
func (ec *edgeCache) lead(key string) (f *edgeFlight, leader bool, seq uint64) {
	ec.flightsMu.Lock()
	defer ec.flightsMu.Unlock()
	seq = ec.seq.Load()
	if f, ok := ec.flights[key]; ok {
		return f, false, seq
	}
	f = &edgeFlight{done: make(chan struct{})}
	ec.flights[key] = f
	return f, true, seq
}

// land ends a flight with what its leader stored (nil: nothing).
func (ec *edgeCache) land(key string, f *edgeFlight, e *edgeEntry) {
	ec.flightsMu.Lock()
	if ec.flights[key] == f {
		delete(ec.flights, key)
	}
	ec.flightsMu.Unlock()
	f.entry = e
	close(f.done)
}

// await waits for f, joined at seq, and returns the leader's answer if it
// was current when the caller arrived, else nil (the caller then asks the
// service itself). An answer superseded by a version heard after the
// caller arrived is still one the caller may have: its request overlapped
// the write. One superseded by a version heard before it arrived is not:
// the caller may know of that write.
func (ec *edgeCache) await(ctx context.Context, f *edgeFlight, seq uint64) *edgeEntry {
	select {
	case <-f.done:
	case <-ctx.Done():
		return nil
	}
	if e := f.entry; e != nil && ec.currentAsOf(e, f.events, seq) {
		return e
	}
	return nil
}

// put keeps an answer fetched while the cache was in epoch, if it is still
// current (no invalidation past its stamps arrived meanwhile), and returns
// the entry kept (nil: none).
//
// It also returns the answer as an entry, kept or not, for the requests
// that waited on it (nil when it cannot be one: too large, or not stamped).
func (ec *edgeCache) put(key string, epoch uint64, stamps []string, h http.Header, policy string, body []byte, sum uint64) *edgeEntry {
	if len(body) > edgeMaxEntry || ec.maxBytes <= 0 {
		return nil
	}
	e := &edgeEntry{key: key, epoch: epoch, expires: ec.now() + int64(ec.ttl), sum: sum, policy: policy}
	for _, s := range stamps {
		k, ver, ok := cache.ParseStamp(s)
		if !ok || ver < 0 {
			return nil
		}
		e.stamps = append(e.stamps, edgeStamp{k, ver})
	}
	if len(e.stamps) == 0 {
		return nil
	}
	for name, vs := range h {
		if len(vs) > 0 && (name == "Content-Type" || strings.HasPrefix(name, runtime.MetadataHeaderPrefix)) {
			e.header = append(e.header, [2]string{name, vs[0]})
		}
	}
	e.body = append([]byte(nil), body...) // the caller's buffer is pooled
	if !ec.current(e) {
		return e // superseded: for the waiters that arrived before that, only
	}
	ec.mu.Lock()
	defer ec.mu.Unlock()
	if el, ok := ec.byKey[key]; ok {
		old := el.Value.(*edgeEntry)
		ec.bytes -= old.size()
		ec.lru.Remove(el)
	}
	ec.byKey[key] = ec.lru.PushFront(e)
	ec.grow(e.size())
	return e
}

// grow counts n more bytes held and evicts the least recently used entries
// while the cache holds more than its bound. ec.mu is held.
func (ec *edgeCache) grow(n int64) {
	ec.bytes += n
	for ec.bytes > ec.maxBytes {
		last := ec.lru.Back()
		old := last.Value.(*edgeEntry)
		ec.lru.Remove(last)
		delete(ec.byKey, old.key)
		ec.bytes -= old.size()
	}
	ec.size.Set(float64(ec.bytes))
}

// serve answers r from e: the credential's read budget is charged first,
// exactly as the service would have charged it.
func (ec *edgeCache) serve(w http.ResponseWriter, r *http.Request, cred string, e *edgeEntry, mux *runtime.ServeMux, marshaler runtime.Marshaler, gz *gzMemo) {
	ec.hits.Inc()
	trace.SpanFromContext(r.Context()).SetAttributes(attribute.String(edgeCacheLabel, "hit"))
	res := ec.limiter.Allow(r.Context(), cred, ratelimit.Read)
	h := w.Header()
	for k, v := range grpcserver.RateLimitHeaders(res) {
		h.Set(responseHeaders[k], v)
	}
	if !res.Allowed {
		cw := &cacheWriter{ResponseWriter: w, policy: cacheNone}
		runtime.HTTPError(r.Context(), mux, marshaler, cw, r, grpcserver.RateLimitStatus(ec.limiter, ratelimit.Read, res).Err())
		return
	}
	for _, kv := range e.header {
		h.Set(kv[0], kv[1])
	}
	cw := &cacheWriter{ResponseWriter: w, policy: e.policy, gz: gz, edge: ec, from: e}
	cw.writeHeld(r, e.sum, e.body)
}

// gzipped is e's body gzipped as gzhttp would: compressed the first time a
// client takes it and kept with the entry (and counted in the cache's
// bytes), so a hit is never compressed again. The memo of recent
// encodings holds far fewer answers than the edge cache does, and a page
// it has forgotten costs several times more to compress than to send.
//
// One compression per entry: the requests that waited on the flight which
// filled it are all sent it at once.
func (ec *edgeCache) gzipped(e *edgeEntry, g *gzMemo) []byte {
	e.gzOnce.Do(func() {
		gz := g.compress(e.body)
		ec.mu.Lock()
		defer ec.mu.Unlock()
		e.gz = gz
		if el, ok := ec.byKey[e.key]; ok && el.Value == e {
			ec.grow(int64(len(gz)))
		}
	})
	return e.gz
}

// watch keeps the cache subscribed to invalidations until ctx ends. The
// cache is usable only between a confirmed subscription and the next
// error; each new subscription starts a new epoch, since messages may have
// been missed without one.
func (ec *edgeCache) watch(ctx context.Context, rdb *redis.Client) {
	cache.Watch(ctx, rdb, edgeWatcher{ec})
	ec.live.Store(false)
}

// edgeWatcher is what the edge cache does with what cache.Watch hears.
type edgeWatcher struct{ ec *edgeCache }

func (w edgeWatcher) Subscribed() {
	w.ec.newEpoch()
	w.ec.live.Store(true)
}

func (w edgeWatcher) Message(payload string) { w.ec.hear(payload) }

func (edgeWatcher) Idle() {}

// Lost stops the cache from being used until the next subscription.
func (w edgeWatcher) Lost(err error) {
	if w.ec.live.Swap(false) {
		w.ec.log.Warn("edge cache: not answering until invalidations are heard again", "reason", err.Error())
	}
}

// newEpoch forgets every entry and every version heard.
func (ec *edgeCache) newEpoch() {
	ec.epoch.Add(1)
	ec.heardMu.Lock()
	clear(ec.heard)
	ec.heardMu.Unlock()
	ec.mu.Lock()
	ec.lru.Init()
	clear(ec.byKey)
	ec.bytes = 0
	ec.size.Set(0)
	ec.mu.Unlock()
}

// hear records an invalidation: answers stamped below its version are
// stale from now on. A message that names no version, or that cannot be
// read, makes every entry stale.
func (ec *edgeCache) hear(payload string) {
	key, ver, ok := cache.ParseStamp(payload)
	if !ok || ver < 0 {
		ec.newEpoch()
		return
	}
	ec.heardMu.Lock()
	if len(ec.heard) >= edgeMaxHeard {
		ec.heardMu.Unlock()
		ec.newEpoch()
		ec.heardMu.Lock()
	}
	prev := ec.heard[key]
	if ver > prev {
		ec.heard[key] = ver
	}
	seq := ec.seq.Add(1)
	ec.heardMu.Unlock()
	// Each flight in the air learns what was heard during it, so that a
	// request waiting on it can tell what had been heard when it arrived.
	ec.flightsMu.Lock()
	for _, f := range ec.flights {
		f.events = append(f.events, heardEvent{seq: seq, key: key, prev: prev})
	}
	ec.flightsMu.Unlock()
}

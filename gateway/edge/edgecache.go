package edge

import (
	"container/list"
	"context"
	"crypto/sha256"
	"errors"
	"log/slog"
	"net"
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

// Edge cache defaults.
const (
	DefaultEdgeCacheBytes = 64 << 20
	DefaultEdgeCacheTTL   = 10 * time.Second
	// edgeMaxEntry keeps one large answer from displacing hundreds of
	// small ones.
	edgeMaxEntry = 1 << 20
	// edgeMaxHeard bounds the versions remembered; past it they are all
	// forgotten along with every entry (a new epoch).
	edgeMaxHeard = 100_000
	// Subscriber timing, as pkg/cache's: a tick without a message sends a
	// ping, and a ping unanswered for a further tick means a dead
	// connection.
	edgeTick       = 3 * time.Second
	edgeRetryMin   = 100 * time.Millisecond
	edgeRetryMax   = 2 * time.Second
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
// (no longer than a revoked key keeps working at the services). A hit
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

	heardMu sync.RWMutex
	heard   map[string]int64 // "name:scope" -> latest version heard
	// epoch changes whenever versions may have been missed (a new
	// subscription); entries of an older epoch are never served.
	epoch atomic.Uint64
	live  atomic.Bool

	requests *prometheus.CounterVec
	size     prometheus.Gauge
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
}

func (e *edgeEntry) size() int64 { return int64(len(e.body) + len(e.key) + 256) }

func newEdgeCache(log *slog.Logger, limiter *ratelimit.Limiter, maxBytes int64, ttl time.Duration, reg prometheus.Registerer) *edgeCache {
	ec := &edgeCache{
		log: log, limiter: limiter, ttl: ttl, maxBytes: maxBytes, t0: time.Now(),
		lru: list.New(), byKey: map[string]*list.Element{}, heard: map[string]int64{},
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vcci_gateway_edge_cache_requests_total",
			Help: "GETs the gateway answered from its edge cache (hit), sent on to a service (miss), or sent on because the cache could not be trusted (bypass: its invalidation subscription is down).",
		}, []string{"result"}),
		size: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "vcci_gateway_edge_cache_bytes",
			Help: "Bytes of answers held by the gateway's edge cache.",
		}),
	}
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
	return e, ec.live.Load()
}

// current reports whether e may still be served.
func (ec *edgeCache) current(e *edgeEntry) bool {
	if ep, ok := ec.usable(); !ok || e.epoch != ep || ec.now() >= e.expires {
		return false
	}
	ec.heardMu.RLock()
	defer ec.heardMu.RUnlock()
	for _, s := range e.stamps {
		if v, ok := ec.heard[s.key]; ok && v > s.ver {
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

// put keeps an answer fetched while the cache was in epoch, if it is still
// current (no invalidation past its stamps arrived meanwhile).
func (ec *edgeCache) put(key string, epoch uint64, stamps []string, h http.Header, policy string, body []byte, sum uint64) {
	if len(body) > edgeMaxEntry || ec.maxBytes <= 0 {
		return
	}
	e := &edgeEntry{key: key, epoch: epoch, expires: ec.now() + int64(ec.ttl), sum: sum, policy: policy}
	for _, s := range stamps {
		k, ver, ok := cache.ParseStamp(s)
		if !ok || ver < 0 {
			return
		}
		e.stamps = append(e.stamps, edgeStamp{k, ver})
	}
	if len(e.stamps) == 0 || !ec.current(e) {
		return
	}
	for name, vs := range h {
		if len(vs) > 0 && (name == "Content-Type" || strings.HasPrefix(name, runtime.MetadataHeaderPrefix)) {
			e.header = append(e.header, [2]string{name, vs[0]})
		}
	}
	e.body = append([]byte(nil), body...) // the caller's buffer is pooled
	ec.mu.Lock()
	defer ec.mu.Unlock()
	if el, ok := ec.byKey[key]; ok {
		old := el.Value.(*edgeEntry)
		ec.bytes -= old.size()
		ec.lru.Remove(el)
	}
	ec.byKey[key] = ec.lru.PushFront(e)
	ec.bytes += e.size()
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
	ec.requests.WithLabelValues("hit").Inc()
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
	cw := &cacheWriter{ResponseWriter: w, policy: e.policy, gz: gz}
	cw.writeHeld(r, e.sum, e.body)
}

// watch keeps the cache subscribed to invalidations until ctx ends. The
// cache is usable only between a confirmed subscription and the next
// error; each new subscription starts a new epoch, since messages may have
// been missed without one.
func (ec *edgeCache) watch(ctx context.Context, rdb *redis.Client) {
	var mu sync.Mutex
	ps := rdb.Subscribe(ctx, cache.InvalidateChannel)
	stopped := make(chan struct{})
	defer close(stopped)
	defer func() {
		mu.Lock()
		ps.Close() // the latest one, if it was replaced after ctx ended
		mu.Unlock()
	}()
	go func() {
		// A pending receive ends only with its connection.
		select {
		case <-ctx.Done():
		case <-stopped:
		}
		mu.Lock()
		ps.Close()
		mu.Unlock()
	}()
	wait := edgeRetryMin
	pinged := false
	for {
		msg, err := ps.ReceiveTimeout(ctx, edgeTick)
		if ctx.Err() != nil {
			ec.live.Store(false)
			return
		}
		if err != nil {
			if ne, ok := errors.AsType[net.Error](err); ok && ne.Timeout() {
				if pinged {
					ec.lost("invalidation subscription unresponsive")
					mu.Lock()
					ps.Close()
					ps = rdb.Subscribe(ctx, cache.InvalidateChannel)
					mu.Unlock()
					pinged = false
					continue
				}
				pinged = ps.Ping(ctx) == nil
				continue
			}
			ec.lost(err.Error())
			select {
			case <-ctx.Done():
				return
			case <-time.After(wait):
			}
			wait = min(2*wait, edgeRetryMax)
			continue
		}
		wait, pinged = edgeRetryMin, false
		switch m := msg.(type) {
		case *redis.Subscription:
			if m.Kind == "subscribe" {
				ec.newEpoch()
				ec.live.Store(true)
			}
		case *redis.Message:
			ec.hear(m.Payload)
		}
	}
}

// lost stops the cache from being used until the next subscription.
func (ec *edgeCache) lost(why string) {
	if ec.live.Swap(false) {
		ec.log.Warn("edge cache: not answering until invalidations are heard again", "reason", why)
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
	if ver > ec.heard[key] {
		ec.heard[key] = ver
	}
	ec.heardMu.Unlock()
}

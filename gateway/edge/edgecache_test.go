package edge

import (
	"compress/gzip"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.opentelemetry.io/otel/trace/noop"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/vcci-dev/vcci/pkg/cache"
	intakev1 "github.com/vcci-dev/vcci/pkg/gen/vcci/intake/v1"
	"github.com/vcci-dev/vcci/pkg/grpcserver"
	"github.com/vcci-dev/vcci/pkg/ratelimit"
	"github.com/vcci-dev/vcci/pkg/testsupport"
)

// stampingIntake answers GetSupplier as the real intake does: from a
// pkg/cache in Redis, stamped with the version it read under. A "write" is
// the cache's Invalidate; calls counts what reached the service.
type stampingIntake struct {
	intakev1.UnimplementedIntakeServiceServer
	c     *cache.Cache[string]
	spend atomic.Int64
	calls atomic.Int64
	keys  atomic.Value // last x-api-key seen
	// gate, when set, holds every call until it is closed.
	gate chan struct{}
}

// GetUpload is an uncached read, as polling an upload's state is. It marks
// its answer unsure as grpcserver does.
func (*stampingIntake) GetUpload(ctx context.Context, r *intakev1.GetUploadRequest) (*intakev1.Upload, error) {
	if cache.Unpublished() {
		if err := grpc.SetHeader(ctx, metadata.Pairs(cache.UnsureHeader, "1")); err != nil {
			return nil, err
		}
	}
	return &intakev1.Upload{Name: r.GetName(), State: intakev1.UploadState_UPLOAD_STATE_SUCCEEDED}, nil
}

func (s *stampingIntake) GetSupplier(ctx context.Context, r *intakev1.GetSupplierRequest) (*intakev1.Supplier, error) {
	s.calls.Add(1)
	if s.gate != nil {
		<-s.gate
	}
	md, _ := metadata.FromIncomingContext(ctx)
	s.keys.Store(strings.Join(md.Get("x-api-key"), ","))
	if err := grpc.SetHeader(ctx, metadata.Pairs("x-ratelimit-limit", "5", "x-ratelimit-remaining", "4", "x-ratelimit-reset", "1")); err != nil {
		return nil, err
	}
	if r.GetName() == "suppliers/missing" {
		return nil, status.Error(codes.NotFound, "suppliers/missing not found")
	}
	if r.GetName() == "suppliers/uncached" {
		return &intakev1.Supplier{Name: r.GetName(), SpendUsd: "1"}, nil
	}
	ctx, stamps := cache.CollectStamps(ctx)
	v, err := s.c.Get(ctx, "tenant-a", r.GetName(), func(context.Context) (string, error) {
		return strings.Repeat("9", int(s.spend.Load())), nil
	})
	if err != nil {
		return nil, err
	}
	grpcserver.MarkCached(ctx, stamps)
	return &intakev1.Supplier{Name: r.GetName(), SpendUsd: v}, nil
}

type edgeEnv struct {
	url   string
	svc   *stampingIntake
	redis *testsupport.Redis
	gw    *Gateway
}

func setupEdge(t *testing.T, ttl time.Duration, burst int) *edgeEnv {
	t.Helper()
	rs := testsupport.StartRedis(t)
	rdb := rs.Client()
	svc := &stampingIntake{c: cache.New(cache.Options[string]{Name: "intake-reads", Redis: rdb})}
	t.Cleanup(svc.c.Close)
	svc.spend.Store(3)
	srv := grpc.NewServer()
	intakev1.RegisterIntakeServiceServer(srv, svc)
	addr := testsupport.Serve(t, srv)
	addrs := map[string]string{}
	for _, b := range Backends() {
		addrs[b] = addr
	}
	limits := ratelimit.Config{Read: ratelimit.Limit{Rate: burst, Period: time.Minute, Burst: burst},
		Write: ratelimit.Limit{Rate: 5, Period: time.Minute, Burst: 5}, Heavy: ratelimit.Limit{Rate: 5, Period: time.Minute, Burst: 5}}
	gw, err := New(context.Background(), Options{Log: slog.New(slog.DiscardHandler), TracerProvider: noop.NewTracerProvider(),
		Addrs: addrs, Redis: rdb, RateLimit: &limits, EdgeCacheTTL: ttl})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { gw.Close() })
	ts := httptest.NewServer(gw.Handler())
	t.Cleanup(ts.Close)
	e := &edgeEnv{url: ts.URL, svc: svc, redis: rs, gw: gw}
	e.waitLive(t)
	return e
}

// waitLive waits for the edge cache's subscription to be confirmed.
func (e *edgeEnv) waitLive(t *testing.T) {
	t.Helper()
	testsupport.WaitFor(t, "the edge cache to subscribe", 5*time.Second, e.gw.edge.live.Load)
}

func (e *edgeEnv) get(t *testing.T, path, key string, hdr ...string) (*http.Response, string) {
	t.Helper()
	h := append([]string{"x-api-key", key}, hdr...)
	resp, b := call(t, "GET", e.url+path, nil, h...)
	return resp, string(b)
}

// A write whose invalidation Redis did not hear, read back before the
// gateway's subscription noticed anything: the service's next answer says
// it is unsure, and from then on the edge answers nothing it kept, nor
// keeps anything, until that has stopped for unsureFor.
func TestEdgeCacheStopsWhileAServiceIsUnsure(t *testing.T) {
	e := setupEdge(t, time.Minute, 1000)
	const path = "/v1/suppliers/S1"
	e.get(t, path, "key-a")
	if _, b := e.get(t, path, "key-a"); e.svc.calls.Load() != 1 || !strings.Contains(b, `"spendUsd":"999"`) {
		t.Fatalf("before: calls %d, %s", e.svc.calls.Load(), b)
	}

	// Redis takes no writes for a while: the service's invalidation of its
	// write is not published, and the gateway's subscription hears nothing.
	if err := e.redis.Client().Do(context.Background(), "CLIENT", "PAUSE", "1500", "WRITE").Err(); err != nil {
		t.Fatal(err)
	}
	e.svc.spend.Store(5)
	e.svc.c.Invalidate(context.Background(), "tenant-a")
	if !cache.Unpublished() || !e.gw.edge.live.Load() {
		t.Fatalf("unpublished %v, edge subscription live %v: want both", cache.Unpublished(), e.gw.edge.live.Load())
	}
	resp, b := e.get(t, "/v1/uploads/7", "key-a")
	if resp.StatusCode != http.StatusOK || !strings.Contains(b, "SUCCEEDED") {
		t.Fatalf("upload: %d %s", resp.StatusCode, b)
	}
	for k := range resp.Header {
		if strings.Contains(strings.ToLower(k), "unsure") {
			t.Fatalf("the unsure mark left the gateway: %v", resp.Header)
		}
	}
	if _, b := e.get(t, path, "key-a"); !strings.Contains(b, `"spendUsd":"99999"`) || e.svc.calls.Load() != 2 || e.count("bypass") != 1 {
		t.Fatalf("read back while unsure: calls %d, bypasses %v, %s", e.svc.calls.Load(), e.count("bypass"), b)
	}

	// Redis takes writes again and hears the invalidation; the service
	// stops saying it is unsure, and after unsureFor the edge keeps and
	// answers again.
	testsupport.WaitFor(t, "the invalidation to be replayed", 10*time.Second, func() bool {
		e.get(t, "/v1/uploads/7", "key-a")
		return !cache.Unpublished()
	})
	time.Sleep(unsureFor + 100*time.Millisecond)
	calls := e.svc.calls.Load()
	e.get(t, path, "key-a")
	if _, b := e.get(t, path, "key-a"); e.svc.calls.Load() != calls+1 || !strings.Contains(b, `"spendUsd":"99999"`) {
		t.Fatalf("after: calls %d (from %d), %s; want one more call, then a hit", e.svc.calls.Load(), calls, b)
	}
}

func (e *edgeEnv) count(result string) float64 {
	return testutil.ToFloat64(e.gw.edge.requests.WithLabelValues(result))
}

func TestEdgeCacheAnswersRepeatsUntilTheServiceInvalidates(t *testing.T) {
	e := setupEdge(t, time.Minute, 1000)
	resp, first := e.get(t, "/v1/suppliers/S1", "key-a")
	if resp.StatusCode != http.StatusOK || !strings.Contains(first, `"spendUsd":"999"`) || e.svc.calls.Load() != 1 {
		t.Fatalf("first: %d %s (calls %d)", resp.StatusCode, first, e.svc.calls.Load())
	}
	if resp.Header.Get(stampHeader) != "" || resp.Header.Get("Grpc-Metadata-"+stampHeader) != "" {
		t.Fatalf("the stamp left the gateway: %v", resp.Header)
	}
	tag := resp.Header.Get("ETag")

	// The service's data changes, but it has not told anyone: the edge
	// answers the same bytes, headers and all, without calling it.
	e.svc.spend.Store(5)
	resp, again := e.get(t, "/v1/suppliers/S1", "key-a")
	if again != first || e.svc.calls.Load() != 1 || resp.Header.Get("ETag") != tag ||
		resp.Header.Get("Cache-Control") != cachePrivate || resp.Header.Get("Content-Type") != "application/json" ||
		resp.Header.Get("X-Ratelimit-Limit") != "1000" || resp.Header.Get("X-Ratelimit-Remaining") == "" || resp.Header.Get("X-Ratelimit-Remaining") == "4" {
		t.Fatalf("repeat: %s %v (calls %d)", again, resp.Header, e.svc.calls.Load())
	}
	if resp, _ := e.get(t, "/v1/suppliers/S1", "key-a", "If-None-Match", tag); resp.StatusCode != http.StatusNotModified || e.svc.calls.Load() != 1 {
		t.Fatalf("If-None-Match from the edge: %d", resp.StatusCode)
	}
	if e.count("hit") != 2 || e.count("miss") != 1 {
		t.Fatalf("hits %v misses %v", e.count("hit"), e.count("miss"))
	}

	// Another credential is never answered from key-a's entry.
	if _, b := e.get(t, "/v1/suppliers/S1", "key-b"); !strings.Contains(b, `"spendUsd":"999"`) || e.svc.calls.Load() != 2 || e.svc.keys.Load() != "key-b" {
		t.Fatalf("key-b: %s (calls %d, key %v)", b, e.svc.calls.Load(), e.svc.keys.Load())
	}

	// The write is announced: the next read reaches the service.
	e.svc.c.Invalidate(context.Background(), "tenant-a")
	testsupport.WaitFor(t, "the invalidation to reach the edge", 5*time.Second, func() bool {
		_, b := e.get(t, "/v1/suppliers/S1", "key-c") // its own budget
		return strings.Contains(b, `"spendUsd":"99999"`)
	})
	calls := e.svc.calls.Load()
	if _, b := e.get(t, "/v1/suppliers/S1", "key-c"); !strings.Contains(b, `"spendUsd":"99999"`) || e.svc.calls.Load() != calls {
		t.Fatalf("after refill: %s, calls %d then %d", b, calls, e.svc.calls.Load())
	}
}

func TestEdgeCacheKeepsOnlyStampedSuccesses(t *testing.T) {
	e := setupEdge(t, time.Minute, 1000)
	for range 2 {
		e.get(t, "/v1/suppliers/uncached", "key-a") // no stamp: not the service's cache
		if resp, _ := e.get(t, "/v1/suppliers/missing", "key-a"); resp.StatusCode != http.StatusNotFound {
			t.Fatalf("missing: %d", resp.StatusCode)
		}
	}
	if e.svc.calls.Load() != 4 {
		t.Fatalf("calls = %d, want 4: unstamped answers must not be kept", e.svc.calls.Load())
	}
	// No credential, no caching: the service decides what it says to those.
	call(t, "GET", e.url+"/v1/suppliers/S1", nil)
	call(t, "GET", e.url+"/v1/suppliers/S1", nil)
	if e.svc.calls.Load() != 6 {
		t.Fatalf("calls = %d, want 6", e.svc.calls.Load())
	}
}

func TestEdgeCacheChargesHitsToTheReadBudget(t *testing.T) {
	e := setupEdge(t, time.Minute, 5)
	e.get(t, "/v1/suppliers/S1", "key-a") // the service's own (fake) decision
	var last *http.Response
	var body string
	for range 6 { // a burst of 5 from the edge's limiter, then a refusal
		last, body = e.get(t, "/v1/suppliers/S1", "key-a")
	}
	if last.StatusCode != http.StatusTooManyRequests || last.Header.Get("Retry-After") == "" ||
		last.Header.Get("X-Ratelimit-Remaining") != "0" || last.Header.Get("Cache-Control") != cacheNone ||
		!strings.Contains(body, "rate limit exceeded for read requests") || e.svc.calls.Load() != 1 {
		t.Fatalf("sixth hit: %d %v %s (calls %d)", last.StatusCode, last.Header, body, e.svc.calls.Load())
	}
}

func TestEdgeCacheEntriesExpire(t *testing.T) {
	e := setupEdge(t, 50*time.Millisecond, 1000)
	e.get(t, "/v1/suppliers/S1", "key-a")
	e.get(t, "/v1/suppliers/S1", "key-a")
	if e.svc.calls.Load() != 1 {
		t.Fatalf("calls = %d before the TTL", e.svc.calls.Load())
	}
	time.Sleep(80 * time.Millisecond)
	e.get(t, "/v1/suppliers/S1", "key-a")
	if e.svc.calls.Load() != 2 {
		t.Fatalf("calls = %d after the TTL", e.svc.calls.Load())
	}
}

func TestEdgeCacheStepsAsideWhileRedisIsDown(t *testing.T) {
	e := setupEdge(t, time.Minute, 1000)
	e.get(t, "/v1/suppliers/S1", "key-a")
	e.redis.Stop()
	// Invalidations could now be missed: nothing is answered from the edge,
	// and every read still succeeds (the limiter decides locally).
	testsupport.WaitFor(t, "the edge cache to notice Redis stopping", 5*time.Second, func() bool { return !e.gw.edge.live.Load() })
	e.svc.spend.Store(4)
	for i := range 3 {
		resp, b := e.get(t, "/v1/suppliers/S1", "key-a")
		if resp.StatusCode != http.StatusOK || e.svc.calls.Load() != int64(2+i) {
			t.Fatalf("read %d with Redis down: %d %s (calls %d)", i, resp.StatusCode, b, e.svc.calls.Load())
		}
	}
	if e.count("bypass") != 3 {
		t.Fatalf("bypass = %v", e.count("bypass"))
	}
}

func TestHearIgnoresOlderVersionsAndDropsAllOnGarbage(t *testing.T) {
	ec := newEdgeCache(slog.New(slog.DiscardHandler), nil, 1<<20, time.Minute, nil)
	ec.live.Store(true)
	ec.newEpoch()
	epoch, _ := ec.usable()
	h := http.Header{"Content-Type": {"application/json"}}
	ec.put("k", epoch, []string{"intake-reads:t1:10", "summaries:t1:4"}, h, cachePrivate, []byte("{}"), 1)
	if ec.get("k") == nil {
		t.Fatal("fresh entry not served")
	}
	ec.hear("intake-reads:t1:10") // the version it was read under
	ec.hear("intake-reads:t2:99") // another scope
	ec.hear("summaries:t1:3")     // an older one, arriving late
	if ec.get("k") == nil {
		t.Fatal("entry dropped by versions at or below its own")
	}
	ec.hear("summaries:t1:5")
	if ec.get("k") != nil {
		t.Fatal("entry served after a later version of one of its stamps")
	}
	// An entry read under a version already superseded is not even kept.
	ec.put("k2", epoch, []string{"summaries:t1:4"}, h, cachePrivate, []byte("{}"), 1)
	if ec.get("k2") != nil {
		t.Fatal("stale answer kept")
	}
	ec.put("k3", epoch, []string{"summaries:t1:5"}, h, cachePrivate, []byte("{}"), 1)
	ec.hear("not a stamp")
	if ec.get("k3") != nil {
		t.Fatal("entry kept after an unreadable invalidation")
	}
	// An answer fetched before a new subscription belongs to the old one.
	ec.put("k4", epoch, []string{"summaries:t1:5"}, h, cachePrivate, []byte("{}"), 1)
	if ec.get("k4") != nil {
		t.Fatal("entry of an old epoch kept")
	}
}

// An entry keeps its gzip encoding: a hit is sent it without compressing
// again, and the cache counts its bytes.
func TestEdgeCacheKeepsTheGzipOfAnEntry(t *testing.T) {
	e := setupEdge(t, time.Minute, 1000)
	e.svc.spend.Store(1500) // a body over gzipMinSize, under gzMemoMin
	const path = "/v1/suppliers/S1"
	_, plain := e.get(t, path, "key-a")
	resp, gz := e.get(t, path, "key-a", "Accept-Encoding", "gzip")
	if resp.Header.Get("Content-Encoding") != "gzip" || e.count("hit") != 1 {
		t.Fatalf("Content-Encoding %q, hits %v", resp.Header.Get("Content-Encoding"), e.count("hit"))
	}
	zr, err := gzip.NewReader(strings.NewReader(gz))
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := io.ReadAll(zr); string(got) != plain {
		t.Fatal("the gzip answer is not the plain one compressed")
	}
	ec := e.gw.edge
	u, _ := url.Parse(path)
	entry := ec.get(edgeKey("key-a", u))
	if entry == nil || entry.gz == nil || string(entry.gz) != gz {
		t.Fatal("the entry does not hold the encoding it was sent in")
	}
	ec.mu.Lock()
	bytes, want := ec.bytes, entry.size()
	ec.mu.Unlock()
	if bytes != want || want != int64(len(plain)+len(entry.key)+256+len(gz)) {
		t.Fatalf("cache bytes %d, want the entry's body, key, overhead and gzip: %d", bytes, want)
	}

	// The next hit is sent what the entry holds, not a fresh compression
	// (a held encoding of other bytes shows which).
	other := []byte("not the gzip of the body")
	ec.mu.Lock()
	entry.gz = other
	ec.mu.Unlock()
	if _, again := e.get(t, path, "key-a", "Accept-Encoding", "gzip"); again != string(other) || e.svc.calls.Load() != 1 {
		t.Fatalf("second gzip hit: %q (calls %d), want the held encoding", again, e.svc.calls.Load())
	}
}

// The requests that waited on one flight are sent its entry at once: they
// share one compression of it.
func TestEdgeEntryIsCompressedOnce(t *testing.T) {
	ec := newEdgeCache(slog.New(slog.DiscardHandler), nil, 1<<20, time.Minute, nil)
	ec.live.Store(true)
	epoch, _ := ec.usable()
	body := []byte(strings.Repeat(`{"supplier":"S1","kgCo2e":"12.5"},`, 200))
	e := ec.put("k", epoch, []string{"n:s:1"}, http.Header{}, cachePrivate, body, 1)
	g := newGzMemo()
	const n = 32
	got := make([][]byte, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			got[i] = ec.gzipped(e, g)
		})
	}
	close(start)
	wg.Wait()
	for i := range n {
		if &got[i][0] != &got[0][0] {
			t.Fatalf("request %d was sent a compression of its own", i)
		}
	}
	if ec.bytes != e.size() || e.size() != int64(len(body)+len("k")+256+len(got[0])) {
		t.Fatalf("cache bytes %d, entry size %d: the encoding counted more or less than once", ec.bytes, e.size())
	}
}

func TestEdgeCacheEvictsBySize(t *testing.T) {
	ec := newEdgeCache(slog.New(slog.DiscardHandler), nil, 3*(1000+256+20), time.Minute, nil)
	ec.live.Store(true)
	epoch, _ := ec.usable()
	body := make([]byte, 1000)
	for _, k := range []string{"a-key-of-19-bytes-1", "a-key-of-19-bytes-2", "a-key-of-19-bytes-3"} {
		ec.put(k, epoch, []string{"n:s:1"}, http.Header{}, cachePrivate, body, 1)
	}
	ec.get("a-key-of-19-bytes-1") // now the most recently used
	ec.put("a-key-of-19-bytes-4", epoch, []string{"n:s:1"}, http.Header{}, cachePrivate, body, 1)
	if ec.get("a-key-of-19-bytes-2") != nil || ec.get("a-key-of-19-bytes-1") == nil || ec.get("a-key-of-19-bytes-4") == nil {
		t.Fatal("evicted the wrong entry")
	}
	if ec.bytes != 3*(1000+19+256) {
		t.Fatalf("bytes = %d", ec.bytes)
	}
	ec.put("huge", epoch, []string{"n:s:1"}, http.Header{}, cachePrivate, make([]byte, edgeMaxEntry+1), 1)
	if ec.get("huge") != nil {
		t.Fatal("an answer over edgeMaxEntry was kept")
	}
}

func TestEdgeCacheCollapsesConcurrentMisses(t *testing.T) {
	e := setupEdge(t, time.Minute, 1000)
	e.svc.gate = make(chan struct{})
	const n = 20
	bodies := make(chan string, n)
	for range n {
		go func() {
			resp, b := call(t, "GET", e.url+"/v1/suppliers/S1", nil, "x-api-key", "key-a")
			if resp.StatusCode != http.StatusOK {
				b = []byte(resp.Status)
			}
			bodies <- string(b)
		}()
	}
	// Every request is in: one at the service, the others waiting on it.
	for deadline := time.Now().Add(5 * time.Second); e.svc.calls.Load() < 1 || flights(e.gw.edge) != 1; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("calls %d, flights %d", e.svc.calls.Load(), flights(e.gw.edge))
		}
	}
	time.Sleep(50 * time.Millisecond) // let the rest arrive and queue
	close(e.svc.gate)
	for range n {
		if b := <-bodies; !strings.Contains(b, `"spendUsd":"999"`) {
			t.Fatalf("a collapsed request got %s", b)
		}
	}
	if e.svc.calls.Load() != 1 || e.count("miss") != 1 || e.count("hit") != n-1 || flights(e.gw.edge) != 0 {
		t.Fatalf("calls %d, misses %v, hits %v, flights left %d", e.svc.calls.Load(), e.count("miss"), e.count("hit"), flights(e.gw.edge))
	}

	// A leader whose answer cannot be kept (an error) sends its followers
	// to the service themselves.
	e.svc.gate = make(chan struct{})
	for range 3 {
		go func() {
			resp, _ := call(t, "GET", e.url+"/v1/suppliers/missing", nil, "x-api-key", "key-a")
			bodies <- resp.Status
		}()
	}
	time.Sleep(50 * time.Millisecond)
	close(e.svc.gate)
	for range 3 {
		if b := <-bodies; b != "404 Not Found" {
			t.Fatalf("follower of a failed leader: %s", b)
		}
	}
	if e.svc.calls.Load() != 4 {
		t.Fatalf("calls = %d, want 1 + 3", e.svc.calls.Load())
	}
}

func flights(ec *edgeCache) int {
	ec.flightsMu.Lock()
	defer ec.flightsMu.Unlock()
	return len(ec.flights)
}

func TestWaitersGetTheLeadersAnswerOnlyIfCurrentWhenTheyArrived(t *testing.T) {
	ec := newEdgeCache(slog.New(slog.DiscardHandler), nil, 1<<20, time.Minute, nil)
	ec.live.Store(true)
	epoch, _ := ec.usable()
	ec.hear("intake-reads:t1:7")

	f, leader, _ := ec.lead("k")
	if !leader {
		t.Fatal("first request does not lead")
	}
	_, leader, early := ec.lead("k") // arrives while version 7 is current
	if leader {
		t.Fatal("second request leads too")
	}
	ec.hear("intake-reads:t1:8") // a write is announced mid-flight
	_, _, late := ec.lead("k")   // arrives knowing of it
	// The service answered from version 7, before the write.
	e := ec.put("k", epoch, []string{"intake-reads:t1:7"}, http.Header{}, cachePrivate, []byte("{}"), 1)
	if e == nil || ec.get("k") != nil {
		t.Fatal("a superseded answer must be returned for waiters but not kept")
	}
	ec.land("k", f, e)
	if ec.await(context.Background(), f, early) != e {
		t.Fatal("a request that overlapped the write was refused the leader's answer")
	}
	if ec.await(context.Background(), f, late) != nil {
		t.Fatal("a request that arrived after the write was given the answer from before it")
	}
	if _, leader, _ := ec.lead("k"); !leader {
		t.Fatal("a landed flight still leads")
	}
}

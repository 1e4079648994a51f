package loadgen_test

import (
	"context"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vcci-dev/vcci/cmd/vcci/internal/loadgen"
)

func get(url string) func(context.Context, int, uint64, *rand.Rand) (*http.Request, error) {
	return func(ctx context.Context, _ int, _ uint64, _ *rand.Rand) (*http.Request, error) {
		return http.NewRequestWithContext(ctx, http.MethodGet, url, http.NoBody)
	}
}

func client(vus int) *http.Client {
	return &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: vus}}
}

func TestRunRespectsWeights(t *testing.T) {
	var hits [4]atomic.Int64
	mux := http.NewServeMux()
	for i, p := range []string{"/a", "/b", "/c", "/d"} {
		mux.HandleFunc(p, func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("x-api-key") != "k" {
				http.Error(w, "no key", http.StatusUnauthorized)
				return
			}
			hits[i].Add(1)
		})
	}
	srv := httptest.NewServer(mux)
	defer srv.Close()

	weights := []int{10, 5, 3, 2}
	ops := make([]loadgen.Op, 4)
	for i, p := range []string{"/a", "/b", "/c", "/d"} {
		ops[i] = loadgen.Op{Name: p, Weight: weights[i], New: get(srv.URL + p)}
	}
	const vus = 32
	res, err := loadgen.Run(context.Background(), loadgen.Config{
		Client: client(vus), VUs: vus, Duration: time.Second, Ops: ops, Seed: 7,
		Header: http.Header{"X-Api-Key": {"k"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Total.Requests < 100 {
		t.Fatalf("only %d requests in 1s; the shares below would be noise", res.Total.Requests)
	}
	if res.Total.Errors != 0 {
		t.Fatalf("errors = %d (%v), want 0", res.Total.Errors, res.Total.Examples)
	}
	sum := 0
	for i, o := range res.Ops {
		sum += o.Requests
		share := float64(o.Requests) / float64(res.Total.Requests)
		want := float64(weights[i]) / 20
		// Five standard deviations of a binomial share: about ±0.02 at
		// 15,000 requests (no race detector), ±0.07 at 1,000.
		tol := 5 * math.Sqrt(want*(1-want)/float64(res.Total.Requests))
		if math.Abs(share-want) > tol {
			t.Errorf("%s: share %.3f of %d, want %.3f ± %.3f", o.Name, share, res.Total.Requests, want, tol)
		}
		if len(o.Latencies) != o.Requests {
			t.Errorf("%s: %d latencies for %d successful requests", o.Name, len(o.Latencies), o.Requests)
		}
		// The server saw every counted request, plus at most one cut off per VU.
		if got := int(hits[i].Load()); got < o.Requests || got > o.Requests+vus {
			t.Errorf("%s: server saw %d, client counted %d", o.Name, got, o.Requests)
		}
	}
	if sum != res.Total.Requests || len(res.Total.Latencies) != sum {
		t.Errorf("total %d requests / %d latencies, ops sum to %d", res.Total.Requests, len(res.Total.Latencies), sum)
	}
	if r := res.Total.RPS; r < float64(res.Total.Requests)/1.03 || r > float64(res.Total.Requests)/0.97 {
		t.Errorf("rps %.0f for %d requests in %s", r, res.Total.Requests, res.Elapsed)
	}
}

func TestRunCountsErrors(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/ok", func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("fine")) })
	mux.HandleFunc("/fail", func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, `{"code":13,"message":"boom"}`, http.StatusInternalServerError)
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	// A port nothing listens on: every request is a transport error.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + l.Addr().String() + "/x"
	l.Close()

	res, err := loadgen.Run(context.Background(), loadgen.Config{
		Client: client(8), VUs: 8, Duration: 150 * time.Millisecond, Seed: 1,
		Ops: []loadgen.Op{
			{Name: "ok", Weight: 2, New: get(srv.URL + "/ok")},
			{Name: "fail", Weight: 1, New: get(srv.URL + "/fail")},
			{Name: "refused", Weight: 1, New: get(closed)},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	ok, fail, refused := res.Ops[0], res.Ops[1], res.Ops[2]
	if ok.Requests == 0 || ok.Errors != 0 || len(ok.Examples) != 0 {
		t.Errorf("ok: %d requests, %d errors %v; want some, none", ok.Requests, ok.Errors, ok.Examples)
	}
	if fail.Requests == 0 || fail.Errors != fail.Requests || fail.ErrorRate() != 1 || len(fail.Latencies) != 0 {
		t.Errorf("fail: %d requests, %d errors, rate %v, %d latencies; want all errors, no latencies", fail.Requests, fail.Errors, fail.ErrorRate(), len(fail.Latencies))
	}
	if want := `GET /fail: 500 Internal Server Error: {"code":13,"message":"boom"}`; len(fail.Examples) != 1 || fail.Examples[0] != want {
		t.Errorf("fail examples = %q, want [%q]", fail.Examples, want)
	}
	if refused.Requests == 0 || refused.Errors != refused.Requests || len(refused.Examples) == 0 || !strings.Contains(refused.Examples[0], "refused") {
		t.Errorf("refused: %d requests, %d errors, %q", refused.Requests, refused.Errors, refused.Examples)
	}
	if got, want := res.Total.Errors, fail.Errors+refused.Errors; got != want {
		t.Errorf("total errors %d, want %d", got, want)
	}
	wantRate := float64(fail.Errors+refused.Errors) / float64(res.Total.Requests)
	if res.Total.ErrorRate() != wantRate {
		t.Errorf("total error rate %v, want %v", res.Total.ErrorRate(), wantRate)
	}
}

func TestRunMeasuresLatency(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		time.Sleep(20 * time.Millisecond)
	}))
	defer srv.Close()
	res, err := loadgen.Run(context.Background(), loadgen.Config{
		Client: client(4), VUs: 4, Duration: 150 * time.Millisecond,
		Ops: []loadgen.Op{{Name: "slow", Weight: 1, New: get(srv.URL)}},
	})
	if err != nil {
		t.Fatal(err)
	}
	o := res.Ops[0]
	// 4 users, 20ms each, closed loop: about 28 requests in 150ms, never more.
	if o.Requests < 8 || o.Requests > 28 {
		t.Errorf("%d requests; want 8..28 for 4 users at 20ms for 150ms", o.Requests)
	}
	if o.Latencies[0] < 20*time.Millisecond {
		t.Errorf("fastest %s, want >= 20ms", o.Latencies[0])
	}
	if o.Percentile(50) < 20*time.Millisecond || o.Percentile(50) > o.Percentile(99) {
		t.Errorf("p50 %s p99 %s", o.Percentile(50), o.Percentile(99))
	}
}

func TestRunPassesVUAndSequence(t *testing.T) {
	var seen sync.Map
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, dup := seen.LoadOrStore(r.URL.RawQuery, true); dup {
			http.Error(w, "duplicate "+r.URL.RawQuery, http.StatusConflict)
		}
	}))
	defer srv.Close()
	res, err := loadgen.Run(context.Background(), loadgen.Config{
		Client: client(8), VUs: 8, Duration: 100 * time.Millisecond,
		Ops: []loadgen.Op{{Name: "unique", Weight: 1, New: func(ctx context.Context, vu int, seq uint64, _ *rand.Rand) (*http.Request, error) {
			return http.NewRequestWithContext(ctx, http.MethodPost, srv.URL+"?id="+strconv.Itoa(vu)+"-"+strconv.FormatUint(seq, 10), http.NoBody)
		}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Total.Requests == 0 || res.Total.Errors != 0 {
		t.Errorf("%d requests, %d errors %v; want ids unique per (vu, seq)", res.Total.Requests, res.Total.Errors, res.Total.Examples)
	}
}

func TestRunRejectsBadConfig(t *testing.T) {
	ok := loadgen.Op{Name: "x", Weight: 1, New: get("http://127.0.0.1:1/")}
	for _, tc := range []struct {
		name string
		cfg  loadgen.Config
	}{
		{"no vus", loadgen.Config{Duration: time.Second, Ops: []loadgen.Op{ok}}},
		{"no duration", loadgen.Config{VUs: 1, Ops: []loadgen.Op{ok}}},
		{"no ops", loadgen.Config{VUs: 1, Duration: time.Second}},
		{"zero weights", loadgen.Config{VUs: 1, Duration: time.Second, Ops: []loadgen.Op{{Name: "x", New: ok.New}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := loadgen.Run(context.Background(), tc.cfg); err == nil {
				t.Fatal("no error")
			}
		})
	}
}

func TestPercentile(t *testing.T) {
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	hundred := make([]time.Duration, 100)
	for i := range hundred {
		hundred[i] = ms(i + 1)
	}
	for _, tc := range []struct {
		name   string
		sorted []time.Duration
		p      float64
		want   time.Duration
	}{
		{"empty", nil, 50, 0},
		{"one", []time.Duration{ms(7)}, 99, ms(7)},
		{"p50 of 1..100", hundred, 50, ms(50)},
		{"p95 of 1..100", hundred, 95, ms(95)},
		{"p99 of 1..100", hundred, 99, ms(99)},
		{"p100 of 1..100", hundred, 100, ms(100)},
		{"p99.9 of 1..100", hundred, 99.9, ms(100)},
		{"p50 of 4", []time.Duration{ms(1), ms(2), ms(3), ms(4)}, 50, ms(2)},
		{"p95 of 4", []time.Duration{ms(1), ms(2), ms(3), ms(4)}, 95, ms(4)},
		{"p1 of 1..100", hundred, 1, ms(1)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := loadgen.Percentile(tc.sorted, tc.p); got != tc.want {
				t.Errorf("Percentile(p%v) = %s, want %s", tc.p, got, tc.want)
			}
		})
	}
}

func TestMixOpBoundaries(t *testing.T) {
	m, err := loadgen.NewMix([]int{10, 5, 3, 2})
	if err != nil {
		t.Fatal(err)
	}
	want := []int{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 2, 2, 2, 3, 3}
	for r, w := range want {
		if got := m.Op(r); got != w {
			t.Errorf("Op(%d) = %d, want %d", r, got, w)
		}
	}
	// A zero weight is never chosen.
	z, err := loadgen.NewMix([]int{0, 3, 0, 1})
	if err != nil {
		t.Fatal(err)
	}
	for r, w := range []int{1, 1, 1, 3} {
		if got := z.Op(r); got != w {
			t.Errorf("zero weights: Op(%d) = %d, want %d", r, got, w)
		}
	}
	for _, bad := range [][]int{{0, 0}, {1, -1}, nil} {
		if _, err := loadgen.NewMix(bad); err == nil {
			t.Errorf("NewMix(%v): no error", bad)
		}
	}
}

func TestMixPickShares(t *testing.T) {
	m, _ := loadgen.NewMix([]int{10, 5, 3, 2})
	rng := rand.New(rand.NewPCG(1, 2))
	const n = 200_000
	var got [4]int
	for range n {
		got[m.Pick(rng)]++
	}
	for i, want := range []float64{0.50, 0.25, 0.15, 0.10} {
		// Five standard deviations of a binomial share at 200,000 draws
		// are at most 0.0056.
		if share := float64(got[i]) / n; math.Abs(share-want) > 0.0056 {
			t.Errorf("op %d: share %.4f, want %.2f", i, share, want)
		}
	}
}

func TestThinkPause(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	think := loadgen.Think{Min: time.Second, Max: 3 * time.Second}
	const n = 100_000
	var sum time.Duration
	var below, above int // under 1.5 s, over 2.5 s: a quarter each
	for range n {
		p := think.Pause(rng)
		if p < time.Second || p > 3*time.Second {
			t.Fatalf("pause %s outside 1s..3s", p)
		}
		sum += p
		if p < 1500*time.Millisecond {
			below++
		}
		if p > 2500*time.Millisecond {
			above++
		}
	}
	if mean := sum / n; mean < 1990*time.Millisecond || mean > 2010*time.Millisecond {
		t.Errorf("mean pause %s, want 2s ± 10ms", mean)
	}
	for name, k := range map[string]int{"below 1.5s": below, "above 2.5s": above} {
		if share := float64(k) / n; math.Abs(share-0.25) > 0.007 {
			t.Errorf("%s: share %.4f, want 0.25", name, share)
		}
	}
	if p := (loadgen.Think{Min: 250 * time.Millisecond, Max: 250 * time.Millisecond}).Pause(rng); p != 250*time.Millisecond {
		t.Errorf("fixed pause = %s, want 250ms", p)
	}
	if p := (loadgen.Think{}).Pause(rng); p != 0 {
		t.Errorf("closed loop pause = %s, want 0", p)
	}
}

func TestTimeline(t *testing.T) {
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	var samples []loadgen.Sample
	// Second 0: 20 requests of 1..20 ms, one failed (its latency, 500 ms,
	// is left out of the p95). Second 1: none. Second 2: 3 of 40 ms.
	// The run ends at 2.5 s; a sample at exactly the end falls in the last.
	for i := 1; i <= 20; i++ {
		samples = append(samples, loadgen.Sample{End: ms(40 * i), Latency: ms(i)})
	}
	samples = append(samples, loadgen.Sample{End: ms(999), Latency: ms(500), Failed: true})
	for range 3 {
		samples = append(samples, loadgen.Sample{End: ms(2100), Latency: ms(40)})
	}
	samples = append(samples, loadgen.Sample{End: ms(2500), Latency: ms(7), Failed: true})
	got := loadgen.Timeline(samples, ms(2500))
	want := []loadgen.Second{
		{Requests: 21, Errors: 1, P95: ms(19)},
		{},
		{Requests: 4, Errors: 1, P95: ms(40)},
	}
	if !slices.Equal(got, want) {
		t.Fatalf("Timeline = %+v, want %+v", got, want)
	}
	if got := loadgen.Timeline(nil, 0); got != nil {
		t.Fatalf("empty run: %+v", got)
	}
	// Second 1 completed nothing; second 2's p95, 40 ms, is over 30 ms.
	if s := loadgen.Stalls(got, ms(30)); !slices.Equal(s, []int{1, 2}) {
		t.Errorf("Stalls(30ms) = %v, want [1 2]", s)
	}
	if s := loadgen.Stalls(got, ms(40)); !slices.Equal(s, []int{1}) {
		t.Errorf("Stalls(40ms) = %v, want [1]", s)
	}
	// A second of failures only has no p95, and is a stall too.
	failed := append(slices.Clone(got), loadgen.Second{Requests: 9, Errors: 9})
	if s := loadgen.Stalls(failed, ms(40)); !slices.Equal(s, []int{1, 3}) {
		t.Errorf("with a failed second: Stalls = %v, want [1 3]", s)
	}
}

func TestMerge(t *testing.T) {
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	a := loadgen.OpResult{Name: "a", Requests: 3, Errors: 1, Latencies: []time.Duration{ms(1), ms(5)}, RPS: 1.5, Examples: []string{"boom"}}
	b := loadgen.OpResult{Name: "b", Requests: 2, Latencies: []time.Duration{ms(2), ms(3)}, RPS: 1}
	m := loadgen.Merge("reads", a, b)
	if m.Name != "reads" || m.Requests != 5 || m.Errors != 1 || m.RPS != 2.5 ||
		!slices.Equal(m.Latencies, []time.Duration{ms(1), ms(2), ms(3), ms(5)}) || !slices.Equal(m.Examples, []string{"a: boom"}) {
		t.Fatalf("Merge = %+v", m)
	}
	if p := m.Percentile(50); p != ms(2) {
		t.Errorf("p50 = %s, want 2ms", p)
	}
}

// With a think time each user sends a request, waits, and sends the next:
// 4 users, instant answers, 100 ms pauses, for 450 ms make at most 5
// requests each (at 0, 100, 200, 300 and 400 ms; a loaded machine under
// -race may start the fifth after 450 ms), and Done sees every body.
func TestRunPausesBetweenRequests(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("upload " + r.URL.Query().Get("id")))
	}))
	defer srv.Close()
	var mu sync.Mutex
	bodies := map[string]bool{}
	res, err := loadgen.Run(context.Background(), loadgen.Config{
		Client: client(4), VUs: 4, Duration: 450 * time.Millisecond,
		Think: loadgen.Think{Min: 100 * time.Millisecond, Max: 100 * time.Millisecond},
		Ops: []loadgen.Op{{Name: "post", Weight: 1,
			New: func(ctx context.Context, vu int, seq uint64, _ *rand.Rand) (*http.Request, error) {
				return http.NewRequestWithContext(ctx, http.MethodPost, srv.URL+"?id="+strconv.Itoa(vu)+"-"+strconv.FormatUint(seq, 10), http.NoBody)
			},
			Done: func(_ int, _ uint64, _ time.Time, body []byte) {
				mu.Lock()
				defer mu.Unlock()
				bodies[string(body)] = true
			}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	n := res.Total.Requests
	if n < 16 || n > 20 || res.Total.Errors != 0 {
		t.Fatalf("%d requests, %d errors; want 16 to 20 (4 or 5 a user), 0", n, res.Total.Errors)
	}
	if len(bodies) != n {
		t.Fatalf("Done saw %d distinct bodies of %d requests: %v", len(bodies), n, bodies)
	}
	for vu := range 4 { // each user's fourth request, and no sixth
		if id := strconv.Itoa(vu); !bodies["upload "+id+"-3"] || bodies["upload "+id+"-5"] {
			t.Fatalf("user %d's requests: %v", vu, bodies)
		}
	}
	if len(res.Timeline) != 1 || res.Timeline[0].Requests != n {
		t.Fatalf("timeline %+v", res.Timeline)
	}
}

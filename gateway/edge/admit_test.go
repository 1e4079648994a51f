package edge

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
)

// waitFor polls cond until it holds or a few seconds pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestAdmissionServesInArrivalOrderWithinItsBound(t *testing.T) {
	a := newAdmission(2, time.Minute, prometheus.NewRegistry())
	var (
		mu      sync.Mutex
		order   []string
		running int
		most    int
	)
	release := make(chan struct{})
	h := a.admit(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		order = append(order, r.URL.Query().Get("n"))
		running++
		most = max(most, running)
		mu.Unlock()
		<-release
		mu.Lock()
		running--
		mu.Unlock()
	}))
	var wg sync.WaitGroup
	send := func(n string) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/v1/suppliers?n="+n, nil))
			if rec.Code != http.StatusOK {
				t.Errorf("request %s: status %d", n, rec.Code)
			}
		}()
	}
	// Two take the slots; the next four queue, one after the other.
	send("a")
	send("b")
	waitFor(t, "two requests in flight", func() bool { return testutil.ToFloat64(a.inFlight) == 2 })
	for i, n := range []string{"c", "d", "e", "f"} {
		send(n)
		waitFor(t, n+" to queue", func() bool { return testutil.ToFloat64(a.queued) == float64(i+1) })
	}
	// Each release lets exactly the next in line in.
	started := func() int { mu.Lock(); defer mu.Unlock(); return len(order) }
	for i := range 6 {
		release <- struct{}{}
		if i < 4 {
			waitFor(t, "the next in line to start", func() bool { return started() == 3+i })
		}
	}
	wg.Wait()
	if most != 2 {
		t.Errorf("at most %d requests ran at once, want 2", most)
	}
	if got := order[2:]; got[0] != "c" || got[1] != "d" || got[2] != "e" || got[3] != "f" {
		t.Errorf("queued requests ran in order %v, want [c d e f]", got)
	}
	if q, f := testutil.ToFloat64(a.queued), testutil.ToFloat64(a.inFlight); q != 0 || f != 0 {
		t.Errorf("after all: %v queued, %v in flight; want 0 and 0", q, f)
	}
	var m dto.Metric
	if err := a.waited.(prometheus.Metric).Write(&m); err != nil {
		t.Fatal(err)
	}
	if n := m.GetHistogram().GetSampleCount(); n != 6 {
		t.Errorf("wait histogram counted %d requests, want 6", n)
	}
}

func TestAdmissionShedsWhatWaitsTooLong(t *testing.T) {
	a := newAdmission(1, 50*time.Millisecond, prometheus.NewRegistry())
	hold := make(chan struct{})
	entered := make(chan struct{})
	h := a.admit(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthz" {
			w.Write([]byte("ok\n"))
			return
		}
		close(entered)
		<-hold
	}))
	done := make(chan struct{})
	go func() {
		defer close(done)
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/v1/suppliers", nil))
	}()
	<-entered

	// Probes never wait for a turn.
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/healthz", nil))
	if rec.Code != http.StatusOK || rec.Body.String() != "ok\n" {
		t.Errorf("/healthz while the only slot is busy: %d %q", rec.Code, rec.Body)
	}

	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/v1/transactions", nil))
	if rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("status %d, want 503", rec.Code)
	}
	if got := rec.Header().Get("Retry-After"); got != "1" {
		t.Errorf("Retry-After %q, want 1", got)
	}
	var body struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatalf("body %q: %v", rec.Body, err)
	}
	if body.Code != 14 || body.Message != "the gateway is at capacity: every request slot stayed busy for 50ms; retry after 1 s" {
		t.Errorf("body %+v", body)
	}
	if got := testutil.ToFloat64(a.shed); got != 1 {
		t.Errorf("shed counter %v, want 1", got)
	}

	// A client that gives up while queued leaves the queue and is not served.
	ctx, cancel := context.WithCancel(context.Background())
	served := false
	a2 := a.admit(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { served = true }))
	gone := make(chan struct{})
	go func() {
		defer close(gone)
		a2.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/v1/suppliers", nil).WithContext(ctx))
	}()
	waitFor(t, "the request to queue", func() bool { return testutil.ToFloat64(a.queued) == 1 })
	cancel()
	<-gone
	if served || testutil.ToFloat64(a.queued) != 0 || testutil.ToFloat64(a.shed) != 1 {
		t.Errorf("after the client left: served %v, queued %v, shed %v", served, testutil.ToFloat64(a.queued), testutil.ToFloat64(a.shed))
	}

	close(hold)
	<-done
	if got := testutil.ToFloat64(a.inFlight); got != 0 {
		t.Errorf("in flight after all: %v", got)
	}
}

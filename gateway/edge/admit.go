package edge

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// DefaultMaxInFlightPerCPU is how many API requests the gateway works on at
// once per CPU it may use, when Options.MaxInFlight is not set.
const DefaultMaxInFlightPerCPU = 32

// DefaultAdmitWait is the longest a request waits for its turn, when
// Options.AdmitWait is not set.
const DefaultAdmitWait = 10 * time.Second

// admission bounds the API requests the gateway works on at once and lets
// the rest wait their turn in the order they came. Without it, a thousand
// clients mean a thousand requests inside the services at once: they share
// the CPU and the connection pools in no particular order, so a request
// the edge cache answers leaves at once while one that needs the database
// waits behind all the others there. With it, every request waits the same
// queue and then meets services that have only as much work as they can
// make progress on.
//
// A request that waits longer than wait is turned away with 503 and
// Retry-After, so that a client learns the gateway is overloaded instead of
// waiting without end.
type admission struct {
	slots chan struct{} // one token per request being worked on
	wait  time.Duration

	inFlight prometheus.Gauge
	queued   prometheus.Gauge
	waited   prometheus.Histogram
	shed     prometheus.Counter
}

func newAdmission(max int, wait time.Duration, reg prometheus.Registerer) *admission {
	a := &admission{
		slots: make(chan struct{}, max),
		wait:  wait,
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "vcci_gateway_requests_in_flight",
			Help: "API requests the gateway is working on (at most its admission limit).",
		}),
		queued: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "vcci_gateway_requests_queued",
			Help: "API requests waiting for their turn.",
		}),
		waited: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "vcci_gateway_admission_wait_seconds",
			Help:    "How long API requests waited for their turn.",
			Buckets: []float64{.0001, .001, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}),
		shed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "vcci_gateway_requests_shed_total",
			Help: "API requests turned away with 503 after waiting too long for their turn.",
		}),
	}
	reg.MustRegister(a.inFlight, a.queued, a.waited, a.shed)
	return a
}

// errShed is enter's answer when a request waited longer than allowed.
var errShed = errors.New("edge: no turn within the admission wait")

// enter waits for a turn: first come, first served (a channel wakes the
// goroutines blocked sending on it in the order they blocked). The caller
// must call leave once, when done.
func (a *admission) enter(ctx context.Context) error {
	select {
	case a.slots <- struct{}{}:
		a.inFlight.Inc()
		a.waited.Observe(0)
		return nil
	default:
	}
	start := time.Now()
	a.queued.Inc()
	t := time.NewTimer(a.wait)
	defer t.Stop()
	select {
	case a.slots <- struct{}{}:
		a.queued.Dec()
		a.inFlight.Inc()
		a.waited.Observe(time.Since(start).Seconds())
		return nil
	case <-t.C:
		a.queued.Dec()
		a.shed.Inc()
		return errShed
	case <-ctx.Done():
		a.queued.Dec()
		return ctx.Err()
	}
}

// leave gives the turn to the next request waiting.
func (a *admission) leave() {
	a.inFlight.Dec()
	<-a.slots
}

// admit wraps h so that API requests (/v1/) take their turn; probes,
// metrics and documentation never wait.
func (a *admission) admit(h http.Handler) http.Handler {
	retry := strconv.Itoa(max(1, int(a.wait/time.Second/10)))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, "/v1/") {
			h.ServeHTTP(w, r)
			return
		}
		if err := a.enter(r.Context()); err != nil {
			if errors.Is(err, errShed) {
				w.Header().Set("Content-Type", "application/json")
				w.Header().Set("Retry-After", retry)
				w.WriteHeader(http.StatusServiceUnavailable)
				w.Write([]byte(`{"code":14,"message":"the gateway is at capacity: every request slot stayed busy for ` + a.wait.String() + `; retry after ` + retry + ` s","details":[]}`))
			}
			// A client that went away is owed nothing.
			return
		}
		defer a.leave()
		h.ServeHTTP(w, r)
	})
}

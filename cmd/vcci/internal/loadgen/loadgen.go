// Package loadgen is an HTTP load generator: a fixed number of virtual
// users, each sending one request at a time, choosing what to send by
// weight, for a fixed duration; back to back (a closed loop, to find
// capacity) or with a pause between requests (users as they behave). Every
// latency is kept, so percentiles are exact (a million samples is 8 MB),
// failures are counted with a few examples, and a per-second timeline
// shows a stall.
package loadgen

import (
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
)

// maxExamples is how many distinct error messages an operation keeps.
const maxExamples = 5

// Op is one kind of request in the mix.
type Op struct {
	Name   string
	Weight int
	// New builds the request a virtual user sends. vu is the user's number
	// (0..VUs-1) and seq counts that user's requests of this op from 0, so
	// (vu, seq) is unique within a run; rng is the user's own.
	New func(ctx context.Context, vu int, seq uint64, rng *rand.Rand) (*http.Request, error)
	// Done, if set, is given the body of each successful response (its
	// gzip undone) and when its request was sent; it must not block.
	Done func(vu int, seq uint64, sent time.Time, body []byte)
}

// Think is the pause a user takes after each answer before the next
// request: uniform in [Min, Max]. The zero Think is a closed loop.
type Think struct{ Min, Max time.Duration }

// Pause draws one pause.
func (t Think) Pause(rng *rand.Rand) time.Duration {
	if t.Max <= t.Min {
		return t.Min
	}
	return t.Min + time.Duration(rng.Int64N(int64(t.Max-t.Min)+1))
}

// Mix chooses ops by weight.
type Mix struct {
	cum   []int // cum[i] is the sum of weights up to and including op i
	total int
}

// NewMix is the mix of ops with these weights (each >= 0, not all 0).
func NewMix(weights []int) (Mix, error) {
	m := Mix{cum: make([]int, len(weights))}
	for i, w := range weights {
		if w < 0 {
			return Mix{}, fmt.Errorf("loadgen: weight %d of op %d is negative", w, i)
		}
		m.total += w
		m.cum[i] = m.total
	}
	if m.total == 0 {
		return Mix{}, errors.New("loadgen: weights sum to zero")
	}
	return m, nil
}

// Pick draws an op's index.
func (m Mix) Pick(rng *rand.Rand) int { return m.Op(rng.IntN(m.total)) }

// Op is the index of the op that r, in [0, sum of weights), falls to: the
// first w0 values to op 0, the next w1 to op 1, and so on.
func (m Mix) Op(r int) int {
	i, _ := slices.BinarySearch(m.cum, r+1)
	return i
}

// Config is one run.
type Config struct {
	Client   *http.Client
	VUs      int
	Duration time.Duration
	Ops      []Op
	// Seed makes the op choices repeatable (given the same timings).
	Seed uint64
	// Header is added to every request (API key, Accept-Encoding).
	Header http.Header
	// Think is each user's pause between requests (zero: closed loop).
	// Users all start at once, sending their first request at time 0.
	Think Think
}

// Result is a run's outcome.
type Result struct {
	VUs     int
	Elapsed time.Duration
	Ops     []OpResult // in Config.Ops order
	Total   OpResult   // every op together
	// Timeline is the run second by second, by when requests completed.
	Timeline []Second
}

// Sample is one completed request: when it ended, from the start of the
// run, how long it took, and whether it failed.
type Sample struct {
	End, Latency time.Duration
	Failed       bool
}

// Second is one second of a run: the requests that completed in it, how
// many of them failed, and the p95 latency of those that succeeded.
type Second struct {
	Requests int           `json:"requests"`
	Errors   int           `json:"errors"`
	P95      time.Duration `json:"p95_ns"`
}

// Timeline buckets samples by the second they ended in, over a run that
// lasted elapsed (a last partial second is a bucket of its own).
func Timeline(samples []Sample, elapsed time.Duration) []Second {
	n := int((elapsed + time.Second - 1) / time.Second)
	if n == 0 {
		return nil
	}
	out := make([]Second, n)
	lats := make([][]time.Duration, n)
	for _, s := range samples {
		i := min(max(int(s.End/time.Second), 0), n-1)
		out[i].Requests++
		if s.Failed {
			out[i].Errors++
			continue
		}
		lats[i] = append(lats[i], s.Latency)
	}
	for i, l := range lats {
		slices.Sort(l)
		out[i].P95 = Percentile(l, 95)
	}
	return out
}

// Stalls are the seconds of timeline in which no request succeeded, or
// whose p95 is above limit.
func Stalls(timeline []Second, limit time.Duration) []int {
	var out []int
	for i, s := range timeline {
		if s.Requests == s.Errors || s.P95 > limit {
			out = append(out, i)
		}
	}
	return out
}

// Merge is the results of several ops as one, named name: requests and
// errors summed, latencies merged, at most five examples.
func Merge(name string, ops ...OpResult) OpResult {
	out := OpResult{Name: name}
	for _, o := range ops {
		out.Requests += o.Requests
		out.Errors += o.Errors
		out.RPS += o.RPS
		out.Latencies = append(out.Latencies, o.Latencies...)
		for _, e := range o.Examples {
			if len(out.Examples) < maxExamples {
				out.Examples = append(out.Examples, o.Name+": "+e)
			}
		}
	}
	slices.Sort(out.Latencies)
	return out
}

// OpResult is what one op (or the whole mix) did.
type OpResult struct {
	Name string
	// Requests that completed: answered, or failed before the run ended.
	Requests int
	Errors   int
	// Latencies of the successful (2xx) requests, sorted.
	Latencies []time.Duration
	// Examples holds up to five distinct error messages.
	Examples []string
	// RPS is Requests per second of Elapsed.
	RPS float64
}

// ErrorRate is Errors / Requests (0 with no requests).
func (r OpResult) ErrorRate() float64 {
	if r.Requests == 0 {
		return 0
	}
	return float64(r.Errors) / float64(r.Requests)
}

// Percentile is the nearest-rank percentile p (0 < p <= 100) of the
// successful requests' latencies: the smallest latency that at least p% of
// them do not exceed. It is 0 without samples.
func (r OpResult) Percentile(p float64) time.Duration {
	return Percentile(r.Latencies, p)
}

// Percentile is the nearest-rank percentile p of sorted.
func Percentile(sorted []time.Duration, p float64) time.Duration {
	n := len(sorted)
	if n == 0 {
		return 0
	}
	// rank = ceil(p/100 * n), computed in integers where possible so that
	// p50 of 100 samples is the 50th, not the 51st.
	rank := int(p * float64(n) / 100)
	if float64(rank) < p*float64(n)/100 {
		rank++
	}
	rank = min(max(rank, 1), n)
	return sorted[rank-1]
}

// recorder is one virtual user's tally; merged once at the end so that the
// hot path takes no lock.
type recorder struct {
	requests, errors []int
	lats             [][]time.Duration
	examples         [][]string
	seq              []uint64
	samples          []Sample
}

func newRecorder(ops int) *recorder {
	return &recorder{
		requests: make([]int, ops), errors: make([]int, ops),
		lats: make([][]time.Duration, ops), examples: make([][]string, ops), seq: make([]uint64, ops),
	}
}

func (r *recorder) fail(op int, err error) {
	r.errors[op]++
	msg := err.Error()
	if len(r.examples[op]) < maxExamples && !slices.Contains(r.examples[op], msg) {
		r.examples[op] = append(r.examples[op], msg)
	}
}

// Run runs cfg until its duration ends or ctx does. Requests cut off by the
// end of the run are not counted either way.
func Run(ctx context.Context, cfg Config) (Result, error) {
	mix, err := cfg.mix()
	if err != nil {
		return Result{}, err
	}
	client := cfg.Client
	if client == nil {
		client = http.DefaultClient
	}

	runCtx, cancel := context.WithTimeout(ctx, cfg.Duration)
	defer cancel()
	r := &run{cfg: cfg, mix: mix, client: client, ctx: runCtx, cancel: cancel}
	recs := make([]*recorder, cfg.VUs)
	var wg sync.WaitGroup
	r.start = time.Now()
	for vu := range cfg.VUs {
		rec := newRecorder(len(cfg.Ops))
		recs[vu] = rec
		rng := rand.New(rand.NewPCG(cfg.Seed, uint64(vu)))
		wg.Go(func() { r.user(vu, rec, rng) })
	}
	wg.Wait()
	elapsed := min(time.Since(r.start), cfg.Duration)
	if err := ctx.Err(); err != nil {
		return Result{}, err
	}
	if r.buildErr != nil {
		return Result{}, r.buildErr
	}
	return result(cfg, recs, elapsed), nil
}

// mix checks cfg and returns the mix of its ops.
func (cfg *Config) mix() (Mix, error) {
	switch {
	case cfg.VUs < 1:
		return Mix{}, errors.New("loadgen: VUs must be at least 1")
	case cfg.Duration <= 0:
		return Mix{}, errors.New("loadgen: Duration must be positive")
	case len(cfg.Ops) == 0:
		return Mix{}, errors.New("loadgen: no ops")
	case cfg.Think.Min < 0 || cfg.Think.Max < cfg.Think.Min && cfg.Think.Max != 0:
		return Mix{}, fmt.Errorf("loadgen: think time %s..%s", cfg.Think.Min, cfg.Think.Max)
	}
	weights := make([]int, len(cfg.Ops))
	for i, op := range cfg.Ops {
		if op.New == nil {
			return Mix{}, fmt.Errorf("loadgen: op %q needs a builder", op.Name)
		}
		weights[i] = op.Weight
	}
	return NewMix(weights)
}

// run is one Run in progress, as its virtual users share it.
type run struct {
	cfg    Config
	mix    Mix
	client *http.Client
	ctx    context.Context // ends with the run
	cancel context.CancelFunc
	start  time.Time
	// buildErr is the first builder's error, which ends the run.
	once     sync.Once
	buildErr error
}

// user is virtual user vu: it sends requests, pausing between them, until
// the run ends, and tallies them in rec.
func (r *run) user(vu int, rec *recorder, rng *rand.Rand) {
	for r.ctx.Err() == nil {
		if !r.send(vu, rec, rng) {
			return
		}
		if p := r.cfg.Think.Pause(rng); p > 0 {
			select {
			case <-r.ctx.Done():
			case <-time.After(p):
			}
		}
	}
}

// send sends one request of an op drawn from the mix and tallies it; false
// when the run is over.
func (r *run) send(vu int, rec *recorder, rng *rand.Rand) bool {
	op := r.mix.Pick(rng)
	seq := rec.seq[op]
	rec.seq[op]++
	o := r.cfg.Ops[op]
	req, err := o.New(r.ctx, vu, seq, rng)
	if err != nil {
		// A builder's error is the generator's fault, not the
		// server's: stop the run rather than count it.
		r.once.Do(func() { r.buildErr = fmt.Errorf("loadgen: build %s: %w", o.Name, err) })
		r.cancel()
		return false
	}
	for k, v := range r.cfg.Header {
		if req.Header.Get(k) == "" {
			req.Header[k] = v
		}
	}
	t0 := time.Now()
	body, err := do(r.client, req, o.Done != nil)
	lat := time.Since(t0)
	if r.ctx.Err() != nil {
		return false // cut off by the end of the run
	}
	rec.requests[op]++
	rec.samples = append(rec.samples, Sample{End: t0.Add(lat).Sub(r.start), Latency: lat, Failed: err != nil})
	if err != nil {
		rec.fail(op, err)
		return true
	}
	rec.lats[op] = append(rec.lats[op], lat)
	if o.Done != nil {
		o.Done(vu, seq, t0, body)
	}
	return true
}

// result merges the virtual users' tallies of a run that lasted elapsed.
func result(cfg Config, recs []*recorder, elapsed time.Duration) Result {
	res := Result{VUs: cfg.VUs, Elapsed: elapsed, Ops: make([]OpResult, len(cfg.Ops))}
	for i, op := range cfg.Ops {
		o := OpResult{Name: op.Name}
		for _, rec := range recs {
			o.Requests += rec.requests[i]
			o.Errors += rec.errors[i]
			o.Latencies = append(o.Latencies, rec.lats[i]...)
			for _, e := range rec.examples[i] {
				if len(o.Examples) < maxExamples && !slices.Contains(o.Examples, e) {
					o.Examples = append(o.Examples, e)
				}
			}
		}
		slices.Sort(o.Latencies)
		o.RPS = float64(o.Requests) / elapsed.Seconds()
		res.Ops[i] = o
	}
	res.Total = Merge("total", res.Ops...)
	var samples []Sample
	for _, rec := range recs {
		samples = append(samples, rec.samples...)
	}
	res.Timeline = Timeline(samples, elapsed)
	return res
}

// do sends req and reads the whole body, so that the connection is reused
// and the latency includes the transfer; with keep, it returns the body,
// its gzip undone. A status outside 2xx is an error carrying the start of
// the body.
func do(client *http.Client, req *http.Request, keep bool) ([]byte, error) {
	resp, err := client.Do(req)
	if err != nil {
		return nil, err //nolint:wrapcheck // *url.Error names the method and URL; its text is the report's error example
	}
	defer resp.Body.Close()
	ok := resp.StatusCode/100 == 2
	if ok && !keep {
		if _, err := io.Copy(io.Discard, resp.Body); err != nil {
			return nil, fmt.Errorf("%s %s: reading the answer: %w", req.Method, req.URL.Path, err)
		}
		return nil, nil
	}
	var r io.Reader = resp.Body
	if resp.Header.Get("Content-Encoding") == "gzip" {
		// We asked for gzip ourselves, so the transport left it compressed.
		if zr, err := gzip.NewReader(resp.Body); err == nil {
			r = zr
		}
	}
	if ok {
		body, err := io.ReadAll(r)
		if err != nil {
			return nil, fmt.Errorf("%s %s: reading the answer: %w", req.Method, req.URL.Path, err)
		}
		return body, nil
	}
	body, _ := io.ReadAll(io.LimitReader(r, 512))
	// Drained for the connection's reuse; the status is the error either way.
	_, _ = io.Copy(io.Discard, resp.Body)
	return nil, &StatusError{Method: req.Method, Path: req.URL.Path, Status: resp.StatusCode, Body: strings.TrimSpace(string(body))}
}

// StatusError is a response outside 2xx.
type StatusError struct {
	Method, Path string
	Status       int
	Body         string
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("%s %s: %d %s: %s", e.Method, e.Path, e.Status, http.StatusText(e.Status), e.Body)
}

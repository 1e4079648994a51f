// Package loadgen is a closed-loop HTTP load generator: a fixed number of
// virtual users, each sending one request at a time, choosing what to send
// by weight, for a fixed duration. Every latency is kept, so percentiles are
// exact (a million samples is 8 MB), and failures are counted with a few
// examples.
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
}

// Result is a run's outcome.
type Result struct {
	VUs     int
	Elapsed time.Duration
	Ops     []OpResult // in Config.Ops order
	Total   OpResult   // every op together
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
	switch {
	case cfg.VUs < 1:
		return Result{}, errors.New("loadgen: VUs must be at least 1")
	case cfg.Duration <= 0:
		return Result{}, errors.New("loadgen: Duration must be positive")
	case len(cfg.Ops) == 0:
		return Result{}, errors.New("loadgen: no ops")
	}
	// cum[i] is the sum of weights up to and including op i.
	cum := make([]int, len(cfg.Ops))
	total := 0
	for i, op := range cfg.Ops {
		if op.Weight < 0 || op.New == nil {
			return Result{}, fmt.Errorf("loadgen: op %q needs a builder and a weight >= 0", op.Name)
		}
		total += op.Weight
		cum[i] = total
	}
	if total == 0 {
		return Result{}, errors.New("loadgen: weights sum to zero")
	}
	client := cfg.Client
	if client == nil {
		client = http.DefaultClient
	}

	runCtx, cancel := context.WithTimeout(ctx, cfg.Duration)
	defer cancel()
	recs := make([]*recorder, cfg.VUs)
	var (
		wg       sync.WaitGroup
		buildErr error
		once     sync.Once
	)
	start := time.Now()
	for vu := range cfg.VUs {
		rec := newRecorder(len(cfg.Ops))
		recs[vu] = rec
		rng := rand.New(rand.NewPCG(cfg.Seed, uint64(vu)))
		wg.Go(func() {
			for runCtx.Err() == nil {
				pick := rng.IntN(total)
				op, _ := slices.BinarySearch(cum, pick+1)
				seq := rec.seq[op]
				rec.seq[op]++
				req, err := cfg.Ops[op].New(runCtx, vu, seq, rng)
				if err != nil {
					// A builder's error is the generator's fault, not the
					// server's: stop the run rather than count it.
					once.Do(func() { buildErr = fmt.Errorf("loadgen: build %s: %w", cfg.Ops[op].Name, err) })
					cancel()
					return
				}
				for k, v := range cfg.Header {
					if req.Header.Get(k) == "" {
						req.Header[k] = v
					}
				}
				t0 := time.Now()
				err = do(client, req)
				lat := time.Since(t0)
				if runCtx.Err() != nil {
					return // cut off by the end of the run
				}
				rec.requests[op]++
				if err != nil {
					rec.fail(op, err)
					continue
				}
				rec.lats[op] = append(rec.lats[op], lat)
			}
		})
	}
	wg.Wait()
	elapsed := min(time.Since(start), cfg.Duration)
	if err := ctx.Err(); err != nil {
		return Result{}, err
	}
	if buildErr != nil {
		return Result{}, buildErr
	}

	res := Result{VUs: cfg.VUs, Elapsed: elapsed, Ops: make([]OpResult, len(cfg.Ops)), Total: OpResult{Name: "total"}}
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
		res.Total.Requests += o.Requests
		res.Total.Errors += o.Errors
		res.Total.Latencies = append(res.Total.Latencies, o.Latencies...)
		for _, e := range o.Examples {
			if len(res.Total.Examples) < maxExamples {
				res.Total.Examples = append(res.Total.Examples, op.Name+": "+e)
			}
		}
	}
	slices.Sort(res.Total.Latencies)
	res.Total.RPS = float64(res.Total.Requests) / elapsed.Seconds()
	return res, nil
}

// do sends req and reads the whole body, so that the connection is reused
// and the latency includes the transfer. A status outside 2xx is an error
// carrying the start of the body.
func do(client *http.Client, req *http.Request) error {
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 == 2 {
		_, err := io.Copy(io.Discard, resp.Body)
		return err
	}
	var r io.Reader = resp.Body
	if resp.Header.Get("Content-Encoding") == "gzip" {
		// We asked for gzip ourselves, so the transport left it compressed.
		if zr, err := gzip.NewReader(resp.Body); err == nil {
			r = zr
		}
	}
	body, _ := io.ReadAll(io.LimitReader(r, 512))
	io.Copy(io.Discard, resp.Body)
	return &StatusError{Method: req.Method, Path: req.URL.Path, Status: resp.StatusCode, Body: strings.TrimSpace(string(body))}
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

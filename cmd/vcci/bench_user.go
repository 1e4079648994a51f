package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"net/http"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/vcci-dev/vcci/cmd/vcci/internal/loadgen"
)

// userRun numbers the user model's uploads apart from the closed loop's
// runs (1, 2, 3 and up).
const userRun = 100

// The design's targets for the user model.
const (
	userReadP99   = 50 * time.Millisecond
	userUploadP99 = 200 * time.Millisecond
	// A second is a stall when no request succeeds in it, or when its p95 is
	// above stallFactor times the run's p50, bounded below by the reads'
	// p99 target (a run whose p50 is a cache hit is not stalled by a page
	// read) and above by stallCap (a run slow throughout is not excused by
	// its own slow p50).
	stallFactor = 10
	stallCap    = time.Second
	// closedMinRPS is the closed loop's throughput target.
	closedMinRPS = 1000
)

// userModel is the design's user: many arrive together, each pausing
// between requests, with no warm-up before the measurement.
type userModel struct {
	Users    int
	Duration time.Duration
	Think    loadgen.Think
	// Pages and PerPage: a transactions page is page 1..Pages of PerPage.
	Pages, PerPage int
	// SampleEvery: every n-th upload is followed until SUCCEEDED.
	SampleEvery int
	// Pprof, if set, is where CPU profiles of every deployable over the
	// run's middle half go.
	Pprof string
}

// userSuppliers are the 1,000 stored suppliers from S01000 on, with their
// names, read as the database's owner, so that no service cache is warmed.
func userSuppliers(ctx context.Context, dbURL string) ([]supplierRef, error) {
	pool, err := pgxpool.New(ctx, dbURL)
	if err != nil {
		return nil, fmt.Errorf("bench-api: user suppliers: %w", err)
	}
	defer pool.Close()
	rows, err := pool.Query(ctx, `SELECT 'suppliers/' || supplier_id, name FROM intake.suppliers
		WHERE supplier_id >= 'S01000' ORDER BY supplier_id LIMIT 1000`)
	if err != nil {
		return nil, fmt.Errorf("bench-api: user suppliers: %w", err)
	}
	defer rows.Close()
	var out []supplierRef
	for rows.Next() {
		var s supplierRef
		if err := rows.Scan(&s.Name, &s.DisplayName); err != nil {
			return nil, fmt.Errorf("bench-api: user suppliers: %w", err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, errors.New("bench-api: no stored supplier from S01000 on")
	}
	return out, nil
}

// uploadWaits follows a sample of uploads from their POST until GET
// /v1/uploads/{id} says SUCCEEDED: what a user waits for.
type uploadWaits struct {
	every int
	poll  time.Duration
	api   restAPI
	n     atomic.Int64
	wg    sync.WaitGroup
	mu    sync.Mutex
	lats  []time.Duration
	lost  []string // sampled uploads that did not succeed, and why
}

// done is the upload op's loadgen.Op.Done.
func (w *uploadWaits) done(ctx context.Context) func(int, uint64, time.Time, []byte) {
	return func(_ int, _ uint64, sent time.Time, body []byte) {
		if (w.n.Add(1)-1)%int64(w.every) != 0 {
			return
		}
		var up uploadStatus
		if err := json.Unmarshal(body, &up); err != nil || up.Name == "" {
			w.record(0, fmt.Sprintf("unreadable answer to the POST: %.100s", body))
			return
		}
		w.wg.Go(func() { w.follow(ctx, up.Name, sent) })
	}
}

func (w *uploadWaits) record(lat time.Duration, lost string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if lost != "" {
		w.lost = append(w.lost, lost)
		return
	}
	w.lats = append(w.lats, lat)
}

func (w *uploadWaits) follow(ctx context.Context, name string, sent time.Time) {
	deadline := sent.Add(2 * time.Minute)
	for {
		body, err := w.api.do(ctx, http.MethodGet, "/v1/"+name, "", nil)
		if err == nil {
			var up uploadStatus
			if err = json.Unmarshal(body, &up); err == nil {
				switch up.State {
				case stateSucceeded:
					w.record(time.Since(sent), "")
					return
				case stateFailed:
					w.record(0, name+" FAILED: "+up.FailureReason)
					return
				}
			}
		}
		if time.Now().After(deadline) {
			w.record(0, fmt.Sprintf("%s not SUCCEEDED 2 minutes after its POST (last: %v)", name, err))
			return
		}
		select {
		case <-ctx.Done():
			w.record(0, name+": "+ctx.Err().Error())
			return
		case <-time.After(w.poll):
		}
	}
}

// userReport is the user model's part of the report. Latencies are
// milliseconds.
type userReport struct {
	Users     int           `json:"users"`
	Duration  string        `json:"duration"`
	Think     string        `json:"think"`
	Suppliers int           `json:"suppliers"`
	Rows      []apiRow      `json:"rows"`
	CPU       string        `json:"cpu"`
	Uploads   uploadOutcome `json:"uploads"`
	StallRule string        `json:"stall_rule"`
	Stalls    []int         `json:"stall_seconds"`
	Timeline  []userSecond  `json:"timeline"`
	Targets   []verdict     `json:"targets"`
}

type userSecond struct {
	Second   int     `json:"second"`
	Requests int     `json:"requests"`
	Errors   int     `json:"errors"`
	P95      float64 `json:"p95_ms"`
}

// uploadOutcome is what became of the model's uploads.
type uploadOutcome struct {
	Posted int64 `json:"posted"` // answered 2xx
	// Stored is the uploads the database holds for the run: also those
	// whose POST the end of the run cut off.
	Stored    int64          `json:"stored"`
	ByState   map[string]int `json:"by_state"`
	Drain     string         `json:"drain"`
	Every     int            `json:"sample_every"`
	Sampled   int            `json:"sampled"`
	PollEvery string         `json:"poll_every"`
	P50       float64        `json:"to_succeeded_p50_ms"`
	P95       float64        `json:"to_succeeded_p95_ms"`
	P99       float64        `json:"to_succeeded_p99_ms"`
	Max       float64        `json:"to_succeeded_max_ms"`
	Lost      []string       `json:"lost,omitempty"`
}

func (u uploadOutcome) allSucceeded() bool {
	return u.Posted > 0 && u.Stored >= u.Posted && u.ByState["SUCCEEDED"] == int(u.Stored) && len(u.Lost) == 0
}

// verdict is one design target, what was measured against it, and whether
// it was met.
type verdict struct {
	Target   string `json:"target"`
	Measured string `json:"measured"`
	Met      bool   `json:"met"`
}

// runUserModel runs m through the gateway with base's client and header,
// waits for its uploads to finish, and reports.
func runUserModel(ctx context.Context, base loadgen.Config, api *restAPI, dbURL string, d *deployables, m userModel, logf func(string, ...any)) (*userReport, error) {
	sups, err := userSuppliers(ctx, dbURL)
	if err != nil {
		return nil, err
	}
	ops := restOps(api, func(rng *rand.Rand) string {
		return fmt.Sprintf("/v1/transactions?page=%d&per_page=%d", 1+rng.IntN(m.Pages), m.PerPage)
	}, supplierIDs(sups), sups, userRun)
	poller := *api
	poller.client = base.Client
	waits := &uploadWaits{every: m.SampleEvery, poll: 100 * time.Millisecond, api: poller}
	ops[3].Done = waits.done(ctx)
	cfg := base
	cfg.VUs, cfg.Duration, cfg.Think, cfg.Ops, cfg.Seed = m.Users, m.Duration, m.Think, ops, userRun
	logf("user model: %d users arriving together, no warm-up, %s-%s between requests, for %s, on %d suppliers", m.Users, m.Think.Min, m.Think.Max, m.Duration, len(sups))
	profiled := profileLater(ctx, d, m.Pprof, m.Duration/4, m.Duration/2)
	before := sampleCPU(d)
	res, err := loadgen.Run(ctx, cfg)
	if err != nil {
		return nil, err
	}
	if err := <-profiled; err != nil {
		return nil, err
	}
	cpu := cpuLine(cpuUse(before, sampleCPU(d)), res.Elapsed, runtime.NumCPU())
	logf("user model: %d requests, %d errors; waiting for the sampled uploads to succeed", res.Total.Requests, res.Total.Errors)
	waits.wg.Wait()
	drain, err := drainUploads(ctx, dbURL, d, "")
	if err != nil {
		return nil, err
	}
	out := uploadOutcome{Posted: int64(len(res.Ops[3].Latencies)), Drain: drain.String(), Every: m.SampleEvery, PollEvery: waits.poll.String(), Lost: waits.lost}
	if out.ByState, out.Stored, err = uploadStates(ctx, dbURL, fmt.Sprintf("lg-%d-%%", userRun)); err != nil {
		return nil, err
	}
	slices.Sort(waits.lats)
	out.Sampled = len(waits.lats) + len(waits.lost)
	out.P50, out.P95, out.P99 = ms(loadgen.Percentile(waits.lats, 50)), ms(loadgen.Percentile(waits.lats, 95)), ms(loadgen.Percentile(waits.lats, 99))
	out.Max = ms(loadgen.Percentile(waits.lats, 100))
	rep := userReportOf(res, m, len(sups), out)
	rep.CPU = cpu
	return rep, nil
}

// userReportOf judges a user model run against the design's targets.
func userReportOf(res loadgen.Result, m userModel, suppliers int, up uploadOutcome) *userReport {
	rep := &userReport{Users: m.Users, Duration: m.Duration.String(), Think: m.Think.Min.String() + "-" + m.Think.Max.String(),
		Suppliers: suppliers, Uploads: up}
	names := []string{
		fmt.Sprintf("GET /v1/transactions?page=1..%d&per_page=%d", m.Pages, m.PerPage),
		fmt.Sprintf("GET /v1/suppliers/{one of %d}", suppliers),
		"GET /v1/emissionResults:summarize",
		"POST /v1/uploads (10 rows)",
	}
	for i, o := range res.Ops {
		rep.Rows = append(rep.Rows, restRow("↳ "+names[i], o, res.Elapsed))
	}
	reads := loadgen.Merge("reads", res.Ops[:3]...)
	uploads := res.Ops[3]
	rep.Rows = append(rep.Rows, restRow("reads", reads, res.Elapsed), restRow("uploads (the POST)", uploads, res.Elapsed),
		restRow("all", res.Total, res.Elapsed))

	limit := min(max(stallFactor*res.Total.Percentile(50), userReadP99), stallCap)
	rep.StallRule = fmt.Sprintf("a second in which no request succeeds, or whose p95 is above %d× the run's p50, taken as %s at least and %s at most (here %s)",
		stallFactor, humanDur(userReadP99), humanDur(stallCap), fmtMS(ms(limit)))
	rep.Stalls = loadgen.Stalls(res.Timeline, limit)
	for i, s := range res.Timeline {
		rep.Timeline = append(rep.Timeline, userSecond{Second: i, Requests: s.Requests, Errors: s.Errors, P95: ms(s.P95)})
	}
	p99 := func(o loadgen.OpResult) string {
		return fmtMS(ms(o.Percentile(99))) + " (" + thousands(int64(len(o.Latencies))) + " answered)"
	}
	stalls := "none"
	if len(rep.Stalls) > 0 {
		stalls = fmt.Sprintf("%d: seconds %v", len(rep.Stalls), rep.Stalls)
	}
	rep.Targets = []verdict{
		{"reads p99 < " + humanDur(userReadP99), p99(reads), len(reads.Latencies) > 0 && reads.Percentile(99) < userReadP99},
		{"uploads (the POST) p99 < " + humanDur(userUploadP99), p99(uploads), len(uploads.Latencies) > 0 && uploads.Percentile(99) < userUploadP99},
		{"0 errors", fmt.Sprintf("%d of %s requests", res.Total.Errors, thousands(int64(res.Total.Requests))), res.Total.Errors == 0},
		{"every upload SUCCEEDED", up.summary(), up.allSucceeded()},
		{"no stall", stalls, len(rep.Stalls) == 0},
	}
	return rep
}

func (u uploadOutcome) summary() string {
	states := make([]string, 0, len(u.ByState))
	for _, k := range slices.Sorted(maps.Keys(u.ByState)) {
		states = append(states, fmt.Sprintf("%d %s", u.ByState[k], k))
	}
	s := fmt.Sprintf("%d answered, %d stored (with those the run's end cut off): %s", u.Posted, u.Stored, strings.Join(states, ", "))
	if len(u.Lost) > 0 {
		s += fmt.Sprintf("; %d sampled not SUCCEEDED", len(u.Lost))
	}
	return s
}

// uploadStates counts the uploads whose file name matches like, by state.
func uploadStates(ctx context.Context, dbURL, like string) (map[string]int, int64, error) {
	pool, err := pgxpool.New(ctx, dbURL)
	if err != nil {
		return nil, 0, fmt.Errorf("bench-api: upload states: %w", err)
	}
	defer pool.Close()
	rows, err := pool.Query(ctx, `SELECT state, count(*) FROM intake.uploads WHERE filename LIKE $1 GROUP BY 1`, like)
	if err != nil {
		return nil, 0, fmt.Errorf("bench-api: upload states: %w", err)
	}
	defer rows.Close()
	names := map[int16]string{1: "QUEUED", 2: "VALIDATING", 3: "CALCULATING", 4: "SUCCEEDED", 5: "FAILED"}
	out := map[string]int{}
	var total int64
	for rows.Next() {
		var st int16
		var n int
		if err := rows.Scan(&st, &n); err != nil {
			return nil, 0, fmt.Errorf("bench-api: upload states: %w", err)
		}
		out[names[st]] += n
		total += int64(n)
	}
	return out, total, rows.Err()
}

// markdown is the user model's section of the report.
func (u *userReport) markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "\n### User model\n\n%s users arriving together with no warm-up (a cold start is part of what is measured), each pausing %s (uniform) after every answer, for %s; the design's mix 10:5:3:2 of the requests below, suppliers drawn from %s stored from S01000 on.\n\n",
		thousands(int64(u.Users)), u.Think, u.Duration, thousands(int64(u.Suppliers)))
	b.WriteString("| operation | p50 | p95 | p99 | rps | error rate |\n|---|--:|--:|--:|--:|--:|\n")
	for _, r := range u.Rows {
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s |\n", r.Operation, fmtMS(r.P50), fmtMS(r.P95), fmtMS(r.P99), thousands(int64(r.RPS+0.5)), fmtRate(r))
	}
	b.WriteString("\n| target | measured | met |\n|---|---|:-:|\n")
	for _, v := range u.Targets {
		mark := "✗"
		if v.Met {
			mark = "✓"
		}
		fmt.Fprintf(&b, "| %s | %s | %s |\n", v.Target, v.Measured, mark)
	}
	up := u.Uploads
	fmt.Fprintf(&b, "\nUpload to SUCCEEDED, from the POST to the first GET /v1/uploads/{id} that says so (one upload in %d, %d sampled, polled every %s): p50 %s, p95 %s, p99 %s, max %s. After the run: %s.\n",
		up.Every, up.Sampled, up.PollEvery, fmtMS(up.P50), fmtMS(up.P95), fmtMS(up.P99), fmtMS(up.Max), up.Drain)
	for _, l := range up.Lost[:min(len(up.Lost), 5)] {
		fmt.Fprintf(&b, "- %s\n", l)
	}
	fmt.Fprintf(&b, "CPU during the run: %s.\n", u.CPU)
	fmt.Fprintf(&b, "Stall: %s.\n\nTimeline (requests completed in each second, how many failed, p95 of the rest):\n\n| s | requests | errors | p95 |\n|--:|--:|--:|--:|\n", u.StallRule)
	for _, s := range u.Timeline {
		fmt.Fprintf(&b, "| %d | %s | %d | %s |\n", s.Second, thousands(int64(s.Requests)), s.Errors, fmtMS(s.P95))
	}
	return b.String()
}

// userPprof is where the user model's profiles go under -pprof dir.
func userPprof(dir string) string {
	if dir == "" {
		return ""
	}
	return filepath.Join(dir, "user")
}

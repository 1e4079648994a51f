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
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
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
	// ReportEvery: one request in ReportEvery asks for a report (0: none).
	ReportEvery int
	// Mix: the weights of the design's four requests (designMix).
	Mix string
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

// jobWaits follows a sample of jobs (uploads) from their POST until
// GET /v1/{name} says SUCCEEDED: what a user waits for.
type jobWaits struct {
	every int
	// poll is the first wait between two GETs; each wait is twice the
	// last, up to maxPoll, as a client's backoff: a user waiting on a
	// slow upload does not ask ten times a second, and a harness that did
	// would be most of the load it measures once uploads fall behind.
	poll, maxPoll time.Duration
	api           restAPI
	n             atomic.Int64
	wg            sync.WaitGroup
	mu            sync.Mutex
	lats          []time.Duration
	lost          []string // sampled jobs that did not succeed, and why
}

// jobStatus is the part of an Upload or a Report (as JSON) a wait reads.
type jobStatus struct {
	Name          string `json:"name"`
	State         string `json:"state"`
	FailureReason string `json:"failureReason"` // an upload's
	Error         string `json:"error"`         // a report's
}

// done is the POST's loadgen.Op.Done.
func (w *jobWaits) done(ctx context.Context) func(int, uint64, time.Time, []byte) {
	return func(_ int, _ uint64, sent time.Time, body []byte) {
		if (w.n.Add(1)-1)%int64(w.every) != 0 {
			return
		}
		var st jobStatus
		if err := json.Unmarshal(body, &st); err != nil || st.Name == "" {
			w.record(0, fmt.Sprintf("unreadable answer to the POST: %.100s", body))
			return
		}
		w.wg.Go(func() { w.follow(ctx, st.Name, sent) })
	}
}

func (w *jobWaits) record(lat time.Duration, lost string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if lost != "" {
		w.lost = append(w.lost, lost)
		return
	}
	w.lats = append(w.lats, lat)
}

func (w *jobWaits) follow(ctx context.Context, name string, sent time.Time) {
	deadline := sent.Add(5 * time.Minute)
	wait := w.poll
	for {
		body, err := w.api.do(ctx, http.MethodGet, "/v1/"+name, "", nil)
		if err == nil {
			var st jobStatus
			if err = json.Unmarshal(body, &st); err == nil {
				switch {
				case strings.HasSuffix(st.State, "_SUCCEEDED"):
					w.record(time.Since(sent), "")
					return
				case strings.HasSuffix(st.State, "_FAILED"):
					w.record(0, name+" FAILED: "+st.FailureReason+st.Error)
					return
				}
			}
		}
		if time.Now().After(deadline) {
			w.record(0, fmt.Sprintf("%s not SUCCEEDED 5 minutes after its POST (last: %v)", name, err))
			return
		}
		select {
		case <-ctx.Done():
			w.record(0, name+": "+ctx.Err().Error())
			return
		case <-time.After(wait):
		}
		wait = min(2*wait, max(w.maxPoll, w.poll))
	}
}

// outcome is what the sample's waits measured, for posted answered POSTs.
func (w *jobWaits) outcome(posted int) jobOutcome {
	w.wg.Wait()
	slices.Sort(w.lats)
	out := jobOutcome{Posted: int64(posted), Every: w.every, PollEvery: w.poll.String() + ", doubling to " + max(w.maxPoll, w.poll).String(), Lost: w.lost,
		Sampled: len(w.lats) + len(w.lost)}
	setWaits(&out, w.lats)
	return out
}

// reportKinds and reportFormats are what the model's reports draw from.
var (
	reportKinds   = []string{"GHG_INVENTORY", "CDP", "ESRS_E1_6", "SB_253", "HOTSPOT_PACK"}
	reportFormats = []string{"PDF", "XLSX", "CSV", "JSON"}
)

// reportOp asks for a report of a random kind and format over 2024, the
// generated data's year (a report's period must cover every month with
// data).
func reportOp(a *restAPI) loadgen.Op {
	return loadgen.Op{Name: "create report", New: func(ctx context.Context, _ int, _ uint64, rng *rand.Rand) (*http.Request, error) {
		body := fmt.Sprintf(`{"kind":"REPORT_KIND_%s","format":"REPORT_FORMAT_%s","periodStart":"2024-01-01","periodEnd":"2024-12-31","organization":"Load test"}`,
			reportKinds[rng.IntN(len(reportKinds))], reportFormats[rng.IntN(len(reportFormats))])
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.base+"/v1/reports", strings.NewReader(body))
		if err != nil {
			return nil, fmt.Errorf("create report: %w", err)
		}
		req.Header.Set("Content-Type", "application/json")
		return req, nil
	}}
}

// withReports adds reportOp to the design's ops so that one request in
// every is a report, the others keeping their ratios: each weight times
// every-1, the report's their sum (every 0: no reports).
func withReports(ops []loadgen.Op, a *restAPI, every int) []loadgen.Op {
	if every <= 0 {
		return ops
	}
	sum := 0
	for i := range ops {
		sum += ops[i].Weight
		ops[i].Weight *= every - 1
	}
	r := reportOp(a)
	r.Weight = sum
	return append(ops, r)
}

// userReport is the user model's part of the report. Latencies are
// milliseconds.
type userReport struct {
	Users     int        `json:"users"`
	Duration  string     `json:"duration"`
	Think     string     `json:"think"`
	Suppliers int        `json:"suppliers"`
	Mix       string     `json:"mix"`
	Rows      []apiRow   `json:"rows"`
	CPU       string     `json:"cpu"`
	Uploads   jobOutcome `json:"uploads"`
	// Reports, when the run asked for them.
	Reports   *jobOutcome  `json:"reports,omitempty"`
	StallRule string       `json:"stall_rule"`
	Stalls    []int        `json:"stall_seconds"`
	Timeline  []userSecond `json:"timeline"`
	Targets   []verdict    `json:"targets"`
}

type userSecond struct {
	Second   int     `json:"second"`
	Requests int     `json:"requests"`
	Errors   int     `json:"errors"`
	P95      float64 `json:"p95_ms"`
}

// jobOutcome is what became of the model's uploads or reports.
type jobOutcome struct {
	Posted int64 `json:"posted"` // answered 2xx
	// Stored is the jobs the database holds for the run: also those
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

func (u jobOutcome) allSucceeded() bool {
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
	if err := setWeights(ops, m.Mix); err != nil {
		return nil, err
	}
	ops = withReports(ops, api, m.ReportEvery)
	poller := *api
	poller.client = base.Client
	waits := &jobWaits{every: m.SampleEvery, poll: 100 * time.Millisecond, maxPoll: time.Second, api: poller}
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
	logf("user model: %d requests, %d errors; waiting for the sampled uploads and reports to succeed", res.Total.Requests, res.Total.Errors)
	out := waits.outcome(len(res.Ops[3].Latencies))
	drain, err := drainUploads(ctx, dbURL, d, "")
	if err != nil {
		return nil, err
	}
	out.Drain = drain.String()
	if out.ByState, out.Stored, err = uploadStates(ctx, dbURL, fmt.Sprintf("lg-%d-%%", userRun)); err != nil {
		return nil, err
	}
	var reports *jobOutcome
	if m.ReportEvery > 0 {
		if reports, err = drainReports(ctx, dbURL); err != nil {
			return nil, err
		}
		reports.Posted = int64(len(res.Ops[4].Latencies))
	}
	rep := userReportOf(res, m, len(sups), out, reports)
	rep.CPU = cpu
	if reports != nil {
		rep.Mix += fmt.Sprintf(", with one request in %d a report (weights %s)", m.ReportEvery, weightsOf(ops))
	}
	return rep, nil
}

// userReportOf judges a user model run against the design's targets.
func userReportOf(res loadgen.Result, m userModel, suppliers int, up jobOutcome, reports *jobOutcome) *userReport {
	rep := &userReport{Users: m.Users, Duration: m.Duration.String(), Think: m.Think.Min.String() + "-" + m.Think.Max.String(),
		Suppliers: suppliers, Uploads: up, Reports: reports, Mix: "the mix " + m.Mix + " of the requests below"}
	if m.Mix == designMix {
		rep.Mix = "the design's mix " + designMix + " of the requests below"
	}
	names := []string{
		fmt.Sprintf("GET /v1/transactions?page=1..%d&per_page=%d", m.Pages, m.PerPage),
		fmt.Sprintf("GET /v1/suppliers/{one of %d}", suppliers),
		"GET /v1/emissionResults:summarize",
		"POST /v1/uploads (10 rows)",
		"POST /v1/reports (kind and format at random)",
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
	if reports != nil {
		rep.Targets = append(rep.Targets, verdict{"every report SUCCEEDED", reports.summary(), reports.allSucceeded()})
	}
	return rep
}

func (u jobOutcome) summary() string {
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
	return countStates(ctx, pool, `SELECT (ARRAY['QUEUED', 'VALIDATING', 'CALCULATING', 'SUCCEEDED', 'FAILED'])[state], count(*)
		FROM intake.uploads WHERE filename LIKE $1 GROUP BY 1`, like)
}

// countStates runs q, whose rows are (state, count), and sums them.
func countStates(ctx context.Context, pool *pgxpool.Pool, q string, args ...any) (map[string]int, int64, error) {
	rows, err := pool.Query(ctx, q, args...)
	if err != nil {
		return nil, 0, fmt.Errorf("bench-api: states: %w", err)
	}
	defer rows.Close()
	out := map[string]int{}
	var total int64
	for rows.Next() {
		var st string
		var n int
		if err := rows.Scan(&st, &n); err != nil {
			return nil, 0, fmt.Errorf("bench-api: states: %w", err)
		}
		out[st] += n
		total += int64(n)
	}
	return out, total, rows.Err()
}

// markdown is the user model's section of the report.
func (u *userReport) markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "\n### User model\n\n%s users arriving together with no warm-up (a cold start is part of what is measured), each pausing %s (uniform) after every answer, for %s; %s, suppliers drawn from %s stored from S01000 on.\n\n",
		thousands(int64(u.Users)), u.Think, u.Duration, u.Mix, thousands(int64(u.Suppliers)))
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
	fmt.Fprintf(&b, "\nUpload to SUCCEEDED, from the POST to the first GET /v1/uploads/{id} that says so (one upload in %d, %d sampled, polled after %s): p50 %s, p95 %s, p99 %s, max %s. After the run: %s.\n",
		up.Every, up.Sampled, up.PollEvery, fmtMS(up.P50), fmtMS(up.P95), fmtMS(up.P99), fmtMS(up.Max), up.Drain)
	for _, l := range up.Lost[:min(len(up.Lost), 5)] {
		fmt.Fprintf(&b, "- %s\n", l)
	}
	if r := u.Reports; r != nil {
		fmt.Fprintf(&b, "Report to SUCCEEDED, from the report's create_time to its finish_time as stored (%d reports; GET /v1/reports/{id} says SUCCEEDED from then on): p50 %s, p95 %s, p99 %s, max %s. After the run: %s.\n",
			r.Sampled, fmtMS(r.P50), fmtMS(r.P95), fmtMS(r.P99), fmtMS(r.Max), r.Drain)
		for _, l := range r.Lost[:min(len(r.Lost), 5)] {
			fmt.Fprintf(&b, "- %s\n", l)
		}
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

// weightsOf is ops' weights as "a:b:...".
func weightsOf(ops []loadgen.Op) string {
	w := make([]string, len(ops))
	for i, o := range ops {
		w[i] = strconv.Itoa(o.Weight)
	}
	return strings.Join(w, ":")
}

// drainReports waits up to 10 minutes for the reports asked for to be
// built, counts them by state, and measures each built one's time from
// its request to its end as stored: polling hundreds of them would add
// load no user makes.
func drainReports(ctx context.Context, dbURL string) (*jobOutcome, error) {
	pool, err := pgxpool.New(ctx, dbURL)
	if err != nil {
		return nil, fmt.Errorf("bench-api: reports: %w", err)
	}
	defer pool.Close()
	start := time.Now()
	var pending int64
	for {
		if err := pool.QueryRow(ctx, `SELECT count(*) FROM reporting.reports WHERE state IN ('queued', 'running')`).Scan(&pending); err != nil {
			return nil, fmt.Errorf("bench-api: reports: %w", err)
		}
		if pending == 0 || time.Since(start) > 10*time.Minute {
			break
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	out := &jobOutcome{Every: 1, Drain: fmt.Sprintf("every report built %s after the run's end", time.Since(start).Round(100*time.Millisecond))}
	if pending > 0 {
		out.Drain = fmt.Sprintf("%d reports still queued or running 10 minutes after the run's end", pending)
	}
	if out.ByState, out.Stored, err = countStates(ctx, pool, `SELECT upper(state), count(*) FROM reporting.reports GROUP BY 1`); err != nil {
		return nil, err
	}
	rows, err := pool.Query(ctx, `SELECT (extract(epoch FROM finish_time - create_time) * 1e6)::bigint FROM reporting.reports WHERE state = 'succeeded' ORDER BY 1`)
	if err != nil {
		return nil, fmt.Errorf("bench-api: reports: %w", err)
	}
	us, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, fmt.Errorf("bench-api: reports: %w", err)
	}
	lats := make([]time.Duration, len(us))
	for i, u := range us {
		lats[i] = time.Duration(u) * time.Microsecond
	}
	out.Sampled = len(lats)
	setWaits(out, lats)
	return out, nil
}

// setWaits sets u's percentiles from sorted waits.
func setWaits(u *jobOutcome, lats []time.Duration) {
	u.P50, u.P95, u.P99 = ms(loadgen.Percentile(lats, 50)), ms(loadgen.Percentile(lats, 95)), ms(loadgen.Percentile(lats, 99))
	u.Max = ms(loadgen.Percentile(lats, 100))
}

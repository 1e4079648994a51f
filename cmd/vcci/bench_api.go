package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/vcci-dev/vcci/cmd/vcci/internal/loadgen"
	"github.com/vcci-dev/vcci/pkg/service"
	"github.com/vcci-dev/vcci/pkg/tenancy"
)

// benchRateLimit is what each per-key budget is raised to, so that the
// benchmark measures the request path rather than the throttle: the limiter
// still decides every request.
const benchRateLimit = "1000000/s,burst=1000000"

// benchAPI is the API benchmark: every deployable its own process, a
// generated spend file loaded through the REST upload, then ghz against each
// service's read RPCs (configs in bench/ghz) and a closed-loop REST mix,
// each against a ceiling measured the same way.
func benchAPI(ctx context.Context, args []string) error {
	// The load generator shares the cores with what it measures: it runs
	// with the same garbage collector setting as the deployables, so that
	// it takes no more of them than it must.
	service.TuneGC()
	f, err := parseAPIFlags(args)
	if err != nil {
		return err
	}
	ghzConfigs, err := loadGHZConfigs(f.configs)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Join(f.work, "ghz"), 0o755); err != nil {
		return fmt.Errorf("bench-api: %w", err)
	}
	b := &apiBench{flags: f, limits: []string{
		"VCCI_RATE_LIMIT_READ=" + benchRateLimit,
		"VCCI_RATE_LIMIT_WRITE=" + benchRateLimit,
		"VCCI_RATE_LIMIT_HEAVY=" + benchRateLimit,
	}}
	defer b.stopLeftovers()
	ds, err := b.loadDataset(ctx)
	if err != nil {
		return err
	}

	// REST through the gateway.
	transport := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        2 * max(f.vus, f.model.Users),
		MaxIdleConnsPerHost: 2 * max(f.vus, f.model.Users),
		IdleConnTimeout:     2 * time.Minute,
		// We ask for gzip ourselves and read the compressed bytes, as a
		// client that decompresses lazily would; the server still compresses.
		DisableCompression: true,
	}
	defer transport.CloseIdleConnections()
	lg := loadgen.Config{
		Client: &http.Client{Transport: transport, Timeout: time.Minute},
		VUs:    f.vus,
		Seed:   1,
		Header: http.Header{"X-Api-Key": {b.api.key}, "Accept-Encoding": {"gzip"}},
	}
	// The user model first: on the dataset as loaded, with every cache
	// cold, as the design's users would meet it.
	var userRep *userReport
	if f.runUser {
		if userRep, err = runUserModel(ctx, lg, b.api, b.dbURL, b.d, f.model, b.logf); err != nil {
			return err
		}
	}
	if err := b.readDataset(ctx, &ds); err != nil {
		return err
	}
	grpcRows, err := b.grpcRows(ctx, ghzConfigs, ds.top)
	if err != nil {
		return err
	}
	var closed closedRun
	if f.runClosed {
		if closed, err = b.closedLoop(ctx, lg, ds.top); err != nil {
			return err
		}
	}

	b.logf("stopping the deployables")
	stopErr := b.d.stop()
	if stopErr != nil {
		b.logf("unclean stop: %v", stopErr)
	}
	rep := b.report(ctx, ds, userRep, grpcRows, closed, stopErr)
	return b.writeReport(rep, closed.studies)
}

// apiFlags are bench-api's flags.
type apiFlags struct {
	rows, suppliers, vus, ghzConcurrency                               int
	duration, warmup, ghzDuration, ceilingDuration, studyDuration      time.Duration
	binDir, ghzBin, configs, work, dbName, mixWeights, pprofDir, study string
	withGRPC, reuse                                                    bool
	// models is -model; runUser and runClosed are the loads it names.
	models             string
	runUser, runClosed bool
	model              userModel
}

// parseAPIFlags parses and checks bench-api's flags.
func parseAPIFlags(args []string) (apiFlags, error) {
	var f apiFlags
	fs := flag.NewFlagSet("bench-api", flag.ContinueOnError)
	fs.IntVar(&f.rows, "rows", 1_000_000, "transactions in the generated dataset")
	fs.IntVar(&f.suppliers, "suppliers", 10_000, "suppliers in the generated dataset")
	fs.DurationVar(&f.duration, "duration", 60*time.Second, "length of the mixed REST load")
	fs.DurationVar(&f.warmup, "warmup", 15*time.Second, "the same mix, run first and not measured, so that the measured one meets a platform that has been serving (its memos, caches, connection pools and prepared statements filled), as users do; 0 measures from a cold start")
	fs.IntVar(&f.vus, "vus", 1000, "virtual users of the REST load (closed loop)")
	fs.DurationVar(&f.ghzDuration, "ghz-duration", 10*time.Second, "length of each ghz run")
	// Two calls in flight per core: the latency of a busy machine, not the
	// length of a queue, which a p99 target would otherwise measure.
	fs.IntVar(&f.ghzConcurrency, "ghz-concurrency", 4, "ghz workers: two per core measures latency, not queueing; raise it to measure saturation")
	fs.DurationVar(&f.ceilingDuration, "ceiling-duration", 10*time.Second, "length of the REST ceiling run (GET /healthz)")
	fs.StringVar(&f.binDir, "bin", "bin", "folder with the built deployables")
	fs.StringVar(&f.ghzBin, "ghz", "", "the ghz binary (default: ghz in -bin)")
	fs.StringVar(&f.configs, "configs", filepath.Join("bench", "ghz"), "folder of ghz configs")
	fs.StringVar(&f.work, "work", ".bench", "folder for the dataset, logs and results")
	fs.StringVar(&f.dbName, "db", "vcci_bench_api", "database to load the dataset into (dropped and made again): give runs that share a PostgreSQL names of their own")
	fs.BoolVar(&f.withGRPC, "grpc", true, "run the ghz rows (false: only the REST ceiling and mix)")
	fs.StringVar(&f.mixWeights, "mix", designMix, "weights of list transactions : get supplier : emissions summary : small upload, in both models (the design's mix; change it only to study one operation)")
	fs.StringVar(&f.pprofDir, "pprof", "", "if set, CPU profiles of every deployable during the mix (and in user/ during the user model) go into this folder")
	fs.BoolVar(&f.reuse, "reuse", false, "start from a copy of the database a previous run loaded with the same dataset (kept as a template), instead of loading it again; for profiling runs")
	fs.StringVar(&f.study, "study", "", "after the mix, more mixes on the same stack, comma-separated (e.g. 1:0:0:0,0:1:0:0), each run for -study-duration; prints rps and CPU per request by process")
	fs.DurationVar(&f.studyDuration, "study-duration", 20*time.Second, "length of each -study mix")
	fs.StringVar(&f.models, "model", "user,closed", "which REST loads to run, comma-separated: user (the design's users: arriving together, cold, pausing between requests; run first, on the freshly loaded dataset) and closed (the closed-loop capacity run and its ceiling)")
	m := &f.model
	fs.IntVar(&m.Users, "users", 1000, "user model: users, all arriving at the start")
	fs.DurationVar(&m.Duration, "user-duration", 60*time.Second, "user model: length of the run")
	fs.DurationVar(&m.Think.Min, "think-min", time.Second, "user model: shortest pause after an answer")
	fs.DurationVar(&m.Think.Max, "think-max", 3*time.Second, "user model: longest pause after an answer")
	fs.IntVar(&m.Pages, "pages", 100, "user model: a transactions page is one of pages 1..pages")
	fs.IntVar(&m.PerPage, "per-page", 50, "user model: per_page of a transactions page")
	fs.IntVar(&m.SampleEvery, "sample-uploads", 10, "user model: every n-th upload is polled until SUCCEEDED, to measure how long a user waits for it (every report's time is read from the database)")
	fs.IntVar(&m.ReportEvery, "report-every", 20, "user model: one request in this many asks for a report (kind and format at random), the design's mix keeping its ratios; 0: no reports")
	if err := parseFlags(fs, args); err != nil {
		return f, err
	}
	if f.ghzBin == "" {
		f.ghzBin = filepath.Join(f.binDir, "ghz")
	}
	m.Pprof, m.Mix = userPprof(f.pprofDir), f.mixWeights
	err := f.check() // before f is returned: it reads -model into f
	return f, err
}

// check rejects flags no run can be made with, and reads -model.
func (f *apiFlags) check() error {
	if f.vus < 1 || f.duration <= 0 || f.ghzDuration <= 0 || f.ghzConcurrency < 1 || f.ceilingDuration <= 0 {
		return errors.New("bench-api: -vus, -duration, -ghz-duration, -ghz-concurrency and -ceiling-duration must be positive")
	}
	for name := range strings.SplitSeq(f.models, ",") {
		switch strings.TrimSpace(name) {
		case "user":
			f.runUser = true
		case "closed":
			f.runClosed = true
		default:
			return fmt.Errorf("bench-api: -model %q: want user, closed or both", f.models)
		}
	}
	m := f.model
	if f.runUser && (m.Users < 1 || m.Duration <= 0 || m.Think.Min < 0 || m.Think.Max < m.Think.Min ||
		m.Pages < 1 || m.PerPage < 1 || m.SampleEvery < 1 || m.ReportEvery == 1 || m.ReportEvery < 0) {
		return errors.New("bench-api: -users, -user-duration, -pages, -per-page and -sample-uploads must be positive, -report-every 0 or at least 2, and -think-min <= -think-max")
	}
	return nil
}

// apiBench is one bench-api run: its flags and the platform it measures.
type apiBench struct {
	flags  apiFlags
	limits []string // the deployables' rate-limit settings
	dbURL  string
	d      *deployables
	api    *restAPI
}

// logf reports progress on stderr.
func (*apiBench) logf(format string, a ...any) {
	fmt.Fprintf(os.Stderr, "bench-api: "+format+"\n", a...)
}

// start starts the deployables on b's database.
func (b *apiBench) start(ctx context.Context) error {
	f := b.flags
	var err error
	b.d, err = startDeployables(ctx, f.binDir, f.work, "bench-api-", f.pprofDir != "", append([]string{"DATABASE_URL=" + b.dbURL}, b.limits...)...)
	return err
}

// stopLeftovers stops the deployables a failed run left running.
func (b *apiBench) stopLeftovers() {
	if b.d == nil {
		return
	}
	if err := b.d.stop(); err != nil {
		b.logf("unclean stop: %v", err)
	}
}

// loadedDataset is the dataset as loaded, and what the benchmark read
// back from it.
type loadedDataset struct {
	file     string
	size     int64
	up       uploadStatus
	loadTime time.Duration
	// Read back once loaded.
	dash dashboardCounts
	top  []supplierRef
}

// dashboardCounts is the part of GET /v1/dashboard the report gives.
type dashboardCounts struct {
	TransactionCount json.Number `json:"transactionCount"`
	SupplierCount    json.Number `json:"supplierCount"`
}

// loadDataset generates the dataset (once per size), loads it into a fresh
// database, or, with -reuse, into a copy of the one an earlier run loaded,
// and starts the deployables on it.
func (b *apiBench) loadDataset(ctx context.Context) (loadedDataset, error) {
	f := b.flags
	var ds loadedDataset
	// The dataset, generated once per size and kept.
	file, err := spendFile(f.work, f.rows, f.suppliers)
	if err != nil {
		return ds, err
	}
	info, err := os.Stat(file)
	if err != nil {
		return ds, fmt.Errorf("bench-api: %w", err)
	}
	ds.file, ds.size = file, info.Size()

	admin := adminURL()
	template := fmt.Sprintf("%s_t%d_%d", f.dbName, f.rows, f.suppliers)
	reused := false
	if f.reuse {
		if b.dbURL, reused, err = cloneDatabase(ctx, admin, template, f.dbName); err != nil {
			return ds, err
		}
		if reused {
			b.logf("reusing the dataset loaded earlier (database %s)", template)
		}
	}
	if !reused {
		if b.dbURL, err = freshDatabase(ctx, admin, f.dbName); err != nil {
			return ds, err
		}
	}
	if err := b.start(ctx); err != nil {
		return ds, err
	}
	b.logf("deployables up: gateway %s, gRPC %v", b.d.httpURL, b.d.grpc)
	key, err := benchKey(ctx, b.dbURL)
	if err != nil {
		return ds, err
	}
	b.api = &restAPI{base: b.d.httpURL, key: key, client: &http.Client{Timeout: 10 * time.Minute}}
	if reused {
		if ds.up, ds.loadTime, err = b.api.loadedUpload(ctx); err != nil {
			return ds, err
		}
	} else if err := b.upload(ctx, &ds, admin, template); err != nil {
		return ds, err
	}
	b.logf("upload %s: %s rows accepted, %s calculated in %.1fs", ds.up.Name, ds.up.RowsAccepted, ds.up.RowsCalculated, ds.loadTime.Seconds())
	return ds, nil
}

// upload loads ds's file through the REST upload and vacuums what it
// stored; with -reuse, it keeps the loaded database as template.
func (b *apiBench) upload(ctx context.Context, ds *loadedDataset, admin, template string) error {
	b.logf("uploading %s (%.1f MB) through POST /v1/uploads", ds.file, float64(ds.size)/1e6)
	began := time.Now()
	var err error
	if ds.up, err = b.api.uploadAndWait(ctx, ds.file); err != nil {
		return err
	}
	ds.loadTime = time.Since(began)
	// A million rows just inserted are autovacuum's next work; left to
	// it, that work would land in the measured mix, and only in runs
	// that loaded the dataset (a template's copies start with no
	// statistics, so autovacuum sees nothing to do in them).
	took, err := vacuumDatabase(ctx, b.dbURL)
	if err != nil {
		return err
	}
	b.logf("vacuumed and analyzed the loaded dataset in %.1fs, as autovacuum would after such a load", took.Seconds())
	if !b.flags.reuse {
		return nil
	}
	// A template can only be copied from a database nobody is
	// connected to.
	b.logf("keeping the loaded database as %s for -reuse", template)
	if err := b.d.stop(); err != nil {
		return err
	}
	if _, err := recreateDatabase(ctx, admin, template, b.flags.dbName); err != nil {
		return err
	}
	if err := b.start(ctx); err != nil {
		return err
	}
	b.api.base = b.d.httpURL
	return nil
}

// readDataset reads the dashboard's counts and the top suppliers into ds,
// and creates a handful of campaigns, so that ListCampaigns returns
// something.
func (b *apiBench) readDataset(ctx context.Context, ds *loadedDataset) error {
	if body, err := b.api.do(ctx, http.MethodGet, "/v1/dashboard", "", nil); err != nil {
		return err
	} else if err := json.Unmarshal(body, &ds.dash); err != nil {
		return fmt.Errorf("dashboard: %w: %s", err, body)
	}
	top, err := b.api.topSuppliers(ctx, 1000)
	if err != nil {
		return err
	}
	if len(top) == 0 {
		return errors.New("bench-api: no suppliers after the upload")
	}
	ds.top = top
	for _, n := range []int{10, 20, 50} {
		body := fmt.Sprintf(`{"displayName":"Top %d emitters","topN":%d}`, n, n)
		if _, err := b.api.do(ctx, http.MethodPost, "/v1/campaigns", "application/json", strings.NewReader(body)); err != nil {
			return fmt.Errorf("create campaign: %w", err)
		}
	}
	return nil
}

// grpcRows runs ghz at each service, straight, ceiling first (none
// without -grpc).
func (b *apiBench) grpcRows(ctx context.Context, configs []ghzConfig, top []supplierRef) ([]apiRow, error) {
	f := b.flags
	if !f.withGRPC {
		return nil, nil
	}
	vars := map[string]string{"SUPPLIER": strings.TrimPrefix(top[0].Name, "suppliers/")}
	rows := make([]apiRow, 0, len(configs))
	for _, c := range configs {
		addr, ok := b.d.grpc[c.Service]
		if !ok {
			return nil, fmt.Errorf("%s: tags.service %q is not one of %v", c.File, c.Service, slices.Sorted(maps.Keys(b.d.grpc)))
		}
		b.logf("ghz %s against %s for %s at -c %d", c.Name, addr, f.ghzDuration, f.ghzConcurrency)
		row, err := runGHZ(ctx, f.ghzBin, c, filepath.Join(f.work, "ghz"), addr, b.api.key, vars, f.ghzConcurrency, f.ghzDuration)
		if err != nil {
			if ctx.Err() != nil {
				return nil, err
			}
			// A config ghz cannot run (say, a method that is not there) is
			// a failed row, not a lost suite.
			b.logf("%v", err)
			row = apiRow{Operation: c.Name, Protocol: protoGRPC, Ceiling: c.Ceiling, Config: c.File, ErrorExamples: []string{err.Error()}}
		}
		rows = append(rows, row)
	}
	return rows, nil
}

// closedRun is what the closed-loop REST loads measured.
type closedRun struct {
	ceiling, mixed loadgen.Result
	cpu, edge      string // during the mix: cpuLine, and the edge cache's work
	drain          drained
	studies        []string
}

// closedLoop runs the REST ceiling, the mix (after its warm-up) and the
// -study mixes, closed loop, on lg's client.
func (b *apiBench) closedLoop(ctx context.Context, lg loadgen.Config, top []supplierRef) (closedRun, error) {
	f := b.flags
	var out closedRun
	ceiling := lg
	ceiling.Duration = f.ceilingDuration
	ceiling.Ops = []loadgen.Op{{Name: "GET /healthz", Weight: 1, New: b.api.get(func(*rand.Rand) string { return "/healthz" })}}
	b.logf("REST ceiling: %d VUs on GET /healthz for %s", f.vus, f.ceilingDuration)
	var err error
	if out.ceiling, err = loadgen.Run(ctx, ceiling); err != nil {
		return out, err
	}
	if f.warmup > 0 {
		warm, err := b.mixRun(lg, top, 2, f.mixWeights, f.warmup)
		if err != nil {
			return out, err
		}
		b.logf("REST mix warm-up (not measured): %d VUs for %s", f.vus, f.warmup)
		if _, err := loadgen.Run(ctx, warm); err != nil {
			return out, err
		}
	}
	if err := b.measureMix(ctx, lg, top, &out); err != nil {
		return out, err
	}
	out.studies, err = b.studies(ctx, lg, top)
	return out, err
}

// mixRun is the mix of weights as run number run, for d. Every run of the
// mix sends files of its own (a run's number is in their transaction ids,
// and seeds its choices): the same bytes twice are one upload, which intake
// answers with the upload it already has and does no work for, so a run
// repeating another's would be cheap.
func (b *apiBench) mixRun(lg loadgen.Config, top []supplierRef, run uint64, weights string, d time.Duration) (loadgen.Config, error) {
	m := lg
	m.Seed, m.Duration, m.Ops = run, d, restMix(b.api, top, run)
	return m, setWeights(m.Ops, weights)
}

// measureMix runs the measured mix into out, with the CPU and edge cache
// work during it, and waits for the uploads it left to finish.
func (b *apiBench) measureMix(ctx context.Context, lg loadgen.Config, top []supplierRef, out *closedRun) error {
	f := b.flags
	mix, err := b.mixRun(lg, top, 1, f.mixWeights, f.duration)
	if err != nil {
		return err
	}
	b.logf("REST mix: %d VUs for %s", f.vus, f.duration)
	// The middle of the mix: past its warm-up, before its end.
	profiled := profileLater(ctx, b.d, f.pprofDir, f.duration/4, max(f.duration/2, time.Second))
	cpuBefore := sampleCPU(b.d)
	edgeBefore := edgeCounts(ctx, b.d.httpURL)
	if out.mixed, err = loadgen.Run(ctx, mix); err != nil {
		return err
	}
	out.cpu = cpuLine(cpuUse(cpuBefore, sampleCPU(b.d)), out.mixed.Elapsed, runtime.NumCPU())
	b.logf("CPU during the mix: %s", out.cpu)
	out.edge = edgeCounts(ctx, b.d.httpURL).since(edgeBefore).String()
	b.logf("gateway edge cache during the mix: %s", out.edge)
	drainProfile := ""
	if f.pprofDir != "" {
		drainProfile = filepath.Join(f.pprofDir, "drain")
	}
	if out.drain, err = drainUploads(ctx, b.dbURL, b.d, drainProfile); err != nil {
		return err
	}
	if out.drain.Pending > 0 {
		// What the machine keeps up with: the mix's requests over the mix
		// and the time the worker took to catch up with its uploads.
		out.drain.Sustained = float64(out.mixed.Total.Requests) / (out.mixed.Elapsed + out.drain.Took).Seconds()
	}
	b.logf("after the mix: %s", out.drain)
	if err := <-profiled; err != nil {
		b.logf("%v", err)
	} else if f.pprofDir != "" {
		b.logf("CPU profiles in %s (go tool pprof -top bin/<name> %s/<name>.cpu.pprof)", f.pprofDir, f.pprofDir)
	}
	return nil
}

// studies runs each -study mix and returns a studyLine for each.
func (b *apiBench) studies(ctx context.Context, lg loadgen.Config, top []supplierRef) ([]string, error) {
	f := b.flags
	var lines []string
	for spec := range strings.SplitSeq(f.study, ",") {
		if spec == "" {
			continue
		}
		m, err := b.mixRun(lg, top, 3+uint64(len(lines)), spec, f.studyDuration)
		if err != nil {
			return nil, err
		}
		b.logf("study %s: %d VUs for %s", spec, f.vus, f.studyDuration)
		before := sampleCPU(b.d)
		res, err := loadgen.Run(ctx, m)
		if err != nil {
			return nil, err
		}
		line := studyLine(spec, res, cpuUse(before, sampleCPU(b.d)))
		if dr, err := drainUploads(ctx, b.dbURL, b.d, ""); err != nil {
			return nil, err
		} else if dr.Pending > 0 {
			line += "; then " + dr.String()
		}
		lines = append(lines, line)
		b.logf("%s", line)
	}
	return lines, nil
}

// profileLater CPU-profiles every deployable of d into dir for dur,
// starting after wait; the channel says how that went (nil at once when
// dir is empty).
func profileLater(ctx context.Context, d *deployables, dir string, wait, dur time.Duration) <-chan error {
	profiled := make(chan error, 1)
	if dir == "" {
		profiled <- nil
		return profiled
	}
	go func() {
		select {
		case <-time.After(wait):
			profiled <- profileCPU(ctx, d, dir, dur)
		case <-ctx.Done():
			profiled <- ctx.Err()
		}
	}()
	return profiled
}

// report is the run's report, its rows judged.
func (b *apiBench) report(ctx context.Context, ds loadedDataset, userRep *userReport, grpcRows []apiRow, closed closedRun, stopErr error) apiReport {
	f := b.flags
	rep := apiReport{
		Date:  time.Now().UTC().Format(time.RFC3339),
		Cores: runtime.NumCPU(),
		Go:    runtime.Version(),
		Dataset: apiDataset{
			Transactions: f.rows, Suppliers: f.suppliers, FileBytes: ds.size,
			TransactionsStored: ds.dash.TransactionCount.String(), SuppliersStored: ds.dash.SupplierCount.String(),
			RowsAccepted: ds.up.RowsAccepted, RowsCalculated: ds.up.RowsCalculated, KgCO2e: ds.up.KgCo2e,
			LoadSeconds: ds.loadTime.Seconds(), TopSupplier: ds.top[0].Name,
		},
		GHZ:        apiGHZ{Concurrency: f.ghzConcurrency, Duration: f.ghzDuration.String(), Connections: 1},
		REST:       apiREST{VUs: f.vus, Duration: f.duration.String(), Warmup: f.warmup.String(), CeilingDuration: f.ceilingDuration.String()},
		RateLimits: b.limits,
		Redis:      redisNote(ctx),
		MixCPU:     closed.cpu,
		UserModel:  userRep,
		MixEdge:    closed.edge,
	}
	if stopErr != nil {
		rep.StopError = stopErr.Error()
	}
	rep.Rows = append(rep.Rows, grpcRows...)
	if f.runClosed {
		rep.Rows = append(rep.Rows, restRows(closed.mixed, closed.ceiling, f.vus, f.mixWeights)...)
		rep.MixDrain = closed.drain.String()
	}
	rep.judge()
	return rep
}

// writeReport prints rep and the study lines as markdown and writes them to
// bench-api.md, and rep to bench-api.json, in the work folder.
func (b *apiBench) writeReport(rep apiReport, studies []string) error {
	work := b.flags.work
	md := rep.markdown()
	if len(studies) > 0 {
		md += "\nStudies (mix weights list transactions : get supplier : summary : upload; CPU ms per request by process):\n\n" + strings.Join(studies, "\n") + "\n"
	}
	fmt.Print(md)
	if err := os.WriteFile(filepath.Join(work, "bench-api.md"), []byte(md), 0o644); err != nil {
		return fmt.Errorf("bench-api: %w", err)
	}
	js, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return fmt.Errorf("bench-api: report: %w", err)
	}
	if err := os.WriteFile(filepath.Join(work, "bench-api.json"), append(js, '\n'), 0o644); err != nil {
		return fmt.Errorf("bench-api: %w", err)
	}
	b.logf("wrote %s and %s; logs in %s, ghz configs and reports in %s",
		filepath.Join(work, "bench-api.md"), filepath.Join(work, "bench-api.json"),
		filepath.Join(work, "bench-api-*.log"), filepath.Join(work, "ghz"))
	return nil
}

// spendFile returns the dataset for rows and suppliers, writing it first if
// it is not in work yet (to a temporary name, so an interrupted run leaves
// no half file behind). bench-e2e's file of the same size is the same file.
func spendFile(work string, rows, suppliers int) (string, error) {
	return datasetFile(work, rows, suppliers, false)
}

// datasetFile is spendFile, or with mix the mixed file of that size.
func datasetFile(work string, rows, suppliers int, mix bool) (string, error) {
	name := fmt.Sprintf("spend-%d.csv", rows)
	if suppliers != 10_000 {
		name = fmt.Sprintf("spend-%d-%ds.csv", rows, suppliers)
	}
	if mix {
		name = "mixed-" + strings.TrimPrefix(name, "spend-")
	}
	file := filepath.Join(work, name)
	if _, err := os.Stat(file); err == nil {
		return file, nil
	}
	tmp := file + ".tmp"
	if err := writeSpend(tmp, rows, suppliers, 1, mix); err != nil {
		return "", err
	}
	if err := os.Rename(tmp, file); err != nil {
		return "", fmt.Errorf("keeping the spend file: %w", err)
	}
	return file, nil
}

// benchKey creates the tenant "bench" and an API key for it.
func benchKey(ctx context.Context, dbURL string) (string, error) {
	pool, err := pgxpool.New(ctx, dbURL)
	if err != nil {
		return "", fmt.Errorf("bench key: %w", err)
	}
	defer pool.Close()
	tenant, err := tenancy.EnsureTenant(ctx, pool, "bench")
	if err != nil {
		return "", err
	}
	return tenancy.IssueKey(ctx, pool, tenant, "bench")
}

// redisNote says whether the services found a Redis (REDIS_URL, else
// 127.0.0.1:6379), which holds the rate-limit budgets and the read cache.
func redisNote(ctx context.Context) string {
	if u := os.Getenv("REDIS_URL"); u != "" {
		return "REDIS_URL is set"
	}
	dialer := net.Dialer{Timeout: 200 * time.Millisecond}
	c, err := dialer.DialContext(ctx, "tcp", "127.0.0.1:6379")
	if err != nil {
		return "none (each process keeps its own budgets)"
	}
	c.Close()
	return "127.0.0.1:6379"
}

// restAPI is the REST edge with the benchmark's key.
type restAPI struct {
	base, key string
	client    *http.Client
}

// uploadStatus is the part of an Upload (as JSON) the benchmarks read.
type uploadStatus struct {
	Name           string `json:"name"`
	State          string `json:"state"`
	RowsAccepted   string `json:"rowsAccepted"`
	RowsRejected   string `json:"rowsRejected"`
	RowsCalculated string `json:"rowsCalculated"`
	KgCo2e         string `json:"kgCo2e"`
	FailureReason  string `json:"failureReason"`
	ErrorSamples   []struct {
		Row    string `json:"row"` // int64, a string in protojson
		Column string `json:"column"`
		Reason string `json:"reason"`
		Value  string `json:"value"`
	} `json:"errorSamples"`
}

// Upload states as the REST API spells them.
const (
	stateCalculating = "UPLOAD_STATE_CALCULATING"
	stateSucceeded   = "UPLOAD_STATE_SUCCEEDED"
	stateFailed      = "UPLOAD_STATE_FAILED"
)

func (a *restAPI) do(ctx context.Context, method, path, contentType string, body io.Reader) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, a.base+path, body)
	if err != nil {
		return nil, fmt.Errorf("bench-api: %w", err)
	}
	req.Header.Set("x-api-key", a.key)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := a.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("bench-api: %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("%s %s: reading the answer: %w", method, path, err)
	}
	if resp.StatusCode/100 != 2 {
		return nil, fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, bytes.TrimSpace(b))
	}
	return b, nil
}

// uploadAndWait POSTs file to /v1/uploads and polls the upload until it has
// SUCCEEDED.
func (a *restAPI) uploadAndWait(ctx context.Context, file string) (uploadStatus, error) {
	var up uploadStatus
	f, err := os.Open(file)
	if err != nil {
		return up, fmt.Errorf("upload: %w", err)
	}
	defer f.Close()
	body, err := a.do(ctx, http.MethodPost, "/v1/uploads?filename="+url.QueryEscape(filepath.Base(file)), "text/csv", f)
	if err != nil {
		return up, fmt.Errorf("upload: %w", err)
	}
	if err := json.Unmarshal(body, &up); err != nil {
		return up, fmt.Errorf("upload: %w: %s", err, body)
	}
	deadline := time.Now().Add(30 * time.Minute)
	for up.State != stateSucceeded {
		if up.State == stateFailed {
			return up, fmt.Errorf("upload %s failed: %s", up.Name, up.FailureReason)
		}
		if time.Now().After(deadline) {
			return up, fmt.Errorf("upload %s not done after 30 minutes: %s", up.Name, up.State)
		}
		select {
		case <-ctx.Done():
			return up, ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
		body, err := a.do(ctx, http.MethodGet, "/v1/"+up.Name, "", nil)
		if err != nil {
			return up, err
		}
		if err := json.Unmarshal(body, &up); err != nil {
			return up, fmt.Errorf("upload status: %w: %s", err, body)
		}
	}
	return up, nil
}

type supplierRef struct {
	Name        string `json:"name"`
	DisplayName string `json:"displayName"`
}

// topSuppliers lists the n largest emitters (ListSuppliers' default order).
func (a *restAPI) topSuppliers(ctx context.Context, n int) ([]supplierRef, error) {
	body, err := a.do(ctx, http.MethodGet, "/v1/suppliers?page_size="+strconv.Itoa(n), "", nil)
	if err != nil {
		return nil, err
	}
	var resp struct {
		Suppliers []supplierRef `json:"suppliers"`
	}
	if err := json.Unmarshal(body, &resp); err != nil {
		return nil, fmt.Errorf("list suppliers: %w", err)
	}
	return resp.Suppliers, nil
}

// get is a loadgen builder for a GET of the path pick returns.
func (a *restAPI) get(pick func(*rand.Rand) string) func(context.Context, int, uint64, *rand.Rand) (*http.Request, error) {
	return func(ctx context.Context, _ int, _ uint64, rng *rand.Rand) (*http.Request, error) {
		return http.NewRequestWithContext(ctx, http.MethodGet, a.base+pick(rng), http.NoBody)
	}
}

// uploadCodes are NAICS codes with factors in the default library: steel
// mills, general freight trucking, custom software.
var uploadCodes = []string{"331110", "484110", "541511"}

// restMix is the closed-loop REST load: list transactions 10 : get
// supplier 5 : emissions summary 3 : small upload 2, over the top
// suppliers. run numbers the uploads' files and transaction ids apart from
// other runs'.
func restMix(a *restAPI, top []supplierRef, run uint64) []loadgen.Op {
	ids := supplierIDs(top)
	return restOps(a, func(rng *rand.Rand) string {
		// One in four narrows to a supplier, as a drill-down would.
		if rng.IntN(4) == 0 {
			return "/v1/transactions?page_size=50&supplier=" + ids[rng.IntN(len(ids))]
		}
		return "/v1/transactions?page_size=50"
	}, ids, top, run)
}

func supplierIDs(sups []supplierRef) []string {
	ids := make([]string, len(sups))
	for i, s := range sups {
		ids[i] = strings.TrimPrefix(s.Name, "suppliers/")
	}
	return ids
}

// restOps are the design's four operations, in designMix's order: a list
// of transactions (the path list picks), one of sups by id, the emissions
// summary, and a 10-row upload naming suppliers of sups, with content and
// an Idempotency-Key of its own (run numbers them apart from other runs').
func restOps(a *restAPI, list func(*rand.Rand) string, ids []string, sups []supplierRef, run uint64) []loadgen.Op {
	return []loadgen.Op{
		{Name: "list transactions", Weight: 10, New: a.get(list)},
		{Name: "get supplier", Weight: 5, New: a.get(func(rng *rand.Rand) string {
			return "/v1/suppliers/" + ids[rng.IntN(len(ids))]
		})},
		{Name: "emissions summary", Weight: 3, New: a.get(func(*rand.Rand) string {
			return "/v1/emissionResults:summarize?group_by=SUMMARY_DIMENSION_CATEGORY"
		})},
		{Name: "small upload (10 rows)", Weight: 2, New: func(ctx context.Context, vu int, seq uint64, rng *rand.Rand) (*http.Request, error) {
			body, err := smallUpload(run, vu, seq, rng, sups)
			if err != nil {
				return nil, err
			}
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, fmt.Sprintf("%s/v1/uploads?filename=lg-%d-%d-%d.csv", a.base, run, vu, seq), bytes.NewReader(body))
			if err != nil {
				return nil, fmt.Errorf("small upload: %w", err)
			}
			req.Header.Set("Content-Type", "text/csv")
			// As a client of the API should: with a key, a retry stores
			// nothing twice, so net/http resends an upload whose kept-alive
			// connection the server had closed before reading it.
			req.Header.Set("Idempotency-Key", fmt.Sprintf("lg-%d-%d-%d", run, vu, seq))
			return req, nil
		}},
	}
}

// designMix is the design's REST mix: list transactions 10 : get supplier 5
// : emissions summary 3 : small upload 2.
const designMix = "10:5:3:2"

// setWeights sets the ops' weights from "a:b:c:d".
func setWeights(ops []loadgen.Op, spec string) error {
	parts := strings.Split(spec, ":")
	if len(parts) != len(ops) {
		return fmt.Errorf("bench-api: -mix %q: want %d weights separated by ':'", spec, len(ops))
	}
	for i, p := range parts {
		w, err := strconv.Atoi(p)
		if err != nil || w < 0 {
			return fmt.Errorf("bench-api: -mix %q: %q is not a weight (0 or more)", spec, p)
		}
		ops[i].Weight = w
	}
	return nil
}

// smallUpload is a 10-row spend CSV whose transaction ids are unique to
// (run, vu, seq), so that no two uploads are the same content.
func smallUpload(run uint64, vu int, seq uint64, rng *rand.Rand, top []supplierRef) ([]byte, error) {
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	// A bytes.Buffer takes every write: the writer's one error, if any, is
	// at w.Error below.
	_ = w.Write([]string{"transaction_id", "date", "supplier_id", "supplier_name", "naics_code", "amount", "currency", "description"})
	for i := range 10 {
		s := top[rng.IntN(len(top))]
		date := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, rng.IntN(366))
		_ = w.Write([]string{
			fmt.Sprintf("LG%d-%04d-%07d-%02d", run, vu, seq, i),
			date.Format(time.DateOnly),
			strings.TrimPrefix(s.Name, "suppliers/"),
			s.DisplayName,
			uploadCodes[rng.IntN(len(uploadCodes))],
			fmt.Sprintf("%d.%02d", 10+rng.IntN(5000), rng.IntN(100)),
			"USD",
			"loadgen small upload",
		})
	}
	w.Flush()
	return b.Bytes(), w.Error()
}

// ghzConfig is one committed ghz config and what the runner needs from it.
type ghzConfig struct {
	File    string
	Name    string
	Service string
	Ceiling bool
	raw     []byte
}

// loadGHZConfigs reads dir/*.json: ceilings first, then by file name.
func loadGHZConfigs(dir string) ([]ghzConfig, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return nil, fmt.Errorf("ghz configs: %w", err)
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("no ghz configs in %s (run from the repository root, or pass -configs)", dir)
	}
	var out []ghzConfig
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("ghz config: %w", err)
		}
		var c struct {
			Name string            `json:"name"`
			Call string            `json:"call"`
			Tags map[string]string `json:"tags"`
		}
		if err := json.Unmarshal(raw, &c); err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		if c.Name == "" || c.Call == "" || c.Tags["service"] == "" {
			return nil, fmt.Errorf("%s: needs name, call and tags.service", f)
		}
		out = append(out, ghzConfig{File: f, Name: c.Name, Service: c.Tags["service"], Ceiling: c.Tags["role"] == "ceiling", raw: raw})
	}
	slices.SortStableFunc(out, func(a, b ghzConfig) int {
		switch {
		case a.Ceiling && !b.Ceiling:
			return -1
		case b.Ceiling && !a.Ceiling:
			return 1
		}
		return 0
	})
	return out, nil
}

// ghzReport is the part of ghz's JSON report we read.
type ghzReport struct {
	Count               int64              `json:"count"`
	Total               time.Duration      `json:"total"`
	Rps                 float64            `json:"rps"`
	ErrorDist           map[string]int64   `json:"errorDistribution"`
	StatusCodeDist      map[string]int64   `json:"statusCodeDistribution"`
	LatencyDistribution []ghzLatencyBucket `json:"latencyDistribution"`
}

type ghzLatencyBucket struct {
	Percentage int           `json:"percentage"`
	Latency    time.Duration `json:"latency"`
}

// runGHZ runs one config against addr: the run-time values (${NAME} in the
// config's data) go into a copy in dir, the address, key, concurrency and
// duration are flags, which ghz lets override the file. The report, less its
// per-call details, is kept beside the copy.
func runGHZ(ctx context.Context, bin string, c ghzConfig, dir, addr, key string, vars map[string]string, concurrency int, dur time.Duration) (apiRow, error) {
	base := strings.TrimSuffix(filepath.Base(c.File), ".json")
	expanded := os.Expand(string(c.raw), func(k string) string {
		if v, ok := vars[k]; ok {
			return v
		}
		return "${" + k + "}"
	})
	cfgPath := filepath.Join(dir, base+".json")
	if err := os.WriteFile(cfgPath, []byte(expanded), 0o644); err != nil {
		return apiRow{}, fmt.Errorf("ghz %s: %w", base, err)
	}
	md, err := json.Marshal(map[string]string{"x-api-key": key})
	if err != nil {
		return apiRow{}, fmt.Errorf("ghz %s: metadata: %w", base, err)
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, "--config", cfgPath,
		"-c", strconv.Itoa(concurrency), "-z", dur.String(), "-m", string(md), "-O", "json", addr)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return apiRow{}, fmt.Errorf("ghz %s: %w: %s (build it with make tools)", base, err, bytes.TrimSpace(stderr.Bytes()))
	}
	if err := keepGHZReport(stdout.Bytes(), filepath.Join(dir, base+".report.json")); err != nil {
		return apiRow{}, fmt.Errorf("ghz %s: report: %w", base, err)
	}
	var r ghzReport
	if err := json.Unmarshal(stdout.Bytes(), &r); err != nil {
		return apiRow{}, fmt.Errorf("ghz %s: report: %w", base, err)
	}
	return ghzRow(c, r), nil
}

// keepGHZReport writes ghz's JSON report to file without its per-call
// details and with the API key redacted.
func keepGHZReport(report []byte, file string) error {
	var full map[string]json.RawMessage
	if err := json.Unmarshal(report, &full); err != nil {
		return fmt.Errorf("reading: %w", err)
	}
	delete(full, "details") // one entry per call: megabytes, and not needed
	var opts map[string]any
	if json.Unmarshal(full["options"], &opts) == nil && opts["metadata"] != nil {
		opts["metadata"] = map[string]string{"x-api-key": "(redacted)"}
		b, err := json.Marshal(opts)
		if err != nil {
			return fmt.Errorf("redacting: %w", err)
		}
		full["options"] = b
	}
	trimmed, err := json.MarshalIndent(full, "", "  ")
	if err != nil {
		return fmt.Errorf("trimming: %w", err)
	}
	if err := os.WriteFile(file, trimmed, 0o644); err != nil {
		return fmt.Errorf("keeping: %w", err)
	}
	return nil
}

// ghzRow is config c's row of the table from ghz's report r.
func ghzRow(c ghzConfig, r ghzReport) apiRow {
	row := apiRow{
		Operation: c.Name, Protocol: protoGRPC, Ceiling: c.Ceiling, Config: c.File,
		Requests: r.Count, RPS: r.Rps, Seconds: r.Total.Seconds(),
	}
	for msg, n := range r.ErrorDist {
		row.Errors += n
		if len(row.ErrorExamples) < 5 {
			row.ErrorExamples = append(row.ErrorExamples, fmt.Sprintf("%dx %s", n, msg))
		}
	}
	slices.Sort(row.ErrorExamples)
	if r.Count > 0 {
		row.ErrorRate = float64(row.Errors) / float64(r.Count)
	}
	for _, b := range r.LatencyDistribution {
		switch b.Percentage {
		case 50:
			row.P50 = ms(b.Latency)
		case 95:
			row.P95 = ms(b.Latency)
		case 99:
			row.P99 = ms(b.Latency)
		}
	}
	row.Successes = r.Count - row.Errors
	return row
}

// restRow is one REST operation's (or a group's) line of a table.
func restRow(name string, o loadgen.OpResult, elapsed time.Duration) apiRow {
	return apiRow{
		Operation: name, Protocol: protoREST, Requests: int64(o.Requests), Errors: int64(o.Errors),
		Successes: int64(len(o.Latencies)), ErrorRate: o.ErrorRate(), RPS: o.RPS, Seconds: elapsed.Seconds(),
		P50: ms(o.Percentile(50)), P95: ms(o.Percentile(95)), P99: ms(o.Percentile(99)),
		ErrorExamples: o.Examples,
	}
}

// restRows are the mix as a whole, each of its operations, and the ceiling.
func restRows(mixed, ceiling loadgen.Result, vus int, weights string) []apiRow {
	rows := make([]apiRow, 0, 2+len(mixed.Ops))
	rows = append(rows, restRow(fmt.Sprintf("REST ceiling: GET /healthz (%d VUs)", vus), ceiling.Total, ceiling.Elapsed))
	rows[0].Ceiling = true
	all := restRow(fmt.Sprintf("REST mix, %d VUs (%s)", vus, weights), mixed.Total, mixed.Elapsed)
	// Only the design's mix is judged against the mix target.
	all.Mix = weights == designMix
	rows = append(rows, all)
	paths := map[string]string{
		"list transactions":      "GET /v1/transactions?page_size=50",
		"get supplier":           "GET /v1/suppliers/{id}",
		"emissions summary":      "GET /v1/emissionResults:summarize",
		"small upload (10 rows)": "POST /v1/uploads (10 rows)",
	}
	for _, o := range mixed.Ops {
		name := "REST " + o.Name
		if p, ok := paths[o.Name]; ok {
			name = "REST " + p
		}
		rows = append(rows, restRow("↳ "+name, o, mixed.Elapsed))
	}
	return rows
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// apiTarget is a design target: latency bounds, or throughput and errors.
type apiTarget struct {
	P95, P99     time.Duration
	MinRPS       float64
	MaxErrorRate float64
	// AtVUs is the load the throughput target is set for.
	AtVUs int
}

// defaultTarget applies to every row without its own.
var defaultTarget = apiTarget{P95: 500 * time.Millisecond, P99: time.Second}

// rowTargets are the design targets by row; see the README.
var rowTargets = map[string]apiTarget{
	"IntakeService/GetSupplier":         {P99: 5 * time.Millisecond},
	"IntakeService/ListSuppliers (100)": {P99: 20 * time.Millisecond},
	"ReportingService/GetDashboard":     {P99: 20 * time.Millisecond},
	"mix":                               {MinRPS: closedMinRPS, MaxErrorRate: 0.001, AtVUs: 1000},
}

// maxErrorRate is the error rate above which a latency target fails too:
// the latency of requests that did not succeed is not measured.
const maxErrorRate = 0.001

func (t apiTarget) String() string {
	var parts []string
	if t.MinRPS > 0 {
		parts = append(parts, "> "+thousands(int64(t.MinRPS))+" rps")
	}
	if t.MaxErrorRate > 0 {
		parts = append(parts, "errors < "+strconv.FormatFloat(t.MaxErrorRate*100, 'f', -1, 64)+"%")
	}
	if t.P95 > 0 {
		parts = append(parts, "p95 < "+humanDur(t.P95))
	}
	if t.P99 > 0 {
		parts = append(parts, "p99 < "+humanDur(t.P99))
	}
	s := strings.Join(parts, ", ")
	if t.AtVUs > 0 {
		s += " at " + thousands(int64(t.AtVUs)) + " VUs"
	}
	return s
}

func (t apiTarget) met(r apiRow) bool {
	if r.Successes == 0 {
		return false
	}
	errLimit := maxErrorRate
	if t.MaxErrorRate > 0 {
		errLimit = t.MaxErrorRate
	}
	return r.ErrorRate < errLimit &&
		(t.MinRPS == 0 || r.RPS > t.MinRPS) &&
		(t.P95 == 0 || r.P95 < ms(t.P95)) &&
		(t.P99 == 0 || r.P99 < ms(t.P99))
}

func humanDur(d time.Duration) string {
	if d >= time.Second && d%time.Second == 0 {
		return strconv.Itoa(int(d/time.Second)) + " s"
	}
	return strconv.FormatFloat(ms(d), 'f', -1, 64) + " ms"
}

func thousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// The protocols a row of the report measures.
const (
	protoGRPC = "gRPC"
	protoREST = "REST"
)

// apiRow is one line of the table. Latencies are milliseconds, of the
// successful requests; rates are per second of the run.
type apiRow struct {
	Operation      string   `json:"operation"`
	Protocol       string   `json:"protocol"`
	Config         string   `json:"ghz_config,omitempty"`
	Ceiling        bool     `json:"ceiling,omitempty"`
	Mix            bool     `json:"mix,omitempty"`
	Target         string   `json:"design_target,omitempty"`
	Pass           *bool    `json:"pass,omitempty"`
	Requests       int64    `json:"requests"`
	Successes      int64    `json:"successes"`
	Errors         int64    `json:"errors"`
	ErrorRate      float64  `json:"error_rate"`
	Seconds        float64  `json:"seconds"`
	RPS            float64  `json:"rps"`
	P50            float64  `json:"p50_ms"`
	P95            float64  `json:"p95_ms"`
	P99            float64  `json:"p99_ms"`
	RatioToCeiling float64  `json:"ratio_to_ceiling"`
	ErrorExamples  []string `json:"error_examples,omitempty"`
}

type apiReport struct {
	Date       string     `json:"date"`
	Cores      int        `json:"cores"`
	Go         string     `json:"go"`
	Dataset    apiDataset `json:"dataset"`
	GHZ        apiGHZ     `json:"ghz"`
	REST       apiREST    `json:"rest"`
	RateLimits []string   `json:"rate_limits"`
	Redis      string     `json:"redis"`
	StopError  string     `json:"stop_error,omitempty"`
	// MixCPU is the CPU each process used during the REST mix.
	MixCPU string `json:"mix_cpu"`
	// MixDrain is what the upload worker still had queued when the mix
	// ended, and how long it took to finish.
	MixDrain string `json:"mix_drain"`
	// MixEdge is what the gateway's edge cache did with the mix's GETs.
	MixEdge string   `json:"mix_edge"`
	Rows    []apiRow `json:"rows"`
	// UserModel is the design's users' run, if it ran.
	UserModel *userReport `json:"user_model,omitempty"`
}

type apiDataset struct {
	Transactions int `json:"transactions"`
	// Suppliers is the generator's supplier master; SuppliersStored those
	// that have transactions (the dashboard's counts after the load).
	Suppliers          int     `json:"suppliers"`
	TransactionsStored string  `json:"transactions_stored"`
	SuppliersStored    string  `json:"suppliers_stored"`
	FileBytes          int64   `json:"file_bytes"`
	RowsAccepted       string  `json:"rows_accepted"`
	RowsCalculated     string  `json:"rows_calculated"`
	KgCO2e             string  `json:"kg_co2e"`
	LoadSeconds        float64 `json:"load_seconds"`
	TopSupplier        string  `json:"top_supplier"`
}

type apiGHZ struct {
	Concurrency int    `json:"concurrency"`
	Connections int    `json:"connections"`
	Duration    string `json:"duration"`
}

type apiREST struct {
	VUs             int    `json:"vus"`
	Duration        string `json:"duration"`
	Warmup          string `json:"warmup"`
	CeilingDuration string `json:"ceiling_duration"`
}

// judge sets each row's target, verdict and ratio to its protocol's ceiling.
func (rep *apiReport) judge() {
	ceilings := map[string]float64{}
	for _, r := range rep.Rows {
		if r.Ceiling {
			ceilings[r.Protocol] = r.RPS
		}
	}
	for i := range rep.Rows {
		r := &rep.Rows[i]
		if c := ceilings[r.Protocol]; c > 0 {
			r.RatioToCeiling = r.RPS / c
		}
		if r.Ceiling {
			continue
		}
		t, ok := rowTargets[r.Operation]
		if r.Mix {
			t, ok = rowTargets["mix"], true
		}
		if !ok {
			t = defaultTarget
		}
		pass := t.met(*r)
		r.Target, r.Pass = t.String(), &pass
	}
}

// markdown is the report as bench-api prints it.
func (rep *apiReport) markdown() string {
	var b strings.Builder
	b.WriteString("\n## vcci bench-api\n\n")
	stored := func(n string) string {
		v, err := strconv.ParseInt(n, 10, 64)
		if err != nil {
			return n
		}
		return thousands(v)
	}
	fmt.Fprintf(&b, "%d cores; dataset: %s transactions from %s suppliers (generator: %s rows, %s-supplier master, %.1f MB CSV), loaded through POST /v1/uploads in %.1f s; %s\n\n",
		rep.Cores, stored(rep.Dataset.TransactionsStored), stored(rep.Dataset.SuppliersStored),
		thousands(int64(rep.Dataset.Transactions)), thousands(int64(rep.Dataset.Suppliers)),
		float64(rep.Dataset.FileBytes)/1e6, rep.Dataset.LoadSeconds, rep.Date)
	rep.writeTable(&b)
	rep.writeNotes(&b)
	rep.writeClosedLoop(&b)
	if rep.UserModel != nil {
		b.WriteString(rep.UserModel.markdown())
	}
	if ex := rep.errorExamples(); len(ex) > 0 {
		fmt.Fprintf(&b, "\nError examples:\n%s\n", strings.Join(ex, "\n"))
	}
	if rep.StopError != "" {
		fmt.Fprintf(&b, "\nUnclean stop: %s\n", rep.StopError)
	}
	return b.String()
}

// writeTable writes the table of rows, each against its target.
func (rep *apiReport) writeTable(b *strings.Builder) {
	b.WriteString("| operation | design target | p50 | p95 | p99 | rps | error rate | ratio to ceiling | met |\n")
	b.WriteString("|---|---|--:|--:|--:|--:|--:|--:|:-:|\n")
	for _, r := range rep.Rows {
		target, verdict := "ceiling", "—"
		if r.Pass != nil {
			target, verdict = r.Target, "✗"
			if *r.Pass {
				verdict = "✓"
			}
		}
		op := r.Operation
		if r.Protocol == protoGRPC {
			op = protoGRPC + " " + op
			if r.Ceiling {
				op += " ¹"
			}
		}
		fmt.Fprintf(b, "| %s | %s | %s | %s | %s | %s | %s | %.3f | %s |\n",
			op, target, fmtMS(r.P50), fmtMS(r.P95), fmtMS(r.P99), thousands(int64(r.RPS+0.5)),
			fmtRate(r), r.RatioToCeiling, verdict)
	}
}

// writeNotes writes how the table was measured, and what the platform did
// during the mix.
func (rep *apiReport) writeNotes(b *strings.Builder) {
	fmt.Fprintf(b, "\ngRPC: ghz straight at each service, -c %d over %d connection, %s per row (configs in bench/ghz). REST (closed loop, if run): closed-loop load generator through the gateway, %d VUs, mix %s measured after %s of the same mix unmeasured (warm-up), ceiling %s; every request sends x-api-key and Accept-Encoding: gzip.\n",
		rep.GHZ.Concurrency, rep.GHZ.Connections, rep.GHZ.Duration, rep.REST.VUs, rep.REST.Duration, rep.REST.Warmup, rep.REST.CeilingDuration)
	b.WriteString("\n¹ grpc.health.v1.Health/Check on the intake server: the same grpc.Server, interceptors and stats handlers as the RPCs above, but health is not authenticated or rate limited.\n")
	fmt.Fprintf(b, "Percentiles are of successful requests; rps counts every completed request; a latency target also needs errors < %s%%. Ratio to ceiling is rps over the same protocol's ceiling rps.\n",
		strconv.FormatFloat(maxErrorRate*100, 'f', -1, 64))
	fmt.Fprintf(b, "Per-key rate limits raised to %s for every class (the limiter still decides every request); Redis: %s. The load generator and ghz run on the same %d cores as the services and PostgreSQL.\n",
		benchRateLimit, rep.Redis, rep.Cores)
	if rep.MixCPU != "" {
		fmt.Fprintf(b, "CPU during the REST mix: %s.\n", rep.MixCPU)
	}
	if rep.MixDrain != "" {
		fmt.Fprintf(b, "Uploads when the mix ended: %s.\n", rep.MixDrain)
	}
	if rep.MixEdge != "" {
		fmt.Fprintf(b, "Gateway edge cache during the mix: %s.\n", rep.MixEdge)
	}
}

// writeClosedLoop writes the judged mix's throughput beside the REST
// ceiling.
func (rep *apiReport) writeClosedLoop(b *strings.Builder) {
	ceiling := 0.0
	for _, r := range rep.Rows {
		if r.Ceiling && r.Protocol == protoREST {
			ceiling = r.RPS
		}
	}
	for _, r := range rep.Rows {
		if !r.Mix || r.Pass == nil {
			continue
		}
		met := "not met ✗"
		if *r.Pass {
			met = "met ✓"
		}
		fmt.Fprintf(b, "\nClosed loop (%s VUs, no pause): %s requests/s beside the same run's REST ceiling of %s (ratio %.2f); target %s: %s.\n",
			thousands(int64(rep.REST.VUs)), thousands(int64(r.RPS+0.5)), thousands(int64(ceiling+0.5)), r.RatioToCeiling, r.Target, met)
	}
}

// errorExamples are the rows' error examples, the user model's operations'
// among them, as list items.
func (rep *apiReport) errorExamples() []string {
	rows := slices.Clone(rep.Rows)
	if rep.UserModel != nil {
		for _, r := range rep.UserModel.Rows {
			if strings.HasPrefix(r.Operation, "↳") {
				r.Operation = "user model " + r.Operation
				rows = append(rows, r)
			}
		}
	}
	var ex []string
	for _, r := range rows {
		for _, e := range r.ErrorExamples {
			ex = append(ex, "- "+r.Operation+": "+e)
		}
	}
	return ex
}

func fmtMS(v float64) string {
	switch {
	case v == 0:
		return "—"
	case v < 10:
		return fmt.Sprintf("%.2f ms", v)
	case v < 100:
		return fmt.Sprintf("%.1f ms", v)
	}
	return fmt.Sprintf("%.0f ms", v)
}

func fmtRate(r apiRow) string {
	switch {
	case r.Requests == 0:
		return "no requests"
	case r.Errors == 0:
		return "0%"
	}
	return fmt.Sprintf("%.3f%% (%s)", r.ErrorRate*100, thousands(r.Errors))
}

// drained is what the upload worker still had to do when a mix ended.
type drained struct {
	Pending int           // uploads not yet finished when the mix ended
	Took    time.Duration // until none was left
	CPU     string        // cpuLine of the wait
	// Sustained is the mix's requests per second of the mix and the wait
	// together (0 when nothing was left).
	Sustained float64
}

func (d drained) String() string {
	if d.Pending == 0 {
		return "no upload was left queued"
	}
	s := fmt.Sprintf("%d uploads were still queued or running; they finished %.1f s later (CPU meanwhile: %s)", d.Pending, d.Took.Seconds(), d.CPU)
	if d.Sustained > 0 {
		s += fmt.Sprintf("; over the mix and that wait together, %.0f requests/s", d.Sustained)
	}
	return s
}

// drainUploads waits until the worker has finished every upload (state
// received, parsing or calculating), so that a mix's uploads are paid for
// by the mix that sent them and not by the next measurement. With
// profileDir, the first 10 s of the wait are CPU-profiled into it.
func drainUploads(ctx context.Context, dbURL string, d *deployables, profileDir string) (drained, error) {
	pool, err := pgxpool.New(ctx, dbURL)
	if err != nil {
		return drained{}, fmt.Errorf("bench-api: drain: %w", err)
	}
	defer pool.Close()
	pending := func() (int, error) {
		var n int
		if err := pool.QueryRow(ctx, "SELECT count(*) FROM intake.uploads WHERE state IN (1, 2, 3)").Scan(&n); err != nil {
			return 0, fmt.Errorf("bench-api: counting unfinished uploads: %w", err)
		}
		return n, nil
	}
	start, before := time.Now(), sampleCPU(d)
	n, err := pending()
	if err != nil || n == 0 {
		return drained{}, err
	}
	out := drained{Pending: n}
	if profileDir != "" {
		go func() {
			if err := profileCPU(ctx, d, profileDir, 10*time.Second); err != nil {
				fmt.Fprintln(os.Stderr, "bench-api: drain profile:", err)
			}
		}()
	}
	for n > 0 {
		if time.Since(start) > 15*time.Minute {
			return out, fmt.Errorf("bench-api: %d uploads still unfinished 15 minutes after the mix", n)
		}
		select {
		case <-ctx.Done():
			return out, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
		if n, err = pending(); err != nil {
			return out, err
		}
	}
	out.Took = time.Since(start)
	out.CPU = cpuLine(cpuUse(before, sampleCPU(d)), out.Took, runtime.NumCPU())
	return out, nil
}

// vacuumDatabase runs VACUUM (ANALYZE) over the database at url and returns
// how long it took.
func vacuumDatabase(ctx context.Context, dbURL string) (time.Duration, error) {
	c, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return 0, fmt.Errorf("bench-api: vacuuming the dataset: %w", err)
	}
	defer c.Close(ctx)
	began := time.Now()
	if _, err := c.Exec(ctx, "VACUUM (ANALYZE)"); err != nil {
		return 0, fmt.Errorf("bench-api: vacuuming the dataset: %w", err)
	}
	return time.Since(began), nil
}

// cloneDatabase replaces name with a copy of template, if template exists,
// and forgets the cached reads of earlier runs (their cache versions in
// Redis would otherwise hand out what the template's copy no longer holds).
func cloneDatabase(ctx context.Context, admin, template, name string) (string, bool, error) {
	c, err := pgx.Connect(ctx, admin)
	if err != nil {
		return "", false, fmt.Errorf("connecting to the admin database: %w", err)
	}
	var ok bool
	err = c.QueryRow(ctx, "SELECT EXISTS (SELECT FROM pg_database WHERE datname = $1)", template).Scan(&ok)
	c.Close(ctx)
	if err != nil {
		return "", false, fmt.Errorf("looking for %s: %w", template, err)
	}
	if !ok {
		return "", false, nil
	}
	dbURL, err := recreateDatabase(ctx, admin, name, template)
	if err != nil {
		return "", false, err
	}
	if err := forgetCachedReads(ctx); err != nil {
		return "", false, err
	}
	return dbURL, true, nil
}

// forgetCachedReads deletes the read cache's keys from Redis (REDIS_URL, else
// 127.0.0.1:6379); no Redis is no cache to forget.
func forgetCachedReads(ctx context.Context) error {
	opt := &redis.Options{Addr: "127.0.0.1:6379"}
	if u := os.Getenv("REDIS_URL"); u != "" {
		var err error
		if opt, err = redis.ParseURL(u); err != nil {
			return fmt.Errorf("REDIS_URL: %w", err)
		}
	}
	rdb := redis.NewClient(opt)
	defer rdb.Close()
	if rdb.Ping(ctx).Err() != nil {
		return nil
	}
	it := rdb.Scan(ctx, 0, "vcci:cache:*", 1000).Iterator()
	var keys []string
	for it.Next(ctx) {
		keys = append(keys, it.Val())
		if len(keys) == 1000 {
			if err := rdb.Unlink(ctx, keys...).Err(); err != nil {
				return err
			}
			keys = keys[:0]
		}
	}
	if err := it.Err(); err != nil {
		return err
	}
	if len(keys) > 0 {
		return rdb.Unlink(ctx, keys...).Err()
	}
	return nil
}

// loadedUpload is the dataset's upload in a reused database, and how long
// it took when it was loaded.
func (a *restAPI) loadedUpload(ctx context.Context) (uploadStatus, time.Duration, error) {
	var up uploadStatus
	var resp struct {
		Uploads []struct {
			uploadStatus
			CreateTime   time.Time `json:"createTime"`
			CompleteTime time.Time `json:"completeTime"`
		} `json:"uploads"`
	}
	body, err := a.do(ctx, http.MethodGet, "/v1/uploads?page_size=1000", "", nil)
	if err != nil {
		return up, 0, err
	}
	if err := json.Unmarshal(body, &resp); err != nil {
		return up, 0, fmt.Errorf("uploads: %w: %s", err, body)
	}
	// The dataset is the first upload; the list is newest first.
	if len(resp.Uploads) == 0 {
		return up, 0, errors.New("bench-api: -reuse: the template database holds no upload")
	}
	first := resp.Uploads[len(resp.Uploads)-1]
	if first.State != stateSucceeded {
		return up, 0, fmt.Errorf("bench-api: -reuse: the dataset upload %s is %s", first.Name, first.State)
	}
	return first.uploadStatus, first.CompleteTime.Sub(first.CreateTime), nil
}

// edgeResults are the gateway's vcci_gateway_edge_cache_requests_total
// counts by result (hit, miss, bypass).
type edgeResults map[string]float64

// edgeCounts reads them off the gateway's /metrics; nil if it cannot.
func edgeCounts(ctx context.Context, base string) edgeResults {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/metrics", http.NoBody)
	if err != nil {
		return nil
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		return nil
	}
	return parseEdgeCounts(string(b))
}

func parseEdgeCounts(text string) edgeResults {
	out := edgeResults{}
	const prefix = `vcci_gateway_edge_cache_requests_total{result="`
	for line := range strings.Lines(text) {
		rest, ok := strings.CutPrefix(line, prefix)
		if !ok {
			continue
		}
		result, value, ok := strings.Cut(rest, `"} `)
		if !ok {
			continue
		}
		if v, err := strconv.ParseFloat(strings.TrimSpace(value), 64); err == nil {
			out[result] = v
		}
	}
	return out
}

// since is e minus an earlier reading.
func (e edgeResults) since(before edgeResults) edgeResults {
	if e == nil {
		return nil
	}
	out := edgeResults{}
	for k, v := range e {
		out[k] = v - before[k]
	}
	return out
}

func (e edgeResults) String() string {
	total := e["hit"] + e["miss"] + e["bypass"]
	if total == 0 {
		return ""
	}
	return fmt.Sprintf("%s GETs answered at the edge (%.0f%%), %s sent on to a service, %s sent on while it could not be trusted",
		thousands(int64(e["hit"])), 100*e["hit"]/total, thousands(int64(e["miss"])), thousands(int64(e["bypass"])))
}

package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// benchE2E measures the upload flow with every deployable as its own process:
// a spend file POSTed to the REST gateway until every row is stored and
// calculated, against a plain psql \copy of the same file measured in the
// same run. With -mix it then does the same with a mixed file of spend and
// activity lines, on fresh processes and a fresh database, and compares the
// two.
func benchE2E(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("bench-e2e", flag.ContinueOnError)
	rows := fs.Int("rows", 1_000_000, "rows in the generated file")
	binDir := fs.String("bin", "bin", "folder with the built deployables (intake, calculator, hotspot, engagement, reporting, gateway)")
	work := fs.String("work", ".bench", "folder for the generated file and logs")
	dbName := fs.String("db", "vcci_bench", "database to (re)create for the platform; the baseline's is <db>_copy, the mixed file's <db>_mix")
	pprofDir := fs.String("pprof", "", "if set, CPU profiles of every deployable, in consecutive windows from the upload on, and a heap profile after each, go into <dir>/<window>/ (the mixed file's into <dir>/mix/<window>/)")
	window := fs.Duration("pprof-window", 5*time.Second, "length of one -pprof window")
	maxRatio := fs.Float64("max-ratio", 0, "if set, fail when end to end takes more than this many times the same run's \\copy")
	mix := fs.Bool("mix", false, "after the USD-only file, run a mixed file of as many rows (60% spend in six currencies over 2022-2025, 40% activity lines of every kind) and print its end to end against the USD-only file's")
	maxMixRatio := fs.Float64("max-mix-ratio", 0, "with -mix, if set, fail when the mixed file's end to end takes more than this many times the USD-only file's")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := os.MkdirAll(*work, 0o755); err != nil {
		return fmt.Errorf("bench-e2e: %w", err)
	}
	file, err := spendFile(*work, *rows, 10_000)
	if err != nil {
		return err
	}
	admin := adminURL()
	dbURL, err := freshDatabase(ctx, admin, *dbName)
	if err != nil {
		return err
	}

	// Baseline first, on its own database: a plain \copy into a partitioned,
	// indexed table of the same shape.
	baseURL, err := freshDatabase(ctx, admin, *dbName+"_copy")
	if err != nil {
		return err
	}
	copySecs, err := psqlCopy(ctx, baseURL, file)
	if err != nil {
		return err
	}

	usd := e2eCase{rows: *rows, kind: "rows", file: file, dbURL: dbURL, copySecs: copySecs, copyLabel: "baseline: psql \\copy, same file and shape"}
	if *mix {
		usd.kind = "USD-only spend rows"
	}
	usdRun, err := usd.run(ctx, *binDir, *work, *pprofDir, *window)
	if err != nil {
		return err
	}
	ratioErr := checkRatio(usdRun.total.Seconds(), copySecs, *maxRatio)
	if !*mix {
		return ratioErr
	}

	// The mixed file gets no \copy of its own: its lines have another shape
	// (activity lines have no amount, dates span four years), and one
	// yardstick for both files keeps their ratios comparable.
	mixed := e2eCase{rows: *rows, kind: "mixed rows (60% spend in six currencies, 40% activity)", copySecs: copySecs,
		copyLabel: "baseline: psql \\copy of the USD-only file", logPrefix: "mix-"}
	if mixed.file, err = datasetFile(*work, *rows, 10_000, true); err != nil {
		return errors.Join(ratioErr, err)
	}
	if mixed.dbURL, err = freshDatabase(ctx, admin, *dbName+"_mix"); err != nil {
		return errors.Join(ratioErr, err)
	}
	mixedPprof := ""
	if *pprofDir != "" {
		mixedPprof = filepath.Join(*pprofDir, "mix")
	}
	mixedRun, err := mixed.run(ctx, *binDir, *work, mixedPprof, *window)
	if err != nil {
		return errors.Join(ratioErr, err)
	}
	mixSecs, usdSecs := mixedRun.total.Seconds(), usdRun.total.Seconds()
	fmt.Printf("\nmixed / USD-only end to end = %.2fx   (mixed %.2f s, %.2fx the \\copy; USD-only %.2f s, %.2fx the \\copy)\n",
		mixSecs/usdSecs, mixSecs, mixSecs/copySecs, usdSecs, usdSecs/copySecs)
	return errors.Join(ratioErr, checkMixRatio(mixSecs, usdSecs, *maxMixRatio))
}

// e2eCase is one file bench-e2e sends through a fresh set of deployables.
type e2eCase struct {
	rows      int
	kind      string // what the rows are, for the report's title
	file      string
	dbURL     string // a fresh database for the platform
	copySecs  float64
	copyLabel string // the baseline's line in the report
	logPrefix string // of the deployables' logs
}

// run starts the deployables on c.dbURL, uploads c.file, prints the report
// and stops them; the peak memory is of this file alone.
func (c e2eCase) run(ctx context.Context, binDir, work, pprofDir string, window time.Duration) (e2eRun, error) {
	info, err := os.Stat(c.file)
	if err != nil {
		return e2eRun{}, fmt.Errorf("bench-e2e: %w", err)
	}
	d, err := startDeployables(ctx, binDir, work, c.logPrefix, pprofDir != "", "DATABASE_URL="+c.dbURL)
	defer func() {
		// The run has been measured by then; an unclean stop is told, not
		// failed on.
		if err := d.stop(); err != nil {
			fmt.Fprintln(os.Stderr, "bench-e2e: unclean stop:", err)
		}
	}()
	if err != nil {
		return e2eRun{}, err
	}
	key, err := benchKey(ctx, c.dbURL)
	if err != nil {
		return e2eRun{}, err
	}
	run, err := measureUpload(ctx, d, key, c.file, info.Size(), pprofDir, window)
	if err != nil {
		if run.up.State == stateFailed {
			printFailure(run.up)
			return run, fmt.Errorf("bench-e2e: the upload of %s failed (above)", c.file)
		}
		return run, err
	}
	printE2E(run, d, c, info.Size(), pprofDir, window)
	return run, nil
}

// e2eRun is what bench-e2e measured of one upload: when it was received,
// validated and fully calculated, the CPU used by then, and how many
// profile windows were taken.
type e2eRun struct {
	up                             uploadStatus
	received, validated, total     time.Duration
	cpuStart, cpuValidated, cpuEnd cpuSample
	windows                        int
}

// measureUpload POSTs file (size bytes) to the gateway with key and polls
// the upload until it has SUCCEEDED, profiling the deployables into
// pprofDir meanwhile when it is set.
func measureUpload(ctx context.Context, d *deployables, key, file string, size int64, pprofDir string, window time.Duration) (e2eRun, error) {
	var run e2eRun
	f, err := os.Open(file)
	if err != nil {
		return run, fmt.Errorf("bench-e2e: %w", err)
	}
	defer f.Close()
	start := time.Now()
	run.cpuStart = sampleCPU(d)
	pctx, stopProfiles := context.WithCancel(ctx)
	defer stopProfiles()
	profiled := make(chan int, 1)
	go func() { profiled <- profileWindows(pctx, d, pprofDir, window) }()
	if run.up, err = postUpload(ctx, d.httpURL, key, file, f, size); err != nil {
		return run, err
	}
	run.received = time.Since(start)
	for {
		time.Sleep(50 * time.Millisecond)
		body, err := getUpload(ctx, d.httpURL, key, &run.up)
		if err != nil {
			return run, err
		}
		if run.validated == 0 && (run.up.State == stateCalculating || run.up.State == stateSucceeded) {
			run.validated, run.cpuValidated = time.Since(start), sampleCPU(d)
		}
		if run.up.State == stateSucceeded {
			break
		}
		if run.up.State == stateFailed {
			return run, fmt.Errorf("upload failed: %s", body)
		}
		if time.Since(start) > 10*time.Minute {
			return run, fmt.Errorf("upload not done after 10 minutes: %s", body)
		}
	}
	run.total, run.cpuEnd = time.Since(start), sampleCPU(d)
	stopProfiles()
	run.windows = <-profiled
	if run.up.RowsRejected == "" { // protojson leaves zero out
		run.up.RowsRejected = "0"
	}
	return run, nil
}

// postUpload POSTs the spend file (named file, read from body) to the
// gateway at base and returns the upload it accepted.
func postUpload(ctx context.Context, base, key, file string, body io.Reader, size int64) (uploadStatus, error) {
	var up uploadStatus
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/v1/uploads?filename="+filepath.Base(file), body)
	if err != nil {
		return up, fmt.Errorf("upload: %w", err)
	}
	req.Header.Set("x-api-key", key)
	req.Header.Set("Content-Type", "text/csv")
	req.ContentLength = size
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return up, fmt.Errorf("upload: %w", err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		return up, fmt.Errorf("upload: %s: %s", resp.Status, b)
	}
	if err := json.Unmarshal(b, &up); err != nil {
		return up, fmt.Errorf("upload: %w: %s", err, b)
	}
	return up, nil
}

// getUpload reads up's current state into it and returns the answer.
func getUpload(ctx context.Context, base, key string, up *uploadStatus) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/v1/"+up.Name, http.NoBody)
	if err != nil {
		return nil, fmt.Errorf("status: %w", err)
	}
	req.Header.Set("x-api-key", key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("status: %w", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err := json.Unmarshal(body, up); err != nil {
		return nil, fmt.Errorf("status: %w: %s", err, body)
	}
	return body, nil
}

// rssOrder is the order bench-e2e reports peak memory in.
var rssOrder = []string{gatewayName, "intake", calculatorName, "hotspot", "engagement", "reporting"}

// printE2E prints bench-e2e's report of run, on c's file of size bytes.
func printE2E(run e2eRun, d *deployables, c e2eCase, size int64, pprofDir string, window time.Duration) {
	rows, copySecs := c.rows, c.copySecs
	accepted, _ := strconv.ParseFloat(run.up.RowsAccepted, 64)
	rss := map[string]int64{}
	for name, p := range d.procs {
		rss[name] = peakRSS(p.Process.Pid)
	}
	received, validated, total := run.received, run.validated, run.total
	rate := func(d time.Duration) string { return fmt.Sprintf("%.0f rows/s", accepted/d.Seconds()) }
	fmt.Printf("\nvcci bench-e2e: %d %s, %.1f MB, through the REST gateway, every service its own process\n\n", rows, c.kind, float64(size)/1e6)
	fmt.Printf("%-42s %10s  %s\n", "phase", "seconds", "rate")
	fmt.Printf("%-42s %10.2f  %s\n", "upload received and stored durably", received.Seconds(), rate(received))
	fmt.Printf("%-42s %10.2f  %s\n", "validated and stored (from start)", validated.Seconds(), rate(validated))
	fmt.Printf("%-42s %10.2f  %s\n", "calculation alone", (total - validated).Seconds(), rate(total-validated))
	fmt.Printf("%-42s %10.2f  %s\n", "end to end: stored and fully calculated", total.Seconds(), rate(total))
	fmt.Printf("%-42s %10.2f  %s\n", c.copyLabel, copySecs, rate(time.Duration(copySecs*float64(time.Second))))
	fmt.Printf("\nend to end / \\copy = %.2fx   (rows accepted %s, rejected %s, calculated %s, kg CO2e %s)\n",
		total.Seconds()/copySecs, run.up.RowsAccepted, run.up.RowsRejected, run.up.RowsCalculated, run.up.KgCo2e)
	printRowErrors(run.up)
	fmt.Printf("\nCPU, validation: %s\n", cpuLine(cpuUse(run.cpuStart, run.cpuValidated), validated, runtime.NumCPU()))
	fmt.Printf("CPU, calculation: %s\n", cpuLine(cpuUse(run.cpuValidated, run.cpuEnd), total-validated, runtime.NumCPU()))
	if run.windows > 0 {
		fmt.Printf("\nCPU profiles in %s/NN/<name>.cpu.pprof, %d windows of %s; validation ended in window %d\n",
			pprofDir, run.windows, window, int(validated/window))
	}
	fmt.Print("\npeak RSS (VmHWM):")
	for _, name := range rssOrder {
		fmt.Printf("  %s %.0f MB", name, float64(rss[name])/1024)
	}
	fmt.Println()
}

// printFailure tells why an upload failed as a whole, with its first
// errors.
func printFailure(up uploadStatus) {
	fmt.Printf("\nupload %s failed: %s (rows accepted %s, rejected %s)\n", up.Name, up.FailureReason, zeroIfEmpty(up.RowsAccepted), zeroIfEmpty(up.RowsRejected))
	printRowErrors(up)
}

// printRowErrors prints the upload's error samples, if any: a reader sees
// which lines were refused and why.
func printRowErrors(up uploadStatus) {
	if len(up.ErrorSamples) == 0 {
		return
	}
	const shown = 5
	fmt.Printf("first errors (GET /v1/%s/errors has every rejected row):\n", up.Name)
	for _, e := range up.ErrorSamples[:min(shown, len(up.ErrorSamples))] {
		fmt.Printf("  line %s  %s: %s  %q\n", e.Row, e.Column, e.Reason, e.Value)
	}
}

// zeroIfEmpty reads a protojson int64, which leaves zero out.
func zeroIfEmpty(n string) string {
	if n == "" {
		return "0"
	}
	return n
}

// checkMixRatio fails when the mixed file took more than limit times the
// USD-only file end to end (limit 0: never).
func checkMixRatio(mixed, usd, limit float64) error {
	if limit <= 0 || mixed <= limit*usd {
		return nil
	}
	return fmt.Errorf("the mixed file took %.1f s end to end, %.2fx the USD-only file's %.1f s, over the %.2fx allowed (-max-mix-ratio)", mixed, mixed/usd, usd, limit)
}

// checkRatio fails when end to end took more than limit times the copy
// (limit 0: never). A ratio measured in one run holds on a busy or a slow
// machine, where seconds would not.
func checkRatio(total, copySecs, limit float64) error {
	if limit <= 0 || total <= limit*copySecs {
		return nil
	}
	return fmt.Errorf("end to end took %.1f s, %.2fx the \\copy's %.1f s, over the %.1fx allowed (-max-ratio): bulk ingest got slower", total, total/copySecs, copySecs, limit)
}

// profileWindows takes CPU profiles of every deployable in consecutive
// windows, into dir/00, dir/01, ..., and a heap profile at the end of
// each, until ctx ends; it returns how many windows were taken whole (none
// when dir is empty).
func profileWindows(ctx context.Context, d *deployables, dir string, window time.Duration) int {
	if dir == "" {
		return 0
	}
	n := 0
	for ; ctx.Err() == nil; n++ {
		wdir := filepath.Join(dir, fmt.Sprintf("%02d", n))
		if err := profileCPU(ctx, d, wdir, window); err != nil {
			break
		}
		for name, addr := range d.pprof {
			saveHeapProfile(ctx, "http://"+addr+"/debug/pprof/heap", filepath.Join(wdir, name+".heap.pprof"))
		}
	}
	return n
}

// saveHeapProfile writes the heap profile at url to file, best effort.
func saveHeapProfile(ctx context.Context, url, file string) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, http.NoBody)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return
	}
	defer resp.Body.Close()
	if b, err := io.ReadAll(resp.Body); err == nil {
		_ = os.WriteFile(file, b, 0o644) // best effort: the CPU profiles stand without it
	}
}

// deployables are the five services and the gateway, each its own process
// started from the built binaries, on free loopback ports.
type deployables struct {
	procs   map[string]*exec.Cmd
	grpc    map[string]string // service name -> gRPC address
	httpURL string            // the gateway, "http://host:port"
	pprof   map[string]string // deployable -> its PPROF_ADDR, when asked for
	logs    []*os.File
}

// deployOrder starts the calculator first (it loads the factor library) and
// the gateway last.
var deployOrder = []string{calculatorName, "intake", "hotspot", "engagement", "reporting", gatewayName}

// The deployables started apart from the rest: the calculator before the
// others, the gateway on the HTTP address.
const (
	calculatorName = "calculator"
	gatewayName    = "gateway"
)

// startDeployables starts every deployable from binDir with env (on top of
// this process's environment, METRICS_ADDR=off and LOG_LEVEL=warn), logging
// to logDir/<logPrefix><name>.log, and returns once the gateway reports every
// backend ready. Call stop when done, also after an error.
func startDeployables(ctx context.Context, binDir, logDir, logPrefix string, pprof bool, env ...string) (*deployables, error) {
	d := &deployables{procs: map[string]*exec.Cmd{}, grpc: map[string]string{}, pprof: map[string]string{}}
	n := len(deployOrder)
	if pprof {
		n *= 2
	}
	free, err := freeAddrs(ctx, n)
	if err != nil {
		return d, err
	}
	addrs := map[string]string{}
	for i, name := range deployOrder {
		addrs[name] = free[i]
		if name != gatewayName {
			d.grpc[name] = free[i]
		}
		if pprof {
			d.pprof[name] = free[len(deployOrder)+i]
		}
	}
	d.httpURL = "http://" + addrs[gatewayName]
	base := append(os.Environ(), "METRICS_ADDR=off", "LOG_LEVEL=warn")
	base = append(base, env...)
	for name, addr := range d.grpc {
		base = append(base, strings.ToUpper(name)+"_ADDR="+addr)
	}
	for _, name := range deployOrder {
		cmd := exec.CommandContext(ctx, filepath.Join(binDir, name))
		cmd.Env = append(slices.Clip(base), "GRPC_ADDR="+addrs[name], "HTTP_ADDR="+addrs[gatewayName])
		if pprof {
			cmd.Env = append(cmd.Env, "PPROF_ADDR="+d.pprof[name])
		}
		// Cancelling ctx (Ctrl-C) asks for a graceful stop, as stop does;
		// the kill only comes if that takes too long.
		cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
		cmd.WaitDelay = stopTimeout
		logf, err := os.Create(filepath.Join(logDir, logPrefix+name+".log"))
		if err != nil {
			return d, fmt.Errorf("log of %s: %w", name, err)
		}
		d.logs = append(d.logs, logf)
		cmd.Stdout, cmd.Stderr = logf, logf
		if err := cmd.Start(); err != nil {
			return d, fmt.Errorf("start %s (build it with make build): %w", name, err)
		}
		d.procs[name] = cmd
		if name == calculatorName {
			if err := waitTCP(ctx, addrs[name], 60*time.Second); err != nil {
				return d, fmt.Errorf("calculator: %w (see %s)", err, logf.Name())
			}
		}
	}
	if err := waitReady(ctx, d.httpURL+"/readyz", 60*time.Second); err != nil {
		return d, fmt.Errorf("gateway: %w (see %s)", err, filepath.Join(logDir, logPrefix+"*.log"))
	}
	return d, nil
}

// stopTimeout bounds a deployable's graceful stop; past it, it is killed.
const stopTimeout = 30 * time.Second

// stop interrupts every process (each drains and stops gracefully), waits
// for all of them, and reports any that did not exit cleanly.
func (d *deployables) stop() error {
	for _, p := range d.procs {
		// One that has already exited says so through Wait below.
		_ = p.Process.Signal(os.Interrupt)
	}
	var errs []error
	for _, name := range deployOrder {
		if p, ok := d.procs[name]; ok {
			if err := p.Wait(); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", name, err))
			}
		}
	}
	for _, f := range d.logs {
		f.Close()
	}
	d.procs = nil
	return errors.Join(errs...)
}

// freshDatabase drops name and creates it again, empty; it returns its URL.
func freshDatabase(ctx context.Context, admin, name string) (string, error) {
	return recreateDatabase(ctx, admin, name, "")
}

// recreateDatabase drops name and creates it again, empty or, with a
// template, as a copy of it; it returns name's URL.
func recreateDatabase(ctx context.Context, admin, name, template string) (string, error) {
	c, err := pgx.Connect(ctx, admin)
	if err != nil {
		return "", fmt.Errorf("connecting to the admin database: %w", err)
	}
	defer c.Close(ctx)
	if _, err := c.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
		return "", fmt.Errorf("dropping %s: %w", name, err)
	}
	create := "CREATE DATABASE " + name
	if template != "" {
		create += " TEMPLATE " + template
		// PostgreSQL 15 copies a template through the WAL by default: the
		// gigabytes of a 1M-line dataset then forced checkpoints into the
		// measured run (docs/benchmarks.md). FILE_COPY copies the files,
		// checkpointed.
		var v int
		if err := c.QueryRow(ctx, "SELECT current_setting('server_version_num')::int").Scan(&v); err != nil {
			return "", fmt.Errorf("server version: %w", err)
		}
		if v >= 150000 {
			create += " STRATEGY FILE_COPY"
		}
	}
	if _, err := c.Exec(ctx, create); err != nil {
		return "", fmt.Errorf("creating %s: %w", name, err)
	}
	cfg := c.Config()
	return fmt.Sprintf("postgres://%s@%s/%s?sslmode=disable", cfg.User, net.JoinHostPort(cfg.Host, strconv.Itoa(int(cfg.Port))), name), nil
}

// psqlCopy times a plain \copy of file into a quarterly-partitioned table
// with the same primary key as intake.transactions.
func psqlCopy(ctx context.Context, url, file string) (float64, error) {
	var ddl strings.Builder
	ddl.WriteString(`CREATE TABLE spend (transaction_id text, tx_date date, supplier_id text, supplier_name text, naics_code text,
		amount numeric(18, 4), currency text, description text, PRIMARY KEY (transaction_id, tx_date)) PARTITION BY RANGE (tx_date);`)
	for q := range 5 {
		from := time.Date(2024, time.Month(q*3+1), 1, 0, 0, 0, 0, time.UTC)
		fmt.Fprintf(&ddl, "CREATE TABLE spend_q%d PARTITION OF spend FOR VALUES FROM ('%s') TO ('%s');", q, from.Format(time.DateOnly), from.AddDate(0, 3, 0).Format(time.DateOnly))
	}
	if out, err := exec.CommandContext(ctx, "psql", url, "-v", "ON_ERROR_STOP=1", "-qc", ddl.String()).CombinedOutput(); err != nil {
		return 0, fmt.Errorf("psql: %w: %s", err, out)
	}
	start := time.Now()
	out, err := exec.CommandContext(ctx, "psql", url, "-v", "ON_ERROR_STOP=1", "-qc", `\copy spend FROM '`+file+`' WITH (FORMAT csv, HEADER true)`).CombinedOutput()
	if err != nil {
		return 0, fmt.Errorf("psql \\copy: %w: %s", err, out)
	}
	return time.Since(start).Seconds(), nil
}

// freeAddrs returns n loopback addresses free now and distinct from each
// other: every port stays bound until all are chosen, since one closed
// early may be handed out again (two deployables were once given the same
// port, and the second failed to start).
func freeAddrs(ctx context.Context, n int) ([]string, error) {
	var lc net.ListenConfig
	held := make([]net.Listener, 0, n)
	defer func() {
		for _, l := range held {
			l.Close()
		}
	}()
	out := make([]string, 0, n)
	for range n {
		l, err := lc.Listen(ctx, "tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("finding a free port: %w", err)
		}
		held = append(held, l)
		out = append(out, l.Addr().String())
	}
	return out, nil
}

func waitTCP(ctx context.Context, addr string, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	dialer := net.Dialer{Timeout: 200 * time.Millisecond}
	for time.Now().Before(deadline) {
		if c, err := dialer.DialContext(ctx, "tcp", addr); err == nil {
			c.Close()
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return errors.New("not listening on " + addr)
}

func waitReady(ctx context.Context, url string, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, http.NoBody)
		if err != nil {
			return fmt.Errorf("readiness: %w", err)
		}
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	return errors.New("not ready: " + url)
}

// peakRSS reads a process's high-water resident set (kB) from /proc.
func peakRSS(pid int) int64 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return n
		}
	}
	return 0
}

// adminURL is the PostgreSQL server the benchmarks create their databases
// on: DATABASE_URL, else the local one.
func adminURL() string {
	if u := os.Getenv("DATABASE_URL"); u != "" {
		return u
	}
	return "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
}

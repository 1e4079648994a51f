//go:build faults

package faults

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/vcci-dev/vcci/pkg/testsupport"
)

// sizes are a run's sizes: reduced for CI, full with FAULTS_FULL=1.
type sizes struct {
	rows         int           // lines of the large uploads
	queued       int           // lines of each of the ten uploads queued behind a stopped calculator
	calcDown     time.Duration // how long the calculator stays down (FAULTS_CALCULATOR_DOWN)
	calcBack     time.Duration // the longest its queued uploads may take to succeed once it is back
	uploadTimout time.Duration // UPLOAD_TIMEOUT: River rescues a dead worker's job a minute after it
	wait         time.Duration // the longest an upload may take to finish after its fault
}

func runSizes() sizes {
	s := sizes{rows: 100_000, queued: 10_000, calcDown: 15 * time.Second, calcBack: 40 * time.Second, uploadTimout: time.Minute, wait: 5 * time.Minute}
	if os.Getenv("FAULTS_FULL") != "" {
		s = sizes{rows: 1_000_000, queued: 100_000, calcDown: 2 * time.Minute, calcBack: 5 * time.Minute, uploadTimout: 10 * time.Minute, wait: 20 * time.Minute}
	}
	if d, err := time.ParseDuration(os.Getenv("FAULTS_CALCULATOR_DOWN")); err == nil {
		s.calcDown = d
	}
	return s
}

// suite is what every case shares: one private cluster, one private Redis,
// the built binaries and the spend files.
type suite struct {
	sizes
	bin     string
	cluster *Cluster
	redis   *testsupport.Redis
	work    string
	table   *Table
	mu      sync.Mutex
	files   map[string]string
	dbs     int
}

func TestFaults(t *testing.T) {
	bin := os.Getenv("FAULTS_BIN")
	if bin == "" {
		bin = "../../../bin"
	}
	bin, _ = filepath.Abs(bin)
	for _, name := range append(slices.Clone(Services), "gateway") {
		if _, err := os.Stat(filepath.Join(bin, name)); err != nil {
			t.Fatalf("%s not built (make build, or FAULTS_BIN): %v", name, err)
		}
	}
	s := &suite{sizes: runSizes(), bin: bin, cluster: StartCluster(t), redis: testsupport.StartRedis(t), work: t.TempDir(),
		table: &Table{}, files: map[string]string{}}
	t.Cleanup(func() {
		s.table.Print(os.Stdout, fmt.Sprintf("vcci faults: %d-line uploads, calculator down %s", s.rows, s.calcDown))
	})
	t.Run("intake-sigkill", s.intakeKilled)
	t.Run("postgres-restart", s.postgresRestart)
	t.Run("calculator-down", s.calculatorDown)
	t.Run("intake-sigterm", s.intakeTerminated)
	t.Run("redis-down", s.redisDown)
	t.Run("service-down", s.serviceDown)
}

// file returns a spend file of rows lines whose ids start with prefix,
// written once per run.
func (s *suite) file(t *testing.T, rows int, prefix byte) string {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	key := fmt.Sprintf("%d%c", rows, prefix)
	if f, ok := s.files[key]; ok {
		return f
	}
	f, err := SpendFile(s.work, rows, prefix)
	if err != nil {
		t.Fatal(err)
	}
	s.files[key] = f
	return f
}

// platform starts the platform on a database of its own and returns it
// with a client of a new tenant.
func (s *suite) platform(t *testing.T, o Options) (*Platform, *Client, string) {
	t.Helper()
	ctx := context.Background()
	s.mu.Lock()
	s.dbs++
	name := fmt.Sprintf("faults_%d", s.dbs)
	s.mu.Unlock()
	dbURL, err := s.cluster.NewDatabase(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	o.Bin, o.DatabaseURL = s.bin, dbURL
	o.Env = append(o.Env, "UPLOAD_TIMEOUT="+s.uploadTimout.String())
	p := StartPlatform(t, o)
	c, err := NewTenant(ctx, dbURL, p.HTTPURL, "faults")
	if err != nil {
		t.Fatal(err)
	}
	return p, c, dbURL
}

// check reads an upload's rows and fails t with what is wrong; it returns
// the rows lost and duplicated.
func check(t *testing.T, dbURL string, u Upload, prefix byte, rows int) (lost, dup int64) {
	t.Helper()
	st, err := ReadStored(context.Background(), dbURL, u.ID(), prefix, rows)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Check(int64(rows)); err != nil {
		t.Errorf("%s: %v", u.Name, err)
	}
	return st.Lost(int64(rows)), st.Duplicated()
}

// progressed reports whether an upload is in state with some work done.
func progressed(state string) func(Upload) bool {
	return func(u Upload) bool {
		switch state {
		case "UPLOAD_STATE_CALCULATING":
			return u.State == state && u.RowsCalculated != "" && u.RowsCalculated != "0"
		default:
			return u.State == state
		}
	}
}

// readRows waits until a validating upload has read some rows: its
// progress is in the database, not the API.
func readRows(t *testing.T, dbURL string, u Upload, within time.Duration) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	err = poll(ctx, within, u.Name+" to read rows", func() bool {
		var read int64
		var state int
		err := conn.QueryRow(ctx, `SELECT rows_read, state FROM intake.uploads WHERE id = $1`, u.ID()).Scan(&read, &state)
		return err == nil && read > 0 && state == 2
	})
	if err != nil {
		t.Fatal(err)
	}
}

// intakeKilled kills intake with SIGKILL while one upload validates and,
// once it is back, again while another calculates: both finish with every
// row stored and calculated once.
func (s *suite) intakeKilled(t *testing.T) {
	ctx := context.Background()
	p, c, dbURL := s.platform(t, Options{RedisURL: s.redis.URL()})
	start := time.Now()
	a, err := c.Upload(ctx, s.file(t, s.rows, 'A'))
	if err != nil {
		t.Fatal(err)
	}
	readRows(t, dbURL, a, s.wait)
	p.Kill("intake")
	killed := time.Now()
	t.Logf("intake killed while %s validates, %.1fs after the upload", a.Name, killed.Sub(start).Seconds())
	if _, err := p.Start("intake"); err != nil {
		t.Fatal(err)
	}
	if err := p.WaitReady(ctx, "", time.Minute); err != nil {
		t.Fatal(err)
	}
	b, err := c.Upload(ctx, s.file(t, s.rows, 'B'))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.WaitState(ctx, b.Name, s.wait, progressed("UPLOAD_STATE_CALCULATING")); err != nil {
		t.Fatal(err)
	}
	p.Kill("intake")
	t.Logf("intake killed while %s calculates", b.Name)
	if _, err := p.Start("intake"); err != nil {
		t.Fatal(err)
	}
	var lost, dup int64
	for _, up := range []struct {
		u      Upload
		prefix byte
	}{{a, 'A'}, {b, 'B'}} {
		if _, err := c.WaitState(ctx, up.u.Name, s.wait+2*s.uploadTimout, Succeeded); err != nil {
			t.Fatal(err)
		}
		l, d := check(t, dbURL, up.u, up.prefix, s.rows)
		lost, dup = lost+l, dup+d
	}
	s.table.Add(Row{Fault: "intake SIGKILL while validating, then while calculating", Lost: lost, Dup: dup, Recovery: time.Since(killed),
		Note: "recovery: first kill to both uploads SUCCEEDED"})
}

// postgresRestart restarts the cluster while an upload validates, under a
// small REST load.
func (s *suite) postgresRestart(t *testing.T) {
	ctx := context.Background()
	_, c, dbURL := s.platform(t, Options{RedisURL: s.redis.URL()})
	u, err := c.Upload(ctx, s.file(t, s.rows, 'A'))
	if err != nil {
		t.Fatal(err)
	}
	load := StartLoad(ctx, c, allRoutes(), 2, 20*time.Millisecond)
	readRows(t, dbURL, u, s.wait)
	time.Sleep(time.Second)
	w := Window{From: time.Now()}
	if err := s.cluster.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	w.To = time.Now()
	t.Logf("PostgreSQL restarted in %.1fs", w.To.Sub(w.From).Seconds())
	if _, err := c.WaitState(ctx, u.Name, s.wait+2*s.uploadTimout, Succeeded); err != nil {
		load.Stop()
		t.Fatal(err)
	}
	done := time.Since(w.From)
	time.Sleep(2 * time.Second)
	tally := Count(load.Stop(), w)
	lost, dup := check(t, dbURL, u, 'A', s.rows)
	if tally.Failed > 0 {
		t.Errorf("%d of %d requests outside the restart failed: %v", tally.Failed, tally.Sent, tally.Samples)
	}
	s.table.Add(Row{Fault: "PostgreSQL restart (-m fast) while validating", Sent: tally.Sent, Failed: tally.Failed,
		InWindow: tally.InWindow, FailedInWindow: tally.FailedInWindow, Lost: lost, Dup: dup, Recovery: done,
		Note: "recovery: restart to upload SUCCEEDED"})
}

// calculatorDown stops the calculator, queues ten uploads, and starts it
// again after a while: every upload succeeds and the totals agree.
func (s *suite) calculatorDown(t *testing.T) {
	ctx := context.Background()
	p, c, dbURL := s.platform(t, Options{RedisURL: s.redis.URL()})
	prefixes := []byte("ABCDEFGHIJ")
	for _, pr := range prefixes {
		s.file(t, s.queued, pr)
	}
	p.Kill("calculator")
	down := time.Now()
	ups := make([]Upload, 0, len(prefixes))
	for _, pr := range prefixes {
		u, err := c.Upload(ctx, s.file(t, s.queued, pr))
		if err != nil {
			t.Fatal(err)
		}
		ups = append(ups, u)
	}
	time.Sleep(time.Until(down.Add(s.calcDown)))
	if _, err := p.Start("calculator"); err != nil {
		t.Fatal(err)
	}
	back := time.Now()
	var lost, dup int64
	for i, u := range ups {
		if _, err := c.WaitState(ctx, u.Name, s.wait, Succeeded); err != nil {
			t.Fatal(err)
		}
		l, d := check(t, dbURL, u, prefixes[i], s.queued)
		lost, dup = lost+l, dup+d
	}
	recovery := time.Since(back)
	// Its uploads waited for it, not out River's backoff between attempts
	// (81 s after the third) or a connection's redial backoff (up to 2 min).
	if recovery > s.calcBack {
		t.Errorf("the uploads succeeded %v after the calculator came back, want within %v", recovery, s.calcBack)
	}
	// The tenant's totals as the calculator keeps them against intake's.
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var intakeKg, calcKg string
	var equal bool
	if err := conn.QueryRow(ctx, `SELECT i.kg::text, c.kg::text, i.kg = c.kg FROM
		(SELECT sum(kg_co2e) AS kg FROM intake.uploads) i,
		(SELECT sum(kg_co2e) AS kg FROM calculator.emission_totals WHERE dim = 1) c`).Scan(&intakeKg, &calcKg, &equal); err != nil {
		t.Fatal(err)
	}
	if !equal {
		t.Errorf("kg CO2e: intake's uploads %s, the calculator's totals %s", intakeKg, calcKg)
	}
	s.table.Add(Row{Fault: fmt.Sprintf("calculator down %s, 10 uploads queued", s.calcDown), Lost: lost, Dup: dup, Recovery: recovery,
		Note: "recovery: calculator started to the last upload SUCCEEDED"})
}

// intakeTerminated sends SIGTERM to the intake replica working an upload,
// with a second replica running and REST load on intake: no request
// fails, and the other replica takes the upload over at once.
func (s *suite) intakeTerminated(t *testing.T) {
	ctx := context.Background()
	p, c, dbURL := s.platform(t, Options{RedisURL: s.redis.URL(), IntakeReplicas: 2})
	// The first replica alone takes the upload, so that the test knows
	// which one to stop.
	p.Kill(IntakeName(1))
	u, err := c.Upload(ctx, s.file(t, s.rows, 'A'))
	if err != nil {
		t.Fatal(err)
	}
	readRows(t, dbURL, u, s.wait)
	if _, err := p.Start(IntakeName(1)); err != nil {
		t.Fatal(err)
	}
	if err := p.WaitServing(ctx, IntakeName(1), time.Minute); err != nil {
		t.Fatal(err)
	}
	load := StartLoad(ctx, c, Routes["intake"], 4, 10*time.Millisecond)
	time.Sleep(2 * time.Second)
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	job := func() (state string, attempts int) {
		if err := conn.QueryRow(ctx, `SELECT state::text, coalesce(array_length(attempted_by, 1), 0) FROM river.river_job
			WHERE args->>'upload' = $1 ORDER BY id DESC LIMIT 1`, strconv.FormatInt(u.ID(), 10)).Scan(&state, &attempts); err != nil {
			t.Logf("read the upload's job: %v", err)
		}
		return state, attempts
	}
	_, before := job()
	term := time.Now()
	p.Signal("intake", syscall.SIGTERM)
	var handed time.Duration
	err = poll(ctx, s.wait, "the upload's job to run on the other replica", func() bool {
		state, attempts := job()
		if state == "running" && attempts > before {
			handed = time.Since(term)
			return true
		}
		return state == "completed"
	})
	if err != nil {
		t.Error(err)
	}
	select {
	case <-p.Proc("intake").Done():
	case <-time.After(time.Minute):
		t.Error("intake did not stop within a minute of SIGTERM")
	}
	stopped := time.Since(term)
	if _, err := c.WaitState(ctx, u.Name, s.wait, Succeeded); err != nil {
		load.Stop()
		t.Fatal(err)
	}
	tally := Count(load.Stop())
	lost, dup := check(t, dbURL, u, 'A', s.rows)
	t.Logf("SIGTERM: the job ran again on the other replica after %s; the replica stopped after %s", handed, stopped)
	if tally.Failed > 0 {
		t.Errorf("%d of %d requests failed: %v", tally.Failed, tally.Sent, tally.Samples)
	}
	if handed == 0 || handed > 10*time.Second {
		t.Errorf("the other replica took the upload over after %s (0: never, the stopping replica finished it), want within 10s", handed)
	}
	s.table.Add(Row{Fault: "intake SIGTERM with 2 replicas, under load", Sent: tally.Sent, Failed: tally.Failed, Lost: lost, Dup: dup,
		Recovery: handed, Note: "recovery: SIGTERM to the job running on the other replica"})
}

// allRoutes is every group's routes.
func allRoutes() []string {
	var all []string
	for _, group := range Services {
		all = append(all, Routes[group]...)
	}
	return all
}

// redisDown starts the platform with REDIS_URL set and Redis down, then
// kills Redis under load.
func (s *suite) redisDown(t *testing.T) {
	ctx := context.Background()
	// Stopped here and started again below; a case after a failure here
	// runs degraded without it.
	s.redis.Stop()
	start := time.Now()
	p, c, _ := s.platform(t, Options{RedisURL: s.redis.URL()})
	started := time.Since(start)
	load := StartLoad(ctx, c, allRoutes(), 2, 20*time.Millisecond)
	time.Sleep(3 * time.Second)
	down := Count(load.Stop())
	if down.Failed > 0 || down.Sent == 0 {
		t.Errorf("without Redis: %d of %d requests failed: %v", down.Failed, down.Sent, down.Samples)
	}
	t.Logf("without Redis: %d requests, the slowest %s", down.Sent, down.Slowest)
	// Each component that falls back logs it once: the client at start,
	// the rate limiter at its first failure.
	for _, name := range append(slices.Clone(Services), "gateway") {
		lines := redisWarnings(p.Log(name))
		msgs := map[string]int{}
		for _, l := range lines {
			var m struct {
				Msg string `json:"msg"`
			}
			if err := json.Unmarshal([]byte(l), &m); err != nil {
				t.Fatalf("%s logged a line that is not JSON: %q", name, l)
			}
			msgs[m.Msg]++
		}
		if msgs["redis does not answer: running degraded until it does"] != 1 {
			t.Errorf("%s did not log once that Redis does not answer:\n%s", name, strings.Join(lines, "\n"))
		}
		for msg, n := range msgs {
			if n > 1 {
				t.Errorf("%s logged %q %d times, want once", name, msg, n)
			}
		}
	}
	s.table.Add(Row{Fault: "Redis down at start (REDIS_URL set)", Sent: down.Sent, Failed: down.Failed, Lost: -1, Dup: -1, Recovery: started,
		Note: "recovery: start to every service ready"})

	// Killed under load, on a platform started with it.
	s.redis.Restart()
	_, c, _ = s.platform(t, Options{RedisURL: s.redis.URL()})
	load = StartLoad(ctx, c, allRoutes(), 2, 20*time.Millisecond)
	time.Sleep(2 * time.Second)
	s.redis.Stop()
	killed := time.Now()
	time.Sleep(5 * time.Second)
	s.redis.Restart()
	time.Sleep(3 * time.Second)
	killedTally := Count(load.Stop())
	t.Logf("Redis killed: %d requests, the slowest %s", killedTally.Sent, killedTally.Slowest)
	if killedTally.Failed > 0 {
		t.Errorf("Redis killed: %d of %d requests failed: %v", killedTally.Failed, killedTally.Sent, killedTally.Samples)
	}
	s.table.Add(Row{Fault: "Redis killed under REST load, back after 5 s", Sent: killedTally.Sent, Failed: killedTally.Failed,
		Lost: -1, Dup: -1, Recovery: time.Since(killed) - 3*time.Second})
}

// redisWarnings are the lines of a log at level WARN or ERROR that name
// Redis.
func redisWarnings(log string) []string {
	var out []string
	for line := range strings.Lines(log) {
		if (strings.Contains(line, `"level":"WARN"`) || strings.Contains(line, `"level":"ERROR"`)) && strings.Contains(strings.ToLower(line), "redis") {
			out = append(out, strings.TrimSpace(line))
		}
	}
	return out
}

// serviceDown stops engagement, then hotspot: the gateway serves every
// route of the services still up, and says which groups are ready.
func (s *suite) serviceDown(t *testing.T) {
	ctx := context.Background()
	p, c, _ := s.platform(t, Options{RedisURL: s.redis.URL()})
	for _, down := range []string{"engagement", "hotspot"} {
		p.Kill(down)
		var up []string
		for _, group := range Services {
			if group != down {
				up = append(up, Routes[group]...)
			}
		}
		if resp, err := http.Get(p.HTTPURL + "/readyz"); err != nil || resp.StatusCode != http.StatusServiceUnavailable {
			t.Errorf("%s down: /readyz answered %v %v, want 503 (it reports every service)", down, resp.Status, err)
		} else {
			resp.Body.Close()
		}
		load := StartLoad(ctx, c, up, 2, 20*time.Millisecond)
		time.Sleep(3 * time.Second)
		tally := Count(load.Stop())
		if tally.Failed > 0 || tally.Sent == 0 {
			t.Errorf("%s down: %d of %d requests to the other services failed: %v", down, tally.Failed, tally.Sent, tally.Samples)
		}
		for _, group := range Services {
			want := http.StatusOK
			if group == down {
				want = http.StatusServiceUnavailable
			}
			resp, err := http.Get(p.HTTPURL + "/readyz/" + group)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != want {
				t.Errorf("%s down: /readyz/%s answered %d, want %d", down, group, resp.StatusCode, want)
			}
		}
		for _, route := range Routes[down] {
			code, body, err := c.Do(ctx, http.MethodGet, route, nil)
			if err != nil || code != http.StatusServiceUnavailable {
				t.Errorf("%s down: GET %s: %d %s %v, want 503", down, route, code, body, err)
			}
		}
		if _, err := p.Start(down); err != nil {
			t.Fatal(err)
		}
		back := time.Now()
		if err := p.WaitReady(ctx, down, time.Minute); err != nil {
			t.Fatal(err)
		}
		s.table.Add(Row{Fault: down + " down", Sent: tally.Sent, Failed: tally.Failed, Lost: -1, Dup: -1, Recovery: time.Since(back),
			Note: "requests to the other services; recovery: restart to its routes ready"})
	}
}

package ratelimit_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/vcci-dev/vcci/pkg/ratelimit"
	"github.com/vcci-dev/vcci/pkg/testsupport"
)

// five is 5 per second, burst 5, for every class.
func five() ratelimit.Config {
	l := ratelimit.Limit{Rate: 5, Period: time.Second, Burst: 5}
	return ratelimit.Config{Read: l, Write: l, Heavy: l}
}

// readDecisions reads vcci_ratelimit_decisions_total{class="read",result,store}.
func readDecisions(t *testing.T, reg *prometheus.Registry, result, store string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "vcci_ratelimit_decisions_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, lp := range m.GetLabel() {
				labels[lp.GetName()] = lp.GetValue()
			}
			if labels["class"] == "read" && labels["result"] == result && labels["store"] == store {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

// exhaust makes burst+1 requests and checks that exactly burst pass, with
// Remaining counting down to 0, and that the last is denied with a retry
// time no longer than one token's interval.
func exhaust(t *testing.T, l *ratelimit.Limiter, key string, class ratelimit.Class) {
	t.Helper()
	ctx := context.Background()
	for i := range 5 {
		res := l.Allow(ctx, key, class)
		if !res.Allowed || res.Limit != 5 || res.Remaining != 4-i || res.RetryAfter != 0 {
			t.Fatalf("request %d: %+v, want allowed, limit 5, remaining %d", i+1, res, 4-i)
		}
		if res.ResetAfter <= 0 || res.ResetAfter > time.Second {
			t.Fatalf("request %d: reset after %v, want in (0, 1s]", i+1, res.ResetAfter)
		}
	}
	res := l.Allow(ctx, key, class)
	if res.Allowed || res.Remaining != 0 || res.Limit != 5 {
		t.Fatalf("request 6: %+v, want denied with 0 remaining", res)
	}
	if res.RetryAfter <= 0 || res.RetryAfter > 200*time.Millisecond {
		t.Fatalf("request 6: retry after %v, want in (0, 200ms]", res.RetryAfter)
	}
	if res.ResetAfter < 800*time.Millisecond || res.ResetAfter > time.Second {
		t.Fatalf("request 6: reset after %v, want in [800ms, 1s]", res.ResetAfter)
	}
}

func TestBurstThenDeny(t *testing.T) {
	srv := testsupport.StartRedis(t)
	for name, rdb := range map[string]*redis.Client{"redis": srv.Client(), "local": nil} {
		t.Run(name, func(t *testing.T) {
			reg := prometheus.NewRegistry()
			l := ratelimit.New(rdb, five(), nil, reg)
			exhaust(t, l, "vcci_key_one_"+name, ratelimit.Read)
			if got := readDecisions(t, reg, "allowed", name); got != 5 {
				t.Errorf("allowed{store=%s} = %v, want 5", name, got)
			}
			if got := readDecisions(t, reg, "limited", name); got != 1 {
				t.Errorf("limited{store=%s} = %v, want 1", name, got)
			}

			// Another key, and another class of the same key, have their own budgets.
			exhaust(t, l, "vcci_key_two_"+name, ratelimit.Read)
			exhaust(t, l, "vcci_key_one_"+name, ratelimit.Write)
			exhaust(t, l, "vcci_key_one_"+name, ratelimit.Heavy)

			// The budget comes back at the rate: one token per 200ms.
			time.Sleep(450 * time.Millisecond)
			for i, want := range []bool{true, true, false} {
				if res := l.Allow(context.Background(), "vcci_key_one_"+name, ratelimit.Read); res.Allowed != want {
					t.Fatalf("after 450ms, request %d: %+v, want allowed=%v", i+1, res, want)
				}
			}
		})
	}
}

func TestRedisKeysHideTheAPIKey(t *testing.T) {
	srv := testsupport.StartRedis(t)
	rdb := srv.Client()
	l := ratelimit.New(rdb, five(), nil, nil)
	l.Allow(context.Background(), "vcci_secret_key_0123456789", ratelimit.Heavy)
	keys, err := rdb.Keys(context.Background(), "*").Result()
	if err != nil {
		t.Fatal(err)
	}
	// sha256("vcci_secret_key_0123456789"), first 16 bytes.
	want := "rate:vcci:heavy:bee3a6a3c20d17e84f4111abb936b32d"
	if len(keys) != 1 || keys[0] != want {
		t.Fatalf("redis keys = %v, want [%s]", keys, want)
	}
}

func TestReplicasShareTheBudget(t *testing.T) {
	srv := testsupport.StartRedis(t)
	a := ratelimit.New(srv.Client(), five(), nil, nil)
	b := ratelimit.New(srv.Client(), five(), nil, nil)
	ctx := context.Background()
	var allowed []string
	for i := range 10 {
		l, name := a, "a"
		if i%2 == 1 {
			l, name = b, "b"
		}
		if res := l.Allow(ctx, "vcci_shared_key", ratelimit.Write); res.Allowed {
			allowed = append(allowed, fmt.Sprintf("%s:%d", name, res.Remaining))
		}
	}
	if got := strings.Join(allowed, " "); got != "a:4 b:3 a:2 b:1 a:0" {
		t.Fatalf("allowed across two replicas: %s, want a:4 b:3 a:2 b:1 a:0", got)
	}
}

func TestLocalTakesOverWhenRedisStops(t *testing.T) {
	srv := testsupport.StartRedis(t)
	reg := prometheus.NewRegistry()
	l := ratelimit.New(srv.Client(), five(), nil, reg)
	ctx := context.Background()
	for range 3 {
		l.Allow(ctx, "vcci_outage_key", ratelimit.Read)
	}
	if got := readDecisions(t, reg, "allowed", "redis"); got != 3 {
		t.Fatalf("allowed{store=redis} = %v before the outage, want 3", got)
	}

	srv.Stop()
	// The local bucket starts full: the outage must not deny a key that
	// was within its budget, and it still stops the key after its burst.
	exhaust(t, l, "vcci_outage_key", ratelimit.Read)
	if got := readDecisions(t, reg, "allowed", "local"); got != 5 {
		t.Errorf("allowed{store=local} = %v, want 5", got)
	}
	if got := readDecisions(t, reg, "limited", "local"); got != 1 {
		t.Errorf("limited{store=local} = %v, want 1", got)
	}
	if got := readDecisions(t, reg, "allowed", "redis"); got != 3 {
		t.Errorf("allowed{store=redis} = %v after the outage, want still 3", got)
	}
}

func TestSlowRedisFallsBackAndResumes(t *testing.T) {
	srv := testsupport.StartRedis(t)
	rdb := srv.Client()
	reg := prometheus.NewRegistry()
	perMinute := ratelimit.Limit{Rate: 5, Period: time.Minute, Burst: 5}
	l := ratelimit.New(rdb, ratelimit.Config{Read: perMinute, Write: perMinute, Heavy: perMinute}, nil, reg)
	ratelimit.SetRedisTimeouts(l, 30*time.Millisecond, 100*time.Millisecond)
	ctx := context.Background()
	remaining := func() (int, time.Duration) {
		start := time.Now()
		res := l.Allow(ctx, "vcci_slow_key", ratelimit.Read)
		if !res.Allowed {
			t.Fatalf("denied: %+v", res)
		}
		return res.Remaining, time.Since(start)
	}
	if r, _ := remaining(); r != 4 {
		t.Fatalf("remaining %d, want 4 (redis)", r)
	}

	// CLIENT PAUSE holds every command, as an overloaded or partitioned
	// Redis would: the request waits the timeout, then is decided locally.
	if err := rdb.ClientPause(ctx, 400*time.Millisecond).Err(); err != nil {
		t.Fatal(err)
	}
	pausedAt := time.Now()
	if r, took := remaining(); r != 4 || took < 30*time.Millisecond || took > 150*time.Millisecond {
		t.Fatalf("during the pause: remaining %d after %v, want 4 (a fresh local bucket) after about 30ms", r, took)
	}
	// Within the backoff no request waits for Redis.
	if r, took := remaining(); r != 3 || took > 10*time.Millisecond {
		t.Fatalf("in the backoff: remaining %d after %v, want 3 at once", r, took)
	}
	if got := readDecisions(t, reg, "allowed", "local"); got != 2 {
		t.Fatalf("allowed{store=local} = %v, want 2", got)
	}

	// Once Redis answers again and the backoff has passed, Redis decides,
	// from the budget it kept.
	time.Sleep(time.Until(pausedAt.Add(600 * time.Millisecond)))
	if r, _ := remaining(); r != 3 {
		t.Fatalf("after the pause: remaining %d, want 3 (redis: 2 of 5 used)", r)
	}
	if got := readDecisions(t, reg, "allowed", "redis"); got != 2 {
		t.Fatalf("allowed{store=redis} = %v, want 2", got)
	}
}

func TestConfigFromEnv(t *testing.T) {
	def := ratelimit.DefaultConfig()
	if def.Read.String() != "100 per 1s (burst 200)" || def.Write.String() != "20 per 1s (burst 40)" || def.Heavy.String() != "2 per 1s (burst 5)" {
		t.Fatalf("defaults: %v / %v / %v", def.Read, def.Write, def.Heavy)
	}
	for name, tc := range map[string]struct {
		env     map[string]string
		want    ratelimit.Config
		wantErr string
	}{
		"unset": {env: nil, want: def},
		"per second with burst": {
			env:  map[string]string{"VCCI_RATE_LIMIT_READ": "1000/s,burst=2000"},
			want: ratelimit.Config{Read: ratelimit.Limit{Rate: 1000, Period: time.Second, Burst: 2000}, Write: def.Write, Heavy: def.Heavy},
		},
		"per minute, burst defaults to rate": {
			env:  map[string]string{"VCCI_RATE_LIMIT_WRITE": "6000/m"},
			want: ratelimit.Config{Read: def.Read, Write: ratelimit.Limit{Rate: 6000, Period: time.Minute, Burst: 6000}, Heavy: def.Heavy},
		},
		"duration period and spaces": {
			env:  map[string]string{"VCCI_RATE_LIMIT_HEAVY": " 50 / 10s , burst = 3 ", "VCCI_RATE_LIMIT_READ": "3600/h"},
			want: ratelimit.Config{Read: ratelimit.Limit{Rate: 3600, Period: time.Hour, Burst: 3600}, Write: def.Write, Heavy: ratelimit.Limit{Rate: 50, Period: 10 * time.Second, Burst: 3}},
		},
		"no period":       {env: map[string]string{"VCCI_RATE_LIMIT_READ": "100"}, wantErr: `VCCI_RATE_LIMIT_READ="100": no period`},
		"rate not number": {env: map[string]string{"VCCI_RATE_LIMIT_WRITE": "lots/s"}, wantErr: `VCCI_RATE_LIMIT_WRITE="lots/s": rate "lots" is not an integer`},
		"bad period":      {env: map[string]string{"VCCI_RATE_LIMIT_HEAVY": "5/fortnight"}, wantErr: `VCCI_RATE_LIMIT_HEAVY="5/fortnight": period "fortnight" is not s, m, h or a duration`},
		"bad burst":       {env: map[string]string{"VCCI_RATE_LIMIT_READ": "5/s,burst=many"}, wantErr: `VCCI_RATE_LIMIT_READ="5/s,burst=many": burst "many" is not an integer`},
		"unknown option":  {env: map[string]string{"VCCI_RATE_LIMIT_READ": "5/s,bursts=2"}, wantErr: `VCCI_RATE_LIMIT_READ="5/s,bursts=2": unknown option "bursts=2"`},
		"zero rate":       {env: map[string]string{"VCCI_RATE_LIMIT_READ": "0/s"}, wantErr: `VCCI_RATE_LIMIT_READ="0/s": rate must be at least 1`},
		"zero burst":      {env: map[string]string{"VCCI_RATE_LIMIT_WRITE": "5/s,burst=0"}, wantErr: `VCCI_RATE_LIMIT_WRITE="5/s,burst=0": burst must be at least 1`},
		"negative period": {env: map[string]string{"VCCI_RATE_LIMIT_WRITE": "5/-1s"}, wantErr: `VCCI_RATE_LIMIT_WRITE="5/-1s": period must be positive`},
	} {
		t.Run(name, func(t *testing.T) {
			cfg, err := ratelimit.ConfigFromEnv(func(k string) string { return tc.env[k] })
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one containing %s", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cfg != tc.want {
				t.Fatalf("config %+v, want %+v", cfg, tc.want)
			}
		})
	}
}

func TestClassOf(t *testing.T) {
	for method, want := range map[string]ratelimit.Class{
		"/vcci.calculator.v1.CalculatorService/ListFactorSets":          ratelimit.Read,
		"/vcci.calculator.v1.CalculatorService/BatchGetFactors":         ratelimit.Read,
		"/vcci.calculator.v1.CalculatorService/ListFactors":             ratelimit.Read,
		"/vcci.calculator.v1.CalculatorService/GetFactor":               ratelimit.Read,
		"/vcci.calculator.v1.CalculatorService/GetEmissionResult":       ratelimit.Read,
		"/vcci.calculator.v1.CalculatorService/SummarizeEmissions":      ratelimit.Read,
		"/vcci.calculator.v1.CalculatorService/BatchGetSupplierMethods": ratelimit.Read,
		"/vcci.calculator.v1.CalculatorService/CalculateEmissions":      ratelimit.Heavy,
		"/vcci.calculator.v1.CalculatorService/Calculate":               ratelimit.Read,
		"/vcci.calculator.v1.CalculatorService/BatchCalculate":          ratelimit.Heavy,
		"/vcci.calculator.v1.CalculatorService/StreamCalculate":         ratelimit.Heavy,
		"/vcci.intake.v1.IntakeService/UploadSpend":                     ratelimit.Heavy,
		"/vcci.intake.v1.IntakeService/GetUpload":                       ratelimit.Read,
		"/vcci.intake.v1.IntakeService/ListUploads":                     ratelimit.Read,
		"/vcci.intake.v1.IntakeService/ListUploadErrors":                ratelimit.Read,
		"/vcci.intake.v1.IntakeService/BatchGetSuppliers":               ratelimit.Read,
		"/vcci.hotspot.v1.HotspotService/AnalyzeSupplierPareto":         ratelimit.Read,
		"/vcci.engagement.v1.EngagementService/CreateCampaign":          ratelimit.Write,
		"/vcci.engagement.v1.EngagementService/GetCampaign":             ratelimit.Read,
		"/vcci.engagement.v1.EngagementService/ListCampaigns":           ratelimit.Read,
		"/vcci.reporting.v1.ReportingService/GetInventorySummary":       ratelimit.Read,
		"/vcci.reporting.v1.ReportingService/GenerateReport":            ratelimit.Heavy,
		"/vcci.reporting.v1.ReportingService/ExportInventory":           ratelimit.Heavy,
		"/vcci.search.v1.SearchService/SearchSuppliers":                 ratelimit.Read,
		"/vcci.engagement.v1.EngagementService/DeleteCampaign":          ratelimit.Write,
		"/vcci.engagement.v1.EngagementService/Getaway":                 ratelimit.Write,
		"/vcci.engagement.v1.EngagementService/Listen":                  ratelimit.Write,
		"/vcci.reporting.v1.ReportingService/Generate":                  ratelimit.Heavy,
		"NoSlashGetThing":                     ratelimit.Write,
		"/grpc.testing.TestService/EmptyCall": ratelimit.Write,
	} {
		if got := ratelimit.ClassOf(method); got != want {
			t.Errorf("ClassOf(%s) = %v, want %v", method, got, want)
		}
	}
	if ratelimit.Read.String() != "read" || ratelimit.Write.String() != "write" || ratelimit.Heavy.String() != "heavy" {
		t.Errorf("class names %v %v %v", ratelimit.Read, ratelimit.Write, ratelimit.Heavy)
	}
}

func benchmarkAllow(b *testing.B, rdb *redis.Client) {
	// A budget no benchmark exhausts, so every decision is a full one.
	big := ratelimit.Limit{Rate: 1 << 30, Period: time.Second, Burst: 1 << 30}
	l := ratelimit.New(rdb, ratelimit.Config{Read: big, Write: big, Heavy: big}, nil, prometheus.NewRegistry())
	ctx := context.Background()
	keys := make([]string, 1000)
	for i := range keys {
		keys[i] = fmt.Sprintf("vcci_bench_key_%04d", i)
	}
	b.Run("serial", func(b *testing.B) {
		i := 0
		for b.Loop() {
			if !l.Allow(ctx, keys[i%len(keys)], ratelimit.Read).Allowed {
				b.Fatal("denied")
			}
			i++
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			i := 0
			for pb.Next() {
				if !l.Allow(ctx, keys[i%len(keys)], ratelimit.Read).Allowed {
					b.Fatal("denied")
				}
				i++
			}
		})
	})
}

func BenchmarkAllowRedis(b *testing.B) { benchmarkAllow(b, testsupport.StartRedis(b).Client()) }

func BenchmarkAllowLocal(b *testing.B) { benchmarkAllow(b, nil) }

// evalCalls is how many scripts Redis has run.
func evalCalls(t *testing.T, rdb *redis.Client) int {
	t.Helper()
	info, err := rdb.Info(context.Background(), "commandstats").Result()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for line := range strings.Lines(info) {
		for _, cmd := range []string{"cmdstat_evalsha:calls=", "cmdstat_eval:calls="} {
			if rest, ok := strings.CutPrefix(line, cmd); ok {
				v, _, _ := strings.Cut(rest, ",")
				c, _ := strconv.Atoi(v)
				n += c
			}
		}
	}
	return n
}

// With a large burst a replica takes tokens from Redis in blocks: one
// round trip per block, headers that count down exactly, and never more
// granted across replicas than the shared budget.
func TestLargeBudgetsAreLeasedInBlocks(t *testing.T) {
	srv := testsupport.StartRedis(t)
	rdb := srv.Client()
	cfg := five()
	cfg.Read = ratelimit.Limit{Rate: 100, Period: time.Hour, Burst: 100} // blocks of 5
	a := ratelimit.New(rdb, cfg, nil, nil)
	b := ratelimit.New(rdb, cfg, nil, nil)
	ctx := context.Background()
	a.Allow(ctx, "vcci_warm_up", ratelimit.Heavy) // loads the script (EVALSHA, then EVAL)
	before := evalCalls(t, rdb)
	for i := range 20 {
		res := a.Allow(ctx, "vcci_big_key", ratelimit.Read)
		if !res.Allowed || res.Remaining != 99-i || res.Limit != 100 {
			t.Fatalf("request %d: %+v, want allowed with %d remaining", i+1, res, 99-i)
		}
	}
	if calls := evalCalls(t, rdb) - before; calls != 4 {
		t.Fatalf("%d Redis calls for 20 requests in blocks of 5, want 4", calls)
	}
	// Two replicas draw on one budget: 80 tokens are left for both.
	granted := 0
	for i := range 200 {
		l := a
		if i%3 == 0 {
			l = b
		}
		if l.Allow(ctx, "vcci_big_key", ratelimit.Read).Allowed {
			granted++
		}
	}
	if granted > 80 || granted < 80-2*4 {
		t.Fatalf("granted %d more across two replicas, want at most the 80 left (and at most a block's rest lost per replica)", granted)
	}
	// Small bursts are decided one request at a time, as before.
	before = evalCalls(t, rdb)
	for range 3 {
		a.Allow(ctx, "vcci_small_key", ratelimit.Write)
	}
	if calls := evalCalls(t, rdb) - before; calls != 3 {
		t.Fatalf("%d Redis calls for 3 requests of a burst of 5, want 3", calls)
	}
}

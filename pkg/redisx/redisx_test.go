package redisx_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/vcci-dev/vcci/pkg/cache"
	"github.com/vcci-dev/vcci/pkg/redisx"
	"github.com/vcci-dev/vcci/pkg/testsupport"
)

// TestConnectErrorsHideThePassword: an error names the REDIS_URL it could
// not use, without its password.
func TestConnectErrorsHideThePassword(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	url, want := "redis://:zq-s3cret@127.0.0.1:port/0", `redisx.Connect: REDIS_URL redis://xxxxx@127.0.0.1:port/0: invalid port ":port" after host`
	rdb, err := redisx.Connect(context.Background(), url, log, noop.NewTracerProvider())
	if err == nil {
		t.Fatalf("Connect(%q) = %v, want an error", url, rdb)
	}
	if err.Error() != want || strings.Contains(err.Error(), "zq-s3cret") {
		t.Errorf("Connect(%q): %q, want %q", url, err, want)
	}
}

// A REDIS_URL that does not answer at start gives a client, with one log
// line naming the URL without its password, and the client works soon
// after Redis answers.
func TestAnUnreachableRedisIsUsedOnceItAnswers(t *testing.T) {
	srv := testsupport.StartRedis(t)
	srv.Stop()
	var logs bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&logs, nil))
	url := strings.Replace(srv.URL(), "redis://", "redis://:zq-s3cret@", 1)
	rdb, err := redisx.Connect(context.Background(), url, log, noop.NewTracerProvider())
	if err != nil || rdb == nil {
		t.Fatalf("Connect with Redis down = %v, %v; want a client", rdb, err)
	}
	defer rdb.Close()
	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	if len(lines) != 1 || !strings.Contains(lines[0], "running degraded") || !strings.Contains(lines[0], srv.Addr) ||
		strings.Contains(lines[0], "zq-s3cret") {
		t.Errorf("logged %q, want one line naming the server without the password", logs.String())
	}
	srv.Restart()
	// The breaker lets a command probe Redis once a second.
	testsupport.WaitFor(t, "a SET to succeed once Redis answers", 3*time.Second, func() bool {
		return rdb.Set(context.Background(), "k", "v", 0).Err() == nil
	})
}

// countingWatcher counts the subscriptions cache.Watch confirms.
type countingWatcher struct{ subscribed *atomic.Int32 }

func (w countingWatcher) Subscribed()  { w.subscribed.Add(1) }
func (countingWatcher) Message(string) {}
func (countingWatcher) Lost(error)     {}
func (countingWatcher) Idle()          {}

// While Redis is down, commands fail at once instead of each spending the
// client's dials and retries; once it is back, commands and the
// invalidation subscriber reach it again within a couple of seconds. The
// breaker logs each transition once, naming the server but not the
// password.
func TestAnOutageCostsCommandsNothingAndEndsWhenRedisIsBack(t *testing.T) {
	srv := testsupport.StartRedis(t)
	var logs testsupport.LogBuffer
	log := slog.New(slog.NewJSONHandler(&logs, nil))
	url := strings.Replace(srv.URL(), "redis://", "redis://:zq-s3cret@", 1)
	rdb, err := redisx.Connect(context.Background(), url, log, noop.NewTracerProvider())
	if err != nil || rdb == nil {
		t.Fatalf("Connect = %v, %v; want a client", rdb, err)
	}
	defer rdb.Close()
	// Commands go through a client of their own, so that the first of
	// them, not the subscriber, meets the outage.
	cmds, err := redisx.Connect(context.Background(), srv.URL(), slog.New(slog.DiscardHandler), noop.NewTracerProvider())
	if err != nil {
		t.Fatal(err)
	}
	defer cmds.Close()
	base, err := redisx.Unguarded(srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer base.Close()
	ctx := context.Background()
	for _, c := range []*redis.Client{rdb, cmds, base} {
		if err := c.Ping(ctx).Err(); err != nil {
			t.Fatal(err)
		}
	}
	suppliers := cache.New(cache.Options[int]{Name: "suppliers", Redis: rdb})
	defer suppliers.Close()
	var subscribed atomic.Int32
	wctx, stop := context.WithCancel(ctx)
	watched := make(chan struct{})
	go func() { defer close(watched); cache.Watch(wctx, rdb, countingWatcher{&subscribed}) }()
	defer func() { stop(); <-watched }()
	testsupport.WaitFor(t, "the subscription", 5*time.Second, func() bool { return subscribed.Load() == 1 })

	srv.Stop()
	start := time.Now()
	if err := base.Get(ctx, "k").Err(); err == nil {
		t.Fatal("GET without the breaker, Redis stopped: no error")
	}
	baseline := time.Since(start)

	const n = 50
	start = time.Now()
	refused := 0
	var first time.Duration
	for i := range n {
		var err error
		if i%2 == 0 {
			err = cmds.Get(ctx, "k").Err()
		} else {
			_, err = cmds.Pipelined(ctx, func(p redis.Pipeliner) error {
				p.Incr(ctx, "n")
				p.Get(ctx, "k")
				return nil
			})
		}
		if err == nil {
			t.Fatalf("command %d with Redis stopped: no error", i)
		}
		if errors.Is(err, redisx.ErrUnavailable) {
			refused++
		}
		if i == 0 {
			first = time.Since(start)
		}
	}
	commands := time.Since(start)
	start = time.Now()
	for i := range n {
		scope, key := "tenant-"+strconv.Itoa(i), "s"+strconv.Itoa(i)
		v, err := suppliers.Get(ctx, scope, key, func(context.Context) (int, error) { return i, nil })
		if err != nil || v != i {
			t.Fatalf("cache Get %d with Redis stopped = %d, %v", i, v, err)
		}
	}
	gets := time.Since(start)
	t.Logf("Redis stopped: one GET without the breaker %v; %d commands with it %v (the first %v; %d refused unsent); %d cache Gets %v",
		baseline, n, commands, first, refused, n, gets)
	if commands > baseline/10 || gets > baseline/10 {
		t.Errorf("%d commands took %v and %d cache Gets %v, want each under a tenth of one command without the breaker (%v)",
			n, commands, n, gets, baseline)
	}
	if refused < n-1 {
		t.Errorf("%d of %d commands refused with ErrUnavailable, want all but the first at most", refused, n)
	}

	srv.Restart()
	back := time.Now()
	testsupport.WaitFor(t, "a SET to reach Redis again", 3*time.Second, func() bool {
		return rdb.Set(ctx, "k", "v", 0).Err() == nil
	})
	t.Logf("commands reach Redis %v after it answers", time.Since(back))
	testsupport.WaitFor(t, "the subscriber to subscribe again", 5*time.Second, func() bool { return subscribed.Load() == 2 })
	t.Logf("subscribed again %v after Redis answers", time.Since(back))

	var warns, infos int
	for line := range strings.Lines(logs.String()) {
		if strings.Contains(line, "zq-s3cret") || !strings.Contains(line, srv.Addr) {
			t.Errorf("log line %q: want the server named, without the password", line)
		}
		switch {
		case strings.Contains(line, `"level":"WARN"`) && strings.Contains(line, "redis unreachable"):
			warns++
		case strings.Contains(line, `"level":"INFO"`) && strings.Contains(line, "redis answers again"):
			infos++
		default:
			t.Errorf("unexpected log line %q", line)
		}
	}
	if warns != 1 || infos != 1 {
		t.Errorf("logged %d openings and %d closings, want one each:\n%s", warns, infos, logs.String())
	}
}

// Replies are not failures: redis.Nil and a server's error (WRONGTYPE) leave
// the breaker closed, so the next command is sent.
func TestRepliesDoNotOpenTheBreaker(t *testing.T) {
	srv := testsupport.StartRedis(t)
	var logs testsupport.LogBuffer
	rdb, err := redisx.Connect(context.Background(), srv.URL(), slog.New(slog.NewJSONHandler(&logs, nil)), noop.NewTracerProvider())
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	ctx := context.Background()
	if err := rdb.RPush(ctx, "list", "a").Err(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		run  func() error
		want string
	}{
		{"GET of a missing key", func() error { return rdb.Get(ctx, "missing").Err() }, redis.Nil.Error()},
		{"GET of a list", func() error { return rdb.Get(ctx, "list").Err() }, "WRONGTYPE"},
		{"a pipeline with GET of a list", func() error {
			_, err := rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
				p.Get(ctx, "list")
				return nil
			})
			return err
		}, "WRONGTYPE"},
	} {
		if err := tc.run(); err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
		if err := rdb.Set(ctx, "k", tc.name, 0).Err(); err != nil {
			t.Errorf("SET after %s: %v, want it sent", tc.name, err)
		}
	}
	if logs.String() != "" {
		t.Errorf("logged %q, want nothing", logs.String())
	}
}

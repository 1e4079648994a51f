// Package redisx connects the optional Redis: used when REDIS_URL is set or a
// server answers on 127.0.0.1:6379; otherwise services run without it.
package redisx

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	urlpkg "net/url"
	"time"

	"github.com/redis/go-redis/extra/redisotel/v9"
	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/trace"

	"github.com/vcci-dev/vcci/pkg/config"
)

// Connect returns a traced client, or nil (and a log line saying so) when
// REDIS_URL is unset and no Redis answers on the default address. A
// REDIS_URL that is set but does not answer yet gives a client all the
// same, with one log line: Redis is a cache, so the process starts and
// serves degraded (the caches and rate limits fall back to the process, as
// when Redis goes away later) and uses it once it answers. A REDIS_URL
// that does not parse is an error.
//
// While Redis does not answer, the client's commands fail at once with
// ErrUnavailable rather than each spending go-redis's dials and retries,
// and one of them probes Redis every second (see breaker).
func Connect(ctx context.Context, url string, log *slog.Logger, tp trace.TracerProvider) (*redis.Client, error) {
	explicit := url != ""
	if !explicit {
		url = "redis://127.0.0.1:6379/0"
	}
	opt, err := options(url)
	if err != nil {
		return nil, fmt.Errorf("redisx.Connect: %w", err)
	}
	// go-redis prints its own dial failures; while Redis is down that is a
	// line per request. Callers log outages once; its lines go to debug.
	redis.SetLogger(quiet{log})
	brk := newBreaker(log, config.Redact(url), breakerPeriod)
	opt.DialerRetryBackoff = brk.dialBackoff
	c := redis.NewClient(opt)
	// The first hook, outside the tracing one: a refused command costs no
	// span either.
	c.AddHook(brk)
	pctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	// A Redis down at start is logged below, not by the breaker too.
	brk.quiet.Store(true)
	err = c.Ping(pctx).Err()
	brk.quiet.Store(false)
	if err != nil {
		if !explicit {
			c.Close()
			log.InfoContext(ctx, "redis not found on 127.0.0.1:6379 and REDIS_URL unset: running without redis")
			return nil, nil //nolint:nilnil // no client and no error: run without Redis, as documented
		}
		log.WarnContext(ctx, "redis does not answer: running degraded until it does", "redis_url", config.Redact(url), "error", err.Error())
	}
	// Spans name the command, not its arguments: those are cached tenant
	// data (kept out of traces) and copying them into a span attribute cost
	// as much as the command itself for a cached page. Nor do they record the
	// caller's file and line, a stack walk per command.
	if err := redisotel.InstrumentTracing(c, redisotel.WithTracerProvider(tp),
		redisotel.WithDBStatement(false), redisotel.WithCallerEnabled(false)); err != nil {
		c.Close()
		return nil, fmt.Errorf("redisx.Connect: %w", err)
	}
	return c, nil
}

// options are the client's options for url: its own, and a dial timeout
// short enough for a cache.
func options(url string) (*redis.Options, error) {
	opt, err := redis.ParseURL(url)
	if err != nil {
		// net/url's errors quote the whole URL, password and all.
		if ue, ok := errors.AsType[*urlpkg.Error](err); ok {
			err = ue.Err
		}
		return nil, fmt.Errorf("REDIS_URL %s: %w", config.Redact(url), err)
	}
	opt.DialTimeout = 500 * time.Millisecond
	opt.DialerRetryTimeout = dialRetryWait
	return opt, nil
}

type quiet struct{ log *slog.Logger }

func (q quiet) Printf(ctx context.Context, format string, v ...any) {
	q.log.DebugContext(ctx, "redis: "+fmt.Sprintf(format, v...))
}

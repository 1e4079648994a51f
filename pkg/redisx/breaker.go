package redisx

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
)

// ErrUnavailable is the error of a command the client refused without
// trying: Redis failed at the connection level moments ago. Callers treat
// it as any other Redis error (a miss, a local decision).
var ErrUnavailable = errors.New("redisx: redis unavailable, not tried")

const (
	// breakerPeriod is how long commands fail fast after a connection-level
	// failure before one of them probes Redis again.
	breakerPeriod = time.Second
	// dialRetryWait is go-redis's wait between the dial attempts of one
	// connection, kept while the breaker is closed.
	dialRetryWait = 100 * time.Millisecond
)

// breaker is a circuit breaker installed as a go-redis hook. While Redis
// answers it costs an atomic load per command. A connection-level failure
// (a dial refused or timed out, a reset, EOF, a read timeout) opens it:
// commands, pipelines and dials then fail at once with ErrUnavailable, so
// an outage costs callers nothing rather than go-redis's dial attempts and
// retries on every command. Once a period has passed one command (or one
// dial, e.g. the invalidation subscriber's) probes Redis; success closes
// the breaker, failure keeps it open for another period. Replies from the
// server, redis.Nil and errors such as WRONGTYPE alike, count as success.
type breaker struct {
	log    *slog.Logger
	url    string // redacted
	period time.Duration
	t0     time.Time // origin of now(), on the monotonic clock

	open atomic.Bool
	// openings counts the times it opened: a command or dial admitted
	// before the last opening (in flight when the connection broke) does
	// not close it by succeeding.
	openings atomic.Int64
	// retryAt is when (since t0) the next probe may go; a probe moves it a
	// period on, so that a probe that never reports does not wedge it.
	retryAt atomic.Int64
	// refusal is what refused commands return: ErrUnavailable with the
	// failure that opened the breaker.
	refusal atomic.Pointer[error]
	// probeDial lets one dial through while open: the probe's, if it needs
	// a connection.
	probeDial atomic.Bool
	// quiet keeps an opening out of the log (Connect logs its own line).
	quiet atomic.Bool
}

func newBreaker(log *slog.Logger, redactedURL string, period time.Duration) *breaker {
	return &breaker{log: log, url: redactedURL, period: period, t0: time.Now()}
}

func (b *breaker) now() int64 { return int64(time.Since(b.t0)) }

// admit reports whether a command or dial may go to Redis, and whether it
// goes as the probe of an open breaker.
func (b *breaker) admit() (ok, probe bool) {
	if !b.open.Load() {
		return true, false
	}
	r, now := b.retryAt.Load(), b.now()
	if now >= r && b.retryAt.CompareAndSwap(r, now+int64(b.period)) {
		return true, true
	}
	return false, false
}

func (b *breaker) refused() error {
	if err := b.refusal.Load(); err != nil {
		return *err
	}
	return ErrUnavailable
}

// fail opens the breaker (or keeps it open) for a period after err.
func (b *breaker) fail(err error) {
	// The cause's text only: wrapping a dial error would make go-redis
	// retry the refusal.
	refusal := fmt.Errorf("%w (last failure: %s)", ErrUnavailable, err.Error())
	b.refusal.Store(&refusal)
	b.retryAt.Store(b.now() + int64(b.period))
	if !b.open.CompareAndSwap(false, true) {
		return
	}
	b.openings.Add(1)
	if !b.quiet.Load() {
		b.log.Warn("redis unreachable: failing its commands fast until it answers",
			"redis_url", b.url, "error", err.Error(), "probe_every", b.period.String())
	}
}

// succeed closes the breaker after a command or dial admitted when it had
// opened since times succeeded; one admitted before a later opening says
// nothing of Redis since.
func (b *breaker) succeed(since int64) {
	if b.open.Load() && b.openings.Load() == since && b.open.CompareAndSwap(true, false) {
		b.probeDial.Store(false) // a probe's that did not need to dial
		b.log.Info("redis answers again", "redis_url", b.url)
	}
}

// observe moves the breaker on the outcome of a command admitted when it
// had opened since times.
func (b *breaker) observe(ctx context.Context, err error, since int64) {
	var reply redis.Error
	switch {
	case err == nil || errors.As(err, &reply): // redis.Nil is a reply too
		b.succeed(since)
	case ctx.Err() != nil:
		// The caller gave up, or its deadline ended the command: that says
		// nothing of Redis.
	case connFailure(err):
		b.fail(err)
	}
}

// connFailure reports whether err says Redis could not be reached or the
// connection to it broke. The client's own conditions (closed, pool
// exhausted) and refusals of the breaker are not.
func connFailure(err error) bool {
	switch {
	case errors.Is(err, ErrUnavailable), errors.Is(err, redis.ErrClosed),
		errors.Is(err, redis.ErrPoolTimeout), errors.Is(err, redis.ErrPoolExhausted):
		return false
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.EPIPE):
		return true
	}
	var ne net.Error
	return errors.As(err, &ne)
}

// dialBackoff is the wait between the dial attempts of one connection: none
// once the breaker is open, since the next attempt is refused anyway.
func (b *breaker) dialBackoff(int) time.Duration {
	if b.open.Load() {
		return 0
	}
	return dialRetryWait
}

// admitDial reports whether a dial may go to Redis: always while closed;
// while open, the dial a probe asked for (go-redis dials on a goroutine of
// its own, so the probe's context does not reach here), or one dial a
// period of its own (the invalidation subscriber's, which sends no
// command).
func (b *breaker) admitDial() bool {
	if !b.open.Load() || b.probeDial.CompareAndSwap(true, false) {
		return true
	}
	ok, _ := b.admit()
	return ok
}

// admitCommand is admit for a command or pipeline; a probe may dial.
func (b *breaker) admitCommand() bool {
	ok, probe := b.admit()
	if probe {
		b.probeDial.Store(true)
	}
	return ok
}

// DialHook refuses dials while open, and moves the breaker on their
// outcome: every connection (pooled, pub/sub) is dialled here.
func (b *breaker) DialHook(next redis.DialHook) redis.DialHook {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		since := b.openings.Load()
		if !b.admitDial() {
			return nil, b.refused()
		}
		cn, err := next(ctx, network, addr)
		switch {
		case err == nil:
			b.succeed(since)
		case !errors.Is(err, context.Canceled):
			// Refused, unreachable, or not done by the deadline (the dial
			// timeout's, or a caller's shorter one).
			b.fail(err)
		}
		return cn, err
	}
}

// ProcessHook refuses commands while open, and moves the breaker on their
// outcome (after go-redis's retries).
func (b *breaker) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		since := b.openings.Load()
		if !b.admitCommand() {
			err := b.refused()
			cmd.SetErr(err)
			return err
		}
		err := next(ctx, cmd)
		b.observe(ctx, err, since)
		return err
	}
}

// ProcessPipelineHook is ProcessHook for pipelines and transactions.
func (b *breaker) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		since := b.openings.Load()
		if !b.admitCommand() {
			err := b.refused()
			for _, cmd := range cmds {
				cmd.SetErr(err)
			}
			return err
		}
		err := next(ctx, cmds)
		b.observe(ctx, err, since)
		return err
	}
}

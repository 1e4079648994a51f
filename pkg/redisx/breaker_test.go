package redisx

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// What a command's outcome does to the breaker: a reply closes it, a broken
// or unreachable connection opens it, and the client's own conditions or a
// caller giving up leave it as it was.
func TestOutcomesMoveTheBreaker(t *testing.T) {
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	dialRefused := &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
	for _, tc := range []struct {
		name     string
		ctx      context.Context
		err      error
		from, to bool // open before, open after
	}{
		{"success", context.Background(), nil, true, false},
		{"redis.Nil", context.Background(), redis.Nil, true, false},
		{"EOF", context.Background(), io.EOF, false, true},
		{"unexpected EOF", context.Background(), fmt.Errorf("read: %w", io.ErrUnexpectedEOF), false, true},
		{"reset", context.Background(), &net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}, false, true},
		{"dial refused", context.Background(), dialRefused, false, true},
		{"a refusal of the breaker", context.Background(), ErrUnavailable, false, false},
		{"client closed", context.Background(), redis.ErrClosed, false, false},
		{"pool timeout", context.Background(), redis.ErrPoolTimeout, false, false},
		{"caller gone", canceled, context.Canceled, false, false},
		{"caller gone, connection broke too", canceled, io.EOF, true, true},
	} {
		b := newBreaker(slog.New(slog.DiscardHandler), "redis://x", time.Hour)
		if tc.from {
			b.fail(io.EOF)
		}
		b.observe(tc.ctx, tc.err, b.openings.Load())
		if got := b.open.Load(); got != tc.to {
			t.Errorf("%s: open %v -> %v, want %v", tc.name, tc.from, got, tc.to)
		}
	}
}

// An open breaker refuses commands with the failure that opened it, then
// admits one probe a period; the probe may dial once.
func TestAnOpenBreakerAdmitsOneProbeAPeriod(t *testing.T) {
	const period = 20 * time.Millisecond
	b := newBreaker(slog.New(slog.DiscardHandler), "redis://x", period)
	if !b.admitCommand() || !b.admitDial() {
		t.Fatal("a closed breaker refused")
	}
	b.fail(&net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED})
	if b.admitCommand() || b.admitDial() {
		t.Fatal("an open breaker admitted before its period")
	}
	var oe *net.OpError
	if err := b.refused(); !errors.Is(err, ErrUnavailable) || errors.As(err, &oe) {
		t.Fatalf("refusal %v: want ErrUnavailable, not the dial error (go-redis would retry it)", err)
	}
	time.Sleep(period)
	admitted := 0
	for range 10 {
		if b.admitCommand() {
			admitted++
		}
	}
	if admitted != 1 {
		t.Fatalf("%d of 10 commands admitted after the period, want one probe", admitted)
	}
	if !b.admitDial() || b.admitDial() {
		t.Fatal("want the probe's dial admitted, and no other")
	}
	b.succeed(b.openings.Load())
	if !b.admitCommand() {
		t.Fatal("a closed breaker refused")
	}
}

// A command sent before the breaker opened, in flight when the connection
// broke, does not close it by succeeding; the probe sent after does.
func TestOnlyACommandSentSinceTheOpeningClosesTheBreaker(t *testing.T) {
	b := newBreaker(slog.New(slog.DiscardHandler), "redis://x", time.Hour)
	before := b.openings.Load()
	b.fail(io.EOF)
	b.observe(context.Background(), nil, before)
	if !b.open.Load() {
		t.Fatal("a command sent before the opening closed the breaker")
	}
	b.observe(context.Background(), nil, b.openings.Load())
	if b.open.Load() {
		t.Fatal("a command sent since the opening left the breaker open")
	}
}

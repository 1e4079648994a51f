package redisx_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/trace/noop"

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
// line naming the URL without its password, and the client works once
// Redis answers.
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
	if err := rdb.Set(context.Background(), "k", "v", 0).Err(); err != nil {
		t.Errorf("SET once Redis answers: %v", err)
	}
}

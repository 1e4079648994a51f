package redisx_test

import (
	"context"
	"log/slog"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/trace/noop"

	"github.com/vcci-dev/vcci/pkg/redisx"
)

// TestConnectErrorsHideThePassword: an error names the REDIS_URL it could
// not use, without its password.
func TestConnectErrorsHideThePassword(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	// want is how the error starts: why a server does not answer varies.
	for _, c := range []struct{ url, want string }{
		{"redis://:zq-s3cret@127.0.0.1:port/0", `redisx.Connect: REDIS_URL redis://xxxxx@127.0.0.1:port/0: invalid port ":port" after host`},
		{"redis://:zq-s3cret@127.0.0.1:1/0", "redisx.Connect: redis://:xxxxx@127.0.0.1:1/0: "},
	} {
		rdb, err := redisx.Connect(context.Background(), c.url, log, noop.NewTracerProvider())
		if err == nil {
			t.Fatalf("Connect(%q) = %v, want an error", c.url, rdb)
		}
		if !strings.HasPrefix(err.Error(), c.want) || strings.Contains(err.Error(), "zq-s3cret") {
			t.Errorf("Connect(%q): %q, want %q", c.url, err, c.want)
		}
	}
}

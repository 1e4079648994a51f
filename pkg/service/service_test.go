package service

import (
	"context"
	"log/slog"
	"math"
	"net"
	"net/http"
	"runtime/debug"
	"strings"
	"testing"
	"time"
)

// TuneGC and limitMemory set the collector's defaults only where the
// environment is silent.
func TestTuneGCKeepsWhatTheEnvironmentSets(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(math.MaxInt64))

	t.Setenv("GOGC", "")
	t.Setenv("GOMEMLIMIT", "")
	TuneGC()
	limitMemory()
	if got := debug.SetGCPercent(-1); got != DefaultGOGC {
		t.Errorf("GOGC unset: percent %d, want %d", got, DefaultGOGC)
	}
	if got := debug.SetMemoryLimit(-1); got != DefaultMemoryLimit {
		t.Errorf("GOMEMLIMIT unset: limit %d, want %d", got, DefaultMemoryLimit)
	}

	debug.SetGCPercent(100)
	debug.SetMemoryLimit(math.MaxInt64)
	t.Setenv("GOGC", "100")
	t.Setenv("GOMEMLIMIT", "1GiB")
	TuneGC()
	limitMemory()
	if got := debug.SetGCPercent(-1); got != 100 {
		t.Errorf("GOGC set: percent %d, want it left at 100", got)
	}
	if got := debug.SetMemoryLimit(-1); got != math.MaxInt64 {
		t.Errorf("GOMEMLIMIT set: limit %d, want it left alone", got)
	}
}

// The edge gets the settings every deployable reads, its logger, tracer and
// rate limits, and no listener.
func TestMainEdgeHandsTheEdgeItsProcess(t *testing.T) {
	t.Setenv("SHUTDOWN_TIMEOUT", "3s")
	t.Setenv("LOG_LEVEL", "debug")
	t.Setenv("VCCI_RATE_LIMIT_READ", "7/s")
	t.Setenv("PPROF_ADDR", "")
	ran := false
	err := mainEdgeErr(context.Background(), "gateway", func(_ context.Context, env EdgeEnv) error {
		ran = true
		if env.Cfg.Name != "gateway" || env.Cfg.ShutdownTimeout != 3*time.Second || env.Cfg.LogLevel != "debug" {
			t.Errorf("Cfg = %+v", env.Cfg)
		}
		if env.Log == nil || env.TP == nil {
			t.Error("no logger or tracer provider")
		}
		if env.RateLimit == nil || env.RateLimit.Read.Rate != 7 {
			t.Errorf("RateLimit = %+v, want read 7/s", env.RateLimit)
		}
		return nil
	})
	if err != nil || !ran {
		t.Fatalf("mainEdgeErr: ran %v, err %v", ran, err)
	}

	t.Setenv("SHUTDOWN_TIMEOUT", "soon")
	err = mainEdgeErr(context.Background(), "gateway", func(context.Context, EdgeEnv) error { return nil })
	if err == nil || !strings.Contains(err.Error(), "SHUTDOWN_TIMEOUT") {
		t.Errorf("malformed SHUTDOWN_TIMEOUT: err %v, want one naming it", err)
	}
}

// ServeHTTP answers until its context ends, then returns once the server has
// shut down.
func TestServeHTTPStopsWithItsContext(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	lis.Close()
	srv := &http.Server{Addr: addr, Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusTeapot)
	})}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ServeHTTP(ctx, slog.New(slog.DiscardHandler), srv, time.Second) }()
	var resp *http.Response
	for range 100 {
		if resp, err = http.Get("http://" + addr); err == nil {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusTeapot {
		t.Errorf("status %d, want %d", resp.StatusCode, http.StatusTeapot)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("ServeHTTP: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("ServeHTTP did not return after its context ended")
	}
}

// A peer's address is the launcher's, else <NAME>_ADDR, else the default.
func TestPeer(t *testing.T) {
	t.Setenv("CALCULATOR_ADDR", "")
	t.Setenv("INTAKE_ADDR", "intake:9101")
	env := Env{Peers: map[string]string{"hotspot": "127.0.0.1:40000"}}
	for name, want := range map[string]string{
		"hotspot":    "127.0.0.1:40000",
		"intake":     "intake:9101",
		"calculator": "127.0.0.1:9102",
	} {
		if got := env.Peer(name); got != want {
			t.Errorf("Peer(%q) = %q, want %q", name, got, want)
		}
	}
}

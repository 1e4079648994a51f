// Command gateway is the REST edge: it translates REST into calls on the five
// gRPC services.
package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/vcci-dev/vcci/gateway/edge"
	"github.com/vcci-dev/vcci/pkg/config"
	"github.com/vcci-dev/vcci/pkg/db"
	"github.com/vcci-dev/vcci/pkg/logging"
	"github.com/vcci-dev/vcci/pkg/ratelimit"
	"github.com/vcci-dev/vcci/pkg/redisx"
	"github.com/vcci-dev/vcci/pkg/service"
	"github.com/vcci-dev/vcci/pkg/telemetry"
)

func main() {
	service.TuneGC()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "gateway:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context) error {
	log := logging.New(os.Stdout, "gateway", config.String("LOG_LEVEL", "info"))
	maxUpload, err := config.Int("MAX_UPLOAD_BYTES", 2<<30)
	if err != nil {
		return err
	}
	timeout, err := config.Duration("SHUTDOWN_TIMEOUT", 15*time.Second)
	if err != nil {
		return err
	}
	stopPprof, err := telemetry.StartPprof()
	if err != nil {
		return err
	}
	defer stopPprof()
	tp, err := telemetry.Setup(ctx, "vcci-gateway")
	if err != nil {
		return err
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		tp.Shutdown(sctx)
	}()
	addrs := map[string]string{}
	for _, name := range edge.Backends {
		addrs[name] = service.PeerAddr(name)
	}
	// The edge cache hears the services' invalidations in Redis and charges
	// its answers to the same per-key limits; without Redis it is off.
	limits, err := ratelimit.ConfigFromEnv(os.Getenv)
	if err != nil {
		return err
	}
	edgeBytes, err := config.Int("EDGE_CACHE_BYTES", edge.DefaultEdgeCacheBytes)
	if err != nil {
		return err
	}
	edgeTTL, err := config.Duration("EDGE_CACHE_TTL", edge.DefaultEdgeCacheTTL)
	if err != nil {
		return err
	}
	if edgeBytes == 0 {
		edgeBytes = -1 // 0 means off here; edge.Options reads 0 as the default
	}
	rdb, err := redisx.Connect(ctx, os.Getenv("REDIS_URL"), log, tp)
	if err != nil {
		return err
	}
	if rdb != nil {
		defer rdb.Close()
	}
	// River's operator UI, off unless RIVER_UI_DATABASE_URL names the
	// database holding intake's jobs; it then needs RIVER_UI_PASSWORD.
	var riverUI http.Handler
	if url := os.Getenv("RIVER_UI_DATABASE_URL"); url != "" {
		pool, err := db.Open(ctx, url, tp, 4)
		if err != nil {
			return err
		}
		defer pool.Close()
		if riverUI, err = edge.RiverUI(ctx, pool, log, config.String("RIVER_UI_USER", "operator"), os.Getenv("RIVER_UI_PASSWORD")); err != nil {
			return err
		}
		log.Info("river ui on", "path", edge.RiverUIPath)
	}
	gw, err := edge.New(ctx, edge.Options{Log: log, TracerProvider: tp, Addrs: addrs, MaxUploadBytes: int64(maxUpload),
		Redis: rdb, RateLimit: &limits, EdgeCacheBytes: int64(edgeBytes), EdgeCacheTTL: edgeTTL,
		RiverUI: riverUI})
	if err != nil {
		return err
	}
	defer gw.Close()
	srv := &http.Server{
		Addr:              config.String("HTTP_ADDR", "127.0.0.1:8080"),
		Handler:           gw.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	log.Info("serving", "http", srv.Addr)
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

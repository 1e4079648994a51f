// Command gateway is the REST edge: it translates REST into calls on the five
// gRPC services.
package main

import (
	"context"
	"net/http"

	"github.com/vcci-dev/vcci/gateway/edge"
	"github.com/vcci-dev/vcci/pkg/db"
	"github.com/vcci-dev/vcci/pkg/service"
)

func main() { service.MainEdge("gateway", run) }

func run(ctx context.Context, env service.EdgeEnv) error {
	cfg, err := loadConfig(env.Cfg)
	if err != nil {
		return err
	}
	var riverUI http.Handler
	if cfg.RiverUIDatabaseURL != "" {
		pool, err := db.Open(ctx, cfg.RiverUIDatabaseURL, env.TP, 4, db.WithTimeouts(cfg.DBTimeouts))
		if err != nil {
			return err
		}
		defer pool.Close()
		if riverUI, err = edge.RiverUI(ctx, pool, env.Log, cfg.RiverUIUser, cfg.RiverUIPassword); err != nil {
			return err
		}
		env.Log.InfoContext(ctx, "river ui on", "path", edge.RiverUIPath)
	}
	// The edge cache hears the services' invalidations in Redis and charges
	// its answers to the same per-key limits; without Redis it is off.
	gw, err := edge.New(ctx, edge.Options{Log: env.Log, TracerProvider: env.TP, Addrs: cfg.Backends, MaxUploadBytes: cfg.MaxUploadBytes,
		Redis: env.Redis, RateLimit: env.RateLimit, EdgeCacheBytes: cfg.EdgeCacheBytes, EdgeCacheTTL: cfg.EdgeCacheTTL,
		RiverUI: riverUI, CallTimeouts: &cfg.CallTimeouts, HTTP: &cfg.HTTP})
	if err != nil {
		return err
	}
	defer gw.Close()
	return service.ServeHTTP(ctx, env.Log, gw.Server(cfg.HTTPAddr), cfg.ShutdownTimeout)
}

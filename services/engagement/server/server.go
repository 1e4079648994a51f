// Package server wires the engagement service; main and in-process launchers
// call Run.
package server

import (
	"context"

	"github.com/jackc/pgx/v5/pgxpool"

	engagementv1 "github.com/vcci-dev/vcci/pkg/gen/vcci/engagement/v1"
	hotspotv1 "github.com/vcci-dev/vcci/pkg/gen/vcci/hotspot/v1"
	"github.com/vcci-dev/vcci/pkg/service"
	"github.com/vcci-dev/vcci/services/engagement/internal/engagement"
	"github.com/vcci-dev/vcci/services/engagement/internal/grpcapi"
	"github.com/vcci-dev/vcci/services/engagement/internal/store"
)

// Migrate creates or updates engagement's schema.
func Migrate(ctx context.Context, pool *pgxpool.Pool) error { return store.Migrate(ctx, pool) }

// Run serves engagement until ctx ends.
func Run(ctx context.Context, env service.Env) error {
	cfg := LoadConfig(env)
	pool, auth, err := service.OpenDB(ctx, env, 8, Migrate)
	if err != nil {
		return err
	}
	defer pool.Close()
	hs, err := service.Dial(ctx, env, pool, cfg.HotspotAddr)
	if err != nil {
		return err
	}
	defer hs.Close()

	svc := engagement.New(store.New(pool), grpcapi.Hotspot{Client: hotspotv1.NewHotspotServiceClient(hs)})
	srv := service.NewServer(env, pool, auth)
	engagementv1.RegisterEngagementServiceServer(srv.GRPC, grpcapi.New(svc))
	return srv.Run(ctx, env.GRPC, env.Metrics, cfg.ShutdownTimeout)
}

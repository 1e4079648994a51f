// Package server wires the hotspot service; main and in-process launchers
// call Run.
package server

import (
	"context"

	calculatorv1 "github.com/vcci-dev/vcci/pkg/gen/vcci/calculator/v1"
	hotspotv1 "github.com/vcci-dev/vcci/pkg/gen/vcci/hotspot/v1"
	intakev1 "github.com/vcci-dev/vcci/pkg/gen/vcci/intake/v1"
	"github.com/vcci-dev/vcci/pkg/service"
	"github.com/vcci-dev/vcci/services/hotspot/internal/grpcapi"
	"github.com/vcci-dev/vcci/services/hotspot/internal/hotspot"
)

// Run serves hotspot until ctx ends.
func Run(ctx context.Context, env service.Env) error {
	cfg := LoadConfig(env)
	// Hotspot owns no tables: the pool is for authenticating keys (the iam
	// schema) and for readiness, so a few connections do.
	pool, auth, err := service.OpenDB(ctx, env, 4, nil)
	if err != nil {
		return err
	}
	defer pool.Close()
	calc, err := service.Dial(ctx, env, pool, cfg.CalculatorAddr)
	if err != nil {
		return err
	}
	defer calc.Close()
	intake, err := service.Dial(ctx, env, pool, cfg.IntakeAddr)
	if err != nil {
		return err
	}
	defer intake.Close()

	svc := hotspot.New(
		grpcapi.Calculator{Client: calculatorv1.NewCalculatorServiceClient(calc)},
		grpcapi.Suppliers{Client: intakev1.NewIntakeServiceClient(intake)},
	)
	srv := service.NewServer(env, pool, auth)
	hotspotv1.RegisterHotspotServiceServer(srv.GRPC, grpcapi.New(svc))
	return srv.Run(ctx, env.GRPC, env.Metrics, cfg.ShutdownTimeout)
}

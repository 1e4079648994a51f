// Package server wires the engagement service (campaigns, and webhooks
// with their delivery workers); main and in-process launchers
// call Run.
package server

import (
	"context"
	"fmt"
	"slices"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	calculatorv1 "github.com/vcci-dev/vcci/pkg/gen/vcci/calculator/v1"
	engagementv1 "github.com/vcci-dev/vcci/pkg/gen/vcci/engagement/v1"
	hotspotv1 "github.com/vcci-dev/vcci/pkg/gen/vcci/hotspot/v1"
	"github.com/vcci-dev/vcci/pkg/secretbox"
	"github.com/vcci-dev/vcci/pkg/service"
	"github.com/vcci-dev/vcci/pkg/tenancy"
	"github.com/vcci-dev/vcci/services/engagement/internal/engagement"
	"github.com/vcci-dev/vcci/services/engagement/internal/grpcapi"
	"github.com/vcci-dev/vcci/services/engagement/internal/store"
)

// Migrate creates or updates engagement's schema.
func Migrate(ctx context.Context, pool *pgxpool.Pool) error { return store.Migrate(ctx, pool) }

// Run serves engagement until ctx ends.
func Run(ctx context.Context, env service.Env) error {
	cfg, err := LoadConfig(env)
	if err != nil {
		return err
	}
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
	cs, err := service.Dial(ctx, env, pool, cfg.CalculatorAddr)
	if err != nil {
		return err
	}
	defer cs.Close()

	// Endpoints' signing secrets are sealed under WEBHOOK_SECRET_KEY, else
	// under a key derived from the platform secret every replica shares
	// (which still opens what it sealed); those stored in the clear by an
	// older version or under an older key are sealed again now.
	derived, err := tenancy.DeriveKey(ctx, pool, "webhook-secrets")
	if err != nil {
		return err
	}
	current, others := derived, cfg.WebhookPreviousKeys
	if cfg.WebhookSecretKey != nil {
		current, others = cfg.WebhookSecretKey, append(slices.Clip(others), derived)
	} else {
		env.Log.WarnContext(ctx, "webhook secrets are sealed under a key kept in the database; set WEBHOOK_SECRET_KEY to keep it apart")
	}
	box, err := secretbox.New(current, others...)
	if err != nil {
		return err
	}
	st := store.New(pool).WithSecrets(box)
	if n, err := st.SealSecrets(ctx); err != nil {
		return err
	} else if n > 0 {
		env.Log.InfoContext(ctx, "sealed webhook secrets under the current key", "endpoints", n, "key", secretbox.KeyID(current))
	}
	calc := grpcapi.Calculator{Client: calculatorv1.NewCalculatorServiceClient(cs)}
	svc := engagement.New(st, grpcapi.Hotspot{Client: hotspotv1.NewHotspotServiceClient(hs)}, calc)
	hooks := engagement.NewWebhooks(st)
	hooks.AllowPrivate = cfg.WebhookPrivateNetworks
	jobs, err := store.NewClient(pool, engagement.NewDeliveryWorker(hooks), store.ClientOptions{Log: env.Log.With("component", "river"), TP: env.TP})
	if err != nil {
		return err
	}
	if err := jobs.Start(context.WithoutCancel(ctx)); err != nil { // stopped below, after the server
		return fmt.Errorf("start webhook deliveries: %w", err)
	}
	defer func() {
		// An attempt cut short is retried: receivers drop the duplicate by
		// its webhook-id.
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.ShutdownTimeout)
		defer cancel()
		if err := jobs.StopAndCancel(sctx); err != nil {
			env.Log.ErrorContext(sctx, "stop webhook deliveries", "error", err.Error())
		}
	}()
	// Submission links are checked by whichever replica serves them: every
	// replica signs with SUBMISSION_LINK_KEY, else with a key derived from
	// the platform secret they share.
	linkKey := cfg.SubmissionLinkKey
	if linkKey == nil {
		env.Log.WarnContext(ctx, "submission links are signed with a key kept in the database; set SUBMISSION_LINK_KEY to keep it apart")
		if linkKey, err = tenancy.DeriveKey(ctx, pool, "submission-link"); err != nil {
			return err
		}
	}
	subs := engagement.NewSubmissions(st, engagement.NewLinks(linkKey, nil, cfg.SubmissionLinkPreviousKeys...), calc,
		func(ctx context.Context, t uuid.UUID) (string, error) { return tenancy.TenantName(ctx, pool, t) }, hooks)
	srv := service.NewServer(env, pool, auth, grpcapi.GetSupplierRequestMethod, grpcapi.SubmitSupplierDataMethod)
	engagementv1.RegisterEngagementServiceServer(srv.GRPC, grpcapi.New(svc, hooks).WithSubmissions(subs))
	return srv.Run(ctx, env.GRPC, env.Metrics, cfg.ShutdownTimeout)
}

package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/vcci-dev/vcci/cmd/vcci/internal/pgboot"
	"github.com/vcci-dev/vcci/cmd/vcci/internal/stack"
	"github.com/vcci-dev/vcci/pkg/config"
	"github.com/vcci-dev/vcci/pkg/logging"
	"github.com/vcci-dev/vcci/pkg/ratelimit"
	"github.com/vcci-dev/vcci/pkg/service"
	"github.com/vcci-dev/vcci/pkg/telemetry"
	"github.com/vcci-dev/vcci/pkg/tenancy"
)

// runLocal brings the platform up on the embedded default and prints how to
// reach it.
func runLocal(ctx context.Context, args []string) error {
	service.TuneGC() // the platform in one process, tuned as each deployable is
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	dataDir := fs.String("data", ".pgdata", "where a private PostgreSQL cluster lives when no server is found")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	log := logging.New(os.Stderr, "vcci", config.String("LOG_LEVEL", "info"))
	// A developer's platform: their webhook receivers are on this machine.
	if os.Getenv("WEBHOOK_PRIVATE_NETWORKS") == "" {
		if err := os.Setenv("WEBHOOK_PRIVATE_NETWORKS", "true"); err != nil {
			return fmt.Errorf("vcci run: %w", err)
		}
	}
	database, err := pgboot.Find(ctx, "vcci", *dataDir)
	if err != nil {
		return err
	}
	if database.Stop != nil {
		defer func() {
			if err := database.Stop(); err != nil {
				log.WarnContext(ctx, "stopping the private PostgreSQL cluster", "error", err)
			}
		}()
	}
	key, err := bootstrapTenant(ctx, database.URL, ".vcci-dev-key")
	if err != nil {
		return err
	}
	tp, err := telemetry.Setup(ctx, "vcci")
	if err != nil {
		return err
	}
	defer func() {
		// ctx is done by now: flush on a context that outlives it.
		if err := tp.Shutdown(context.WithoutCancel(ctx)); err != nil {
			log.WarnContext(ctx, "flushing traces", "error", err)
		}
	}()
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	limits, err := ratelimit.ConfigFromEnv(os.Getenv)
	if err != nil {
		return err
	}
	st, err := stack.Start(runCtx, stack.Options{DatabaseURL: database.URL, RedisURL: os.Getenv("REDIS_URL"), Log: log, TP: tp, Metrics: true,
		RateLimit: &limits})
	if err != nil {
		return err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "\nvcci is running (database: %s)\n\n", database.Note)
	fmt.Fprintf(&b, "  REST gateway   %s   (OpenAPI: %s/openapi.json, Swagger UI: %s/docs)\n", st.HTTPURL, st.HTTPURL, st.HTTPURL)
	for _, s := range stack.Services {
		_, metrics := service.DefaultAddrs(s.Name)
		fmt.Fprintf(&b, "  %-14s %s   (metrics: http://%s/metrics)\n", s.Name, st.GRPC[s.Name], metrics)
	}
	fmt.Fprintf(&b, "\n  API key        %s   (tenant \"default\"; saved in .vcci-dev-key)\n\n", key)
	fmt.Fprintf(&b, "Try:\n  curl -sS -H 'x-api-key: %s' -H 'Content-Type: text/csv' --data-binary @spend.csv '%s/v1/uploads?filename=spend.csv'\n", key, st.HTTPURL)
	fmt.Fprintf(&b, "  curl -sS -H 'x-api-key: %s' %s/v1/hotspots/supplierPareto?topN=10\n", key, st.HTTPURL)
	fmt.Fprintf(&b, "  grpcurl -plaintext -H 'x-api-key: %s' %s vcci.reporting.v1.ReportingService/GetInventorySummary\n\nCtrl-C stops.\n", key, st.GRPC["reporting"])
	fmt.Fprint(os.Stdout, b.String())

	select {
	case <-ctx.Done():
	case err = <-st.Errors():
	}
	cancel()
	st.Wait()
	return err
}

// bootstrapTenant creates the default tenant and returns its API key: the
// one in keyFile, or VCCI_API_KEY, or a new one saved to keyFile.
func bootstrapTenant(ctx context.Context, url, keyFile string) (string, error) {
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		return "", fmt.Errorf("connecting to the database: %w", err)
	}
	defer pool.Close()
	if err := tenancy.Migrate(ctx, pool); err != nil {
		return "", err
	}
	tenant, err := tenancy.EnsureTenant(ctx, pool, "default")
	if err != nil {
		return "", err
	}
	key := os.Getenv("VCCI_API_KEY")
	if key == "" {
		if b, err := os.ReadFile(keyFile); err == nil {
			key = strings.TrimSpace(string(b))
			if err := keepPrivate(keyFile); err != nil {
				return "", err
			}
		} else if !errors.Is(err, os.ErrNotExist) {
			return "", fmt.Errorf("reading the key: %w", err)
		}
	}
	if key != "" {
		return key, tenancy.RegisterKey(ctx, pool, tenant, key, "local default")
	}
	key, err = tenancy.IssueKey(ctx, pool, tenant, "local default")
	if err != nil {
		return "", err
	}
	path, _ := filepath.Abs(keyFile)
	if err := os.WriteFile(path, []byte(key+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("saving the key: %w", err)
	}
	return key, keepPrivate(path) // WriteFile keeps the mode of a file that exists
}

// keepPrivate makes the key file readable and writable by its owner only:
// a file made before the key was kept private, or by hand, may be readable
// by every user of the machine.
func keepPrivate(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("making the key file private: %w", err)
	}
	if fi.Mode().Perm()&0o077 == 0 {
		return nil
	}
	if err := os.Chmod(path, 0o600); err != nil {
		return fmt.Errorf("making %s private to its owner: %w", path, err)
	}
	return nil
}

// Package service is what every deployable's main shares: a signal-bound
// context, configuration, logger, tracer provider, Redis and rate limits,
// handed to a gRPC service's Run with its listeners (Main) or to the REST
// edge's (MainEdge); and the database and authentication every service opens.
package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"

	"github.com/vcci-dev/vcci/pkg/config"
	"github.com/vcci-dev/vcci/pkg/db"
	"github.com/vcci-dev/vcci/pkg/grpcclient"
	"github.com/vcci-dev/vcci/pkg/grpcserver"
	"github.com/vcci-dev/vcci/pkg/logging"
	"github.com/vcci-dev/vcci/pkg/ratelimit"
	"github.com/vcci-dev/vcci/pkg/redisx"
	"github.com/vcci-dev/vcci/pkg/telemetry"
	"github.com/vcci-dev/vcci/pkg/tenancy"
)

// DefaultAddrs returns service name's gRPC and metrics addresses for when
// its settings name none; <NAME>_ADDR overrides a peer's.
func DefaultAddrs(name string) (grpcAddr, metricsAddr string) {
	switch name {
	case "intake":
		return "127.0.0.1:9101", "127.0.0.1:9201"
	case "calculator":
		return "127.0.0.1:9102", "127.0.0.1:9202"
	case "hotspot":
		return "127.0.0.1:9103", "127.0.0.1:9203"
	case "engagement":
		return "127.0.0.1:9104", "127.0.0.1:9204"
	case "reporting":
		return "127.0.0.1:9105", "127.0.0.1:9205"
	}
	return "", ""
}

// Env is what a service's Run receives.
type Env struct {
	Cfg config.Service
	Log *slog.Logger
	TP  trace.TracerProvider
	// GRPC and Metrics are the listeners to serve on; Metrics may be nil.
	GRPC    net.Listener
	Metrics net.Listener
	// Peers maps a service name to its gRPC address.
	Peers map[string]string
	// RateLimit is the per-API-key budget NewServer enforces; nil means no
	// limits (launchers that build Env themselves and set none).
	RateLimit *ratelimit.Config
	// Redis is the platform's Redis, or nil. NewServer keeps the rate limit
	// budgets there so that every replica of every service spends one
	// budget per key; without it each process keeps its own.
	Redis *redis.Client
}

// Peer returns the address of service name: Peers, else <NAME>_ADDR, else the default.
func (e Env) Peer(name string) string {
	if a, ok := e.Peers[name]; ok {
		return a
	}
	return PeerAddr(name)
}

// PeerAddr returns <NAME>_ADDR or the default address of service name.
func PeerAddr(name string) string {
	up := []byte(name)
	for i, c := range up {
		if c >= 'a' && c <= 'z' {
			up[i] = c - 32
		}
	}
	addr, _ := DefaultAddrs(name)
	return config.String(string(up)+"_ADDR", addr)
}

// DefaultGOGC is the garbage collector's target when GOGC is unset: the
// heap may grow to five times what is live before a collection, rather than
// Go's default of twice. A request allocates its answer's buffers and lets
// go of them at once, so at the default the collector ran often under load
// and took a noticeable share of the gateway's CPU, while the live heaps
// here are small (docs/benchmarks.md has the measurements). Deployments
// with a memory limit set GOMEMLIMIT below it (deploy/kubernetes), so the
// collector works harder only when the limit comes near.
const DefaultGOGC = 400

// DefaultMemoryLimit is a service's soft memory limit when GOMEMLIMIT is
// unset. At DefaultGOGC a bulk upload's short-lived batches grew intake's
// and the calculator's heaps to five times what was live; near this limit
// the collector runs sooner instead. Their live heaps are well under it,
// so in ordinary running nothing changes. (The gateway, whose edge cache
// alone may hold edge.DefaultEdgeCacheBytes, keeps no default limit.)
const DefaultMemoryLimit = 128 << 20

// TuneGC applies DefaultGOGC unless GOGC is set (the runtime has applied
// that one already).
func TuneGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(DefaultGOGC)
	}
}

// limitMemory applies DefaultMemoryLimit unless GOMEMLIMIT is set.
func limitMemory() {
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(DefaultMemoryLimit)
	}
}

// Main runs a gRPC service as its own process and exits with its result.
func Main(name string, run func(context.Context, Env) error) {
	limitMemory()
	runMain(name, func(ctx context.Context) error { return mainErr(ctx, name, run) })
}

// EdgeEnv is what an HTTP edge's run receives from MainEdge.
type EdgeEnv struct {
	Cfg config.Process
	Log *slog.Logger
	TP  trace.TracerProvider
	// RateLimit is the per-API-key budget the services enforce.
	RateLimit *ratelimit.Config
	// Redis is the platform's Redis, or nil.
	Redis *redis.Client
}

// MainEdge runs an HTTP edge (the gateway) as its own process and exits with
// its result. It sets up what Main does, but opens no gRPC or metrics
// listener (the edge serves both on its own HTTP address, with ServeHTTP)
// and sets no default memory limit: the edge cache is sized by its own
// setting.
func MainEdge(name string, run func(context.Context, EdgeEnv) error) {
	runMain(name, func(ctx context.Context) error { return mainEdgeErr(ctx, name, run) })
}

// runMain runs main with a context that ends on SIGINT or SIGTERM, and
// exits the process when it fails.
func runMain(name string, main func(context.Context) error) {
	TuneGC()
	if err := runSignalled(main); err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
		os.Exit(1) //nolint:revive // deep-exit: Main and MainEdge are each deployable's main
	}
}

// runSignalled runs main with a context that ends on SIGINT or SIGTERM.
func runSignalled(main func(context.Context) error) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return main(ctx)
}

func mainErr(ctx context.Context, name string, run func(context.Context, Env) error) error {
	grpcAddr, metricsAddr := DefaultAddrs(name)
	cfg, err := config.Load(name, grpcAddr, metricsAddr)
	if err != nil {
		return err
	}
	return withProcess(ctx, cfg.Process, func(p process) error {
		var lc net.ListenConfig
		lis, err := lc.Listen(ctx, "tcp", cfg.GRPCAddr)
		if err != nil {
			return fmt.Errorf("listen %s: %w", cfg.GRPCAddr, err)
		}
		var mlis net.Listener
		if cfg.MetricsAddr != "" && cfg.MetricsAddr != "off" {
			if mlis, err = lc.Listen(ctx, "tcp", cfg.MetricsAddr); err != nil {
				return fmt.Errorf("listen %s: %w", cfg.MetricsAddr, err)
			}
		}
		return run(ctx, Env{Cfg: cfg, Log: p.log, TP: p.tp, GRPC: lis, Metrics: mlis, RateLimit: p.limits, Redis: p.rdb})
	})
}

func mainEdgeErr(ctx context.Context, name string, run func(context.Context, EdgeEnv) error) error {
	cfg, err := config.LoadProcess(name)
	if err != nil {
		return err
	}
	return withProcess(ctx, cfg, func(p process) error {
		return run(ctx, EdgeEnv{Cfg: cfg, Log: p.log, TP: p.tp, RateLimit: p.limits, Redis: p.rdb})
	})
}

// process is what every deployable runs with, services and the edge alike.
type process struct {
	log    *slog.Logger
	tp     trace.TracerProvider
	limits *ratelimit.Config
	rdb    *redis.Client // nil: none
}

// withProcess reads the rate limits, starts the logger, profiling, tracing
// and Redis, calls run with them, and stops them when it returns.
func withProcess(ctx context.Context, cfg config.Process, run func(process) error) error {
	limits, err := ratelimit.ConfigFromEnv(os.Getenv)
	if err != nil {
		return err
	}
	log := logging.New(os.Stdout, cfg.Name, cfg.LogLevel)
	stopPprof, err := telemetry.StartPprof(ctx)
	if err != nil {
		return err
	}
	defer stopPprof()
	tp, err := telemetry.Setup(ctx, "vcci-"+cfg.Name)
	if err != nil {
		return err
	}
	defer func() {
		// ctx may have ended: the flush gets a deadline of its own.
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := tp.Shutdown(sctx); err != nil {
			log.WarnContext(sctx, "flushing traces", "error", err)
		}
	}()
	// The limits live in Redis when there is one: REDIS_URL, else a server
	// on 127.0.0.1:6379.
	rdb, err := redisx.Connect(ctx, cfg.RedisURL, log, tp)
	if err != nil {
		return err
	}
	if rdb != nil {
		defer rdb.Close()
	}
	return run(process{log: log, tp: tp, limits: &limits, rdb: rdb})
}

// ServeHTTP serves srv on srv.Addr until ctx ends, then shuts it down,
// letting requests in flight finish for at most timeout.
func ServeHTTP(ctx context.Context, log *slog.Logger, srv *http.Server, timeout time.Duration) error {
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	log.InfoContext(ctx, "serving", "http", srv.Addr)
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("service.ServeHTTP: shutdown: %w", err)
	}
	return nil
}

// OpenDB opens the service's pool, its sessions limited as db.LoadTimeouts
// reads, applies the identity schema's migrations and the service's own
// (via migrate), and returns the pool with an authenticator on it.
func OpenDB(ctx context.Context, env Env, maxConns int32, migrate func(context.Context, *pgxpool.Pool) error) (*pgxpool.Pool, *tenancy.Authenticator, error) {
	timeouts, err := db.LoadTimeouts()
	if err != nil {
		return nil, nil, err
	}
	pool, err := db.Open(ctx, env.Cfg.DatabaseURL, env.TP, maxConns, db.WithTimeouts(timeouts))
	if err != nil {
		return nil, nil, err
	}
	if err := tenancy.Migrate(ctx, pool); err != nil {
		pool.Close()
		return nil, nil, err
	}
	if migrate != nil {
		if err := migrate(ctx, pool); err != nil {
			pool.Close()
			return nil, nil, err
		}
	}
	return pool, tenancy.NewAuthenticator(pool, tenancy.DefaultAuthTTL), nil
}

// NewServer returns the shared gRPC server for a service whose readiness is
// its database answering, limiting API-key callers as env.RateLimit says;
// the open methods need no key (grpcserver.Options.Open).
func NewServer(env Env, pool *pgxpool.Pool, auth grpcserver.Authenticator, open ...string) *grpcserver.Server {
	reg := grpcserver.NewRegistry()
	var limiter *ratelimit.Limiter
	if env.RateLimit != nil {
		limiter = ratelimit.New(env.Redis, *env.RateLimit, env.Log, reg)
		env.Log.Info("rate limits per API key", "read", env.RateLimit.Read.String(), "write", env.RateLimit.Write.String(),
			"heavy", env.RateLimit.Heavy.String(), "shared_in_redis", env.Redis != nil)
	}
	return grpcserver.New(grpcserver.Options{
		Name: env.Cfg.Name, Log: env.Log, TracerProvider: env.TP, Auth: auth,
		Ready:    func(ctx context.Context) error { return pool.Ping(ctx) },
		Registry: reg,
		Limiter:  limiter,
		Audit:    tenancy.NewAuditLog(pool),
		Open:     open,
	})
}

// Dial connects to the peer service at addr. Calls made for an
// authenticated caller travel as the platform acting for the caller's
// tenant, so a request is charged to its key's rate limit once, where it
// entered the platform; a call whose context has no deadline gets the one
// grpcclient.LoadTimeouts reads. The token is the current one, read again
// every tenancy.CredentialRefresh, so a rotation needs no restart.
func Dial(ctx context.Context, env Env, pool *pgxpool.Pool, addr string) (*grpc.ClientConn, error) {
	timeouts, err := grpcclient.LoadTimeouts()
	if err != nil {
		return nil, err
	}
	tokens := tenancy.NewServiceTokens(pool)
	if _, err := tokens.Current(ctx); err != nil {
		return nil, err
	}
	current := func(ctx context.Context) string {
		tok, err := tokens.Current(ctx)
		if err != nil {
			env.Log.WarnContext(ctx, "service token", "error", err.Error())
		}
		return tok
	}
	return grpcclient.Dial(addr, env.TP, grpcclient.AsServiceFrom(current), grpcclient.WithTimeouts(timeouts))
}

// RedisClient returns env.Redis, or connects (REDIS_URL, else a server on
// 127.0.0.1:6379, else none) when the launcher gave none; release closes
// only a client opened here.
func RedisClient(ctx context.Context, env Env) (rdb *redis.Client, release func(), err error) {
	if env.Redis != nil {
		return env.Redis, func() {}, nil
	}
	rdb, err = redisx.Connect(ctx, env.Cfg.RedisURL, env.Log, env.TP)
	if err != nil || rdb == nil {
		return nil, func() {}, err
	}
	return rdb, func() { rdb.Close() }, nil
}

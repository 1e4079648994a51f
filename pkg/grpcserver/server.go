// Package grpcserver is the bootstrap every service shares: interceptors
// (panic recovery, API-key authentication, scopes, per-key rate limits, the
// audit log, error mapping, metrics), the health and reflection services, OpenTelemetry stats
// handlers, a metrics and probe HTTP listener, and shutdown with a deadline.
package grpcserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	grpcprom "github.com/grpc-ecosystem/go-grpc-middleware/providers/prometheus"
	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/recovery"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/reflection"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/vcci-dev/vcci/pkg/cache"
	"github.com/vcci-dev/vcci/pkg/ratelimit"
	"github.com/vcci-dev/vcci/pkg/telemetry"
	"github.com/vcci-dev/vcci/pkg/tenancy"
)

// Authenticator resolves an API key to a tenant.
type Authenticator interface {
	Authenticate(ctx context.Context, key string) (uuid.UUID, error)
}

// KeyAuthenticator resolves an API key to who it proves the caller to be,
// scopes included; an Authenticator without it grants every scope.
type KeyAuthenticator interface {
	AuthenticateKey(ctx context.Context, key string) (tenancy.Caller, error)
}

// ServiceAuthenticator accepts another vcci service acting for a tenant.
type ServiceAuthenticator interface {
	AuthenticateService(ctx context.Context, token, tenant string) (uuid.UUID, error)
}

// Options configure a Server.
type Options struct {
	Name           string
	Log            *slog.Logger
	TracerProvider trace.TracerProvider
	Auth           Authenticator
	// Ready reports whether the service can serve (its database answers).
	// Run asks it every ReadyEvery and sets the gRPC health status and
	// /readyz from the answer.
	Ready func(ctx context.Context) error
	// ReadyEvery is how often Ready is asked (default DefaultReadyEvery).
	ReadyEvery time.Duration
	// Registry receives the gRPC metrics; nil means a new one.
	Registry *prometheus.Registry
	// Limiter charges every request made with an API key to that key's
	// budget; nil means no limits.
	Limiter *ratelimit.Limiter
	// Classify picks the budget a method draws on; nil means ratelimit.ClassOf.
	Classify func(fullMethod string) ratelimit.Class
	// MaxConcurrentStreams caps the calls in flight on one connection;
	// 0 means DefaultMaxConcurrentStreams.
	MaxConcurrentStreams uint32
	// Audit receives a row for every successful call that is not a read;
	// nil records nothing.
	Audit Auditor
	// Open are full method names ("/pkg.Service/Method") that need no API
	// key, as health checks do: their request carries its own credential (a
	// signed link), which the handler must verify. They are neither
	// authorized, rate limited nor audited.
	Open []string
}

// Limits every server states rather than inherits from grpc-go.
const (
	// MaxMsgBytes bounds a message either way; the largest is a
	// CalculateEmissions batch of 50,000 lines.
	MaxMsgBytes = 64 << 20
	// DefaultMaxConcurrentStreams: grpc-go allows any number. The gateway
	// carries every REST request to a service over one connection, so the
	// cap is far above what it has in flight; a client past it waits for
	// a stream to end, it does not fail.
	DefaultMaxConcurrentStreams = 1000
)

// KeepalivePolicy is how often a client may ping, with calls in flight or
// not: one pinging more often is sent GOAWAY (too_many_pings) and
// disconnected. grpc-go's default allows one ping in five minutes, and
// only during a call, which grpcclient's keepalive would break.
func KeepalivePolicy() keepalive.EnforcementPolicy {
	return keepalive.EnforcementPolicy{MinTime: 10 * time.Second, PermitWithoutStream: true}
}

// keepaliveParams: the server pings a client silent for a minute and drops
// it 20 s later if it does not answer, so that a client gone without
// closing does not hold its streams; a connection with no call for 15
// minutes is closed (the client dials again when it needs to).
var keepaliveParams = keepalive.ServerParameters{MaxConnectionIdle: 15 * time.Minute, Time: time.Minute, Timeout: 20 * time.Second}

// DefaultReadyEvery is how often a server asks Ready. With the check's own
// timeout (readyTimeout), a database that stops answering turns the server
// NOT_SERVING within 7 s.
const DefaultReadyEvery = 5 * time.Second

// readyTimeout bounds one Ready check: a database that does not answer in
// that time is not ready.
const readyTimeout = 2 * time.Second

// Server is a gRPC server with the shared interceptors.
type Server struct {
	GRPC     *grpc.Server
	Health   *health.Server
	Registry *prometheus.Registry
	opts     Options
	// notReady is why the server is not ready ("" when it is), which
	// /readyz reports.
	notReady atomic.Pointer[string]
}

// NewRegistry returns the registry a Server uses when Options.Registry is
// nil: Go runtime and process metrics. Make one first to register other
// metrics (a Limiter's) beside the server's.
func NewRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// New returns a Server; register the service on s.GRPC, then Run.
func New(opts Options) *Server {
	reg := opts.Registry
	if reg == nil {
		reg = NewRegistry()
	}
	if opts.Classify == nil {
		opts.Classify = ratelimit.ClassOf
	}
	if opts.MaxConcurrentStreams == 0 {
		opts.MaxConcurrentStreams = DefaultMaxConcurrentStreams
	}
	metrics := grpcprom.NewServerMetrics(grpcprom.WithServerHandlingTimeHistogram(
		grpcprom.WithHistogramBuckets([]float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10})))
	reg.MustRegister(metrics)

	if opts.ReadyEvery <= 0 {
		opts.ReadyEvery = DefaultReadyEvery
	}
	s := &Server{Health: health.NewServer(), Registry: reg, opts: opts}
	s.setReady("")
	recoverOpt := recovery.WithRecoveryHandlerContext(func(ctx context.Context, p any) error {
		opts.Log.ErrorContext(ctx, "panic", "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
		return status.Error(codes.Internal, "internal error")
	})
	s.GRPC = grpc.NewServer(
		grpc.StatsHandler(otelgrpc.NewServerHandler(
			otelgrpc.WithTracerProvider(opts.TracerProvider),
			otelgrpc.WithPropagators(telemetry.Propagator()))),
		grpc.MaxRecvMsgSize(MaxMsgBytes),
		grpc.MaxSendMsgSize(MaxMsgBytes),
		grpc.MaxConcurrentStreams(opts.MaxConcurrentStreams),
		grpc.KeepaliveEnforcementPolicy(KeepalivePolicy()),
		grpc.KeepaliveParams(keepaliveParams),
		grpc.ChainUnaryInterceptor(
			metrics.UnaryServerInterceptor(),
			recovery.UnaryServerInterceptor(recoverOpt),
			unaryUnsure,
			s.unaryAuthAndErrors,
		),
		grpc.ChainStreamInterceptor(
			metrics.StreamServerInterceptor(),
			recovery.StreamServerInterceptor(recoverOpt),
			streamUnsure,
			s.streamAuthAndErrors,
		),
	)
	healthpb.RegisterHealthServer(s.GRPC, s.Health)
	reflection.Register(s.GRPC)
	return s
}

// open methods need no API key: health checks and reflection (ghz, grpcurl),
// and Options.Open.
func (s *Server) open(method string) bool {
	return strings.HasPrefix(method, "/grpc.health.v1.") || strings.HasPrefix(method, "/grpc.reflection.") || slices.Contains(s.opts.Open, method)
}

func (s *Server) authenticate(ctx context.Context, method string) (context.Context, error) {
	if s.open(method) {
		return ctx, nil
	}
	md, _ := metadata.FromIncomingContext(ctx)
	if tok := md.Get("x-vcci-service-token"); len(tok) > 0 {
		sa, ok := s.opts.Auth.(ServiceAuthenticator)
		if !ok {
			return ctx, tenancy.ErrBadKey
		}
		var tenantID string
		if v := md.Get("x-vcci-tenant"); len(v) > 0 {
			tenantID = v[0]
		}
		tenant, err := sa.AuthenticateService(ctx, tok[0], tenantID)
		if err != nil {
			return ctx, err
		}
		return tenancy.AsService(ctx, tenant, tok[0]), nil
	}
	key := APIKey(ctx)
	if ka, ok := s.opts.Auth.(KeyAuthenticator); ok {
		caller, err := ka.AuthenticateKey(ctx, key)
		if err != nil {
			return ctx, fmt.Errorf("authenticate key: %w", err)
		}
		return tenancy.WithCaller(ctx, caller, key), nil
	}
	tenant, err := s.opts.Auth.Authenticate(ctx, key)
	if err != nil {
		return ctx, fmt.Errorf("authenticate key: %w", err)
	}
	return tenancy.WithTenant(ctx, tenant, key), nil
}

// admit authenticates a call of method, checks its scope and charges its
// rate limit.
func (s *Server) admit(ctx context.Context, method string, setHeader func(metadata.MD) error) (context.Context, error) {
	ctx, err := s.authenticate(ctx, method)
	if err != nil {
		return ctx, err
	}
	if !s.open(method) {
		if err := authorize(ctx, method); err != nil {
			return ctx, err
		}
	}
	return ctx, s.rateLimit(ctx, method, setHeader)
}

// APIKey reads the key from incoming metadata: "x-api-key", or
// "authorization: Bearer <key>".
func APIKey(ctx context.Context) string {
	md, _ := metadata.FromIncomingContext(ctx)
	if v := md.Get("x-api-key"); len(v) > 0 {
		return v[0]
	}
	if v := md.Get("authorization"); len(v) > 0 {
		if k, ok := strings.CutPrefix(v[0], "Bearer "); ok {
			return k
		}
	}
	return ""
}

func (s *Server) unaryAuthAndErrors(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	ctx, err := s.admit(ctx, info.FullMethod, func(md metadata.MD) error { return grpc.SetHeader(ctx, md) })
	if err != nil {
		return nil, ToStatus(ctx, s.opts.Log, info.FullMethod, err)
	}
	resp, err := handler(ctx, req)
	if err == nil {
		s.audit(ctx, info.FullMethod, req, resp)
	}
	return resp, ToStatus(ctx, s.opts.Log, info.FullMethod, err)
}

// wrappedStream carries the authenticated context and remembers the first
// message received and the last sent, for the audit log.
type wrappedStream struct {
	grpc.ServerStream
	ctx         context.Context
	first, last any
	keep        bool
}

func (w *wrappedStream) Context() context.Context { return w.ctx }

func (w *wrappedStream) SendMsg(m any) error {
	if w.keep {
		w.last = m
	}
	return w.ServerStream.SendMsg(m) //nolint:wrapcheck // the stream's status, as grpc gives it
}

func (w *wrappedStream) RecvMsg(m any) error {
	err := w.ServerStream.RecvMsg(m)
	if w.keep && w.first == nil && err == nil {
		w.first = m
	}
	return err //nolint:wrapcheck // the stream's status and io.EOF, as grpc gives them
}

func (s *Server) streamAuthAndErrors(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	ctx, err := s.admit(ss.Context(), info.FullMethod, ss.SetHeader)
	if err != nil {
		return ToStatus(ctx, s.opts.Log, info.FullMethod, err)
	}
	w := &wrappedStream{ServerStream: ss, ctx: ctx, keep: s.opts.Audit != nil}
	err = handler(srv, w)
	if err == nil {
		s.audit(ctx, info.FullMethod, w.first, w.last)
	}
	return ToStatus(ctx, s.opts.Log, info.FullMethod, err)
}

// rateLimit charges a call made with an API key to the key's budget and
// reports the budget in the response headers (x-ratelimit-limit, -remaining,
// -reset; retry-after when denied), which the gateway maps to HTTP. Calls
// from other services acting for a tenant (AsService), and health and
// reflection, are never limited.
func (s *Server) rateLimit(ctx context.Context, method string, setHeader func(metadata.MD) error) error {
	if s.opts.Limiter == nil || s.open(method) || tenancy.ServiceTokenFrom(ctx) != "" {
		return nil
	}
	key := tenancy.KeyFrom(ctx)
	if key == "" {
		return nil
	}
	class := s.opts.Classify(method)
	res := s.opts.Limiter.Allow(ctx, key, class)
	md := metadata.MD{}
	for k, v := range RateLimitHeaders(res) {
		md.Set(k, v)
	}
	// Headers only inform; a failure to set them (none is possible before
	// the handler runs) must not fail the call.
	_ = setHeader(md)
	if res.Allowed {
		return nil
	}
	return RateLimitStatus(s.opts.Limiter, class, res).Err()
}

// RateLimitHeaders are the response headers of a rate limit decision, by
// their lower-case names: x-ratelimit-limit, -remaining and -reset, and
// retry-after when the request was refused.
func RateLimitHeaders(res ratelimit.Result) map[string]string {
	h := map[string]string{
		"x-ratelimit-limit":     strconv.Itoa(res.Limit),
		"x-ratelimit-remaining": strconv.Itoa(res.Remaining),
		"x-ratelimit-reset":     strconv.FormatInt(ceilSeconds(res.ResetAfter), 10),
	}
	if !res.Allowed {
		h["retry-after"] = strconv.FormatInt(max(ceilSeconds(res.RetryAfter), 1), 10)
	}
	return h
}

// RateLimitStatus is the ResourceExhausted status of a refused request of
// class, with a RetryInfo detail.
func RateLimitStatus(l *ratelimit.Limiter, class ratelimit.Class, res ratelimit.Result) *status.Status {
	retry := max(ceilSeconds(res.RetryAfter), 1)
	st := status.New(codes.ResourceExhausted, fmt.Sprintf("rate limit exceeded for %s requests: %s; retry after %ds",
		class, l.Limit(class), retry))
	if withInfo, err := st.WithDetails(&errdetails.RetryInfo{RetryDelay: durationpb.New(res.RetryAfter)}); err == nil {
		st = withInfo
	}
	return st
}

// MarkCached names, in the answer's response headers, the cache versions it
// was read under (cache.StampHeader), so that the REST gateway may keep the
// answer until one of them is invalidated. Call it only for an answer built
// from nothing but what was read under stamps' context; with no stamps, or
// one of an unknown version, it marks nothing.
func MarkCached(ctx context.Context, stamps *cache.Stamps) {
	if vs := stamps.Header(); len(vs) > 0 {
		_ = grpc.SetHeader(ctx, metadata.MD{cache.StampHeader: vs})
	}
}

// unaryUnsure sets cache.UnsureHeader on an answer given while this
// process holds invalidations Redis has not heard (cache.Unpublished),
// including one the call itself made.
func unaryUnsure(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	resp, err := handler(ctx, req)
	if cache.Unpublished() {
		_ = grpc.SetHeader(ctx, metadata.Pairs(cache.UnsureHeader, "1")) // fails only once headers went out
	}
	return resp, err
}

// streamUnsure is unaryUnsure for streams, whose headers may go out before
// the handler returns: it marks a stream opened while unsure.
func streamUnsure(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	if cache.Unpublished() {
		_ = ss.SetHeader(metadata.Pairs(cache.UnsureHeader, "1")) // fails only once headers went out
	}
	return handler(srv, ss)
}

// ceilSeconds is d in whole seconds, rounded up.
func ceilSeconds(d time.Duration) int64 {
	return int64((d + time.Second - 1) / time.Second)
}

// watchReady asks Ready every ReadyEvery until ctx ends, and sets the
// health status and /readyz from the answer: a service whose database does
// not answer is taken out of its load balancer's rotation, and put back
// when it answers again.
func (s *Server) watchReady(ctx context.Context) {
	if s.opts.Ready == nil {
		return
	}
	t := time.NewTicker(s.opts.ReadyEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		rctx, cancel := context.WithTimeout(ctx, min(readyTimeout, s.opts.ReadyEvery))
		err := s.opts.Ready(rctx)
		cancel()
		if ctx.Err() != nil {
			return
		}
		was := *s.notReady.Load()
		if err != nil && err.Error() == "" {
			err = errors.New("not ready")
		}
		switch {
		case err != nil && was == "":
			s.opts.Log.WarnContext(ctx, "not ready", "error", err.Error())
			s.setReady(err.Error())
			s.Health.SetServingStatus("", healthpb.HealthCheckResponse_NOT_SERVING)
		case err != nil:
			s.setReady(err.Error())
		case was != "":
			s.opts.Log.InfoContext(ctx, "ready again")
			s.setReady("")
			s.Health.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
		}
	}
}

func (s *Server) setReady(why string) { s.notReady.Store(&why) }

// Run serves gRPC on lis and metrics/probes on metricsLis (if not nil) until
// ctx ends, then shuts down: health goes NOT_SERVING, in-flight calls get
// up to timeout to finish, then the server stops hard.
func (s *Server) Run(ctx context.Context, lis, metricsLis net.Listener, timeout time.Duration) error {
	s.Health.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	errc := make(chan error, 2)
	go func() { errc <- s.GRPC.Serve(lis) }()

	var hs *http.Server
	if metricsLis != nil {
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", promhttp.HandlerFor(s.Registry, promhttp.HandlerOpts{}))
		mux.HandleFunc("GET /livez", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) })
		mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
			if why := *s.notReady.Load(); why != "" {
				http.Error(w, "not ready: "+why, http.StatusServiceUnavailable)
				return
			}
			w.Write([]byte("ok\n"))
		})
		hs = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
		go func() {
			if err := hs.Serve(metricsLis); !errors.Is(err, http.ErrServerClosed) {
				errc <- err
			}
		}()
	}
	s.opts.Log.InfoContext(ctx, "serving", "grpc", lis.Addr().String())
	wctx, stopWatching := context.WithCancel(ctx)
	watched := make(chan struct{})
	go func() { defer close(watched); s.watchReady(wctx) }()

	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
	}
	stopWatching()
	<-watched
	s.setReady("shutting down")
	s.Health.Shutdown()
	stopped := make(chan struct{})
	go func() { s.GRPC.GracefulStop(); close(stopped) }()
	select {
	case <-stopped:
	case <-time.After(timeout):
		s.opts.Log.WarnContext(ctx, "graceful stop timed out; stopping hard", "timeout", timeout.String())
		s.GRPC.Stop()
	}
	if hs != nil {
		// ctx has ended by now: the listener gets a deadline of its own.
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
		defer cancel()
		if serr := hs.Shutdown(sctx); serr != nil {
			s.opts.Log.WarnContext(ctx, "metrics listener shutdown", "error", serr.Error())
		}
	}
	return err
}

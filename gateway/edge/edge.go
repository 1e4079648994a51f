// Package edge is the REST gateway: one grpc-gateway mux over every service,
// the streaming upload endpoint, probes, metrics, the OpenAPI document and
// Swagger UI. The gateway binary and the in-process launcher both use New.
package edge

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"github.com/klauspost/compress/gzhttp"
	"github.com/klauspost/compress/gzip"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/vcci-dev/vcci/pkg/apperr"
	calculatorv1 "github.com/vcci-dev/vcci/pkg/gen/vcci/calculator/v1"
	engagementv1 "github.com/vcci-dev/vcci/pkg/gen/vcci/engagement/v1"
	hotspotv1 "github.com/vcci-dev/vcci/pkg/gen/vcci/hotspot/v1"
	iamv1 "github.com/vcci-dev/vcci/pkg/gen/vcci/iam/v1"
	intakev1 "github.com/vcci-dev/vcci/pkg/gen/vcci/intake/v1"
	reportingv1 "github.com/vcci-dev/vcci/pkg/gen/vcci/reporting/v1"
	"github.com/vcci-dev/vcci/pkg/grpcclient"
	"github.com/vcci-dev/vcci/pkg/ratelimit"
	"github.com/vcci-dev/vcci/pkg/telemetry"
)

// Backends returns the services the gateway fronts, in the order /readyz
// lists them.
func Backends() []string {
	return []string{"intake", "calculator", "hotspot", "engagement", "reporting"}
}

// Options configure a Gateway.
type Options struct {
	Log            *slog.Logger
	TracerProvider trace.TracerProvider
	Addrs          map[string]string // service name -> host:port
	MaxUploadBytes int64             // default 2 GiB
	// Redis, when set, lets the gateway keep answers in its edge cache: it
	// hears the services' cache invalidations there. Nil: no edge cache.
	Redis *redis.Client
	// RateLimit are the per-key limits the services apply (required with
	// Redis): an answer from the edge cache is charged against them.
	RateLimit *ratelimit.Config
	// EdgeCacheBytes bounds the edge cache (default DefaultEdgeCacheBytes;
	// negative turns it off); EdgeCacheTTL is the longest an answer is
	// kept (default DefaultEdgeCacheTTL).
	EdgeCacheBytes int64
	EdgeCacheTTL   time.Duration
	// RiverUI, when set, is served at RiverUIPath (see RiverUI).
	RiverUI http.Handler
	// CallTimeouts are the deadlines of calls to the services whose
	// request carries none (nil: grpcclient's defaults).
	CallTimeouts *grpcclient.Timeouts
	// HTTP are the limits on requests (nil: DefaultHTTPLimits); Server
	// applies its timeouts.
	HTTP *HTTPLimits
}

// Gateway is the REST edge.
type Gateway struct {
	handler http.Handler
	conns   []*grpc.ClientConn
	edge    *edgeCache // nil: none
	stop    context.CancelFunc
	watched chan struct{} // closed when the edge cache's subscriber returns
	limits  HTTPLimits
}

// forwarded are the request headers passed to the services as metadata.
var forwarded = []string{"x-api-key", "authorization", "idempotency-key", "x-request-id"}

// forwardedContext is ctx carrying the forwarded headers of h as
// outgoing metadata, for the routes that call a service themselves.
func forwardedContext(ctx context.Context, h http.Header) context.Context {
	md := metadata.MD{}
	for _, k := range forwarded {
		if v := h.Get(k); v != "" {
			md.Set(k, v)
		}
	}
	return metadata.NewOutgoingContext(ctx, md)
}

func headerMatcher(k string) (string, bool) {
	lk := strings.ToLower(k)
	if slices.Contains(forwarded, lk) {
		return lk, true
	}
	return runtime.DefaultHeaderMatcher(k)
}

// New dials every backend and builds the handler.
func New(ctx context.Context, o Options) (*Gateway, error) {
	if o.MaxUploadBytes <= 0 {
		o.MaxUploadBytes = 2 << 30
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	g := &Gateway{limits: DefaultHTTPLimits()}
	if o.HTTP != nil {
		g.limits = *o.HTTP
	}
	if g.limits.MaxJSONBodyBytes <= 0 {
		g.limits.MaxJSONBodyBytes = DefaultHTTPLimits().MaxJSONBodyBytes
	}
	conns := map[string]*grpc.ClientConn{}
	for _, name := range Backends() {
		addr, ok := o.Addrs[name]
		if !ok {
			return nil, fmt.Errorf("edge.New: no address for %s", name)
		}
		opts := []grpcclient.Option{grpcclient.WithDialOptions(grpc.WithDefaultCallOptions(grpc.ForceCodecV2(newLazyCodec())))}
		if o.CallTimeouts != nil {
			opts = append(opts, grpcclient.WithTimeouts(*o.CallTimeouts))
		}
		cc, err := grpcclient.Dial(addr, o.TracerProvider, opts...)
		if err != nil {
			g.Close()
			return nil, err
		}
		conns[name] = cc
		g.conns = append(g.conns, cc)
	}
	marshaler := newMemoJSON(&runtime.JSONPb{MarshalOptions: protojson.MarshalOptions{EmitUnpopulated: false}})
	mux := newServeMux(marshaler)
	regs := []struct {
		name string
		reg  func(context.Context, *runtime.ServeMux, *grpc.ClientConn) error
	}{
		{"intake", registerIntake},
		{"calculator", calculatorv1.RegisterCalculatorServiceHandler},
		{"hotspot", hotspotv1.RegisterHotspotServiceHandler},
		{"engagement", engagementv1.RegisterEngagementServiceHandler},
		{"reporting", reportingv1.RegisterReportingServiceHandler},
	}
	for _, r := range regs {
		if err := r.reg(ctx, mux, conns[r.name]); err != nil {
			g.Close()
			return nil, fmt.Errorf("edge.New: register %s: %w", r.name, err)
		}
	}
	up := &uploads{client: intakev1.NewIntakeServiceClient(conns["intake"]), mux: mux, marshaler: marshaler, max: o.MaxUploadBytes,
		idle: g.limits.UploadIdleTimeout, write: g.limits.WriteTimeout}
	if err := mux.HandlePath(http.MethodPost, "/v1/uploads", up.serve); err != nil {
		g.Close()
		return nil, fmt.Errorf("edge.New: route /v1/uploads: %w", err)
	}

	spec, err := newSpec()
	if err != nil {
		g.Close()
		return nil, err
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	duration := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "vcci_gateway_request_duration_seconds",
		Help:    "REST requests by route and status code.",
		Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
	}, []string{"method", "route", "code"})
	reg.MustRegister(duration)

	// The ETag is set before compression, so a compressed answer needs its
	// own tag: see etagCodingSuffix.
	gz, err := gzhttp.NewWrapper(gzhttp.MinSize(gzipMinSize), gzhttp.SuffixETag(etagCodingSuffix),
		// Level 1: faster than the default, and JSON's repetitive keys
		// compress well at any level.
		gzhttp.CompressionLevel(gzip.BestSpeed))
	if err != nil {
		g.Close()
		return nil, fmt.Errorf("edge.New: gzip: %w", err)
	}
	health := map[string]healthpb.HealthClient{}
	for name, cc := range conns {
		health[name] = healthpb.NewHealthClient(cc)
	}

	root := http.NewServeMux()
	root.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("ok\n")) })
	root.HandleFunc("GET /readyz", readyz(health))
	root.HandleFunc("GET /readyz/{service}", readyzOne(health))
	root.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	root.Handle("GET /openapi.json", spec)
	root.Handle("/docs/", docs())
	root.Handle("GET /docs", http.RedirectHandler("/docs/", http.StatusMovedPermanently))
	root.HandleFunc(submitPageRoute, serveSubmitPage)
	root.HandleFunc(submitAssetsRoute, serveSubmitAsset)
	if o.RiverUI != nil {
		root.Handle(RiverUIPath, o.RiverUI)
	}
	var ec *edgeCache
	if o.EdgeCacheBytes == 0 {
		o.EdgeCacheBytes = DefaultEdgeCacheBytes
	}
	if o.EdgeCacheTTL <= 0 {
		o.EdgeCacheTTL = DefaultEdgeCacheTTL
	}
	if o.Redis != nil && o.RateLimit != nil && o.EdgeCacheBytes > 0 {
		limiter := ratelimit.New(o.Redis, *o.RateLimit, o.Log, reg)
		ec = newEdgeCache(o.Log, limiter, o.EdgeCacheBytes, o.EdgeCacheTTL, reg)
		g.edge = ec
		wctx, stop := context.WithCancel(context.WithoutCancel(ctx))
		g.stop, g.watched = stop, make(chan struct{})
		go func() { defer close(g.watched); ec.watch(wctx, o.Redis) }()
	}
	root.Handle("/", restHabits(mux, marshaler, ec))

	files := &reportFiles{client: reportingv1.NewReportingServiceClient(conns["reporting"]), mux: mux, marshaler: marshaler}
	outer := http.NewServeMux()
	outer.HandleFunc(reportFileRoute, files.serveOwn)
	outer.HandleFunc(sharedReportRoute, files.serveShared)
	outer.Handle("/", gz(limitBodies(textOnly(root), g.limits.MaxJSONBodyBytes)))
	var h http.Handler = outer
	h = observe(h, o.Log, duration)
	h = requestID(h)
	h = otelhttp.NewHandler(h, "gateway",
		otelhttp.WithTracerProvider(o.TracerProvider),
		otelhttp.WithPropagators(telemetry.Propagator()),
		otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string { return r.Method + " " + route(r.URL.Path) }))
	g.handler = hideLinkTokens(h)
	return g, nil
}

// registerIntake registers intake's routes: its own service's, and the
// tenant's keys and audit log, which intake serves too.
func registerIntake(ctx context.Context, mux *runtime.ServeMux, cc *grpc.ClientConn) error {
	for _, reg := range []func(context.Context, *runtime.ServeMux, *grpc.ClientConn) error{
		intakev1.RegisterIntakeServiceHandler, iamv1.RegisterApiKeyServiceHandler, iamv1.RegisterAuditServiceHandler,
	} {
		if err := reg(ctx, mux, cc); err != nil {
			return fmt.Errorf("register: %w", err)
		}
	}
	return nil
}

// newServeMux is the grpc-gateway mux with the gateway's header matchers and
// marshaler, before any service is registered.
func newServeMux(marshaler runtime.Marshaler) *runtime.ServeMux {
	return runtime.NewServeMux(
		runtime.WithIncomingHeaderMatcher(headerMatcher),
		runtime.WithOutgoingHeaderMatcher(outgoingHeaderMatcher),
		runtime.WithMarshalerOption(runtime.MIMEWildcard, marshaler),
		runtime.WithErrorHandler(errorHandler),
		runtime.WithMetadata(linkTokenMetadata),
	)
}

// httpStatusOfReason overrides the HTTP status of errors whose ErrorInfo
// names one of these reasons: gRPC has no code whose usual status is the
// one HTTP clients expect for them.
var httpStatusOfReason = map[string]int{
	apperr.ReasonIdempotencyKeyReused:  http.StatusUnprocessableEntity,
	apperr.ReasonSubmissionLinkExpired: http.StatusGone,
}

// errorHandler is grpc-gateway's, with the status of httpStatusOfReason's
// errors set from their reason; the body is the usual google.rpc.Status.
func errorHandler(ctx context.Context, mux *runtime.ServeMux, m runtime.Marshaler, w http.ResponseWriter, r *http.Request, err error) {
	if st, ok := status.FromError(err); ok {
		for _, d := range st.Details() {
			if info, ok := d.(*errdetails.ErrorInfo); ok && info.GetDomain() == apperr.Domain {
				if code, ok := httpStatusOfReason[info.GetReason()]; ok {
					w = &fixedStatus{ResponseWriter: w, code: code}
					break
				}
			}
		}
	}
	runtime.DefaultHTTPErrorHandler(ctx, mux, m, w, r, err)
}

// fixedStatus writes code whatever status its caller writes.
type fixedStatus struct {
	http.ResponseWriter
	code int
}

func (f *fixedStatus) WriteHeader(int) { f.ResponseWriter.WriteHeader(f.code) }

func (f *fixedStatus) Unwrap() http.ResponseWriter { return f.ResponseWriter }

// Handler is the gateway's HTTP handler.
func (g *Gateway) Handler() http.Handler { return g.handler }

// Close closes the backend connections.
func (g *Gateway) Close() error {
	if g.stop != nil {
		g.stop()
		<-g.watched
	}
	for _, cc := range g.conns {
		cc.Close()
	}
	return nil
}

// readyz reports each backend's gRPC health, checked concurrently.
func readyz(health map[string]healthpb.HealthClient) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), time.Second)
		defer cancel()
		var mu sync.Mutex
		states := map[string]string{}
		var wg sync.WaitGroup
		for name, hc := range health {
			wg.Go(func() {
				state := "UNREACHABLE"
				if resp, err := hc.Check(ctx, &healthpb.HealthCheckRequest{}); err == nil {
					state = resp.GetStatus().String()
				}
				mu.Lock()
				states[name] = state
				mu.Unlock()
			})
		}
		wg.Wait()
		code := http.StatusOK
		for _, s := range states {
			if s != "SERVING" {
				code = http.StatusServiceUnavailable
			}
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(code)
		_ = json.NewEncoder(w).Encode(states) // failing, it means the client is gone: nobody to tell
	}
}

// readyzOne reports one backend's gRPC health: the readiness of the routes
// it serves, which do not depend on the other backends.
func readyzOne(health map[string]healthpb.HealthClient) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		name := r.PathValue("service")
		hc, ok := health[name]
		if !ok {
			http.Error(w, "no such service: "+name, http.StatusNotFound)
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), time.Second)
		defer cancel()
		state, code := "UNREACHABLE", http.StatusServiceUnavailable
		if resp, err := hc.Check(ctx, &healthpb.HealthCheckRequest{}); err == nil {
			state = resp.GetStatus().String()
		}
		if state == "SERVING" {
			code = http.StatusOK
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(code)
		if err := json.NewEncoder(w).Encode(map[string]string{name: state}); err != nil {
			return // the client went away
		}
	}
}

// route names a path for metrics and span names without its ids, so their
// cardinality stays bounded: "/v1/uploads/{id}:retry". It is UTF-8 text
// whatever the client sent, as a metric's label must be.
func route(path string) string {
	parts := strings.Split(path, "/")
	for i := 1; i < len(parts); i++ {
		switch parts[i-1] {
		// A report link's token is a credential: it never reaches a label
		// or a log line.
		case "uploads", "campaigns", "targets", "emissionResults", "suppliers", "transactions", "factorSets", "factors", "apiKeys", "reports", "reportFiles",
			"webhookEndpoints", "webhookDeliveries", "recalculations", "supplierFactors", "columnMappings", "categoryRules",
			"supplierRequests", "submissions", "submit":
			if id, _, _ := strings.Cut(parts[i], ":"); id != "" {
				parts[i] = "{id}" + parts[i][len(id):] // the custom verb stays
			}
		}
	}
	return strings.ToValidUTF8(strings.Join(parts, "/"), "\ufffd")
}

// requestID keeps a sane incoming X-Request-Id or makes one, echoes it, and
// leaves it on the request so it is forwarded to the services.
func requestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get("X-Request-Id")
		if !validID(id) {
			b := make([]byte, 16)
			rand.Read(b)
			id = hex.EncodeToString(b)
			r.Header.Set("X-Request-Id", id)
		}
		w.Header().Set("X-Request-Id", id)
		next.ServeHTTP(w, r)
	})
}

func validID(id string) bool {
	if id == "" || len(id) > 128 {
		return false
	}
	for i := range len(id) {
		if id[i] < 0x21 || id[i] > 0x7e {
			return false
		}
	}
	return true
}

type statusWriter struct {
	http.ResponseWriter
	code int
}

func (s *statusWriter) WriteHeader(code int) {
	if s.code == 0 {
		s.code = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	if s.code == 0 {
		s.code = http.StatusOK
	}
	return s.ResponseWriter.Write(b) //nolint:wrapcheck // a decorator passes its writer's errors through as they are
}

func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }

func (s *statusWriter) Flush() {
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// observe logs each request once and records its duration.
func observe(next http.Handler, log *slog.Logger, duration *prometheus.HistogramVec) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r)
		if sw.code == 0 {
			sw.code = http.StatusOK
		}
		d := time.Since(start)
		rt := route(r.URL.Path)
		duration.WithLabelValues(r.Method, rt, strconv.Itoa(sw.code)).Observe(d.Seconds())
		log.InfoContext(r.Context(), "http", "method", r.Method, "route", rt, "status", sw.code,
			"ms", float64(d.Microseconds())/1000, "request_id", w.Header().Get("X-Request-Id"))
	})
}

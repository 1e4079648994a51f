package edge

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"go.opentelemetry.io/otel/trace/noop"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/vcci-dev/vcci/pkg/apperr"
	calculatorv1 "github.com/vcci-dev/vcci/pkg/gen/vcci/calculator/v1"
	intakev1 "github.com/vcci-dev/vcci/pkg/gen/vcci/intake/v1"
	"github.com/vcci-dev/vcci/pkg/testsupport"
)

// fakeIntake records what reaches it; the gateway has no store, so a fake
// backend is the honest peer here.
type fakeIntake struct {
	intakev1.UnimplementedIntakeServiceServer
	mu     sync.Mutex
	sum    [32]byte
	chunks int
	meta   *intakev1.UploadMetadata
	md     metadata.MD
}

func (f *fakeIntake) UploadSpend(s intakev1.IntakeService_UploadSpendServer) error {
	md, _ := metadata.FromIncomingContext(s.Context())
	// What a rate-limiting interceptor does: headers on every answer, and a
	// refusal before the stream is read.
	if k := md.Get("x-api-key"); len(k) > 0 && k[0] == "exhausted" {
		if err := s.SetHeader(metadata.Pairs("x-ratelimit-limit", "10", "x-ratelimit-remaining", "0", "x-ratelimit-reset", "42", "retry-after", "42")); err != nil {
			return err
		}
		return status.Error(codes.ResourceExhausted, "upload rate limit exceeded")
	}
	if err := s.SetHeader(metadata.Pairs("x-ratelimit-limit", "10", "x-ratelimit-remaining", "9", "x-ratelimit-reset", "60")); err != nil {
		return err
	}
	first, err := s.Recv()
	if err != nil {
		return err
	}
	if k := first.GetMetadata().GetIdempotencyKey(); k == "reused" {
		st, _ := status.New(codes.FailedPrecondition, `Idempotency-Key "reused" was used for a different body (uploads/7)`).
			WithDetails(&errdetails.ErrorInfo{Reason: apperr.ReasonIdempotencyKeyReused, Domain: apperr.Domain})
		return st.Err()
	}
	h := sha256.New()
	chunks := 0
	for {
		m, err := s.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		h.Write(m.GetChunk())
		chunks++
	}
	f.mu.Lock()
	copy(f.sum[:], h.Sum(nil))
	f.chunks, f.meta, f.md = chunks, first.GetMetadata(), md
	f.mu.Unlock()
	return s.SendAndClose(&intakev1.Upload{Name: "uploads/42", State: intakev1.UploadState_UPLOAD_STATE_QUEUED, Filename: first.GetMetadata().GetFilename()})
}

func (f *fakeIntake) GetUpload(ctx context.Context, r *intakev1.GetUploadRequest) (*intakev1.Upload, error) {
	switch r.GetName() {
	case "uploads/400":
		st, _ := status.New(codes.InvalidArgument, "name: bad").WithDetails(&errdetails.BadRequest{
			FieldViolations: []*errdetails.BadRequest_FieldViolation{{Field: "name", Description: "bad"}}})
		return nil, st.Err()
	case "uploads/401":
		return nil, status.Error(codes.Unauthenticated, "missing or invalid API key")
	case "uploads/429":
		if err := grpc.SetHeader(ctx, metadata.Pairs("x-ratelimit-limit", "100", "x-ratelimit-remaining", "0", "x-ratelimit-reset", "30", "retry-after", "30")); err != nil {
			return nil, err
		}
		return nil, status.Error(codes.ResourceExhausted, "rate limit exceeded")
	case "uploads/limited":
		if err := grpc.SetHeader(ctx, metadata.Pairs("x-ratelimit-limit", "100", "x-ratelimit-remaining", "99", "x-ratelimit-reset", "60", "x-served-by", "intake-1")); err != nil {
			return nil, err
		}
		if err := grpc.SetTrailer(ctx, metadata.Pairs("x-rows-scanned", "12")); err != nil {
			return nil, err
		}
	case "uploads/small":
		return &intakev1.Upload{Name: r.GetName(), Filename: "q1.csv"}, nil
	}
	md, _ := metadata.FromIncomingContext(ctx)
	f.mu.Lock()
	f.md = md
	f.mu.Unlock()
	// Long enough to be worth compressing.
	return &intakev1.Upload{Name: r.GetName(), Filename: strings.Repeat("spend-", 400) + ".csv"}, nil
}

func setup(t *testing.T) (*httptest.Server, *fakeIntake, *health.Server) {
	t.Helper()
	return setupWith(t, nil)
}

// setupWith is setup with the HTTP limits given (nil: the defaults), on
// the server the gateway builds.
func setupWith(t *testing.T, limits *HTTPLimits) (*httptest.Server, *fakeIntake, *health.Server) {
	t.Helper()
	srv := grpc.NewServer()
	fake := &fakeIntake{}
	hs := health.NewServer()
	intakev1.RegisterIntakeServiceServer(srv, fake)
	calculatorv1.RegisterCalculatorServiceServer(srv, fakeCalculator{})
	healthpb.RegisterHealthServer(srv, hs)
	addr := testsupport.Serve(t, srv)
	addrs := map[string]string{}
	for _, b := range Backends() {
		addrs[b] = addr
	}
	gw, err := New(context.Background(), Options{Log: slog.New(slog.DiscardHandler), TracerProvider: noop.NewTracerProvider(), Addrs: addrs, MaxUploadBytes: 4 << 20,
		HTTP: limits})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { gw.Close() })
	ts := httptest.NewUnstartedServer(nil)
	ts.Config = gw.Server("")
	ts.Start()
	t.Cleanup(ts.Close)
	return ts, fake, hs
}

func TestUploadStreamsBody(t *testing.T) {
	ts, fake, _ := setup(t)
	body := bytes.Repeat([]byte("T1,2024-01-01,S1,Acme,331110,10.00,USD,x\n"), 40_000) // ~1.6 MB
	req, _ := http.NewRequest(http.MethodPost, ts.URL+"/v1/uploads?filename=q1.csv", bytes.NewReader(body))
	req.Header.Set("Content-Type", "text/csv")
	req.Header.Set("x-api-key", "vcci_secret")
	req.Header.Set("Idempotency-Key", "k-1")
	req.Header.Set("X-Request-Id", "req-123")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted || resp.Header.Get("Location") != "/v1/uploads/42" || !strings.Contains(string(b), `"name":"uploads/42"`) {
		t.Fatalf("HTTP %d %s %s", resp.StatusCode, resp.Header.Get("Location"), b)
	}
	fake.mu.Lock()
	defer fake.mu.Unlock()
	if fake.sum != sha256.Sum256(body) || fake.chunks < 2 {
		t.Fatalf("backend got %d chunks, sum match %v", fake.chunks, fake.sum == sha256.Sum256(body))
	}
	if fake.meta.GetFilename() != "q1.csv" || fake.meta.GetIdempotencyKey() != "k-1" ||
		fake.md.Get("x-api-key")[0] != "vcci_secret" || fake.md.Get("x-request-id")[0] != "req-123" {
		t.Fatalf("metadata %v, md %v", fake.meta, fake.md)
	}
	if resp.Header.Get("X-Request-Id") != "req-123" {
		t.Fatalf("request id not echoed: %q", resp.Header.Get("X-Request-Id"))
	}
}

// TestUploadKeyReusedIs422: a reused Idempotency-Key is FailedPrecondition
// in gRPC (400 by default) and 422 over REST, with the status body.
func TestUploadKeyReusedIs422(t *testing.T) {
	ts, _, _ := setup(t)
	req, _ := http.NewRequest(http.MethodPost, ts.URL+"/v1/uploads", strings.NewReader("a,b\n1,2\n"))
	req.Header.Set("Content-Type", "text/csv")
	req.Header.Set("Idempotency-Key", "reused")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	code, msg := statusOf(t, resp)
	if resp.StatusCode != http.StatusUnprocessableEntity || code != int(codes.FailedPrecondition) ||
		msg != `Idempotency-Key "reused" was used for a different body (uploads/7)` {
		t.Fatalf("reused key: HTTP %d %d %q", resp.StatusCode, code, msg)
	}
}

// statusOf reads and closes a google.rpc.Status answer.
func statusOf(t *testing.T, resp *http.Response) (code int, msg string) {
	t.Helper()
	var st struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	}
	decodeJSON(t, resp, &st)
	return st.Code, st.Message
}

// decodeJSON decodes resp's JSON body into v and closes it.
func decodeJSON(t *testing.T, resp *http.Response, v any) {
	t.Helper()
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("%s %s: HTTP %d: %v", resp.Request.Method, resp.Request.URL, resp.StatusCode, err)
	}
}

func TestUploadMultipartAndLimit(t *testing.T) {
	ts, fake, _ := setup(t)
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	if err := mw.WriteField("note", "ignored"); err != nil {
		t.Fatal(err)
	}
	fw, err := mw.CreateFormFile("file", "browser.csv")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fw.Write([]byte("a,b\n1,2\n")); err != nil {
		t.Fatal(err)
	}
	if err := mw.Close(); err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post(ts.URL+"/v1/uploads", mw.FormDataContentType(), &buf)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	fake.mu.Lock()
	name, sum := fake.meta.GetFilename(), fake.sum
	fake.mu.Unlock()
	if resp.StatusCode != http.StatusAccepted || name != "browser.csv" || sum != sha256.Sum256([]byte("a,b\n1,2\n")) {
		t.Fatalf("multipart: HTTP %d, filename %q", resp.StatusCode, name)
	}
	// Over the 4 MiB limit: 413 with the error body.
	resp, err = http.Post(ts.URL+"/v1/uploads", "text/csv", bytes.NewReader(make([]byte, 5<<20)))
	if err != nil {
		t.Fatal(err)
	}
	var st struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	}
	decodeJSON(t, resp, &st)
	if resp.StatusCode != http.StatusRequestEntityTooLarge || st.Code != 3 || st.Message != "request body exceeds 4194304 bytes (MAX_UPLOAD_BYTES)" {
		t.Fatalf("oversized: HTTP %d %+v", resp.StatusCode, st)
	}
}

// A file name that is not UTF-8 is kept with U+FFFD in place of its bad
// bytes, an idempotency key that is not is refused: neither fails the
// call to intake, whose strings must be UTF-8.
func TestUploadNamesThatAreNotUTF8(t *testing.T) {
	ts, fake, _ := setup(t)
	resp, b := call(t, "POST", ts.URL+"/v1/uploads?filename=%FFq1.csv", strings.NewReader("a,b\n1,2\n"), "Content-Type", "text/csv")
	fake.mu.Lock()
	name := fake.meta.GetFilename()
	fake.mu.Unlock()
	if resp.StatusCode != http.StatusAccepted || name != "\ufffdq1.csv" {
		t.Fatalf("HTTP %d %s; intake got the name %q", resp.StatusCode, b, name)
	}
	resp, b = call(t, "POST", ts.URL+"/v1/uploads", strings.NewReader("a,b\n1,2\n"), "Content-Type", "text/csv", "Idempotency-Key", "k\xff")
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(b), "Idempotency-Key: not UTF-8 text") {
		t.Fatalf("a key that is not UTF-8: HTTP %d %s", resp.StatusCode, b)
	}
}

func TestErrorsAndHeaders(t *testing.T) {
	ts, fake, _ := setup(t)
	get := func(path string, hdr ...string) (*http.Response, []byte) {
		req, _ := http.NewRequest(http.MethodGet, ts.URL+path, http.NoBody)
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		// A bare Transport: the default one would undo gzip transparently.
		resp, err := (&http.Transport{DisableCompression: true}).RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp, b
	}
	resp, b := get("/v1/uploads/400")
	var st struct {
		Code    int `json:"code"`
		Details []struct {
			Type            string `json:"@type"`
			FieldViolations []struct {
				Field string `json:"field"`
			} `json:"fieldViolations"`
		} `json:"details"`
	}
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatalf("invalid: %v in %s", err, b)
	}
	if resp.StatusCode != http.StatusBadRequest || st.Code != 3 || st.Details[0].FieldViolations[0].Field != "name" {
		t.Fatalf("invalid: HTTP %d %s", resp.StatusCode, b)
	}
	if resp, _ := get("/v1/uploads/401"); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("unauthenticated: HTTP %d", resp.StatusCode)
	}
	// gzip over 1 KiB when asked; a generated request id is echoed and forwarded.
	resp, b = get("/v1/uploads/7", "Accept-Encoding", "gzip")
	if resp.Header.Get("Content-Encoding") != "gzip" {
		t.Fatalf("no gzip on a %d-byte answer", len(b))
	}
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	plain, _ := io.ReadAll(zr)
	if !strings.Contains(string(plain), `"name":"uploads/7"`) {
		t.Fatalf("gunzipped body %.80s", plain)
	}
	id := resp.Header.Get("X-Request-Id")
	fake.mu.Lock()
	fwd := fake.md.Get("x-request-id")
	fake.mu.Unlock()
	if len(id) != 32 || len(fwd) == 0 || fwd[0] != id {
		t.Fatalf("request id %q, forwarded %v", id, fwd)
	}
	if resp, _ := get("/healthz", "Accept-Encoding", "gzip"); resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Encoding") == "gzip" {
		t.Fatalf("healthz: HTTP %d, encoding %q (tiny bodies stay plain)", resp.StatusCode, resp.Header.Get("Content-Encoding"))
	}
}

func TestReadyzAndDocs(t *testing.T) {
	ts, _, hs := setup(t)
	resp, err := http.Get(ts.URL + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	var states map[string]string
	decodeJSON(t, resp, &states)
	if resp.StatusCode != http.StatusOK || len(states) != 5 || states["reporting"] != "SERVING" {
		t.Fatalf("readyz: HTTP %d %v", resp.StatusCode, states)
	}
	hs.SetServingStatus("", healthpb.HealthCheckResponse_NOT_SERVING)
	resp, err = http.Get(ts.URL + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	decodeJSON(t, resp, &states)
	if resp.StatusCode != http.StatusServiceUnavailable || states["intake"] != "NOT_SERVING" {
		t.Fatalf("readyz with a backend down: HTTP %d %v", resp.StatusCode, states)
	}
	// Each route group's readiness is its own backend's. (The test's five
	// backends share one health server, so all are down here.)
	for path, want := range map[string]int{"/readyz/intake": http.StatusServiceUnavailable, "/readyz/nosuch": http.StatusNotFound} {
		resp, err := http.Get(ts.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("%s: HTTP %d, want %d", path, resp.StatusCode, want)
		}
	}
	hs.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	resp, err = http.Get(ts.URL + "/readyz/reporting")
	if err != nil {
		t.Fatal(err)
	}
	states = nil
	err = json.NewDecoder(resp.Body).Decode(&states)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || len(states) != 1 || states["reporting"] != "SERVING" {
		t.Fatalf("/readyz/reporting: HTTP %d %v", resp.StatusCode, states)
	}

	resp, err = http.Get(ts.URL + "/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Paths               map[string]map[string]any `json:"paths"`
		SecurityDefinitions map[string]any            `json:"securityDefinitions"`
	}
	decodeJSON(t, resp, &doc)
	etag := resp.Header.Get("ETag")
	if doc.Paths["/v1/uploads"]["post"] == nil || doc.Paths["/v1/uploads"]["get"] == nil || doc.Paths["/v1/hotspots/supplierPareto"] == nil ||
		doc.SecurityDefinitions["ApiKey"] == nil || etag == "" || resp.Header.Get("Cache-Control") != "public, max-age=300" {
		t.Fatalf("openapi: etag %q, paths %d", etag, len(doc.Paths))
	}
	req, _ := http.NewRequest(http.MethodGet, ts.URL+"/openapi.json", http.NoBody)
	req.Header.Set("If-None-Match", etag)
	resp, _ = http.DefaultClient.Do(req)
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotModified {
		t.Fatalf("If-None-Match: HTTP %d", resp.StatusCode)
	}
	resp, _ = http.Get(ts.URL + "/docs/")
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(b), "swagger") || !strings.Contains(string(b), "/openapi.json") {
		t.Fatalf("docs: HTTP %d %.200s", resp.StatusCode, b)
	}
}

// A route is a bounded label: ids give way to {id}, a custom verb stays, and
// bytes that are not UTF-8 (a metric's label must be) become U+FFFD.
func TestRouteHidesIDsAndIsText(t *testing.T) {
	for path, want := range map[string]string{
		"/v1/uploads/42":                       "/v1/uploads/{id}",
		"/v1/uploads/42:retry":                 "/v1/uploads/{id}:retry",
		"/v1/apiKeys/\xff:revoke":              "/v1/apiKeys/{id}:revoke",
		"/v1/apiKeys/7:\xff":                   "/v1/apiKeys/{id}:\ufffd",
		"/v1/suppliers:batchGet":               "/v1/suppliers:batchGet",
		"/v1/factorSets/epa-v1/factors/331110": "/v1/factorSets/{id}/factors/{id}",
		"/v1/factorSets/-/factors":             "/v1/factorSets/{id}/factors",
		"/v1/uploads/42/errors":                "/v1/uploads/{id}/errors",
		"/v1/reports/3/file":                   "/v1/reports/{id}/file",
		"/v1/reports/3:createLink":             "/v1/reports/{id}:createLink",
		"/v1/reportFiles/c2VjcmV0.bWFj":        "/v1/reportFiles/{id}",
		"/v1/campaigns/2/targets/S01:decline":  "/v1/campaigns/{id}/targets/{id}:decline",
		"/v1/recalculations/9/changes":         "/v1/recalculations/{id}/changes",
		"/v1/supplierFactors/4":                "/v1/supplierFactors/{id}",
		"/v1/columnMappings/3":                 "/v1/columnMappings/{id}",
		"/v1/categoryRules/8":                  "/v1/categoryRules/{id}",
		"/v1/supplierRequests/-:submit":        "/v1/supplierRequests/{id}:submit",
		"/v1/campaigns/2/submissions/5:accept": "/v1/campaigns/{id}/submissions/{id}:accept",
		"/v1/\xff\xfe":                         "/v1/\ufffd",
	} {
		if got := route(path); got != want {
			t.Errorf("route(%q) = %q, want %q", path, got, want)
		}
	}
}

// A multipart body whose file part ends without the closing boundary is cut
// short: it is refused, not stored as if it were the whole file.
func TestUploadMultipartCutShortIsRefused(t *testing.T) {
	ts, fake, _ := setup(t)
	for name, size := range map[string]int{"one chunk": 100, "several chunks": 3 * chunkSize} {
		t.Run(name, func(t *testing.T) {
			body := "--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.csv\"\r\n\r\n" + strings.Repeat("a,b\n", size/4)
			resp, b := call(t, "POST", ts.URL+"/v1/uploads", strings.NewReader(body), "Content-Type", "multipart/form-data; boundary=XyZ")
			if e := decodeError(t, b); resp.StatusCode != http.StatusBadRequest || e.Code != 3 || !strings.Contains(e.Message, "unexpected EOF") {
				t.Fatalf("HTTP %d %s, want 400", resp.StatusCode, b)
			}
			fake.mu.Lock()
			defer fake.mu.Unlock()
			if fake.meta != nil {
				t.Fatalf("intake stored the cut file: %v", fake.meta)
			}
		})
	}
}

package edge

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/vcci-dev/vcci/pkg/apperr"
	reportingv1 "github.com/vcci-dev/vcci/pkg/gen/vcci/reporting/v1"
	"github.com/vcci-dev/vcci/pkg/testsupport"
)

// fakeReporting serves one file: report 7 to the key "k", and to the link
// token "good"; "expired" is an expired link, any other token a forged
// one; report 8 is still running.
type fakeReporting struct {
	reportingv1.UnimplementedReportingServiceServer
	file       []byte
	sharedKeys chan []string // the API keys a shared download arrived with
	sent       atomic.Int64  // bytes of files sent
}

func (f *fakeReporting) report() *reportingv1.Report {
	sum := sha256.Sum256(f.file)
	return &reportingv1.Report{Name: "reports/7", State: reportingv1.ReportState_REPORT_STATE_SUCCEEDED, FileName: "ghg inventory 2025.csv",
		ContentType: "text/csv; charset=utf-8", SizeBytes: int64(len(f.file)), Sha256: hex.EncodeToString(sum[:]),
		FinishTime: timestamppb.New(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))}
}

func (f *fakeReporting) send(stream grpc.ServerStreamingServer[reportingv1.ReportFileChunk]) error {
	if err := stream.Send(&reportingv1.ReportFileChunk{Report: f.report()}); err != nil {
		return err
	}
	// As reporting does: no file for a caller that holds it.
	md, _ := metadata.FromIncomingContext(stream.Context())
	if slices.Contains(md.Get("if-none-match"), f.report().GetSha256()) {
		return nil
	}
	f.sent.Add(int64(len(f.file)))
	for b := f.file; len(b) > 0; {
		n := min(len(b), 1<<20)
		if err := stream.Send(&reportingv1.ReportFileChunk{Data: b[:n]}); err != nil {
			return err
		}
		b = b[n:]
	}
	return nil
}

func (f *fakeReporting) GetReportFile(req *reportingv1.GetReportFileRequest, stream grpc.ServerStreamingServer[reportingv1.ReportFileChunk]) error {
	md, _ := metadata.FromIncomingContext(stream.Context())
	if k := md.Get("x-api-key"); len(k) != 1 || k[0] != "k" {
		return status.Error(codes.Unauthenticated, "invalid API key")
	}
	switch req.GetName() {
	case "reports/7":
		return f.send(stream)
	case "reports/8":
		return status.Error(codes.FailedPrecondition, "the report has no file: it is not SUCCEEDED")
	}
	return status.Error(codes.NotFound, "report not found")
}

func (f *fakeReporting) GetSharedReportFile(req *reportingv1.GetSharedReportFileRequest, stream grpc.ServerStreamingServer[reportingv1.ReportFileChunk]) error {
	md, _ := metadata.FromIncomingContext(stream.Context())
	f.sharedKeys <- append(md.Get("x-api-key"), md.Get("authorization")...)
	switch req.GetToken() {
	case "good":
		return f.send(stream)
	case "expired":
		st, _ := status.New(codes.FailedPrecondition, "the report link has expired: create another").
			WithDetails(&errdetails.ErrorInfo{Domain: apperr.Domain, Reason: apperr.ReasonReportLinkExpired})
		return st.Err()
	}
	return status.Error(codes.Unauthenticated, "the report link is not valid")
}

// tracedGateway serves a gateway whose every backend is a gRPC server
// register fills, recording its spans and its log.
func tracedGateway(t *testing.T, register func(*grpc.Server)) (*httptest.Server, *tracetest.SpanRecorder, *bytes.Buffer) {
	t.Helper()
	srv := grpc.NewServer()
	register(srv)
	addr := testsupport.Serve(t, srv)
	addrs := map[string]string{}
	for _, b := range Backends() {
		addrs[b] = addr
	}
	spans := tracetest.NewSpanRecorder()
	var logs bytes.Buffer
	gw, err := New(context.Background(), Options{Log: slog.New(slog.NewTextHandler(&logs, nil)),
		TracerProvider: sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans)), Addrs: addrs})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { gw.Close() })
	ts := httptest.NewServer(gw.Handler())
	t.Cleanup(ts.Close)
	return ts, spans, &logs
}

func TestReportFileDownloads(t *testing.T) {
	file := bytes.Repeat([]byte("category,kg\n1,2.5\n"), 150_000) // 2.7 MB: several messages
	fake := &fakeReporting{file: file, sharedKeys: make(chan []string, 10)}
	ts, spans, logs := tracedGateway(t, func(srv *grpc.Server) { reportingv1.RegisterReportingServiceServer(srv, fake) })
	sum := sha256.Sum256(file)
	etag := `"` + hex.EncodeToString(sum[:]) + `"`

	resp, body := call(t, "GET", ts.URL+"/v1/reports/7/file", nil, "x-api-key", "k", "Accept-Encoding", "gzip")
	h := resp.Header
	if resp.StatusCode != http.StatusOK || !bytes.Equal(body, file) || h.Get("ETag") != etag || h.Get("Content-Type") != "text/csv; charset=utf-8" ||
		h.Get("Content-Disposition") != `attachment; filename="ghg inventory 2025.csv"` || h.Get("Content-Encoding") != "" ||
		h.Get("Accept-Ranges") != "bytes" || h.Get("Last-Modified") != "Fri, 02 Jan 2026 03:04:05 GMT" {
		t.Fatalf("download: %d, %d bytes, headers %v", resp.StatusCode, len(body), h)
	}

	// A revalidation: 304, and reporting was asked for no file.
	sent := fake.sent.Load()
	resp, body = call(t, "GET", ts.URL+"/v1/reports/7/file", nil, "x-api-key", "k", "If-None-Match", `"other", `+etag)
	if resp.StatusCode != http.StatusNotModified || len(body) != 0 || resp.Header.Get("ETag") != etag || fake.sent.Load() != sent {
		t.Fatalf("If-None-Match: %d, %d bytes, reporting sent %d file bytes; want 304 and none", resp.StatusCode, len(body), fake.sent.Load()-sent)
	}
	resp, body = call(t, "GET", ts.URL+"/v1/reportFiles/good", nil, "If-None-Match", etag)
	if resp.StatusCode != http.StatusNotModified || len(body) != 0 || fake.sent.Load() != sent {
		t.Fatalf("a link's If-None-Match: %d, %d bytes, want 304", resp.StatusCode, len(body))
	}
	<-fake.sharedKeys
	resp, body = call(t, "GET", ts.URL+"/v1/reports/7/file", nil, "x-api-key", "k", "If-None-Match", `"other"`)
	if resp.StatusCode != http.StatusOK || !bytes.Equal(body, file) {
		t.Fatalf("If-None-Match of another version: %d, %d bytes, want 200 and the file", resp.StatusCode, len(body))
	}

	resp, body = call(t, "GET", ts.URL+"/v1/reports/7/file", nil, "x-api-key", "k", "Range", "bytes=1048570-1048585")
	if resp.StatusCode != http.StatusPartialContent || !bytes.Equal(body, file[1048570:1048586]) ||
		resp.Header.Get("Content-Range") != "bytes 1048570-1048585/"+itoa(len(file)) {
		t.Fatalf("Range: %d %q %v, want 206 with bytes 1048570-1048585", resp.StatusCode, body, resp.Header)
	}

	for _, tc := range []struct {
		path, key string
		want      int
	}{
		{"/v1/reports/7/file", "", http.StatusUnauthorized},
		{"/v1/reports/9/file", "k", http.StatusNotFound},
		{"/v1/reports/8/file", "k", http.StatusConflict},
		{"/v1/reportFiles/forged", "", http.StatusUnauthorized},
		{"/v1/reportFiles/expired", "", http.StatusGone},
	} {
		var hdr []string
		if tc.key != "" {
			hdr = []string{"x-api-key", tc.key}
		}
		if resp, body := call(t, "GET", ts.URL+tc.path, nil, hdr...); resp.StatusCode != tc.want || !strings.Contains(string(body), `"message"`) {
			t.Errorf("GET %s: %d %s, want %d with a status body", tc.path, resp.StatusCode, body, tc.want)
		}
	}

	// A link needs no key, and a key sent with it is not forwarded: the
	// link alone decides whose file is read.
	resp, body = call(t, "GET", ts.URL+"/v1/reportFiles/good", nil, "x-api-key", "someone-elses", "Range", "bytes=0-8")
	if resp.StatusCode != http.StatusPartialContent || string(body) != "category," || resp.Header.Get("ETag") != etag {
		t.Fatalf("shared link: %d %q", resp.StatusCode, body)
	}
	for range 3 {
		if keys := <-fake.sharedKeys; len(keys) != 0 {
			t.Fatalf("shared download forwarded credentials %v", keys)
		}
	}
	// A link's token is a credential: no span or log line holds it.
	for _, sp := range spans.Ended() {
		for _, a := range sp.Attributes() {
			if v := a.Value.String(); strings.Contains(v, "good") || strings.Contains(v, "forged") {
				t.Errorf("span %q attribute %s = %q holds a link token", sp.Name(), a.Key, v)
			}
		}
	}
	if strings.Contains(logs.String(), "good") || !strings.Contains(logs.String(), "/v1/reportFiles/{id}") {
		t.Errorf("logs name a link token, or not the route:\n%s", logs.String())
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

package edge

import (
	"bytes"
	"context"
	"errors"
	"io"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/vcci-dev/vcci/pkg/apperr"
	reportingv1 "github.com/vcci-dev/vcci/pkg/gen/vcci/reporting/v1"
	"github.com/vcci-dev/vcci/pkg/signedlink"
)

// Report file routes. They are served beside the REST habits, not through
// them: the answer is a file with its own ETag (its SHA-256), ranges and
// conditional requests (http.ServeContent), which the JSON answers' ETag,
// buffering, edge cache and compression would each undo.
const (
	reportFileRoute   = "GET /v1/reports/{id}/file"
	sharedReportRoute = "GET /v1/reportFiles/{token}"
	sharedPrefix      = "/v1/reportFiles/"
	// submissionPrefix is a supplier's submission link, served by the
	// grpc-gateway routes of engagement's GetSupplierRequest and
	// SubmitSupplierData.
	submissionPrefix = "/v1/supplierRequests/"
	// hiddenToken stands for a link's token in the path every layer
	// after hideLinkTokens sees.
	hiddenToken = signedlink.Hidden
)

type linkTokenKey struct{}

// hideLinkTokens takes a link's token out of the request's path before
// anything records the path (the trace's url.path, the access log): the
// token is a credential for as long as the link lives. A report link's
// serveShared reads it back from the context; a submission link's goes to
// engagement as metadata (linkTokenMetadata), its path naming
// signedlink.Hidden in its place; its page needs none (the browser's
// script reads its own address).
func hideLinkTokens(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for _, prefix := range []string{sharedPrefix, submissionPrefix, submitPagePrefix} {
			rest, ok := strings.CutPrefix(r.URL.Path, prefix)
			tok, verb, _ := strings.Cut(rest, ":")
			if !ok || !isToken(tok) || strings.Contains(rest, "/") {
				continue // no link's: left for the route to refuse
			}
			if verb != "" {
				verb = ":" + verb
			}
			r = r.Clone(context.WithValue(r.Context(), linkTokenKey{}, tok))
			r.URL.Path, r.URL.RawPath = prefix+hiddenToken+verb, ""
			r.RequestURI = r.URL.RequestURI()
			break
		}
		next.ServeHTTP(w, r)
	})
}

const tokenChars = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_."

// isToken reports whether s could be a link's token: base64url and dots,
// which metadata can carry.
func isToken(s string) bool {
	if s == "" || len(s) > 1024 {
		return false
	}
	return strings.Trim(s, tokenChars) == ""
}

// linkTokenMetadata passes a submission link's token, which
// hideLinkTokens took out of the path, to engagement.
func linkTokenMetadata(_ context.Context, r *http.Request) metadata.MD {
	if tok, ok := r.Context().Value(linkTokenKey{}).(string); ok {
		return metadata.Pairs(signedlink.Header, tok)
	}
	return nil
}

// reportFiles serves report files from reporting's GetReportFile and
// GetSharedReportFile streams.
type reportFiles struct {
	client    reportingv1.ReportingServiceClient
	mux       *runtime.ServeMux
	marshaler runtime.Marshaler
}

// serveOwn serves a report's file to a caller with an API key, which is
// forwarded to reporting as every REST call's is.
func (f *reportFiles) serveOwn(w http.ResponseWriter, r *http.Request) {
	ctx := withIfNoneMatch(forwardedContext(r.Context(), r.Header), r.Header)
	var header metadata.MD
	stream, err := f.client.GetReportFile(ctx, &reportingv1.GetReportFileRequest{Name: "reports/" + r.PathValue("id")}, grpc.Header(&header))
	f.serve(w, r, stream, err, &header, "private, no-cache")
}

// serveShared serves the file a report link names, to anyone holding it:
// reporting checks the link's signature and expiry, and reads the file
// in the tenant the link was signed for. No key is forwarded, so the
// link alone decides.
func (f *reportFiles) serveShared(w http.ResponseWriter, r *http.Request) {
	md := metadata.MD{}
	if v := r.Header.Get("x-request-id"); v != "" {
		md.Set("x-request-id", v)
	}
	ctx := withIfNoneMatch(metadata.NewOutgoingContext(r.Context(), md), r.Header)
	tok, _ := r.Context().Value(linkTokenKey{}).(string) // hideLinkTokens'
	stream, err := f.client.GetSharedReportFile(ctx, &reportingv1.GetSharedReportFileRequest{Token: tok})
	f.serve(w, r, stream, err, nil, "private, no-store")
}

// withIfNoneMatch passes the entity tags the request's If-None-Match
// names on to reporting (their opaque part, or "*"), which then sends the
// report without the file when one is the file's: a revalidation reads no
// file.
func withIfNoneMatch(ctx context.Context, h http.Header) context.Context {
	tags := etagsNamed(h.Values("If-None-Match"))
	if len(tags) == 0 {
		return ctx
	}
	kv := make([]string, 0, 2*len(tags))
	for _, t := range tags {
		kv = append(kv, "if-none-match", t)
	}
	return metadata.AppendToOutgoingContext(ctx, kv...)
}

type chunks interface {
	Recv() (*reportingv1.ReportFileChunk, error)
}

func (f *reportFiles) serve(w http.ResponseWriter, r *http.Request, stream chunks, err error, header *metadata.MD, cacheControl string) {
	var rep *reportingv1.Report
	var body bytes.Buffer
	for err == nil {
		var m *reportingv1.ReportFileChunk
		if m, err = stream.Recv(); err != nil {
			break
		}
		if m.GetReport() != nil {
			rep = m.GetReport()
			body.Grow(int(min(rep.GetSizeBytes(), 1<<30)))
		}
		body.Write(m.GetData())
	}
	if header != nil {
		// The rate limits, and nothing else: a file's answer carries no
		// Grpc-Metadata-* headers.
		for k, vs := range *header {
			if h, ok := responseHeaders[k]; ok {
				for _, v := range vs {
					w.Header().Add(h, v)
				}
			}
		}
	}
	if !errors.Is(err, io.EOF) {
		f.fail(w, r, err)
		return
	}
	if rep == nil {
		f.fail(w, r, status.Error(codes.Internal, "reporting sent no report"))
		return
	}
	// A file left out is one the request's If-None-Match names, so the
	// answer below is a 304; anything else would be an empty 200.
	if body.Len() == 0 && rep.GetSizeBytes() > 0 {
		if _, ok := notModified(r.Header.Values("If-None-Match"), `"`+rep.GetSha256()+`"`); !ok {
			f.fail(w, r, status.Error(codes.Internal, "reporting sent the report without its file"))
			return
		}
	}
	h := w.Header()
	h.Set("Content-Type", rep.GetContentType())
	h.Set("Content-Disposition", attachment(rep.GetFileName()))
	h.Set("ETag", `"`+rep.GetSha256()+`"`)
	h.Set("Cache-Control", cacheControl)
	h.Set("X-Content-Type-Options", "nosniff")
	var modtime time.Time
	if t := rep.GetFinishTime(); t != nil {
		modtime = t.AsTime()
	}
	http.ServeContent(w, r, rep.GetFileName(), modtime, bytes.NewReader(body.Bytes()))
}

// fileStatus is the HTTP status of a download's gRPC error where it is
// not grpc-gateway's: a report without a file yet conflicts with its
// state (409), and an expired link is gone (410).
func fileStatus(err error) (int, bool) {
	st, ok := status.FromError(err)
	if !ok || st.Code() != codes.FailedPrecondition {
		return 0, false
	}
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok && info.GetDomain() == apperr.Domain && info.GetReason() == apperr.ReasonReportLinkExpired {
			return http.StatusGone, true
		}
	}
	return http.StatusConflict, true
}

func (f *reportFiles) fail(w http.ResponseWriter, r *http.Request, err error) {
	if code, ok := fileStatus(err); ok {
		w = &fixedStatus{ResponseWriter: w, code: code}
	}
	runtime.HTTPError(r.Context(), f.mux, f.marshaler, w, r, err)
}

// attachment is the Content-Disposition of a file called name: the name
// quoted when it is plain ASCII, else in RFC 2231's encoding, which
// mime.FormatMediaType picks.
func attachment(name string) string {
	plain := name != ""
	for _, c := range name {
		if c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			plain = false
		}
	}
	if plain {
		return `attachment; filename="` + name + `"`
	}
	return mime.FormatMediaType("attachment", map[string]string{"filename": name})
}

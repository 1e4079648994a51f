package edge

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/vcci-dev/vcci/pkg/config"
)

// HTTPLimits bound what a client may send the gateway, and for how long.
// A zero timeout is none, as in net/http.
type HTTPLimits struct {
	// MaxJSONBodyBytes bounds every request body but an upload's, which
	// Options.MaxUploadBytes bounds (MAX_JSON_BODY_BYTES).
	MaxJSONBodyBytes int64
	// ReadHeaderTimeout bounds the request line and headers, so that a
	// client sending them a byte at a time is cut off
	// (HTTP_READ_HEADER_TIMEOUT).
	ReadHeaderTimeout time.Duration
	// ReadTimeout bounds a whole request, headers and body, but for an
	// upload's body; a handler's context ends with it too
	// (HTTP_READ_TIMEOUT).
	ReadTimeout time.Duration
	// UploadIdleTimeout is the longest an upload's body may stall: a body
	// that keeps coming may take as long as it needs
	// (HTTP_UPLOAD_IDLE_TIMEOUT).
	UploadIdleTimeout time.Duration
	// WriteTimeout bounds a request's handling and its answer, from the
	// end of its headers (of an upload, from the end of its body)
	// (HTTP_WRITE_TIMEOUT).
	WriteTimeout time.Duration
	// IdleTimeout closes a keep-alive connection with no request
	// (HTTP_IDLE_TIMEOUT).
	IdleTimeout time.Duration
	// MaxHeaderBytes bounds the request line and headers; more is 431
	// (HTTP_MAX_HEADER_BYTES).
	MaxHeaderBytes int
}

// DefaultHTTPLimits are the gateway's unless set: a JSON body of the API is
// a few kilobytes; the longest ordinary call is bounded by grpcclient's 30 s
// call timeout, which the read and write timeouts leave room for; a page of
// answers to a slow client fits in two minutes.
func DefaultHTTPLimits() HTTPLimits {
	return HTTPLimits{
		MaxJSONBodyBytes:  1 << 20,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       time.Minute,
		UploadIdleTimeout: time.Minute,
		WriteTimeout:      2 * time.Minute,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
	}
}

// LoadHTTPLimits reads HTTPLimits' variables over DefaultHTTPLimits; a
// malformed value, a negative timeout or a size below 1 is an error naming
// its variable.
func LoadHTTPLimits() (HTTPLimits, error) {
	l := DefaultHTTPLimits()
	body, err := config.Int("MAX_JSON_BODY_BYTES", int(l.MaxJSONBodyBytes))
	if err != nil {
		return HTTPLimits{}, err
	}
	if l.MaxHeaderBytes, err = config.Int("HTTP_MAX_HEADER_BYTES", l.MaxHeaderBytes); err != nil {
		return HTTPLimits{}, err
	}
	for name, n := range map[string]int{"MAX_JSON_BODY_BYTES": body, "HTTP_MAX_HEADER_BYTES": l.MaxHeaderBytes} {
		if n < 1 {
			return HTTPLimits{}, fmt.Errorf("config: %s=%d must be at least 1", name, n)
		}
	}
	l.MaxJSONBodyBytes = int64(body)
	for _, v := range []struct {
		name string
		d    *time.Duration
	}{
		{"HTTP_READ_HEADER_TIMEOUT", &l.ReadHeaderTimeout},
		{"HTTP_READ_TIMEOUT", &l.ReadTimeout},
		{"HTTP_UPLOAD_IDLE_TIMEOUT", &l.UploadIdleTimeout},
		{"HTTP_WRITE_TIMEOUT", &l.WriteTimeout},
		{"HTTP_IDLE_TIMEOUT", &l.IdleTimeout},
	} {
		if *v.d, err = config.Timeout(v.name, *v.d); err != nil {
			return HTTPLimits{}, err
		}
	}
	return l, nil
}

// Server returns an HTTP server for the gateway on addr, with its limits.
func (g *Gateway) Server(addr string) *http.Server {
	return &http.Server{
		Addr:              addr,
		Handler:           g.handler,
		ReadHeaderTimeout: g.limits.ReadHeaderTimeout,
		ReadTimeout:       g.limits.ReadTimeout,
		WriteTimeout:      g.limits.WriteTimeout,
		IdleTimeout:       g.limits.IdleTimeout,
		MaxHeaderBytes:    g.limits.MaxHeaderBytes,
	}
}

// limitBodies refuses, with 413, a request body over limit bytes, except an
// upload's (isUpload), which the upload route bounds itself. A body of
// unknown length is read here, so that none of an oversized one reaches a
// service; one of known length is refused before it is read.
func limitBodies(next http.Handler, limit int64) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body == nil || r.Body == http.NoBody || isUpload(r) {
			next.ServeHTTP(w, r)
			return
		}
		if r.ContentLength > limit {
			tooLarge(w, "body", limit, "MAX_JSON_BODY_BYTES")
			return
		}
		if r.ContentLength < 0 {
			b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
			var mbe *http.MaxBytesError
			switch {
			case errors.As(err, &mbe):
				tooLarge(w, "body", limit, "MAX_JSON_BODY_BYTES")
				return
			case err != nil:
				badBody(w, err)
				return
			}
			r.Body = io.NopCloser(bytes.NewReader(b))
		}
		next.ServeHTTP(w, r)
	})
}

// textOnly refuses, with 400, an API request whose path or query holds
// bytes that are not UTF-8 text: a protobuf string must be UTF-8, so the
// request built from it would fail to marshal, an internal error. The
// upload, whose file name is only shown back, keeps it with U+FFFD.
func textOnly(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, "/v1/") || isUpload(r) {
			next.ServeHTTP(w, r)
			return
		}
		if !utf8.ValidString(r.URL.Path) {
			writeStatus(w, http.StatusBadRequest, codes.InvalidArgument, "path", "the path is not UTF-8 text")
			return
		}
		// A query that does not parse is left to the mux, which refuses it.
		q, _ := url.ParseQuery(r.URL.RawQuery)
		for name, vs := range q {
			if !utf8.ValidString(name) || slices.ContainsFunc(vs, func(v string) bool { return !utf8.ValidString(v) }) {
				field := strings.ToValidUTF8(name, "\ufffd")
				writeStatus(w, http.StatusBadRequest, codes.InvalidArgument, field, field+": not UTF-8 text")
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// isUpload reports the streaming upload route.
func isUpload(r *http.Request) bool {
	return r.Method == http.MethodPost && r.URL.Path == "/v1/uploads"
}

// tooLarge answers 413, which no gRPC code maps to, in the API's error
// shape, naming the limit and the setting that sets it.
func tooLarge(w http.ResponseWriter, field string, limit int64, setting string) {
	writeStatus(w, http.StatusRequestEntityTooLarge, codes.InvalidArgument, field,
		fmt.Sprintf("request body exceeds %d bytes (%s)", limit, setting))
}

// stalled answers 408 to an upload whose body stopped coming.
func stalled(w http.ResponseWriter, idle time.Duration) {
	writeStatus(w, http.StatusRequestTimeout, codes.DeadlineExceeded, "",
		fmt.Sprintf("request body stalled for %s (HTTP_UPLOAD_IDLE_TIMEOUT)", idle))
}

// badBody answers 400 to a request whose body could not be read.
func badBody(w http.ResponseWriter, err error) {
	writeStatus(w, http.StatusBadRequest, codes.InvalidArgument, "body", "reading the request body: "+err.Error())
}

// writeStatus writes an error in the shape grpc-gateway gives the API's
// errors, with a BadRequest detail naming field, if any.
func writeStatus(w http.ResponseWriter, httpCode int, code codes.Code, field, msg string) {
	st := status.New(code, msg)
	if field != "" {
		if withDetails, err := st.WithDetails(&errdetails.BadRequest{FieldViolations: []*errdetails.BadRequest_FieldViolation{
			{Field: field, Description: msg}}}); err == nil {
			st = withDetails
		}
	}
	b, _ := protojson.Marshal(st.Proto())
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", cacheNone)
	w.WriteHeader(httpCode)
	w.Write(b)
}

// idleReader gives each read of an upload's body the idle timeout from
// now, in place of the server's read timeout: a body that keeps coming is
// never cut off, one that stalls is.
type idleReader struct {
	r    io.Reader
	rc   *http.ResponseController
	idle time.Duration
}

func (i idleReader) Read(p []byte) (int, error) {
	// A writer that cannot set deadlines (a test's recorder) keeps the
	// server's.
	_ = i.rc.SetReadDeadline(time.Now().Add(i.idle))
	return i.r.Read(p) //nolint:wrapcheck // a Reader's errors, io.EOF first, pass as they are
}

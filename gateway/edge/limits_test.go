package edge

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	calculatorv1 "github.com/vcci-dev/vcci/pkg/gen/vcci/calculator/v1"
)

// CalculateEmissions counts the lines it is sent: a body that got through.
func (fakeCalculator) CalculateEmissions(_ context.Context, r *calculatorv1.CalculateEmissionsRequest) (*calculatorv1.CalculateEmissionsResponse, error) {
	return &calculatorv1.CalculateEmissionsResponse{LinesCalculated: int64(len(r.GetLines()))}, nil
}

// apiError is the API's error body.
type apiError struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
	Details []struct {
		FieldViolations []struct {
			Field       string `json:"field"`
			Description string `json:"description"`
		} `json:"fieldViolations"`
	} `json:"details"`
}

func decodeError(t *testing.T, b []byte) apiError {
	t.Helper()
	var e apiError
	if err := json.Unmarshal(b, &e); err != nil {
		t.Fatalf("error body %q: %v", b, err)
	}
	return e
}

// lines is a CalculateEmissions body of n lines, about 90 bytes each.
func lines(n int) []byte {
	var b bytes.Buffer
	b.WriteString(`{"upload":"uploads/1","lines":[`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"transactionId":"T%06d","supplierId":"S1","naicsCode":"331110","amountUsd":"10.00"}`, i)
	}
	b.WriteString(`]}`)
	return b.Bytes()
}

// onlyReader hides a body's length, so that it is sent chunked.
type onlyReader struct{ io.Reader }

func TestJSONBodiesOverTheLimitAre413(t *testing.T) {
	limits := DefaultHTTPLimits()
	limits.MaxJSONBodyBytes = 4096
	ts, _, _ := setupWith(t, &limits)
	url := ts.URL + "/v1/emissionResults:calculate"
	small, big := lines(10), lines(100)
	if len(small) > 4096 || len(big) <= 4096 {
		t.Fatalf("bodies of %d and %d bytes", len(small), len(big))
	}
	for name, body := range map[string]func([]byte) io.Reader{
		"with a length": func(b []byte) io.Reader { return bytes.NewReader(b) },
		"chunked":       func(b []byte) io.Reader { return onlyReader{bytes.NewReader(b)} },
	} {
		t.Run(name, func(t *testing.T) {
			resp, b := call(t, "POST", url, body(big), "Content-Type", "application/json")
			e := decodeError(t, b)
			want := "request body exceeds 4096 bytes (MAX_JSON_BODY_BYTES)"
			if resp.StatusCode != http.StatusRequestEntityTooLarge || e.Code != 3 || e.Message != want || len(e.Details) != 1 ||
				e.Details[0].FieldViolations[0].Field != "body" || resp.Header.Get("Cache-Control") != "no-store" {
				t.Fatalf("over the limit: HTTP %d %s", resp.StatusCode, b)
			}
			resp, b = call(t, "POST", url, body(small), "Content-Type", "application/json")
			if resp.StatusCode != http.StatusOK || !strings.Contains(string(b), `"linesCalculated":"10"`) {
				t.Fatalf("under the limit: HTTP %d %s", resp.StatusCode, b)
			}
		})
	}
}

func TestUploadsOverTheLimitAre413BeforeIntakeSeesThem(t *testing.T) {
	ts, fake, _ := setup(t) // MaxUploadBytes 4 MiB
	for name, body := range map[string]io.Reader{
		"with a length": bytes.NewReader(make([]byte, 5<<20)),
		"chunked":       onlyReader{bytes.NewReader(make([]byte, 5<<20))},
	} {
		resp, b := call(t, "POST", ts.URL+"/v1/uploads", body, "Content-Type", "text/csv")
		e := decodeError(t, b)
		if resp.StatusCode != http.StatusRequestEntityTooLarge || e.Message != "request body exceeds 4194304 bytes (MAX_UPLOAD_BYTES)" ||
			e.Details[0].FieldViolations[0].Field != "file" {
			t.Fatalf("%s: HTTP %d %s", name, resp.StatusCode, b)
		}
	}
	fake.mu.Lock()
	defer fake.mu.Unlock()
	if fake.meta != nil {
		t.Fatalf("intake stored an oversized upload: %v", fake.meta)
	}
}

// A client sending its headers a byte at a time is disconnected when the
// header timeout passes.
func TestSlowHeadersAreCutOff(t *testing.T) {
	limits := DefaultHTTPLimits()
	limits.ReadHeaderTimeout = 300 * time.Millisecond
	ts, _, _ := setupWith(t, &limits)
	conn, err := net.Dial("tcp", ts.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	start := time.Now()
	closed := make(chan time.Duration, 1)
	go func() {
		_, _ = io.Copy(io.Discard, conn) // returns when the server closes
		closed <- time.Since(start)
	}()
	header := "GET /healthz HTTP/1.1\r\nHost: gateway\r\nX-Slow: " + strings.Repeat("x", 100)
	for i := range len(header) {
		if _, err := conn.Write([]byte{header[i]}); err != nil {
			break // the server hung up
		}
		select {
		case d := <-closed:
			if d < 250*time.Millisecond || d > 3*time.Second {
				t.Fatalf("disconnected after %v, want after the 300ms header timeout", d)
			}
			return
		case <-time.After(20 * time.Millisecond):
		}
	}
	select {
	case d := <-closed:
		if d > 3*time.Second {
			t.Fatalf("disconnected after %v, want after the 300ms header timeout", d)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("a client sending headers for 3s was not disconnected")
	}
}

func TestHeadersOverTheLimitAre431(t *testing.T) {
	limits := DefaultHTTPLimits()
	limits.MaxHeaderBytes = 8 << 10
	ts, _, _ := setupWith(t, &limits)
	resp, _ := call(t, "GET", ts.URL+"/healthz", nil, "X-Big", strings.Repeat("x", 32<<10))
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Fatalf("32 KiB of headers over an 8 KiB limit: HTTP %d", resp.StatusCode)
	}
	if resp, _ := call(t, "GET", ts.URL+"/healthz", nil, "X-Some", strings.Repeat("x", 1<<10)); resp.StatusCode != http.StatusOK {
		t.Fatalf("1 KiB of headers: HTTP %d", resp.StatusCode)
	}
}

// trickle writes pieces to w, pause apart, then closes it.
func trickle(w *io.PipeWriter, pieces [][]byte, pause time.Duration) {
	for _, p := range pieces {
		time.Sleep(pause)
		if _, err := w.Write(p); err != nil {
			return
		}
	}
	w.Close()
}

// An upload that keeps coming outlasts the server's read and write
// timeouts; one that stalls for the idle timeout is cut off with 408.
func TestUploadsAreCutOffOnlyWhenTheyStall(t *testing.T) {
	limits := DefaultHTTPLimits()
	limits.ReadTimeout, limits.WriteTimeout, limits.UploadIdleTimeout = 300*time.Millisecond, 300*time.Millisecond, time.Second
	ts, fake, _ := setupWith(t, &limits)

	row := []byte("T1,2024-01-01,S1,Acme,331110,10.00,USD,x\n")
	pieces := make([][]byte, 0, 12)
	whole := make([]byte, 0, 12*len(row))
	for range 12 {
		pieces = append(pieces, row)
		whole = append(whole, row...)
	}
	pr, pw := io.Pipe()
	go trickle(pw, pieces, 100*time.Millisecond) // 1.2 s in all
	start := time.Now()
	resp, b := call(t, "POST", ts.URL+"/v1/uploads", pr, "Content-Type", "text/csv")
	if resp.StatusCode != http.StatusAccepted || time.Since(start) < time.Second {
		t.Fatalf("a steady upload over %v: HTTP %d %s", time.Since(start), resp.StatusCode, b)
	}
	fake.mu.Lock()
	sum := fake.sum
	fake.mu.Unlock()
	if sum != sha256.Sum256(whole) {
		t.Fatal("intake got another body than was sent")
	}

	pr, pw = io.Pipe()
	defer pw.Close()
	go func() { _, _ = pw.Write(row) }() // then nothing
	resp, b = call(t, "POST", ts.URL+"/v1/uploads", pr, "Content-Type", "text/csv")
	e := decodeError(t, b)
	if resp.StatusCode != http.StatusRequestTimeout || e.Code != 4 || e.Message != "request body stalled for 1s (HTTP_UPLOAD_IDLE_TIMEOUT)" {
		t.Fatalf("a stalled upload: HTTP %d %s", resp.StatusCode, b)
	}
}

// A path or query that is not UTF-8 text is a 400 naming the parameter: the
// request built from it could not be marshalled for the service.
func TestPathsAndQueriesNotUTF8Are400(t *testing.T) {
	ts, _, _ := setup(t)
	for target, field := range map[string]string{
		"/v1/uploads/%FF":                   "path",
		"/v1/uploads?page_token=%C3%28":     "page_token",
		"/v1/uploads?pageToken=ok&x%FE=1":   "x\ufffd",
		"/v1/emissionResults/%FF:calculate": "path",
		"/v1/apiKeys/%FF:revoke":            "path", // once a panic naming the route
		"/v1/suppliers?query=m%FCller&x=ok": "query",
		"/v1/suppliers?query=m%C3%BCller":   "", // text: the service's to answer
	} {
		resp, b := call(t, "GET", ts.URL+target, nil)
		if field == "" {
			if resp.StatusCode != http.StatusNotImplemented {
				t.Errorf("%s: HTTP %d %s, want the fake's 501", target, resp.StatusCode, b)
			}
			continue
		}
		if e := decodeError(t, b); resp.StatusCode != http.StatusBadRequest || e.Code != 3 || len(e.Details) != 1 ||
			e.Details[0].FieldViolations[0].Field != field {
			t.Errorf("%s: HTTP %d %s, want 400 naming %s", target, resp.StatusCode, b, field)
		}
	}
	// The upload keeps a file name that is not text, with U+FFFD.
	resp, b := call(t, "POST", ts.URL+"/v1/uploads?filename=a%FF.csv", strings.NewReader("a,b\n1,2\n"), "Content-Type", "text/csv")
	if resp.StatusCode != http.StatusAccepted || !strings.Contains(string(b), "a\ufffd.csv") {
		t.Fatalf("upload: HTTP %d %s", resp.StatusCode, b)
	}
}

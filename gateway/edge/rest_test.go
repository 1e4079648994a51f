package edge

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/cespare/xxhash/v2"
	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"github.com/grpc-ecosystem/grpc-gateway/v2/utilities"
	"github.com/klauspost/compress/zstd"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	calculatorv1 "github.com/vcci-dev/vcci/pkg/gen/vcci/calculator/v1"
)

// fakeCalculator serves reference data, the one public kind.
type fakeCalculator struct {
	calculatorv1.UnimplementedCalculatorServiceServer
}

func (fakeCalculator) ListFactorSets(context.Context, *calculatorv1.ListFactorSetsRequest) (*calculatorv1.ListFactorSetsResponse, error) {
	return &calculatorv1.ListFactorSetsResponse{FactorSets: []*calculatorv1.FactorSet{
		{Name: "factorSets/epa-supply-chain-v1.3.0", Publisher: "US EPA", Version: "1.3.0", FactorCount: 1016},
	}}, nil
}

func (fakeCalculator) BatchGetFactors(_ context.Context, r *calculatorv1.BatchGetFactorsRequest) (*calculatorv1.BatchGetFactorsResponse, error) {
	out := make([]*calculatorv1.Factor, 0, len(r.GetNames()))
	for _, n := range r.GetNames() {
		out = append(out, &calculatorv1.Factor{Name: n, Value: "0.123"})
	}
	return &calculatorv1.BatchGetFactorsResponse{Factors: out}, nil
}

func (fakeCalculator) ListFactors(_ context.Context, r *calculatorv1.ListFactorsRequest) (*calculatorv1.ListFactorsResponse, error) {
	return &calculatorv1.ListFactorsResponse{Factors: []*calculatorv1.Factor{{Name: r.GetParent() + "/factors/331110", Value: "0.787"}}, TotalSize: 1}, nil
}

func (fakeCalculator) GetFactor(_ context.Context, r *calculatorv1.GetFactorRequest) (*calculatorv1.Factor, error) {
	return &calculatorv1.Factor{Name: r.GetName(), Value: "0.787"}, nil
}

// call sends one request with a bare Transport, which neither follows
// redirects nor undoes gzip, and returns the answer with its whole body.
func call(t *testing.T, method, url string, body io.Reader, hdr ...string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := (&http.Transport{DisableCompression: true}).RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

// wantETag is the tag the gateway should give body, computed independently.
func wantETag(body []byte) string {
	sum := binary.BigEndian.AppendUint64(nil, xxhash.Sum64(body))
	return `"` + base64.RawURLEncoding.EncodeToString(sum) + `"`
}

// withCoding is tag as gzhttp suffixes it for a compressed answer.
func withCoding(tag, coding string) string {
	return tag[:len(tag)-1] + "-" + coding + `"`
}

func vary(h http.Header) []string {
	var out []string
	for _, v := range h.Values("Vary") {
		for n := range strings.SplitSeq(v, ",") {
			out = append(out, strings.TrimSpace(n))
		}
	}
	return out
}

func TestETagConditionalGet(t *testing.T) {
	ts, _, _ := setup(t)
	resp, body := call(t, "GET", ts.URL+"/v1/uploads/7", nil)
	tag := resp.Header.Get("ETag")
	if resp.StatusCode != http.StatusOK || tag != wantETag(body) || len(tag) != 13 || !strings.Contains(string(body), `"name":"uploads/7"`) {
		t.Fatalf("HTTP %d, ETag %q, want %q", resp.StatusCode, tag, wantETag(body))
	}
	if cl := resp.Header.Get("Content-Length"); cl != strconv.Itoa(len(body)) {
		t.Fatalf("Content-Length %q for %d bytes", cl, len(body))
	}
	if resp, _ := call(t, "GET", ts.URL+"/v1/uploads/7", nil); resp.Header.Get("ETag") != tag {
		t.Fatalf("same body, ETag %q then %q", tag, resp.Header.Get("ETag"))
	}
	if resp, b := call(t, "GET", ts.URL+"/v1/uploads/8", nil); resp.Header.Get("ETag") == tag || resp.Header.Get("ETag") != wantETag(b) {
		t.Fatalf("another body, ETag %q (uploads/7 has %q)", resp.Header.Get("ETag"), tag)
	}

	for _, tc := range []struct {
		name, ifNoneMatch string
		code              int
		etag              string // the ETag the answer must carry
	}{
		{"exact", tag, 304, tag},
		{"list", `"stale", ` + tag + `, "older"`, 304, tag},
		{"list without spaces", `"stale",` + tag, 304, tag},
		{"weak", "W/" + tag, 304, tag},
		{"star", "*", 304, tag},
		{"gzip variant echoed", withCoding(tag, "gzip"), 304, withCoding(tag, "gzip")},
		{"no match", `"stale"`, 200, tag},
		{"suffix of another coding", withCoding(tag, "br"), 200, tag},
		{"malformed", tag[1 : len(tag)-1], 200, tag},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, b := call(t, "GET", ts.URL+"/v1/uploads/7", nil, "If-None-Match", tc.ifNoneMatch)
			if resp.StatusCode != tc.code || resp.Header.Get("ETag") != tc.etag {
				t.Fatalf("If-None-Match %s: HTTP %d, ETag %q; want %d, %q", tc.ifNoneMatch, resp.StatusCode, resp.Header.Get("ETag"), tc.code, tc.etag)
			}
			if tc.code == 304 {
				if len(b) != 0 || resp.Header.Get("Content-Type") != "" || resp.Header.Get("Cache-Control") != "private, no-cache" ||
					!slices.Contains(vary(resp.Header), "X-Api-Key") {
					t.Fatalf("304 with %d body bytes, Content-Type %q, Cache-Control %q, Vary %v",
						len(b), resp.Header.Get("Content-Type"), resp.Header.Get("Cache-Control"), vary(resp.Header))
				}
			} else if !bytes.Equal(b, body) {
				t.Fatalf("200 body %.80s", b)
			}
		})
	}

	// Two If-None-Match lines are one list.
	req, _ := http.NewRequest(http.MethodGet, ts.URL+"/v1/uploads/7", http.NoBody)
	req.Header.Add("If-None-Match", `"a"`)
	req.Header.Add("If-None-Match", `W/"b", `+tag)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotModified {
		t.Fatalf("two If-None-Match lines: HTTP %d", resp.StatusCode)
	}
}

func TestETagAndCompression(t *testing.T) {
	ts, _, _ := setup(t)
	resp, plain := call(t, "GET", ts.URL+"/v1/uploads/7", nil)
	tag := resp.Header.Get("ETag")
	if len(plain) < gzMemoMin {
		t.Fatalf("the answer is %d bytes: too small to go through the gzip memo", len(plain))
	}

	_, first := call(t, "GET", ts.URL+"/v1/uploads/7", nil, "Accept-Encoding", "gzip")
	resp, b := call(t, "GET", ts.URL+"/v1/uploads/7", nil, "Accept-Encoding", "gzip")
	if !bytes.Equal(first, b) || !strings.Contains(strings.Join(resp.Header.Values("Vary"), ","), "Accept-Encoding") {
		t.Fatalf("second gzip answer differs from the first, or Vary %q lacks Accept-Encoding", resp.Header.Values("Vary"))
	}
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("Content-Encoding %q: %v", resp.Header.Get("Content-Encoding"), err)
	}
	unzipped, _ := io.ReadAll(zr)
	gzTag := resp.Header.Get("ETag")
	if resp.Header.Get("Content-Encoding") != "gzip" || len(b) >= len(plain) || !bytes.Equal(unzipped, plain) ||
		gzTag != withCoding(tag, "gzip") || gzTag != withCoding(wantETag(unzipped), "gzip") {
		t.Fatalf("gzip: %d of %d bytes, ETag %q (identity %q)", len(b), len(plain), gzTag, tag)
	}

	resp, b = call(t, "GET", ts.URL+"/v1/uploads/7", nil, "Accept-Encoding", "zstd")
	zd, _ := zstd.NewReader(nil)
	defer zd.Close()
	unzstd, err := zd.DecodeAll(b, nil)
	if err != nil || resp.Header.Get("Content-Encoding") != "zstd" || !bytes.Equal(unzstd, plain) || resp.Header.Get("ETag") != withCoding(tag, "zstd") {
		t.Fatalf("zstd: %v, Content-Encoding %q, ETag %q", err, resp.Header.Get("Content-Encoding"), resp.Header.Get("ETag"))
	}

	// Small answers are not compressed and keep the plain tag.
	resp, b = call(t, "GET", ts.URL+"/v1/uploads/small", nil, "Accept-Encoding", "gzip")
	if resp.Header.Get("Content-Encoding") != "" || resp.Header.Get("ETag") != wantETag(b) {
		t.Fatalf("small: Content-Encoding %q, ETag %q, want %q", resp.Header.Get("Content-Encoding"), resp.Header.Get("ETag"), wantETag(b))
	}

	// Each variant revalidates with its own tag, and the 304 names the
	// stored answer to reuse.
	for _, tc := range []struct{ ifNoneMatch, acceptEncoding, etag string }{
		{gzTag, "gzip", gzTag},
		{tag, "gzip", tag},
		{gzTag, "", gzTag},
		{`"stale", ` + gzTag, "gzip, deflate", gzTag},
	} {
		resp, b := call(t, "GET", ts.URL+"/v1/uploads/7", nil, "If-None-Match", tc.ifNoneMatch, "Accept-Encoding", tc.acceptEncoding)
		if resp.StatusCode != http.StatusNotModified || len(b) != 0 || resp.Header.Get("ETag") != tc.etag || resp.Header.Get("Content-Encoding") != "" {
			t.Fatalf("If-None-Match %s, Accept-Encoding %q: HTTP %d, %d bytes, ETag %q, Content-Encoding %q",
				tc.ifNoneMatch, tc.acceptEncoding, resp.StatusCode, len(b), resp.Header.Get("ETag"), resp.Header.Get("Content-Encoding"))
		}
	}
}

func TestHeadAnsweredAsGet(t *testing.T) {
	ts, _, _ := setup(t)
	get, body := call(t, "GET", ts.URL+"/v1/uploads/7", nil)
	resp, b := call(t, "HEAD", ts.URL+"/v1/uploads/7", nil)
	if resp.StatusCode != http.StatusOK || len(b) != 0 || resp.Header.Get("ETag") != get.Header.Get("ETag") ||
		resp.Header.Get("Content-Length") != strconv.Itoa(len(body)) || resp.Header.Get("Cache-Control") != "private, no-cache" {
		t.Fatalf("HEAD: HTTP %d, %d bytes, ETag %q (GET %q), Content-Length %q", resp.StatusCode, len(b),
			resp.Header.Get("ETag"), get.Header.Get("ETag"), resp.Header.Get("Content-Length"))
	}
	if resp, _ := call(t, "HEAD", ts.URL+"/v1/uploads/7", nil, "If-None-Match", get.Header.Get("ETag")); resp.StatusCode != http.StatusNotModified {
		t.Fatalf("conditional HEAD: HTTP %d", resp.StatusCode)
	}
}

func TestCacheControlByResource(t *testing.T) {
	ts, _, _ := setup(t)
	csv := "a,b\n1,2\n"
	for _, tc := range []struct {
		method, path string
		code         int
		cache        string
		vary         []string
		etag         bool
	}{
		{"GET", "/v1/uploads/7", 200, "private, no-cache", []string{"Accept-Encoding", "Authorization", "X-Api-Key"}, true},
		{"GET", "/v1/factorSets", 200, "private, no-cache", []string{"Accept-Encoding", "Authorization", "X-Api-Key"}, true},
		{"GET", "/v1/factors:batchGet?names=factorSets/epa/factors/331110", 200, "private, no-cache", []string{"Accept-Encoding", "Authorization", "X-Api-Key"}, true},
		{"GET", "/v1/factorSets/-/factors?filter=code%3A%223311*%22&orderBy=value%20desc", 200, "private, no-cache", []string{"Accept-Encoding", "Authorization", "X-Api-Key"}, true},
		{"GET", "/v1/factorSets/epa/factors/331110", 200, "private, no-cache", []string{"Accept-Encoding", "Authorization", "X-Api-Key"}, true},
		{"GET", "/v1/uploads/400", 400, "no-store", []string{"Accept-Encoding"}, false},
		{"GET", "/v1/uploads/401", 401, "no-store", []string{"Accept-Encoding"}, false},
		{"GET", "/v1/emissionResults/1", 501, "no-store", []string{"Accept-Encoding"}, false},
		{"GET", "/v1/nothing-here", 404, "no-store", []string{"Accept-Encoding"}, false},
		{"POST", "/v1/uploads", 202, "no-store", []string{"Accept-Encoding"}, false},
	} {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			var body io.Reader
			if tc.method == "POST" {
				body = strings.NewReader(csv)
			}
			// If-None-Match: * would turn any 200 to a GET into a 304; an
			// error or a POST must ignore it.
			resp, b := call(t, tc.method, ts.URL+tc.path, body, "Content-Type", "text/csv", "Accept-Encoding", "gzip", "If-None-Match", "*")
			if tc.code == 200 {
				resp, b = call(t, tc.method, ts.URL+tc.path, nil, "Accept-Encoding", "gzip")
			}
			if resp.StatusCode != tc.code || resp.Header.Get("Cache-Control") != tc.cache || !slices.Equal(vary(resp.Header), tc.vary) ||
				(resp.Header.Get("ETag") != "") != tc.etag {
				t.Fatalf("HTTP %d, Cache-Control %q, Vary %q, ETag %q: %.120s", resp.StatusCode, resp.Header.Get("Cache-Control"),
					resp.Header.Values("Vary"), resp.Header.Get("ETag"), b)
			}
		})
	}
}

func TestCachePolicyTable(t *testing.T) {
	for path, want := range map[string]string{
		"/v1/uploads":                       cachePrivate,
		"/v1/uploads/7/errors":              cachePrivate,
		"/v1/suppliers:batchGet":            cachePrivate,
		"/v1/suppliers/S1":                  cachePrivate,
		"/v1/transactions":                  cachePrivate,
		"/v1/emissionResults:summarize":     cachePrivate,
		"/v1/hotspots/supplierPareto":       cachePrivate,
		"/v1/inventory/summary":             cachePrivate,
		"/v1/dashboard":                     cachePrivate,
		"/v1/campaigns/c1":                  cachePrivate,
		"/v1/factorSets":                    cachePrivate,
		"/v1/factorSets/epa/factors/331110": cachePrivate,
		"/v1/factorSets/-/factors":          cachePrivate,
		"/v1/factors:batchGet":              cachePrivate,
		"/v1/somethingNew":                  cachePrivate,
	} {
		if got := cachePolicy(path); got != want {
			t.Errorf("%s: %q, want %q", path, got, want)
		}
	}
}

// thingRequest is a request message with a read mask, built at run time so
// that the test does not depend on which RPCs have one today.
func thingRequest(t *testing.T) protoreflect.MessageDescriptor {
	t.Helper()
	_ = fieldmaskpb.File_google_protobuf_field_mask_proto // registers what the file imports
	opt := descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL.Enum()
	fd, err := protodesc.NewFile(&descriptorpb.FileDescriptorProto{
		Name:       new("edgetest/thing.proto"),
		Package:    new("edgetest"),
		Syntax:     new("proto3"),
		Dependency: []string{"google/protobuf/field_mask.proto"},
		MessageType: []*descriptorpb.DescriptorProto{{
			Name: new("GetThingRequest"),
			Field: []*descriptorpb.FieldDescriptorProto{
				{Name: new("name"), JsonName: new("name"), Number: proto.Int32(1), Label: opt,
					Type: descriptorpb.FieldDescriptorProto_TYPE_STRING.Enum()},
				{Name: new("read_mask"), JsonName: new("readMask"), Number: proto.Int32(2), Label: opt,
					Type: descriptorpb.FieldDescriptorProto_TYPE_MESSAGE.Enum(), TypeName: new(".google.protobuf.FieldMask")},
			},
		}},
	}, protoregistry.GlobalFiles)
	if err != nil {
		t.Fatal(err)
	}
	return fd.Messages().ByName("GetThingRequest")
}

func TestFieldsIsReadMask(t *testing.T) {
	desc := thingRequest(t)
	marshaler := &runtime.JSONPb{}
	mux := newServeMux(marshaler)
	// The parsing a generated handler does, into a request with a read_mask.
	err := mux.HandlePath("GET", "/v1/things/{name}", func(w http.ResponseWriter, r *http.Request, _ map[string]string) {
		req := dynamicpb.NewMessage(desc)
		if err := r.ParseForm(); err != nil {
			t.Error(err)
		}
		if err := runtime.PopulateQueryParameters(req, r.Form, utilities.NewDoubleArray(nil)); err != nil {
			runtime.HTTPError(r.Context(), mux, marshaler, w, r, err)
			return
		}
		// The paths as the service would see them, one per line.
		fm := req.Get(desc.Fields().ByName("read_mask")).Message()
		paths := fm.Get(fm.Descriptor().Fields().ByName("paths")).List()
		for i := range paths.Len() {
			fmt.Fprintln(w, paths.Get(i).String())
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(restHabits(mux, marshaler, nil))
	t.Cleanup(ts.Close)
	for _, tc := range []struct{ query, want string }{
		{"fields=name,owner.email", "name\nowner.email\n"},
		{"fields=name&fields=owner.email", "name\nowner.email\n"},
		{"fields=displayName&page=2", "displayName\n"},
		{"read_mask=name", "name\n"},
		{"readMask=name,owner", "name\nowner\n"},
		{"fieldset=x", ""},
	} {
		resp, b := call(t, "GET", ts.URL+"/v1/things/t1?"+tc.query, nil)
		if resp.StatusCode != http.StatusOK || string(b) != tc.want {
			t.Errorf("?%s: HTTP %d, read_mask paths %q, want %q", tc.query, resp.StatusCode, b, tc.want)
		}
	}
}

func TestFieldsWithReadMaskRefused(t *testing.T) {
	ts, _, _ := setup(t)
	if resp, b := call(t, "GET", ts.URL+"/v1/uploads/7?fields=name", nil); resp.StatusCode != http.StatusOK || !strings.Contains(string(b), `"name":"uploads/7"`) {
		t.Fatalf("fields on a route without a read mask: HTTP %d %.80s", resp.StatusCode, b)
	}
	for _, q := range []string{"fields=name&read_mask=filename", "readMask=filename&fields=name"} {
		resp, b := call(t, "GET", ts.URL+"/v1/uploads/7?"+q, nil)
		var st struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
			Details []struct {
				Type            string `json:"@type"`
				FieldViolations []struct {
					Field       string `json:"field"`
					Description string `json:"description"`
				} `json:"fieldViolations"`
			} `json:"details"`
		}
		if err := json.Unmarshal(b, &st); err != nil {
			t.Fatalf("%s: %v in %s", q, err, b)
		}
		if resp.StatusCode != http.StatusBadRequest || st.Code != 3 || !strings.Contains(st.Message, `"fields"`) || !strings.Contains(st.Message, `"read_mask"`) ||
			len(st.Details) != 1 || st.Details[0].Type != "type.googleapis.com/google.rpc.BadRequest" ||
			st.Details[0].FieldViolations[0].Field != "fields" || resp.Header.Get("Cache-Control") != "no-store" || resp.Header.Get("ETag") != "" {
			t.Fatalf("?%s: HTTP %d, Cache-Control %q %s", q, resp.StatusCode, resp.Header.Get("Cache-Control"), b)
		}
	}
}

func TestRateLimitHeaders(t *testing.T) {
	ts, _, _ := setup(t)
	type want struct {
		code                                int
		limit, remaining, reset, retryAfter string
		grpcCode                            int // in the error body
	}
	check := func(t *testing.T, resp *http.Response, b []byte, w want) {
		t.Helper()
		h := resp.Header
		if resp.StatusCode != w.code || h.Get("X-RateLimit-Limit") != w.limit || h.Get("X-RateLimit-Remaining") != w.remaining ||
			h.Get("X-RateLimit-Reset") != w.reset || h.Get("Retry-After") != w.retryAfter || h.Get("Grpc-Metadata-X-Ratelimit-Limit") != "" {
			t.Fatalf("HTTP %d, headers %v: %.120s", resp.StatusCode, h, b)
		}
		if w.grpcCode != 0 {
			var st struct {
				Code int `json:"code"`
			}
			if err := json.Unmarshal(b, &st); err != nil {
				t.Fatalf("error body %s: %v", b, err)
			}
			if st.Code != w.grpcCode || h.Get("Cache-Control") != "no-store" {
				t.Fatalf("error body %s, Cache-Control %q", b, h.Get("Cache-Control"))
			}
		}
	}
	t.Run("GET 200", func(t *testing.T) {
		resp, b := call(t, "GET", ts.URL+"/v1/uploads/limited", nil)
		check(t, resp, b, want{code: 200, limit: "100", remaining: "99", reset: "60"})
		if resp.Header.Get("Grpc-Metadata-X-Served-By") != "intake-1" || resp.Header.Get("ETag") == "" {
			t.Fatalf("other metadata lost its prefix, or no ETag: %v", resp.Header)
		}
	})
	t.Run("GET 429", func(t *testing.T) {
		resp, b := call(t, "GET", ts.URL+"/v1/uploads/429", nil)
		check(t, resp, b, want{code: 429, limit: "100", remaining: "0", reset: "30", retryAfter: "30", grpcCode: 8})
	})
	t.Run("upload 202", func(t *testing.T) {
		resp, b := call(t, "POST", ts.URL+"/v1/uploads", strings.NewReader("a,b\n1,2\n"), "Content-Type", "text/csv", "X-Api-Key", "k")
		check(t, resp, b, want{code: 202, limit: "10", remaining: "9", reset: "60"})
	})
	t.Run("upload 429", func(t *testing.T) {
		// Several chunks, refused before the first is read. (net/http then
		// lingers half a second before closing the unread connection.)
		body := strings.Repeat("T1,2024-01-01,S1,Acme,331110,10.00,USD,x\n", 20_000)
		resp, b := call(t, "POST", ts.URL+"/v1/uploads", strings.NewReader(body), "Content-Type", "text/csv", "X-Api-Key", "exhausted")
		check(t, resp, b, want{code: 429, limit: "10", remaining: "0", reset: "42", retryAfter: "42", grpcCode: 8})
	})
}

func TestStreamingAnswerIsNotHeld(t *testing.T) {
	marshaler := &runtime.JSONPb{}
	mux := newServeMux(marshaler)
	if err := mux.HandlePath("GET", "/v1/uploads/{name}/events", func(w http.ResponseWriter, _ *http.Request, _ map[string]string) {
		w.Write([]byte(`{"n":1}`))
		http.NewResponseController(w).Flush()
		w.Write([]byte(`{"n":2}`))
	}); err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	restHabits(mux, marshaler, nil).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/v1/uploads/7/events", http.NoBody))
	if rec.Code != 200 || !rec.Flushed || rec.Body.String() != `{"n":1}{"n":2}` || rec.Header().Get("ETag") != "" ||
		rec.Header().Get("Cache-Control") != cachePrivate {
		t.Fatalf("HTTP %d, flushed %v, ETag %q, Cache-Control %q: %s", rec.Code, rec.Flushed, rec.Header().Get("ETag"),
			rec.Header().Get("Cache-Control"), rec.Body)
	}
}

func TestTrailersRequestedStillGetETag(t *testing.T) {
	ts, _, _ := setup(t)
	resp, b := call(t, "GET", ts.URL+"/v1/uploads/limited", nil, "TE", "trailers")
	if resp.StatusCode != http.StatusOK || resp.Header.Get("ETag") != wantETag(b) || resp.Header.Get("Trailer") != "" || len(resp.Trailer) != 0 {
		t.Fatalf("HTTP %d, ETag %q, Trailer %q %v", resp.StatusCode, resp.Header.Get("ETag"), resp.Header.Get("Trailer"), resp.Trailer)
	}
}

func TestNotModified(t *testing.T) {
	const tag = `"abc"`
	for _, tc := range []struct {
		fields []string
		echo   string
		ok     bool
	}{
		{[]string{`"abc"`}, `"abc"`, true},
		{[]string{`W/"abc"`}, `"abc"`, true},
		{[]string{`W/"abc-gzip"`}, `"abc-gzip"`, true},
		{[]string{`"abc-zstd"`}, `"abc-zstd"`, true},
		{[]string{` "x,y" , "abc"`}, `"abc"`, true}, // a comma inside a tag
		{[]string{`"x"`, `"abc"`}, `"abc"`, true},
		{[]string{`*`}, `"abc"`, true},
		{[]string{`"abcd"`}, "", false},
		{[]string{`"ab"`}, "", false},
		{[]string{`abc`}, "", false},
		{[]string{`"abc`}, "", false},
		{[]string{`w/"abc"`}, "", false},
		{nil, "", false},
	} {
		if echo, ok := notModified(tc.fields, tag); echo != tc.echo || ok != tc.ok {
			t.Errorf("%q: %q %v, want %q %v", tc.fields, echo, ok, tc.echo, tc.ok)
		}
	}
}

// BenchmarkETagMiddleware prices holding, hashing and checking a 10 KB JSON
// answer against the bare mux.
func BenchmarkETagMiddleware(b *testing.B) {
	body := []byte(`{"items":[` + strings.Repeat(`{"name":"suppliers/S000001","displayName":"Acme Industrial","kgCo2e":"1234.56"},`, 128))
	body = append(body[:10*1024-2], "]}"...)
	marshaler := &runtime.JSONPb{}
	mux := newServeMux(marshaler)
	if err := mux.HandlePath("GET", "/v1/suppliers", func(w http.ResponseWriter, _ *http.Request, _ map[string]string) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(body)
	}); err != nil {
		b.Fatal(err)
	}
	tag := wantETag(body)
	for _, bc := range []struct {
		name string
		h    http.Handler
		inm  string
		code int
	}{
		{"without", mux, "", 200},
		{"with", restHabits(mux, marshaler, nil), "", 200},
		{"with_304", restHabits(mux, marshaler, nil), tag, 304},
	} {
		b.Run(bc.name, func(b *testing.B) {
			req := httptest.NewRequest(http.MethodGet, "/v1/suppliers", http.NoBody)
			if bc.inm != "" {
				req.Header.Set("If-None-Match", bc.inm)
			}
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				rec := httptest.NewRecorder()
				bc.h.ServeHTTP(rec, req)
				if rec.Code != bc.code {
					b.Fatalf("HTTP %d", rec.Code)
				}
			}
		})
	}
}

func TestAcceptsOnlyGzip(t *testing.T) {
	for _, tc := range []struct {
		fields []string
		want   bool
	}{
		{[]string{"gzip"}, true},
		{[]string{"gzip, deflate, br"}, true},
		{[]string{"deflate", "GZIP;q=0.5"}, true},
		{[]string{"gzip;q=0"}, false},
		{[]string{"gzip, zstd"}, false},
		{[]string{"gzip, zstd;q=0"}, true},
		{[]string{"*"}, false},
		{[]string{"br"}, false},
		{nil, false},
		{[]string{"gzip;q=abc"}, false},
	} {
		if got := acceptsOnlyGzip(tc.fields); got != tc.want {
			t.Errorf("acceptsOnlyGzip(%q) = %v, want %v", tc.fields, got, tc.want)
		}
	}
}

func TestGzMemoCompressesOnceAndOnlyTheSameBody(t *testing.T) {
	g := newGzMemo()
	a := bytes.Repeat([]byte(`{"name":"transactions/T1","amountUsd":"10.0000"},`), 100)
	b := bytes.Clone(a)
	b[len(b)-3] = '1' // one byte apart
	first := g.compressed(xxhash.Sum64(a), a)
	if again := g.compressed(xxhash.Sum64(a), a); &again[0] != &first[0] {
		t.Fatal("the same body was compressed again")
	}
	// A colliding sum with another body must not be answered from the memo.
	other := g.compressed(xxhash.Sum64(a), b)
	for body, gz := range map[string][]byte{string(a): first, string(b): other} {
		zr, err := gzip.NewReader(bytes.NewReader(gz))
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := io.ReadAll(zr); string(got) != body {
			t.Fatal("gzip memo answered with another body's bytes")
		}
	}
}

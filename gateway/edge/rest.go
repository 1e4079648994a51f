package edge

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"

	"github.com/cespare/xxhash/v2"
	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/vcci-dev/vcci/pkg/cache"
)

// Cache-Control values. Tenant data may be kept by the client but must be
// revalidated every time (cheap: a 304 on the ETag), and never by a shared
// cache. Factor data is tenant data too since tenants import their own
// sets: a list of sets or a search of every set holds the tenant's, and
// an import must show at once. Errors and answers to unsafe methods are
// one-off outcomes, not representations to reuse.
const (
	cachePrivate = "private, no-cache"
	cacheNone    = "no-store"
)

// cachePolicies is the Cache-Control of a successful GET or HEAD, by the
// first path segment after /v1/ (its custom verb cut off). Some routes are
// listed ahead of their RPCs so that a new route is classified the day it
// lands; a segment not listed counts as tenant data.
var cachePolicies = map[string]string{
	"uploads":          cachePrivate,
	"suppliers":        cachePrivate,
	"transactions":     cachePrivate,
	"emissionResults":  cachePrivate,
	"emissions":        cachePrivate,
	"hotspots":         cachePrivate,
	"inventory":        cachePrivate,
	"dashboard":        cachePrivate,
	"campaigns":        cachePrivate,
	"webhookEndpoints": cachePrivate,
	"factorSets":       cachePrivate,
	"factors":          cachePrivate,
	// A supplier's request holds its contacts, and its path a credential.
	"supplierRequests": cacheNone,
}

// privateVary are the request headers a private answer depends on: the
// encoding, and the credentials that decide whose data it is.
var privateVary = []string{"Accept-Encoding", "Authorization", "X-Api-Key"}

// cachePolicy is the Cache-Control for a successful GET of path.
func cachePolicy(path string) string {
	if p, ok := cachePolicies[resource(path)]; ok {
		return p
	}
	return cachePrivate
}

// resource is the first path segment after /v1/ without a custom verb:
// "suppliers" for /v1/suppliers:batchGet.
func resource(path string) string {
	s, ok := strings.CutPrefix(path, "/v1/")
	if !ok {
		return ""
	}
	if i := strings.IndexAny(s, "/:"); i >= 0 {
		s = s[:i]
	}
	return s
}

// etagCodingSuffix is what gzhttp appends inside the ETag of a compressed
// answer: "-gzip", or "-zstd" when it chose zstd (gzhttp swaps the word).
//
// The tag is computed here, before compression, from the identity body. A
// strong ETag promises byte-identical representations (RFC 9110 §8.8.1), and
// the gzip and identity bodies are different representations, so they must
// not share one tag: a cache holding both could otherwise be told to serve
// one for the other, and a Range request could splice bytes of the two.
// gzhttp.SuffixETag keeps them apart while both stay derived from the same
// hash, so If-None-Match below can recognise either. DropETag would be just
// as correct but would leave most clients, which all ask for gzip, with no
// validator at all and so no 304s.
const etagCodingSuffix = "-gzip"

var etagCodingSuffixes = []string{"", etagCodingSuffix, "-zstd"}

// restHabits wraps the grpc-gateway mux with what a read-heavy REST API owes
// its clients, on the API's routes (/v1/): ?fields= as the usual spelling of
// read_mask, HEAD answered as GET without the body, Cache-Control by
// resource, and a strong ETag with If-None-Match on every 200 to a GET. Only
// GET and HEAD answers are held in memory to be hashed; the streaming upload
// and every other method pass straight through.
//
// With an edge cache (nil: none), a GET or HEAD the cache holds for the
// same credential is answered from it, and a 200 a service marked as cached
// is kept there.
func restHabits(mux *runtime.ServeMux, marshaler runtime.Marshaler, edge *edgeCache) http.Handler {
	return &habits{mux: mux, marshaler: marshaler, edge: edge, gz: newGzMemo()}
}

// habits is the handler restHabits returns.
type habits struct {
	mux       *runtime.ServeMux
	marshaler runtime.Marshaler
	edge      *edgeCache // nil: none
	gz        *gzMemo
}

func (h *habits) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !strings.HasPrefix(r.URL.Path, "/v1/") {
		h.mux.ServeHTTP(w, r)
		return
	}
	safe := r.Method == http.MethodGet || r.Method == http.MethodHead
	cw := &cacheWriter{ResponseWriter: w, policy: cacheNone, buffer: safe, gz: h.gz, gate: h.edge}
	if safe {
		if h.edge != nil {
			if h.answerFromEdge(w, r, cw) {
				return
			}
			if cw.flight != nil {
				// Whatever happens to this request, the flight lands.
				defer cw.land()
			}
		}
		cw.policy = cachePolicy(r.URL.Path)
		cw.body = bodies.Get().(*bytes.Buffer)
		defer cw.releaseBody()
	}
	u, err := fieldsToReadMask(r.URL)
	if err != nil {
		runtime.HTTPError(r.Context(), h.mux, h.marshaler, cw, r, err)
		return
	}
	r = muxRequest(r, u, safe)
	h.mux.ServeHTTP(cw, r)
	cw.finish(r)
}

// answerFromEdge answers r from the edge cache, and reports so, when the
// cache holds the answer for r's credential or another request fetching it
// lands one. Otherwise cw is set to keep what the service answers, and to
// land the flight for r's key when r leads it.
func (h *habits) answerFromEdge(w http.ResponseWriter, r *http.Request, cw *cacheWriter) bool {
	cred := credential(r)
	if cred == "" {
		return false
	}
	epoch, ok := h.edge.usable()
	if !ok {
		h.edge.bypassed.Inc()
		return false
	}
	key := edgeKey(cred, r.URL)
	if e := h.edge.get(key); e != nil {
		h.edge.serve(w, r, cred, e, h.mux, h.marshaler, h.gz)
		return true
	}
	f, leader, seq := h.edge.lead(key)
	if leader {
		cw.flight = f
	} else if e := h.edge.await(r.Context(), f, seq); e != nil {
		h.edge.serve(w, r, cred, e, h.mux, h.marshaler, h.gz)
		return true
	}
	h.edge.misses.Inc()
	cw.edge, cw.edgeKey, cw.edgeEpoch = h.edge, key, epoch
	return false
}

// muxRequest is r as the mux is to see it: with u, r's URL after
// fieldsToReadMask; a HEAD as a GET; a held answer's without TE.
func muxRequest(r *http.Request, u *url.URL, safe bool) *http.Request {
	// The mux routes HEAD nowhere; RFC 9110 §9.3.2 has it answer as GET,
	// and net/http drops the body of a HEAD answer itself.
	head := r.Method == http.MethodHead
	// grpc-gateway sends gRPC trailers as HTTP trailers when TE allows;
	// a held body goes out with a Content-Length, so they would arrive
	// as headers instead. Trailer metadata is not part of the API.
	te := safe && r.Header.Get("TE") != ""
	if u == r.URL && !head && !te {
		return r
	}
	r2 := new(http.Request)
	*r2 = *r
	r2.URL = u
	if head {
		r2.Method = http.MethodGet
	}
	if te {
		r2.Header = r.Header.Clone()
		r2.Header.Del("TE")
	}
	return r2
}

// bodies are the buffers GET answers are held in: most answers fit in a few
// kilobytes, and reusing them keeps the cost of an ETag to the hash.
var bodies = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// maxPooledBody keeps a rare large answer from pinning its buffer.
const maxPooledBody = 256 << 10

// cacheWriter sets Cache-Control once the status is known and holds back a
// 200's body, when asked to, so that it can be given an ETag.
type cacheWriter struct {
	http.ResponseWriter
	policy  string // Cache-Control of a success
	buffer  bool   // a 200 is held back, not yet sent
	held    bool   // WriteHeader(200) was held back
	started bool   // the status line went downstream
	body    *bytes.Buffer
	gz      *gzMemo // compresses a held answer itself when it can (nil: never)
	// A held 200 the service marked as cached goes into edge under
	// edgeKey, if edge is still in edgeEpoch (nil: not kept).
	edge      *edgeCache
	edgeKey   string
	edgeEpoch uint64
	edgeKept  *edgeEntry  // the answer as an edge entry, for the requests waiting on it
	flight    *edgeFlight // the fetch of edgeKey this request leads (nil: none)
	// gate is the edge cache an answer marked unsure stops (nil: none).
	gate *edgeCache
	// from is the edge entry being sent (nil: an answer from a service
	// that the edge does not keep); its gzip encoding is kept with it.
	from *edgeEntry
}

// land ends the flight this request led, handing its waiters the answer
// kept (nil: none).
func (c *cacheWriter) land() { c.edge.land(c.edgeKey, c.flight, c.edgeKept) }

// releaseBody returns the held body's buffer to the pool, unless it grew
// too large to keep.
func (c *cacheWriter) releaseBody() {
	if c.body.Cap() <= maxPooledBody {
		c.body.Reset()
		bodies.Put(c.body)
	}
}

func (c *cacheWriter) WriteHeader(code int) {
	if c.started || c.held {
		return
	}
	if c.buffer && code == http.StatusOK {
		c.held = true
		return
	}
	c.start(code)
}

func (c *cacheWriter) start(code int) {
	c.buffer, c.started = false, true
	c.setCacheControl(code)
	c.ResponseWriter.WriteHeader(code)
}

func (c *cacheWriter) Write(b []byte) (int, error) {
	if !c.started && !c.held {
		c.WriteHeader(http.StatusOK)
	}
	if c.buffer {
		n, _ := c.body.Write(b) // a bytes.Buffer returns no error
		return n, nil
	}
	return c.ResponseWriter.Write(b) //nolint:wrapcheck // a decorator passes its writer's errors through as they are
}

// Flush means the handler streams: a body that never ends cannot be hashed,
// so what is held goes out, without an ETag, and the rest follows as written.
func (c *cacheWriter) Flush() {
	if c.buffer {
		c.start(http.StatusOK)
		c.ResponseWriter.Write(c.body.Bytes())
		c.body.Reset()
	}
	if f, ok := c.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (c *cacheWriter) Unwrap() http.ResponseWriter { return c.ResponseWriter }

// unsure takes cache.UnsureHeader off the answer and reports whether it
// was there, after stopping the edge cache (distrust).
func (c *cacheWriter) unsure() bool {
	h := c.Header()
	if h.Get(unsureHeader) == "" {
		return false
	}
	h.Del(unsureHeader)
	if c.gate != nil {
		c.gate.distrust()
	}
	return true
}

func (c *cacheWriter) setCacheControl(code int) {
	c.unsure()
	h := c.Header()
	h.Del(stampHeader)
	if code >= 400 {
		h.Set("Cache-Control", cacheNone)
		return
	}
	h.Set("Cache-Control", c.policy)
	if c.policy == cachePrivate {
		addVary(h, privateVary...)
	}
}

// finish sends a held 200: a 304 with no body when If-None-Match names it,
// else the body with its ETag. A 304 carries the Cache-Control, Vary and
// ETag the 200 would have had (RFC 9110 §15.4.5).
func (c *cacheWriter) finish(r *http.Request) {
	if !c.buffer {
		return
	}
	body := c.body.Bytes()
	sum := xxhash.Sum64(body)
	if !c.unsure() && c.edge != nil {
		if stamps := c.Header().Values(stampHeader); len(stamps) > 0 {
			c.edgeKept = c.edge.put(c.edgeKey, c.edgeEpoch, stamps, c.Header(), c.policy, body, sum)
			c.from = c.edgeKept
		}
	}
	c.writeHeld(r, sum, body)
}

// writeHeld sends a 200 whose identity body has xxHash sum, or a 304.
func (c *cacheWriter) writeHeld(r *http.Request, sum uint64, body []byte) {
	c.started = true
	c.setCacheControl(http.StatusOK)
	tag := etag(sum)
	h := c.Header()
	if held, ok := notModified(r.Header.Values("If-None-Match"), tag); ok {
		h.Set("ETag", held) // net/http drops Content-Type and Content-Length from a 304
		c.ResponseWriter.WriteHeader(http.StatusNotModified)
		return
	}
	if c.gz != nil && c.compressHere(len(body)) && acceptsOnlyGzip(r.Header.Values("Accept-Encoding")) {
		// What gzhttp would send, kept with the edge entry or in the memo:
		// an answer that already names its coding passes through gzhttp
		// untouched.
		if c.from != nil {
			body = c.edge.gzipped(c.from, c.gz)
		} else {
			body = c.gz.compressed(sum, body)
		}
		h.Set("Content-Encoding", "gzip")
		tag = tag[:len(tag)-1] + etagCodingSuffix + `"`
	}
	h.Set("ETag", tag)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	c.ResponseWriter.WriteHeader(http.StatusOK)
	c.ResponseWriter.Write(body)
}

// compressHere reports whether a held body of n bytes is compressed here,
// as gzhttp would but without compressing the same bytes again: an edge
// entry's from gzipMinSize up (kept with the entry, which edgeMaxEntry
// bounds), another answer's from gzMemoMin to gzMemoMax (in the memo).
func (c *cacheWriter) compressHere(n int) bool {
	if c.from != nil {
		return n >= gzipMinSize
	}
	return n >= gzMemoMin && n <= gzMemoMax
}

// etag is a strong entity tag for a body whose 64-bit xxHash is h. A validator only
// has to change when one URL's answer changes; the odds that a change keeps
// the tag are 2^-64, and no one gains by forging a collision on their own
// data. SHA-256 costs several times as much for no benefit a client could
// see.
func etag(h uint64) string {
	var tag [2 + 11]byte // quotes around 8 bytes in unpadded base64url
	var sum [8]byte
	binary.BigEndian.PutUint64(sum[:], h)
	tag[0], tag[len(tag)-1] = '"', '"'
	base64.RawURLEncoding.Encode(tag[1:len(tag)-1], sum[:])
	return string(tag[:])
}

// notModified evaluates If-None-Match (RFC 9110 §13.1.2) against tag, the
// identity representation's ETag, with the weak comparison the field calls
// for (W/ ignored). A listed tag matches in any of the codings gzhttp may
// have suffixed: each names a representation that is still current, and the
// 304's ETag then tells the client's cache which stored answer to reuse
// (RFC 9111 §4.3.4), so it is the client's own tag that is echoed.
func notModified(fields []string, tag string) (string, bool) {
	opaque := tag[1 : len(tag)-1]
	for _, t := range etagsNamed(fields) {
		if t == "*" {
			return tag, true
		}
		for _, s := range etagCodingSuffixes {
			if t == opaque+s {
				return `"` + t + `"`, true
			}
		}
	}
	return "", false
}

// etagsNamed lists the entity tags If-None-Match fields name, each
// without W/ and quotes, "*" as itself; a malformed field ends its list.
func etagsNamed(fields []string) []string {
	var out []string
	for _, f := range fields {
		for {
			f = strings.TrimLeft(f, " \t,")
			if f == "" {
				break
			}
			if f[0] == '*' {
				out = append(out, "*")
				break
			}
			t, rest, ok := scanETag(f)
			if !ok {
				break
			}
			f = rest
			t = strings.TrimPrefix(t, "W/")
			out = append(out, t[1:len(t)-1])
		}
	}
	return out
}

// scanETag reads one entity-tag, [W/] DQUOTE *etagc DQUOTE, off the front of s.
func scanETag(s string) (tag, rest string, ok bool) {
	n := 0
	if strings.HasPrefix(s, "W/") {
		n = 2
	}
	if len(s) < n+2 || s[n] != '"' {
		return "", "", false
	}
	for i := n + 1; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"':
			return s[:i+1], s[i+1:], true
		case c == 0x21 || c >= 0x23 && c != 0x7f:
		default:
			return "", "", false
		}
	}
	return "", "", false
}

// addVary adds names to Vary, once each, as one field line.
func addVary(h http.Header, names ...string) {
	var list []string
	for _, v := range h.Values("Vary") {
		for n := range strings.SplitSeq(v, ",") {
			if n = strings.TrimSpace(n); n != "" {
				list = append(list, n)
			}
		}
	}
	for _, n := range names {
		found := false
		for _, have := range list {
			if strings.EqualFold(have, n) || have == "*" {
				found = true
				break
			}
		}
		if !found {
			list = append(list, n)
		}
	}
	h.Set("Vary", strings.Join(list, ", "))
}

// fieldsToReadMask rewrites ?fields=a,b.c, the spelling most REST APIs use
// for a partial response, into read_mask, the google.protobuf.FieldMask that
// grpc-gateway already parses from comma-separated paths. Repeated fields=
// are joined, since read_mask takes one value. A query that does not parse
// is left for the mux to refuse.
func fieldsToReadMask(u *url.URL) (*url.URL, error) {
	if !strings.Contains(u.RawQuery, "fields") {
		return u, nil
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return u, nil //nolint:nilerr // the mux refuses a query that does not parse, with its own error
	}
	fields, ok := q["fields"]
	if !ok {
		return u, nil
	}
	if q.Has("read_mask") || q.Has("readMask") {
		st, _ := status.New(codes.InvalidArgument, `fields: give "fields" or "read_mask", not both`).WithDetails(&errdetails.BadRequest{
			FieldViolations: []*errdetails.BadRequest_FieldViolation{{
				Field:       "fields",
				Description: `"fields" is another name for "read_mask"; give only one of them`,
			}},
		})
		return nil, st.Err()
	}
	q.Del("fields")
	q.Set("read_mask", strings.Join(fields, ","))
	u2 := *u
	u2.RawQuery = q.Encode()
	return &u2, nil
}

// responseHeaders are the response metadata the services send for HTTP
// clients, under their HTTP names.
var responseHeaders = map[string]string{
	"x-ratelimit-limit":     "X-RateLimit-Limit",
	"x-ratelimit-remaining": "X-RateLimit-Remaining",
	"x-ratelimit-reset":     "X-RateLimit-Reset",
	"retry-after":           "Retry-After",
}

// outgoingHeaderMatcher names the HTTP header of a response metadata key.
// Anything but the rate-limit keys keeps grpc-gateway's Grpc-Metadata-
// prefix, so a service cannot set an arbitrary HTTP header by accident.
// net/http writes the names in canonical case (X-Ratelimit-Limit); header
// names are case-insensitive, and HTTP/2 lowercases them anyway.
func outgoingHeaderMatcher(key string) (string, bool) {
	if h, ok := responseHeaders[key]; ok {
		return h, true
	}
	switch key {
	case cache.StampHeader:
		return stampHeader, true // for the edge cache; never sent on
	case cache.UnsureHeader:
		return unsureHeader, true // likewise
	}
	return runtime.MetadataHeaderPrefix + key, true
}

// forwardHeaders does for a hand-written route what grpc-gateway does for
// its own: a service's response header metadata, through the same matcher.
func forwardHeaders(w http.ResponseWriter, md metadata.MD) {
	for k, vs := range md {
		if h, ok := outgoingHeaderMatcher(k); ok {
			for _, v := range vs {
				w.Header().Add(h, v)
			}
		}
	}
}

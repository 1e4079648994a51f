package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf16"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/vcci-dev/vcci/cmd/vcci/internal/stack"
	"github.com/vcci-dev/vcci/pkg/db"
	"github.com/vcci-dev/vcci/pkg/ratelimit"
	"github.com/vcci-dev/vcci/pkg/testsupport"
)

// badHeader is the spend file's header.
const badHeader = "transaction_id,date,supplier_id,supplier_name,naics_code,amount,currency,description\n"

// maxErrorsKept is intake.MaxErrorsKept: the rejected rows an upload keeps.
const maxErrorsKept = 100_000

// TestBadInputCorpus sends a corpus of hostile inputs through the REST
// gateway of one running stack: upload bodies (the intake fuzz corpus,
// handmade files, seeded mutations of a valid file), read parameters (the
// list fuzz corpora and handmade values) and JSON bodies on every write
// route of the OpenAPI document. No answer may be a 5xx, and nothing may be
// half-written: an accepted upload's rows, errors, claimed ids and
// emission results match its counts, and a refused one leaves no upload.
func TestBadInputCorpus(t *testing.T) {
	rs := testsupport.StartRedis(t)
	lots := ratelimit.Limit{Rate: 100_000, Period: time.Second, Burst: 100_000}
	p := startWith(t, stack.Options{RedisURL: rs.URL(), RateLimit: &ratelimit.Config{Read: lots, Write: lots, Heavy: lots}})
	h := &hostile{p: p, t: t, tenant: testsupport.Tenant(t, p.pool, "acme"),
		client: &http.Client{Timeout: 2 * time.Minute}}

	start := time.Now()
	up := h.uploadCorpus()
	reads := h.readCorpus()
	writes := h.writeCorpus(up.failed, up.succeeded)
	for _, c := range []*tally{up.tally, reads, writes} {
		t.Logf("%-7s inputs %4d  2xx %4d  4xx %4d  5xx %d  other %d  partial writes %d",
			c.name, c.tried, c.class[2], c.class[4], c.class[5], c.class[0]+c.class[1]+c.class[3], c.partial)
		if c.class[5] != 0 || c.partial != 0 {
			t.Errorf("%s: %d 5xx answers and %d partial writes, want none", c.name, c.class[5], c.partial)
		}
	}
	t.Logf("uploads: %d accepted (%d succeeded, %d failed), %d refused; in %s",
		up.tally.class[2], up.nSucceeded, up.nFailed, up.tally.class[4], time.Since(start).Round(time.Second))
}

// hostile sends the corpus and keeps the test's state.
type hostile struct {
	p      platform
	t      *testing.T
	tenant uuid.UUID
	client *http.Client
}

// tally counts one corpus's answers by status class (0: no answer).
type tally struct {
	name    string
	tried   int
	class   [6]int
	partial int
}

// answer is one response; status 0 is a transport error.
type answer struct {
	status int
	body   []byte
}

// rpcStatus is the error body every non-2xx answer carries.
type rpcStatus struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

// send does one request. A body that is not a *bytes.Reader goes chunked.
func (h *hostile) send(method, path string, body io.Reader, hdr ...string) answer {
	req, err := http.NewRequest(method, h.p.base+path, body)
	if err != nil {
		h.t.Errorf("%s %.200q: %v", method, path, err)
		return answer{}
	}
	req.Header.Set("x-api-key", h.p.key)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := h.client.Do(req)
	if err != nil {
		h.t.Errorf("%s %.200q: no answer: %v", method, path, err)
		return answer{}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		h.t.Errorf("%s %.200q: reading the answer: %v", method, path, err)
	}
	return answer{status: resp.StatusCode, body: b}
}

// count records a. A 5xx or no answer is an error naming the input, and
// so is a 4xx whose body does not say what was wrong, but a 431: net/http
// answers it before any handler sees the request, in plain text.
func (c *tally) count(t *testing.T, what string, a answer) {
	t.Helper()
	c.tried++
	c.class[min(a.status/100, 5)]++
	switch {
	case a.status >= 500 || a.status == 0:
		t.Errorf("%s: %s: HTTP %d %.300s", c.name, what, a.status, a.body)
	case a.status >= 400 && a.status != http.StatusRequestHeaderFieldsTooLarge && !named(a):
		t.Errorf("%s: %s: HTTP %d %.300q does not name the problem", c.name, what, a.status, a.body)
	}
}

// named reports whether a 4xx answer is a google.rpc.Status with a message.
func named(a answer) bool {
	var st rpcStatus
	return json.Unmarshal(a.body, &st) == nil && st.Code != 0 && st.Message != ""
}

// --- A. Upload bodies ---

// uploadCase is one body for POST /v1/uploads.
type uploadCase struct {
	name        string
	body        []byte
	contentType string   // default text/csv
	query       string   // default ?filename=<name>.csv
	hdr         []string // extra headers
	// want, when set, is the outcome the docs promise: "400", "FAILED",
	// or "SUCCEEDED a/r" (rows accepted and rejected).
	want string
	// settle waits for the upload before the next case is sent.
	settle bool
	// cut sends only the first half of body, under a Content-Length of
	// all of it, and then closes the connection's write side: a client
	// gone mid-upload.
	cut bool
}

// uploadResult is what the upload corpus did.
type uploadResult struct {
	tally               *tally
	failed, succeeded   string // an upload of each end state, for the write corpus
	nFailed, nSucceeded int
	names               []string
	wants               map[string]string
	labels              map[string]string
}

func (h *hostile) uploadCorpus() uploadResult {
	t := h.t
	res := uploadResult{tally: &tally{name: "uploads"}, wants: map[string]string{}, labels: map[string]string{}}
	cases := fuzzUploads(t)
	cases = append(cases, handmadeUploads()...)
	cases = append(cases, mutatedUploads(150)...)
	for _, c := range cases {
		name := h.sendUpload(res.tally, c)
		if name == "" {
			continue
		}
		if _, seen := res.labels[name]; !seen {
			res.names = append(res.names, name)
			res.labels[name] = c.name
		}
		if c.want != "" {
			res.wants[name] = c.want
		}
		if c.settle {
			h.p.wait(t, h.p.key, name)
		}
	}
	// Everything is sent; the jobs run meanwhile. Check each at its end.
	for _, name := range res.names {
		u := h.p.wait(t, h.p.key, name)
		switch u.State {
		case "UPLOAD_STATE_SUCCEEDED":
			res.nSucceeded++
			res.succeeded = name
		case "UPLOAD_STATE_FAILED":
			res.nFailed++
			res.failed = name
		}
		if bad := h.checkStored(name, u); bad != "" {
			res.tally.partial++
			t.Errorf("uploads: %s (%s): %s", res.labels[name], name, bad)
		}
		if w := res.wants[name]; w != "" && w != "400" && outcome(u) != w {
			t.Errorf("uploads: %s (%s): %s, want %s (%+v)", res.labels[name], name, outcome(u), w, u)
		}
	}
	if res.nFailed == 0 || res.nSucceeded == 0 || res.tally.class[4] == 0 {
		t.Errorf("uploads: %d succeeded, %d failed, %d refused: the corpus should reach every end", res.nSucceeded, res.nFailed, res.tally.class[4])
	}
	return res
}

// outcome is u's end as uploadCase.want spells it.
func outcome(u upload) string {
	if u.State == "UPLOAD_STATE_FAILED" {
		return "FAILED"
	}
	return fmt.Sprintf("SUCCEEDED %s/%s", orZero(u.RowsAccepted), orZero(u.RowsRejected))
}

// orZero is a JSON int64 that protojson left out.
func orZero(s string) string {
	if s == "" {
		return "0"
	}
	return s
}

// sendUpload posts c and returns the upload's name when it was accepted. A
// refusal must be a 4xx naming the problem that left no upload behind.
func (h *hostile) sendUpload(c *tally, u uploadCase) string {
	t := h.t
	ct := u.contentType
	if ct == "" {
		ct = "text/csv"
	}
	q := u.query
	if q == "" {
		q = "?filename=" + url.QueryEscape(u.name) + ".csv"
	}
	before := h.uploadCount()
	hdr := append([]string{"Content-Type", ct}, u.hdr...)
	var a answer
	if u.cut {
		a = h.sendCut("/v1/uploads"+q, u.body, hdr...)
	} else {
		a = h.send(http.MethodPost, "/v1/uploads"+q, bytes.NewReader(u.body), hdr...)
	}
	c.count(t, u.name, a)
	switch {
	case a.status == http.StatusAccepted:
		var up struct {
			Name string `json:"name"`
		}
		if err := json.Unmarshal(a.body, &up); err != nil || !strings.HasPrefix(up.Name, "uploads/") {
			t.Errorf("uploads: %s: 202 %.300s: no upload (%v)", u.name, a.body, err)
			return ""
		}
		if u.want == "400" {
			t.Errorf("uploads: %s: 202 %s, want 400", u.name, up.Name)
		}
		if u.cut {
			c.partial++
			t.Errorf("uploads: %s: 202 %s for half a body", u.name, up.Name)
		}
		return up.Name
	case a.status >= 400 && a.status < 500:
		if u.want != "" && u.want != strconv.Itoa(a.status) {
			t.Errorf("uploads: %s: HTTP %d %.300s, want %s", u.name, a.status, a.body, u.want)
		}
		sum := sha256.Sum256(u.body)
		if u.cut {
			sum = sha256.Sum256(u.body[:len(u.body)/2])
		}
		if after, same := h.uploadCount(), h.uploadsOf(sum[:]); after != before || same != 0 {
			c.partial++
			t.Errorf("uploads: %s: refused with %d, yet uploads went %d -> %d (%d with its content)", u.name, a.status, before, after, same)
		}
	case a.status != 0 && a.status < 500:
		t.Errorf("uploads: %s: HTTP %d %.300s, want 202 or a 4xx", u.name, a.status, a.body)
	}
	return ""
}

// sendCut sends the first half of body as an upload to path that says it
// is all of body, then closes its side of the connection and reads the
// answer.
func (h *hostile) sendCut(path string, body []byte, hdr ...string) answer {
	conn, err := net.Dial("tcp", strings.TrimPrefix(h.p.base, "http://"))
	if err != nil {
		h.t.Fatal(err)
	}
	defer conn.Close()
	var req bytes.Buffer
	fmt.Fprintf(&req, "POST %s HTTP/1.1\r\nHost: vcci\r\nx-api-key: %s\r\nContent-Length: %d\r\n", path, h.p.key, len(body))
	for i := 0; i+1 < len(hdr); i += 2 {
		fmt.Fprintf(&req, "%s: %s\r\n", hdr[i], hdr[i+1])
	}
	req.WriteString("\r\n")
	req.Write(body[:len(body)/2])
	if _, err := conn.Write(req.Bytes()); err != nil {
		h.t.Fatal(err)
	}
	if err := conn.(*net.TCPConn).CloseWrite(); err != nil {
		h.t.Fatal(err)
	}
	if err := conn.SetReadDeadline(time.Now().Add(time.Minute)); err != nil {
		h.t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		h.t.Errorf("POST %s cut short: no answer: %v", path, err)
		return answer{}
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return answer{status: resp.StatusCode, body: b}
}

// inTenant runs f in the test tenant's scope, as the services do.
func (h *hostile) inTenant(f func(pgx.Tx) error) {
	h.t.Helper()
	if err := db.InTenant(context.Background(), h.p.pool, h.tenant, f); err != nil {
		h.t.Fatal(err)
	}
}

func (h *hostile) uploadCount() int {
	var n int
	h.inTenant(func(tx pgx.Tx) error {
		return tx.QueryRow(context.Background(), `SELECT count(*) FROM intake.uploads`).Scan(&n)
	})
	return n
}

func (h *hostile) uploadsOf(sum []byte) int {
	var n int
	h.inTenant(func(tx pgx.Tx) error {
		return tx.QueryRow(context.Background(), `SELECT count(*) FROM intake.uploads WHERE sha256 = $1`, sum).Scan(&n)
	})
	return n
}

// checkStored compares what the database holds of an ended upload with its
// counts, and returns what does not add up ("" when all does).
func (h *hostile) checkStored(name string, u upload) string {
	id, err := strconv.ParseInt(strings.TrimPrefix(name, "uploads/"), 10, 64)
	if err != nil {
		return "not an upload name"
	}
	var state int16
	var reason string
	var read, accepted, rejected, calculated, rows, errs, headerErrs, ids, results int64
	h.inTenant(func(tx pgx.Tx) error {
		return tx.QueryRow(context.Background(), `
SELECT u.state, u.failure_reason, u.rows_read, u.rows_accepted, u.rows_rejected, u.rows_calculated,
       (SELECT count(*) FROM intake.transactions t WHERE t.upload_id = u.id),
       (SELECT count(*) FILTER (WHERE e.row_number > 1) FROM intake.upload_errors e WHERE e.upload_id = u.id),
       (SELECT count(*) FILTER (WHERE e.row_number <= 1) FROM intake.upload_errors e WHERE e.upload_id = u.id),
       (SELECT count(*) FROM intake.transaction_ids i WHERE i.upload_id = u.id),
       (SELECT count(*) FROM calculator.emission_results r WHERE r.upload_id = u.id)
FROM intake.uploads u WHERE u.id = $1`, id).Scan(&state, &reason, &read, &accepted, &rejected, &calculated, &rows, &errs, &headerErrs, &ids, &results)
	})
	got := fmt.Sprintf("state %d, read %d, accepted %d, rejected %d, calculated %d; stored %d rows, %d row errors, %d header errors, %d ids, %d results",
		state, read, accepted, rejected, calculated, rows, errs, headerErrs, ids, results)
	var bad []string
	switch u.State {
	case "UPLOAD_STATE_SUCCEEDED":
		if state != 4 {
			bad = append(bad, "the API says SUCCEEDED")
		}
		if rows != accepted || ids != accepted || calculated != accepted || results != accepted {
			bad = append(bad, "rows, ids, calculated and results must equal accepted")
		}
	case "UPLOAD_STATE_FAILED":
		if state != 5 {
			bad = append(bad, "the API says FAILED")
		}
		if rows != 0 || ids != 0 || results != 0 {
			bad = append(bad, "a failed upload stores no rows, ids or results")
		}
	default:
		bad = append(bad, "ended "+u.State)
	}
	if read != accepted+rejected {
		bad = append(bad, "read must be accepted + rejected")
	}
	if errs != min(rejected, maxErrorsKept) {
		bad = append(bad, "row errors stored must be the rejected rows")
	}
	// A header that does not name the columns fails the upload, its
	// errors (on line 1) saying why; no other upload has any.
	if byHeader := strings.HasPrefix(reason, "the header does not name"); byHeader != (headerErrs > 0) || byHeader && (u.State != "UPLOAD_STATE_FAILED" || read != 0) {
		bad = append(bad, fmt.Sprintf("header errors belong to an upload failed by its header (failure %q)", reason))
	}
	if orZero(u.RowsAccepted) != strconv.FormatInt(accepted, 10) || orZero(u.RowsRejected) != strconv.FormatInt(rejected, 10) {
		bad = append(bad, fmt.Sprintf("the API says %s accepted, %s rejected", orZero(u.RowsAccepted), orZero(u.RowsRejected)))
	}
	if bad == nil {
		return ""
	}
	return got + ": " + strings.Join(bad, "; ")
}

// fuzzUploads is intake's FuzzValidate corpus, seeds and crashers alike.
func fuzzUploads(t *testing.T) []uploadCase {
	t.Helper()
	files := fuzzFiles(t, "../../services/intake/internal/intake/testdata/fuzz/FuzzValidate")
	out := make([]uploadCase, 0, len(files))
	for _, f := range files {
		out = append(out, uploadCase{name: "fuzz/" + f.name, body: []byte(f.values[0])})
	}
	if len(out) < 5 {
		t.Fatalf("FuzzValidate corpus: %d files", len(out))
	}
	return out
}

// fuzzFile is one file of a Go fuzz corpus: its values, strings as they
// are and numbers as decimal text.
type fuzzFile struct {
	name   string
	values []string
}

// fuzzFiles reads every file of a "go test fuzz v1" corpus directory.
func fuzzFiles(t *testing.T, dir string) []fuzzFile {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]fuzzFile, 0, len(entries))
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSpace(string(b)), "\n")
		if lines[0] != "go test fuzz v1" {
			t.Fatalf("%s/%s: not a fuzz corpus file", dir, e.Name())
		}
		f := fuzzFile{name: filepath.Base(dir) + "/" + e.Name()}
		for _, l := range lines[1:] {
			typ, v, ok := strings.Cut(l, "(")
			if !ok || !strings.HasSuffix(v, ")") {
				t.Fatalf("%s: line %q", f.name, l)
			}
			v = strings.TrimSuffix(v, ")")
			switch typ {
			case "[]byte", "string", "byte", "rune":
				s, err := strconv.Unquote(v)
				if err != nil {
					t.Fatalf("%s: %s: %v", f.name, l, err)
				}
				v = s
			}
			f.values = append(f.values, v)
		}
		out = append(out, f)
	}
	return out
}

// corpusRows writes n valid rows whose transaction ids start with prefix.
func corpusRows(prefix string, n int) string {
	codes := []string{"331110", "484110", "541511", "722511"}
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "%s-%05d,2024-%02d-%02d,S%03d,Supplier %d,%s,%d.%02d,USD,line %d\n",
			prefix, i, i%12+1, i%28+1, i%17, i%17, codes[i%len(codes)], 10+i%900, i%100, i)
	}
	return b.String()
}

// corpusFile is the header and n valid rows.
func corpusFile(prefix string, n int) string { return badHeader + corpusRows(prefix, n) }

// replaceLine replaces line n (1-based; the header is 1) of file with l.
func replaceLine(file string, n int, l string) string {
	lines := strings.SplitAfter(file, "\n")
	lines[n-1] = l
	return strings.Join(lines, "")
}

// corpusRow is one row of prefix with the given cells (the others valid).
func corpusRow(prefix string, cells map[string]string) string {
	v := []string{prefix, "2024-05-01", "S1", "Acme", "331110", "100.00", "USD", "x"}
	for i, col := range strings.Split(strings.TrimSpace(badHeader), ",") {
		if c, ok := cells[col]; ok {
			v[i] = c
		}
	}
	return strings.Join(v, ",") + "\n"
}

func handmadeUploads() []uploadCase {
	utf16le := func(s string) []byte {
		units := utf16.Encode([]rune(s))
		out := make([]byte, 0, 2+2*len(units))
		out = append(out, 0xff, 0xfe) // the byte order mark
		for _, u := range units {
			out = append(out, byte(u), byte(u>>8))
		}
		return out
	}
	big := corpusFile("H-BIG", 3200)
	lines := strings.SplitAfter(big, "\n")
	nulAt3000 := replaceLine(big, 3000, strings.Replace(lines[2999], "Supplier", "Sup\x00plier", 1))
	copyPath := corpusFile("H-COPY", 17000)
	copyLines := strings.SplitAfter(copyPath, "\n")
	copyPath = replaceLine(copyPath, 15000, strings.Replace(copyLines[14999], "Supplier", "Sup\x00plier", 1))
	copyPath = replaceLine(copyPath, 16000, strings.Replace(copyLines[15999], "Supplier", "Sup\xffplier", 1))
	copyPath = replaceLine(copyPath, 16500, corpusRow("H-COPY-LONG", map[string]string{"description": strings.Repeat("l", 70<<10)}))
	var latin1 strings.Builder
	latin1.WriteString(badHeader)
	for i := range 50 {
		fmt.Fprintf(&latin1, "H-L1-%d,2024-01-01,S9,M\xfcller Stahl Gr\xf6\xdfe \xc4\xd6\xdc,331110,1.00,USD,caf\xe9 cr\xe8me\n", i)
	}
	multipart := func(body string) []byte {
		return []byte("--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.csv\"\r\nContent-Type: text/csv\r\n\r\n" + body)
	}
	const mp = "multipart/form-data; boundary=XyZ"
	return []uploadCase{
		{name: "empty", body: nil, want: "400"},
		{name: "header only", body: []byte(badHeader), want: "SUCCEEDED 0/0"},
		{name: "header without newline", body: []byte(strings.TrimSpace(badHeader))},
		{name: "only a BOM", body: []byte("\ufeff")},
		{name: "BOM", body: []byte("\ufeff" + corpusFile("H-BOM", 3)), want: "SUCCEEDED 3/0"},
		{name: "PNG", body: append([]byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"), bytes.Repeat([]byte{0, 1, 2, 0xff}, 64)...), want: "400"},
		{name: "gzip", body: []byte("\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03\xcb\x48\xcd\xc9\xc9\x07\x00\x86\xa6\x10\x36\x05\x00\x00\x00"), want: "400"},
		{name: "UTF-16LE", body: utf16le(corpusFile("H-U16", 5)), want: "400"},
		{name: "Latin-1", body: []byte(latin1.String()), want: "400"},
		{name: "one Latin-1 byte", body: []byte(corpusFile("H-L1B", 5) + corpusRow("H-L1B-X", map[string]string{"supplier_name": "M\xfcller"})), want: "SUCCEEDED 5/1"},
		{name: "NUL in the header", body: []byte("transaction_id,da\x00te,supplier_id,supplier_name,naics_code,amount,currency,description\n" + corpusRows("H-NULH", 2)), want: "400"},
		{name: "NUL on row 2", body: []byte(badHeader + corpusRow("H-NUL2", map[string]string{"description": "a\x00b"}) + corpusRows("H-NUL2", 3)), want: "SUCCEEDED 3/1"},
		{name: "NUL on row 3000 of 224 KB", body: []byte(nulAt3000), want: "SUCCEEDED 3199/1"},
		{name: "bad bytes deep in a 1.3 MB file", body: []byte(copyPath), want: "SUCCEEDED 16997/3"},
		{name: "invalid UTF-8", body: []byte(corpusFile("H-UTF", 3) + corpusRow("H-UTF-X", map[string]string{"description": "\xc3\x28 \xed\xa0\x80"})), want: "SUCCEEDED 3/1"},
		{name: "bare quote", body: []byte(corpusFile("H-BQ", 2) + corpusRow("H-BQ-X", map[string]string{"supplier_name": `Ac"me`}))},
		{name: "unterminated quote at EOF", body: []byte(corpusFile("H-UQ", 2) + `H-UQ-X,2024-01-01,S1,"Acme`)},
		{name: "CR line ends", body: []byte(strings.ReplaceAll(corpusFile("H-CR", 3), "\n", "\r"))},
		{name: "CRLF line ends", body: []byte(strings.ReplaceAll(corpusFile("H-CRLF", 3), "\n", "\r\n")), want: "SUCCEEDED 3/0"},
		{name: "mixed field counts", body: []byte(corpusFile("H-MIX", 2) + "H-MIX-A,2024-01-01,S1\nH-MIX-B,2024-01-01,S1,Acme,331110,1.00,USD,x,DE,extra,more\n"), want: "SUCCEEDED 2/2"},
		{name: "duplicated column", body: []byte("transaction_id,date,date,supplier_id,supplier_name,naics_code,amount,currency,description\nH-DC-1,2024-01-01,2024-01-02,S1,Acme,331110,1.00,USD,x\n")},
		{name: "unknown column", body: []byte("transaction_id,date,supplier_id,supplier_name,naics_code,amount,currency,description,colour\nH-UC-1,2024-01-01,S1,Acme,331110,1.00,USD,x,red\n")},
		{name: "missing column", body: []byte("transaction_id,date,supplier_id,naics_code,amount,currency,description\nH-MC-1,2024-01-01,S1,331110,1.00,USD,x\n"), want: "FAILED"},
		{name: "tab-separated", body: []byte(strings.ReplaceAll(corpusFile("H-TAB", 3), ",", "\t"))},
		{name: "semicolon-separated", body: []byte(strings.ReplaceAll(corpusFile("H-SEMI", 3), ",", ";"))},
		{name: "a 70 KiB line", body: []byte(corpusFile("H-70K", 2) + corpusRow("H-70K-X", map[string]string{"description": strings.Repeat("x", 70<<10)}) + corpusRows("H-70K-Y", 2)), want: "SUCCEEDED 4/1"},
		{name: "a quoted record over 1 MiB", body: []byte(corpusFile("H-1M", 2) + `H-1M-X,2024-01-01,S1,Acme,331110,1.00,USD,"` + strings.Repeat("line\n", 230_000) + "\"\n" + corpusRows("H-1M-Y", 2))},
		{name: "amounts", body: []byte(badHeader + corpusRow("H-AM-1", map[string]string{"amount": "1e3"}) + corpusRow("H-AM-2", map[string]string{"amount": "123456789012345"}) +
			corpusRow("H-AM-3", map[string]string{"amount": `"1,000.00"`}) + corpusRow("H-AM-4", map[string]string{"amount": "12345678901234.1234"}) +
			corpusRow("H-AM-5", map[string]string{"amount": "-0.00"}) + corpusRow("H-AM-6", map[string]string{"amount": "NaN"}) + corpusRow("H-AM-7", map[string]string{"amount": "0x10"}) +
			corpusRow("H-AM-8", map[string]string{"amount": "1.23456"}) + corpusRow("H-AM-9", map[string]string{"amount": "+5"}) + corpusRow("H-AM-10", map[string]string{"amount": "-99999999999999.9999"})), want: "SUCCEEDED 3/7"},
		{name: "dates", body: []byte(badHeader + corpusRow("H-DT-1", map[string]string{"date": "1899-12-31"}) + corpusRow("H-DT-2", map[string]string{"date": "9999-12-31"}) +
			corpusRow("H-DT-3", map[string]string{"date": "2024-13-01"}) + corpusRow("H-DT-4", map[string]string{"date": "2024-02-30"}) + corpusRow("H-DT-5", map[string]string{"date": "2024/01/01"}) +
			corpusRow("H-DT-6", map[string]string{"date": "01-02-2024"}) + corpusRow("H-DT-7", map[string]string{"date": ""}) + corpusRow("H-DT-8", map[string]string{"date": "2024-1-1"}) +
			corpusRow("H-DT-9", map[string]string{"date": "0000-00-00"}) + corpusRow("H-DT-10", map[string]string{"date": "2024-02-29"}) + corpusRow("H-DT-11", map[string]string{"date": "-2024-01-01"}))},
		{name: "lowercase currency", body: []byte(badHeader + corpusRow("H-CUR-1", map[string]string{"currency": "usd"}) + corpusRow("H-CUR-2", map[string]string{"currency": "EUR"}) + corpusRow("H-CUR-3", map[string]string{"currency": ""}))},
		{name: "formula injection", body: []byte(badHeader + corpusRow("=cmd|' /C calc'!A0", nil) + corpusRow("H-FI-2", map[string]string{"supplier_name": "=HYPERLINK(\"http://x\")", "supplier_id": "@SUM(1+1)"}) +
			corpusRow("H-FI-3", map[string]string{"description": "+cmd|'/C notepad'!A1"}) + corpusRow("H-FI-4", map[string]string{"supplier_name": "-2+3"}))},
		{name: "emoji and RTL marks", body: []byte(badHeader + corpusRow("H-EM-🏭", map[string]string{"supplier_name": "Fab\u202erik \u200f🏭 ب", "description": "👩\u200d🔧 \u2066x\u2069"}) +
			corpusRow("H-EM-2", map[string]string{"supplier_id": "S\u200b1", "supplier_name": "\ufeffAcme"}))},
		{name: "repeated header mid-file", body: []byte(corpusFile("H-RH", 2) + badHeader + corpusRows("H-RH-B", 2)), want: "SUCCEEDED 4/1"},
		{name: "only newlines", body: []byte(strings.Repeat("\n", 1000))},
		{name: "only spaces", body: []byte(strings.Repeat(" ", 1000))},
		{name: "duplicate ids in one file", body: []byte(corpusFile("H-DUP", 3) + corpusRows("H-DUP", 2)), want: "SUCCEEDED 3/2"},
		{name: "ids of another upload, first", body: []byte(corpusFile("H-X", 4)), want: "SUCCEEDED 4/0", settle: true},
		{name: "ids of another upload, again", body: []byte(badHeader + strings.ReplaceAll(corpusRows("H-X", 4), "2024-", "2023-")), want: "SUCCEEDED 0/4"},
		{name: "naics codes", body: []byte(badHeader + corpusRow("H-NA-1", map[string]string{"naics_code": "999999"}) + corpusRow("H-NA-2", map[string]string{"naics_code": "33111O"}) +
			corpusRow("H-NA-3", map[string]string{"naics_code": "3311100"}) + corpusRow("H-NA-4", map[string]string{"naics_code": "-33111"}))},
		{name: "countries", body: []byte("transaction_id,date,supplier_id,supplier_name,naics_code,amount,currency,description,supplier_country\n" +
			"H-CO-1,2024-01-01,SC1,A,331110,1.00,USD,x,Germany\nH-CO-2,2024-01-01,SC2,A,331110,1.00,USD,x,d3\nH-CO-3,2024-01-01,SC3,A,331110,1.00,USD,x,\x00\x00\n")},
		{name: "long cells", body: []byte(badHeader + corpusRow(strings.Repeat("I", 200), nil) + corpusRow("H-LC-2", map[string]string{"supplier_name": strings.Repeat("N", 600)}) +
			corpusRow("H-LC-3", map[string]string{"supplier_id": strings.Repeat("S", 300)}) + corpusRow("H-LC-4", map[string]string{"description": strings.Repeat("D", 3000)}))},
		{name: "10,000 columns", body: []byte(badHeader + "H-WIDE" + strings.Repeat(",x", 10_000) + "\n")},
		{name: "a 300 KB header", body: []byte(strings.TrimSuffix(badHeader, "\n") + strings.Repeat(",extra", 50_000) + "\n" + corpusRows("H-WH", 1))},
		{name: "NUL-filled", body: make([]byte, 4096), want: "400"},
		{name: "a filename with NUL and bad bytes", body: []byte(corpusFile("H-FN", 1)), query: "?filename=a%00b%FF%FE" + strings.Repeat("n", 10_000)},
		{name: "a long Idempotency-Key", body: []byte(corpusFile("H-IK", 1)), hdr: []string{"Idempotency-Key", strings.Repeat("k", 300)}},
		{name: "an Idempotency-Key not UTF-8", body: []byte(corpusFile("H-IK2", 1)), hdr: []string{"Idempotency-Key", "k\xff\xfe"}, want: "400"},
		{name: "multipart", body: append(multipart(corpusFile("H-MP", 2)), "\r\n--XyZ--\r\n"...), contentType: mp, want: "SUCCEEDED 2/0"},
		{name: "multipart without its closing boundary", body: multipart(corpusFile("H-MPC", 40)), contentType: mp, want: "400"},
		{name: "a body cut short of its length", body: []byte(corpusFile("H-CUT", 40)), cut: true},
		{name: "a 1.3 MB body cut short of its length", body: []byte(corpusFile("H-CUTL", 17000)), cut: true},
		{name: "multipart without a file part", body: []byte("--XyZ\r\nContent-Disposition: form-data; name=\"other\"\r\n\r\nx\r\n--XyZ--\r\n"), contentType: mp, want: "400"},
		{name: "multipart without a boundary", body: []byte(corpusFile("H-MPB", 1)), contentType: "multipart/form-data", want: "400"},
		{name: "multipart with a broken boundary", body: []byte("--Other\r\n" + corpusFile("H-MPX", 1)), contentType: mp, want: "400"},
		{name: "a zip that is no workbook", body: []byte("PK\x03\x04" + strings.Repeat("\x00junk", 500)), contentType: xlsxType, query: "?filename=x.xlsx", want: "FAILED"},
		{name: "a workbook sent as CSV", body: []byte("PK\x03\x04" + strings.Repeat("\x00junk", 50)), want: "400"},
		{name: "JSON Lines of hostile lines", contentType: "application/x-ndjson", query: "?filename=x.jsonl", want: "SUCCEEDED 1/6",
			body: []byte(`{"transaction_id":"H-JL-1","date":"2024-05-01","supplier_id":"S1","supplier_name":"Acme","naics_code":331110,"amount":100.00,"currency":"USD","description":"x"}` + "\n" +
				"[1]\n\"x\"\n{\"transaction_id\":{\"a\":1}}\n{\"transaction_id\":\"H-JL-5\",\"new\":1}\n{\"transaction_id\":\"H-JL-6\"} {}\n{\"transaction_id\":\"a\\u0000b\",\"amount\":1e400}\n")},
	}
}

// mutatedUploads are n seeded mutations of a valid 50-row file, each with
// its own transaction ids.
func mutatedUploads(n int) []uploadCase {
	rng := rand.New(rand.NewPCG(17, 2024))
	inserts := []string{`"`, `\`, "\n", "\x00", "\xff", ",", "\r", `""`, "\xc3"}
	out := make([]uploadCase, 0, n)
	for i := range n {
		b := []byte(corpusFile(fmt.Sprintf("MUT%03d", i), 50))
		var ops []string
		for range 1 + rng.IntN(4) {
			at := rng.IntN(len(b) + 1)
			switch op := rng.IntN(5); op {
			case 0: // flip a byte
				if at < len(b) {
					b[at] = byte(rng.IntN(256))
					ops = append(ops, fmt.Sprintf("flip@%d", at))
				}
			case 1, 2: // insert a byte that means something to CSV or UTF-8
				s := inserts[rng.IntN(len(inserts))]
				b = slices.Insert(b, at, []byte(s)...)
				ops = append(ops, fmt.Sprintf("insert%q@%d", s, at))
			case 3: // cut the file short
				b = b[:at]
				ops = append(ops, fmt.Sprintf("truncate@%d", at))
			case 4: // delete a run
				end := min(len(b), at+rng.IntN(40))
				b = slices.Delete(b, at, end)
				ops = append(ops, fmt.Sprintf("delete@%d-%d", at, end))
			}
		}
		out = append(out, uploadCase{name: fmt.Sprintf("mutation %d %s", i, strings.Join(ops, ",")), body: b})
	}
	return out
}

// --- B. Read parameters ---

func (h *hostile) readCorpus() *tally {
	t := h.t
	c := &tally{name: "reads"}
	get := func(what, path string) answer {
		a := h.send(http.MethodGet, path, nil)
		c.count(t, what, a)
		if a.status != 0 && (a.status < 200 || a.status >= 300 && a.status < 400) {
			t.Errorf("reads: %s: HTTP %d, want 2xx or 4xx", what, a.status)
		}
		return a
	}
	values := hostileValues()

	// Every parameter of both lists, with every value.
	lists := map[string][]string{
		"/v1/suppliers": {"query", "naics_code", "country", "order_by", "page_size", "page_token", "page", "per_page", "fields", "read_mask",
			"pageSize", "orderBy"},
		"/v1/transactions": {"supplier", "start_date", "end_date", "naics_code", "category", "order_by", "page_size", "page_token", "page",
			"per_page", "fields", "read_mask", "startDate", "readMask"},
	}
	for path, params := range lists {
		for _, param := range params {
			for _, v := range values {
				get(fmt.Sprintf("%s %s=%.60q", path, param, v), path+"?"+param+"="+url.QueryEscape(v))
			}
		}
		// A value the gateway cannot decode, and repeated parameters.
		for _, q := range []string{"page_size=%zz", "fields=%", "page_size=1&page_size=2", "page=2&page_token=x", "order_by=date&order_by=date%20desc",
			"fields=name&read_mask=kgCo2e", "page=0&per_page=0", "page=-1", "per_page=1001", "page=2001&per_page=50", "page=100000&per_page=1000"} {
			get(path+"?"+q, path+"?"+q)
		}
	}

	// A request line over HTTP_MAX_HEADER_BYTES.
	if a := get("a 100 KiB query", "/v1/suppliers?query="+strings.Repeat("q", 100<<10)); a.status != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("reads: a 100 KiB query: HTTP %d %.300s, want 431", a.status, a.body)
	}

	// The list fuzz corpus, as a request to each list.
	for _, f := range fuzzFiles(t, "../../services/intake/internal/directory/store/testdata/fuzz/FuzzListSQL") {
		v := f.values
		page := url.Values{}
		if v[13] == "true" {
			page.Set("page_size", v[6])
			page.Set("page_token", v[8]+v[9])
		} else {
			offset, _ := strconv.Atoi(v[7])
			page.Set("per_page", v[6])
			page.Set("page", strconv.Itoa(offset/max(1, fuzzInt(v[6]))+1))
		}
		sq := url.Values{"query": {v[0]}, "naics_code": {v[1]}, "country": {v[2]}, "order_by": {v[4]}}
		tq := url.Values{"supplier": {v[3]}, "naics_code": {v[1]}, "order_by": {v[4]}, "category": {v[12]},
			"start_date": {fuzzDay(v[10])}, "end_date": {fuzzDay(v[11])}}
		for k, vs := range page {
			sq[k], tq[k] = vs, vs
		}
		get(f.name+" suppliers", "/v1/suppliers?"+sq.Encode())
		get(f.name+" transactions", "/v1/transactions?"+tq.Encode())
	}

	// Real page tokens, altered: a flipped character, cut short, lengthened,
	// and used with other filters or another order.
	for _, path := range []string{"/v1/suppliers?page_size=1", "/v1/transactions?page_size=1"} {
		var page struct {
			NextPageToken string `json:"nextPageToken"`
		}
		if a := get(path, path); json.Unmarshal(a.body, &page) != nil || page.NextPageToken == "" {
			t.Fatalf("reads: %s: HTTP %d %.300s: no page token", path, a.status, a.body)
		}
		tok := page.NextPageToken
		if a := get(path+" next page", path+"&page_token="+url.QueryEscape(tok)); a.status != http.StatusOK {
			t.Errorf("reads: %s with its own token: HTTP %d %.300s", path, a.status, a.body)
		}
		altered := []string{tok[:len(tok)/2], tok + "A", tok + tok, strings.ToUpper(tok), tok + "%00"}
		for i := 0; i < len(tok); i += max(1, len(tok)/12) {
			flip := []byte(tok)
			flip[i] ^= 0x01
			altered = append(altered, string(flip))
		}
		for _, a := range altered {
			if got := get(path+" altered token", path+"&page_token="+url.QueryEscape(a)); got.status != http.StatusBadRequest {
				t.Errorf("reads: %s with an altered token %q: HTTP %d %.300s, want 400", path, a, got.status, got.body)
			}
		}
		for _, other := range []string{"&order_by=kg_co2e", "&order_by=amount_usd", "&naics_code=331110", "&supplier=S1", "&query=acme", "&page=2"} {
			get(path+other+" with the token", path+other+"&page_token="+url.QueryEscape(tok))
		}
	}

	// The fuzz corpora of page tokens and field masks, on every list.
	var tokens []string
	for _, dir := range []string{"../../pkg/pagetoken/testdata/fuzz/FuzzDecode", "../../pkg/pagetoken/testdata/fuzz/FuzzRoundTrip"} {
		for _, f := range fuzzFiles(t, dir) {
			tokens = append(tokens, f.values...)
		}
	}
	maskFiles := fuzzFiles(t, "../../pkg/fieldmask/testdata/fuzz/FuzzParse")
	masks := make([]string, 0, len(maskFiles))
	for _, f := range maskFiles {
		masks = append(masks, f.values[0])
	}
	for _, path := range []string{"/v1/suppliers", "/v1/transactions", "/v1/uploads", "/v1/campaigns", "/v1/apiKeys", "/v1/auditEvents", "/v1/uploads/1/errors"} {
		for _, tok := range tokens {
			get(fmt.Sprintf("%s page_token=%.60q", path, tok), path+"?page_token="+url.QueryEscape(tok))
		}
	}
	for _, path := range []string{"/v1/suppliers", "/v1/transactions", "/v1/suppliers/S001", "/v1/transactions/MUT000-00001"} {
		for _, m := range masks {
			get(fmt.Sprintf("%s fields=%q", path, m), path+"?fields="+url.QueryEscape(m))
		}
	}

	// Hostile names in paths and batch gets.
	for _, v := range values {
		if v == "" {
			continue
		}
		for _, path := range []string{"/v1/suppliers/", "/v1/transactions/", "/v1/uploads/", "/v1/emissionResults/", "/v1/campaigns/", "/v1/suppliers:batchGet?names=suppliers/",
			"/v1/emissionResults:batchGet?names=emissionResults/", "/v1/factors:batchGet?names=factorSets/epa-supply-chain-v1.3.0/factors/"} {
			esc := url.PathEscape(v)
			if strings.Contains(path, "?") {
				esc = url.QueryEscape(v)
			}
			get(fmt.Sprintf("%s%.60q", path, v), path+esc)
		}
	}
	return c
}

// hostileValues are query values: SQL, NUL, sizes, unicode, numbers.
func hostileValues() []string {
	return []string{
		"", " ", "'", `"`, `\`, "%", "_", "' OR 1=1 --", "'; DROP TABLE intake.transactions; --", "1); SELECT pg_sleep(5); --",
		"100%_' OR 1=1 --", "T'; DROP TABLE x", "$1", "E'\\x00'", "kg_co2e; DELETE FROM intake.uploads", "date desc, (SELECT 1)",
		"\x00", "a\x00b", "S1\x00", strings.Repeat("A", 10<<10), strings.Repeat("é", 5<<10), strings.Repeat("name,", 2000),
		"Müller", "🏭", "\u202eevil", "\ufeff", "ｓｅｌｅｃｔ", "\xff\xfe", "\xc3\x28", "\r\n", "\t", "..", "../../etc/passwd", "suppliers/",
		"-1", "0", "-2147483649", "2147483647", "2147483648", "99999999999999999999", "1e10", "0x10", "NaN", "1.5", "+1",
		"2024-02-30", "0000-01-01", "9999-12-31", "2024-01-01T00:00:00Z", "SCOPE_CATEGORY_UPSTREAM_TRANSPORTATION", "scope_category_x", "99",
		"kg_co2e desc", "date desc ", "DATE DESC", "amount_usd  desc", "relevance", "name,,name", "supplier.", ".name", "emission_result.*", "*",
	}
}

func fuzzInt(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}

// fuzzDay is the FuzzListSQL corpus's day offset from 2024-01-01 as a date
// ("" for 0, as there).
func fuzzDay(offset string) string {
	n := fuzzInt(offset)
	if n == 0 {
		return ""
	}
	return time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, n).Format(time.DateOnly)
}

// --- C. JSON bodies ---

func (h *hostile) writeCorpus(failed, succeeded string) *tally {
	t := h.t
	c := &tally{name: "writes"}
	post := func(what, method, path string, body io.Reader) answer {
		a := h.send(method, path, body, "Content-Type", "application/json")
		c.count(t, what, a)
		if a.status != 0 && (a.status < 200 || a.status >= 300 && a.status < 400) {
			t.Errorf("writes: %s: HTTP %d, want 2xx or 4xx", what, a.status)
		}
		return a
	}

	// Every write route the gateway documents, but the upload (corpus A).
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if a := h.send(http.MethodGet, "/openapi.json", nil); a.status != http.StatusOK || json.Unmarshal(a.body, &doc) != nil {
		t.Fatalf("writes: /openapi.json: HTTP %d", a.status)
	}
	var routes, deletes []string
	methods := map[string]string{} // a write route's method, POST or PATCH
	for path, ops := range doc.Paths {
		for method := range ops {
			switch method {
			case "post", "patch":
				if path != "/v1/uploads" {
					routes = append(routes, path)
					methods[path] = strings.ToUpper(method)
				}
			case "delete":
				deletes = append(deletes, path)
			case "put":
				t.Errorf("writes: %s %s: only POST, PATCH and DELETE routes are covered", method, path)
			}
		}
	}
	slices.Sort(routes)
	slices.Sort(deletes)
	if len(routes) < 5 {
		t.Fatalf("writes: the OpenAPI document has %d write routes: %v", len(routes), routes)
	}
	// Path parameters: a real upload of each end, ids that do not exist,
	// and hostile ones. No real key: a revoke of the test's own would end
	// the test.
	ids := []string{"999999", "-1", "99999999999999999999", "abc", "%00", "%FF", url.PathEscape("' OR 1=1 --"), strings.Repeat("9", 5000)}
	if failed != "" {
		ids = append(ids, strings.TrimPrefix(failed, "uploads/"))
	}
	if succeeded != "" {
		ids = append(ids, strings.TrimPrefix(succeeded, "uploads/"))
	}

	deep := func(n int) string { return strings.Repeat("[", n) + strings.Repeat("]", n) }
	generic := []string{
		"", "{", "}", "[", "{\"", `{"displayName":`, `{"a":1,}`, `{'displayName':'x'}`, `{} trailing`, "{}{}", `{"displayName":"x"`, "\ufeff{}",
		"\x00", "{\x00}", `{"displayName":"` + "\xff\xfe" + `"}`, `{"displayName":"\ud800"}`, "null", "true", "42", `"text"`, "[]", `[{}]`,
		`{"unknownField":1}`, `{"name":{"nested":[1,2,3]}}`, `{"displayName":5}`, `{"displayName":null}`, `{"displayName":["x"]}`, `{"topN":"ten"}`,
		`{"topN":1e400}`, `{"topN":99999999999999999999}`, `{"topN":-1}`, `{"topN":2147483648}`, `{"topN":1.5}`, `{"topN":-0}`,
		`{"scopes":["SCOPE_ROOT"]}`, `{"scopes":[99]}`, `{"lines":{}}`, `{"lines":[null]}`, `{"lines":"x"}`, `{"upload":123}`,
		deep(10_000), deep(10_001), strings.Repeat(`{"a":`, 10_000) + "1" + strings.Repeat("}", 10_000),
		`{"displayName":` + deep(10_000) + `}`, `{"name":` + strings.Repeat(`{"name":`, 10_000) + "1" + strings.Repeat("}", 10_001),
		deep(200_000),
	}
	// Bodies that parse, with values the service must refuse or take.
	specific := map[string][]string{
		"/v1/campaigns": {`{"displayName":"ok","topN":3}`, `{"displayName":"a\u0000b","topN":3}`, `{"displayName":"` + strings.Repeat("x", 100_000) + `","topN":3}`,
			`{"displayName":"","topN":0}`, `{"topN":2147483647}`, `{"topN":-2147483648}`, `{"displayName":"🏭\u202e","topN":1}`,
			`{"name":"campaigns/1","targets":[{"supplier":"suppliers/S1","rank":-5}],"targetedShare":"NaN"}`, `{"createTime":"not a time"}`, `{"createTime":"9999-12-31T23:59:59Z"}`},
		"/v1/apiKeys": {`{"displayName":"corpus","scopes":["SCOPE_READ"]}`, `{"displayName":"a\u0000b","scopes":["SCOPE_READ"]}`,
			`{"displayName":"` + strings.Repeat("k", 100_000) + `"}`, `{"scopes":[]}`, `{"scopes":["SCOPE_READ","SCOPE_READ","SCOPE_ADMIN"]}`,
			`{"expireTime":"1970-01-01T00:00:00Z","scopes":["SCOPE_READ"]}`, `{"expireTime":"0001-01-01T00:00:00Z"}`, `{"expireTime":"10000-01-01T00:00:00Z"}`,
			`{"expireTime":"2024-13-01T00:00:00Z"}`, `{"name":"apiKeys/1","prefix":"vcci_x","revokeTime":"2024-01-01T00:00:00Z","scopes":["SCOPE_READ"]}`},
		"/v1/emissionResults:calculate": calculateBodies(t),
		"/v1/calculationSettings": {`{"gwpBasis":"GWP_BASIS_AR6"}`, `{"gwpBasis":"GWP_BASIS_UNSPECIFIED"}`, `{"gwpBasis":99}`, `{"gwpBasis":"AR6"}`,
			`{"name":"calculationSettings/x","gwpBasis":"GWP_BASIS_AR4"}`, `{"updateTime":"not a time"}`},
		"/v1/columnMappings": {`{"columns":{"Net Value":"amount"}}`, `{"columns":{"a\u0000b":"amount"}}`, `{"columns":{"A":"amount","B":"amount"}}`,
			`{"columns":{"A":"colour"}}`, `{"columns":{}}`, `{"columns":{"A":5}}`, `{"columns":["amount"]}`,
			`{"columns":{"` + strings.Repeat("x", 100_000) + `":"amount"}}`},
		// 127.0.0.1:1 refuses at once: no test sends a webhook off the machine.
		"/v1/webhookEndpoints": {`{"url":"http://127.0.0.1:1/h","events":["upload.succeeded"]}`, `{"url":"http://example.com/h","events":["upload.failed"]}`,
			`{"url":"ftp://127.0.0.1/h","events":["report.ready"]}`, `{"url":"http://127.0.0.1:1/h","events":["upload.deleted"]}`,
			`{"url":"http://127.0.0.1:1/h","events":[]}`, `{"url":"http://127.0.0.1:1/` + strings.Repeat("p", 100_000) + `","events":["report.ready"]}`,
			`{"url":"http://127.0.0.1:1/h","events":["report.ready"],"description":"a\u0000b"}`, `{"url":"http://u:p@127.0.0.1:1/h","events":["report.ready"]}`,
			`{"url":"http://127.0.0.1:1/h","events":["report.ready"],"secret":"whsec_mine","state":"WEBHOOK_ENDPOINT_STATE_DISABLED"}`},
		"/v1/categoryRules": {`{"naicsPrefix":"48","category":"SCOPE_CATEGORY_UPSTREAM_TRANSPORTATION"}`, `{"naicsPrefix":"4\u00008","category":4}`,
			`{"activityPrefix":"air.","supplierId":"S1","category":6}`, `{"supplierId":"` + strings.Repeat("s", 100_000) + `","category":1}`,
			`{"activityPrefix":"\ud800","category":6}`, `{"naicsPrefix":"48","category":99}`, `{"naicsPrefix":"48","category":-1}`,
			`{"naicsPrefix":"48","category":2147483647}`, `{"naicsPrefix":48,"category":4}`},
	}

	for _, route := range routes {
		paths := []string{route}
		if strings.Contains(route, "{") {
			paths = paths[:0]
			for _, id := range ids {
				paths = append(paths, pathParam(route, id))
			}
		}
		for _, path := range paths {
			bodies := slices.Concat(generic, specific[route])
			if path != route {
				bodies = append(bodies, "{}", `{"name":"apiKeys/1"}`, `{"name":"uploads/1"}`)
			}
			m := methods[route]
			for _, b := range bodies {
				post(fmt.Sprintf("%s %s %.80q", m, path, b), m, path, strings.NewReader(b))
			}
			// Over MAX_JSON_BODY_BYTES, with its length said and not.
			over := `{"displayName":"` + strings.Repeat("x", 1<<20) + `"}`
			if a := post(path+" over the limit", m, path, strings.NewReader(over)); a.status != http.StatusRequestEntityTooLarge {
				t.Errorf("writes: %s over the limit: HTTP %d %.300s, want 413", path, a.status, a.body)
			}
			if a := post(path+" over the limit, chunked", m, path, io.MultiReader(strings.NewReader(over))); a.status != http.StatusRequestEntityTooLarge {
				t.Errorf("writes: %s over the limit, chunked: HTTP %d %.300s, want 413", path, a.status, a.body)
			}
		}
	}
	for _, route := range deletes {
		for _, id := range ids {
			path := pathParam(route, id)
			a := h.send(http.MethodDelete, path, nil)
			c.count(t, "delete "+path, a)
			if a.status != 0 && (a.status < 200 || a.status >= 300 && a.status < 400) {
				t.Errorf("writes: delete %s: HTTP %d, want 2xx or 4xx", path, a.status)
			}
		}
	}
	return c
}

// pathParam fills route's one path parameter with id.
func pathParam(route, id string) string {
	open, end := strings.Index(route, "{"), strings.Index(route, "}")
	return route[:open] + id + route[end+1:]
}

// calculateBodies are CalculateEmissions requests with hostile lines.
func calculateBodies(t *testing.T) []string {
	t.Helper()
	line := func(tx, date, naics, amount string) string {
		b, err := json.Marshal(map[string]string{"transactionId": tx, "date": date, "supplierId": "S1", "naicsCode": naics, "amountUsd": amount,
			"upload": "uploads/999999"})
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	lines := func(ls ...string) string {
		return `{"upload":"uploads/999999","lines":[` + strings.Join(ls, ",") + "]}"
	}
	many := make([]string, 0, 6000)
	for i := range 6000 {
		many = append(many, line(fmt.Sprintf("C-MANY-%d", i), "2024-01-01", "331110", "1"))
	}
	return []string{
		lines(line("C-OK-1", "2024-01-01", "331110", "10.00")),
		lines(line("C-1", "2024-01-01", "331110", "1e400")), lines(line("C-2", "2024-01-01", "331110", "NaN")),
		lines(line("C-3", "2024-01-01", "331110", "99999999999999999999999")), lines(line("C-4", "2024-01-01", "331110", "")),
		lines(line("C-5", "2024-13-45", "331110", "1")), lines(line("C-6", "", "331110", "1")), lines(line("C-7", "0001-01-01", "331110", "1")),
		lines(line("C-8", "2024-01-01", "999999", "1")), lines(line("C-9", "2024-01-01", "", "1")), lines(line("C-10", "2024-01-01", "331110", "-1.23456789")),
		lines(line("", "2024-01-01", "331110", "1")), lines(line("C-\x00", "2024-01-01", "331110", "1")),
		lines(strings.Replace(line("C-13", "2024-01-01", "331110", "1"), `"S1"`, `"S\u0000"`, 1)), lines(line(strings.Repeat("T", 5000), "2024-01-01", "331110", "1")),
		lines(line("C-11", "2024-01-01", "331110", "1"), line("C-11", "2024-06-01", "331110", "2")),
		`{"upload":"uploads/-1","lines":[]}`, `{"upload":"x","lines":[` + line("C-12", "2024-01-01", "331110", "1") + `]}`,
		lines(many...),
	}
}

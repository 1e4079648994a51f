package main

import (
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/vcci-dev/vcci/cmd/vcci/internal/stack"
	intakev1 "github.com/vcci-dev/vcci/pkg/gen/vcci/intake/v1"
	"github.com/vcci-dev/vcci/pkg/ratelimit"
	"github.com/vcci-dev/vcci/pkg/testsupport"
)

// EPA v1.3 factors: 331110 0.787, 484110 0.595, 722511 0.194 kg per 2022
// USD. In 2022 USD (x 292.655 / CPI-U of the month: 2024-01 308.417,
// -02 310.326, -03 312.332, -04 313.548), R1 948.8939, R2 471.5283, R3
// 660.1397, R4 281.0999, R5 37.3346; so S1 1117.8722714 kg, S2
// 519.5299439, R4 167.2544405 and all 1811.8995682.
const readFile = `transaction_id,date,supplier_id,supplier_name,naics_code,amount,currency,description,supplier_country
R1,2024-01-05,S1,Müller Stahl GmbH,331110,1000.00,USD,coil,DE
R2,2024-02-05,S1,Müller Stahl GmbH,331110,500.00,USD,coil,DE
R3,2024-02-06,S2,ACME Steel Corp,331110,700.00,USD,beams,US
R4,2024-03-07,S3,Acme Logistics,484110,300.00,USD,freight,US
R5,2024-04-01,S4,Café Central,722511,40.00,USD,lunch,AT
`

// raw does one request and returns the response with its body read (and
// un-gzipped when the server compressed it).
func (p platform) raw(t *testing.T, path, key string, hdr ...string) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, p.base+path, http.NoBody)
	if key != "" {
		req.Header.Set("x-api-key", key)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	tr := &http.Transport{DisableCompression: true}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var r io.Reader = resp.Body
	if resp.Header.Get("Content-Encoding") == "gzip" {
		if r, err = gzip.NewReader(resp.Body); err != nil {
			t.Fatal(err)
		}
	}
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

func (p platform) get(t *testing.T, path string, out any) {
	t.Helper()
	resp, b := p.raw(t, path, p.key)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s", path, resp.StatusCode, b)
	}
	if err := json.Unmarshal(b, out); err != nil {
		t.Fatalf("GET %s: %v: %s", path, err, b)
	}
}

type supplierJSON struct {
	Name             string   `json:"name"`
	DisplayName      string   `json:"displayName"`
	Country          string   `json:"country"`
	SpendUsd         string   `json:"spendUsd"`
	KgCo2e           string   `json:"kgCo2e"`
	KgCo2ePerUsd     string   `json:"kgCo2ePerUsd"`
	TransactionCount string   `json:"transactionCount"`
	NaicsCodes       []string `json:"naicsCodes"`
}

func TestReadSideThroughREST(t *testing.T) {
	rs := testsupport.StartRedis(t)
	p := startWith(t, stack.Options{RedisURL: rs.URL(), RateLimit: &ratelimit.Config{
		Read: ratelimit.Limit{Rate: 10_000, Period: time.Second, Burst: 10_000}, Write: ratelimit.Limit{Rate: 100, Period: time.Second, Burst: 100},
		Heavy: ratelimit.Limit{Rate: 100, Period: time.Second, Burst: 100}}})
	p.wait(t, p.key, p.upload(t, p.key, []byte(readFile)).Name)

	// One supplier, with totals from the real calculator and HTTP caching.
	resp, b := p.raw(t, "/v1/suppliers/S1", p.key)
	var s1 supplierJSON
	if err := json.Unmarshal(b, &s1); err != nil {
		t.Fatalf("S1: %d %s: %v", resp.StatusCode, b, err)
	}
	if resp.StatusCode != http.StatusOK || s1.DisplayName != "Müller Stahl GmbH" || s1.SpendUsd != "1500.0000" || s1.KgCo2e != "1117.8722714" ||
		s1.KgCo2ePerUsd != "0.745248" || s1.TransactionCount != "2" || s1.Country != "DE" || !slices.Equal(s1.NaicsCodes, []string{"331110"}) {
		t.Fatalf("S1: %d %s", resp.StatusCode, b)
	}
	etag := resp.Header.Get("ETag")
	if etag == "" || resp.Header.Get("Cache-Control") != "private, no-cache" || resp.Header.Get("X-RateLimit-Limit") != "10000" {
		t.Fatalf("S1 headers: %v", resp.Header)
	}
	if resp, _ := p.raw(t, "/v1/suppliers/S1", p.key, "If-None-Match", etag); resp.StatusCode != http.StatusNotModified {
		t.Fatalf("If-None-Match: %d", resp.StatusCode)
	}
	if resp, _ := p.raw(t, "/v1/factorSets", p.key); resp.Header.Get("Cache-Control") != "private, no-cache" {
		t.Fatalf("factor sets Cache-Control %q", resp.Header.Get("Cache-Control"))
	}

	// Search, with fields= narrowing the answer.
	resp, b = p.raw(t, "/v1/suppliers?query=muller&fields=name,kgCo2e", p.key)
	var found map[string][]map[string]any
	if err := json.Unmarshal(b, &found); err != nil {
		t.Fatalf("search: %d %s: %v", resp.StatusCode, b, err)
	}
	if resp.StatusCode != http.StatusOK || len(found["suppliers"]) != 1 || len(found["suppliers"][0]) != 2 || found["suppliers"][0]["kgCo2e"] != "1117.8722714" {
		t.Fatalf("search: %d %s", resp.StatusCode, b)
	}

	// A transaction with its supplier and emission result, one page walk, and
	// an offset page.
	var tx struct {
		Category       string
		Supplier       supplierJSON
		EmissionResult struct{ KgCo2e, FactorValue, Method string }
	}
	p.get(t, "/v1/transactions/R4", &tx)
	if tx.Category != "SCOPE_CATEGORY_UPSTREAM_TRANSPORTATION" || tx.Supplier.DisplayName != "Acme Logistics" ||
		tx.EmissionResult.KgCo2e != "167.2544405" || tx.EmissionResult.FactorValue != "0.595" || tx.EmissionResult.Method != "spend-based" {
		t.Fatalf("R4 = %+v", tx)
	}
	var walked []string
	for tok := ""; ; {
		var page struct {
			Transactions  []struct{ Name string }
			NextPageToken string
		}
		p.get(t, "/v1/transactions?page_size=2&fields=name&page_token="+tok, &page)
		for _, x := range page.Transactions {
			walked = append(walked, strings.TrimPrefix(x.Name, "transactions/"))
		}
		if tok = page.NextPageToken; tok == "" {
			break
		}
	}
	if !slices.Equal(walked, []string{"R5", "R4", "R3", "R2", "R1"}) {
		t.Fatalf("walk = %v", walked)
	}
	var off struct {
		Transactions []struct{ Name string }
		PageInfo     struct {
			Page, PerPage, TotalPages int
			Total                     string
			HasNext                   bool
		}
	}
	p.get(t, "/v1/transactions?per_page=2&page=3&order_by=amount_usd%20desc", &off)
	if len(off.Transactions) != 1 || off.Transactions[0].Name != "transactions/R5" || off.PageInfo.Total != "5" || off.PageInfo.TotalPages != 3 || off.PageInfo.HasNext {
		t.Fatalf("offset page = %+v", off)
	}

	// Big answers are gzipped for clients that take gzip.
	resp, b = p.raw(t, "/v1/transactions?page_size=5", p.key, "Accept-Encoding", "gzip")
	if resp.Header.Get("Content-Encoding") != "gzip" || len(b) < 1024 || !strings.Contains(string(b), "R1") {
		t.Fatalf("gzip: %q, %d bytes", resp.Header.Get("Content-Encoding"), len(b))
	}

	dash := p.dashboard(t)
	if dash.TotalKgCo2e != "1811.8995682" || dash.TotalSpendUsd != "2540.0000" || len(dash.TopSuppliers) != 2 ||
		dash.TopSuppliers[0].Label != "Müller Stahl GmbH" || len(dash.ByMonth) != 4 || len(dash.ByCategory) != 2 ||
		math.Abs(dash.TopSuppliersShare-(1117.8722714+519.5299439)/1811.8995682) > 1e-9 || dash.KgCo2ePerUsd != "0.713346" {
		t.Fatalf("dashboard = %+v", dash)
	}

	// Bad input names the parameter.
	for path, want := range map[string]string{
		"/v1/suppliers?page_size=1001":                               "page_size: must be at most 1000",
		"/v1/suppliers?order_by=kg_co2e%3BDROP%20TABLE%20x":          "order_by",
		"/v1/suppliers?fields=nope":                                  `unknown field \"nope\"`,
		"/v1/transactions?page_token=garbage":                        "page_token",
		"/v1/transactions?start_date=2024-05-01&end_date=2024-01-01": "end_date",
		"/v1/suppliers?fields=name&read_mask=name":                   "fields",
	} {
		resp, b := p.raw(t, path, p.key)
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(b), want) {
			t.Errorf("%s: %d %s, want 400 naming %s", path, resp.StatusCode, b, want)
		}
	}
	other := testsupport.Key(t, p.pool, "globex")
	if resp, _ := p.raw(t, "/v1/suppliers/S1", other); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("another tenant reading S1: %d", resp.StatusCode)
	}

	// A write invalidates the cached supplier and dashboard.
	p.wait(t, p.key, p.upload(t, p.key, []byte("transaction_id,date,supplier_id,supplier_name,naics_code,amount,currency,description\nR6,2024-05-01,S1,Müller Stahl GmbH,331110,100.00,USD,more\n")).Name)
	p.get(t, "/v1/suppliers/S1", &s1)
	// R6: 100 x 292.655 / 314.069 (CPI-U 2024-05) = 93.1818 x 0.787 = 73.3340766.
	if s1.SpendUsd != "1600.0000" || s1.KgCo2e != "1191.2063480" {
		t.Fatalf("S1 after a new upload: %+v", s1)
	}
	if d := p.dashboard(t); d.TotalKgCo2e != "1885.2336448" {
		t.Fatalf("dashboard after a new upload: %s", d.TotalKgCo2e)
	}

	// Redis stops: reads, writes and invalidation go on without it, once
	// the platform has noticed. A write and a read-back within about 70 ms
	// of the kill can still meet the edge cache's entry from before it
	// (the race and its fix are in docs/caching.md): wait that out.
	rs.Stop()
	p.get(t, "/v1/suppliers/S1", &s1)
	time.Sleep(time.Second)
	if u := p.wait(t, p.key, p.upload(t, p.key, []byte("transaction_id,date,supplier_id,supplier_name,naics_code,amount,currency,description\nR7,2024-05-02,S1,Müller Stahl GmbH,331110,1000.00,USD,more\n")).Name); u.State != "UPLOAD_STATE_SUCCEEDED" || u.RowsAccepted != "1" {
		t.Fatalf("an upload with Redis down: %+v", u)
	}
	resp, b = p.raw(t, "/v1/suppliers/S1", p.key)
	if err := json.Unmarshal(b, &s1); err != nil {
		t.Fatalf("S1 with Redis down: %d %s: %v", resp.StatusCode, b, err)
	}
	if resp.StatusCode != http.StatusOK || s1.SpendUsd != "2600.0000" || resp.Header.Get("X-RateLimit-Limit") != "10000" {
		t.Fatalf("S1 with Redis down: %d %s %v", resp.StatusCode, b, resp.Header)
	}
	// Reporting is another process as far as its cache knows: without
	// Redis the calculator's invalidation cannot reach it, and its dashboard
	// catches up when its 2 s local TTL runs out.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		d := p.dashboard(t)
		if d.TotalKgCo2e == "2618.5740173" { // R7: 1000 x 292.655 / 314.069 = 931.8175 x 0.787 = 733.3403725 more
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("dashboard with Redis down: %s", d.TotalKgCo2e)
		}
	}
}

type dashboardJSON struct {
	TotalKgCo2e, TotalSpendUsd, KgCo2ePerUsd string
	TopSuppliers, ByMonth, ByCategory        []struct{ Key, Label, KgCo2e string }
	TopSuppliersShare                        float64
}

func (p platform) dashboard(t *testing.T) dashboardJSON {
	t.Helper()
	var d dashboardJSON
	p.get(t, "/v1/dashboard?top_suppliers=2", &d)
	return d
}

func TestRateLimitsREST(t *testing.T) {
	p := startWith(t, stack.Options{RateLimit: &ratelimit.Config{
		Read:  ratelimit.Limit{Rate: 3, Period: time.Minute, Burst: 3},
		Write: ratelimit.Limit{Rate: 3, Period: time.Minute, Burst: 3}, Heavy: ratelimit.Limit{Rate: 1, Period: time.Minute, Burst: 1}}})
	// The dashboard fans out to three calculator calls and one intake call,
	// made as the platform: the caller is charged once.
	for i, want := range []string{"2", "1", "0"} {
		resp, b := p.raw(t, "/v1/dashboard", p.key)
		if resp.StatusCode != http.StatusOK || resp.Header.Get("X-RateLimit-Limit") != "3" || resp.Header.Get("X-RateLimit-Remaining") != want {
			t.Fatalf("read %d: %d %s %v", i, resp.StatusCode, b, resp.Header)
		}
	}
	resp, b := p.raw(t, "/v1/suppliers", p.key)
	retry, _ := strconv.Atoi(resp.Header.Get("Retry-After"))
	reset, _ := strconv.Atoi(resp.Header.Get("X-RateLimit-Reset"))
	if resp.StatusCode != http.StatusTooManyRequests || retry < 1 || reset < retry || resp.Header.Get("X-RateLimit-Remaining") != "0" ||
		!strings.Contains(string(b), "rate limit exceeded for read requests") {
		t.Fatalf("4th read: %d %s %v", resp.StatusCode, b, resp.Header)
	}
	// gRPC shares the key's budget and says ResourceExhausted.
	cc, err := grpc.NewClient(p.grpc["intake"], grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	var hdr metadata.MD
	_, err = intakev1.NewIntakeServiceClient(cc).ListSuppliers(metadata.AppendToOutgoingContext(context.Background(), "x-api-key", p.key),
		&intakev1.ListSuppliersRequest{}, grpc.Header(&hdr))
	if status.Code(err) != codes.ResourceExhausted || len(hdr.Get("retry-after")) != 1 {
		t.Fatalf("gRPC: %v, headers %v", err, hdr)
	}
	// Uploads have their own (heavy) budget: one, then 429.
	p.upload(t, p.key, []byte(readFile))
	if code := p.call(t, "POST", "/v1/uploads", p.key, strings.NewReader(readFile), nil, "Content-Type", "text/csv"); code != http.StatusTooManyRequests {
		t.Fatalf("second upload: %d", code)
	}
	// Another key has its own budget.
	if resp, _ := p.raw(t, "/v1/suppliers", testsupport.Key(t, p.pool, "globex")); resp.StatusCode != http.StatusOK {
		t.Fatalf("another key: %d", resp.StatusCode)
	}
}

// A client that sees its upload succeed reads its rows back at once, from
// the gateway's edge cache and the services' caches alike, while other
// clients keep refilling those caches with the answers from before; and a
// ten-line upload gets there well within a second.
func TestUploadIsReadBackAtOnceWhenItSucceeds(t *testing.T) {
	rs := testsupport.StartRedis(t)
	p := startWith(t, stack.Options{RedisURL: rs.URL()})
	p.wait(t, p.key, p.upload(t, p.key, []byte(readFile)).Name)

	ctx, stop := context.WithCancel(context.Background())
	var reads atomic.Int64
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			for _, path := range []string{"/v1/suppliers/S1", "/v1/dashboard?top_suppliers=2"} {
				req, _ := http.NewRequestWithContext(ctx, http.MethodGet, p.base+path, http.NoBody)
				req.Header.Set("x-api-key", p.key)
				if resp, err := http.DefaultClient.Do(req); err == nil {
					_, _ = io.Copy(io.Discard, resp.Body) // the read counts once answered; its body is not checked
					resp.Body.Close()
					reads.Add(1)
				}
			}
			time.Sleep(2 * time.Millisecond)
		}
	}()
	defer func() { stop(); <-done }()
	// The caches hold the answers from before the upload.
	for deadline := time.Now().Add(10 * time.Second); reads.Load() < 10; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the readers read %d times in 10s", reads.Load())
		}
	}

	var file strings.Builder
	file.WriteString("transaction_id,date,supplier_id,supplier_name,naics_code,amount,currency,description\n")
	for i := range 10 {
		fmt.Fprintf(&file, "R%d,2024-05-01,S1,Müller Stahl GmbH,331110,10.00,USD,more\n", 10+i)
	}
	sent := time.Now()
	name := p.upload(t, p.key, []byte(file.String())).Name
	var u struct{ State string }
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		p.call(t, "GET", "/v1/"+name, p.key, nil, &u)
		if u.State == "UPLOAD_STATE_SUCCEEDED" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not done: %+v", name, u)
		}
	}
	if took := time.Since(sent); took > time.Second {
		t.Errorf("a ten-line upload took %v to succeed, want well under a second", took)
	}
	var s1 supplierJSON
	p.get(t, "/v1/suppliers/S1", &s1)
	// 1,500 USD before and ten lines of 10 USD of 2024-05, each 10 x
	// 292.655 / 314.069 = 9.3182 2022 USD x 0.787 = 7.3334234 kg.
	if s1.SpendUsd != "1600.0000" || s1.KgCo2e != "1191.2065054" || s1.TransactionCount != "12" {
		t.Errorf("S1 read once the upload succeeded: %+v", s1)
	}
	if d := p.dashboard(t); d.TotalKgCo2e != "1885.2338022" {
		t.Errorf("dashboard read once the upload succeeded: %s", d.TotalKgCo2e)
	}
}

// The factor library is searched and read through REST, with the running
// calculator's signed page tokens.
func TestFactorLibraryThroughREST(t *testing.T) {
	p := startWith(t, stack.Options{})
	var list struct {
		Factors []struct {
			Code  string `json:"code"`
			Value string `json:"value"`
		} `json:"factors"`
		NextPageToken string `json:"nextPageToken"`
		TotalSize     string `json:"totalSize"`
	}
	p.get(t, `/v1/factorSets/-/factors?filter=code:%22331%22%20AND%20title:%22STEEL%22&orderBy=value%20desc&pageSize=1`, &list)
	if len(list.Factors) != 1 || list.Factors[0].Code != "331110" || list.Factors[0].Value != "0.787" || list.TotalSize != "6" || list.NextPageToken == "" {
		t.Fatalf("first page %+v", list)
	}
	next := "/v1/factorSets/-/factors?filter=code:%22331%22%20AND%20title:%22STEEL%22&orderBy=value%20desc&pageSize=1&pageToken=" + list.NextPageToken
	p.get(t, next, &list)
	if len(list.Factors) != 1 || list.Factors[0].Code != "331513" || list.Factors[0].Value != "0.369" || list.NextPageToken == "" {
		t.Fatalf("second page %+v", list)
	}

	var f map[string]any
	p.get(t, "/v1/factorSets/epa-supply-chain-v1.3.0/factors/331110", &f)
	if f["value"] != "0.787" || f["region"] != "US" || f["year"] != 2022.0 || f["factorSetVersion"] != "1.3.0" || f["category"] != "SCOPE_CATEGORY_PURCHASED_GOODS_AND_SERVICES" {
		t.Fatalf("331110: %v", f)
	}
	for path, code := range map[string]int{
		"/v1/factorSets/epa-supply-chain-v1.3.0/factors/999999": http.StatusNotFound,
		"/v1/factorSets/-/factors?filter=colour%3Dred":          http.StatusBadRequest,
		"/v1/factorSets/-/factors?orderBy=unit":                 http.StatusBadRequest,
	} {
		if resp, b := p.raw(t, path, p.key); resp.StatusCode != code {
			t.Fatalf("%s: %d %s, want %d", path, resp.StatusCode, b, code)
		}
	}
}

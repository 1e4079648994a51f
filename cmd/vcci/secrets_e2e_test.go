package main

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/vcci-dev/vcci/cmd/vcci/internal/stack"
	"github.com/vcci-dev/vcci/pkg/logging"
	"github.com/vcci-dev/vcci/pkg/ratelimit"
	"github.com/vcci-dev/vcci/pkg/tenancy"
	"github.com/vcci-dev/vcci/pkg/testsupport"
)

// secretsFile is a spend file whose cells are found nowhere else: an
// accepted row of each, and a rejected one whose bad value is stored.
const secretsFile = `transaction_id,date,supplier_id,supplier_name,naics_code,amount,currency,description
ZQTX-41577-1,2024-05-01,ZQSUP-90211,Zyqlop Quarrels Ltd,331110,73519.37,USD,zyqlop-memo-5512
ZQTX-41577-2,2024-05-02,ZQSUP-90211,Zyqlop Quarrels Ltd,331110,100.00,USD,zyqlop-memo-5513
ZQTX-41577-3,2024-05-03,ZQSUP-90211,Zyqlop Quarrels Ltd,331110,zq-not-a-number-6620,USD,zyqlop-memo-5514
`

// TestNoSecretsOrTenantDataInTracesOrLogs runs an upload through REST, with
// every span recorded and every log line kept (debug level), then reads it
// back. No API key (good or bad), no service token, no database password
// and no cell of the file may appear in a span's name, attributes, events,
// links or status, or in a log line; nor a key or the token in a Redis key.
func TestNoSecretsOrTenantDataInTracesOrLogs(t *testing.T) {
	ctx := context.Background()
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.AlwaysSample()), sdktrace.WithSpanProcessor(rec))
	var logs testsupport.LogBuffer
	rs := testsupport.StartRedis(t)
	lots := ratelimit.Limit{Rate: 1000, Period: time.Second, Burst: 1000}
	p := startWith(t, stack.Options{TP: tp, Log: logging.New(&logs, "vcci", "debug"), RedisURL: rs.URL(),
		RateLimit: &ratelimit.Config{Read: lots, Write: lots, Heavy: lots}})

	u := p.upload(t, p.key, []byte(secretsFile))
	if got := p.wait(t, p.key, u.Name); got.State != "UPLOAD_STATE_SUCCEEDED" || got.RowsAccepted != "2" || got.RowsRejected != "1" ||
		len(got.ErrorSamples) != 1 || got.ErrorSamples[0].Value != "zq-not-a-number-6620" {
		t.Fatalf("upload = %+v", got)
	}
	// Read it back, by key and by bearer token: the cells come back. (The
	// paths name no cell: the gateway's span records the path as sent.)
	back := p.readBack(t, "/v1/"+u.Name+"/errors", "/v1/suppliers", "/v1/transactions", "/v1/dashboard",
		"/v1/hotspots/supplierPareto", "/v1/inventory/summary")
	const badKey = "vcci_zq0000000000000000000000000000000000000000bad"
	if resp, b := p.raw(t, "/v1/suppliers", badKey); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("a bad key: HTTP %d %s", resp.StatusCode, b)
	}

	token, err := tenancy.ServiceToken(ctx, p.pool)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := pgx.ParseConfig(p.url)
	if err != nil || cfg.Password == "" {
		t.Fatalf("the database URL has no password (%v): nothing to look for", err)
	}
	secrets := map[string]string{"the API key": p.key, "a bad API key": badKey, "the service token": token,
		"the database password": cfg.Password}
	cells := map[string]string{"a transaction id": "ZQTX-41577", "a supplier id": "ZQSUP-90211", "a supplier name": "Zyqlop Quarrels",
		"a description": "zyqlop-memo", "an amount": "73519.37", "a rejected value": "zq-not-a-number-6620"}
	for what, v := range cells {
		if what != "a rejected value" && !strings.Contains(back, v) {
			t.Fatalf("%s (%s) was not read back: the flow did not carry it", what, v)
		}
		secrets[what] = v
	}

	// Every span has ended, every line is written, once the stack stops.
	p.stop()
	spans := rec.Ended()
	var statements int
	for _, s := range spans {
		for _, text := range spanTexts(s) {
			if strings.HasPrefix(text, "attribute db.query.text=") {
				statements++
			}
			if what := holds(text, secrets); what != "" {
				t.Errorf("span %q carries %s: %.300s", s.Name(), what, text)
			}
		}
	}
	var requests int
	for l := range strings.SplitSeq(logs.String(), "\n") {
		if strings.Contains(l, `"msg":"http"`) {
			requests++
		}
		if what := holds(l, secrets); what != "" {
			t.Errorf("a log line carries %s: %.300s", what, l)
		}
	}
	keys, err := rs.Client().Keys(ctx, "*").Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if what := holds(k, map[string]string{"the API key": p.key, "the service token": token}); what != "" {
			t.Errorf("Redis key %q carries %s", k, what)
		}
	}
	// What was searched is there to search: spans with statements, the
	// gateway's request lines, rate-limit budgets in Redis.
	if len(spans) < 50 || statements < 10 || requests < 14 || len(keys) == 0 {
		t.Fatalf("%d spans (%d with a statement), %d request log lines, %d Redis keys: too few to show anything", len(spans), statements, requests, len(keys))
	}
}

// spanTexts is everything a span says, each piece prefixed with where it is.
func spanTexts(s sdktrace.ReadOnlySpan) []string {
	texts := []string{"name " + s.Name(), "status " + s.Status().Description}
	for _, a := range s.Attributes() {
		texts = append(texts, "attribute "+string(a.Key)+"="+a.Value.String())
	}
	for _, e := range s.Events() {
		texts = append(texts, "event "+e.Name)
		for _, a := range e.Attributes {
			texts = append(texts, "event "+e.Name+" attribute "+string(a.Key)+"="+a.Value.String())
		}
	}
	for _, l := range s.Links() {
		for _, a := range l.Attributes {
			texts = append(texts, "link attribute "+string(a.Key)+"="+a.Value.String())
		}
	}
	return texts
}

// holds names the first of secrets (what -> value) that text contains, or
// returns "".
func holds(text string, secrets map[string]string) string {
	for what, v := range secrets {
		if strings.Contains(text, v) {
			return what
		}
	}
	return ""
}

// readBack GETs each path with p's key, once as x-api-key and once as a
// bearer token, and returns the bodies.
func (p platform) readBack(t *testing.T, paths ...string) string {
	t.Helper()
	var back strings.Builder
	for _, path := range paths {
		for _, auth := range [][]string{{"x-api-key", p.key}, {"Authorization", "Bearer " + p.key}} {
			resp, b := p.raw(t, path, "", auth...)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("GET %s with %s: HTTP %d %s", path, auth[0], resp.StatusCode, b)
			}
			back.Write(b)
		}
	}
	return back.String()
}

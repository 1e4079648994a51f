package grpcapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"go.opentelemetry.io/otel/trace/noop"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	engagementv1 "github.com/vcci-dev/vcci/pkg/gen/vcci/engagement/v1"
	"github.com/vcci-dev/vcci/pkg/grpcserver"
	"github.com/vcci-dev/vcci/pkg/secretbox"
	"github.com/vcci-dev/vcci/pkg/tenancy"
	"github.com/vcci-dev/vcci/pkg/testsupport"
	"github.com/vcci-dev/vcci/pkg/webhook"
	"github.com/vcci-dev/vcci/services/engagement/internal/engagement"
	"github.com/vcci-dev/vcci/services/engagement/internal/grpcapi"
	"github.com/vcci-dev/vcci/services/engagement/internal/store"
)

// hooksEnv is engagement with its delivery workers running on a short
// retry schedule and a clock the test moves.
type hooksEnv struct {
	pool       *pgxpool.Pool
	client     engagementv1.EngagementServiceClient
	keyA, keyB string
	skew       atomic.Int64 // added to the clock, in nanoseconds
}

func startHooks(t *testing.T) *hooksEnv {
	t.Helper()
	pool := testsupport.NewPool(t, "engagement", store.Migrate)
	e := &hooksEnv{pool: pool, keyA: testsupport.Key(t, pool, "acme"), keyB: testsupport.Key(t, pool, "globex")}
	box, err := secretbox.New(testBoxKey)
	if err != nil {
		t.Fatal(err)
	}
	st := store.New(pool).WithSecrets(box)
	hooks := engagement.NewWebhooks(st)
	hooks.AllowPrivate = true // the receivers are on 127.0.0.1
	hooks.Now = func() time.Time { return time.Now().Add(time.Duration(e.skew.Load())) }
	jobs, err := store.NewClient(pool, engagement.NewDeliveryWorker(hooks), store.ClientOptions{
		Log: slog.New(slog.DiscardHandler), TP: noop.NewTracerProvider(), FetchPoll: 50 * time.Millisecond, TestOnly: true,
		RetryPolicy: engagement.RetryPolicy{Schedule: []time.Duration{100 * time.Millisecond}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := jobs.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = jobs.StopAndCancel(ctx)
	})
	srv := grpcserver.New(grpcserver.Options{
		Name: "engagement", Log: slog.New(slog.DiscardHandler), TracerProvider: noop.NewTracerProvider(),
		Auth: tenancy.NewAuthenticator(pool, time.Minute),
	})
	engagementv1.RegisterEngagementServiceServer(srv.GRPC, grpcapi.New(engagement.New(st, nil, nil), hooks))
	e.client = engagementv1.NewEngagementServiceClient(testsupport.Dial(t, testsupport.Start(t, srv)))
	return e
}

// receipt is one request a receiver accepted.
type receipt struct {
	id    string
	event webhook.Envelope
}

// receiver is a real HTTP endpoint that verifies every request's signature
// and answers 503 while down.
type receiver struct {
	t      *testing.T
	srv    *httptest.Server
	secret atomic.Value // string
	down   atomic.Bool

	mu       sync.Mutex
	accepted []receipt
	refused  int
}

func newReceiver(t *testing.T) *receiver {
	r := &receiver{t: t}
	r.secret.Store("")
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) serve(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(req.Body)
	if err != nil {
		return
	}
	if err := webhook.Verify(r.secret.Load().(string), req.Header, body, time.Now()); err != nil {
		r.t.Errorf("receiver: %v", err)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.down.Load() {
		r.refused++
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	var ev webhook.Envelope
	if err := json.Unmarshal(body, &ev); err != nil {
		r.t.Errorf("receiver: body %s: %v", body, err)
	}
	r.accepted = append(r.accepted, receipt{id: req.Header.Get(webhook.HeaderID), event: ev})
	w.WriteHeader(http.StatusNoContent)
}

func (r *receiver) receipts() []receipt {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]receipt(nil), r.accepted...)
}

func (r *receiver) refusals() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.refused
}

// register creates an endpoint for r with the key and teaches r its secret.
func (e *hooksEnv) register(t *testing.T, key string, r *receiver, events ...string) *engagementv1.WebhookEndpoint {
	t.Helper()
	ep, err := e.client.CreateWebhookEndpoint(testsupport.WithKey(key), &engagementv1.CreateWebhookEndpointRequest{
		Endpoint: &engagementv1.WebhookEndpoint{Url: r.srv.URL + "/hooks", Events: events, Description: "test"}})
	if err != nil {
		t.Fatal(err)
	}
	r.secret.Store(ep.GetSecret())
	return ep
}

// asService acts for the tenant of key (A's or B's) with the platform's
// service token, as the services that publish events do.
func (e *hooksEnv) asService(t *testing.T, key string) context.Context {
	t.Helper()
	name := map[string]string{e.keyA: "acme", e.keyB: "globex"}[key]
	token, err := tenancy.ServiceToken(context.Background(), e.pool)
	if err != nil {
		t.Fatal(err)
	}
	return metadata.AppendToOutgoingContext(context.Background(), "x-vcci-service-token", token,
		"x-vcci-tenant", testsupport.Tenant(t, e.pool, name).String())
}

func (e *hooksEnv) publish(t *testing.T, key, id, typ, data string) *engagementv1.PublishEventResponse {
	t.Helper()
	resp, err := e.client.PublishEvent(e.asService(t, key), &engagementv1.PublishEventRequest{EventId: id, Type: typ, Data: data})
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

func (e *hooksEnv) deliveries(t *testing.T, key, endpoint string) []*engagementv1.WebhookDelivery {
	t.Helper()
	resp, err := e.client.ListWebhookDeliveries(testsupport.WithKey(key), &engagementv1.ListWebhookDeliveriesRequest{Parent: endpoint})
	if err != nil {
		t.Fatal(err)
	}
	return resp.GetDeliveries()
}

// settled waits until none of the endpoint's deliveries is pending.
func (e *hooksEnv) settled(t *testing.T, key, endpoint string, n int) []*engagementv1.WebhookDelivery {
	t.Helper()
	var ds []*engagementv1.WebhookDelivery
	testsupport.WaitFor(t, "deliveries to settle", 20*time.Second, func() bool {
		ds = e.deliveries(t, key, endpoint)
		for _, d := range ds {
			if d.GetState() == engagementv1.WebhookDeliveryState_WEBHOOK_DELIVERY_STATE_PENDING {
				return false
			}
		}
		return len(ds) == n
	})
	return ds
}

func TestWebhookIsSignedAndLogged(t *testing.T) {
	e := startHooks(t)
	r, other := newReceiver(t), newReceiver(t)
	before := time.Now().Add(-time.Second)
	ep := e.register(t, e.keyA, r, webhook.UploadSucceeded, webhook.UploadFailed, webhook.UploadSucceeded)
	if !strings.HasPrefix(ep.GetSecret(), "whsec_") || ep.GetState() != engagementv1.WebhookEndpointState_WEBHOOK_ENDPOINT_STATE_ENABLED ||
		strings.Join(ep.GetEvents(), ",") != "upload.succeeded,upload.failed" {
		t.Fatalf("created %v", ep)
	}
	e.register(t, e.keyA, other, webhook.ReportReady)
	got, err := e.client.GetWebhookEndpoint(testsupport.WithKey(e.keyA), &engagementv1.GetWebhookEndpointRequest{Name: ep.GetName()})
	if err != nil {
		t.Fatal(err)
	}
	if got.GetSecret() != "" || got.GetUrl() != r.srv.URL+"/hooks" {
		t.Fatalf("got %v: the secret is shown once", got)
	}

	data := `{"upload": "uploads/12", "file_name": "spend.csv", "rows_accepted": 3, "rows_rejected": 0, "kg_co2e": "1234.5000000"}`
	if resp := e.publish(t, e.keyA, "upload-12-succeeded", webhook.UploadSucceeded, data); !resp.GetPublished() || resp.GetDeliveries() != 1 {
		t.Fatalf("published %v, want one delivery", resp)
	}
	ds := e.settled(t, e.keyA, ep.GetName(), 1)
	d := ds[0]
	if d.GetState() != engagementv1.WebhookDeliveryState_WEBHOOK_DELIVERY_STATE_DELIVERED || d.GetStatusCode() != 204 || d.GetAttempts() != 1 ||
		d.GetEventId() != "upload-12-succeeded" || d.GetEventType() != webhook.UploadSucceeded || d.GetLastError() != "" || d.GetLatencyMs() < 0 {
		t.Fatalf("delivery %v", d)
	}
	rs := r.receipts()
	if len(rs) != 1 || rs[0].id != "upload-12-succeeded" || rs[0].event.Type != webhook.UploadSucceeded ||
		string(rs[0].event.Data) != `{"upload":"uploads/12","file_name":"spend.csv","rows_accepted":3,"rows_rejected":0,"kg_co2e":"1234.5000000"}` ||
		rs[0].event.Timestamp.Before(before) {
		t.Fatalf("received %+v", rs)
	}
	if n := len(other.receipts()); n != 0 {
		t.Fatalf("an endpoint subscribed to report.ready got %d upload events", n)
	}
	var attempts int
	if err := e.pool.QueryRow(context.Background(), `SELECT count(*) FROM engagement.webhook_attempts WHERE status_code = 204 AND error = ''`).Scan(&attempts); err != nil || attempts != 1 {
		t.Fatalf("attempts logged = %d, %v", attempts, err)
	}
}

func TestSignatureFailsWhenTampered(t *testing.T) {
	// What a receiver sees: the exact request engagement sent verifies,
	// any change to it does not.
	e := startHooks(t)
	var mu sync.Mutex
	var header http.Header
	var body []byte
	srv := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		mu.Lock()
		header, body = req.Header.Clone(), b
		mu.Unlock()
	}))
	t.Cleanup(srv.Close)
	ep, err := e.client.CreateWebhookEndpoint(testsupport.WithKey(e.keyA), &engagementv1.CreateWebhookEndpointRequest{
		Endpoint: &engagementv1.WebhookEndpoint{Url: srv.URL, Events: []string{webhook.RecalculationDone}}})
	if err != nil {
		t.Fatal(err)
	}
	e.publish(t, e.keyA, "recalculation-4-done", webhook.RecalculationDone, `{"recalculation":"recalculations/4"}`)
	e.settled(t, e.keyA, ep.GetName(), 1)
	mu.Lock()
	defer mu.Unlock()
	if header.Get("Content-Type") != "application/json" || header.Get(webhook.HeaderID) != "recalculation-4-done" {
		t.Fatalf("headers %v", header)
	}
	if err := webhook.Verify(ep.GetSecret(), header, body, time.Now()); err != nil {
		t.Fatalf("Verify = %v", err)
	}
	tampered := strings.Replace(string(body), "recalculations/4", "recalculations/5", 1)
	if err := webhook.Verify(ep.GetSecret(), header, []byte(tampered), time.Now()); !errors.Is(err, webhook.ErrBadSignature) {
		t.Fatalf("Verify(tampered) = %v", err)
	}
}

func TestPublishIsIdempotent(t *testing.T) {
	e := startHooks(t)
	r := newReceiver(t)
	ep := e.register(t, e.keyA, r, webhook.UploadFailed)
	e.publish(t, e.keyA, "upload-7-failed", webhook.UploadFailed, `{"upload":"uploads/7"}`)
	if resp := e.publish(t, e.keyA, "upload-7-failed", webhook.UploadFailed, `{"upload":"uploads/7"}`); resp.GetPublished() || resp.GetDeliveries() != 0 {
		t.Fatalf("second publish %v, want nothing done", resp)
	}
	e.settled(t, e.keyA, ep.GetName(), 1)
	if rs := r.receipts(); len(rs) != 1 || rs[0].id != "upload-7-failed" {
		t.Fatalf("received %+v, want upload-7-failed once", rs)
	}
}

func TestReceiverDownThenUpGetsEveryEventOnce(t *testing.T) {
	e := startHooks(t)
	r := newReceiver(t)
	r.down.Store(true)
	ep := e.register(t, e.keyA, r, webhook.UploadSucceeded)
	ids := []string{"upload-1-succeeded", "upload-2-succeeded", "upload-3-succeeded"}
	for _, id := range ids {
		e.publish(t, e.keyA, id, webhook.UploadSucceeded, `{}`)
	}
	// Each event refused at least twice, through River's retries.
	testsupport.WaitFor(t, "retries", 20*time.Second, func() bool { return r.refusals() >= 2*len(ids) })
	r.down.Store(false)
	ds := e.settled(t, e.keyA, ep.GetName(), len(ids))
	got := map[string]int{}
	for _, rc := range r.receipts() {
		got[rc.id]++
	}
	for _, id := range ids {
		if got[id] != 1 {
			t.Fatalf("received %v, want each of %v once", got, ids)
		}
	}
	if len(got) != len(ids) {
		t.Fatalf("received %v", got)
	}
	for _, d := range ds {
		if d.GetState() != engagementv1.WebhookDeliveryState_WEBHOOK_DELIVERY_STATE_DELIVERED || d.GetAttempts() < 2 || d.GetStatusCode() != 204 ||
			d.GetLastError() != "HTTP 503" {
			t.Fatalf("delivery %v: want delivered after failed attempts", d)
		}
	}
	var failed int
	if err := e.pool.QueryRow(context.Background(), `SELECT count(*) FROM engagement.webhook_attempts WHERE status_code = 503 AND error = 'HTTP 503'`).Scan(&failed); err != nil || failed != r.refusals() {
		t.Fatalf("failed attempts logged = %d (%v), receiver refused %d", failed, err, r.refusals())
	}
}

func TestReceiverClosedThenUp(t *testing.T) {
	// Nothing listening at all: the attempt fails with no status.
	e := startHooks(t)
	r := newReceiver(t)
	addr := r.srv.Listener.Addr().String()
	r.srv.Close()
	ep, err := e.client.CreateWebhookEndpoint(testsupport.WithKey(e.keyA), &engagementv1.CreateWebhookEndpointRequest{
		Endpoint: &engagementv1.WebhookEndpoint{Url: "http://" + addr + "/hooks", Events: []string{webhook.ReportReady}}})
	if err != nil {
		t.Fatal(err)
	}
	e.publish(t, e.keyA, "report-9-ready", webhook.ReportReady, `{"report":"reports/9"}`)
	testsupport.WaitFor(t, "a failed attempt", 20*time.Second, func() bool {
		ds := e.deliveries(t, e.keyA, ep.GetName())
		return len(ds) == 1 && ds[0].GetAttempts() >= 2 && ds[0].GetStatusCode() == 0 && ds[0].GetLastError() != ""
	})
	// Up again on the same address.
	up := newReceiver(t)
	up.secret.Store(ep.GetSecret())
	up.srv.Close()
	up.srv = httptest.NewUnstartedServer(http.HandlerFunc(up.serve))
	l, err := (&net.ListenConfig{}).Listen(context.Background(), "tcp", addr)
	if err != nil {
		t.Skipf("address %s taken meanwhile: %v", addr, err)
	}
	up.srv.Listener = l
	up.srv.Start()
	t.Cleanup(up.srv.Close)
	ds := e.settled(t, e.keyA, ep.GetName(), 1)
	if rs := up.receipts(); len(rs) != 1 || rs[0].id != "report-9-ready" || ds[0].GetState() != engagementv1.WebhookDeliveryState_WEBHOOK_DELIVERY_STATE_DELIVERED {
		t.Fatalf("received %+v, delivery %v", rs, ds[0])
	}
}

func TestRedeliverSendsTheSameID(t *testing.T) {
	e := startHooks(t)
	r := newReceiver(t)
	ep := e.register(t, e.keyA, r, webhook.UploadSucceeded)
	e.publish(t, e.keyA, "upload-5-succeeded", webhook.UploadSucceeded, `{"upload":"uploads/5"}`)
	first := e.settled(t, e.keyA, ep.GetName(), 1)[0]
	again, err := e.client.RedeliverWebhook(testsupport.WithKey(e.keyA), &engagementv1.RedeliverWebhookRequest{Name: first.GetName()})
	if err != nil {
		t.Fatal(err)
	}
	if again.GetName() == first.GetName() || again.GetEventId() != "upload-5-succeeded" || again.GetState() != engagementv1.WebhookDeliveryState_WEBHOOK_DELIVERY_STATE_PENDING {
		t.Fatalf("redelivery %v", again)
	}
	e.settled(t, e.keyA, ep.GetName(), 2)
	rs := r.receipts()
	if len(rs) != 2 || rs[0].id != rs[1].id || string(rs[0].event.Data) != string(rs[1].event.Data) || !rs[0].event.Timestamp.Equal(rs[1].event.Timestamp) {
		t.Fatalf("received %+v, want the same event twice", rs)
	}
	if _, err := e.client.RedeliverWebhook(testsupport.WithKey(e.keyB), &engagementv1.RedeliverWebhookRequest{Name: first.GetName()}); status.Code(err) != codes.NotFound {
		t.Fatalf("another tenant's redelivery: %v, want NotFound", err)
	}
}

func TestEndpointFailingForADayIsDisabled(t *testing.T) {
	e := startHooks(t)
	failing, healthy := newReceiver(t), newReceiver(t)
	failing.down.Store(true)
	bad := e.register(t, e.keyA, failing, webhook.UploadSucceeded)
	e.register(t, e.keyA, healthy, webhook.ReportReady)
	e.publish(t, e.keyA, "upload-1-succeeded", webhook.UploadSucceeded, `{}`)
	testsupport.WaitFor(t, "failed attempts", 20*time.Second, func() bool { return failing.refusals() >= 2 })
	// Failing for 23 hours is not enough. Each step publishes an event of
	// its own, so that an attempt is made at the moved clock however fast
	// the first event spent its attempts.
	e.skew.Store(int64(23 * time.Hour))
	n := failing.refusals()
	e.publish(t, e.keyA, "upload-2-succeeded", webhook.UploadSucceeded, `{}`)
	testsupport.WaitFor(t, "another failed attempt", 20*time.Second, func() bool { return failing.refusals() > n })
	if ep, err := e.client.GetWebhookEndpoint(testsupport.WithKey(e.keyA), &engagementv1.GetWebhookEndpointRequest{Name: bad.GetName()}); err != nil ||
		ep.GetState() != engagementv1.WebhookEndpointState_WEBHOOK_ENDPOINT_STATE_ENABLED {
		t.Fatalf("after 23 h: %v, %v", ep, err)
	}
	e.skew.Store(int64(24*time.Hour + time.Minute))
	e.publish(t, e.keyA, "upload-3-succeeded", webhook.UploadSucceeded, `{}`)
	var ep *engagementv1.WebhookEndpoint
	testsupport.WaitFor(t, "the endpoint disabled", 20*time.Second, func() bool {
		var err error
		ep, err = e.client.GetWebhookEndpoint(testsupport.WithKey(e.keyA), &engagementv1.GetWebhookEndpointRequest{Name: bad.GetName()})
		return err == nil && ep.GetState() == engagementv1.WebhookEndpointState_WEBHOOK_ENDPOINT_STATE_DISABLED
	})
	if !strings.HasPrefix(ep.GetDisabledReason(), "every delivery failed from ") || ep.GetDisableTime() == nil {
		t.Fatalf("disabled endpoint %v", ep)
	}
	// The tenant's other endpoint is told, whatever it subscribes to.
	testsupport.WaitFor(t, "the notice", 20*time.Second, func() bool { return len(healthy.receipts()) == 1 })
	rc := healthy.receipts()[0]
	var notice struct {
		Endpoint string `json:"endpoint"`
		Reason   string `json:"reason"`
	}
	if err := json.Unmarshal(rc.event.Data, &notice); err != nil || rc.event.Type != webhook.EndpointDisabled || notice.Endpoint != bad.GetName() ||
		notice.Reason != ep.GetDisabledReason() {
		t.Fatalf("notice %+v (%s): %v", rc, rc.event.Data, err)
	}
	// Nothing is left pending: the last event's delivery is skipped (the
	// first ones too, unless they had spent their attempts).
	ds := e.deliveries(t, e.keyA, bad.GetName())
	if len(ds) != 3 || ds[0].GetEventId() != "upload-3-succeeded" || ds[0].GetState() != engagementv1.WebhookDeliveryState_WEBHOOK_DELIVERY_STATE_SKIPPED {
		t.Fatalf("deliveries of the disabled endpoint: %v", ds)
	}
	for _, d := range ds {
		if d.GetState() == engagementv1.WebhookDeliveryState_WEBHOOK_DELIVERY_STATE_PENDING {
			t.Fatalf("delivery %v still pending on a disabled endpoint", d)
		}
	}
	// A disabled endpoint gets nothing more, and its deliveries are not
	// sent again.
	if resp := e.publish(t, e.keyA, "upload-4-succeeded", webhook.UploadSucceeded, `{}`); resp.GetDeliveries() != 0 {
		t.Fatalf("published to a disabled endpoint: %v", resp)
	}
	skipped := e.deliveries(t, e.keyA, bad.GetName())[0]
	if _, err := e.client.RedeliverWebhook(testsupport.WithKey(e.keyA), &engagementv1.RedeliverWebhookRequest{Name: skipped.GetName()}); status.Code(err) != codes.FailedPrecondition {
		t.Fatalf("redeliver to a disabled endpoint: %v", err)
	}

	// Its receiver fixed, the tenant enables it again: same secret (the
	// receiver checks every signature), new events delivered, a skipped
	// delivery redelivered. Another tenant cannot.
	enable := func(key string) (*engagementv1.WebhookEndpoint, error) {
		return e.client.EnableWebhookEndpoint(testsupport.WithKey(key), &engagementv1.EnableWebhookEndpointRequest{Name: bad.GetName()})
	}
	if _, err := enable(e.keyB); status.Code(err) != codes.NotFound {
		t.Fatalf("another tenant enabling it: %v, want NotFound", err)
	}
	failing.down.Store(false)
	en, err := enable(e.keyA)
	if err != nil || en.GetState() != engagementv1.WebhookEndpointState_WEBHOOK_ENDPOINT_STATE_ENABLED || en.GetDisabledReason() != "" ||
		en.GetDisableTime() != nil || en.GetSecret() != "" || en.GetUrl() != bad.GetUrl() {
		t.Fatalf("enabled endpoint %v, %v", en, err)
	}
	if resp := e.publish(t, e.keyA, "upload-5-succeeded", webhook.UploadSucceeded, `{}`); resp.GetDeliveries() != 1 {
		t.Fatalf("published after enabling: %v", resp)
	}
	if _, err := e.client.RedeliverWebhook(testsupport.WithKey(e.keyA), &engagementv1.RedeliverWebhookRequest{Name: skipped.GetName()}); err != nil {
		t.Fatalf("redeliver after enabling: %v", err)
	}
	testsupport.WaitFor(t, "deliveries after enabling", 20*time.Second, func() bool { return len(failing.receipts()) == 2 })
	got := []string{failing.receipts()[0].id, failing.receipts()[1].id}
	slices.Sort(got)
	if !slices.Equal(got, []string{"upload-3-succeeded", "upload-5-succeeded"}) {
		t.Fatalf("received after enabling %v", got)
	}
	if again, err := enable(e.keyA); err != nil || again.GetState() != engagementv1.WebhookEndpointState_WEBHOOK_ENDPOINT_STATE_ENABLED {
		t.Fatalf("enabling an enabled endpoint: %v, %v", again, err)
	}
}

// testBoxKey seals the test endpoints' secrets.
var testBoxKey = []byte("0123456789abcdef0123456789abcdef")

// A secret is stored sealed, never in the clear, and deliveries are signed
// with it; one stored in the clear by an older version is sealed by
// SealSecrets and still signs.
func TestSecretsAreStoredSealed(t *testing.T) {
	e := startHooks(t)
	recv := newReceiver(t)
	ep := e.register(t, e.keyA, recv, webhook.UploadSucceeded)
	secret := ep.GetSecret()
	stored := func() string {
		var s string
		if err := e.pool.QueryRow(context.Background(), `SELECT secret FROM engagement.webhook_endpoints`).Scan(&s); err != nil {
			t.Fatal(err)
		}
		return s
	}
	raw := strings.TrimPrefix(secret, "whsec_")
	if s := stored(); !secretbox.Sealed(s) || strings.Contains(s, raw) {
		t.Fatalf("stored secret %q: want it sealed, not %q", s, secret)
	}
	e.publish(t, e.keyA, "upload-1-succeeded", webhook.UploadSucceeded, `{}`)
	testsupport.WaitFor(t, "the signed delivery", 20*time.Second, func() bool { return len(recv.receipts()) == 1 })

	// As an older version left it: in the clear.
	if _, err := e.pool.Exec(context.Background(), `UPDATE engagement.webhook_endpoints SET secret = $1`, secret); err != nil {
		t.Fatal(err)
	}
	box, err := secretbox.New(testBoxKey)
	if err != nil {
		t.Fatal(err)
	}
	st := store.New(e.pool).WithSecrets(box)
	if n, err := st.SealSecrets(context.Background()); err != nil || n != 1 {
		t.Fatalf("SealSecrets = %d, %v; want 1", n, err)
	}
	if s := stored(); !secretbox.Sealed(s) || strings.Contains(s, raw) {
		t.Fatalf("after SealSecrets: %q, want it sealed", s)
	}
	if n, err := st.SealSecrets(context.Background()); err != nil || n != 0 {
		t.Fatalf("SealSecrets again = %d, %v; want 0", n, err)
	}
	e.publish(t, e.keyA, "upload-2-succeeded", webhook.UploadSucceeded, `{}`)
	testsupport.WaitFor(t, "the delivery signed with the sealed secret", 20*time.Second, func() bool { return len(recv.receipts()) == 2 })
}

// Secrets move to a new key (WEBHOOK_SECRET_KEY set, the old key kept to
// open): SealSecrets seals each again under it, after which the new key
// alone opens them; a box without the key they are under changes nothing
// and names the endpoint.
func TestSecretsMoveToANewKey(t *testing.T) {
	ctx := context.Background()
	e := startHooks(t)
	ep := e.register(t, e.keyA, newReceiver(t), webhook.UploadSucceeded)
	var id int64
	var tenant, before string
	if err := e.pool.QueryRow(ctx, `SELECT id, tenant_id::text, secret FROM engagement.webhook_endpoints`).Scan(&id, &tenant, &before); err != nil {
		t.Fatal(err)
	}
	newKey, otherKey := bytes.Repeat([]byte{9}, 32), bytes.Repeat([]byte{5}, 32)
	other, err := secretbox.New(otherKey)
	if err != nil {
		t.Fatal(err)
	}
	n, err := store.New(e.pool).WithSecrets(other).SealSecrets(ctx)
	if want := fmt.Sprintf("endpoints %d open under none", id); n != 0 || !errors.Is(err, secretbox.ErrOpen) || !strings.Contains(fmt.Sprint(err), want) {
		t.Fatalf("SealSecrets under a key that opens nothing = %d, %v; want an error naming %q", n, err, want)
	}
	stored := func() string {
		var s string
		if err := e.pool.QueryRow(ctx, `SELECT secret FROM engagement.webhook_endpoints WHERE id = $1`, id).Scan(&s); err != nil {
			t.Fatal(err)
		}
		return s
	}
	if s := stored(); s != before {
		t.Fatalf("a failed SealSecrets changed the secret: %q -> %q", before, s)
	}

	moving, err := secretbox.New(newKey, testBoxKey)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := store.New(e.pool).WithSecrets(moving).SealSecrets(ctx); err != nil || n != 1 {
		t.Fatalf("SealSecrets = %d, %v; want 1", n, err)
	}
	after := stored()
	alone, err := secretbox.New(newKey)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := alone.Open(after, tenant); err != nil || got != ep.GetSecret() || !strings.HasPrefix(after, alone.Current()) {
		t.Fatalf("sealed again as %q: the new key alone opens it to %q, %v; want %q", after, got, err, ep.GetSecret())
	}
	if n, err := store.New(e.pool).WithSecrets(moving).SealSecrets(ctx); err != nil || n != 0 {
		t.Fatalf("SealSecrets again = %d, %v; want 0", n, err)
	}
}

// A key, even one that writes, cannot publish an event: the receivers
// would take the platform's signature on it.
func TestAKeyCannotPublishAnEvent(t *testing.T) {
	e := startHooks(t)
	recv := newReceiver(t)
	e.register(t, e.keyA, recv, webhook.UploadSucceeded)
	_, err := e.client.PublishEvent(testsupport.WithKey(e.keyA), &engagementv1.PublishEventRequest{
		EventId: "upload-1-succeeded", Type: webhook.UploadSucceeded, Data: `{"upload":"uploads/1"}`})
	if status.Code(err) != codes.PermissionDenied {
		t.Fatalf("PublishEvent with tenant A's key: %v, want PermissionDenied", err)
	}
	if resp := e.publish(t, e.keyA, "upload-1-succeeded", webhook.UploadSucceeded, `{"upload":"uploads/1"}`); !resp.GetPublished() || resp.GetDeliveries() != 1 {
		t.Fatalf("the same event from a service: %v, want it published once", resp)
	}
}

func TestWebhookBadInput(t *testing.T) {
	e := startHooks(t)
	ctx, svc := testsupport.WithKey(e.keyA), e.asService(t, e.keyA)
	create := func(url string, events ...string) error {
		_, err := e.client.CreateWebhookEndpoint(ctx, &engagementv1.CreateWebhookEndpointRequest{Endpoint: &engagementv1.WebhookEndpoint{Url: url, Events: events}})
		return err
	}
	for _, c := range []struct {
		name, field string
		err         error
	}{
		{"no url", "endpoint.url", create("", webhook.ReportReady)},
		{"plain http elsewhere", "endpoint.url", create("http://example.com/hook", webhook.ReportReady)},
		{"ftp", "endpoint.url", create("ftp://example.com/hook", webhook.ReportReady)},
		{"relative", "endpoint.url", create("/hook", webhook.ReportReady)},
		{"credentials", "endpoint.url", create("https://u:p@example.com/hook", webhook.ReportReady)},
		{"no events", "endpoint.events", create("https://example.com/hook")},
		{"unknown event", "endpoint.events[1]", create("https://example.com/hook", webhook.ReportReady, "upload.deleted")},
		{"no endpoint", "endpoint", func() error {
			_, err := e.client.CreateWebhookEndpoint(ctx, &engagementv1.CreateWebhookEndpointRequest{})
			return err
		}()},
		{"bad name", "name", func() error {
			_, err := e.client.GetWebhookEndpoint(ctx, &engagementv1.GetWebhookEndpointRequest{Name: "campaigns/1"})
			return err
		}()},
		{"bad enable name", "name", func() error {
			_, err := e.client.EnableWebhookEndpoint(ctx, &engagementv1.EnableWebhookEndpointRequest{Name: "webhookEndpoints/x"})
			return err
		}()},
		{"bad parent", "parent", func() error {
			_, err := e.client.ListWebhookDeliveries(ctx, &engagementv1.ListWebhookDeliveriesRequest{Parent: "webhookEndpoints/x"})
			return err
		}()},
		{"no event id", "event_id", func() error {
			_, err := e.client.PublishEvent(svc, &engagementv1.PublishEventRequest{Type: webhook.ReportReady})
			return err
		}()},
		{"unknown type", "type", func() error {
			_, err := e.client.PublishEvent(svc, &engagementv1.PublishEventRequest{EventId: "x", Type: webhook.EndpointDisabled})
			return err
		}()},
		{"data not an object", "data", func() error {
			_, err := e.client.PublishEvent(svc, &engagementv1.PublishEventRequest{EventId: "x", Type: webhook.ReportReady, Data: "[1]"})
			return err
		}()},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := violation(t, c.err); got != c.field {
				t.Fatalf("field %q, want %q", got, c.field)
			}
		})
	}
	for _, url := range []string{"https://example.com/hook", "http://localhost:8080/hook", "http://127.0.0.1/hook"} {
		if err := create(url, webhook.ReportReady); err != nil {
			t.Errorf("%s: %v", url, err)
		}
	}
}

func TestWebhooksAreTenantIsolated(t *testing.T) {
	e := startHooks(t)
	ra, rb := newReceiver(t), newReceiver(t)
	epA := e.register(t, e.keyA, ra, webhook.ReportReady)
	epB := e.register(t, e.keyB, rb, webhook.ReportReady)
	// The same event id in two tenants is two events, each to its own.
	e.publish(t, e.keyA, "report-1-ready", webhook.ReportReady, `{"tenant":"a"}`)
	e.publish(t, e.keyB, "report-1-ready", webhook.ReportReady, `{"tenant":"b"}`)
	e.settled(t, e.keyA, epA.GetName(), 1)
	e.settled(t, e.keyB, epB.GetName(), 1)
	if a, b := ra.receipts(), rb.receipts(); len(a) != 1 || string(a[0].event.Data) != `{"tenant":"a"}` || len(b) != 1 || string(b[0].event.Data) != `{"tenant":"b"}` {
		t.Fatalf("a received %+v, b received %+v", a, b)
	}
	ctxB := testsupport.WithKey(e.keyB)
	if _, err := e.client.GetWebhookEndpoint(ctxB, &engagementv1.GetWebhookEndpointRequest{Name: epA.GetName()}); status.Code(err) != codes.NotFound {
		t.Fatalf("b reading a's endpoint: %v", err)
	}
	if _, err := e.client.ListWebhookDeliveries(ctxB, &engagementv1.ListWebhookDeliveriesRequest{Parent: epA.GetName()}); status.Code(err) != codes.NotFound {
		t.Fatalf("b listing a's deliveries: %v", err)
	}
	if _, err := e.client.DeleteWebhookEndpoint(ctxB, &engagementv1.DeleteWebhookEndpointRequest{Name: epA.GetName()}); status.Code(err) != codes.NotFound {
		t.Fatalf("b deleting a's endpoint: %v", err)
	}
	list, err := e.client.ListWebhookEndpoints(ctxB, &engagementv1.ListWebhookEndpointsRequest{})
	if err != nil || len(list.GetEndpoints()) != 1 || list.GetEndpoints()[0].GetName() != epB.GetName() {
		t.Fatalf("b's endpoints: %v, %v", list, err)
	}
	if _, err := e.client.DeleteWebhookEndpoint(testsupport.WithKey(e.keyA), &engagementv1.DeleteWebhookEndpointRequest{Name: epA.GetName()}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.client.GetWebhookEndpoint(testsupport.WithKey(e.keyA), &engagementv1.GetWebhookEndpointRequest{Name: epA.GetName()}); status.Code(err) != codes.NotFound {
		t.Fatalf("deleted endpoint: %v", err)
	}
}

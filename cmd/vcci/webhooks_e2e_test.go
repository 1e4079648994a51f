package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/trace/noop"

	"github.com/vcci-dev/vcci/pkg/testsupport"
	"github.com/vcci-dev/vcci/pkg/webhook"
)

// The whole path of a webhook: an endpoint registered through REST, an
// upload through REST, intake's event published to engagement from its
// River job, and engagement's signed delivery to a real receiver; then
// the delivery log and a redelivery through REST, and another tenant
// seeing none of it.
func TestUploadWebhookThroughREST(t *testing.T) {
	p := start(t, noop.NewTracerProvider())
	recv := newReceiver(t)
	received := recv.received
	ep := recv.register(t, p, "upload.succeeded")
	var bad struct {
		Code    int
		Details []struct {
			FieldViolations []struct{ Field string }
		}
	}
	if code := p.call(t, "POST", "/v1/webhookEndpoints", p.key, strings.NewReader(`{"url":"http://example.com/h","events":["upload.succeeded"]}`), &bad); code != http.StatusBadRequest ||
		len(bad.Details) == 0 || len(bad.Details[0].FieldViolations) == 0 || bad.Details[0].FieldViolations[0].Field != "endpoint.url" {
		t.Fatalf("plain http to another host: HTTP %d %+v", code, bad)
	}
	// Enabling an enabled endpoint through REST answers it as it is.
	var en endpoint
	if code := p.call(t, "POST", "/v1/"+ep.Name+":enable", p.key, strings.NewReader(`{}`), &en); code != http.StatusOK ||
		en.State != "WEBHOOK_ENDPOINT_STATE_ENABLED" || en.Name != ep.Name || en.Secret != "" {
		t.Fatalf("enable: HTTP %d %+v", code, en)
	}

	up := p.upload(t, p.key, []byte(oneLine))
	if u := p.wait(t, p.key, up.Name); u.State != "UPLOAD_STATE_SUCCEEDED" {
		t.Fatalf("upload: %+v", u)
	}
	testsupport.WaitFor(t, "the webhook", 30*time.Second, func() bool { evs, _ := received(); return len(evs) == 1 })
	evs, evIDs := received()
	var data struct {
		Upload       string `json:"upload"`
		KgCO2e       string `json:"kg_co2e"`
		RowsAccepted int64  `json:"rows_accepted"`
	}
	if err := json.Unmarshal(evs[0].Data, &data); err != nil || evs[0].Type != webhook.UploadSucceeded || data.Upload != up.Name ||
		data.RowsAccepted != 1 || data.KgCO2e == "" || evIDs[0] != "upload-"+strings.TrimPrefix(up.Name, "uploads/")+"-succeeded" {
		t.Fatalf("received %s %+v (%s): %v", evIDs[0], evs[0], evs[0].Data, err)
	}

	var ds struct {
		Deliveries []struct {
			Name, EventID, State string
			StatusCode, Attempts int
		}
	}
	testsupport.WaitFor(t, "the delivery logged", 10*time.Second, func() bool {
		return p.call(t, "GET", "/v1/"+ep.Name+"/deliveries", p.key, nil, &ds) == http.StatusOK && len(ds.Deliveries) == 1 &&
			ds.Deliveries[0].State == "WEBHOOK_DELIVERY_STATE_DELIVERED"
	})
	if d := ds.Deliveries[0]; d.EventID != evIDs[0] || d.StatusCode != http.StatusOK || d.Attempts != 1 {
		t.Fatalf("delivery %+v", d)
	}
	if code := p.call(t, "POST", "/v1/"+ds.Deliveries[0].Name+":redeliver", p.key, strings.NewReader(`{}`), nil); code != http.StatusOK {
		t.Fatalf("redeliver: HTTP %d", code)
	}
	testsupport.WaitFor(t, "the redelivery", 30*time.Second, func() bool { evs, _ := received(); return len(evs) == 2 })
	if _, ids := received(); ids[1] != ids[0] {
		t.Fatalf("redelivered as %s, want %s", ids[1], ids[0])
	}

	// Another tenant's key sees none of it.
	otherKey := testsupport.Key(t, p.pool, "globex-webhooks")
	var list struct{ Endpoints []struct{ Name string } }
	if code := p.call(t, "GET", "/v1/webhookEndpoints", otherKey, nil, &list); code != http.StatusOK || len(list.Endpoints) != 0 {
		t.Fatalf("another tenant's list: HTTP %d %+v", code, list)
	}
	if code := p.call(t, "GET", "/v1/"+ep.Name, otherKey, nil, nil); code != http.StatusNotFound {
		t.Fatalf("another tenant reading the endpoint: HTTP %d", code)
	}
}

// receiver is a tenant's webhook endpoint: a real HTTP server that
// verifies every delivery's signature and keeps what it got, in order.
type receiver struct {
	srv    *httptest.Server
	mu     sync.Mutex
	secret string
	got    []webhook.Envelope
	ids    []string
}

func newReceiver(t *testing.T) *receiver {
	t.Helper()
	r := &receiver{}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		defer r.mu.Unlock()
		if err := webhook.Verify(r.secret, req.Header, body, time.Now()); err != nil {
			t.Errorf("receiver: %v", err)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		var ev webhook.Envelope
		if err := json.Unmarshal(body, &ev); err != nil {
			t.Errorf("receiver: %s: %v", body, err)
		}
		r.got, r.ids = append(r.got, ev), append(r.ids, req.Header.Get(webhook.HeaderID))
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

// endpoint is a registered webhook endpoint as REST returns it.
type endpoint struct {
	Name, URL, Secret, State string
	Events                   []string
}

// register makes r the tenant's endpoint for events, through REST.
func (r *receiver) register(t *testing.T, p platform, events ...string) endpoint {
	t.Helper()
	var ep endpoint
	body := `{"url":"` + r.srv.URL + `/hooks","events":["` + strings.Join(events, `","`) + `"],"description":"e2e"}`
	if code := p.call(t, "POST", "/v1/webhookEndpoints", p.key, strings.NewReader(body), &ep); code != http.StatusOK ||
		!strings.HasPrefix(ep.Secret, "whsec_") || ep.State != "WEBHOOK_ENDPOINT_STATE_ENABLED" {
		t.Fatalf("create endpoint: HTTP %d %+v", code, ep)
	}
	r.mu.Lock()
	r.secret = ep.Secret
	r.mu.Unlock()
	return ep
}

// received is what r got so far, and each delivery's webhook-id.
func (r *receiver) received() ([]webhook.Envelope, []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]webhook.Envelope(nil), r.got...), append([]string(nil), r.ids...)
}

package engagement

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/vcci-dev/vcci/pkg/apperr"
	"github.com/vcci-dev/vcci/pkg/webhook"
)

// Webhook sentinels.
var (
	ErrEndpointNotFound = apperr.New(apperr.NotFound, "webhook endpoint not found")
	ErrDeliveryNotFound = apperr.New(apperr.NotFound, "webhook delivery not found")
	ErrEndpointDisabled = apperr.New(apperr.FailedPrecondition, "the webhook endpoint is disabled: create a new one")
)

// Limits on endpoints and events.
const (
	MaxURL         = 2048
	MaxDescription = 500
	MaxEventID     = 200
	MaxEventData   = 64 << 10
	// MaxEndpoints is how many endpoints a tenant may have: every event is
	// sent to each.
	MaxEndpoints = 20
)

// DisableAfter is how long an endpoint may fail every delivery before it is
// disabled.
const DisableAfter = 24 * time.Hour

// DeliveryTimeout bounds one attempt's request, answer included.
const DeliveryTimeout = 10 * time.Second

// RetrySchedule is the wait after each failed attempt: a receiver that is
// down for a day still gets the event, the last attempt coming more than a
// day after the first, by which time the endpoint is disabled if nothing
// got through.
var RetrySchedule = []time.Duration{
	5 * time.Second, 30 * time.Second, 2 * time.Minute, 10 * time.Minute, time.Hour,
	3 * time.Hour, 6 * time.Hour, 6 * time.Hour, 6 * time.Hour, 6 * time.Hour,
}

// DeliveryState is a delivery's state (values match the contract's enum).
type DeliveryState int16

// Delivery states.
const (
	Pending   DeliveryState = 1
	Delivered DeliveryState = 2
	Failed    DeliveryState = 3
	Skipped   DeliveryState = 4
)

// Endpoint is a URL a tenant receives events at.
type Endpoint struct {
	ID             int64
	URL            string
	Events         []string
	Description    string
	Secret         string // shown once, on creation
	Enabled        bool
	DisabledReason string
	DisabledAt     time.Time
	CreatedAt      time.Time
}

// Event is what a service published.
type Event struct {
	ID   string
	Type string
	Data json.RawMessage
}

// Delivery is an event's delivery to an endpoint, and how it went.
type Delivery struct {
	ID         int64
	EndpointID int64
	EventID    string
	EventType  string
	State      DeliveryState
	StatusCode int32
	LatencyMs  int64
	Attempts   int32
	LastError  string
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

// Send is what an attempt needs: where, how to sign, what.
type Send struct {
	EndpointID int64
	URL        string
	Secret     string
	EventID    string
	Body       []byte
	// Skip: the delivery is no longer pending or its endpoint is disabled.
	Skip bool
}

// Attempt is one attempt's outcome.
type Attempt struct {
	At         time.Time
	StatusCode int32 // 0: no answer
	Latency    time.Duration
	Error      string // "" when delivered
	Last       bool   // no retry follows
}

// EndpointStore keeps a tenant's endpoints.
type EndpointStore interface {
	CreateEndpoint(ctx context.Context, tenant uuid.UUID, e Endpoint, limit int) (Endpoint, error)
	Endpoint(ctx context.Context, tenant uuid.UUID, id int64) (Endpoint, error)
	Endpoints(ctx context.Context, tenant uuid.UUID, after Cursor, limit int) ([]Endpoint, error)
	DeleteEndpoint(ctx context.Context, tenant uuid.UUID, id int64) error
	// EnableEndpoint enables an endpoint and clears its failures.
	EnableEndpoint(ctx context.Context, tenant uuid.UUID, id int64) (Endpoint, error)
}

// WebhookStore keeps endpoints, events and deliveries, each tenant's apart,
// and queues delivery jobs in the transactions that create deliveries.
type WebhookStore interface {
	EndpointStore
	Deliveries(ctx context.Context, tenant uuid.UUID, endpoint int64, after Cursor, limit int) ([]Delivery, error)
	// Redeliver queues the delivery's event to its endpoint again, as a new
	// delivery.
	Redeliver(ctx context.Context, tenant uuid.UUID, delivery int64) (Delivery, error)
	// Publish stores the event with body, unless its id is stored already,
	// and queues a delivery to every enabled endpoint subscribed to its
	// type (every enabled endpoint when all).
	Publish(ctx context.Context, tenant uuid.UUID, e Event, body []byte, all bool) (published bool, deliveries int, err error)
	// Send returns what a delivery's next attempt sends.
	Send(ctx context.Context, tenant uuid.UUID, delivery int64) (Send, error)
	// RecordAttempt logs an attempt on the delivery and its endpoint, and
	// returns since when the endpoint has failed (zero: it has not).
	RecordAttempt(ctx context.Context, tenant uuid.UUID, delivery int64, a Attempt) (failingSince time.Time, err error)
	// DisableEndpoint disables an enabled endpoint, skips its pending
	// deliveries and publishes notice to the tenant's other enabled
	// endpoints, in one transaction; false if it was not enabled.
	DisableEndpoint(ctx context.Context, tenant uuid.UUID, id int64, reason string, at time.Time, notice Event, body []byte) (bool, error)
}

// Webhooks is the webhook side of engagement: endpoints, publishing and
// delivering.
type Webhooks struct {
	store WebhookStore
	// Now is the clock; tests move it to simulate a day of failures.
	Now func() time.Time
	// AllowHTTP lets endpoints use plain http to any host (tests' receivers
	// on other addresses); otherwise only localhost and 127.0.0.1 may, when
	// AllowPrivate lets them.
	AllowHTTP bool
	// AllowPrivate lets endpoints be on loopback, private and link-local
	// addresses (a developer's own receiver). Off, a URL naming such an
	// address is refused, and a delivery does not connect to one, whatever
	// its host name resolves to then.
	AllowPrivate bool
}

// NewWebhooks returns the Webhooks over store.
func NewWebhooks(store WebhookStore) *Webhooks { return &Webhooks{store: store, Now: time.Now} }

// CreateEndpoint validates e and registers it with a new secret.
func (w *Webhooks) CreateEndpoint(ctx context.Context, tenant uuid.UUID, e Endpoint) (Endpoint, error) {
	if err := w.validURL(e.URL); err != nil {
		return Endpoint{}, err
	}
	e.Description = strings.TrimSpace(e.Description)
	switch {
	case utf8.RuneCountInString(e.Description) > MaxDescription:
		return Endpoint{}, apperr.Invalid("endpoint.description", "must be at most %d characters", MaxDescription)
	case strings.ContainsRune(e.Description, 0) || !utf8.ValidString(e.Description):
		return Endpoint{}, apperr.Invalid("endpoint.description", "is not valid text")
	case len(e.Events) == 0:
		return Endpoint{}, apperr.Invalid("endpoint.events", "is required: any of %s", strings.Join(webhook.Types, ", "))
	}
	events := make([]string, 0, len(e.Events))
	for i, t := range e.Events {
		if !slices.Contains(webhook.Types, t) {
			return Endpoint{}, apperr.Invalid(fmt.Sprintf("endpoint.events[%d]", i), "%q is not one of %s", t, strings.Join(webhook.Types, ", "))
		}
		if !slices.Contains(events, t) {
			events = append(events, t)
		}
	}
	e.Events = events
	secret, err := webhook.NewSecret()
	if err != nil {
		return Endpoint{}, fmt.Errorf("engagement.CreateEndpoint: %w", err)
	}
	e.Secret = secret
	return w.store.CreateEndpoint(ctx, tenant, e, MaxEndpoints)
}

func (w *Webhooks) validURL(raw string) error {
	const field = "endpoint.url"
	if raw == "" {
		return apperr.Invalid(field, "is required")
	}
	if len(raw) > MaxURL {
		return apperr.Invalid(field, "must be at most %d bytes", MaxURL)
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.Opaque != "" {
		return apperr.Invalid(field, "is not an absolute URL")
	}
	if u.User != nil {
		return apperr.Invalid(field, "must not hold credentials: deliveries are signed")
	}
	if u.Fragment != "" {
		return apperr.Invalid(field, "must not have a fragment")
	}
	host := u.Hostname()
	if !w.AllowPrivate {
		if ip, err := netip.ParseAddr(host); host == "localhost" || err == nil && privateAddr(ip) {
			return apperr.Invalid(field, "%s is a loopback, private or link-local address: endpoints must be reachable on the internet", host)
		}
	}
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && (w.AllowHTTP || w.AllowPrivate && (host == "localhost" || host == "127.0.0.1")):
	case u.Scheme == "http":
		return apperr.Invalid(field, "must be https")
	default:
		return apperr.Invalid(field, "scheme %q is not https", u.Scheme)
	}
	return nil
}

// cgnat is the shared address space of carrier-grade NAT (RFC 6598),
// private to a provider's network.
var cgnat = netip.MustParsePrefix("100.64.0.0/10")

// privateAddr reports an address a tenant's webhook must not reach: the
// platform's own host and networks, and cloud metadata (link-local).
func privateAddr(ip netip.Addr) bool {
	ip = ip.Unmap()
	return ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() ||
		ip.IsInterfaceLocalMulticast() || ip.IsMulticast() || ip.IsUnspecified() || cgnat.Contains(ip)
}

// refusePrivate is a dialer's Control: it refuses a connection to a
// private address, checked on the address being dialled, after DNS.
func refusePrivate(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("webhook delivery: dial %s: %w", address, err)
	}
	if privateAddr(ap.Addr()) {
		return fmt.Errorf("webhook delivery: %s is a loopback, private or link-local address, refused", ap.Addr())
	}
	return nil
}

// Endpoint returns one of the tenant's endpoints, without its secret.
func (w *Webhooks) Endpoint(ctx context.Context, tenant uuid.UUID, id int64) (Endpoint, error) {
	return w.store.Endpoint(ctx, tenant, id)
}

// Endpoints lists the tenant's endpoints after the cursor, newest first.
func (w *Webhooks) Endpoints(ctx context.Context, tenant uuid.UUID, after Cursor, limit int) ([]Endpoint, error) {
	return w.store.Endpoints(ctx, tenant, after, limit)
}

// DeleteEndpoint deletes an endpoint and its deliveries.
func (w *Webhooks) DeleteEndpoint(ctx context.Context, tenant uuid.UUID, id int64) error {
	return w.store.DeleteEndpoint(ctx, tenant, id)
}

// EnableEndpoint enables an endpoint disabled after its failures; an
// enabled one stays as it is.
func (w *Webhooks) EnableEndpoint(ctx context.Context, tenant uuid.UUID, id int64) (Endpoint, error) {
	return w.store.EnableEndpoint(ctx, tenant, id)
}

// Deliveries lists an endpoint's deliveries after the cursor, newest first.
func (w *Webhooks) Deliveries(ctx context.Context, tenant uuid.UUID, endpoint int64, after Cursor, limit int) ([]Delivery, error) {
	if _, err := w.store.Endpoint(ctx, tenant, endpoint); err != nil {
		return nil, err
	}
	return w.store.Deliveries(ctx, tenant, endpoint, after, limit)
}

// Redeliver queues a delivery's event to its endpoint again.
func (w *Webhooks) Redeliver(ctx context.Context, tenant uuid.UUID, delivery int64) (Delivery, error) {
	return w.store.Redeliver(ctx, tenant, delivery)
}

// Publish records the event and queues its deliveries; a repeat of an id
// does nothing.
func (w *Webhooks) Publish(ctx context.Context, tenant uuid.UUID, e Event) (bool, int, error) {
	switch {
	case e.ID == "":
		return false, 0, apperr.Invalid("event_id", "is required")
	case len(e.ID) > MaxEventID || !utf8.ValidString(e.ID) || strings.ContainsAny(e.ID, "\x00\r\n"):
		return false, 0, apperr.Invalid("event_id", "must be at most %d bytes of text on one line", MaxEventID)
	case !slices.Contains(webhook.Types, e.Type):
		return false, 0, apperr.Invalid("type", "%q is not one of %s", e.Type, strings.Join(webhook.Types, ", "))
	case len(e.Data) > MaxEventData:
		return false, 0, apperr.Invalid("data", "must be at most %d bytes", MaxEventData)
	}
	if len(e.Data) == 0 {
		e.Data = json.RawMessage("{}")
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(e.Data, &obj); err != nil || obj == nil {
		return false, 0, apperr.Invalid("data", "is not a JSON object")
	}
	body, err := w.envelope(e)
	if err != nil {
		return false, 0, err
	}
	return w.store.Publish(ctx, tenant, e, body, false)
}

func (w *Webhooks) envelope(e Event) ([]byte, error) {
	var data bytes.Buffer
	if err := json.Compact(&data, e.Data); err != nil {
		return nil, apperr.Invalid("data", "is not JSON")
	}
	body, err := json.Marshal(webhook.Envelope{Type: e.Type, Timestamp: w.Now().UTC().Truncate(time.Millisecond), Data: data.Bytes()})
	if err != nil {
		return nil, fmt.Errorf("engagement.envelope: %w", err)
	}
	return body, nil
}

// DeliverArgs is a delivery job: one delivery, all its attempts.
type DeliverArgs struct {
	Tenant   uuid.UUID `json:"tenant"`
	Delivery int64     `json:"delivery"`
}

// DeliverQueue is the deliveries' River queue.
const DeliverQueue = "webhooks"

// Kind names the job for River.
func (DeliverArgs) Kind() string { return "engagement.webhook_delivery" }

// InsertOpts gives every delivery the attempts of RetrySchedule.
func (DeliverArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: DeliverQueue, MaxAttempts: len(RetrySchedule) + 1}
}

// RetryPolicy waits Schedule[n-1] after the n-th failed attempt (the last
// wait for any later one).
type RetryPolicy struct{ Schedule []time.Duration }

// NextRetry implements river.ClientRetryPolicy.
func (p RetryPolicy) NextRetry(job *rivertype.JobRow) time.Time {
	return time.Now().Add(p.Schedule[min(max(job.Attempt, 1), len(p.Schedule))-1])
}

// DeliveryWorker works delivery jobs.
type DeliveryWorker struct {
	river.WorkerDefaults[DeliverArgs]
	w      *Webhooks
	client *http.Client
}

// NewDeliveryWorker returns the worker of w's deliveries.
func NewDeliveryWorker(w *Webhooks) *DeliveryWorker {
	dialer := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	if !w.AllowPrivate {
		dialer.Control = refusePrivate
	}
	return &DeliveryWorker{w: w, client: &http.Client{
		// Straight to the endpoint: a proxy's own address would be the one
		// checked, and the proxy would reach any address.
		Transport: &http.Transport{DialContext: dialer.DialContext, ForceAttemptHTTP2: true,
			TLSHandshakeTimeout: 10 * time.Second, MaxIdleConnsPerHost: 4, IdleConnTimeout: 90 * time.Second},
		Timeout: DeliveryTimeout,
		// A redirect is not a delivery: the endpoint's owner fixes the URL.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// Timeout bounds one attempt, the request and the bookkeeping.
func (*DeliveryWorker) Timeout(*river.Job[DeliverArgs]) time.Duration {
	return DeliveryTimeout + 20*time.Second
}

// Work makes one attempt; an error has River retry it on RetrySchedule.
func (d *DeliveryWorker) Work(ctx context.Context, job *river.Job[DeliverArgs]) error {
	tenant, id := job.Args.Tenant, job.Args.Delivery
	s, err := d.w.store.Send(ctx, tenant, id)
	if errors.Is(err, ErrDeliveryNotFound) || err == nil && s.Skip {
		return nil // its endpoint was deleted or disabled
	}
	if err != nil {
		return fmt.Errorf("delivery %d: %w", id, err)
	}
	// The signature's timestamp is the wall clock's, which receivers check;
	// the injected clock only decides when an endpoint has failed too long.
	at, start := d.w.Now(), time.Now()
	status, perr := d.post(ctx, s, start)
	a := Attempt{At: at, StatusCode: status, Latency: time.Since(start), Last: job.Attempt >= job.MaxAttempts}
	if perr != nil {
		a.Error = perr.Error()
	}
	failingSince, err := d.w.store.RecordAttempt(context.WithoutCancel(ctx), tenant, id, a)
	if err != nil {
		return fmt.Errorf("delivery %d: record attempt: %w", id, err)
	}
	if perr == nil {
		return nil
	}
	if !failingSince.IsZero() && at.Sub(failingSince) >= DisableAfter {
		if err := d.w.disable(context.WithoutCancel(ctx), tenant, s.EndpointID, failingSince, at); err != nil {
			return fmt.Errorf("delivery %d: disable endpoint: %w", id, err)
		}
		return nil // skipped with its endpoint
	}
	return fmt.Errorf("delivery %d: %w", id, perr)
}

// post sends the body signed for at; a nil error is a 2xx.
func (d *DeliveryWorker) post(ctx context.Context, s Send, at time.Time) (int32, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.URL, bytes.NewReader(s.Body))
	if err != nil {
		return 0, fmt.Errorf("build request: %w", err)
	}
	if err := webhook.SetHeaders(req.Header, s.Secret, s.EventID, at, s.Body); err != nil {
		return 0, fmt.Errorf("sign: %w", err)
	}
	req.Header.Set("User-Agent", "vcci-webhooks/1")
	resp, err := d.client.Do(req)
	if err != nil {
		return 0, errors.New(strings.TrimPrefix(err.Error(), "Post \""+s.URL+"\": "))
	}
	defer resp.Body.Close()
	// Read a little so the connection can be reused; the answer is not kept.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
	code := int32(resp.StatusCode) //nolint:gosec // G115: an HTTP status
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return code, fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	return code, nil
}

// disable turns the endpoint off and tells the tenant: the reason on the
// endpoint, and an endpoint.disabled event to its other enabled endpoints.
func (w *Webhooks) disable(ctx context.Context, tenant uuid.UUID, endpoint int64, since, at time.Time) error {
	reason := fmt.Sprintf("every delivery failed from %s to %s", since.UTC().Format(time.RFC3339), at.UTC().Format(time.RFC3339))
	data, err := json.Marshal(map[string]string{
		"endpoint": fmt.Sprintf("webhookEndpoints/%d", endpoint), "reason": reason, "disable_time": at.UTC().Format(time.RFC3339),
	})
	if err != nil {
		return fmt.Errorf("engagement.disable: %w", err)
	}
	notice := Event{ID: fmt.Sprintf("endpoint-%d-disabled", endpoint), Type: webhook.EndpointDisabled, Data: data}
	body, err := w.envelope(notice)
	if err != nil {
		return err
	}
	_, err = w.store.DisableEndpoint(ctx, tenant, endpoint, reason, at, notice, body)
	return err
}

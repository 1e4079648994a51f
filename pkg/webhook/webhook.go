// Package webhook signs and verifies webhooks as the Standard Webhooks
// specification (standardwebhooks.com) has them, so that receivers can use
// that project's libraries or the few lines of Verify.
//
// A delivery carries three headers: webhook-id (the event's id, the same on
// every retry and redelivery, for the receiver to drop duplicates),
// webhook-timestamp (Unix seconds of this attempt) and webhook-signature
// ("v1," then the base64 HMAC-SHA256, keyed with the secret's bytes, of
// "{id}.{timestamp}.{body}"; several space-separated while a secret is
// rotated).
package webhook

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Header names.
const (
	HeaderID        = "webhook-id"
	HeaderTimestamp = "webhook-timestamp"
	HeaderSignature = "webhook-signature"
)

// SecretPrefix starts every secret; the base64 of the key follows.
const SecretPrefix = "whsec_"

// Tolerance is how far a delivery's timestamp may be from the receiver's
// clock before Verify refuses it as a replay.
const Tolerance = 5 * time.Minute

// Errors of Verify.
var (
	ErrBadSecret    = errors.New("webhook: secret is not whsec_ and base64")
	ErrNoSignature  = errors.New("webhook: missing webhook-id, webhook-timestamp or webhook-signature")
	ErrBadTimestamp = errors.New("webhook: timestamp is malformed or outside the tolerance")
	ErrBadSignature = errors.New("webhook: no signature matches")
)

// NewSecret returns a new random secret: whsec_ and 32 random bytes in
// base64.
func NewSecret() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("webhook.NewSecret: %w", err)
	}
	return SecretPrefix + base64.StdEncoding.EncodeToString(b), nil
}

func key(secret string) ([]byte, error) {
	k, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, SecretPrefix))
	if err != nil || len(k) == 0 {
		return nil, ErrBadSecret
	}
	return k, nil
}

// Sign returns the webhook-signature value of body for id at ts.
func Sign(secret, id string, ts time.Time, body []byte) (string, error) {
	k, err := key(secret)
	if err != nil {
		return "", err
	}
	return "v1," + base64.StdEncoding.EncodeToString(mac(k, id, strconv.FormatInt(ts.Unix(), 10), body)), nil
}

func mac(k []byte, id, ts string, body []byte) []byte {
	m := hmac.New(sha256.New, k)
	m.Write([]byte(id + "." + ts + "."))
	m.Write(body)
	return m.Sum(nil)
}

// SetHeaders sets a request's three webhook headers and its content type.
func SetHeaders(h http.Header, secret, id string, ts time.Time, body []byte) error {
	sig, err := Sign(secret, id, ts, body)
	if err != nil {
		return err
	}
	h.Set(HeaderID, id)
	h.Set(HeaderTimestamp, strconv.FormatInt(ts.Unix(), 10))
	h.Set(HeaderSignature, sig)
	h.Set("Content-Type", "application/json")
	return nil
}

// Verify checks that body and the headers h were signed with secret, at a
// time within Tolerance of now. A receiver calls it on the raw body, before
// parsing it, then drops the webhook-id it has seen before.
func Verify(secret string, h http.Header, body []byte, now time.Time) error {
	k, err := key(secret)
	if err != nil {
		return err
	}
	id, tsText, sigs := h.Get(HeaderID), h.Get(HeaderTimestamp), h.Get(HeaderSignature)
	if id == "" || tsText == "" || sigs == "" {
		return ErrNoSignature
	}
	ts, err := strconv.ParseInt(tsText, 10, 64)
	if err != nil {
		return ErrBadTimestamp
	}
	if d := now.Sub(time.Unix(ts, 0)); d > Tolerance || d < -Tolerance {
		return ErrBadTimestamp
	}
	want := mac(k, id, tsText, body)
	for s := range strings.FieldsSeq(sigs) {
		v, sig, ok := strings.Cut(s, ",")
		if !ok || v != "v1" {
			continue
		}
		got, err := base64.StdEncoding.DecodeString(sig)
		if err == nil && hmac.Equal(got, want) {
			return nil
		}
	}
	return ErrBadSignature
}

// Event types.
const (
	UploadSucceeded    = "upload.succeeded"
	UploadFailed       = "upload.failed"
	ReportReady        = "report.ready"
	RecalculationDone  = "recalculation.done"
	SubmissionReceived = "submission.received"
	EndpointDisabled   = "endpoint.disabled" // sent to a tenant's other endpoints, whatever they subscribe to
)

// Types are the event types an endpoint may subscribe to.
var Types = []string{UploadSucceeded, UploadFailed, ReportReady, RecalculationDone, SubmissionReceived}

// Envelope is a delivery's body.
type Envelope struct {
	Type      string          `json:"type"`
	Timestamp time.Time       `json:"timestamp"`
	Data      json.RawMessage `json:"data"`
}

// KnownType reports whether t is an event type: one of Types or
// EndpointDisabled.
func KnownType(t string) bool {
	return t == EndpointDisabled || slices.Contains(Types, t)
}

package webhook_test

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/vcci-dev/vcci/pkg/webhook"
)

// The example of the Standard Webhooks specification's test vectors.
func TestSignMatchesSpecVector(t *testing.T) {
	const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	body := []byte(`{"test": 2432232314}`)
	got, err := webhook.Sign(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", time.Unix(1614265330, 0), body)
	if err != nil {
		t.Fatal(err)
	}
	if want := "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="; got != want {
		t.Fatalf("Sign = %s, want %s", got, want)
	}
}

func TestVerify(t *testing.T) {
	secret, err := webhook.NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(secret, webhook.SecretPrefix) || len(secret) != len("whsec_")+44 {
		t.Fatalf("secret %q", secret)
	}
	now := time.Unix(1_800_000_000, 0)
	body := []byte(`{"type":"upload.succeeded","timestamp":"2027-01-15T08:00:00Z","data":{"upload":"uploads/1"}}`)
	signed := func() http.Header {
		h := http.Header{}
		if err := webhook.SetHeaders(h, secret, "upload-1-succeeded", now, body); err != nil {
			t.Fatal(err)
		}
		return h
	}
	other, _ := webhook.NewSecret()
	for _, tc := range []struct {
		name   string
		secret string
		header func(http.Header)
		body   []byte
		at     time.Time
		want   error
	}{
		{name: "valid", secret: secret, body: body, at: now},
		{name: "valid among rotated signatures", secret: secret, body: body, at: now, header: func(h http.Header) {
			h.Set(webhook.HeaderSignature, "v1,bm90IGl0 v2,xyz "+h.Get(webhook.HeaderSignature))
		}},
		{name: "body tampered", secret: secret, body: append([]byte{' '}, body...), at: now, want: webhook.ErrBadSignature},
		{name: "id tampered", secret: secret, body: body, at: now, want: webhook.ErrBadSignature, header: func(h http.Header) { h.Set(webhook.HeaderID, "upload-2-succeeded") }},
		{name: "timestamp tampered", secret: secret, body: body, at: now, want: webhook.ErrBadSignature, header: func(h http.Header) { h.Set(webhook.HeaderTimestamp, "1800000001") }},
		{name: "other secret", secret: other, body: body, at: now, want: webhook.ErrBadSignature},
		{name: "too old", secret: secret, body: body, at: now.Add(webhook.Tolerance + time.Second), want: webhook.ErrBadTimestamp},
		{name: "from the future", secret: secret, body: body, at: now.Add(-webhook.Tolerance - time.Second), want: webhook.ErrBadTimestamp},
		{name: "no signature", secret: secret, body: body, at: now, want: webhook.ErrNoSignature, header: func(h http.Header) { h.Del(webhook.HeaderSignature) }},
		{name: "bad secret", secret: "whsec_%%%", body: body, at: now, want: webhook.ErrBadSecret},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := signed()
			if tc.header != nil {
				tc.header(h)
			}
			if err := webhook.Verify(tc.secret, h, tc.body, tc.at); !errors.Is(err, tc.want) {
				t.Fatalf("Verify = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestKnownType(t *testing.T) {
	for _, ty := range append(webhook.Types, webhook.EndpointDisabled) {
		if !webhook.KnownType(ty) {
			t.Errorf("KnownType(%q) = false", ty)
		}
	}
	if webhook.KnownType("upload.deleted") {
		t.Error("KnownType(upload.deleted) = true")
	}
}

package server

import (
	"bytes"
	"encoding/base64"
	"strings"
	"testing"

	"github.com/vcci-dev/vcci/pkg/service"
)

// The webhook-secret keys: the one that seals, and the previous ones,
// which open; two sealing keys are refused naming the variable.
func TestWebhookSecretKeys(t *testing.T) {
	k := func(b byte) string { return base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{b}, 32)) }
	t.Setenv("WEBHOOK_SECRET_KEY", k(1))
	t.Setenv("WEBHOOK_SECRET_KEY_PREVIOUS", k(2)+","+k(3))
	cfg, err := LoadConfig(service.Env{})
	if err != nil || cfg.WebhookSecretKey[0] != 1 || len(cfg.WebhookPreviousKeys) != 2 || cfg.WebhookPreviousKeys[1][0] != 3 {
		t.Fatalf("keys %v, %v, %v", cfg.WebhookSecretKey, cfg.WebhookPreviousKeys, err)
	}
	// A key coming in: it opens, the derived key still seals.
	t.Setenv("WEBHOOK_SECRET_KEY", "")
	if cfg, err := LoadConfig(service.Env{}); err != nil || cfg.WebhookSecretKey != nil || len(cfg.WebhookPreviousKeys) != 2 {
		t.Fatalf("previous keys alone: %v, %v, %v", cfg.WebhookSecretKey, cfg.WebhookPreviousKeys, err)
	}
	for _, c := range []struct{ key, previous, want string }{
		{k(1) + "," + k(2), "", "WEBHOOK_SECRET_KEY holds 2 keys"},
		{"c2hvcnQ=", "", "WEBHOOK_SECRET_KEY: key 1 is not 32 bytes"},
		{k(1), k(2) + ",x", "WEBHOOK_SECRET_KEY_PREVIOUS: key 2 is not 32 bytes"},
	} {
		t.Setenv("WEBHOOK_SECRET_KEY", c.key)
		t.Setenv("WEBHOOK_SECRET_KEY_PREVIOUS", c.previous)
		if _, err := LoadConfig(service.Env{}); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q, %q: %v; want %q", c.key, c.previous, err, c.want)
		}
	}
	t.Setenv("WEBHOOK_SECRET_KEY", "")
	t.Setenv("WEBHOOK_SECRET_KEY_PREVIOUS", "")
	if cfg, err := LoadConfig(service.Env{}); err != nil || cfg.WebhookSecretKey != nil || cfg.WebhookPreviousKeys != nil {
		t.Fatalf("unset: %v, %v, %v", cfg.WebhookSecretKey, cfg.WebhookPreviousKeys, err)
	}
}

// The submission-link keys: the one that signs, the previous ones, and a
// malformed one refused naming the variable.
func TestSubmissionLinkKeys(t *testing.T) {
	k := func(b byte) string { return base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{b}, 32)) }
	t.Setenv("SUBMISSION_LINK_KEY", k(4))
	t.Setenv("SUBMISSION_LINK_KEY_PREVIOUS", k(5))
	cfg, err := LoadConfig(service.Env{})
	if err != nil || cfg.SubmissionLinkKey[0] != 4 || len(cfg.SubmissionLinkPreviousKeys) != 1 || cfg.SubmissionLinkPreviousKeys[0][0] != 5 {
		t.Fatalf("keys %v, %v, %v", cfg.SubmissionLinkKey, cfg.SubmissionLinkPreviousKeys, err)
	}
	t.Setenv("SUBMISSION_LINK_KEY", "c2hvcnQ=")
	if _, err := LoadConfig(service.Env{}); err == nil || !strings.Contains(err.Error(), "SUBMISSION_LINK_KEY: key 1 is not 32 bytes") {
		t.Fatalf("short key: %v", err)
	}
}

package server

import (
	"bytes"
	"encoding/base64"
	"strings"
	"testing"

	"github.com/vcci-dev/vcci/pkg/service"
)

// The webhook-secret keys: the current one first, then the previous ones;
// two current keys, or previous keys without a current one, are refused
// naming the variable.
func TestWebhookSecretKeys(t *testing.T) {
	k := func(b byte) string { return base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{b}, 32)) }
	t.Setenv("WEBHOOK_SECRET_KEY", k(1))
	t.Setenv("WEBHOOK_SECRET_KEY_PREVIOUS", k(2)+","+k(3))
	cfg, err := LoadConfig(service.Env{})
	if err != nil || len(cfg.WebhookSecretKeys) != 3 || cfg.WebhookSecretKeys[0][0] != 1 || cfg.WebhookSecretKeys[2][0] != 3 {
		t.Fatalf("keys %v, %v", cfg.WebhookSecretKeys, err)
	}
	for _, c := range []struct{ key, previous, want string }{
		{k(1) + "," + k(2), "", "WEBHOOK_SECRET_KEY holds 2 keys"},
		{"", k(2), "WEBHOOK_SECRET_KEY_PREVIOUS is set without WEBHOOK_SECRET_KEY"},
		{"c2hvcnQ=", "", "WEBHOOK_SECRET_KEY: key 1 is not 32 bytes"},
	} {
		t.Setenv("WEBHOOK_SECRET_KEY", c.key)
		t.Setenv("WEBHOOK_SECRET_KEY_PREVIOUS", c.previous)
		if _, err := LoadConfig(service.Env{}); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q, %q: %v; want %q", c.key, c.previous, err, c.want)
		}
	}
	t.Setenv("WEBHOOK_SECRET_KEY", "")
	t.Setenv("WEBHOOK_SECRET_KEY_PREVIOUS", "")
	if cfg, err := LoadConfig(service.Env{}); err != nil || cfg.WebhookSecretKeys != nil {
		t.Fatalf("unset: %v, %v", cfg.WebhookSecretKeys, err)
	}
}

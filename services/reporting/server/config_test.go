package server

import (
	"bytes"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/vcci-dev/vcci/pkg/service"
)

func TestLoadConfigRetention(t *testing.T) {
	for _, c := range []struct {
		value string
		want  time.Duration
	}{{"", 90 * 24 * time.Hour}, {"0", 0}, {"720h", 30 * 24 * time.Hour}} {
		t.Setenv("REPORT_RETENTION", c.value)
		if got, err := LoadConfig(service.Env{}); err != nil || got.Retention != c.want {
			t.Fatalf("REPORT_RETENTION=%q: %v, %v; want %s", c.value, got.Retention, err, c.want)
		}
	}
	for _, bad := range []string{"-1h", "a while"} {
		t.Setenv("REPORT_RETENTION", bad)
		if _, err := LoadConfig(service.Env{}); err == nil || !strings.Contains(err.Error(), "REPORT_RETENTION") {
			t.Fatalf("REPORT_RETENTION=%q: %v, want an error naming it", bad, err)
		}
	}
}

func TestLoadConfigWorkers(t *testing.T) {
	for _, c := range []struct {
		value string
		want  int
	}{{"", 1}, {"2", 2}, {"6", 6}} {
		t.Setenv("REPORT_WORKERS", c.value)
		if got, err := LoadConfig(service.Env{}); err != nil || got.Workers != c.want {
			t.Fatalf("REPORT_WORKERS=%q: %d, %v; want %d", c.value, got.Workers, err, c.want)
		}
	}
	for _, bad := range []string{"0", "-2", "two"} {
		t.Setenv("REPORT_WORKERS", bad)
		if _, err := LoadConfig(service.Env{}); err == nil || !strings.Contains(err.Error(), "REPORT_WORKERS") {
			t.Fatalf("REPORT_WORKERS=%q: %v, want an error naming it", bad, err)
		}
	}
}

// The link keys reach Config: the one that signs and the previous ones,
// which check (config.KeyPair refuses malformed ones).
func TestLoadConfigLinkKeys(t *testing.T) {
	k := func(b byte) string { return base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{b}, 32)) }
	t.Setenv("REPORT_LINK_KEY", k(1))
	t.Setenv("REPORT_LINK_KEY_PREVIOUS", k(2)+","+k(3))
	cfg, err := LoadConfig(service.Env{})
	if err != nil || cfg.LinkKey[0] != 1 || len(cfg.LinkPreviousKeys) != 2 || cfg.LinkPreviousKeys[1][0] != 3 {
		t.Fatalf("keys %v, %v, %v", cfg.LinkKey, cfg.LinkPreviousKeys, err)
	}
	t.Setenv("REPORT_LINK_KEY", k(1)+","+k(2))
	if _, err := LoadConfig(service.Env{}); err == nil || !strings.Contains(err.Error(), "REPORT_LINK_KEY holds 2 keys") {
		t.Errorf("two signing keys: %v", err)
	}
}

package server

import (
	"strings"
	"testing"
	"time"

	"github.com/vcci-dev/vcci/pkg/service"
)

func TestLoadConfig(t *testing.T) {
	vars := []string{"MAX_UPLOAD_BYTES", "UPLOAD_WORKERS", "UPLOAD_LARGE_WORKERS", "UPLOAD_MAX_ATTEMPTS", "UPLOAD_TIMEOUT", "UPLOAD_CALCULATOR_WAIT"}
	for _, v := range vars {
		t.Setenv(v, "")
	}
	env := service.Env{Peers: map[string]string{"calculator": "calc:9102", "engagement": "eng:9104"}}
	env.Cfg.Name = "intake"
	got, err := LoadConfig(env)
	want := Config{CalculatorAddr: "calc:9102", EngagementAddr: "eng:9104", MaxUploadBytes: 2 << 30, SmallWorkers: 16, LargeWorkers: 2, MaxAttempts: 5, UploadTimeout: 10 * time.Minute, CalculatorWait: 10 * time.Minute}
	want.Name = "intake"
	if err != nil || got != want {
		t.Fatalf("defaults = %+v, %v; want %+v", got, err, want)
	}
	t.Setenv("UPLOAD_WORKERS", "24")
	t.Setenv("UPLOAD_TIMEOUT", "90s")
	t.Setenv("UPLOAD_CALCULATOR_WAIT", "30s")
	if got, err := LoadConfig(service.Env{}); err != nil || got.SmallWorkers != 24 || got.UploadTimeout != 90*time.Second || got.CalculatorWait != 30*time.Second {
		t.Fatalf("set = %+v, %v; want 24 workers, 90s, a 30s wait", got, err)
	}
	// No wait is a negative one: the worker's zero is its default.
	t.Setenv("UPLOAD_CALCULATOR_WAIT", "0")
	if got, err := LoadConfig(service.Env{}); err != nil || got.CalculatorWait >= 0 {
		t.Fatalf("UPLOAD_CALCULATOR_WAIT=0: %v, %v; want no wait", got.CalculatorWait, err)
	}
	for _, v := range vars {
		t.Run(v, func(t *testing.T) {
			t.Setenv(v, "lots")
			if _, err := LoadConfig(service.Env{}); err == nil || !strings.Contains(err.Error(), v) {
				t.Fatalf("%s=lots: %v, want an error naming %s", v, err, v)
			}
		})
	}
}

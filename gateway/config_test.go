package main

import (
	"strings"
	"testing"
	"time"

	"github.com/vcci-dev/vcci/gateway/edge"
	"github.com/vcci-dev/vcci/pkg/config"
	"github.com/vcci-dev/vcci/pkg/db"
	"github.com/vcci-dev/vcci/pkg/grpcclient"
)

func TestLoadConfig(t *testing.T) {
	// An empty variable is an unset one to pkg/config.
	for _, v := range []string{"HTTP_ADDR", "MAX_UPLOAD_BYTES", "EDGE_CACHE_BYTES", "EDGE_CACHE_TTL",
		"RIVER_UI_DATABASE_URL", "RIVER_UI_USER", "RIVER_UI_PASSWORD", "DB_STATEMENT_TIMEOUT", "DB_LOCK_TIMEOUT", "DB_IDLE_IN_TRANSACTION_TIMEOUT",
		"GRPC_CALL_TIMEOUT", "GRPC_STREAM_TIMEOUT", "MAX_JSON_BODY_BYTES", "HTTP_READ_HEADER_TIMEOUT", "HTTP_READ_TIMEOUT",
		"HTTP_UPLOAD_IDLE_TIMEOUT", "HTTP_WRITE_TIMEOUT", "HTTP_IDLE_TIMEOUT", "HTTP_MAX_HEADER_BYTES",
		"INTAKE_ADDR", "CALCULATOR_ADDR", "HOTSPOT_ADDR", "ENGAGEMENT_ADDR", "REPORTING_ADDR"} {
		t.Setenv(v, "")
	}
	p := config.Process{Name: "gateway", LogLevel: "info", ShutdownTimeout: 15 * time.Second}
	cfg, err := loadConfig(p)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Process != p || cfg.HTTPAddr != "127.0.0.1:8080" || cfg.MaxUploadBytes != 2<<30 ||
		cfg.EdgeCacheBytes != edge.DefaultEdgeCacheBytes || cfg.EdgeCacheTTL != edge.DefaultEdgeCacheTTL ||
		cfg.RiverUIDatabaseURL != "" || cfg.RiverUIUser != "operator" || cfg.RiverUIPassword != "" || cfg.DBTimeouts != db.DefaultTimeouts() ||
		cfg.CallTimeouts != grpcclient.DefaultTimeouts() || cfg.HTTP != edge.DefaultHTTPLimits() {
		t.Errorf("defaults: %+v", cfg)
	}
	if len(cfg.Backends) != len(edge.Backends()) || cfg.Backends["intake"] != "127.0.0.1:9101" || cfg.Backends["reporting"] != "127.0.0.1:9105" {
		t.Errorf("default backends: %v", cfg.Backends)
	}

	t.Setenv("HTTP_ADDR", "0.0.0.0:80")
	t.Setenv("MAX_UPLOAD_BYTES", "1024")
	t.Setenv("EDGE_CACHE_BYTES", "0")
	t.Setenv("EDGE_CACHE_TTL", "1m")
	t.Setenv("RIVER_UI_DATABASE_URL", "postgres://river")
	t.Setenv("RIVER_UI_USER", "ops")
	t.Setenv("RIVER_UI_PASSWORD", "secret")
	t.Setenv("HOTSPOT_ADDR", "hotspot:9103")
	t.Setenv("DB_LOCK_TIMEOUT", "5s")
	t.Setenv("GRPC_CALL_TIMEOUT", "1m")
	t.Setenv("MAX_JSON_BODY_BYTES", "65536")
	t.Setenv("HTTP_UPLOAD_IDLE_TIMEOUT", "5m")
	t.Setenv("HTTP_WRITE_TIMEOUT", "0")
	cfg, err = loadConfig(p)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.HTTPAddr != "0.0.0.0:80" || cfg.MaxUploadBytes != 1024 || cfg.EdgeCacheBytes != -1 || cfg.EdgeCacheTTL != time.Minute ||
		cfg.RiverUIDatabaseURL != "postgres://river" || cfg.RiverUIUser != "ops" || cfg.RiverUIPassword != "secret" ||
		cfg.Backends["hotspot"] != "hotspot:9103" || cfg.DBTimeouts.Lock != 5*time.Second ||
		cfg.CallTimeouts.Unary != time.Minute || cfg.HTTP.MaxJSONBodyBytes != 65536 || cfg.HTTP.UploadIdleTimeout != 5*time.Minute ||
		cfg.HTTP.WriteTimeout != 0 || cfg.HTTP.ReadHeaderTimeout != 10*time.Second {
		t.Errorf("set: %+v", cfg)
	}

	for v, bad := range map[string]string{"MAX_UPLOAD_BYTES": "2GiB", "EDGE_CACHE_BYTES": "lots", "EDGE_CACHE_TTL": "10", "DB_STATEMENT_TIMEOUT": "5", "GRPC_STREAM_TIMEOUT": "-1h",
		"MAX_JSON_BODY_BYTES": "0", "HTTP_MAX_HEADER_BYTES": "64KiB", "HTTP_READ_TIMEOUT": "-1s"} {
		t.Run(v, func(t *testing.T) {
			t.Setenv(v, bad)
			if _, err := loadConfig(p); err == nil || !strings.Contains(err.Error(), v) {
				t.Errorf("%s=%s: err %v, want one naming %s", v, bad, err, v)
			}
		})
	}
}

package main

import (
	"os"
	"time"

	"github.com/vcci-dev/vcci/gateway/edge"
	"github.com/vcci-dev/vcci/pkg/config"
	"github.com/vcci-dev/vcci/pkg/db"
	"github.com/vcci-dev/vcci/pkg/grpcclient"
	"github.com/vcci-dev/vcci/pkg/service"
)

// Config is everything the gateway reads from its environment: what every
// deployable reads, and its own settings.
type Config struct {
	config.Process
	HTTPAddr       string // HTTP_ADDR
	MaxUploadBytes int64  // MAX_UPLOAD_BYTES
	// EdgeCacheBytes bounds the edge cache as edge.Options reads it:
	// EDGE_CACHE_BYTES, whose 0 (off) is held as -1 since edge.Options
	// reads 0 as its default. EdgeCacheTTL is EDGE_CACHE_TTL.
	EdgeCacheBytes int64
	EdgeCacheTTL   time.Duration
	// Backends maps every service the gateway fronts to its address
	// (<NAME>_ADDR).
	Backends map[string]string
	// River's operator UI is off unless RiverUIDatabaseURL
	// (RIVER_UI_DATABASE_URL) names the database holding intake's jobs; it
	// then needs RiverUIPassword (RIVER_UI_PASSWORD). RiverUIUser is
	// RIVER_UI_USER.
	RiverUIDatabaseURL string
	RiverUIUser        string
	RiverUIPassword    string
	// DBTimeouts limit the River UI's database sessions (DB_*_TIMEOUT).
	DBTimeouts db.Timeouts
	// CallTimeouts are the deadlines of calls to the services whose
	// request carries none (GRPC_CALL_TIMEOUT, GRPC_STREAM_TIMEOUT).
	CallTimeouts grpcclient.Timeouts
	// HTTP limits requests: MAX_JSON_BODY_BYTES, the HTTP_* timeouts and
	// HTTP_MAX_HEADER_BYTES (see edge.HTTPLimits).
	HTTP edge.HTTPLimits
}

// loadConfig reads the gateway's own settings beside p; a malformed value
// is an error naming its variable.
func loadConfig(p config.Process) (Config, error) {
	maxUpload, err := config.Int("MAX_UPLOAD_BYTES", 2<<30)
	if err != nil {
		return Config{}, err
	}
	edgeBytes, err := config.Int("EDGE_CACHE_BYTES", edge.DefaultEdgeCacheBytes)
	if err != nil {
		return Config{}, err
	}
	if edgeBytes == 0 {
		edgeBytes = -1
	}
	edgeTTL, err := config.Duration("EDGE_CACHE_TTL", edge.DefaultEdgeCacheTTL)
	if err != nil {
		return Config{}, err
	}
	dbTimeouts, err := db.LoadTimeouts()
	if err != nil {
		return Config{}, err
	}
	callTimeouts, err := grpcclient.LoadTimeouts()
	if err != nil {
		return Config{}, err
	}
	httpLimits, err := edge.LoadHTTPLimits()
	if err != nil {
		return Config{}, err
	}
	backends := make(map[string]string, len(edge.Backends()))
	for _, name := range edge.Backends() {
		backends[name] = service.PeerAddr(name)
	}
	return Config{
		Process:            p,
		HTTPAddr:           config.String("HTTP_ADDR", "127.0.0.1:8080"),
		MaxUploadBytes:     int64(maxUpload),
		EdgeCacheBytes:     int64(edgeBytes),
		EdgeCacheTTL:       edgeTTL,
		Backends:           backends,
		RiverUIDatabaseURL: os.Getenv("RIVER_UI_DATABASE_URL"),
		RiverUIUser:        config.String("RIVER_UI_USER", "operator"),
		RiverUIPassword:    os.Getenv("RIVER_UI_PASSWORD"),
		DBTimeouts:         dbTimeouts,
		CallTimeouts:       callTimeouts,
		HTTP:               httpLimits,
	}, nil
}

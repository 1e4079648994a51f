package server

import (
	"github.com/vcci-dev/vcci/pkg/config"
	"github.com/vcci-dev/vcci/pkg/service"
)

// Config is everything engagement reads from its environment: what every
// gRPC service reads, and where the peer it picks campaign targets from is.
type Config struct {
	config.Service
	HotspotAddr string // HOTSPOT_ADDR: the suppliers to target
}

// LoadConfig returns engagement's Config: env.Cfg, as its launcher read it,
// and the peer's address, which a launcher may also set (env.Peers). No
// value can be malformed.
func LoadConfig(env service.Env) Config {
	return Config{Service: env.Cfg, HotspotAddr: env.Peer("hotspot")}
}

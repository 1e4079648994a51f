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
	// WebhookPrivateNetworks (WEBHOOK_PRIVATE_NETWORKS, default false) lets
	// webhook endpoints be on loopback, private and link-local addresses:
	// a developer's own receiver. Off, a tenant cannot make the platform
	// post to its own network.
	WebhookPrivateNetworks bool
}

// LoadConfig returns engagement's Config: env.Cfg, as its launcher read it,
// the peer's address, which a launcher may also set (env.Peers), and the
// webhook setting, whose malformed value is an error naming it.
func LoadConfig(env service.Env) (Config, error) {
	private, err := config.Bool("WEBHOOK_PRIVATE_NETWORKS", false)
	return Config{Service: env.Cfg, HotspotAddr: env.Peer("hotspot"), WebhookPrivateNetworks: private}, err
}

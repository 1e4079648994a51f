package server

import (
	"errors"
	"fmt"

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
	// WebhookSecretKeys (WEBHOOK_SECRET_KEY, then WEBHOOK_SECRET_KEY_PREVIOUS,
	// 32 bytes in base64 each, the previous ones comma-separated) seal
	// endpoints' signing secrets: the first seals, all open. Kept out of the
	// database (a Secret), so that a dump of it holds no usable secret.
	// Unset, a key derived from the platform secret in the database seals
	// them, and stays one that opens once a key is set.
	WebhookSecretKeys [][]byte
}

// LoadConfig returns engagement's Config: env.Cfg, as its launcher read it,
// the peer's address, which a launcher may also set (env.Peers), and the
// webhook setting, whose malformed value is an error naming it.
func LoadConfig(env service.Env) (Config, error) {
	private, err := config.Bool("WEBHOOK_PRIVATE_NETWORKS", false)
	if err != nil {
		return Config{}, err
	}
	keys, err := config.Keys("WEBHOOK_SECRET_KEY", 32)
	if err != nil {
		return Config{}, err
	}
	if len(keys) > 1 {
		return Config{}, fmt.Errorf("config: WEBHOOK_SECRET_KEY holds %d keys: one seals, older ones go in WEBHOOK_SECRET_KEY_PREVIOUS", len(keys))
	}
	previous, err := config.Keys("WEBHOOK_SECRET_KEY_PREVIOUS", 32)
	if err != nil {
		return Config{}, err
	}
	if len(keys) == 0 && len(previous) > 0 {
		return Config{}, errors.New("config: WEBHOOK_SECRET_KEY_PREVIOUS is set without WEBHOOK_SECRET_KEY")
	}
	return Config{Service: env.Cfg, HotspotAddr: env.Peer("hotspot"), WebhookPrivateNetworks: private,
		WebhookSecretKeys: append(keys, previous...)}, nil
}

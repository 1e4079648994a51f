package server

import (
	"github.com/vcci-dev/vcci/pkg/config"
	"github.com/vcci-dev/vcci/pkg/service"
)

// Config is everything engagement reads from its environment: what every
// gRPC service reads, and where its peers are: the one it picks campaign
// targets from, and the one it reads their progress from.
type Config struct {
	config.Service
	HotspotAddr    string // HOTSPOT_ADDR: the suppliers to target
	CalculatorAddr string // CALCULATOR_ADDR: the supplier data on file, a campaign's progress
	// WebhookPrivateNetworks (WEBHOOK_PRIVATE_NETWORKS, default false) lets
	// webhook endpoints be on loopback, private and link-local addresses:
	// a developer's own receiver. Off, a tenant cannot make the platform
	// post to its own network.
	WebhookPrivateNetworks bool
	// WebhookSecretKey (WEBHOOK_SECRET_KEY, 32 bytes in base64) seals
	// endpoints' signing secrets. Kept out of the database (a Secret), so
	// that a dump of it holds no usable secret. Unset (nil), a key derived
	// from the platform secret in the database seals them; that key always
	// opens what it sealed.
	WebhookSecretKey []byte
	// WebhookPreviousKeys (WEBHOOK_SECRET_KEY_PREVIOUS, comma-separated)
	// open secrets but seal none: keys being rotated out, or in.
	WebhookPreviousKeys [][]byte
	// SubmissionLinkKey (SUBMISSION_LINK_KEY, 32 bytes in base64) signs
	// suppliers' submission links, kept out of the database so that a dump
	// of it cannot forge one. Unset (nil), a key derived from the platform
	// secret in the database signs them.
	SubmissionLinkKey []byte
	// SubmissionLinkPreviousKeys (SUBMISSION_LINK_KEY_PREVIOUS) check links
	// but sign none.
	SubmissionLinkPreviousKeys [][]byte
}

// LoadConfig returns engagement's Config: env.Cfg, as its launcher read it,
// the peer's address, which a launcher may also set (env.Peers), and the
// webhook setting, whose malformed value is an error naming it.
func LoadConfig(env service.Env) (Config, error) {
	private, err := config.Bool("WEBHOOK_PRIVATE_NETWORKS", false)
	if err != nil {
		return Config{}, err
	}
	cfg := Config{Service: env.Cfg, HotspotAddr: env.Peer("hotspot"), CalculatorAddr: env.Peer("calculator"), WebhookPrivateNetworks: private}
	if cfg.WebhookSecretKey, cfg.WebhookPreviousKeys, err = config.KeyPair("WEBHOOK_SECRET_KEY", 32); err != nil {
		return cfg, err
	}
	cfg.SubmissionLinkKey, cfg.SubmissionLinkPreviousKeys, err = config.KeyPair("SUBMISSION_LINK_KEY", 32)
	return cfg, err
}

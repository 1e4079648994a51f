package server

import (
	"github.com/vcci-dev/vcci/pkg/config"
	"github.com/vcci-dev/vcci/pkg/service"
)

// Config is everything the calculator reads from its environment: what
// every gRPC service reads, and where intake is.
type Config struct {
	config.Service
	IntakeAddr     string // INTAKE_ADDR: suppliers' totals, which recalculations change
	EngagementAddr string // ENGAGEMENT_ADDR: the webhooks' recalculation.done events
}

// LoadConfig returns the calculator's Config: env.Cfg, as its launcher read
// it (service.Main, or an in-process launcher that sets it itself), and
// intake's address, which a launcher may also set (env.Peers).
func LoadConfig(env service.Env) Config {
	return Config{Service: env.Cfg, IntakeAddr: env.Peer("intake"), EngagementAddr: env.Peer("engagement")}
}

package server

import (
	"github.com/vcci-dev/vcci/pkg/config"
	"github.com/vcci-dev/vcci/pkg/service"
)

// Config is everything reporting reads from its environment: what every
// gRPC service reads (DATABASE_URL holds the reports, their files and
// their jobs, in the schemas reporting and reporting_river), and where
// the peers an inventory is built from are.
type Config struct {
	config.Service
	CalculatorAddr string // CALCULATOR_ADDR: breakdowns, factor sets and NAICS titles
	IntakeAddr     string // INTAKE_ADDR: suppliers' names
	HotspotAddr    string // HOTSPOT_ADDR: the supplier Pareto of a hotspot pack
	EngagementAddr string // ENGAGEMENT_ADDR: suppliers' campaigns, for a hotspot pack
}

// LoadConfig returns reporting's Config: env.Cfg, as its launcher read it,
// and the peers' addresses, which a launcher may also set (env.Peers). No
// value can be malformed.
func LoadConfig(env service.Env) Config {
	return Config{Service: env.Cfg, CalculatorAddr: env.Peer("calculator"), IntakeAddr: env.Peer("intake"),
		HotspotAddr: env.Peer("hotspot"), EngagementAddr: env.Peer("engagement")}
}

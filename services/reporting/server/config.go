package server

import (
	"fmt"
	"time"

	"github.com/vcci-dev/vcci/pkg/config"
	"github.com/vcci-dev/vcci/pkg/service"
	"github.com/vcci-dev/vcci/services/reporting/internal/store"
)

// Config is everything reporting reads from its environment: what every
// gRPC service reads (DATABASE_URL holds the reports, their files and
// their jobs, in the schemas reporting and reporting_river), where the
// peers an inventory is built from are, and how long reports are kept.
type Config struct {
	config.Service
	CalculatorAddr string // CALCULATOR_ADDR: breakdowns, factor sets and NAICS titles
	IntakeAddr     string // INTAKE_ADDR: suppliers' names
	HotspotAddr    string // HOTSPOT_ADDR: the supplier Pareto of a hotspot pack
	EngagementAddr string // ENGAGEMENT_ADDR: suppliers' campaigns, for a hotspot pack
	// Retention is how long a report and its file are kept after it ends
	// (REPORT_RETENTION; 0: until deleted).
	Retention time.Duration
	// Workers is how many reports a replica builds at once
	// (REPORT_WORKERS, default store.DefaultWorkers).
	Workers int
	// LinkKey (REPORT_LINK_KEY, 32 bytes in base64) signs report links.
	// Kept out of the database (a Secret), so that a dump of it cannot
	// forge a link to any tenant's report. Unset (nil), a key derived from
	// the platform secret in the database signs them.
	LinkKey []byte
	// LinkPreviousKeys (REPORT_LINK_KEY_PREVIOUS, comma-separated) check
	// links but sign none: keys being rotated out.
	LinkPreviousKeys [][]byte
}

// DefaultRetention keeps reports 90 days unless REPORT_RETENTION says
// otherwise.
const DefaultRetention = 90 * 24 * time.Hour

// LoadConfig returns reporting's Config: env.Cfg, as its launcher read it,
// the peers' addresses, which a launcher may also set (env.Peers), and the
// retention; an error names the variable that is malformed.
func LoadConfig(env service.Env) (Config, error) {
	c := Config{Service: env.Cfg, CalculatorAddr: env.Peer("calculator"), IntakeAddr: env.Peer("intake"),
		HotspotAddr: env.Peer("hotspot"), EngagementAddr: env.Peer("engagement")}
	var err error
	if c.Retention, err = config.Duration("REPORT_RETENTION", DefaultRetention); err != nil {
		return c, err
	}
	if c.Retention < 0 {
		return c, fmt.Errorf("config: REPORT_RETENTION=%s must not be negative (0 keeps reports until deleted)", c.Retention)
	}
	if c.Workers, err = config.Int("REPORT_WORKERS", store.DefaultWorkers); err != nil {
		return c, err
	}
	if c.Workers < 1 {
		return c, fmt.Errorf("config: REPORT_WORKERS=%d must be at least 1", c.Workers)
	}
	c.LinkKey, c.LinkPreviousKeys, err = config.KeyPair("REPORT_LINK_KEY", 32)
	return c, err
}

package server

import (
	"github.com/vcci-dev/vcci/pkg/config"
	"github.com/vcci-dev/vcci/pkg/service"
)

// Config is everything the calculator reads from its environment: what
// every gRPC service reads, and nothing of its own.
type Config struct {
	config.Service
}

// LoadConfig returns the calculator's Config: env.Cfg, as its launcher read
// it (service.Main, or an in-process launcher that sets it itself).
func LoadConfig(env service.Env) Config {
	return Config{Service: env.Cfg}
}

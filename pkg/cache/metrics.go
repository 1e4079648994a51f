package cache

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the collectors shared by every Cache of a process, told apart
// by their cache label.
type Metrics struct {
	requests    *prometheus.CounterVec
	redisErrors *prometheus.CounterVec
}

// NewMetrics registers vcci_cache_requests_total{cache,result} (result:
// local_hit, redis_hit, miss) and vcci_cache_redis_errors_total{cache} in
// reg, or in no registry if reg is nil. Calling it again on the same
// registry returns collectors counting into the same series.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	return &Metrics{
		requests: register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vcci_cache_requests_total",
			Help: "Cache lookups by cache and by the layer that answered: local_hit (in process), redis_hit, or miss (the loader).",
		}, []string{"cache", "result"})),
		redisErrors: register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vcci_cache_redis_errors_total",
			Help: "Failed Redis commands of a cache (and entries it could not decode); a failed command makes the cache skip Redis for a short backoff.",
		}, []string{"cache"})),
	}
}

func register(reg prometheus.Registerer, vec *prometheus.CounterVec) *prometheus.CounterVec {
	if reg == nil {
		return vec
	}
	if err := reg.Register(vec); err != nil {
		are, ok := errors.AsType[prometheus.AlreadyRegisteredError](err)
		if !ok {
			panic(err) // a programming error: another collector took the name
		}
		return are.ExistingCollector.(*prometheus.CounterVec)
	}
	return vec
}

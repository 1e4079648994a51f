package intake

import "github.com/prometheus/client_golang/prometheus"

// Metrics count what the upload alerts (deploy/prometheus/alerts.yaml)
// watch. A nil *Metrics counts nothing.
type Metrics struct {
	failed *prometheus.CounterVec
	rows   *prometheus.CounterVec
}

// Reasons an upload job ends in failure (vcci_upload_jobs_failed_total's
// reason label). A refused header is the client's file, not a failed job:
// it is not counted.
const (
	FailedAttempts  = "attempts"  // the last attempt failed
	FailedAbandoned = "abandoned" // River gave up on the job (a dead worker, a cancel)
)

// NewMetrics registers vcci_upload_jobs_failed_total{reason} and
// vcci_upload_rows_total{result} (accepted, rejected) in reg. Every series
// starts at zero, so that increase() sees the first failure.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		failed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vcci_upload_jobs_failed_total",
			Help: "Uploads whose job ended in failure, by reason: attempts (the last attempt failed) or abandoned (River gave up on the job).",
		}, []string{"reason"}),
		rows: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vcci_upload_rows_total",
			Help: "Validated upload rows, by result: accepted (stored) or rejected (a row error).",
		}, []string{"result"}),
	}
	reg.MustRegister(m.failed, m.rows)
	for _, r := range []string{FailedAttempts, FailedAbandoned} {
		m.failed.WithLabelValues(r)
	}
	for _, r := range []string{"accepted", "rejected"} {
		m.rows.WithLabelValues(r)
	}
	return m
}

// JobsFailed counts n uploads failed for reason.
func (m *Metrics) JobsFailed(reason string, n int64) {
	if m != nil && n > 0 {
		m.failed.WithLabelValues(reason).Add(float64(n))
	}
}

// Validated counts a validation's rows.
func (m *Metrics) Validated(v Validated) {
	if m != nil {
		m.rows.WithLabelValues("accepted").Add(float64(v.Accepted))
		m.rows.WithLabelValues("rejected").Add(float64(v.Rejected))
	}
}

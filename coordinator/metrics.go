package coordinator

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the coordinator's Prometheus instruments. Each Engine registers
// its own set on the registry it is given, so tests can run engines side by side.
type Metrics struct {
	Rounds         *prometheus.CounterVec
	Results        *prometheus.CounterVec
	RoundSeconds   prometheus.Histogram
	ConnectedSites prometheus.Gauge
	UploadBytes    prometheus.Counter
	CurrentRound   prometheus.Gauge
}

// NewMetrics creates the instruments and registers them on reg (nil: not registered).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Rounds: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cohort_rounds_total", Help: "Rounds by phase and outcome (committed, failed).",
		}, []string{"phase", "outcome"}),
		Results: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cohort_results_total", Help: "Site results by phase and outcome (accepted, rejected).",
		}, []string{"phase", "outcome"}),
		RoundSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "cohort_round_duration_seconds", Help: "Wall time of committed fit rounds.",
			Buckets: prometheus.ExponentialBuckets(0.01, 2, 16),
		}),
		ConnectedSites: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "cohort_connected_sites", Help: "Sites with an open task stream.",
		}),
		UploadBytes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "cohort_upload_bytes_total", Help: "Bytes of update payload received.",
		}),
		CurrentRound: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "cohort_current_round", Help: "Round number of the active run.",
		}),
	}
	if reg != nil {
		reg.MustRegister(m.Rounds, m.Results, m.RoundSeconds, m.ConnectedSites, m.UploadBytes, m.CurrentRound)
	}
	return m
}

package gateway

import (
	"context"
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/smsgateway/sms"
)

// metrics are the service's Prometheus collectors, in a registry of their
// own (no global state).
type metrics struct {
	reg      *prometheus.Registry
	messages *prometheus.CounterVec
	attempts *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	tasks    *prometheus.CounterVec
	requests *prometheus.CounterVec

	reports           *prometheus.CounterVec
	reportsUnmatched  *prometheus.CounterVec
	reportsRefused    *prometheus.CounterVec
	deliveriesExpired prometheus.Counter
	callbacks         *prometheus.CounterVec
}

// depthReader counts the messages not yet final.
type depthReader interface {
	QueueDepth(ctx context.Context) (int, error)
}

func newMetrics(st depthReader) *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		messages: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "smsgateway_messages_total",
			Help: "Messages by final outcome, each counted once: status (sent, failed, skipped, not_attempted) and kind of failure.",
		}, []string{"provider", "status", "kind"}),
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "smsgateway_attempts_total",
			Help: "Attempts to hand a message to a provider, by outcome (accepted or the kind of failure).",
		}, []string{"provider", "outcome"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "smsgateway_send_duration_seconds",
			Help:    "Duration of one attempt to hand a message to a provider.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"provider"}),
		tasks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "smsgateway_tasks_total",
			Help: "Tasks accepted, by kind (sending, mailing).",
		}, []string{"kind"}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "smsgateway_http_requests_total",
			Help: "HTTP requests by route and status code.",
		}, []string{"route", "code"}),
		reports: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "smsgateway_delivery_reports_total",
			Help: "Genuine delivery reports for known messages, by provider and status (repeats included).",
		}, []string{"provider", "status"}),
		reportsUnmatched: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "smsgateway_delivery_reports_unmatched_total",
			Help: "Genuine delivery reports for messages the log does not have (acknowledged, ignored).",
		}, []string{"provider"}),
		reportsRefused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "smsgateway_delivery_reports_refused_total",
			Help: "Report callbacks refused as forged or malformed.",
		}, []string{"provider"}),
		deliveriesExpired: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "smsgateway_deliveries_expired_total",
			Help: "Pending deliveries made unknown after delivery_timeout without a final report.",
		}),
		callbacks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "smsgateway_callbacks_total",
			Help: "Posts of events to callback URLs, by result: delivered, failed (retried later) or gave_up.",
		}, []string{"result"}),
	}
	m.reg.MustRegister(m.messages, m.attempts, m.latency, m.tasks, m.requests,
		m.reports, m.reportsUnmatched, m.reportsRefused, m.deliveriesExpired, m.callbacks,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "smsgateway_queue_depth",
			Help: "Messages queued, in flight or waiting for a retry.",
		}, func() float64 {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			n, err := st.QueueDepth(ctx)
			if err != nil {
				return -1
			}
			return float64(n)
		}))
	return m
}

// hooks returns the sms.Hooks that feed the metrics of one provider.
func (m *metrics) hooks(name string) sms.Hooks {
	return sms.Hooks{
		Attempt: func(a sms.Attempt) {
			outcome := "accepted"
			if a.Err != nil {
				var e *sms.Error
				if errors.As(a.Err, &e) {
					outcome = e.Kind.String()
				}
			}
			m.attempts.WithLabelValues(name, outcome).Inc()
			m.latency.WithLabelValues(name).Observe(a.Duration.Seconds())
		},
	}
}

// final counts n messages of provider that reached a final state, with the
// kind of failure ("" when sent).
func (m *metrics) final(provider, state, kind string, n int) {
	if n > 0 {
		m.messages.WithLabelValues(provider, state, kind).Add(float64(n))
	}
}

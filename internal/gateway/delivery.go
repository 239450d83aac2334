package gateway

import (
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/smsgateway/sms"
	"github.com/smsgateway/sms/internal/gateway/store"
)

// Delivery reports: with Config.PublicURL set, each provider that can ask
// its gateway for reports (sms.DeliveryReporter) gets an sms.DeliveryHandler
// at PublicURL/reports/<provider>, and its Client asks for a report on every
// message. The handler refuses forged callbacks (each report URL carries an
// HMAC of the message's key under a key kept in the database), and
// store.ApplyReport records the rest: a final status once, never
// downgraded. A report for an unknown message is acknowledged and counted,
// so that the gateway stops retrying it.

// reportStore is what the reports need of the storage.
type reportStore interface {
	ApplyReport(ctx context.Context, rep sms.DeliveryReport) (store.ReportOutcome, error)
	ExpireDeliveries(ctx context.Context, cutoff time.Time) (int64, error)
}

// reports serves the gateways' callbacks.
type reports struct {
	base     string // Config.PublicURL; empty: no reports
	secret   []byte
	store    reportStore
	metrics  *metrics
	log      *slog.Logger
	applied  func() // a final status was recorded: events may be due
	handlers map[string]*sms.DeliveryHandler
}

// reportSecretName names the key of the report URLs in the database.
const reportSecretName = "report_key"

// handlerFor returns the report handler of the configured provider name
// whose provider is p, or nil when there are no reports for it (r is nil,
// or has no base URL, or p cannot ask for reports).
func (r *reports) handlerFor(name string, p sms.Provider) (*sms.DeliveryHandler, error) {
	dr, ok := p.(sms.DeliveryReporter)
	if r == nil || r.base == "" || !ok || !dr.DeliveryReports() {
		return nil, nil
	}
	h, err := sms.NewDeliveryHandler(dr, r.secret, r.base+"/reports/"+url.PathEscape(name), r.deliver(name))
	if err != nil {
		return nil, err
	}
	h.SetLogger(r.log.With("provider", name))
	r.handlers[name] = h
	return h, nil
}

// deliver records one genuine report of provider name.
func (r *reports) deliver(name string) func(context.Context, sms.DeliveryReport) error {
	return func(ctx context.Context, rep sms.DeliveryReport) error {
		out, err := r.store.ApplyReport(ctx, rep)
		if err != nil {
			return err
		}
		if out == store.ReportUnmatched {
			r.metrics.reportsUnmatched.WithLabelValues(name).Inc()
			return nil
		}
		r.metrics.reports.WithLabelValues(name, string(rep.Status)).Inc()
		if out == store.ReportApplied {
			r.applied()
		}
		return nil
	}
}

// ServeHTTP handles /reports/{provider}: no API key, the report URL's code
// authenticates.
func (r *reports) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	name := req.PathValue("provider")
	h, ok := r.handlers[name]
	if !ok {
		writeError(w, &apiError{Status: http.StatusNotFound, Message: "no delivery reports for this provider"})
		return
	}
	sw := &statusWriter{ResponseWriter: w, code: http.StatusOK}
	h.ServeHTTP(sw, req)
	if sw.code == http.StatusForbidden || sw.code == http.StatusBadRequest {
		r.metrics.reportsRefused.WithLabelValues(name).Inc()
	}
}

// expireEvery is how often pending deliveries older than timeout are given
// up: a tenth of it, at most a minute.
func expireEvery(timeout time.Duration) time.Duration {
	return max(min(timeout/10, time.Minute), 10*time.Millisecond)
}

// expire turns pending deliveries older than timeout into unknown ones,
// until stop is closed.
func (r *reports) expire(timeout time.Duration, stop <-chan struct{}) {
	t := time.NewTicker(expireEvery(timeout))
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case now := <-t.C:
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			n, err := r.store.ExpireDeliveries(ctx, now.Add(-timeout))
			cancel()
			if err != nil {
				r.log.Error("expire deliveries", "error", err)
			}
			if n > 0 {
				r.metrics.deliveriesExpired.Add(float64(n))
				r.applied()
			}
		}
	}
}

package mock

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/smsgateway/sms"
)

// The fields of the form a mock delivery report posts.
const (
	formStatus    = "status"     // an sms.DeliveryStatus
	formGatewayID = "gateway_id" // the Receipt.MessageID, may be empty
	formAt        = "at"         // RFC 3339 with nanoseconds, may be empty
)

// ErrMalformedReport is matched by every error of ParseDelivery.
var ErrMalformedReport = errors.New("mock: malformed delivery report")

// reportForm is the form that reports r's Status, GatewayID and At (a zero
// At and an empty GatewayID are left out).
func reportForm(r sms.DeliveryReport) url.Values {
	f := url.Values{formStatus: {string(r.Status)}}
	if r.GatewayID != "" {
		f.Set(formGatewayID, r.GatewayID)
	}
	if !r.At.IsZero() {
		f.Set(formAt, r.At.Format(time.RFC3339Nano))
	}
	return f
}

// ParseDelivery reads a report the Provider made: a POST whose form
// (application/x-www-form-urlencoded body) has the fields status (an
// sms.DeliveryStatus), gateway_id and at (RFC 3339). The report has
// Provider "mock" and no Code or Text; reportURL is not needed, since the
// mock signs nothing (sms.DeliveryHandler authenticates the URL). An error
// matches ErrMalformedReport.
func (p *Provider) ParseDelivery(r *http.Request, reportURL string) (sms.DeliveryReport, error) {
	if r.Method != http.MethodPost {
		return sms.DeliveryReport{}, fmt.Errorf("%w: method %s, want POST", ErrMalformedReport, r.Method)
	}
	if err := r.ParseForm(); err != nil {
		return sms.DeliveryReport{}, fmt.Errorf("%w: %w", ErrMalformedReport, err)
	}
	return parseReportForm(r.PostForm)
}

// parseReportForm reads the fields that reportForm writes.
func parseReportForm(f url.Values) (sms.DeliveryReport, error) {
	rep := sms.DeliveryReport{
		Status:    sms.DeliveryStatus(f.Get(formStatus)),
		GatewayID: f.Get(formGatewayID),
		Provider:  "mock",
	}
	if !rep.Status.Known() {
		return sms.DeliveryReport{}, fmt.Errorf("%w: unknown status %q", ErrMalformedReport, rep.Status)
	}
	if at := f.Get(formAt); at != "" {
		t, err := time.Parse(time.RFC3339Nano, at)
		if err != nil {
			return sms.DeliveryReport{}, fmt.Errorf("%w: the time %q is not RFC 3339", ErrMalformedReport, at)
		}
		rep.At = t
	}
	return rep, nil
}

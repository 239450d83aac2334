package failover

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/smsgateway/sms"
)

// ViaParam is the query parameter that a Provider adds to a message's
// ReportURL for the vendor it hands the message to, naming that vendor, so
// that ParseDelivery can give the gateway's callback to the vendor that
// sent the message. Nested failovers each add one, in order.
const ViaParam = "sms_via"

// reporter returns v's Provider as an sms.DeliveryReporter that asks for
// reports, or nil.
func reporter(v Vendor) sms.DeliveryReporter {
	if dr, ok := v.Provider.(sms.DeliveryReporter); ok && dr.DeliveryReports() {
		return dr
	}
	return nil
}

// DeliveryReports reports whether some vendor asks for delivery reports; it
// makes *Provider an sms.DeliveryReporter. A message handed to a vendor
// that does not ask for them goes without its ReportURL.
func (p *Provider) DeliveryReports() bool {
	for _, v := range p.vendors {
		if reporter(v) != nil {
			return true
		}
	}
	return false
}

// withVia returns u with the ViaParam naming vendor added.
func withVia(u, vendor string) string {
	sep := "&"
	if !strings.Contains(u, "?") {
		sep = "?"
	}
	return u + sep + ViaParam + "=" + url.QueryEscape(vendor)
}

// reportURLFor is msg's ReportURL as the vendor v gets it.
func reportURLFor(msg sms.Message, v Vendor) string {
	if msg.ReportURL == "" || reporter(v) == nil {
		return ""
	}
	return withVia(msg.ReportURL, v.Name)
}

// errNoVia is the cause of a callback that names no vendor of the Provider.
var errNoVia = errors.New("failover: the report names no vendor that asks for reports")

// ViaVendor returns the vendor name that the callback r names for the
// failover whose report URL is reportURL: the ViaParam after those that
// reportURL already has (added by failovers around it).
func ViaVendor(r *http.Request, reportURL string) (string, bool) {
	depth := 0
	if u, err := url.Parse(reportURL); err == nil {
		depth = len(u.Query()[ViaParam])
	}
	names := r.URL.Query()[ViaParam]
	if depth >= len(names) {
		return "", false
	}
	return names[depth], true
}

// ParseDelivery hands the callback to the vendor its ViaParam names, with
// the report URL that vendor was given, and names the vendor in the
// report's Provider.
func (p *Provider) ParseDelivery(r *http.Request, reportURL string) (sms.DeliveryReport, error) {
	name, ok := ViaVendor(r, reportURL)
	if !ok {
		return sms.DeliveryReport{}, errNoVia
	}
	for _, v := range p.vendors {
		if v.Name != name {
			continue
		}
		dr := reporter(v)
		if dr == nil {
			break
		}
		rep, err := dr.ParseDelivery(r, withVia(reportURL, name))
		if err != nil {
			return rep, fmt.Errorf("failover: vendor %q: %w", name, err)
		}
		rep.Provider = qualify(name, rep.Provider)
		return rep, nil
	}
	return sms.DeliveryReport{}, errNoVia
}

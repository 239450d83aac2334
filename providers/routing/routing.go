// Package routing is an sms.Provider that picks a vendor by the recipient's
// number: the route with the longest prefix of the number wins, else the
// default vendor.
//
//	p, err := routing.New(routing.Config{
//		Routes: []routing.Route{
//			{Prefix: "+7", Vendor: failover.Vendor{Name: "ru", Provider: ru}},
//			{Prefix: "+79", Vendor: failover.Vendor{Name: "ru-mobile", Provider: ruMobile}},
//		},
//		Default: &failover.Vendor{Name: "intl", Provider: intl},
//	})
//
// Vendors are failover.Vendor values, so that a name means the same thing
// in both packages; a route's Provider may itself be a *failover.Provider
// to get "this country through A, else B".
//
// Prefixes are matched against Message.To as the Provider receives it: the
// number after the Client's Normalizer, such as "+79161234567" or, for a
// national number the default normalizer leaves alone, "89161234567".
//
// # Errors
//
// A number with no route, when there is no default, fails with an
// *sms.Error of KindRejected wrapping ErrNoRoute: no attempt can send it, and
// it says nothing about other numbers. A vendor's failure comes back as an
// *sms.Error of the vendor's Kind wrapping a *failover.VendorError that
// names the vendor (see the failover package's Errors section).
//
// The Kind is passed on as the vendor reported it, KindFatal included, so a
// Client stops a mailing at one vendor's fatal outcome (wrong credentials,
// no balance) even when other routes would still work. To keep the other
// routes going, give each route a failover with a backup vendor, or send a
// mailing per route.
package routing

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strings"

	"github.com/smsgateway/sms"
	"github.com/smsgateway/sms/providers/failover"
)

// ErrNoRoute is wrapped by the error of a message whose number matches no
// route when there is no default vendor.
var ErrNoRoute = errors.New("routing: no route for the number")

// Route sends numbers that begin with Prefix through Vendor.
type Route struct {
	// Prefix is matched against the start of the normalized number: an
	// optional '+' then digits, such as "+7", "+79" or "8800". "+" alone
	// matches every number in international form. It must not be empty.
	Prefix string
	// Vendor sends the route's messages. The same vendor (same Name and
	// Provider) may serve several routes.
	Vendor failover.Vendor
}

// Config lists the routes. It is plain data: New checks it.
type Config struct {
	// Routes are matched by longest prefix; their order does not matter.
	// Two routes may not have the same prefix.
	Routes []Route
	// Default sends numbers that match no route. Nil means such numbers
	// fail with ErrNoRoute.
	Default *failover.Vendor
}

// Provider routes each message to one vendor by its number. Create one with
// New. It is safe for concurrent use when its vendors are.
type Provider struct {
	routes  map[string]*failover.Provider // by prefix
	longest int                           // length of the longest prefix
	def     *failover.Provider            // nil when there is no default
	vendors []*failover.Provider          // one per vendor name, for Close and Idempotent
	byName  map[string]*failover.Provider // the same, by vendor name, for ParseDelivery
}

// New checks cfg and returns a Provider for it. It fails when there is
// neither a route nor a default, when a prefix is empty, malformed or
// repeated, when a vendor has no name or a nil Provider, or when one name is
// given to two different Providers.
func New(cfg Config) (*Provider, error) {
	if len(cfg.Routes) == 0 && cfg.Default == nil {
		return nil, errors.New("routing: no routes and no default vendor")
	}
	p := &Provider{routes: make(map[string]*failover.Provider, len(cfg.Routes))}
	byName := map[string]*failover.Provider{}
	p.byName = byName
	given := map[string]sms.Provider{}
	vendor := func(v failover.Vendor) (*failover.Provider, error) {
		if fp, ok := byName[v.Name]; ok {
			if !same(given[v.Name], v.Provider) {
				return nil, fmt.Errorf("routing: vendor name %q given to two different providers", v.Name)
			}
			return fp, nil
		}
		fp, err := failover.New(v)
		if err != nil {
			return nil, fmt.Errorf("routing: %w", err)
		}
		byName[v.Name], given[v.Name] = fp, v.Provider
		p.vendors = append(p.vendors, fp)
		return fp, nil
	}
	for _, r := range cfg.Routes {
		if err := checkPrefix(r.Prefix); err != nil {
			return nil, err
		}
		if _, dup := p.routes[r.Prefix]; dup {
			return nil, fmt.Errorf("routing: prefix %q routed twice", r.Prefix)
		}
		fp, err := vendor(r.Vendor)
		if err != nil {
			return nil, err
		}
		p.routes[r.Prefix] = fp
		p.longest = max(p.longest, len(r.Prefix))
	}
	if cfg.Default != nil {
		fp, err := vendor(*cfg.Default)
		if err != nil {
			return nil, err
		}
		p.def = fp
	}
	return p, nil
}

// checkPrefix accepts an optional '+' followed by digits, not empty.
func checkPrefix(prefix string) error {
	digits := strings.TrimPrefix(prefix, "+")
	if prefix == "" || strings.Trim(digits, "0123456789") != "" {
		return fmt.Errorf("routing: bad prefix %q: want an optional '+' and digits", prefix)
	}
	return nil
}

// same reports whether a and b are the same provider value; values of types
// that cannot be compared are never the same.
func same(a, b sms.Provider) bool {
	ta, tb := reflect.TypeOf(a), reflect.TypeOf(b)
	return ta == tb && ta != nil && ta.Comparable() && a == b
}

// route returns the vendor for number, or nil.
func (p *Provider) route(number string) *failover.Provider {
	for n := min(len(number), p.longest); n > 0; n-- {
		if fp, ok := p.routes[number[:n]]; ok {
			return fp
		}
	}
	return p.def
}

// Send hands msg to the vendor of the longest matching prefix of msg.To, or
// to the default vendor. The Receipt's Provider names the vendor. One call is
// one attempt at one vendor: the vendor's outcome, and its Kind, come back
// as they are.
func (p *Provider) Send(ctx context.Context, msg sms.Message) (sms.Receipt, error) {
	fp := p.route(msg.To)
	if fp == nil {
		return sms.Receipt{}, &sms.Error{Kind: sms.KindRejected, Err: ErrNoRoute}
	}
	return fp.Send(ctx, msg)
}

// DeliveryReports reports whether some vendor asks for delivery reports; it
// makes *Provider an sms.DeliveryReporter. Each vendor's messages carry its
// name in their ReportURL (failover.ViaParam).
func (p *Provider) DeliveryReports() bool {
	for _, fp := range p.vendors {
		if fp.DeliveryReports() {
			return true
		}
	}
	return false
}

// ParseDelivery hands the callback to the vendor it names.
func (p *Provider) ParseDelivery(r *http.Request, reportURL string) (sms.DeliveryReport, error) {
	name, _ := failover.ViaVendor(r, reportURL)
	fp, ok := p.byName[name]
	if !ok {
		return sms.DeliveryReport{}, fmt.Errorf("routing: the report names no vendor of ours (%q)", name)
	}
	return fp.ParseDelivery(r, reportURL)
}

// Idempotent reports whether every vendor is an sms.IdempotentProvider
// reporting true. Since a number always goes to the same vendor, each
// gateway's deduplication then makes the Client's retry of an ambiguous
// outcome safe.
func (p *Provider) Idempotent() bool {
	for _, fp := range p.vendors {
		if !fp.Idempotent() {
			return false
		}
	}
	return true
}

// Close closes every vendor's Provider that is an io.Closer, once per
// vendor name, and returns their errors joined. It is idempotent: later
// calls return the first call's result.
func (p *Provider) Close() error {
	errs := make([]error, 0, len(p.vendors))
	for _, fp := range p.vendors {
		errs = append(errs, fp.Close())
	}
	return errors.Join(errs...)
}

// Package failover is an sms.Provider that sends through a list of vendors
// in order, moving to the next one only when a vendor provably did not
// accept the message.
//
//	p, err := failover.New(
//		failover.Vendor{Name: "primary", Provider: primary},
//		failover.Vendor{Name: "backup", Provider: backup},
//	)
//	client, err := sms.New(p)
//
// It is the "vendors 1..N" of the original service, done without sending a
// text twice.
//
// # When it moves on
//
// A vendor's outcome decides, by its sms.Kind:
//
//   - accepted: done; the Receipt's Provider names the vendor.
//   - KindTemporary, KindThrottled, KindFatal: the vendor provably did not
//     accept the message (and a fatal vendor can accept none), so the next
//     vendor is tried, unless ctx is done.
//   - KindAmbiguous (and any error that is not an *sms.Error, which counts
//     as ambiguous) and KindRejected (or KindInvalid): stop. The message may
//     have been sent, or no vendor should send it; trying another vendor
//     could deliver it twice.
//
// # Errors
//
// A failure is an *sms.Error. Its Kind is the last vendor's kind when that
// one stopped the failover (ambiguous, rejected); when every vendor failed,
// it is KindThrottled if any vendor was throttled (the Client then slows
// down as a whole), else KindTemporary if any was temporary, else KindFatal:
// fatal only when every vendor was. Code and RetryAfter come from the vendor
// error that decided the Kind: the last one of that Kind, or for
// KindThrottled the one with the shortest positive RetryAfter. A throttle is
// PerRecipient only when every throttled vendor said so. When ctx ended
// between two vendors, its error is joined to the others, so
// errors.Is(err, context.Canceled) holds.
//
// The *sms.Error's Err joins one *VendorError per vendor tried, in order,
// each wrapping what its vendor returned. Since the failover's *sms.Error is
// the outermost one, it alone decides the kind: among the sms kind
// sentinels (sms.ErrTemporary, ...) errors.Is matches only the one of the
// returned Kind, so a failover that ended ambiguous never looks temporary,
// while the vendors' causes (a context error, a sentinel of the vendor's
// package) still match. Use errors.As with a *VendorError to see what each
// vendor said.
package failover

import (
	"context"
	"errors"
	"fmt"
	"io"
	"reflect"
	"sync"
	"time"

	"github.com/smsgateway/sms"
)

// Vendor is one gateway with the name it is known by. The package routing
// uses it too.
type Vendor struct {
	// Name identifies the vendor in Receipts and errors. It must not be
	// empty, and is unique within one failover Provider.
	Name string
	// Provider sends the vendor's messages. It must not be nil.
	Provider sms.Provider
}

// Provider sends through its vendors in order. Create one with New. It is
// safe for concurrent use when its vendors are.
type Provider struct {
	vendors []Vendor

	closeOnce sync.Once
	closeErr  error
}

// New returns a Provider that tries vendors in the given order. There must
// be at least one; names must be non-empty and unique, and providers
// non-nil.
func New(vendors ...Vendor) (*Provider, error) {
	if len(vendors) == 0 {
		return nil, errors.New("failover: no vendors")
	}
	seen := make(map[string]bool, len(vendors))
	for i, v := range vendors {
		switch {
		case v.Name == "":
			return nil, fmt.Errorf("failover: vendor %d has no name", i)
		case seen[v.Name]:
			return nil, fmt.Errorf("failover: vendor name %q used twice", v.Name)
		case v.Provider == nil:
			return nil, fmt.Errorf("failover: vendor %q has a nil Provider", v.Name)
		}
		seen[v.Name] = true
	}
	return &Provider{vendors: append([]Vendor(nil), vendors...)}, nil
}

// Send hands msg to the vendors in order until one accepts it or one's
// outcome forbids trying another, as the package documentation says. The
// Receipt is the last vendor's, with Provider set to its name (or
// "name/inner" when the vendor's own Receipt already named one, as a nested
// failover's does).
func (p *Provider) Send(ctx context.Context, msg sms.Message) (sms.Receipt, error) {
	var (
		rc   sms.Receipt
		errs = make([]*VendorError, 0, len(p.vendors))
	)
	for i, v := range p.vendors {
		if i > 0 && ctx.Err() != nil {
			return rc, aggregate(errs, ctx.Err())
		}
		vmsg := msg
		vmsg.ReportURL = reportURLFor(msg, v)
		var err error
		rc, err = v.Provider.Send(ctx, vmsg)
		rc.Provider = qualify(v.Name, rc.Provider)
		if err == nil {
			return rc, nil
		}
		ve := newVendorError(v.Name, err)
		errs = append(errs, ve)
		if !movesOn(ve.Kind) {
			return rc, aggregate(errs, nil)
		}
	}
	return rc, aggregate(errs, nil)
}

// Idempotent reports whether the Client may retry an ambiguous outcome of
// a message with an ID: only when there is one vendor and it is an
// sms.IdempotentProvider reporting true. With two or more vendors it is
// false even when each deduplicates, because each gateway deduplicates only
// the IDs it saw: after an ambiguous outcome at the first vendor, a retry
// that finds it temporarily down would hand the message to the second.
func (p *Provider) Idempotent() bool {
	if len(p.vendors) != 1 {
		return false
	}
	ip, ok := p.vendors[0].Provider.(sms.IdempotentProvider)
	return ok && ip.Idempotent()
}

// Close closes every vendor's Provider that is an io.Closer, each distinct
// one once, and returns their errors joined. It is idempotent: later calls
// return the first call's result.
func (p *Provider) Close() error {
	p.closeOnce.Do(func() {
		providers := make([]sms.Provider, len(p.vendors))
		for i, v := range p.vendors {
			providers[i] = v.Provider
		}
		p.closeErr = closeAll(providers)
	})
	return p.closeErr
}

// closeAll closes every provider that is an io.Closer, skipping repeats of
// the same comparable value, and returns their errors joined.
func closeAll(providers []sms.Provider) error {
	var errs []error
	for i, pr := range providers {
		cl, ok := pr.(io.Closer)
		if !ok || repeated(providers[:i], pr) {
			continue
		}
		if err := cl.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// repeated reports whether pr equals one of earlier; values of types that
// cannot be compared never do.
func repeated(earlier []sms.Provider, pr sms.Provider) bool {
	if !reflect.TypeOf(pr).Comparable() {
		return false
	}
	for _, e := range earlier {
		if reflect.TypeOf(e) == reflect.TypeOf(pr) && e == pr {
			return true
		}
	}
	return false
}

// movesOn reports whether a vendor's failure of kind k lets the next vendor
// try: only when the message was provably not accepted.
func movesOn(k sms.Kind) bool {
	return k == sms.KindTemporary || k == sms.KindThrottled || k == sms.KindFatal
}

// qualify names the vendor in a Receipt, keeping a nested vendor's name.
func qualify(name, inner string) string {
	if inner == "" {
		return name
	}
	return name + "/" + inner
}

// VendorError is what one vendor answered, inside the *sms.Error that Send
// returns. It wraps the vendor's error as it was returned; on its own it
// matches that error's kind, but inside the failover's *sms.Error only the
// failover's kind counts (see the package documentation).
type VendorError struct {
	// Vendor is the vendor's name.
	Vendor string
	// Kind is the kind of the vendor's error (KindAmbiguous when it was
	// not an *sms.Error).
	Kind sms.Kind
	// Code, RetryAfter and PerRecipient are those of the vendor's
	// *sms.Error; zero when it gave none.
	Code         string
	RetryAfter   time.Duration
	PerRecipient bool
	// Err is the vendor's error as it returned it.
	Err error
}

func newVendorError(name string, err error) *VendorError {
	ve := &VendorError{Vendor: name, Kind: sms.KindAmbiguous, Err: err}
	var e *sms.Error
	if errors.As(err, &e) {
		ve.Kind, ve.Code, ve.RetryAfter, ve.PerRecipient = e.Kind, e.Code, e.RetryAfter, e.PerRecipient
	}
	return ve
}

// Error returns the vendor's name and its error's text.
func (e *VendorError) Error() string {
	return fmt.Sprintf("vendor %q: %v", e.Vendor, e.Err)
}

// Unwrap returns the vendor's error.
func (e *VendorError) Unwrap() error { return e.Err }

// aggregate builds the *sms.Error for a Send that ended in errs (at least
// one), with extra (a context error) joined when not nil.
func aggregate(errs []*VendorError, extra error) *sms.Error {
	last := errs[len(errs)-1]
	decider := last
	if movesOn(last.Kind) {
		// Every vendor tried failed without accepting the message.
		decider = nil
		for _, kind := range []sms.Kind{sms.KindThrottled, sms.KindTemporary, sms.KindFatal} {
			for _, ve := range errs {
				if ve.Kind == kind && (decider == nil || kind != sms.KindThrottled || shorterHint(ve, decider)) {
					decider = ve
				}
			}
			if decider != nil {
				break
			}
		}
	}
	joined := make([]error, 0, len(errs)+1)
	for _, ve := range errs {
		joined = append(joined, ve)
	}
	if extra != nil {
		joined = append(joined, extra)
	}
	out := &sms.Error{Kind: decider.Kind, Code: decider.Code, RetryAfter: decider.RetryAfter, PerRecipient: decider.Kind == sms.KindThrottled}
	for _, ve := range errs {
		if ve.Kind == sms.KindThrottled && !ve.PerRecipient {
			out.PerRecipient = false // one account-wide throttle holds back every message
		}
	}
	if len(joined) == 1 {
		out.Err = joined[0]
	} else {
		out.Err = errors.Join(joined...)
	}
	return out
}

// shorterHint reports whether a has a positive RetryAfter shorter than b's,
// or b has none and a does.
func shorterHint(a, b *VendorError) bool {
	return a.RetryAfter > 0 && (b.RetryAfter <= 0 || a.RetryAfter < b.RetryAfter)
}

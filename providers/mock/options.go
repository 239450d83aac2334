package mock

import (
	"errors"
	"fmt"
	"time"

	"github.com/smsgateway/sms"
)

// An Option scripts a Provider in New. Options panic on invalid arguments
// (a nil error, a negative count): a bad script is a bug in the test.
type Option func(*Provider)

// rule decides call n's answer when ok is true; the next rule is tried
// otherwise.
type rule func(n int, msg sms.Message) (ok bool, rc sms.Receipt, err error)

func addRule(r rule) Option {
	return func(p *Provider) { p.rules = append(p.rules, r) }
}

func mustErr(name string, err error) {
	if err == nil {
		panic("mock: " + name + ": nil error")
	}
}

// Idempotent makes the Provider deduplicate by Message.ID, as a gateway with
// caller-chosen IDs does, and report so through Idempotent, so that a Client
// retries ambiguous outcomes of messages with an ID. See the package
// documentation.
func Idempotent() Option {
	return func(p *Provider) { p.idempotent = true }
}

// Latency makes every call wait d before it is answered. The wait ends early
// when the call's ctx is done; the call then fails as the package
// documentation says. d must not be negative; 0 means no wait.
func Latency(d time.Duration) Option {
	if d < 0 {
		panic(fmt.Sprintf("mock: Latency: negative duration %v", d))
	}
	return func(p *Provider) { p.latency = d }
}

// FailNumber is a rule that answers err to every call whose Message.To is
// number. Message.To is what the Provider receives, so give number in the
// Client's normalized form ("+4915112345678", not "+49 151 12345678").
func FailNumber(number string, err error) Option {
	mustErr("FailNumber", err)
	return addRule(func(_ int, msg sms.Message) (bool, sms.Receipt, error) {
		return msg.To == number, sms.Receipt{}, err
	})
}

// FailFirst is a rule that answers err to the first n calls (Call.N <= n),
// whatever their number. n must not be negative; 0 matches no call.
func FailFirst(n int, err error) Option {
	mustErr("FailFirst", err)
	if n < 0 {
		panic(fmt.Sprintf("mock: FailFirst: negative count %d", n))
	}
	return addRule(func(call int, _ sms.Message) (bool, sms.Receipt, error) {
		return call <= n, sms.Receipt{}, err
	})
}

// FailEvery is a rule that answers err to every k-th call (Call.N a multiple
// of k). k must be at least 1; FailEvery(1, err) fails every call.
func FailEvery(k int, err error) Option {
	mustErr("FailEvery", err)
	if k < 1 {
		panic(fmt.Sprintf("mock: FailEvery: k must be at least 1, got %d", k))
	}
	return addRule(func(call int, _ sms.Message) (bool, sms.Receipt, error) {
		return call%k == 0, sms.Receipt{}, err
	})
}

// Func is a rule that matches every call and lets f answer it: f gets the
// call's number (Call.N) and message. A nil error means accepted: the message
// is recorded in Sent, and the Receipt is f's, or "mock-<n>" when f returns a
// zero Receipt. An error may be wrapped in Delivered. Rules given after Func
// are never reached.
//
// A Receipt that f returns with an error is passed on as it is, so f can
// script what a gateway said about a failure. f does not see the call's
// context; script a slow gateway with Latency.
//
// f is called without the Provider's lock held, possibly from several
// goroutines at once, so it must be safe for concurrent use.
func Func(f func(n int, msg sms.Message) (sms.Receipt, error)) Option {
	if f == nil {
		panic("mock: Func: nil function")
	}
	return addRule(func(n int, msg sms.Message) (bool, sms.Receipt, error) {
		rc, err := f(n, msg)
		return true, rc, err
	})
}

// ErrScripted is the cause wrapped by the errors of Err, Throttled and
// ThrottledRecipient, so a test can tell a scripted failure from any other
// with errors.Is.
var ErrScripted = errors.New("mock: scripted failure")

// Err returns a scripted *sms.Error of the given kind, wrapping ErrScripted.
// Err(sms.KindAmbiguous) scripts an answer that may have been lost without
// the message being accepted; see Delivered for the other case.
func Err(kind sms.Kind) *sms.Error {
	return &sms.Error{Kind: kind, Err: ErrScripted}
}

// Throttled returns a scripted *sms.Error of KindThrottled with the given
// Retry-After hint (0 for none), wrapping ErrScripted.
func Throttled(retryAfter time.Duration) *sms.Error {
	return &sms.Error{Kind: sms.KindThrottled, RetryAfter: retryAfter, Err: ErrScripted}
}

// ThrottledRecipient returns a scripted *sms.Error of KindThrottled about
// the message's recipient only (sms.Error.PerRecipient: the same text to this
// number too often), with the given Retry-After hint (0 for none), wrapping
// ErrScripted. A Client delays that message's retry alone; with Throttled,
// every message waits.
func ThrottledRecipient(retryAfter time.Duration) *sms.Error {
	return &sms.Error{Kind: sms.KindThrottled, RetryAfter: retryAfter, PerRecipient: true, Err: ErrScripted}
}

// Delivered scripts "accepted by the gateway, but the answer was lost": a
// rule answering Delivered(err) records the message in Sent (deduplicated by
// ID when the Provider is Idempotent), and Send returns err itself, not
// wrapped, with a zero Receipt. A nil err means Err(sms.KindAmbiguous), the
// honest kind for a lost answer.
//
// The Provider recognizes only the error that a rule returns; Delivered
// wrapped inside another error acts as an ordinary error.
func Delivered(err error) error {
	if err == nil {
		err = Err(sms.KindAmbiguous)
	}
	return &deliveredError{err: err}
}

// deliveredError marks an error whose message was accepted nonetheless.
type deliveredError struct{ err error }

func (e *deliveredError) Error() string { return e.err.Error() }
func (e *deliveredError) Unwrap() error { return e.err }

// Report scripts the delivery reports of every accepted message to number
// that has a ReportURL: after waiting after from the acceptance, the Provider
// posts one report per status, in order, to the message's ReportURL (see the
// package documentation). Several Report options for one number add to its
// script, each after counted from the end of the previous report:
//
//	mock.Report(alice, 0, sms.DeliveryAccepted),
//	mock.Report(alice, time.Hour, sms.DeliveryDelivered) // an hour later
//
// Give number in the Client's normalized form, as for FailNumber. after must
// not be negative, and every status must be one of the sms.Delivery*
// constants; at least one is needed.
func Report(number string, after time.Duration, statuses ...sms.DeliveryStatus) Option {
	steps := reportSteps("Report", after, statuses)
	return func(p *Provider) { p.reportTo[number] = append(p.reportTo[number], steps...) }
}

// ReportAll scripts the delivery reports of every accepted message with a
// ReportURL to a number that has no Report script, as Report does for one
// number. Several ReportAll options add to one script.
func ReportAll(after time.Duration, statuses ...sms.DeliveryStatus) Option {
	steps := reportSteps("ReportAll", after, statuses)
	return func(p *Provider) { p.reportAll = append(p.reportAll, steps...) }
}

// reportSteps checks the arguments of Report or ReportAll (name) and returns
// their steps: the first after the delay, the others right after it.
func reportSteps(name string, after time.Duration, sts []sms.DeliveryStatus) []reportStep {
	if after < 0 {
		panic(fmt.Sprintf("mock: %s: negative delay %v", name, after))
	}
	if len(sts) == 0 {
		panic("mock: " + name + ": no status")
	}
	steps := make([]reportStep, len(sts))
	for i, s := range sts {
		if !s.Known() {
			panic(fmt.Sprintf("mock: %s: unknown status %q", name, s))
		}
		steps[i] = reportStep{status: s}
	}
	steps[0].after = after
	return steps
}

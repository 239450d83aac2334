// Package providertest is the conformance suite every sms.Provider passes.
//
// A provider package tests itself by writing a Harness: something that
// builds a provider pointed at a gateway it controls (an httptest server, a
// real gateway with a fake SMSC, or an in-memory script) and makes that
// gateway answer every request with a given Behavior. RunConformanceTests then
// checks the Provider contract of package sms against it:
//
//   - one Send is one request: the provider does not retry, whatever the
//     gateway answers (Send<Behavior>: two Sends, Requests checked after
//     each; a Send whose context ends while the gateway hangs makes at most
//     one);
//   - every Behavior is reported with the right sms.Kind (that of the first
//     *sms.Error in the error's chain, sms.KindAmbiguous for any other
//     error; Accept gives a nil error), and a throttled answer carries the
//     gateway's Retry-After when the harness is a RetryAfterHarness
//     (SendThrottle);
//   - Send honours its context: a context cancelled beforehand
//     (CancelledContext), cancelled while the gateway hangs
//     (CancelWhileHanging) or past its deadline while it hangs
//     (DeadlineWhileHanging) returns promptly with an error matching
//     context.Canceled or context.DeadlineExceeded under errors.Is;
//   - Send is safe for concurrent use (Concurrent: 64 goroutines send
//     distinct numbers at once; all accepted, 64 requests; run the tests
//     with -race);
//   - in every check, the harness's canary Secret, as given or URL-escaped,
//     never appears in err.Error(), in fmt's %+v of the error, in the text
//     of any error it wraps, or in any field of the Receipt.
//
// Use it from the provider's tests:
//
//	func TestConformance(t *testing.T) {
//		providertest.RunConformanceTests(t, newHarness)
//	}
//
// The names in parentheses are the subtests. Each check is a subtest with a
// fresh Harness. A Behavior the harness cannot
// script (MakeProvider returns an error wrapping ErrUnsupported) skips the
// checks that need it. "Promptly" means within a generous grace period of
// five seconds: the suite detects a provider that ignores its context, it
// does not measure speed.
package providertest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/smsgateway/sms"
)

// Behavior is how a harness's gateway answers every request.
type Behavior int

// The behaviors. Each but Accept and Hang has the sms.Kind a provider must
// report for it (see Behavior.Kind).
const (
	// Accept: the gateway accepts the message. Send returns a nil error.
	Accept Behavior = iota
	// Reject: the gateway refuses this message for good (a bad number).
	// KindRejected.
	Reject
	// Temporary: the gateway provably did not accept the message and says
	// to try later (queue full). KindTemporary.
	Temporary
	// Throttle: the gateway refuses because of rate (HTTP 429), with a
	// Retry-After hint when RetryAfterHarness says so. KindThrottled.
	Throttle
	// Fatal: no message can succeed (wrong credentials, no balance).
	// KindFatal.
	Fatal
	// Ambiguous: the gateway may have accepted the message but the answer
	// is lost or meaningless (a reset after the request, HTTP 502).
	// KindAmbiguous, which any error that is not an *sms.Error also is.
	Ambiguous
	// Hang: the gateway takes the request and never answers. Send must
	// return when its context is done.
	Hang
)

var behaviorNames = [...]string{
	Accept:    "Accept",
	Reject:    "Reject",
	Temporary: "Temporary",
	Throttle:  "Throttle",
	Fatal:     "Fatal",
	Ambiguous: "Ambiguous",
	Hang:      "Hang",
}

// String returns the behavior's name, such as "Throttle".
func (b Behavior) String() string {
	if b >= 0 && int(b) < len(behaviorNames) {
		return behaviorNames[b]
	}
	return fmt.Sprintf("Behavior(%d)", int(b))
}

// Kind returns the sms.Kind a provider must report when its gateway answers
// with b, and false for Accept (no error) and Hang (the context's error
// decides), and for unknown behaviors.
func (b Behavior) Kind() (sms.Kind, bool) {
	switch b {
	case Reject:
		return sms.KindRejected, true
	case Temporary:
		return sms.KindTemporary, true
	case Throttle:
		return sms.KindThrottled, true
	case Fatal:
		return sms.KindFatal, true
	case Ambiguous:
		return sms.KindAmbiguous, true
	default:
		return sms.KindAmbiguous, false
	}
}

// ErrUnsupported is wrapped by the error of Harness.MakeProvider when the
// harness cannot make its gateway behave as asked. The checks that need that
// behavior are skipped.
var ErrUnsupported = errors.New("providertest: behavior not supported by the harness")

// Harness builds providers against a gateway it controls. The suite makes a
// new Harness for every check and calls Close at the end of it. Its methods
// are called from the check's goroutine only, but Requests may be called
// while Sends on another goroutine are in flight (or hang).
type Harness interface {
	// MakeProvider returns a provider whose gateway answers every Send
	// with b, and starts a new count of Requests. It returns an error
	// wrapping ErrUnsupported when the harness cannot script b; any other
	// error fails the check.
	MakeProvider(ctx context.Context, b Behavior) (sms.Provider, error)
	// Requests reports how many requests reached the gateway of the last
	// MakeProvider: requests the gateway received, whether it answered
	// them or not. It is 0 right after MakeProvider.
	Requests() int
	// Secret is a canary credential configured into the providers (an API
	// key, a password); "" when the provider has none, which skips the
	// leak checks. Pick a value that cannot occur by chance in an error.
	Secret() string
	// Close releases the harness: it stops its gateway and ends requests
	// that still hang, so that no goroutine outlives the check.
	Close()
}

// RetryAfterHarness is implemented by a Harness whose gateway sends a
// Retry-After hint with Throttle answers. Without it, or when RetryAfter
// returns 0, the suite does not check Error.RetryAfter.
type RetryAfterHarness interface {
	Harness
	// RetryAfter returns the hint the gateway sends, which the provider
	// must report exactly in the *sms.Error's RetryAfter.
	RetryAfter() time.Duration
}

// HarnessMaker makes a new Harness for one check. t is the check's subtest,
// for t.Cleanup, t.TempDir and t.Skip.
type HarnessMaker func(ctx context.Context, t *testing.T) (Harness, error)

// grace is how long after its context is done a Send may take to return
// before the suite reports that it ignores the context. It is generous so
// that a loaded machine does not fail the suite.
const grace = 5 * time.Second

// RunConformanceTests runs every check against harnesses from newHarness,
// each as a subtest of t named after it.
func RunConformanceTests(t *testing.T, newHarness HarnessMaker) {
	t.Helper()
	for _, c := range checks(grace) {
		t.Run(c.name, func(t *testing.T) {
			ctx := context.Background()
			h, err := newHarness(ctx, t)
			if err != nil {
				t.Fatalf("making the harness: %v", err)
			}
			defer h.Close()
			err = c.run(ctx, h)
			var skip *skipError
			switch {
			case errors.As(err, &skip):
				t.Skip(skip)
			case err != nil:
				t.Error(err)
			}
		})
	}
}

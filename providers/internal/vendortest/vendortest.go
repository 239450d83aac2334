// Package vendortest holds test helpers for the providers' own tests: mocks
// scripted to answer as a providertest.Behavior asks (the mock's conformance
// test, and the vendors of failover and routing in theirs), and a trivial
// vendor and loop for benchmarks. It is for tests only.
package vendortest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/smsgateway/sms"
	"github.com/smsgateway/sms/providers/mock"
	"github.com/smsgateway/sms/providers/providertest"
)

// ThrottleHint is the Retry-After of every Throttle answer.
const ThrottleHint = 2 * time.Second

// Mock returns a mock.Provider that answers every call as b says: accepted,
// an *sms.Error of b's kind, an unclassified error for Ambiguous (as from a
// reset connection), or no answer until the call's context ends for Hang.
// Unknown behaviors fail with an error wrapping providertest.ErrUnsupported.
func Mock(b providertest.Behavior) (*mock.Provider, error) {
	opts, err := Options(b, false)
	if err != nil {
		return nil, err
	}
	return mock.New(opts...), nil
}

// Options are the mock options behind Mock. With idempotent, the mock
// deduplicates by ID and an Ambiguous answer is "accepted, but the answer was
// lost" (mock.Delivered).
func Options(b providertest.Behavior, idempotent bool) ([]mock.Option, error) {
	var opts []mock.Option
	if idempotent {
		opts = append(opts, mock.Idempotent())
	}
	always := func(err error) []mock.Option { return append(opts, mock.FailEvery(1, err)) }
	switch b {
	case providertest.Accept:
		return opts, nil
	case providertest.Reject, providertest.Temporary, providertest.Fatal:
		kind, _ := b.Kind()
		return always(mock.Err(kind)), nil
	case providertest.Throttle:
		return always(mock.Throttled(ThrottleHint)), nil
	case providertest.Ambiguous:
		if idempotent {
			return always(mock.Delivered(nil)), nil
		}
		return always(errors.New("connection reset by peer")), nil
	case providertest.Hang:
		return append(opts, mock.Latency(time.Hour)), nil
	}
	return nil, fmt.Errorf("behavior %v: %w", b, providertest.ErrUnsupported)
}

// Calls returns how many calls p has finished; 0 for a nil p.
func Calls(p *mock.Provider) int {
	if p == nil {
		return 0
	}
	return len(p.Calls())
}

// Answer is a vendor that answers every call at once with Err (nil:
// accepted, with an empty Receipt) and records nothing, for benchmarks.
type Answer struct{ Err error }

// Send returns a.Err.
func (a Answer) Send(context.Context, sms.Message) (sms.Receipt, error) {
	return sms.Receipt{}, a.Err
}

// BenchmarkSend sends one message through p b.N times, each of which must
// be accepted, and reports allocations.
func BenchmarkSend(b *testing.B, p sms.Provider) {
	msg := sms.Message{To: "+79161234567", Text: "hi"}
	ctx := context.Background()
	b.ReportAllocs()
	for range b.N {
		if _, err := p.Send(ctx, msg); err != nil {
			b.Fatal(err)
		}
	}
}

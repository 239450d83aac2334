// Package vendortest scripts mock providers to answer as a
// providertest.Behavior asks, for the conformance tests of the providers
// that combine vendors (failover, routing). It is for tests only.
package vendortest

import (
	"errors"
	"fmt"
	"time"

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
	always := func(err error) mock.Option { return mock.FailEvery(1, err) }
	switch b {
	case providertest.Accept:
		return mock.New(), nil
	case providertest.Reject, providertest.Temporary, providertest.Fatal:
		kind, _ := b.Kind()
		return mock.New(always(mock.Err(kind))), nil
	case providertest.Throttle:
		return mock.New(always(mock.Throttled(ThrottleHint))), nil
	case providertest.Ambiguous:
		return mock.New(always(errors.New("connection reset by peer"))), nil
	case providertest.Hang:
		return mock.New(mock.Latency(time.Hour)), nil
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

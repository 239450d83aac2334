package mock_test

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

// harness scripts a mock.Provider to answer as the suite asks. The mock's
// "gateway" is the Provider itself, so Requests counts its calls.
type harness struct {
	idempotent bool
	p          *mock.Provider
}

const throttleHint = 2 * time.Second

var (
	_ providertest.RetryAfterHarness = (*harness)(nil)
	_ providertest.HarnessMaker      = newHarness(false)
)

func newHarness(idempotent bool) providertest.HarnessMaker {
	return func(context.Context, *testing.T) (providertest.Harness, error) {
		return &harness{idempotent: idempotent}, nil
	}
}

func (h *harness) MakeProvider(_ context.Context, b providertest.Behavior) (sms.Provider, error) {
	var opts []mock.Option
	if h.idempotent {
		opts = append(opts, mock.Idempotent())
	}
	always := func(err error) mock.Option { return mock.FailEvery(1, err) }
	switch b {
	case providertest.Accept:
	case providertest.Reject:
		opts = append(opts, always(mock.Err(sms.KindRejected)))
	case providertest.Temporary:
		opts = append(opts, always(mock.Err(sms.KindTemporary)))
	case providertest.Throttle:
		opts = append(opts, always(mock.Throttled(throttleHint)))
	case providertest.Fatal:
		opts = append(opts, always(mock.Err(sms.KindFatal)))
	case providertest.Ambiguous:
		if h.idempotent {
			// The answer to an accepted message was lost.
			opts = append(opts, always(mock.Delivered(nil)))
		} else {
			// An unclassified error, as from a reset connection.
			opts = append(opts, always(errors.New("connection reset by peer")))
		}
	case providertest.Hang:
		opts = append(opts, mock.Latency(time.Hour))
	default:
		return nil, fmt.Errorf("behavior %v: %w", b, providertest.ErrUnsupported)
	}
	h.p = mock.New(opts...)
	return h.p, nil
}

func (h *harness) Requests() int {
	if h.p == nil {
		return 0
	}
	return len(h.p.Calls())
}

func (h *harness) Secret() string            { return "" } // the mock has no credentials
func (h *harness) RetryAfter() time.Duration { return throttleHint }
func (h *harness) Close()                    {}

func TestConformance(t *testing.T) {
	providertest.RunConformanceTests(t, newHarness(false))
}

func TestConformanceIdempotent(t *testing.T) {
	providertest.RunConformanceTests(t, newHarness(true))
}

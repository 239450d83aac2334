package mock_test

import (
	"context"
	"testing"
	"time"

	"github.com/smsgateway/sms"
	"github.com/smsgateway/sms/providers/internal/vendortest"
	"github.com/smsgateway/sms/providers/mock"
	"github.com/smsgateway/sms/providers/providertest"
)

// harness scripts a mock.Provider to answer as the suite asks. The mock's
// "gateway" is the Provider itself, so Requests counts its calls.
type harness struct {
	idempotent bool
	p          *mock.Provider
}

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
	opts, err := vendortest.Options(b, h.idempotent)
	if err != nil {
		return nil, err
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
func (h *harness) RetryAfter() time.Duration { return vendortest.ThrottleHint }
func (h *harness) Close()                    {}

func TestConformance(t *testing.T) {
	providertest.RunConformanceTests(t, newHarness(false))
}

func TestConformanceIdempotent(t *testing.T) {
	providertest.RunConformanceTests(t, newHarness(true))
}

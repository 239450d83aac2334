package routing_test

import (
	"context"
	"testing"
	"time"

	"github.com/smsgateway/sms"
	"github.com/smsgateway/sms/providers/failover"
	"github.com/smsgateway/sms/providers/internal/vendortest"
	"github.com/smsgateway/sms/providers/mock"
	"github.com/smsgateway/sms/providers/providertest"
	"github.com/smsgateway/sms/providers/routing"
)

// harness routes the suite's numbers (+49151...) to a mock vendor that
// answers as the suite asks, through a longer prefix than a route and a
// default that would accept: a wrong route shows as a wrong outcome.
type harness struct {
	target, other *mock.Provider
}

var _ providertest.RetryAfterHarness = (*harness)(nil)

func newHarness(context.Context, *testing.T) (providertest.Harness, error) {
	return &harness{}, nil
}

func (h *harness) MakeProvider(_ context.Context, b providertest.Behavior) (sms.Provider, error) {
	target, err := vendortest.Mock(b)
	if err != nil {
		return nil, err
	}
	h.target, h.other = target, mock.New()
	other := failover.Vendor{Name: "other", Provider: h.other}
	return routing.New(routing.Config{
		Routes: []routing.Route{
			{Prefix: "+49", Vendor: other},
			{Prefix: "+49151", Vendor: failover.Vendor{Name: "target", Provider: h.target}},
		},
		Default: &other,
	})
}

// Requests counts the requests of every vendor: one Send goes to one vendor.
func (h *harness) Requests() int {
	return vendortest.Calls(h.target) + vendortest.Calls(h.other)
}

func (h *harness) Secret() string            { return "" } // the mocks have no credentials
func (h *harness) RetryAfter() time.Duration { return vendortest.ThrottleHint }
func (h *harness) Close()                    {}

func TestConformance(t *testing.T) {
	providertest.RunConformanceTests(t, newHarness)
}

package failover_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/smsgateway/sms"
	"github.com/smsgateway/sms/providers/failover"
	"github.com/smsgateway/sms/providers/internal/vendortest"
	"github.com/smsgateway/sms/providers/mock"
	"github.com/smsgateway/sms/providers/providertest"
)

// harness builds a failover over n mock vendors that all answer as the
// suite asks.
type harness struct {
	n     int
	mocks []*mock.Provider
}

var _ providertest.RetryAfterHarness = (*harness)(nil)

func newHarness(n int) providertest.HarnessMaker {
	return func(context.Context, *testing.T) (providertest.Harness, error) {
		return &harness{n: n}, nil
	}
}

func (h *harness) MakeProvider(_ context.Context, b providertest.Behavior) (sms.Provider, error) {
	h.mocks = nil
	var vendors []failover.Vendor
	for i := range h.n {
		m, err := vendortest.Mock(b)
		if err != nil {
			return nil, err
		}
		h.mocks = append(h.mocks, m)
		vendors = append(vendors, failover.Vendor{Name: fmt.Sprintf("v%d", i+1), Provider: m})
	}
	return failover.New(vendors...)
}

// Requests is the most requests any one vendor's gateway received. A
// failover hands a message to each vendor at most once per Send (to the
// next one only after a refusal), so the suite's "one Send, one request"
// holds per gateway; a second request to the same vendor would show here.
func (h *harness) Requests() int {
	most := 0
	for _, m := range h.mocks {
		most = max(most, vendortest.Calls(m))
	}
	return most
}

func (h *harness) Secret() string            { return "" } // the mocks have no credentials
func (h *harness) RetryAfter() time.Duration { return vendortest.ThrottleHint }
func (h *harness) Close()                    {}

func TestConformanceOneVendor(t *testing.T) {
	providertest.RunConformanceTests(t, newHarness(1))
}

func TestConformanceThreeVendors(t *testing.T) {
	providertest.RunConformanceTests(t, newHarness(3))
}

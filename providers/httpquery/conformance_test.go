package httpquery

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/smsgateway/sms"
	"github.com/smsgateway/sms/providers/providertest"
)

func TestConformance(t *testing.T) {
	providertest.RunConformanceTests(t, newConformanceHarness)
}

// conformanceHarness is an httptest gateway that answers every request as
// told, the way a generic HTTP gateway with default outcomes would.
type conformanceHarness struct {
	srv       *httptest.Server
	behavior  atomic.Int64
	requests  atomic.Int64
	done      chan struct{}
	closeOnce sync.Once
	mu        sync.Mutex
	providers []*Provider
}

const conformanceSecret = "CANARY-conformance&pw"

func newConformanceHarness(_ context.Context, _ *testing.T) (providertest.Harness, error) {
	h := &conformanceHarness{done: make(chan struct{})}
	h.srv = httptest.NewServer(http.HandlerFunc(h.serve))
	return h, nil
}

func (h *conformanceHarness) serve(w http.ResponseWriter, r *http.Request) {
	h.requests.Add(1)
	switch providertest.Behavior(h.behavior.Load()) {
	case providertest.Accept:
		w.WriteHeader(http.StatusAccepted)
	case providertest.Reject:
		w.WriteHeader(http.StatusBadRequest)
	case providertest.Temporary:
		w.WriteHeader(http.StatusServiceUnavailable)
	case providertest.Throttle:
		w.Header().Set("Retry-After", "7")
		w.WriteHeader(http.StatusTooManyRequests)
	case providertest.Fatal:
		w.WriteHeader(http.StatusUnauthorized)
	case providertest.Ambiguous:
		w.WriteHeader(http.StatusBadGateway)
	case providertest.Hang:
		select {
		case <-r.Context().Done():
		case <-h.done:
		}
		return
	}
	// Echo the query, as a careless gateway might: the secret must be
	// redacted from whatever reaches an error.
	fmt.Fprint(w, r.URL.RawQuery)
}

func (h *conformanceHarness) MakeProvider(_ context.Context, b providertest.Behavior) (sms.Provider, error) {
	p, err := New(Config{URL: h.srv.URL + "/send", Params: url.Values{"password": {conformanceSecret}}})
	if err != nil {
		return nil, err
	}
	h.mu.Lock()
	h.providers = append(h.providers, p)
	h.mu.Unlock()
	h.behavior.Store(int64(b))
	h.requests.Store(0)
	return p, nil
}

func (h *conformanceHarness) Requests() int             { return int(h.requests.Load()) }
func (h *conformanceHarness) Secret() string            { return conformanceSecret }
func (h *conformanceHarness) RetryAfter() time.Duration { return 7 * time.Second }

func (h *conformanceHarness) Close() {
	h.closeOnce.Do(func() {
		close(h.done)
		h.mu.Lock()
		for _, p := range h.providers {
			_ = p.Close()
		}
		h.mu.Unlock()
		h.srv.Close()
	})
}

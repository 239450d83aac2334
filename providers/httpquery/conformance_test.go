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

// conformanceHarness gives every provider its own httptest gateway, which
// answers every request as told, the way a generic HTTP gateway with
// default outcomes would. One gateway per provider: a late request of an
// earlier provider (cancelled while it hung) can reach neither the count
// nor the behavior of the next.
type conformanceHarness struct {
	done      chan struct{} // closed by Close: ends hanging requests
	closeOnce sync.Once
	mu        sync.Mutex
	gateways  []*conformanceGateway
}

type conformanceGateway struct {
	srv      *httptest.Server
	p        *Provider
	behavior providertest.Behavior
	requests atomic.Int64
}

const conformanceSecret = "CANARY-conformance&pw"

func newConformanceHarness(_ context.Context, _ *testing.T) (providertest.Harness, error) {
	return &conformanceHarness{done: make(chan struct{})}, nil
}

func (h *conformanceHarness) serve(g *conformanceGateway, w http.ResponseWriter, r *http.Request) {
	g.requests.Add(1)
	switch g.behavior {
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
	g := &conformanceGateway{behavior: b}
	g.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.serve(g, w, r) }))
	p, err := New(Config{URL: g.srv.URL + "/send", Params: url.Values{"password": {conformanceSecret}}})
	if err != nil {
		g.srv.Close()
		return nil, err
	}
	g.p = p
	h.mu.Lock()
	h.gateways = append(h.gateways, g)
	h.mu.Unlock()
	return p, nil
}

// Requests counts the requests of the last MakeProvider's gateway.
func (h *conformanceHarness) Requests() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.gateways) == 0 {
		return 0
	}
	return int(h.gateways[len(h.gateways)-1].requests.Load())
}

func (h *conformanceHarness) Secret() string            { return conformanceSecret }
func (h *conformanceHarness) RetryAfter() time.Duration { return 7 * time.Second }

func (h *conformanceHarness) Close() {
	h.closeOnce.Do(func() {
		close(h.done)
		h.mu.Lock()
		defer h.mu.Unlock()
		for _, g := range h.gateways {
			_ = g.p.Close()
			g.srv.Close()
		}
	})
}

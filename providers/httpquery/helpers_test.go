package httpquery

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/smsgateway/sms"
)

// counter is an httptest server that counts requests and new connections.
type counter struct {
	*httptest.Server
	requests atomic.Int64
	conns    atomic.Int64
}

// newCounter starts a server on 127.0.0.1 answering with h after counting.
func newCounter(t testing.TB, h http.HandlerFunc) *counter {
	t.Helper()
	c := &counter{}
	c.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.requests.Add(1)
		h(w, r)
	}))
	c.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			c.conns.Add(1)
		}
	}
	c.Start()
	t.Cleanup(c.Close)
	return c
}

// answer returns a handler that writes status and body.
func answer(status int, body string, header ...string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		for i := 0; i+1 < len(header); i += 2 {
			w.Header().Set(header[i], header[i+1])
		}
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	}
}

// newProvider builds a Provider for tests: no jitter, 1ms dial-retry
// backoff unless cfg says otherwise, and an optional dialer.
func newProvider(t testing.TB, cfg Config, dial func(ctx context.Context, network, addr string) (net.Conn, error)) *Provider {
	t.Helper()
	if cfg.DialRetryWait == 0 {
		cfg.DialRetryWait = sms.Duration(time.Millisecond)
	}
	p, err := New(cfg)
	require.NoError(t, err)
	if dial != nil {
		p.setClient(newHTTPClient(p.s, newTransport(p.s, dial)), true)
	}
	p.rand = func(n int64) int64 { return 0 }
	t.Cleanup(func() { _ = p.Close() })
	return p
}

// countingDialer wraps a real dialer (or fail) and counts dials.
func countingDialer(n *atomic.Int64, fail error) func(ctx context.Context, network, addr string) (net.Conn, error) {
	var d net.Dialer
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		n.Add(1)
		if fail != nil {
			return nil, fail
		}
		return d.DialContext(ctx, network, addr)
	}
}

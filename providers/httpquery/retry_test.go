package httpquery

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smsgateway/sms"
)

var testMsg = sms.Message{To: "+4912345678", Text: "Hello"}

func kindOf(t *testing.T, err error) sms.Kind {
	t.Helper()
	var e *sms.Error
	require.True(t, errors.As(err, &e), "want *sms.Error, got %T %v", err, err)
	return e.Kind
}

// Every answer, whatever its status, is exactly one request.
func TestAnswersAreOneRequest(t *testing.T) {
	for _, tc := range []struct {
		status     int
		header     []string
		kind       sms.Kind
		retryAfter time.Duration
	}{
		{500, nil, sms.KindAmbiguous, 0},
		{502, nil, sms.KindAmbiguous, 0},
		{503, nil, sms.KindTemporary, 0},
		{503, []string{"Retry-After", "7"}, sms.KindTemporary, 7 * time.Second},
		{504, nil, sms.KindAmbiguous, 0},
		{429, []string{"Retry-After", "3"}, sms.KindThrottled, 3 * time.Second},
		{429, nil, sms.KindThrottled, 0},
		{400, nil, sms.KindRejected, 0},
		{403, nil, sms.KindFatal, 0},
		{302, []string{"Location", "/elsewhere"}, sms.KindFatal, 0},
	} {
		t.Run(statusText(tc.status)+strings.Join(tc.header, ":"), func(t *testing.T) {
			srv := newCounter(t, answer(tc.status, "no", tc.header...))
			p := newProvider(t, Config{URL: srv.URL + "/send"}, nil)
			rc, err := p.Send(context.Background(), testMsg)
			require.Error(t, err)
			var e *sms.Error
			require.True(t, errors.As(err, &e))
			assert.Equal(t, tc.kind, e.Kind)
			assert.Equal(t, statusText(tc.status), e.Code)
			assert.Equal(t, tc.retryAfter, e.RetryAfter)
			var re *ResponseError
			require.True(t, errors.As(err, &re))
			assert.Equal(t, tc.status, re.StatusCode)
			assert.Equal(t, "no", re.Body)
			assert.Equal(t, tc.status, rc.StatusCode)
			assert.True(t, strings.HasPrefix(rc.URL, srv.URL+"/send?"), rc.URL)
			assert.Equal(t, int64(1), srv.requests.Load())
		})
	}
}

func TestAccepted(t *testing.T) {
	srv := newCounter(t, answer(202, "0: Accepted for delivery"))
	p := newProvider(t, Kannel(srv.URL+"/cgi-bin/sendsms", "tester", "foobar"), nil)
	rc, err := p.Send(context.Background(), testMsg)
	require.NoError(t, err)
	assert.Equal(t, 202, rc.StatusCode)
	assert.Empty(t, rc.MessageID)
	assert.Equal(t, int64(1), srv.requests.Load())
}

// A listener that accepts and closes at once: the request may have been
// read, so the outcome is ambiguous and nothing is repeated.
func TestAcceptAndCloseIsAmbiguousOnce(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	var accepted atomic.Int64
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			_ = c.Close()
		}
	}()
	t.Cleanup(func() { _ = ln.Close(); wg.Wait() })

	p := newProvider(t, Config{URL: "http://" + ln.Addr().String() + "/send"}, nil)
	rc, err := p.Send(context.Background(), testMsg)
	assert.Equal(t, sms.KindAmbiguous, kindOf(t, err))
	assert.Equal(t, int64(1), accepted.Load())
	assert.Equal(t, 0, rc.StatusCode)
	var re *RequestError
	assert.True(t, errors.As(err, &re))
}

// A server that hangs past the timeout: one request, ambiguous. The
// requests are counted on the client's side (one connection each, since a
// timed-out connection is closed): the server may run its handler only
// after the client has given up.
func TestTimeoutAfterWriteIsAmbiguousOnce(t *testing.T) {
	release := make(chan struct{})
	started := make(chan struct{}, 1)
	srv := newCounter(t, func(w http.ResponseWriter, r *http.Request) {
		started <- struct{}{}
		select {
		case <-r.Context().Done():
		case <-release:
		}
	})
	t.Cleanup(func() { close(release) }) // runs before srv.Close

	var dials atomic.Int64
	// The timeout leaves the loopback dial plenty of time, so that it
	// expires after the request was written.
	p := newProvider(t, Config{URL: srv.URL, Timeout: sms.Duration(500 * time.Millisecond)}, countingDialer(&dials, nil))
	_, err := p.Send(context.Background(), testMsg)
	assert.Equal(t, sms.KindAmbiguous, kindOf(t, err))
	var ne net.Error
	require.True(t, errors.As(err, &ne))
	assert.True(t, ne.Timeout())
	assert.Equal(t, int64(1), dials.Load(), "nothing resent")
	<-started // the request reached the gateway
	assert.Equal(t, int64(1), srv.requests.Load())
}

// Context cancelled while the gateway is working: ambiguous, matching the
// context's error.
func TestContextCancelAfterWrite(t *testing.T) {
	release := make(chan struct{})
	started := make(chan struct{}, 1)
	srv := newCounter(t, func(w http.ResponseWriter, r *http.Request) {
		started <- struct{}{}
		select {
		case <-r.Context().Done():
		case <-release:
		}
	})
	t.Cleanup(func() { close(release) })
	p := newProvider(t, Config{URL: srv.URL}, nil)
	ctx, cancel := context.WithCancel(context.Background())
	go func() { <-started; cancel() }()
	_, err := p.Send(ctx, testMsg)
	assert.Equal(t, sms.KindAmbiguous, kindOf(t, err))
	assert.True(t, errors.Is(err, context.Canceled))
	assert.Equal(t, int64(1), srv.requests.Load())
}

func TestContextDoneBeforeSend(t *testing.T) {
	srv := newCounter(t, answer(202, "ok"))
	p := newProvider(t, Config{URL: srv.URL}, nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := p.Send(ctx, testMsg)
	assert.Equal(t, sms.KindTemporary, kindOf(t, err))
	assert.True(t, errors.Is(err, context.Canceled))
	assert.Equal(t, int64(0), srv.requests.Load())
}

// Connection refused never reached the gateway: retried up to
// 1+DialRetries requests, then temporary.
func TestConnectionRefusedRetried(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())

	for _, tc := range []struct {
		retries int
		dials   int64
	}{{0, 3}, {-1, 1}, {4, 5}} {
		t.Run(statusText(tc.retries), func(t *testing.T) {
			var dials atomic.Int64
			p := newProvider(t, Config{URL: "http://" + addr + "/send", DialRetries: tc.retries}, countingDialer(&dials, nil))
			_, err := p.Send(context.Background(), testMsg)
			assert.Equal(t, sms.KindTemporary, kindOf(t, err))
			assert.Equal(t, tc.dials, dials.Load())
			var op *net.OpError
			assert.True(t, errors.As(err, &op))
		})
	}
}

// A refused first dial and a working second: sent once.
func TestDialRetrySucceeds(t *testing.T) {
	srv := newCounter(t, answer(202, "ok"))
	var dials atomic.Int64
	var d net.Dialer
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		if dials.Add(1) == 1 {
			return nil, &net.OpError{Op: "dial", Net: network, Err: errors.New("connection refused")}
		}
		return d.DialContext(ctx, network, addr)
	}
	p := newProvider(t, Config{URL: srv.URL}, dial)
	_, err := p.Send(context.Background(), testMsg)
	require.NoError(t, err)
	assert.Equal(t, int64(2), dials.Load())
	assert.Equal(t, int64(1), srv.requests.Load())
}

func TestDNSFailureRetried(t *testing.T) {
	var dials atomic.Int64
	dnsErr := &net.OpError{Op: "dial", Net: "tcp", Err: &net.DNSError{Err: "no such host", Name: "gw.invalid", IsNotFound: true}}
	p := newProvider(t, Config{URL: "http://gw.invalid/send"}, countingDialer(&dials, dnsErr))
	_, err := p.Send(context.Background(), testMsg)
	assert.Equal(t, sms.KindTemporary, kindOf(t, err))
	assert.Equal(t, int64(3), dials.Load())
	var de *net.DNSError
	assert.True(t, errors.As(err, &de))
}

// https to a plain-HTTP server: the TLS handshake fails before any request,
// so it is retried and temporary, and the handler never runs.
func TestTLSHandshakeFailureRetried(t *testing.T) {
	srv := newCounter(t, answer(202, "ok"))
	p := newProvider(t, Config{URL: strings.Replace(srv.URL, "http://", "https://", 1)}, nil)
	_, err := p.Send(context.Background(), testMsg)
	assert.Equal(t, sms.KindTemporary, kindOf(t, err))
	assert.Equal(t, int64(3), srv.conns.Load())
	assert.Equal(t, int64(0), srv.requests.Load())
}

// A certificate the client does not trust: temporary, not repeated.
func TestCertificateErrorNotRetried(t *testing.T) {
	var conns atomic.Int64
	srv := newCounter(t, answer(202, "ok"))
	srv.Close()
	tlsSrv := newTLSCounter(t, &conns)
	p := newProvider(t, Config{URL: tlsSrv.URL}, nil)
	_, err := p.Send(context.Background(), testMsg)
	assert.Equal(t, sms.KindTemporary, kindOf(t, err))
	assert.Equal(t, int64(1), conns.Load())
	var cv *tls.CertificateVerificationError
	assert.True(t, errors.As(err, &cv))
}

func newTLSCounter(t *testing.T, conns *atomic.Int64) *counter {
	c := &counter{}
	c.Server = newUnstartedTLS(answer(202, "ok"))
	c.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	c.StartTLS()
	t.Cleanup(c.Close)
	// The handshake error is logged by the server; keep test output quiet.
	c.Config.ErrorLog = quietLog()
	return c
}

// net/http resends a replayable GET by itself when a reused connection
// breaks after the request was written. The provider's GETs are not
// replayable: the second Send is one request, ambiguous.
func TestNoSilentReplayOnReusedConnection(t *testing.T) {
	var n atomic.Int64
	srv := newCounter(t, func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 1 {
			_, _ = w.Write([]byte("ok"))
			return
		}
		// Read the request, then drop the connection without answering.
		hj, ok := w.(http.Hijacker)
		if !ok {
			panic("no hijacker")
		}
		c, _, err := hj.Hijack()
		if err == nil {
			_ = c.Close()
		}
	})
	p := newProvider(t, Config{URL: srv.URL}, nil)
	_, err := p.Send(context.Background(), testMsg)
	require.NoError(t, err)
	_, err = p.Send(context.Background(), testMsg)
	assert.Equal(t, sms.KindAmbiguous, kindOf(t, err))
	assert.Equal(t, int64(2), srv.requests.Load(), "the broken request must not be resent")
	assert.Equal(t, int64(1), srv.conns.Load())
}

// With a client of the user's, only dial and DNS errors count as unsent.
func TestCustomHTTPClient(t *testing.T) {
	for _, tc := range []struct {
		name  string
		err   error
		kind  sms.Kind
		calls int64
	}{
		{"dial error retried", &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("refused")}, sms.KindTemporary, 3},
		{"dns error retried", &net.DNSError{Err: "no such host", Name: "x", IsNotFound: true}, sms.KindTemporary, 3},
		{"other error ambiguous", io.ErrUnexpectedEOF, sms.KindAmbiguous, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var calls atomic.Int64
			hc := &http.Client{Transport: roundTripFunc(func(*http.Request) (*http.Response, error) {
				calls.Add(1)
				return nil, tc.err
			})}
			p := newProvider(t, Config{URL: "http://gw/send", HTTPClient: hc}, nil)
			_, err := p.Send(context.Background(), testMsg)
			assert.Equal(t, tc.kind, kindOf(t, err))
			assert.Equal(t, tc.calls, calls.Load())
		})
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestBackoffCappedJittered(t *testing.T) {
	p := &Provider{}
	var gotN int64
	p.rand = func(n int64) int64 { gotN = n; return n - 1 }
	minW, maxW := 100*time.Millisecond, 1600*time.Millisecond
	for _, tc := range []struct {
		attempt int
		base    time.Duration
	}{{0, 100 * time.Millisecond}, {1, 200 * time.Millisecond}, {3, 800 * time.Millisecond}, {4, 1600 * time.Millisecond}, {10, 1600 * time.Millisecond}, {80, 1600 * time.Millisecond}} {
		resp := &http.Response{StatusCode: 429, Header: http.Header{"Retry-After": {"3600"}}}
		d := p.backoff(minW, maxW, tc.attempt, resp)
		assert.Equal(t, tc.base, d, "attempt %d: upper end of the jitter", tc.attempt)
		assert.Equal(t, int64(tc.base-tc.base/2+1), gotN, "jitter spans the upper half")
	}
	p.rand = func(int64) int64 { return 0 }
	assert.Equal(t, 50*time.Millisecond, p.backoff(minW, maxW, 0, nil), "lower end of the jitter")
}

func TestCloseIdempotentAndFinal(t *testing.T) {
	srv := newCounter(t, answer(202, "ok"))
	p := newProvider(t, Config{URL: srv.URL}, nil)
	_, err := p.Send(context.Background(), testMsg)
	require.NoError(t, err)
	require.NoError(t, p.Close())
	require.NoError(t, p.Close())
	_, err = p.Send(context.Background(), testMsg)
	assert.Equal(t, sms.KindFatal, kindOf(t, err))
	assert.True(t, errors.Is(err, ErrClosed))
	assert.Equal(t, int64(1), srv.requests.Load())
}

// A mailing reuses connections: never more than MaxConns.
func TestConnectionReuse(t *testing.T) {
	srv := newCounter(t, answer(202, "ok"))
	p := newProvider(t, Config{URL: srv.URL, MaxConns: 4}, nil)
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 25; i++ {
				_, err := p.Send(context.Background(), testMsg)
				assert.NoError(t, err)
			}
		}()
	}
	wg.Wait()
	assert.Equal(t, int64(100), srv.requests.Load())
	assert.LessOrEqual(t, srv.conns.Load(), int64(4))
}

// One failed request does not drop the other idle connections of the pool
// (go-retryablehttp closes them after every failure unless kept from it).
func TestFailureKeepsPool(t *testing.T) {
	var n atomic.Int64
	barrier := make(chan struct{})
	srv := newCounter(t, func(w http.ResponseWriter, r *http.Request) {
		switch n.Add(1) {
		case 1:
			<-barrier // hold the first until the second arrives: two connections
		case 2:
			close(barrier)
		case 3:
			if c, _, err := w.(http.Hijacker).Hijack(); err == nil {
				_ = c.Close()
			}
			return
		}
		_, _ = w.Write([]byte("ok"))
	})
	p := newProvider(t, Config{URL: srv.URL, MaxConns: 2}, nil)
	var wg sync.WaitGroup
	for i := 0; i < 2; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := p.Send(context.Background(), testMsg)
			assert.NoError(t, err)
		}()
	}
	wg.Wait()
	require.Equal(t, int64(2), srv.conns.Load())
	_, err := p.Send(context.Background(), testMsg)
	assert.Equal(t, sms.KindAmbiguous, kindOf(t, err))
	_, err = p.Send(context.Background(), testMsg)
	require.NoError(t, err)
	assert.Equal(t, int64(2), srv.conns.Load(), "the other idle connection was reused")
}

package httpquery

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"sync/atomic"
	"time"

	"github.com/smsgateway/sms"
)

// attemptState records, for one Send, whether any of its requests got a
// connection. Until one does, nothing of the message can have reached the
// gateway: net/http reports GotConn after dialing and the TLS handshake,
// before it writes a byte of the request.
type attemptState struct {
	connected atomic.Bool
}

type attemptKey struct{}

// withAttempt returns ctx carrying st and an httptrace hook that fills it.
func withAttempt(ctx context.Context, st *attemptState) context.Context {
	ctx = context.WithValue(ctx, attemptKey{}, st)
	return httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		GotConn: func(httptrace.GotConnInfo) { st.connected.Store(true) },
	})
}

func attemptFrom(ctx context.Context) *attemptState {
	st, _ := ctx.Value(attemptKey{}).(*attemptState)
	return st
}

// checkRetry replaces retryablehttp.DefaultRetryPolicy, which resends after
// timeouts, resets and every 5xx answer (each a possible duplicate SMS). It
// retries only a request that provably never reached the gateway: no
// connection was established (refused, DNS failure, failed TLS handshake,
// dial timeout). Every answer, and every failure after a connection, is
// final. It never returns an error, so the request's own error is kept.
func (p *Provider) checkRetry(ctx context.Context, resp *http.Response, err error) (bool, error) {
	if err == nil || ctx.Err() != nil {
		return false, nil
	}
	st := attemptFrom(ctx)
	if st == nil || !p.unsent(st, err) {
		return false, nil
	}
	// A certificate the client rejects will be rejected again.
	return !isCertError(err), nil
}

// unsent reports whether a failed request provably never reached the
// gateway.
func (p *Provider) unsent(st *attemptState, err error) bool {
	if st.connected.Load() {
		return false
	}
	if p.own {
		// Our transport reports GotConn: no connection, no request.
		return true
	}
	// A client of the user's may not report GotConn; only errors that
	// come before any connection by their type count.
	return isDialError(err)
}

// isDialError reports whether err is a failure to establish a connection.
func isDialError(err error) bool {
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return true
	}
	var dns *net.DNSError
	return errors.As(err, &dns)
}

func isCertError(err error) bool {
	var cv *tls.CertificateVerificationError
	var ua x509.UnknownAuthorityError
	var hn x509.HostnameError
	var ci x509.CertificateInvalidError
	return errors.As(err, &cv) || errors.As(err, &ua) || errors.As(err, &hn) || errors.As(err, &ci)
}

// backoff replaces retryablehttp.DefaultBackoff (exponential without jitter,
// and an uncapped Retry-After). The wait before dial retry n+1 is drawn from
// the upper half of min·2ⁿ, capped at max. Answers are never retried, so
// Retry-After plays no part here; the sms.Client honours it, capped.
func (p *Provider) backoff(min, max time.Duration, attempt int, _ *http.Response) time.Duration {
	d := max
	if attempt < 30 {
		if v := min << attempt; v > 0 && v < max {
			d = v
		}
	}
	if d <= 0 {
		return 0
	}
	half := int64(d / 2)
	return time.Duration(half + p.rand(int64(d)-half+1))
}

// requestFailure classifies a request that got no answer.
func (p *Provider) requestFailure(ctx context.Context, st *attemptState, msg sms.Message, method string, err error) *sms.Error {
	inner := err
	var ue *url.Error
	if errors.As(err, &ue) {
		// Its text quotes the whole URL; keep only the cause.
		inner = ue.Err
	}
	kind := sms.KindAmbiguous
	if p.unsent(st, err) {
		kind = sms.KindTemporary
	}
	e := &sms.Error{Kind: kind, Err: &RequestError{Method: method, URL: p.s.errorURL, Err: p.s.scrubber(msg).Error(inner)}}
	if cerr := ctx.Err(); cerr != nil && !errors.Is(e, cerr) {
		e.Err = errors.Join(e.Err, cerr)
	}
	return e
}

package httpquery

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-retryablehttp"

	"github.com/smsgateway/sms"
	"github.com/smsgateway/sms/internal/mask"
)

// ErrClosed is the cause of the *sms.Error (KindFatal) that Send returns
// after Close.
var ErrClosed = errors.New("httpquery: provider closed")

// ErrReportURL is the cause of the *sms.Error (KindRejected) that Send
// returns, without sending anything, for a message whose ReportURL is not
// an absolute http or https URL without a fragment, when Config.Delivery is
// set.
var ErrReportURL = errors.New("httpquery: Message.ReportURL is not an absolute http(s) URL without a fragment")

// Provider sends messages to one HTTP gateway. Create one with New. It is
// safe for concurrent use by multiple goroutines, and implements
// sms.Provider, sms.DeliveryReporter (reporting only with Config.Delivery)
// and io.Closer.
type Provider struct {
	s         *settings
	client    *retryablehttp.Client
	hc        *http.Client // what requests go through
	closeIdle func()       // closes the idle connections of the pool
	own       bool         // the transport was built here, not Config.HTTPClient
	log       *slog.Logger
	closed    atomic.Bool

	rand func(n int64) int64 // seam for the dial-retry jitter
}

var (
	_ sms.Provider         = (*Provider)(nil)
	_ sms.DeliveryReporter = (*Provider)(nil)
	_ io.Closer            = (*Provider)(nil)
)

// New returns a Provider for the gateway cfg describes. It fails when cfg
// is invalid (no URL, an unknown Method or Outcome, a regular expression
// that does not compile); the error never quotes a credential.
func New(cfg Config) (*Provider, error) {
	s, err := cfg.settings()
	if err != nil {
		return nil, err
	}
	p := &Provider{s: s, log: cfg.Logger, rand: rand.Int64N}
	if cfg.HTTPClient != nil {
		p.setClient(cfg.HTTPClient, false)
	} else {
		p.setClient(newHTTPClient(s, newTransport(s, nil)), true)
	}
	p.client = &retryablehttp.Client{
		HTTPClient: p.hc,
		// Its default logger writes whole URLs, secrets included, to
		// stderr. Send logs by itself instead.
		Logger:       nil,
		RetryWaitMin: s.retryWait,
		RetryWaitMax: 16 * s.retryWait,
		RetryMax:     s.dialRetries,
		CheckRetry:   p.checkRetry,
		Backoff:      p.backoff,
		// Keep the last error as it is (the default wraps it in a text
		// with the URL and drops the response).
		ErrorHandler:   func(resp *http.Response, err error, _ int) (*http.Response, error) { return resp, err },
		RequestLogHook: p.logRetry,
	}
	return p, nil
}

// setClient makes requests go through a copy of hc whose transport hides
// CloseIdleConnections: go-retryablehttp calls it after every failed request,
// which would drop the whole pool of a mailing for one failure. Close
// reaches the real pool. own says whether hc was built here (false for
// Config.HTTPClient).
func (p *Provider) setClient(hc *http.Client, own bool) {
	c := *hc
	rt := c.Transport
	if rt == nil {
		rt = http.DefaultTransport
	}
	c.Transport = keepIdle{rt}
	p.hc = &c
	p.own = own
	p.closeIdle = hc.CloseIdleConnections
	if p.client != nil {
		p.client.HTTPClient = p.hc
	}
}

// keepIdle is a RoundTripper without CloseIdleConnections.
type keepIdle struct{ rt http.RoundTripper }

func (k keepIdle) RoundTrip(r *http.Request) (*http.Response, error) { return k.rt.RoundTrip(r) }

// newTransport returns the tuned transport: up to MaxConns connections to
// the gateway, all of them kept idle for reuse between messages. dial
// replaces the dialer in tests.
func newTransport(s *settings, dial func(ctx context.Context, network, addr string) (net.Conn, error)) *http.Transport {
	if dial == nil {
		d := &net.Dialer{Timeout: s.dialTimeout, KeepAlive: 30 * time.Second}
		dial = d.DialContext
	}
	return &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           dial,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          s.maxConns,
		MaxIdleConnsPerHost:   s.maxConns,
		MaxConnsPerHost:       s.maxConns,
		IdleConnTimeout:       DefaultIdleConnTimeout,
		TLSHandshakeTimeout:   s.dialTimeout,
		ExpectContinueTimeout: time.Second,
	}
}

func newHTTPClient(s *settings, t *http.Transport) *http.Client {
	return &http.Client{
		Transport: t,
		Timeout:   s.timeout,
		// A redirect would be a second request; answers 3xx are classified
		// instead (fatal by default).
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// Send makes one attempt to hand msg to the gateway: one HTTP request, or
// up to 1+DialRetries when the earlier ones provably never reached it. The
// Receipt carries the HTTP status and the redacted request URL, on failure
// too. A failure is an *sms.Error; see the package doc for the kinds.
func (p *Provider) Send(ctx context.Context, msg sms.Message) (sms.Receipt, error) {
	if p.closed.Load() {
		return sms.Receipt{}, &sms.Error{Kind: sms.KindFatal, Err: ErrClosed}
	}
	defer p.afterClose()
	if p.s.delivery != nil && msg.ReportURL != "" && !validReportURL(msg.ReportURL) {
		return sms.Receipt{}, &sms.Error{Kind: sms.KindRejected, Err: ErrReportURL}
	}
	st := &attemptState{}
	req, receiptURL, err := p.s.newRequest(withAttempt(ctx, st), msg)
	if err != nil {
		// Only a URL that cannot be rebuilt gets here; it is the same for
		// every message.
		return sms.Receipt{}, &sms.Error{Kind: sms.KindFatal, Err: p.s.scrubber(msg).Error(err)}
	}
	rc := sms.Receipt{URL: receiptURL}
	resp, err := p.client.Do(req)
	if err != nil {
		e := p.requestFailure(ctx, st, msg, req.Method, err)
		p.logSend(ctx, req.URL, msg.To, 0, e)
		return rc, e
	}
	defer resp.Body.Close()
	rc.StatusCode = resp.StatusCode
	body, readErr := io.ReadAll(io.LimitReader(resp.Body, maxBodyBytes))
	if readErr != nil {
		// The gateway answered but the answer broke off: it may have
		// accepted the message.
		e := &sms.Error{Kind: sms.KindAmbiguous, Code: fmt.Sprint(resp.StatusCode),
			Err: &RequestError{Method: req.Method, URL: p.s.errorURL, Err: p.s.scrubber(msg).Error(readErr)}}
		if ctx.Err() != nil && !errors.Is(e, ctx.Err()) {
			e.Err = errors.Join(e.Err, ctx.Err())
		}
		p.logSend(ctx, req.URL, msg.To, resp.StatusCode, e)
		return rc, e
	}
	v := p.s.outcomes.classify(resp.StatusCode, body, p.s.number(msg.To))
	if v.out == Accepted {
		rc.MessageID = v.messageID
		p.logSend(ctx, req.URL, msg.To, resp.StatusCode, nil)
		return rc, nil
	}
	kind, _ := v.out.kind() // not Accepted: a failure, as New checked
	e := &sms.Error{
		Kind:         kind,
		Code:         v.code,
		PerRecipient: v.perRecipient,
		Err: &ResponseError{
			StatusCode: resp.StatusCode,
			Code:       v.code,
			// Scrubbed whole, then cut: a cut must not leave part of a
			// secret or of the text.
			Body: snippet(p.s.scrubber(msg).String(string(body))),
		},
	}
	if e.Kind == sms.KindThrottled || e.Kind == sms.KindTemporary {
		if d, ok := parseRetryAfter(resp.Header.Get("Retry-After"), time.Now()); ok {
			e.RetryAfter = d
		}
	}
	p.logSend(ctx, req.URL, msg.To, resp.StatusCode, e)
	return rc, e
}

// Close closes the idle connections to the gateway. Sends in progress
// finish, and their connections are closed after them; later Sends fail
// with ErrClosed. With Config.HTTPClient, Close calls its
// CloseIdleConnections. Close is idempotent and returns nil.
func (p *Provider) Close() error {
	p.closed.Store(true)
	p.closeIdle()
	return nil
}

// afterClose closes connections that a Send in progress during Close put
// back into the pool.
func (p *Provider) afterClose() {
	if p.closed.Load() {
		p.closeIdle()
	}
}

// ResponseError is the cause inside the *sms.Error of an answer that was not
// an acceptance.
type ResponseError struct {
	// StatusCode is the HTTP status.
	StatusCode int
	// Code is the vendor's code when a JSON path found one, else the HTTP
	// status as text.
	Code string
	// Body is the start of the answer (at most 256 bytes), with every
	// secret, and the message's number and text, replaced by REDACTED.
	Body string
}

func (e *ResponseError) Error() string {
	s := fmt.Sprintf("httpquery: gateway answered %d %s", e.StatusCode, http.StatusText(e.StatusCode))
	if e.Code != fmt.Sprint(e.StatusCode) {
		s += ", code " + e.Code
	}
	if e.Body != "" {
		s += fmt.Sprintf(": %q", e.Body)
	}
	return s
}

// RequestError is the cause inside the *sms.Error of a request that got no
// answer, or whose answer broke off. It replaces the *url.Error of net/http,
// which quotes the whole URL, and so the number, the text and the
// credentials.
type RequestError struct {
	// Method is the request's HTTP method.
	Method string
	// URL is the request URL without its query, and without the password
	// of its user info.
	URL string
	// Err is the network error, with every secret and the message's number
	// and text replaced by REDACTED. It unwraps as usual (to a
	// *net.OpError, say) unless its text had to be changed: then it is
	// just that text, since the errors it wrapped may quote the same.
	Err error
}

func (e *RequestError) Error() string {
	return fmt.Sprintf("httpquery: %s %s: %v", e.Method, e.URL, e.Err)
}

// Unwrap returns the network error.
func (e *RequestError) Unwrap() error { return e.Err }

// snippet returns the start of s, at most 256 bytes.
func snippet(s string) string {
	const n = 256
	if len(s) > n {
		s = s[:n]
	}
	return s
}

// logSend writes one debug line per Send, without the query string.
func (p *Provider) logSend(ctx context.Context, u *url.URL, to string, status int, err *sms.Error) {
	if p.log == nil || !p.log.Enabled(ctx, slog.LevelDebug) {
		return
	}
	attrs := []slog.Attr{
		slog.String("method", p.s.method),
		slog.String("host", u.Host),
		slog.String("path", p.s.redactor.String(u.Path)),
		slog.String("to", mask.Number(to)),
		slog.Int("status", status),
	}
	if err != nil {
		attrs = append(attrs, slog.String("outcome", err.Kind.String()), slog.String("error", err.Error()))
	} else {
		attrs = append(attrs, slog.String("outcome", Accepted.String()))
	}
	p.log.LogAttrs(ctx, slog.LevelDebug, "httpquery send", attrs...)
}

// logRetry is retryablehttp's RequestLogHook: called before every request
// of a Send; i > 0 for dial retries.
func (p *Provider) logRetry(_ retryablehttp.Logger, req *http.Request, i int) {
	if p.log == nil || i == 0 {
		return
	}
	p.log.LogAttrs(req.Context(), slog.LevelDebug, "httpquery retrying after a failed connection",
		slog.String("host", req.URL.Host), slog.Int("request", i+1))
}

// Package sms sends SMS through pluggable gateways without sending a text
// twice by accident, losing one silently, or leaking a credential.
//
// A Client wraps a Provider (one gateway: see providers/httpquery for any
// HTTP gateway, providers/mock for tests) and adds what every gateway needs:
// validation of numbers and text, retries that are safe, rate limiting, and
// concurrent mailing with a result for every recipient.
//
//	c, err := sms.New(provider, sms.WithRateLimit(50, 10))
//	...
//	res, err := c.Send(ctx, sms.Message{To: "+4912345678", Text: "Hello"})
//
// A Client is safe for concurrent use by multiple goroutines. Its
// configuration is fixed by New.
//
// # Retries and duplicates
//
// A text sent twice costs money and trust, so the Client retries only what
// provably did not reach the gateway. Every failure a Provider reports has a
// Kind:
//
//   - KindTemporary and KindThrottled (provably not accepted) are retried,
//     up to RetryPolicy.MaxAttempts attempts in all (3 by default), after an
//     exponential backoff with jitter and a cap. A throttled answer's
//     Retry-After is honoured up to RetryPolicy.MaxRetryAfter.
//   - KindRejected and KindFatal are never retried.
//   - KindAmbiguous (the message may have been accepted: a timeout after
//     the request was written, a connection reset before the answer, or any
//     error the provider did not classify) is not retried, unless the
//     provider is an IdempotentProvider and the message has an ID
//     (Mailing.ID gives every entry of a mailing one), or
//     RetryPolicy.RetryAmbiguous is set. The Result says it was ambiguous so
//     that the caller can reconcile with the gateway.
//
// # Rate limiting
//
// Every attempt, retries included, first waits on the Client's Limiter
// (WithRateLimit, or any Limiter such as a shared *rate.Limiter with
// WithLimiter). A throttled answer holds back every worker of the Client, not
// only the one that saw it, until its Retry-After (or backoff) has passed,
// unless the provider says the limit is about that one recipient
// (Error.PerRecipient): then only that message's retry waits, and a mailing
// sends its other entries meanwhile. A wait that would pass the context's
// deadline fails at once with an error matching context.DeadlineExceeded.
//
// # Mailing
//
// Client.Mailing sends one text to many numbers, at most WithConcurrency at
// once (DefaultConcurrency by default), and returns a Report with one Result
// for every entry, in input order: sent, failed (with its Kind), skipped (an
// invalid number, or a number that appeared earlier after normalization: it
// is sent once) or not attempted (the context was cancelled, or the mailing
// stopped after a KindFatal outcome, since no other message could succeed).
// Nothing is dropped silently, and no goroutine outlives the call.
// Client.MailingStream does the same for lists too large to hold in memory,
// reading numbers from an iterator and handing each Result to a callback.
//
// # Text and parts
//
// Analyze tells how a text is encoded (GSM 03.38 7-bit, or UCS-2 for
// anything outside its tables) and how many SMS parts it takes, which is
// what a gateway charges. Every Result carries its text's Encoding and
// Parts, and a Report the total Parts of the messages sent. WithMaxParts
// refuses longer texts before any money is spent; WithLimitPerPart makes the
// rate limiter count parts, as gateways meter them.
//
// # Errors
//
// Client.Send returns the Result and its Err. A failure is an *Error: match
// its kind with errors.Is (ErrRejected, ErrTemporary, ErrThrottled,
// ErrFatal, ErrAmbiguous, ErrInvalid) or read its details (Kind, Attempts,
// the gateway's Code, RetryAfter, PerRecipient) with errors.As. An *Error
// always unwraps to its cause, so context errors stay matchable with
// errors.Is(err, context.Canceled) or context.DeadlineExceeded. When one
// *Error wraps another, the outer one decides the kind, for errors.Is as for
// errors.As and Result.Kind. Calls after Close return ErrClosed.
//
// # Delivery reports
//
// After the gateway's answer, the network reports what became of a message
// (DeliveryStatus: delivered, undelivered, expired, rejected, ...). A
// Provider that can ask its gateway for these reports implements
// DeliveryReporter (httpquery's Kannel, Jasmin, Twilio and Vonage presets
// do). Mount a DeliveryHandler in your HTTP server and build the Client
// with WithDeliveryReports: every message with an ID then asks for reports
// at a URL that carries an HMAC of its ID, so that a forged callback is
// refused, and each genuine report reaches your function. Reports can come
// several times and in any order; DeliveryStatus.Replaces says which to
// keep.
//
// # Testing with the mock
//
// providers/mock is an in-memory Provider for tests: it records every
// message, and can be scripted to fail per number, for the first N attempts,
// or every k-th call, with latency, and to send delivery reports (Report,
// ReportAll) to your DeliveryHandler. Build a Client over it with the
// options your code uses, and assert on mock.Provider.Sent and on the
// Results. See the examples.
package sms

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"github.com/smsgateway/sms/internal/mask"
)

// Client sends messages through a Provider with validation, retries, rate
// limiting and mailing. Create one with New. It is safe for concurrent use.
type Client struct {
	p           Provider
	idempotent  bool
	retry       RetryPolicy
	limiter     Limiter
	concurrency int
	log         *slog.Logger
	normalize   Normalizer
	maxParts    int
	// attemptTimeout bounds each provider call; 0 means none.
	attemptTimeout time.Duration
	limitParts     bool
	hooks          Hooks
	gate           gate
	reports        *DeliveryHandler

	// Seams for tests: the clock, sleeping and jitter.
	now   func() time.Time
	sleep func(ctx context.Context, d time.Duration) error
	rand  func(limit int64) int64

	mu        sync.RWMutex // guards closed and calls.Add
	closed    bool
	calls     sync.WaitGroup
	closing   context.Context // done when Close starts: ends every wait
	endWait   context.CancelFunc
	closeOnce sync.Once
	closeErr  error
}

// New returns a Client that sends through p. Options are applied in order;
// the first that fails makes New fail.
//
// Without options the Client retries as a zero RetryPolicy says, has no rate
// limit, sends DefaultConcurrency messages of a mailing at once, normalizes
// numbers with NormalizeNumber, and logs nothing.
func New(p Provider, opts ...Option) (*Client, error) {
	if p == nil {
		return nil, errors.New("sms: New: nil Provider")
	}
	c := &Client{
		p:           p,
		retry:       defaultRetry,
		concurrency: DefaultConcurrency,
		log:         slog.New(slog.DiscardHandler),
		normalize:   NormalizeNumber,
		now:         time.Now,
		sleep:       sleepCtx,
		rand:        rand.Int64N,
	}
	c.closing, c.endWait = context.WithCancel(context.Background())
	if ip, ok := p.(IdempotentProvider); ok {
		c.idempotent = ip.Idempotent()
	}
	for _, opt := range opts {
		if err := opt(c); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// Send validates msg, then hands it to the provider, retrying as the
// RetryPolicy allows. It returns the Result and Result.Err.
//
// An invalid number, or a text that is empty or only white space, fails with
// an *Error of KindInvalid before the provider sees anything. msg.To in the
// Result is as given; the provider gets the normalized number.
func (c *Client) Send(ctx context.Context, msg Message) (Result, error) {
	if !c.begin() {
		res := Result{To: msg.To, Err: notAttempted(ErrClosed)}
		return res, res.Err
	}
	defer c.calls.Done()
	info, textErr := c.checkText(msg.Text)
	res, ok := c.validate(msg.To, info, textErr)
	if ok {
		msg.To = res.Number
		stop, _, release := c.stopContext(ctx)
		c.deliver(ctx, stop, &res, msg, nil)
		release()
	}
	c.finish(ctx, &res)
	return res, res.Err
}

// Close stops the Client: calls after it return ErrClosed, waits on the rate
// limiter and backoffs in progress end (their messages are reported as not
// attempted, or failed with the last outcome), and sends in progress are let
// finish. Close then closes the Provider if it is an io.Closer. It is
// idempotent: later calls return the first call's result.
func (c *Client) Close() error {
	c.closeOnce.Do(func() {
		c.mu.Lock()
		c.closed = true
		c.endWait()
		c.mu.Unlock()
		c.calls.Wait()
		if cl, ok := c.p.(io.Closer); ok {
			c.closeErr = cl.Close()
		}
	})
	return c.closeErr
}

// begin registers a call, or reports false when the Client is closed.
func (c *Client) begin() bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.closed {
		return false
	}
	c.calls.Add(1)
	return true
}

// stopContext returns the context for waits (rate limiter, backoff): done
// when ctx is, when the Client closes (cause ErrClosed), or when cancelled
// with a cause. release must be called when the work is done.
func (c *Client) stopContext(ctx context.Context) (stop context.Context, cancel context.CancelCauseFunc, release func()) {
	stop, cancel = context.WithCancelCause(ctx)
	unregister := context.AfterFunc(c.closing, func() { cancel(ErrClosed) })
	return stop, cancel, func() {
		unregister()
		cancel(nil)
	}
}

// stopCause returns why work under ctx and its stop context (see
// stopContext) must stop, or nil. It checks ctx too: a parent context
// reports Err a moment before its children are cancelled.
func stopCause(ctx, stop context.Context) error {
	if err := context.Cause(stop); err != nil {
		return err
	}
	return ctx.Err()
}

// checkText analyzes a text once for every message that carries it, and
// returns the *Error that refuses it, if any.
func (c *Client) checkText(text string) (TextInfo, error) {
	info := Analyze(text)
	switch {
	case strings.TrimSpace(text) == "":
		return info, &Error{Kind: KindInvalid, Err: ErrEmptyText}
	case c.maxParts > 0 && info.Parts > c.maxParts:
		return info, &Error{Kind: KindInvalid, Err: fmt.Errorf("%w: %d parts (%s), at most %d allowed", ErrTooManyParts, info.Parts, info.Encoding, c.maxParts)}
	}
	return info, nil
}

// validate checks one recipient of a text that checkText analyzed (textErr
// is its verdict) before any provider sees it. The returned Result is final
// (Skipped) when ok is false.
func (c *Client) validate(to string, info TextInfo, textErr error) (res Result, ok bool) {
	res.To, res.Encoding, res.Parts = to, info.Encoding, info.Parts
	if textErr != nil {
		res.Status, res.Err = StatusSkipped, textErr
		return res, false
	}
	n, err := c.normalize(to)
	if err != nil {
		if !errors.Is(err, ErrInvalidNumber) {
			err = errors.Join(ErrInvalidNumber, err)
		}
		res.Status = StatusSkipped
		res.Err = &Error{Kind: KindInvalid, Err: err}
		return res, false
	}
	res.Number = n
	return res, true
}

// deliver sends msg (already validated; msg.To normalized) from attempt
// res.Attempts+1 on, retrying as afterFailure says. Provider calls get ctx;
// waits end when stop is done.
//
// When a retry must wait for its recipient alone and aside (a mailing's
// feeder; nil for Send) takes the message, deliver returns true at once: the
// message is not final, and a worker delivers it on from there when aside
// hands it out again.
func (c *Client) deliver(ctx, stop context.Context, res *Result, msg Message, aside *feeder) (setAside bool) {
	timed := c.hooks.Attempt != nil || c.log.Enabled(ctx, slog.LevelDebug)
	for attempt := res.Attempts + 1; ; attempt++ {
		if err := c.wait(ctx, stop, c.cost(res.Parts)); err != nil {
			cutShort(res, err)
			return false
		}
		var t0 time.Time
		if timed {
			t0 = c.now()
		}
		rc, err := c.send(ctx, msg)
		res.Receipt = rc
		res.Attempts = attempt
		if err == nil {
			res.Status, res.Err = StatusSent, nil
			c.attempted(ctx, msg.To, attempt, rc, nil, t0)
			return false
		}
		e := classify(err)
		e.Attempts = attempt
		res.Status, res.Err = StatusFailed, e
		c.attempted(ctx, msg.To, attempt, rc, e, t0)
		plan := c.afterFailure(attempt, e, msg)
		if plan.scope == waitClient {
			// Hold back every worker, this one's retry included: c.wait
			// does the waiting.
			c.gate.closeUntil(c.now().Add(plan.wait))
		}
		switch {
		case !plan.retry || ctx.Err() != nil:
			return false
		case plan.scope == waitClient:
			// c.wait waits at the gate.
		case plan.scope == waitRecipient && aside != nil && aside.setAside(*res, msg, c.now().Add(plan.wait)):
			return true
		default:
			if err := c.sleep(stop, plan.wait); err != nil {
				cutShort(res, err)
				return false
			}
		}
	}
}

// cutShort ends res because of cause: a message never handed to the
// provider is not attempted; one that was keeps its last outcome, which
// then says why the retrying stopped.
func cutShort(res *Result, cause error) {
	if res.Attempts == 0 {
		res.Status, res.Err = StatusNotAttempted, notAttempted(cause)
		return
	}
	last := res.Err.(*Error)
	last.Err = errors.Join(last.Err, cause)
}

// send makes one provider call, bounded by the attempt timeout.
func (c *Client) send(ctx context.Context, msg Message) (Receipt, error) {
	if c.reports != nil && msg.ID != "" && msg.ReportURL == "" {
		msg.ReportURL = c.reports.URL(msg.ID)
	}
	if c.attemptTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.attemptTimeout)
		defer cancel()
	}
	return c.p.Send(ctx, msg)
}

// attempted reports one provider call to the hooks and the log.
func (c *Client) attempted(ctx context.Context, number string, n int, rc Receipt, err *Error, t0 time.Time) {
	logging := c.log.Enabled(ctx, slog.LevelDebug)
	if c.hooks.Attempt == nil && !logging {
		return
	}
	a := Attempt{Number: number, N: n, Receipt: rc, Duration: c.now().Sub(t0)}
	if err != nil {
		a.Err = err
	}
	if c.hooks.Attempt != nil {
		c.hooks.Attempt(a)
	}
	if logging {
		attrs := []slog.Attr{slog.String("to", mask.Number(number)), slog.Int("attempt", n), slog.Duration("duration", a.Duration)}
		if err != nil {
			attrs = append(attrs, slog.String("kind", err.Kind.String()), slog.String("error", err.Error()))
		}
		c.log.LogAttrs(ctx, slog.LevelDebug, "sms attempt", attrs...)
	}
}

// finish reports a final Result to the hooks and the log.
func (c *Client) finish(ctx context.Context, res *Result) {
	if c.hooks.Result != nil {
		c.hooks.Result(*res)
	}
	level := slog.LevelInfo
	if res.Status != StatusSent && c.log.Enabled(ctx, slog.LevelWarn) && !errors.Is(res.Err, ErrDuplicate) {
		level = slog.LevelWarn
	}
	if !c.log.Enabled(ctx, level) {
		return
	}
	to := res.Number
	if to == "" {
		to = res.To
	}
	attrs := []slog.Attr{slog.String("to", mask.Number(to)), slog.String("status", res.Status.String()), slog.Int("attempts", res.Attempts)}
	if res.MessageID != "" {
		attrs = append(attrs, slog.String("message_id", res.MessageID))
	}
	if res.Err != nil {
		attrs = append(attrs, slog.String("error", res.Err.Error()))
	}
	c.log.LogAttrs(ctx, level, "sms result", attrs...)
}

// notAttempted returns the error of a message never handed to the provider,
// matching ErrNotAttempted and cause.
func notAttempted(cause error) error {
	if cause == nil {
		return ErrNotAttempted
	}
	return &notAttemptedError{cause: cause}
}

// notAttemptedError matches ErrNotAttempted and unwraps to its cause.
type notAttemptedError struct{ cause error }

func (e *notAttemptedError) Error() string   { return ErrNotAttempted.Error() + ": " + e.cause.Error() }
func (e *notAttemptedError) Unwrap() []error { return []error{ErrNotAttempted, e.cause} }

// sleepCtx waits for d or until ctx is done, returning its cause then.
func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return context.Cause(ctx)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

package providertest

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/smsgateway/sms"
)

// A check is one conformance check. It returns nil when the provider passes,
// a *skipError when the harness cannot script what it needs, and otherwise
// the failures it found, each wrapping one of the err* values below.
type check struct {
	name string
	run  func(ctx context.Context, h Harness) error
}

// What a check can find wrong. The suite's own tests match them with
// errors.Is.
var (
	errRequests   = errors.New("wrong number of requests reached the gateway")
	errOutcome    = errors.New("wrong outcome")
	errRetryAfter = errors.New("wrong Retry-After")
	errContext    = errors.New("error does not match the context's error")
	errNotPrompt  = errors.New("the Send did not return after its context was done")
	errSecret     = errors.New("secret leaked")
	errHarness    = errors.New("harness failed")
)

// skipError says a check was skipped, and why.
type skipError struct{ err error }

func (e *skipError) Error() string { return "skipped: " + e.err.Error() }
func (e *skipError) Unwrap() error { return e.err }

// The Behaviors whose answer a Send reports (all but Hang).
var answered = []Behavior{Accept, Reject, Temporary, Throttle, Fatal, Ambiguous}

// Concurrency is how many goroutines the Concurrent check sends from.
const concurrency = 64

// checks returns every check, in the order RunConformanceTests runs them.
// grace bounds how long a Send may take after its context is done.
func checks(grace time.Duration) []check {
	var cs []check
	for _, b := range answered {
		cs = append(cs, check{"Send" + b.String(), func(ctx context.Context, h Harness) error {
			return checkBehavior(ctx, h, b)
		}})
	}
	return append(cs,
		check{"CancelledContext", func(ctx context.Context, h Harness) error {
			return checkCancelled(ctx, h, grace)
		}},
		check{"CancelWhileHanging", func(ctx context.Context, h Harness) error {
			return checkHanging(ctx, h, grace, 50*time.Millisecond, context.Canceled)
		}},
		check{"DeadlineWhileHanging", func(ctx context.Context, h Harness) error {
			return checkHanging(ctx, h, grace, 100*time.Millisecond, context.DeadlineExceeded)
		}},
		check{"Concurrent", checkConcurrent},
	)
}

// message returns a valid message, distinct for each i.
func message(i int) sms.Message {
	return sms.Message{To: fmt.Sprintf("+49151%08d", i), Text: "providertest message"}
}

func makeProvider(ctx context.Context, h Harness, b Behavior) (sms.Provider, error) {
	p, err := h.MakeProvider(ctx, b)
	switch {
	case errors.Is(err, ErrUnsupported):
		return nil, &skipError{err}
	case err != nil:
		return nil, fmt.Errorf("%w: MakeProvider(%v): %s", errHarness, b, describe(h.Secret(), err))
	case p == nil:
		return nil, fmt.Errorf("%w: MakeProvider(%v) returned a nil Provider", errHarness, b)
	}
	if n := h.Requests(); n != 0 {
		return nil, fmt.Errorf("%w: Requests() is %d right after MakeProvider(%v), want 0", errHarness, n, b)
	}
	return p, nil
}

// checkBehavior sends twice through a gateway that answers b, and checks
// that each Send makes exactly one request and reports b correctly.
func checkBehavior(ctx context.Context, h Harness, b Behavior) error {
	p, err := makeProvider(ctx, h, b)
	if err != nil {
		return err
	}
	var errs []error
	for i := 1; i <= 2; i++ {
		rc, err := p.Send(ctx, message(i))
		if n := h.Requests(); n != i {
			errs = append(errs, fmt.Errorf("%w: after Send #%d the gateway has %d requests, want %d (a provider must not retry)", errRequests, i, n, i))
		}
		errs = append(errs,
			checkOutcome(h.Secret(), b, err),
			checkRetryAfter(h, b, err),
			checkSecret(h.Secret(), rc, err),
		)
	}
	return errors.Join(errs...)
}

// checkOutcome checks that err is what a provider reports for b.
func checkOutcome(secret string, b Behavior, err error) error {
	want, failing := b.Kind()
	switch {
	case !failing && err != nil:
		return fmt.Errorf("%w: %v: Send returned %s, want a nil error", errOutcome, b, describe(secret, err))
	case !failing:
		return nil
	case err == nil:
		return fmt.Errorf("%w: %v: Send returned a nil error, want kind %v", errOutcome, b, want)
	}
	if got := kindOf(err); got != want {
		return fmt.Errorf("%w: %v: Send returned kind %v (%s), want %v", errOutcome, b, got, describe(secret, err), want)
	}
	return nil
}

// kindOf returns the Kind of the first *sms.Error in err's chain, or
// sms.KindAmbiguous when there is none: the Client's reading of what a
// provider returns.
func kindOf(err error) sms.Kind {
	var e *sms.Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return sms.KindAmbiguous
}

// checkRetryAfter checks a Throttle answer's RetryAfter when the harness
// says what the gateway sent.
func checkRetryAfter(h Harness, b Behavior, err error) error {
	rh, ok := h.(RetryAfterHarness)
	if b != Throttle || !ok || rh.RetryAfter() == 0 || err == nil {
		return nil
	}
	want := rh.RetryAfter()
	var e *sms.Error
	if !errors.As(err, &e) {
		return fmt.Errorf("%w: the error is not an *sms.Error, want RetryAfter %v", errRetryAfter, want)
	}
	if e.RetryAfter != want {
		return fmt.Errorf("%w: RetryAfter is %v, want %v", errRetryAfter, e.RetryAfter, want)
	}
	return nil
}

// checkCancelled sends with a context cancelled beforehand.
func checkCancelled(ctx context.Context, h Harness, grace time.Duration) error {
	p, err := makeProvider(ctx, h, Accept)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	cancel()
	res, ok := sendWithin(ctx, p, message(1), grace)
	if !ok {
		return fmt.Errorf("%w: Send with a cancelled context", errNotPrompt)
	}
	return errors.Join(
		checkContextErr(h.Secret(), res.err, context.Canceled),
		checkSecret(h.Secret(), res.rc, res.err),
	)
}

// checkHanging sends to a gateway that holds the request without
// answering, with a context that ends after d: cancelled when want is
// context.Canceled, at its deadline when want is context.DeadlineExceeded.
func checkHanging(ctx context.Context, h Harness, grace, d time.Duration, want error) error {
	p, err := makeProvider(ctx, h, Hang)
	if err != nil {
		return err
	}
	var cancel context.CancelFunc
	if want == context.DeadlineExceeded {
		ctx, cancel = context.WithTimeout(ctx, d)
	} else {
		ctx, cancel = context.WithCancel(ctx)
		timer := time.AfterFunc(d, cancel)
		defer timer.Stop()
	}
	defer cancel()
	res, ok := sendWithin(ctx, p, message(1), d+grace)
	if !ok {
		return fmt.Errorf("%w: Send to a hanging gateway, context ended (%v) after %v", errNotPrompt, want, d)
	}
	return errors.Join(
		checkContextErr(h.Secret(), res.err, want),
		checkAtMostOneRequest(h),
		checkSecret(h.Secret(), res.rc, res.err),
	)
}

func checkContextErr(secret string, err, want error) error {
	if !errors.Is(err, want) {
		return fmt.Errorf("%w: Send returned %s, want an error matching %v", errContext, describe(secret, err), want)
	}
	return nil
}

func checkAtMostOneRequest(h Harness) error {
	if n := h.Requests(); n > 1 {
		return fmt.Errorf("%w: the gateway has %d requests after one Send, want at most 1", errRequests, n)
	}
	return nil
}

// checkConcurrent sends distinct messages from many goroutines at once.
func checkConcurrent(ctx context.Context, h Harness) error {
	p, err := makeProvider(ctx, h, Accept)
	if err != nil {
		return err
	}
	errs := make([]error, concurrency)
	var wg sync.WaitGroup
	for i := range concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rc, err := p.Send(ctx, message(i))
			errs[i] = errors.Join(checkOutcome(h.Secret(), Accept, err), checkSecret(h.Secret(), rc, err))
		}()
	}
	wg.Wait()
	if n := h.Requests(); n != concurrency {
		errs = append(errs, fmt.Errorf("%w: %d concurrent Sends made %d requests, want %d", errRequests, concurrency, n, concurrency))
	}
	return errors.Join(errs...)
}

type sendResult struct {
	rc  sms.Receipt
	err error
}

// sendWithin calls p.Send and waits at most limit for it. When it reports
// false the Send is still running; it ends when the provider returns (the
// harness's Close must make it).
func sendWithin(ctx context.Context, p sms.Provider, msg sms.Message, limit time.Duration) (sendResult, bool) {
	done := make(chan sendResult, 1)
	go func() {
		rc, err := p.Send(ctx, msg)
		done <- sendResult{rc, err}
	}()
	t := time.NewTimer(limit)
	defer t.Stop()
	select {
	case res := <-done:
		return res, true
	case <-t.C:
		return sendResult{}, false
	}
}

// checkSecret reports where secret, as given or URL-escaped, appears in the
// error (its text, its %+v form, the text of every error it wraps) or in the
// Receipt.
func checkSecret(secret string, rc sms.Receipt, err error) error {
	if secret == "" {
		return nil
	}
	type place struct{ name, text string }
	places := []place{
		{"Receipt.MessageID", rc.MessageID},
		{"Receipt.Provider", rc.Provider},
		{"Receipt.URL", rc.URL},
		{"Receipt %+v", fmt.Sprintf("%+v", rc)},
	}
	if err != nil {
		places = append(places,
			place{"err.Error()", err.Error()},
			place{"err %+v", fmt.Sprintf("%+v", err)},
		)
		for i, e := range chain(err) {
			places = append(places, place{fmt.Sprintf("wrapped error #%d (%T)", i, e), e.Error()})
		}
	}
	var found []string
	for _, p := range places {
		if containsSecret(p.text, secret) {
			found = append(found, p.name)
		}
	}
	if len(found) > 0 {
		return fmt.Errorf("%w: in %s", errSecret, strings.Join(found, ", "))
	}
	return nil
}

func containsSecret(s, secret string) bool {
	return strings.Contains(s, secret) ||
		strings.Contains(s, url.QueryEscape(secret)) ||
		strings.Contains(s, url.PathEscape(secret))
}

// describe returns err's text with the secret masked, for the suite's own
// reports.
func describe(secret string, err error) string {
	if err == nil {
		return "a nil error"
	}
	s := err.Error()
	if secret != "" {
		for _, form := range []string{secret, url.QueryEscape(secret), url.PathEscape(secret)} {
			s = strings.ReplaceAll(s, form, "<secret>")
		}
	}
	return fmt.Sprintf("%q", s)
}

// chain returns every error err wraps, through Unwrap() error and
// Unwrap() []error, err excluded. It stops after a bound in case of a cycle.
func chain(err error) []error {
	const bound = 100
	var out []error
	queue := []error{err}
	for len(queue) > 0 && len(out) < bound {
		e := queue[0]
		queue = queue[1:]
		var next []error
		switch u := e.(type) {
		case interface{ Unwrap() error }:
			if w := u.Unwrap(); w != nil {
				next = append(next, w)
			}
		case interface{ Unwrap() []error }:
			for _, w := range u.Unwrap() {
				if w != nil {
					next = append(next, w)
				}
			}
		}
		out = append(out, next...)
		queue = append(queue, next...)
	}
	return out
}

package providertest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/smsgateway/sms"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// flaw is a way a provider can break the contract. The fake provider below
// has at most one.
type flaw int

const (
	noFlaw            flaw = iota
	retries                // two requests for every Send that is not accepted
	leaksInError           // the secret in every error's text
	leaksInChain           // the secret in an error wrapped under a redacting one
	leaksInReceipt         // the URL-escaped secret in the Receipt's URL
	ignoresContext         // neither checks ctx nor stops hanging when it ends
	plainContextError      // returns an error that does not match ctx.Err()
	rejectAsTemporary      // KindTemporary for a rejection
	ambiguousAsTemp        // KindTemporary for an ambiguous answer
	dropsRetryAfter        // no RetryAfter on a throttled answer
	noHang                 // the harness cannot script Hang
)

const (
	canary    = "canary/s3cr3t+key"
	hint      = 3 * time.Second
	redacted  = "https://gw.example/send?key=REDACTED"
	withCanry = "https://gw.example/send?key=" + canary
)

// fakeHarness is an in-memory gateway and its provider, with one flaw.
type fakeHarness struct {
	flaw     flaw
	requests atomic.Int64
	release  chan struct{} // closed by Close: ends hanging requests
	once     sync.Once
}

func newFake(f flaw) *fakeHarness { return &fakeHarness{flaw: f, release: make(chan struct{})} }

func (h *fakeHarness) MakeProvider(_ context.Context, b Behavior) (sms.Provider, error) {
	if b == Hang && h.flaw == noHang {
		return nil, fmt.Errorf("fake: %w", ErrUnsupported)
	}
	h.requests.Store(0)
	return &fakeProvider{h: h, b: b}, nil
}

func (h *fakeHarness) Requests() int             { return int(h.requests.Load()) }
func (h *fakeHarness) Secret() string            { return canary }
func (h *fakeHarness) RetryAfter() time.Duration { return hint }
func (h *fakeHarness) Close()                    { h.once.Do(func() { close(h.release) }) }

type fakeProvider struct {
	h *fakeHarness
	b Behavior
}

func (p *fakeProvider) Send(ctx context.Context, _ sms.Message) (sms.Receipt, error) {
	rc, err := p.send(ctx)
	if err != nil && p.h.flaw == leaksInError {
		err = fmt.Errorf("POST %s: %w", withCanry, err)
	}
	return rc, err
}

func (p *fakeProvider) send(ctx context.Context) (sms.Receipt, error) {
	f := p.h.flaw
	if err := ctx.Err(); err != nil && f != ignoresContext {
		return sms.Receipt{}, p.ctxErr(err)
	}
	p.h.requests.Add(1)
	if f == retries && p.b != Accept {
		p.h.requests.Add(1)
	}
	fail := func(k sms.Kind, code string) (sms.Receipt, error) {
		return sms.Receipt{StatusCode: 400, URL: redacted}, &sms.Error{Kind: k, Code: code, Err: errors.New("gateway refused")}
	}
	switch p.b {
	case Accept:
		rc := sms.Receipt{MessageID: "gw-1", StatusCode: 200, URL: redacted}
		if f == leaksInReceipt {
			rc.URL = "https://gw.example/send?key=" + url.QueryEscape(canary)
		}
		return rc, nil
	case Reject:
		if f == rejectAsTemporary {
			return fail(sms.KindTemporary, "400")
		}
		return fail(sms.KindRejected, "400")
	case Temporary:
		return fail(sms.KindTemporary, "503")
	case Throttle:
		rc, err := fail(sms.KindThrottled, "429")
		if f != dropsRetryAfter {
			err.(*sms.Error).RetryAfter = hint
		}
		return rc, err
	case Fatal:
		return fail(sms.KindFatal, "401")
	case Ambiguous:
		if f == ambiguousAsTemp {
			return fail(sms.KindTemporary, "502")
		}
		var cause error = &url.Error{Op: "Post", URL: redacted, Err: io.ErrUnexpectedEOF}
		if f == leaksInChain {
			cause = &redactingError{&url.Error{Op: "Post", URL: withCanry, Err: io.ErrUnexpectedEOF}}
		}
		return sms.Receipt{URL: redacted}, cause
	case Hang:
		if f == ignoresContext {
			<-p.h.release
			return sms.Receipt{}, &sms.Error{Kind: sms.KindAmbiguous, Err: errors.New("gateway closed")}
		}
		select {
		case <-ctx.Done():
			return sms.Receipt{}, p.ctxErr(ctx.Err())
		case <-p.h.release:
			return sms.Receipt{}, &sms.Error{Kind: sms.KindAmbiguous, Err: errors.New("gateway closed")}
		}
	}
	return sms.Receipt{}, errors.New("fake: unknown behavior")
}

func (p *fakeProvider) ctxErr(err error) error {
	if p.h.flaw == plainContextError {
		return &sms.Error{Kind: sms.KindAmbiguous, Err: errors.New("request timed out")}
	}
	return &sms.Error{Kind: sms.KindAmbiguous, Err: err}
}

// redactingError hides its cause's text but still unwraps to it, as a
// careless redaction would.
type redactingError struct{ err error }

func (e *redactingError) Error() string { return "request failed" }
func (e *redactingError) Unwrap() error { return e.err }

func TestRunConformanceTests(t *testing.T) {
	RunConformanceTests(t, func(context.Context, *testing.T) (Harness, error) {
		return newFake(noFlaw), nil
	})
}

// TestChecksFindFlaws runs every check against a provider with one flaw and
// expects exactly the listed checks to fail, each with its reason, and every
// other check to pass.
func TestChecksFindFlaws(t *testing.T) {
	hanging := []string{"CancelWhileHanging", "DeadlineWhileHanging"}
	failingSends := []string{"SendReject", "SendTemporary", "SendThrottle", "SendFatal", "SendAmbiguous"}
	tests := []struct {
		name string
		flaw flaw
		want map[string]error // check name -> the reason it must fail with
	}{
		{"noFlaw", noFlaw, nil},
		{"retries", retries, expect(errRequests, append(failingSends, hanging...)...)},
		{"leaksInError", leaksInError, expect(errSecret, append(append(failingSends, hanging...), "CancelledContext")...)},
		{"leaksInChain", leaksInChain, expect(errSecret, "SendAmbiguous")},
		{"leaksInReceipt", leaksInReceipt, expect(errSecret, "SendAccept", "Concurrent")},
		{"ignoresContext", ignoresContext, merge(expect(errContext, "CancelledContext"), expect(errNotPrompt, hanging...))},
		{"plainContextError", plainContextError, expect(errContext, append(hanging, "CancelledContext")...)},
		{"rejectAsTemporary", rejectAsTemporary, expect(errOutcome, "SendReject")},
		{"ambiguousAsTemp", ambiguousAsTemp, expect(errOutcome, "SendAmbiguous")},
		{"dropsRetryAfter", dropsRetryAfter, expect(errRetryAfter, "SendThrottle")},
		{"noHang", noHang, expect(ErrUnsupported, hanging...)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// The suite's own grace, so a loaded machine cannot make a
			// good provider look late; a short one where the provider
			// never returns anyway.
			g := grace
			if tt.flaw == ignoresContext {
				g = 200 * time.Millisecond
			}
			for _, c := range checks(g) {
				h := newFake(tt.flaw)
				err := c.run(context.Background(), h)
				h.Close()
				want, ok := tt.want[c.name]
				if !ok {
					assert.NoError(t, err, c.name)
					continue
				}
				assert.ErrorIs(t, err, want, c.name)
				var skip *skipError
				assert.Equal(t, errors.Is(want, ErrUnsupported), errors.As(err, &skip), "%s: skipped", c.name)
				if err != nil {
					assert.NotContains(t, err.Error(), canary, "the suite's own report must not leak the secret")
				}
			}
		})
	}
}

func expect(reason error, names ...string) map[string]error {
	m := make(map[string]error, len(names))
	for _, n := range names {
		m[n] = reason
	}
	return m
}

func merge(a, b map[string]error) map[string]error {
	for k, v := range b {
		a[k] = v
	}
	return a
}

// badHarness breaks the harness's own contract.
type badHarness struct {
	*fakeHarness
	makeErr error
	nilProv bool
}

func (h *badHarness) MakeProvider(ctx context.Context, b Behavior) (sms.Provider, error) {
	if h.makeErr != nil {
		return nil, h.makeErr
	}
	if h.nilProv {
		return nil, nil
	}
	p, err := h.fakeHarness.MakeProvider(ctx, b)
	h.requests.Store(7) // a count carried over from an earlier provider
	return p, err
}

func TestHarnessFailures(t *testing.T) {
	tests := []struct {
		name string
		h    *badHarness
	}{
		{"MakeProvider fails", &badHarness{fakeHarness: newFake(noFlaw), makeErr: fmt.Errorf("dial %s: refused", withCanry)}},
		{"MakeProvider returns nil", &badHarness{fakeHarness: newFake(noFlaw), nilProv: true}},
		{"Requests not reset", &badHarness{fakeHarness: newFake(noFlaw)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer tt.h.Close()
			for _, c := range checks(time.Second) {
				err := c.run(context.Background(), tt.h)
				require.ErrorIs(t, err, errHarness, c.name)
				assert.NotContains(t, err.Error(), canary)
			}
		})
	}
}

func TestBehavior(t *testing.T) {
	tests := []struct {
		b       Behavior
		name    string
		kind    sms.Kind
		failing bool
	}{
		{Accept, "Accept", sms.KindAmbiguous, false},
		{Reject, "Reject", sms.KindRejected, true},
		{Temporary, "Temporary", sms.KindTemporary, true},
		{Throttle, "Throttle", sms.KindThrottled, true},
		{Fatal, "Fatal", sms.KindFatal, true},
		{Ambiguous, "Ambiguous", sms.KindAmbiguous, true},
		{Hang, "Hang", sms.KindAmbiguous, false},
		{Behavior(42), "Behavior(42)", sms.KindAmbiguous, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.name, tt.b.String())
			kind, failing := tt.b.Kind()
			assert.Equal(t, tt.kind, kind)
			assert.Equal(t, tt.failing, failing)
		})
	}
}

func TestCheckSecretForms(t *testing.T) {
	tests := []struct {
		name string
		rc   sms.Receipt
		err  error
		leak bool
	}{
		{"clean", sms.Receipt{MessageID: "1", URL: redacted}, errors.New("refused"), false},
		{"nil error, clean receipt", sms.Receipt{}, nil, false},
		{"as given in MessageID", sms.Receipt{MessageID: canary}, nil, true},
		{"query-escaped in URL", sms.Receipt{URL: "x?k=" + url.QueryEscape(canary)}, nil, true},
		{"path-escaped in Provider", sms.Receipt{Provider: url.PathEscape(canary)}, nil, true},
		{"in error text", sms.Receipt{}, errors.New("key " + canary), true},
		{"deep in a joined error", sms.Receipt{}, errors.Join(errors.New("a"), &redactingError{errors.New(canary)}), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := checkSecret(canary, tt.rc, tt.err)
			if tt.leak {
				assert.ErrorIs(t, err, errSecret)
			} else {
				assert.NoError(t, err)
			}
			assert.NoError(t, checkSecret("", tt.rc, tt.err), "no secret, nothing to leak")
		})
	}
}

package sms

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/time/rate"
)

const testNumber = "+4915112345678"

func kindErr(k Kind) *Error { return &Error{Kind: k, Err: errors.New("scripted " + k.String())} }

func TestErrorMatching(t *testing.T) {
	cause := errors.New("boom")
	for k, sentinel := range kindSentinels {
		kind := Kind(k)
		t.Run(kind.String(), func(t *testing.T) {
			var err error = fmt.Errorf("wrapped: %w", &Error{Kind: kind, Err: cause, Code: "42"})
			assert.ErrorIs(t, err, sentinel)
			assert.ErrorIs(t, err, cause)
			for _, other := range kindSentinels {
				if other != sentinel {
					assert.NotErrorIs(t, err, other)
				}
			}
			var e *Error
			require.ErrorAs(t, err, &e)
			assert.Equal(t, "42", e.Code)
			got, ok := Result{Err: err}.Kind()
			assert.True(t, ok)
			assert.Equal(t, kind, got)
		})
	}
	t.Run("unclassified is ambiguous", func(t *testing.T) {
		e := classify(errors.New("eof"))
		assert.Equal(t, KindAmbiguous, e.Kind)
		assert.ErrorIs(t, e, ErrAmbiguous)
	})
	t.Run("no kind", func(t *testing.T) {
		for _, err := range []error{nil, ErrDuplicate, notAttempted(context.Canceled), notAttempted(nil)} {
			_, ok := Result{Err: err}.Kind()
			assert.False(t, ok, "%v", err)
		}
		k, ok := Result{Err: notAttempted(&Error{Kind: KindFatal})}.Kind()
		assert.True(t, ok)
		assert.Equal(t, KindFatal, k, "a mailing stopped by a fatal outcome")
	})
	t.Run("context stays matchable", func(t *testing.T) {
		err := error(&Error{Kind: KindAmbiguous, Err: context.DeadlineExceeded})
		assert.ErrorIs(t, err, context.DeadlineExceeded)
		assert.ErrorIs(t, err, ErrAmbiguous)
	})
}

func TestSendRetries(t *testing.T) {
	tests := []struct {
		name       string
		script     []error
		policy     RetryPolicy
		idempotent bool
		id         string
		wantCalls  int
		wantStatus Status
		wantKind   Kind // when failed
		wantSleeps []time.Duration
	}{
		{name: "accepted first", wantCalls: 1, wantStatus: StatusSent},
		{name: "temporary then accepted", script: []error{kindErr(KindTemporary), kindErr(KindTemporary)},
			wantCalls: 3, wantStatus: StatusSent, wantSleeps: []time.Duration{500 * time.Millisecond, time.Second}},
		{name: "temporary until attempts run out", script: []error{kindErr(KindTemporary), kindErr(KindTemporary), kindErr(KindTemporary)},
			wantCalls: 3, wantStatus: StatusFailed, wantKind: KindTemporary, wantSleeps: []time.Duration{500 * time.Millisecond, time.Second}},
		{name: "five attempts", policy: RetryPolicy{MaxAttempts: 5, BaseDelay: time.Second, MaxDelay: 3 * time.Second},
			script:    []error{kindErr(KindTemporary), kindErr(KindTemporary), kindErr(KindTemporary), kindErr(KindTemporary), kindErr(KindTemporary)},
			wantCalls: 5, wantStatus: StatusFailed, wantKind: KindTemporary,
			wantSleeps: []time.Duration{time.Second, 2 * time.Second, 3 * time.Second, 3 * time.Second}},
		{name: "one attempt only", policy: RetryPolicy{MaxAttempts: 1}, script: []error{kindErr(KindTemporary)},
			wantCalls: 1, wantStatus: StatusFailed, wantKind: KindTemporary},
		{name: "rejected never retried", script: []error{kindErr(KindRejected)}, wantCalls: 1, wantStatus: StatusFailed, wantKind: KindRejected},
		{name: "fatal never retried", script: []error{kindErr(KindFatal)}, wantCalls: 1, wantStatus: StatusFailed, wantKind: KindFatal},
		{name: "ambiguous not retried", script: []error{kindErr(KindAmbiguous)}, wantCalls: 1, wantStatus: StatusFailed, wantKind: KindAmbiguous},
		{name: "unclassified error is ambiguous", script: []error{errors.New("connection reset")}, wantCalls: 1, wantStatus: StatusFailed, wantKind: KindAmbiguous},
		{name: "ambiguous retried when opted in", policy: RetryPolicy{RetryAmbiguous: true}, script: []error{kindErr(KindAmbiguous)},
			wantCalls: 2, wantStatus: StatusSent, wantSleeps: []time.Duration{500 * time.Millisecond}},
		{name: "ambiguous retried by idempotent provider with ID", idempotent: true, id: "order-1", script: []error{kindErr(KindAmbiguous)},
			wantCalls: 2, wantStatus: StatusSent, wantSleeps: []time.Duration{500 * time.Millisecond}},
		{name: "ambiguous not retried by idempotent provider without ID", idempotent: true, script: []error{kindErr(KindAmbiguous)},
			wantCalls: 1, wantStatus: StatusFailed, wantKind: KindAmbiguous},
		{name: "throttled honours Retry-After", script: []error{&Error{Kind: KindThrottled, RetryAfter: 7 * time.Second}},
			wantCalls: 2, wantStatus: StatusSent, wantSleeps: []time.Duration{7 * time.Second}},
		{name: "Retry-After capped", policy: RetryPolicy{MaxRetryAfter: 10 * time.Second}, script: []error{&Error{Kind: KindThrottled, RetryAfter: time.Hour}},
			wantCalls: 2, wantStatus: StatusSent, wantSleeps: []time.Duration{10 * time.Second}},
		{name: "throttled without hint backs off", script: []error{kindErr(KindThrottled), kindErr(KindThrottled), kindErr(KindThrottled)},
			wantCalls: 3, wantStatus: StatusFailed, wantKind: KindThrottled, wantSleeps: []time.Duration{500 * time.Millisecond, time.Second}},
		{name: "temporary then rejected", script: []error{kindErr(KindTemporary), kindErr(KindRejected)},
			wantCalls: 2, wantStatus: StatusFailed, wantKind: KindRejected, wantSleeps: []time.Duration{500 * time.Millisecond}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fp := &fakeProvider{script: outcomes(tt.script...)}
			var p Provider = fp
			if tt.idempotent {
				p = idempotentFake{fp}
			}
			c, fc := newTestClient(t, p, WithRetry(tt.policy))
			res, err := c.Send(context.Background(), Message{To: testNumber, Text: "hi", ID: tt.id})
			assert.Equal(t, tt.wantCalls, fp.callCount(), "provider calls")
			assert.Equal(t, tt.wantCalls, res.Attempts, "Result.Attempts")
			assert.Equal(t, tt.wantStatus, res.Status)
			assert.Equal(t, tt.wantSleeps, fc.slept(), "backoff and Retry-After waits")
			if tt.wantStatus == StatusSent {
				require.NoError(t, err)
				assert.Equal(t, fmt.Sprintf("id-%d", tt.wantCalls), res.MessageID)
				return
			}
			require.Error(t, err)
			var e *Error
			require.ErrorAs(t, err, &e)
			assert.Equal(t, tt.wantKind, e.Kind)
			assert.Equal(t, tt.wantCalls, e.Attempts)
			assert.Equal(t, 500, res.StatusCode, "the last attempt's receipt is kept")
		})
	}
}

func TestBackoff(t *testing.T) {
	p := RetryPolicy{BaseDelay: 100 * time.Millisecond, MaxDelay: time.Second}
	top := func(limit int64) int64 { return limit - 1 }
	bottom := func(int64) int64 { return 0 }
	want := []time.Duration{100, 200, 400, 800, 1000, 1000}
	for i, w := range want {
		w *= time.Millisecond
		assert.Equal(t, w, p.backoff(i+1, top), "retry %d, top of range", i+1)
		assert.Equal(t, w/2, p.backoff(i+1, bottom), "retry %d, bottom of range", i+1)
	}
	// Very many retries must not overflow.
	assert.Equal(t, time.Second, p.backoff(1000, top))
}

func TestRetryPolicyValidation(t *testing.T) {
	_, err := New(&fakeProvider{}, WithRetry(RetryPolicy{MaxAttempts: -1}))
	assert.Error(t, err)
	_, err = New(&fakeProvider{}, WithRetry(RetryPolicy{BaseDelay: time.Minute, MaxDelay: time.Second}))
	assert.Error(t, err)
	_, err = New(&fakeProvider{}, WithConcurrency(0))
	assert.Error(t, err)
	_, err = New(&fakeProvider{}, WithRateLimit(0, 1))
	assert.Error(t, err)
	_, err = New(nil)
	assert.Error(t, err)
}

func TestValidation(t *testing.T) {
	tests := []struct {
		name  string
		msg   Message
		cause error
	}{
		{"empty text", Message{To: testNumber}, ErrEmptyText},
		{"spaces", Message{To: testNumber, Text: "   "}, ErrEmptyText},
		{"line break and tab", Message{To: testNumber, Text: "\n\t"}, ErrEmptyText},
		{"no-break and ideographic spaces", Message{To: testNumber, Text: "\u00a0\u3000\r\n"}, ErrEmptyText},
		{"missing number", Message{Text: "hi"}, ErrInvalidNumber},
		{"letters", Message{To: "+49abc1234567", Text: "hi"}, ErrInvalidNumber},
		{"too short", Message{To: "12345", Text: "hi"}, ErrInvalidNumber},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fp := &fakeProvider{}
			c, _ := newTestClient(t, fp)
			res, err := c.Send(context.Background(), tt.msg)
			assert.ErrorIs(t, err, ErrInvalid)
			assert.ErrorIs(t, err, tt.cause)
			assert.Equal(t, StatusSkipped, res.Status)
			assert.Zero(t, fp.callCount(), "the provider must not see an invalid message")
		})
	}
	t.Run("custom normalizer", func(t *testing.T) {
		fp := &fakeProvider{}
		c, _ := newTestClient(t, fp, WithNormalizer(func(n string) (string, error) {
			if strings.HasPrefix(n, "8") && len(n) == 11 {
				return "+7" + n[1:], nil
			}
			return "", errors.New("not Russian")
		}))
		res, err := c.Send(context.Background(), Message{To: "88005553535", Text: "hi"})
		require.NoError(t, err)
		assert.Equal(t, "+78005553535", fp.calls[0].To)
		assert.Equal(t, "88005553535", res.To)
		_, err = c.Send(context.Background(), Message{To: "+4915112345678", Text: "hi"})
		assert.ErrorIs(t, err, ErrInvalidNumber, "a normalizer's own error is wrapped so it matches")
	})
}

// countingLimiter records every wait.
type countingLimiter struct {
	mu sync.Mutex
	n  int
}

func (l *countingLimiter) WaitN(ctx context.Context, n int) error {
	l.mu.Lock()
	l.n += n
	l.mu.Unlock()
	return ctx.Err()
}

func TestEveryAttemptWaitsOnLimiter(t *testing.T) {
	lim := &countingLimiter{}
	fp := &fakeProvider{script: outcomes(kindErr(KindTemporary), kindErr(KindThrottled))}
	c, _ := newTestClient(t, fp, WithLimiter(lim))
	_, err := c.Send(context.Background(), Message{To: testNumber, Text: "hi"})
	require.NoError(t, err)
	assert.Equal(t, 3, fp.callCount())
	assert.Equal(t, 3, lim.n, "one wait per attempt, retries included")
}

func TestRateLimitDeadline(t *testing.T) {
	fp := &fakeProvider{}
	c, err := New(fp, WithRateLimit(rate.Every(time.Hour), 1))
	require.NoError(t, err)
	defer c.Close()
	_, err = c.Send(context.Background(), Message{To: testNumber, Text: "first uses the burst"})
	require.NoError(t, err)

	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	res, err := c.Send(ctx, Message{To: testNumber, Text: "second would wait an hour"})
	assert.ErrorIs(t, err, context.DeadlineExceeded, "rate's plain error is translated")
	assert.ErrorIs(t, err, ErrNotAttempted)
	assert.Equal(t, StatusNotAttempted, res.Status)
	assert.Equal(t, 1, fp.callCount())
}

// reasonLimiter waits until ctx ends and says why it waited so long, as a
// distributed limiter whose store is unreachable does.
type reasonLimiter struct{ reason error }

func (l reasonLimiter) WaitN(ctx context.Context, _ int) error {
	<-ctx.Done()
	return fmt.Errorf("%w while %w", ctx.Err(), l.reason)
}

// TestLimiterReasonKept: a limiter's error that matches the context's is
// passed on whole, so the caller learns why the wait was long.
func TestLimiterReasonKept(t *testing.T) {
	unreachable := errors.New("limit store unreachable")
	c, err := New(&fakeProvider{}, WithLimiter(reasonLimiter{unreachable}))
	require.NoError(t, err)
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	_, err = c.Send(ctx, Message{To: testNumber, Text: "x"})
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.ErrorIs(t, err, unreachable)
	assert.ErrorIs(t, err, ErrNotAttempted)
}

func TestThrottleSlowsEveryWorker(t *testing.T) {
	fp := &fakeProvider{script: func(n int, msg Message) (Receipt, error) {
		if msg.To == "+4915100000001" {
			return Receipt{}, &Error{Kind: KindThrottled, RetryAfter: 5 * time.Second}
		}
		return Receipt{}, nil
	}}
	c, fc := newTestClient(t, fp, WithRetry(RetryPolicy{MaxAttempts: 1}))
	_, err := c.Send(context.Background(), Message{To: "+4915100000001", Text: "hi"})
	require.ErrorIs(t, err, ErrThrottled)
	assert.Empty(t, fc.slept(), "no retry, so no wait yet")

	// Another message, as from another worker: it waits out the throttle.
	_, err = c.Send(context.Background(), Message{To: "+4915100000002", Text: "hi"})
	require.NoError(t, err)
	assert.Equal(t, []time.Duration{5 * time.Second}, fc.slept())

	// Once the time has passed, nobody waits.
	_, err = c.Send(context.Background(), Message{To: "+4915100000003", Text: "hi"})
	require.NoError(t, err)
	assert.Len(t, fc.slept(), 1)
}

func TestSendContext(t *testing.T) {
	t.Run("cancelled before", func(t *testing.T) {
		fp := &fakeProvider{}
		c, _ := newTestClient(t, fp)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		res, err := c.Send(ctx, Message{To: testNumber, Text: "hi"})
		assert.ErrorIs(t, err, context.Canceled)
		assert.Equal(t, StatusNotAttempted, res.Status)
		assert.Zero(t, fp.callCount())
	})
	t.Run("cancelled during send", func(t *testing.T) {
		fp := &fakeProvider{block: make(chan struct{})}
		c, _ := newTestClient(t, fp, WithRetry(RetryPolicy{RetryAmbiguous: true}))
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		defer cancel()
		res, err := c.Send(ctx, Message{To: testNumber, Text: "hi"})
		assert.ErrorIs(t, err, context.DeadlineExceeded)
		assert.ErrorIs(t, err, ErrAmbiguous)
		assert.Equal(t, 1, fp.callCount(), "no retry once the context is done")
		assert.Equal(t, StatusFailed, res.Status)
	})
	t.Run("cancelled during backoff", func(t *testing.T) {
		fp := &fakeProvider{script: outcomes(kindErr(KindTemporary))}
		c, err := New(fp, WithRetry(RetryPolicy{BaseDelay: time.Hour}))
		require.NoError(t, err)
		defer c.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		defer cancel()
		res, err := c.Send(ctx, Message{To: testNumber, Text: "hi"})
		assert.ErrorIs(t, err, ErrTemporary, "the last outcome stands")
		assert.ErrorIs(t, err, context.DeadlineExceeded, "and says why retrying stopped")
		assert.Equal(t, 1, res.Attempts)
	})
}

func TestClose(t *testing.T) {
	fp := &fakeProvider{}
	c, err := New(fp)
	require.NoError(t, err)
	require.NoError(t, c.Close())
	require.NoError(t, c.Close(), "idempotent")
	assert.Equal(t, 1, fp.closed, "the provider is closed once")

	_, err = c.Send(context.Background(), Message{To: testNumber, Text: "hi"})
	assert.ErrorIs(t, err, ErrClosed)
	rep, err := c.Mailing(context.Background(), Mailing{Text: "hi", To: []string{testNumber}})
	assert.ErrorIs(t, err, ErrClosed)
	require.Len(t, rep.Results, 1)
	assert.Equal(t, StatusNotAttempted, rep.Results[0].Status)
	assert.Zero(t, fp.callCount())
}

// blockingLimiter signals when a wait starts and blocks until ctx ends.
type blockingLimiter struct{ waiting chan struct{} }

func (l blockingLimiter) WaitN(ctx context.Context, n int) error {
	close(l.waiting)
	<-ctx.Done()
	return ctx.Err()
}

func TestCloseEndsWaits(t *testing.T) {
	fp := &fakeProvider{}
	lim := blockingLimiter{waiting: make(chan struct{})}
	c, err := New(fp, WithLimiter(lim))
	require.NoError(t, err)

	done := make(chan Result)
	go func() {
		res, _ := c.Send(context.Background(), Message{To: testNumber, Text: "waits on the limiter"})
		done <- res
	}()
	<-lim.waiting // the Send is inside the limiter
	require.NoError(t, c.Close())
	res := <-done
	assert.ErrorIs(t, res.Err, ErrClosed)
	assert.Equal(t, StatusNotAttempted, res.Status)
	assert.Zero(t, fp.callCount())
}

func TestHooksAndLogging(t *testing.T) {
	var buf bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	var mu sync.Mutex
	var attempts []Attempt
	var results []Result
	fp := &fakeProvider{script: outcomes(kindErr(KindTemporary))}
	c, _ := newTestClient(t, fp, WithLogger(logger), WithHooks(Hooks{
		Attempt: func(a Attempt) { mu.Lock(); attempts = append(attempts, a); mu.Unlock() },
		Result:  func(r Result) { mu.Lock(); results = append(results, r); mu.Unlock() },
	}))
	_, err := c.Send(context.Background(), Message{To: testNumber, Text: "hi"})
	require.NoError(t, err)
	require.Len(t, attempts, 2)
	assert.ErrorIs(t, attempts[0].Err, ErrTemporary)
	assert.NoError(t, attempts[1].Err)
	assert.Equal(t, 2, attempts[1].N)
	require.Len(t, results, 1)
	assert.Equal(t, StatusSent, results[0].Status)

	out := buf.String()
	assert.Contains(t, out, "+49*********78", "numbers are masked")
	assert.NotContains(t, out, testNumber)
	assert.Equal(t, 3, strings.Count(out, "\n"), "two attempts and one result")
}

func TestNoLoggingByDefault(t *testing.T) {
	c, err := New(&fakeProvider{})
	require.NoError(t, err)
	defer c.Close()
	assert.False(t, c.log.Enabled(context.Background(), slog.LevelError))
}

// deadlineProvider records whether each call's ctx had a deadline. A call
// with one blocks until its ctx is done and fails as ambiguous (the request
// was written); a call without one is accepted at once.
type deadlineProvider struct {
	mu        sync.Mutex
	deadlines []bool
}

func (p *deadlineProvider) Send(ctx context.Context, _ Message) (Receipt, error) {
	_, ok := ctx.Deadline()
	p.mu.Lock()
	p.deadlines = append(p.deadlines, ok)
	p.mu.Unlock()
	if !ok {
		return Receipt{}, nil
	}
	<-ctx.Done()
	return Receipt{}, &Error{Kind: KindAmbiguous, Err: ctx.Err()}
}

func TestAttemptTimeout(t *testing.T) {
	t.Run("bounds each attempt", func(t *testing.T) {
		p := &deadlineProvider{}
		c, _ := newTestClient(t, p, WithAttemptTimeout(10*time.Millisecond), WithRetry(RetryPolicy{MaxAttempts: 2, RetryAmbiguous: true}))
		ctx := context.Background()
		res, err := c.Send(ctx, Message{To: testNumber, Text: "hi"})
		assert.ErrorIs(t, err, ErrAmbiguous)
		assert.ErrorIs(t, err, context.DeadlineExceeded, "the attempt ended at its own deadline")
		assert.Equal(t, StatusFailed, res.Status)
		assert.Equal(t, []bool{true, true}, p.deadlines, "every attempt has a deadline of its own")
		assert.NoError(t, ctx.Err())
	})
	t.Run("none by default", func(t *testing.T) {
		p := &deadlineProvider{}
		c, _ := newTestClient(t, p)
		_, err := c.Send(context.Background(), Message{To: testNumber, Text: "hi"})
		require.NoError(t, err)
		assert.Equal(t, []bool{false}, p.deadlines)
	})
	t.Run("negative", func(t *testing.T) {
		_, err := New(&fakeProvider{}, WithAttemptTimeout(-time.Second))
		assert.Error(t, err)
	})
}

func TestThrottleScope(t *testing.T) {
	const busy = "+4915100000001"
	tests := []struct {
		name         string
		perRecipient bool
		retryAfter   time.Duration
		policy       RetryPolicy
		// The Client's waits (fake clock) for a mailing to busy and then
		// two other numbers, one worker, and what became of busy.
		wantSleeps []time.Duration
		wantCalls  int
		wantBusy   Status
	}{
		{name: "account, no retry: the next message waits", retryAfter: 5 * time.Second, policy: RetryPolicy{MaxAttempts: 1},
			wantSleeps: []time.Duration{5 * time.Second}, wantCalls: 3, wantBusy: StatusFailed},
		{name: "recipient, no retry: nobody waits", perRecipient: true, retryAfter: 5 * time.Second, policy: RetryPolicy{MaxAttempts: 1},
			wantSleeps: nil, wantCalls: 3, wantBusy: StatusFailed},
		{name: "account, retried: the retry waits at the gate", retryAfter: 5 * time.Second,
			wantSleeps: []time.Duration{5 * time.Second}, wantCalls: 4, wantBusy: StatusSent},
		{name: "recipient, retried: its own retry waits", perRecipient: true, retryAfter: 5 * time.Second,
			wantSleeps: []time.Duration{5 * time.Second}, wantCalls: 4, wantBusy: StatusSent},
		{name: "recipient, retried without a hint: backoff", perRecipient: true,
			wantSleeps: []time.Duration{500 * time.Millisecond}, wantCalls: 4, wantBusy: StatusSent},
		{name: "recipient, hint capped", perRecipient: true, retryAfter: time.Hour, policy: RetryPolicy{MaxRetryAfter: 10 * time.Second},
			wantSleeps: []time.Duration{10 * time.Second}, wantCalls: 4, wantBusy: StatusSent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fp := &fakeProvider{script: func(n int, msg Message) (Receipt, error) {
				if msg.To == busy && n == 1 {
					return Receipt{}, &Error{Kind: KindThrottled, RetryAfter: tt.retryAfter, PerRecipient: tt.perRecipient}
				}
				return Receipt{}, nil
			}}
			c, fc := newTestClient(t, fp, WithRetry(tt.policy), WithConcurrency(1))
			rep, err := c.Mailing(context.Background(), Mailing{Text: "hi", To: []string{busy, "+4915100000002", "+4915100000003"}})
			assert.Equal(t, tt.wantBusy, rep.Results[0].Status)
			if tt.wantBusy == StatusFailed {
				require.ErrorIs(t, err, ErrThrottled)
				var e *Error
				require.ErrorAs(t, rep.Results[0].Err, &e)
				assert.Equal(t, tt.perRecipient, e.PerRecipient, "the Result says which limit it was")
			} else {
				require.NoError(t, err)
			}
			assert.Equal(t, 2, rep.Results[1].Attempts+rep.Results[2].Attempts, "the others are sent at first attempt")
			assert.Equal(t, StatusSent, rep.Results[1].Status)
			assert.Equal(t, StatusSent, rep.Results[2].Status)
			assert.Equal(t, tt.wantSleeps, fc.slept())
			assert.Equal(t, tt.wantCalls, fp.callCount())
			assert.Equal(t, !tt.perRecipient, c.gate.closed(), "only an account-wide throttle closes the gate")
		})
	}
}

// A throttle about one recipient does not hold back a Send to another,
// even while that recipient's retry is waiting.
func TestRecipientThrottleDoesNotStallOthers(t *testing.T) {
	const busy, other = "+4915100000001", "+4915100000002"
	fp := &fakeProvider{script: func(_ int, msg Message) (Receipt, error) {
		if msg.To == busy {
			return Receipt{}, &Error{Kind: KindThrottled, RetryAfter: time.Minute, PerRecipient: true}
		}
		return Receipt{}, nil
	}}
	c, fc := newTestClient(t, fp)
	// Waits of a minute (the busy number's, or the gate's if it closed)
	// last until the test releases them; others pass on the fake clock.
	release := make(chan struct{})
	waiting := make(chan struct{}, 1)
	c.sleep = func(ctx context.Context, d time.Duration) error {
		if d == time.Minute {
			select {
			case waiting <- struct{}{}:
			default:
			}
			select {
			case <-release:
			case <-ctx.Done():
				return context.Cause(ctx)
			}
		}
		return fc.sleep(ctx, d)
	}
	busyDone := make(chan Result)
	go func() {
		res, _ := c.Send(context.Background(), Message{To: busy, Text: "hi"})
		busyDone <- res
	}()
	<-waiting // busy's first attempt was throttled, and its retry waits

	otherDone := make(chan error, 1)
	go func() {
		_, err := c.Send(context.Background(), Message{To: other, Text: "hi"})
		otherDone <- err
	}()
	select {
	case err := <-otherDone:
		require.NoError(t, err, "sent while the busy number's retry waits")
	case <-time.After(10 * time.Second): // only a broken Client gets here
		t.Error("a Send to another number waited behind a per-recipient throttle")
	}
	close(release)
	res := <-busyDone
	assert.Equal(t, StatusFailed, res.Status)
	assert.Equal(t, 3, res.Attempts)
	if t.Failed() {
		<-otherDone
	}
}

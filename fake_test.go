package sms

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fakeProvider is a scripted Provider for the Client's own tests. script
// decides each call's outcome from the call number (from 1) and message.
type fakeProvider struct {
	script func(n int, msg Message) (Receipt, error)
	// block, when set, makes each call wait for it (or ctx) first.
	block chan struct{}
	// onCall, when set, is called with each call's number as it starts,
	// before block.
	onCall func(n int)

	mu     sync.Mutex
	calls  []Message
	closed int
}

func (f *fakeProvider) Send(ctx context.Context, msg Message) (Receipt, error) {
	f.mu.Lock()
	f.calls = append(f.calls, msg)
	n := len(f.calls)
	f.mu.Unlock()
	if f.onCall != nil {
		f.onCall(n)
	}
	if f.block != nil {
		select {
		case <-f.block:
		case <-ctx.Done():
			return Receipt{}, &Error{Kind: KindAmbiguous, Err: ctx.Err()}
		}
	}
	if err := ctx.Err(); err != nil {
		return Receipt{}, &Error{Kind: KindTemporary, Err: err}
	}
	if f.script == nil {
		return Receipt{MessageID: fmt.Sprintf("id-%d", n)}, nil
	}
	return f.script(n, msg)
}

func (f *fakeProvider) Close() error {
	f.mu.Lock()
	f.closed++
	f.mu.Unlock()
	return nil
}

func (f *fakeProvider) callCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.calls)
}

// idempotentFake is a fakeProvider whose gateway deduplicates by ID.
type idempotentFake struct{ *fakeProvider }

func (idempotentFake) Idempotent() bool { return true }

// outcomes scripts calls 1..len(errs) with errs (nil = accepted) and accepts
// every later call.
func outcomes(errs ...error) func(int, Message) (Receipt, error) {
	return func(n int, msg Message) (Receipt, error) {
		if n <= len(errs) && errs[n-1] != nil {
			return Receipt{StatusCode: 500}, errs[n-1]
		}
		return Receipt{MessageID: fmt.Sprintf("id-%d", n), StatusCode: 200}, nil
	}
}

// fakeClock replaces the Client's clock, sleep and jitter: sleeping advances
// the clock at once and records the duration.
type fakeClock struct {
	mu     sync.Mutex
	t      time.Time
	sleeps []time.Duration
}

func (fc *fakeClock) now() time.Time {
	fc.mu.Lock()
	defer fc.mu.Unlock()
	return fc.t
}

func (fc *fakeClock) sleep(ctx context.Context, d time.Duration) error {
	if err := context.Cause(ctx); err != nil {
		return err
	}
	fc.mu.Lock()
	fc.sleeps = append(fc.sleeps, d)
	fc.t = fc.t.Add(d)
	fc.mu.Unlock()
	return nil
}

func (fc *fakeClock) slept() []time.Duration {
	fc.mu.Lock()
	defer fc.mu.Unlock()
	return append([]time.Duration(nil), fc.sleeps...)
}

// newTestClient builds a Client over p with a fake clock and jitter that
// always picks the top of its range.
func newTestClient(t *testing.T, p Provider, opts ...Option) (*Client, *fakeClock) {
	t.Helper()
	c, err := New(p, opts...)
	if err != nil {
		t.Fatal(err)
	}
	fc := &fakeClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	c.now, c.sleep = fc.now, fc.sleep
	c.rand = func(limit int64) int64 { return limit - 1 }
	t.Cleanup(func() { c.Close() })
	return c, fc
}

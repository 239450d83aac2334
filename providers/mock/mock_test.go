package mock_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/smsgateway/sms"
	"github.com/smsgateway/sms/providers/mock"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const (
	alice = "+4915112345678"
	bob   = "+4915187654321"
)

var (
	_ sms.Provider           = (*mock.Provider)(nil)
	_ sms.IdempotentProvider = (*mock.Provider)(nil)
)

func msgTo(to string) sms.Message { return sms.Message{To: to, Text: "hello"} }

func TestAcceptsAndRecords(t *testing.T) {
	p := mock.New()
	ctx := context.Background()
	msgs := []sms.Message{msgTo(alice), msgTo(bob), {To: alice, Text: "again", From: "Shop", ID: "x"}}
	for i, m := range msgs {
		rc, err := p.Send(ctx, m)
		require.NoError(t, err)
		assert.Equal(t, sms.Receipt{MessageID: fmt.Sprintf("mock-%d", i+1)}, rc)
	}
	assert.Equal(t, msgs, p.Sent())
	assert.Equal(t, 2, p.SentTo(alice))
	assert.Equal(t, 1, p.SentTo(bob))
	assert.Equal(t, 0, p.SentTo("+10000000000"))
	assert.False(t, p.Idempotent())

	calls := p.Calls()
	require.Len(t, calls, 3)
	for i, c := range calls {
		assert.Equal(t, mock.Call{N: i + 1, Message: msgs[i], Receipt: sms.Receipt{MessageID: fmt.Sprintf("mock-%d", i+1)}}, c)
	}

	// Sent returns copies: changing them changes nothing recorded.
	sent := p.Sent()
	sent[0].To = "changed"
	assert.Equal(t, alice, p.Sent()[0].To)
}

// outcome is what one call of a rule test expects.
type outcome struct {
	to   string
	kind sms.Kind // ignored when ok
	ok   bool     // accepted without error
}

var (
	rejected  = mock.Err(sms.KindRejected)
	temporary = mock.Err(sms.KindTemporary)
	fatal     = mock.Err(sms.KindFatal)
	errPlain  = errors.New("connection reset")
)

func accepted(to string) outcome           { return outcome{to: to, ok: true} }
func failed(to string, k sms.Kind) outcome { return outcome{to: to, kind: k} }

// kindOf returns the Kind a Client reads in err: that of its first
// *sms.Error, or KindAmbiguous for any other error.
func kindOf(err error) sms.Kind {
	var e *sms.Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return sms.KindAmbiguous
}

func TestRules(t *testing.T) {
	tests := []struct {
		name     string
		opts     []mock.Option
		calls    []outcome
		wantSent int
	}{
		{
			name:     "FailNumber fails every call to the number",
			opts:     []mock.Option{mock.FailNumber(bob, rejected)},
			calls:    []outcome{accepted(alice), failed(bob, sms.KindRejected), accepted(alice), failed(bob, sms.KindRejected)},
			wantSent: 2,
		},
		{
			name:     "FailFirst fails the first n calls whatever the number",
			opts:     []mock.Option{mock.FailFirst(2, temporary)},
			calls:    []outcome{failed(alice, sms.KindTemporary), failed(bob, sms.KindTemporary), accepted(alice), accepted(bob)},
			wantSent: 2,
		},
		{
			name:     "FailFirst zero fails nothing",
			opts:     []mock.Option{mock.FailFirst(0, temporary)},
			calls:    []outcome{accepted(alice), accepted(bob)},
			wantSent: 2,
		},
		{
			name:     "FailEvery fails every k-th call",
			opts:     []mock.Option{mock.FailEvery(3, mock.Throttled(time.Second))},
			calls:    []outcome{accepted(alice), accepted(alice), failed(alice, sms.KindThrottled), accepted(alice), accepted(alice), failed(alice, sms.KindThrottled), accepted(alice)},
			wantSent: 5,
		},
		{
			name:     "a plain error is ambiguous and not accepted",
			opts:     []mock.Option{mock.FailFirst(1, errPlain)},
			calls:    []outcome{failed(alice, sms.KindAmbiguous), accepted(alice)},
			wantSent: 1,
		},
		{
			name: "Func decides from the call number and message",
			opts: []mock.Option{mock.Func(func(n int, msg sms.Message) (sms.Receipt, error) {
				if n%2 == 1 && msg.To == alice {
					return sms.Receipt{}, fatal
				}
				return sms.Receipt{}, nil
			})},
			calls:    []outcome{failed(alice, sms.KindFatal), accepted(alice), accepted(bob), accepted(alice), failed(alice, sms.KindFatal)},
			wantSent: 3,
		},
		{
			name:     "precedence: FailNumber given first wins over FailFirst",
			opts:     []mock.Option{mock.FailNumber(bob, rejected), mock.FailFirst(2, temporary)},
			calls:    []outcome{failed(bob, sms.KindRejected), failed(alice, sms.KindTemporary), failed(bob, sms.KindRejected), accepted(alice)},
			wantSent: 1,
		},
		{
			name:     "precedence: FailFirst given first wins over FailNumber",
			opts:     []mock.Option{mock.FailFirst(2, temporary), mock.FailNumber(bob, rejected)},
			calls:    []outcome{failed(bob, sms.KindTemporary), failed(alice, sms.KindTemporary), failed(bob, sms.KindRejected), accepted(alice)},
			wantSent: 1,
		},
		{
			name:     "precedence: FailEvery before FailFirst",
			opts:     []mock.Option{mock.FailEvery(2, fatal), mock.FailFirst(3, temporary)},
			calls:    []outcome{failed(alice, sms.KindTemporary), failed(alice, sms.KindFatal), failed(alice, sms.KindTemporary), failed(alice, sms.KindFatal), accepted(alice)},
			wantSent: 1,
		},
		{
			name: "precedence: rules after Func are never reached",
			opts: []mock.Option{
				mock.Func(func(int, sms.Message) (sms.Receipt, error) { return sms.Receipt{}, nil }),
				mock.FailNumber(bob, rejected),
			},
			calls:    []outcome{accepted(bob), accepted(bob)},
			wantSent: 2,
		},
		{
			name: "precedence: rules before Func are tried first",
			opts: []mock.Option{
				mock.FailNumber(bob, rejected),
				mock.Func(func(int, sms.Message) (sms.Receipt, error) { return sms.Receipt{}, temporary }),
			},
			calls:    []outcome{failed(bob, sms.KindRejected), failed(alice, sms.KindTemporary)},
			wantSent: 0,
		},
		{
			name:     "Delivered is recorded but returns its error",
			opts:     []mock.Option{mock.FailFirst(1, mock.Delivered(nil))},
			calls:    []outcome{failed(alice, sms.KindAmbiguous), accepted(alice)},
			wantSent: 2,
		},
		{
			name:     "the first of two FailNumber rules for one number wins",
			opts:     []mock.Option{mock.FailNumber(alice, fatal), mock.FailNumber(alice, rejected)},
			calls:    []outcome{failed(alice, sms.KindFatal)},
			wantSent: 0,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := mock.New(tt.opts...)
			for i, want := range tt.calls {
				rc, err := p.Send(context.Background(), msgTo(want.to))
				if want.ok {
					require.NoError(t, err, "call %d", i+1)
					assert.NotEmpty(t, rc.MessageID, "call %d", i+1)
					continue
				}
				require.Error(t, err, "call %d", i+1)
				assert.Equal(t, want.kind, kindOf(err), "call %d", i+1)
				assert.Equal(t, sms.Receipt{}, rc, "call %d", i+1)
			}
			assert.Len(t, p.Sent(), tt.wantSent)
			calls := p.Calls()
			require.Len(t, calls, len(tt.calls))
			for i, c := range calls {
				assert.Equal(t, i+1, c.N)
				assert.Equal(t, tt.calls[i].to, c.Message.To)
				assert.Equal(t, tt.calls[i].ok, c.Err == nil, "call %d", i+1)
			}
		})
	}
}

func TestScriptedErrorsReturnedAsGiven(t *testing.T) {
	custom := &sms.Error{Kind: sms.KindRejected, Code: "21211", Err: errors.New("invalid 'To' number")}
	tests := []struct {
		name   string
		script error
	}{
		{"Err", rejected},
		{"Throttled", mock.Throttled(3 * time.Second)},
		{"custom *sms.Error", custom},
		{"plain error", errPlain},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, script := range []error{tt.script, mock.Delivered(tt.script)} {
				p := mock.New(mock.FailNumber(alice, script))
				_, err := p.Send(context.Background(), msgTo(alice))
				assert.Same(t, tt.script, err)
				assert.Equal(t, err, p.Calls()[0].Err)
			}
		})
	}
}

func TestErrorConstructors(t *testing.T) {
	for _, k := range []sms.Kind{sms.KindAmbiguous, sms.KindRejected, sms.KindTemporary, sms.KindThrottled, sms.KindFatal} {
		e := mock.Err(k)
		assert.Equal(t, k, e.Kind)
		assert.ErrorIs(t, e, mock.ErrScripted)
	}
	th := mock.Throttled(2 * time.Second)
	assert.Equal(t, sms.KindThrottled, th.Kind)
	assert.Equal(t, 2*time.Second, th.RetryAfter)
	assert.ErrorIs(t, th, sms.ErrThrottled)
	assert.ErrorIs(t, th, mock.ErrScripted)
	assert.False(t, th.PerRecipient)

	tr := mock.ThrottledRecipient(time.Minute)
	assert.Equal(t, sms.KindThrottled, tr.Kind)
	assert.Equal(t, time.Minute, tr.RetryAfter)
	assert.True(t, tr.PerRecipient)
	assert.ErrorIs(t, tr, mock.ErrScripted)

	// Delivered(nil) is an ambiguous scripted error, and the marker unwraps
	// to its error even where the mock does not strip it.
	d := mock.Delivered(nil)
	assert.ErrorIs(t, d, sms.ErrAmbiguous)
	assert.ErrorIs(t, d, mock.ErrScripted)
	assert.ErrorIs(t, mock.Delivered(errPlain), errPlain)
}

func TestDeliveredWrappedIsOrdinary(t *testing.T) {
	p := mock.New(mock.FailFirst(1, fmt.Errorf("wrapped: %w", mock.Delivered(temporary))))
	_, err := p.Send(context.Background(), msgTo(alice))
	require.ErrorIs(t, err, sms.ErrTemporary)
	assert.Empty(t, p.Sent())
}

func TestFuncReceipt(t *testing.T) {
	p := mock.New(mock.Func(func(n int, _ sms.Message) (sms.Receipt, error) {
		if n == 1 {
			return sms.Receipt{MessageID: "gw-7", StatusCode: 200}, nil
		}
		return sms.Receipt{}, nil
	}))
	rc, err := p.Send(context.Background(), msgTo(alice))
	require.NoError(t, err)
	assert.Equal(t, sms.Receipt{MessageID: "gw-7", StatusCode: 200}, rc)
	rc, err = p.Send(context.Background(), msgTo(alice))
	require.NoError(t, err)
	assert.Equal(t, sms.Receipt{MessageID: "mock-2"}, rc)
}

func TestIdempotent(t *testing.T) {
	withID := sms.Message{To: alice, Text: "hello", ID: "order-1"}
	other := sms.Message{To: alice, Text: "hello", ID: "order-2"}
	tests := []struct {
		name       string
		opts       []mock.Option
		msgs       []sms.Message
		wantSent   []sms.Message
		wantIDs    []string // receipts' MessageIDs, "" for an error
		idempotent bool
	}{
		{
			name:     "not idempotent records duplicates",
			msgs:     []sms.Message{withID, withID},
			wantSent: []sms.Message{withID, withID},
			wantIDs:  []string{"mock-1", "mock-2"},
		},
		{
			name:       "idempotent deduplicates by ID",
			opts:       []mock.Option{mock.Idempotent()},
			msgs:       []sms.Message{withID, other, withID},
			wantSent:   []sms.Message{withID, other},
			wantIDs:    []string{"mock-1", "mock-2", "mock-1"},
			idempotent: true,
		},
		{
			name:       "idempotent without ID records every message",
			opts:       []mock.Option{mock.Idempotent()},
			msgs:       []sms.Message{msgTo(alice), msgTo(alice)},
			wantSent:   []sms.Message{msgTo(alice), msgTo(alice)},
			wantIDs:    []string{"mock-1", "mock-2"},
			idempotent: true,
		},
		{
			name:       "a lost answer then a retry is recorded once",
			opts:       []mock.Option{mock.Idempotent(), mock.FailFirst(1, mock.Delivered(nil))},
			msgs:       []sms.Message{withID, withID},
			wantSent:   []sms.Message{withID},
			wantIDs:    []string{"", "mock-1"},
			idempotent: true,
		},
		{
			name:       "a scripted failure of a known ID is still answered",
			opts:       []mock.Option{mock.Idempotent(), mock.FailEvery(2, temporary)},
			msgs:       []sms.Message{withID, withID, withID},
			wantSent:   []sms.Message{withID},
			wantIDs:    []string{"mock-1", "", "mock-1"},
			idempotent: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := mock.New(tt.opts...)
			assert.Equal(t, tt.idempotent, p.Idempotent())
			for i, m := range tt.msgs {
				rc, err := p.Send(context.Background(), m)
				assert.Equal(t, tt.wantIDs[i], rc.MessageID, "call %d", i+1)
				assert.Equal(t, tt.wantIDs[i] == "", err != nil, "call %d: %v", i+1, err)
			}
			assert.Equal(t, tt.wantSent, p.Sent())
		})
	}
}

// TestThroughClient checks the duplicate-handling scenario users need: the
// gateway accepted a message but the answer was lost.
func TestThroughClient(t *testing.T) {
	msg := sms.Message{To: "+49 151 1234 5678", Text: "hello", ID: "order-1"}
	tests := []struct {
		name         string
		opts         []mock.Option
		wantStatus   sms.Status
		wantAttempts int
		wantSent     int
	}{
		{
			name:         "not idempotent: the ambiguous outcome is not retried",
			opts:         []mock.Option{mock.FailFirst(1, mock.Delivered(nil))},
			wantStatus:   sms.StatusFailed,
			wantAttempts: 1,
			wantSent:     1,
		},
		{
			name:         "idempotent: retried and deduplicated",
			opts:         []mock.Option{mock.Idempotent(), mock.FailFirst(1, mock.Delivered(nil))},
			wantStatus:   sms.StatusSent,
			wantAttempts: 2,
			wantSent:     1,
		},
		{
			name:         "temporary failures are retried up to MaxAttempts",
			opts:         []mock.Option{mock.FailFirst(5, temporary)},
			wantStatus:   sms.StatusFailed,
			wantAttempts: 3,
			wantSent:     0,
		},
		{
			name:         "a rejected number is not retried",
			opts:         []mock.Option{mock.FailNumber(alice, rejected)},
			wantStatus:   sms.StatusFailed,
			wantAttempts: 1,
			wantSent:     0,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := mock.New(tt.opts...)
			c, err := sms.New(p, sms.WithRetry(sms.RetryPolicy{BaseDelay: time.Millisecond}))
			require.NoError(t, err)
			defer c.Close()
			res, _ := c.Send(context.Background(), msg)
			assert.Equal(t, tt.wantStatus, res.Status)
			assert.Equal(t, tt.wantAttempts, res.Attempts)
			assert.Len(t, p.Calls(), tt.wantAttempts)
			assert.Equal(t, tt.wantSent, p.SentTo(alice))
		})
	}
}

func TestContext(t *testing.T) {
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	expired, cancel2 := context.WithTimeout(context.Background(), time.Millisecond)
	defer cancel2()

	tests := []struct {
		name string
		ctx  context.Context
		opts []mock.Option
		want error
	}{
		{"done before the call", cancelled, nil, context.Canceled},
		{"done before the call, with latency", cancelled, []mock.Option{mock.Latency(time.Hour)}, context.Canceled},
		{"deadline during latency", expired, []mock.Option{mock.Latency(time.Hour)}, context.DeadlineExceeded},
		{"done before a scripted failure", cancelled, []mock.Option{mock.FailFirst(1, rejected)}, context.Canceled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := mock.New(tt.opts...)
			rc, err := p.Send(tt.ctx, msgTo(alice))
			require.ErrorIs(t, err, tt.want)
			require.ErrorIs(t, err, sms.ErrTemporary)
			var e *sms.Error
			require.ErrorAs(t, err, &e)
			assert.Equal(t, sms.KindTemporary, e.Kind)
			assert.Equal(t, sms.Receipt{}, rc)
			assert.Empty(t, p.Sent())
			calls := p.Calls()
			require.Len(t, calls, 1)
			assert.Equal(t, 1, calls[0].N)
			assert.ErrorIs(t, calls[0].Err, tt.want)
		})
	}
}

func TestCancelDuringLatency(t *testing.T) {
	p := mock.New(mock.Latency(time.Hour))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := p.Send(ctx, msgTo(alice))
		done <- err
	}()
	cancel()
	select {
	case err := <-done:
		require.ErrorIs(t, err, context.Canceled)
		require.ErrorIs(t, err, sms.ErrTemporary)
	case <-time.After(10 * time.Second):
		t.Fatal("Send did not return after its context was cancelled")
	}
	assert.Empty(t, p.Sent())
}

func TestLatencyThenAccept(t *testing.T) {
	p := mock.New(mock.Latency(time.Millisecond), mock.FailFirst(1, temporary))
	_, err := p.Send(context.Background(), msgTo(alice))
	require.ErrorIs(t, err, sms.ErrTemporary)
	rc, err := p.Send(context.Background(), msgTo(alice))
	require.NoError(t, err)
	assert.Equal(t, "mock-1", rc.MessageID)
}

func TestReset(t *testing.T) {
	p := mock.New(mock.FailFirst(1, temporary), mock.Idempotent())
	ctx := context.Background()
	m := sms.Message{To: alice, Text: "hi", ID: "a"}
	_, err := p.Send(ctx, m)
	require.Error(t, err)
	_, err = p.Send(ctx, m)
	require.NoError(t, err)
	require.Len(t, p.Sent(), 1)

	p.Reset()
	assert.Empty(t, p.Sent())
	assert.Empty(t, p.Calls())
	// The count starts again, so FailFirst applies again, and the accepted
	// ID is forgotten.
	_, err = p.Send(ctx, m)
	require.ErrorIs(t, err, sms.ErrTemporary)
	rc, err := p.Send(ctx, m)
	require.NoError(t, err)
	assert.Equal(t, "mock-1", rc.MessageID)
	assert.Equal(t, []sms.Message{m}, p.Sent())
	assert.Equal(t, []int{1, 2}, callNumbers(p.Calls()))
}

func callNumbers(calls []mock.Call) []int {
	ns := make([]int, len(calls))
	for i, c := range calls {
		ns[i] = c.N
	}
	return ns
}

// TestCallsOrderedByN finishes call 2 before call 1 and checks that Calls
// still reports them by number.
func TestCallsOrderedByN(t *testing.T) {
	started, release := make(chan struct{}), make(chan struct{})
	p := mock.New(mock.Func(func(n int, _ sms.Message) (sms.Receipt, error) {
		if n == 1 {
			close(started)
			<-release
		}
		return sms.Receipt{}, nil
	}))
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		_, err := p.Send(context.Background(), msgTo(alice))
		assert.NoError(t, err)
	}()
	<-started
	_, err := p.Send(context.Background(), msgTo(bob))
	require.NoError(t, err)
	assert.Equal(t, []int{2}, callNumbers(p.Calls()), "call 1 is still in flight")
	close(release)
	wg.Wait()

	calls := p.Calls()
	assert.Equal(t, []int{1, 2}, callNumbers(calls))
	assert.Equal(t, alice, calls[0].Message.To)
	// Sent is in acceptance order: bob was accepted first.
	assert.Equal(t, []sms.Message{msgTo(bob), msgTo(alice)}, p.Sent())
	assert.Equal(t, "mock-2", calls[0].Receipt.MessageID)
}

func TestConcurrent(t *testing.T) {
	const goroutines, perG, every = 64, 20, 7
	p := mock.New(mock.FailEvery(every, temporary), mock.Idempotent())
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perG {
				m := sms.Message{To: fmt.Sprintf("+49151%08d", g*perG+i), Text: "hi", ID: fmt.Sprintf("id-%d", g*perG+i)}
				_, _ = p.Send(context.Background(), m)
				_ = p.SentTo(m.To)
			}
		}()
	}
	// Readers run alongside the writers.
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 50 {
				_ = p.Sent()
				_ = p.Calls()
			}
		}()
	}
	wg.Wait()

	const total = goroutines * perG
	calls := p.Calls()
	require.Len(t, calls, total)
	failed := 0
	ids := map[string]bool{}
	for i, c := range calls {
		require.Equal(t, i+1, c.N)
		if c.N%every == 0 {
			require.ErrorIs(t, c.Err, sms.ErrTemporary)
			failed++
			continue
		}
		require.NoError(t, c.Err)
		assert.False(t, ids[c.Receipt.MessageID], "receipt %s given twice", c.Receipt.MessageID)
		ids[c.Receipt.MessageID] = true
	}
	assert.Len(t, p.Sent(), total-failed)
	assert.Len(t, ids, total-failed)
}

func TestConcurrentSameID(t *testing.T) {
	const goroutines = 64
	p := mock.New(mock.Idempotent())
	m := sms.Message{To: alice, Text: "hi", ID: "same"}
	var wg sync.WaitGroup
	receipts := make([]sms.Receipt, goroutines)
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rc, err := p.Send(context.Background(), m)
			assert.NoError(t, err)
			receipts[g] = rc
		}()
	}
	wg.Wait()
	assert.Equal(t, []sms.Message{m}, p.Sent())
	for _, rc := range receipts {
		assert.Equal(t, "mock-1", rc.MessageID)
	}
}

func TestOptionPanics(t *testing.T) {
	tests := []struct {
		name string
		f    func()
	}{
		{"FailNumber nil error", func() { mock.FailNumber(alice, nil) }},
		{"FailFirst nil error", func() { mock.FailFirst(1, nil) }},
		{"FailFirst negative", func() { mock.FailFirst(-1, temporary) }},
		{"FailEvery nil error", func() { mock.FailEvery(2, nil) }},
		{"FailEvery zero", func() { mock.FailEvery(0, temporary) }},
		{"Func nil", func() { mock.Func(nil) }},
		{"Latency negative", func() { mock.Latency(-time.Second) }},
		{"Report negative delay", func() { mock.Report(alice, -time.Second, sms.DeliveryDelivered) }},
		{"Report no status", func() { mock.Report(alice, 0) }},
		{"Report unknown status", func() { mock.Report(alice, 0, sms.DeliveryDelivered, "read") }},
		{"Report empty status", func() { mock.Report(alice, 0, "") }},
		{"ReportAll negative delay", func() { mock.ReportAll(-time.Nanosecond, sms.DeliveryDelivered) }},
		{"ReportAll no status", func() { mock.ReportAll(time.Second) }},
		{"ReportAll unknown status", func() { mock.ReportAll(0, "Delivered") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Panics(t, tt.f)
		})
	}
}

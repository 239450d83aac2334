package failover_test

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
	"github.com/smsgateway/sms/providers/failover"
	"github.com/smsgateway/sms/providers/internal/vendortest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// scripted is a fake vendor: call n gets answers[n-1] (the last repeats); a
// nil answer accepts the message with MessageID "<name>-<n>".
type scripted struct {
	name     string
	answers  []error
	before   func() // called at the start of each Send, when set
	closeErr error

	mu     sync.Mutex
	calls  int
	closes int
}

func (s *scripted) Send(ctx context.Context, msg sms.Message) (sms.Receipt, error) {
	if s.before != nil {
		s.before()
	}
	s.mu.Lock()
	s.calls++
	n := s.calls
	s.mu.Unlock()
	var err error
	if len(s.answers) > 0 {
		err = s.answers[min(n, len(s.answers))-1]
	}
	if err != nil {
		return sms.Receipt{StatusCode: 500}, err
	}
	return sms.Receipt{MessageID: fmt.Sprintf("%s-%d", s.name, n)}, nil
}

func (s *scripted) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closes++
	return s.closeErr
}

func (s *scripted) callCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls
}

// idempotent is a scripted vendor that reports whether it deduplicates.
type idempotent struct {
	*scripted
	yes bool
}

func (i idempotent) Idempotent() bool { return i.yes }

// sendOnly hides every method but Send.
type sendOnly struct{ sms.Provider }

var (
	errRefused = errors.New("connection refused")
	errTimeout = errors.New("timeout after request written")
	errBadNum  = errors.New("number not routable")
	errAuth    = errors.New("bad credentials")
	errSlow    = errors.New("throughput exceeded")
)

func kindErr(kind sms.Kind, cause error) *sms.Error {
	return &sms.Error{Kind: kind, Code: kind.String(), Err: cause}
}

func throttled(after time.Duration) *sms.Error {
	return &sms.Error{Kind: sms.KindThrottled, Code: after.String(), RetryAfter: after, Err: errSlow}
}

func TestSend(t *testing.T) {
	msg := sms.Message{To: "+79161234567", Text: "hi"}
	tests := []struct {
		name    string
		answers [][]error // per vendor a, b, c
		// want: the vendor whose Receipt comes back, the calls each
		// vendor gets, and, on failure, the kind.
		wantVendor string
		wantCalls  []int
		wantErr    bool
		wantKind   sms.Kind
		wantCode   string
		wantAfter  time.Duration
		wantCauses []error
	}{
		{name: "first accepts", answers: [][]error{nil, nil, nil},
			wantVendor: "a", wantCalls: []int{1, 0, 0}},
		{name: "temporary moves on", answers: [][]error{{kindErr(sms.KindTemporary, errRefused)}, nil, nil},
			wantVendor: "b", wantCalls: []int{1, 1, 0}},
		{name: "throttled moves on", answers: [][]error{{throttled(time.Second)}, nil, nil},
			wantVendor: "b", wantCalls: []int{1, 1, 0}},
		{name: "fatal moves on", answers: [][]error{{kindErr(sms.KindFatal, errAuth)}, nil, nil},
			wantVendor: "b", wantCalls: []int{1, 1, 0}},
		{name: "two down, third accepts", answers: [][]error{{kindErr(sms.KindFatal, errAuth)}, {kindErr(sms.KindTemporary, errRefused)}, nil},
			wantVendor: "c", wantCalls: []int{1, 1, 1}},

		{name: "ambiguous stops", answers: [][]error{{kindErr(sms.KindAmbiguous, errTimeout)}, nil, nil},
			wantVendor: "a", wantCalls: []int{1, 0, 0}, wantErr: true, wantKind: sms.KindAmbiguous, wantCode: "ambiguous",
			wantCauses: []error{errTimeout}},
		{name: "unclassified error stops", answers: [][]error{{errTimeout}, nil, nil},
			wantVendor: "a", wantCalls: []int{1, 0, 0}, wantErr: true, wantKind: sms.KindAmbiguous,
			wantCauses: []error{errTimeout}},
		{name: "wrapped sms.Error keeps its kind", answers: [][]error{{fmt.Errorf("gateway: %w", kindErr(sms.KindTemporary, errRefused))}, nil, nil},
			wantVendor: "b", wantCalls: []int{1, 1, 0}},
		{name: "rejected stops", answers: [][]error{{kindErr(sms.KindRejected, errBadNum)}, nil, nil},
			wantVendor: "a", wantCalls: []int{1, 0, 0}, wantErr: true, wantKind: sms.KindRejected, wantCode: "rejected",
			wantCauses: []error{errBadNum}},
		{name: "invalid stops", answers: [][]error{{kindErr(sms.KindInvalid, errBadNum)}, nil, nil},
			wantVendor: "a", wantCalls: []int{1, 0, 0}, wantErr: true, wantKind: sms.KindInvalid,
			wantCode: "invalid", wantCauses: []error{errBadNum}},
		{name: "temporary then ambiguous is ambiguous", answers: [][]error{{kindErr(sms.KindTemporary, errRefused)}, {errTimeout}, nil},
			wantVendor: "b", wantCalls: []int{1, 1, 0}, wantErr: true, wantKind: sms.KindAmbiguous,
			wantCauses: []error{errRefused, errTimeout}},
		{name: "temporary then rejected is rejected", answers: [][]error{{kindErr(sms.KindTemporary, errRefused)}, {kindErr(sms.KindRejected, errBadNum)}, nil},
			wantVendor: "b", wantCalls: []int{1, 1, 0}, wantErr: true, wantKind: sms.KindRejected, wantCode: "rejected",
			wantCauses: []error{errRefused, errBadNum}},

		{name: "all temporary", answers: [][]error{
			{kindErr(sms.KindTemporary, errRefused)}, {kindErr(sms.KindTemporary, errRefused)}, {kindErr(sms.KindTemporary, errRefused)}},
			wantVendor: "c", wantCalls: []int{1, 1, 1}, wantErr: true, wantKind: sms.KindTemporary, wantCode: "temporary",
			wantCauses: []error{errRefused}},
		{name: "all fatal", answers: [][]error{
			{kindErr(sms.KindFatal, errAuth)}, {kindErr(sms.KindFatal, errAuth)}, {kindErr(sms.KindFatal, errAuth)}},
			wantVendor: "c", wantCalls: []int{1, 1, 1}, wantErr: true, wantKind: sms.KindFatal, wantCode: "fatal",
			wantCauses: []error{errAuth}},
		{name: "fatal and temporary is temporary", answers: [][]error{
			{kindErr(sms.KindFatal, errAuth)}, {kindErr(sms.KindTemporary, errRefused)}, {kindErr(sms.KindFatal, errAuth)}},
			wantVendor: "c", wantCalls: []int{1, 1, 1}, wantErr: true, wantKind: sms.KindTemporary, wantCode: "temporary",
			wantCauses: []error{errAuth, errRefused}},
		{name: "any throttled is throttled, shortest hint", answers: [][]error{
			{throttled(5 * time.Second)}, {kindErr(sms.KindTemporary, errRefused)}, {throttled(2 * time.Second)}},
			wantVendor: "c", wantCalls: []int{1, 1, 1}, wantErr: true, wantKind: sms.KindThrottled,
			wantCode: "2s", wantAfter: 2 * time.Second, wantCauses: []error{errSlow, errRefused}},
		{name: "throttled without hint", answers: [][]error{
			{throttled(0)}, {kindErr(sms.KindFatal, errAuth)}, {throttled(3 * time.Second)}},
			wantVendor: "c", wantCalls: []int{1, 1, 1}, wantErr: true, wantKind: sms.KindThrottled,
			wantCode: "3s", wantAfter: 3 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			vendors := make([]*scripted, 3)
			list := make([]failover.Vendor, 3)
			for i, name := range []string{"a", "b", "c"} {
				vendors[i] = &scripted{name: name, answers: tt.answers[i]}
				list[i] = failover.Vendor{Name: name, Provider: vendors[i]}
			}
			p, err := failover.New(list...)
			require.NoError(t, err)

			rc, err := p.Send(context.Background(), msg)
			assert.Equal(t, tt.wantVendor, rc.Provider)
			for i, v := range vendors {
				assert.Equal(t, tt.wantCalls[i], v.callCount(), "calls of %s", v.name)
			}
			if !tt.wantErr {
				require.NoError(t, err)
				assert.Equal(t, tt.wantVendor+"-1", rc.MessageID)
				return
			}
			var e *sms.Error
			require.ErrorAs(t, err, &e)
			assert.Equal(t, tt.wantKind, e.Kind)
			assert.Equal(t, tt.wantCode, e.Code)
			assert.Equal(t, tt.wantAfter, e.RetryAfter)
			for _, cause := range tt.wantCauses {
				assert.ErrorIs(t, err, cause)
			}
			// Only the returned kind's sentinel matches.
			for k, sentinel := range sentinels {
				assert.Equal(t, k == tt.wantKind, errors.Is(err, sentinel), "sentinel of %s", k)
			}
			// One VendorError per vendor tried, in order.
			var tried []string
			for i, v := range vendors {
				if tt.wantCalls[i] > 0 {
					tried = append(tried, v.name)
				}
			}
			assert.Equal(t, tried, vendorNames(err))
		})
	}
}

var sentinels = map[sms.Kind]error{
	sms.KindAmbiguous: sms.ErrAmbiguous,
	sms.KindRejected:  sms.ErrRejected,
	sms.KindTemporary: sms.ErrTemporary,
	sms.KindThrottled: sms.ErrThrottled,
	sms.KindFatal:     sms.ErrFatal,
	sms.KindInvalid:   sms.ErrInvalid,
}

// vendorNames lists the vendors of the VendorErrors inside err, in order.
func vendorNames(err error) []string {
	var e *sms.Error
	if !errors.As(err, &e) {
		return nil
	}
	inner := []error{e.Err}
	if j, ok := e.Err.(interface{ Unwrap() []error }); ok {
		inner = j.Unwrap()
	}
	var names []string
	for _, err := range inner {
		var ve *failover.VendorError
		if errors.As(err, &ve) {
			names = append(names, ve.Vendor)
		}
	}
	return names
}

func TestVendorError(t *testing.T) {
	p, err := failover.New(
		failover.Vendor{Name: "a", Provider: &scripted{answers: []error{throttled(time.Second)}}},
		failover.Vendor{Name: "b", Provider: &scripted{answers: []error{errTimeout}}},
	)
	require.NoError(t, err)
	_, err = p.Send(context.Background(), sms.Message{To: "+1234567", Text: "x"})
	var ve *failover.VendorError
	require.ErrorAs(t, err, &ve)
	assert.Equal(t, "a", ve.Vendor)
	assert.Equal(t, sms.KindThrottled, ve.Kind)
	assert.Equal(t, "1s", ve.Code)
	assert.Equal(t, time.Second, ve.RetryAfter)
	assert.ErrorIs(t, ve.Err, sms.ErrThrottled, "Err is the vendor's error as returned")
	assert.ErrorIs(t, ve, sms.ErrThrottled, "on its own, a VendorError is its vendor's answer")
	assert.ErrorIs(t, ve, errSlow)
	assert.NotErrorIs(t, err, sms.ErrThrottled, "but inside the failover's error, the failover's kind alone counts")
	assert.ErrorIs(t, err, sms.ErrAmbiguous)
	assert.Equal(t, []string{"a", "b"}, vendorNames(err))
}

func TestNew(t *testing.T) {
	ok := &scripted{}
	tests := []struct {
		name    string
		vendors []failover.Vendor
	}{
		{"none", nil},
		{"empty name", []failover.Vendor{{Name: "", Provider: ok}}},
		{"nil provider", []failover.Vendor{{Name: "a"}}},
		{"duplicate name", []failover.Vendor{{Name: "a", Provider: ok}, {Name: "a", Provider: &scripted{}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := failover.New(tt.vendors...)
			assert.Error(t, err)
			assert.Nil(t, p)
		})
	}
	p, err := failover.New(failover.Vendor{Name: "a", Provider: ok}, failover.Vendor{Name: "b", Provider: ok})
	require.NoError(t, err, "one provider may serve under two names")
	assert.NotNil(t, p)
}

func TestNewCopiesVendors(t *testing.T) {
	list := []failover.Vendor{{Name: "a", Provider: &scripted{name: "a"}}}
	p, err := failover.New(list...)
	require.NoError(t, err)
	list[0] = failover.Vendor{Name: "z", Provider: &scripted{name: "z"}}
	rc, err := p.Send(context.Background(), sms.Message{To: "+1234567", Text: "x"})
	require.NoError(t, err)
	assert.Equal(t, "a", rc.Provider)
}

func TestContextBetweenVendors(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	a := &scripted{name: "a", answers: []error{kindErr(sms.KindTemporary, errRefused)}, before: cancel}
	b := &scripted{name: "b"}
	p, err := failover.New(failover.Vendor{Name: "a", Provider: a}, failover.Vendor{Name: "b", Provider: b})
	require.NoError(t, err)

	rc, err := p.Send(ctx, sms.Message{To: "+1234567", Text: "x"})
	assert.ErrorIs(t, err, context.Canceled)
	assert.ErrorIs(t, err, sms.ErrTemporary, "what the vendors tried said")
	assert.ErrorIs(t, err, errRefused)
	assert.Equal(t, "a", rc.Provider)
	assert.Zero(t, b.callCount(), "no vendor after ctx ended")
}

func TestNestedReceiptName(t *testing.T) {
	inner, err := failover.New(
		failover.Vendor{Name: "x", Provider: &scripted{answers: []error{kindErr(sms.KindTemporary, errRefused)}}},
		failover.Vendor{Name: "y", Provider: &scripted{name: "y"}},
	)
	require.NoError(t, err)
	outer, err := failover.New(failover.Vendor{Name: "eu", Provider: inner})
	require.NoError(t, err)
	rc, err := outer.Send(context.Background(), sms.Message{To: "+1234567", Text: "x"})
	require.NoError(t, err)
	assert.Equal(t, "eu/y", rc.Provider)
	assert.Equal(t, "y-1", rc.MessageID)
}

func TestIdempotent(t *testing.T) {
	yes := func() sms.Provider { return idempotent{&scripted{}, true} }
	no := func() sms.Provider { return idempotent{&scripted{}, false} }
	plain := func() sms.Provider { return sendOnly{&scripted{}} }
	tests := []struct {
		name      string
		providers []sms.Provider
		want      bool
	}{
		{"one idempotent", []sms.Provider{yes()}, true},
		{"one reporting false", []sms.Provider{no()}, false},
		{"one without the method", []sms.Provider{plain()}, false},
		{"two idempotent", []sms.Provider{yes(), yes()}, false},
		{"idempotent and not", []sms.Provider{yes(), plain()}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var list []failover.Vendor
			for i, pr := range tt.providers {
				list = append(list, failover.Vendor{Name: fmt.Sprint(i), Provider: pr})
			}
			p, err := failover.New(list...)
			require.NoError(t, err)
			assert.Equal(t, tt.want, p.Idempotent())
		})
	}
}

func TestClose(t *testing.T) {
	errA := errors.New("close a")
	errC := errors.New("close c")
	a := &scripted{closeErr: errA}
	b := &scripted{}
	c := &scripted{closeErr: errC}
	hidden := &scripted{}
	p, err := failover.New(
		failover.Vendor{Name: "a", Provider: a},
		failover.Vendor{Name: "b", Provider: b},
		failover.Vendor{Name: "b-again", Provider: b},
		failover.Vendor{Name: "c", Provider: c},
		failover.Vendor{Name: "not a closer", Provider: sendOnly{hidden}},
	)
	require.NoError(t, err)

	err = p.Close()
	assert.ErrorIs(t, err, errA)
	assert.ErrorIs(t, err, errC)
	assert.Equal(t, 1, a.closes)
	assert.Equal(t, 1, b.closes, "the same provider is closed once")
	assert.Equal(t, 1, c.closes)
	assert.Zero(t, hidden.closes)

	assert.Equal(t, err, p.Close(), "idempotent")
	assert.Equal(t, 1, a.closes)
}

func TestConcurrentSend(t *testing.T) {
	a := &scripted{name: "a", answers: []error{kindErr(sms.KindTemporary, errRefused), nil}}
	b := &scripted{name: "b"}
	p, err := failover.New(failover.Vendor{Name: "a", Provider: a}, failover.Vendor{Name: "b", Provider: b})
	require.NoError(t, err)
	const n = 50
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := p.Send(context.Background(), sms.Message{To: "+1234567", Text: "x"})
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		assert.NoError(t, err)
	}
	assert.Equal(t, n, a.callCount())
	assert.Equal(t, 1, b.callCount(), "only a's first call failed")
}

// TestUnderClient checks the decisions that matter end to end: the Client
// retries what every vendor refused, and never retries an ambiguous outcome.
func TestUnderClient(t *testing.T) {
	policy := sms.WithRetry(sms.RetryPolicy{MaxAttempts: 3, BaseDelay: time.Millisecond, MaxDelay: time.Millisecond})
	tests := []struct {
		name         string
		a, b         []error
		wantStatus   sms.Status
		wantAttempts int
		wantProvider string
		wantCalls    [2]int
	}{
		{name: "failover hides a temporary outage", a: []error{kindErr(sms.KindTemporary, errRefused)},
			wantStatus: sms.StatusSent, wantAttempts: 1, wantProvider: "b", wantCalls: [2]int{1, 1}},
		{name: "all down: the Client retries", a: []error{kindErr(sms.KindTemporary, errRefused)},
			b:          []error{kindErr(sms.KindTemporary, errRefused), kindErr(sms.KindTemporary, errRefused), nil},
			wantStatus: sms.StatusSent, wantAttempts: 3, wantProvider: "b", wantCalls: [2]int{3, 3}},
		{name: "ambiguous is not retried", a: []error{errTimeout},
			wantStatus: sms.StatusFailed, wantAttempts: 1, wantProvider: "a", wantCalls: [2]int{1, 0}},
		{name: "all fatal is fatal", a: []error{kindErr(sms.KindFatal, errAuth)}, b: []error{kindErr(sms.KindFatal, errAuth)},
			wantStatus: sms.StatusFailed, wantAttempts: 1, wantProvider: "b", wantCalls: [2]int{1, 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := &scripted{name: "a", answers: tt.a}
			b := &scripted{name: "b", answers: tt.b}
			p, err := failover.New(failover.Vendor{Name: "a", Provider: a}, failover.Vendor{Name: "b", Provider: b})
			require.NoError(t, err)
			c, err := sms.New(p, policy)
			require.NoError(t, err)
			defer c.Close()

			res, _ := c.Send(context.Background(), sms.Message{To: "+7 916 123-45-67", Text: "hi"})
			assert.Equal(t, tt.wantStatus, res.Status)
			assert.Equal(t, tt.wantAttempts, res.Attempts)
			assert.Equal(t, tt.wantProvider, res.Provider)
			assert.Equal(t, tt.wantCalls, [2]int{a.callCount(), b.callCount()})
		})
	}
}

// BenchmarkSend measures the failover overhead: a first vendor that accepts,
// and a first vendor that refuses (temporary) before the second accepts.
func BenchmarkSend(b *testing.B) {
	for _, bc := range []struct {
		name  string
		first error
	}{
		{"first accepts", nil},
		{"second accepts", kindErr(sms.KindTemporary, errRefused)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			p, err := failover.New(
				failover.Vendor{Name: "a", Provider: vendortest.Answer{Err: bc.first}},
				failover.Vendor{Name: "b", Provider: vendortest.Answer{}},
			)
			require.NoError(b, err)
			vendortest.BenchmarkSend(b, p)
		})
	}
}

func TestPerRecipientThrottle(t *testing.T) {
	recipient := func(after time.Duration) *sms.Error {
		return &sms.Error{Kind: sms.KindThrottled, RetryAfter: after, PerRecipient: true, Err: errSlow}
	}
	tests := []struct {
		name    string
		answers []error
		want    bool
	}{
		{"one vendor, this recipient", []error{recipient(time.Second)}, true},
		{"every vendor, this recipient", []error{recipient(time.Second), recipient(2 * time.Second)}, true},
		{"this recipient, and a vendor down", []error{recipient(time.Second), kindErr(sms.KindTemporary, errRefused)}, true},
		{"this recipient at one, the account at another", []error{recipient(time.Second), throttled(5 * time.Second)}, false},
		{"the account", []error{throttled(time.Second)}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var list []failover.Vendor
			for i, answer := range tt.answers {
				list = append(list, failover.Vendor{Name: fmt.Sprint(i), Provider: &scripted{answers: []error{answer}}})
			}
			p, err := failover.New(list...)
			require.NoError(t, err)
			_, err = p.Send(context.Background(), sms.Message{To: "+1234567", Text: "x"})
			var e *sms.Error
			require.ErrorAs(t, err, &e)
			assert.Equal(t, sms.KindThrottled, e.Kind)
			assert.Equal(t, tt.want, e.PerRecipient)
			assert.Equal(t, time.Second, e.RetryAfter)
			var ve *failover.VendorError
			require.ErrorAs(t, err, &ve)
			assert.Equal(t, tt.answers[0].(*sms.Error).PerRecipient, ve.PerRecipient)
		})
	}
}

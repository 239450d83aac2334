package mock_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smsgateway/sms"
	"github.com/smsgateway/sms/providers/mock"
)

var (
	_ sms.DeliveryReporter = (*mock.Provider)(nil)
	_ io.Closer            = (*mock.Provider)(nil)
)

var secret = []byte("0123456789abcdef-mock-test")

// received is one report as the user's deliver function got it.
type received struct {
	sms.DeliveryReport
	at time.Time // when it arrived, on the monotonic clock
}

// reportEnv is a user's delivery-report setup over a mock: an
// sms.DeliveryHandler at /reports of a test server, whose deliver function
// records what it gets. wrap, when set, sits in front of the handler.
type reportEnv struct {
	p        *mock.Provider
	h        *sms.DeliveryHandler
	srv      *httptest.Server
	requests atomic.Int64 // requests that reached the server

	mu       sync.Mutex
	got      []received
	failNext int // deliver fails this many more times
}

func newReportEnv(t *testing.T, p *mock.Provider, wrap func(http.Handler) http.Handler) *reportEnv {
	t.Helper()
	env := &reportEnv{p: p}
	mux := http.NewServeMux()
	env.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		env.requests.Add(1)
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(env.srv.Close)
	t.Cleanup(func() { assert.NoError(t, p.Close()) }) // before srv.Close: ends blocked requests
	h, err := sms.NewDeliveryHandler(p, secret, env.srv.URL+"/reports", env.deliver)
	require.NoError(t, err)
	env.h = h
	var handler http.Handler = h
	if wrap != nil {
		handler = wrap(h)
	}
	mux.Handle("/reports", handler)
	return env
}

func (env *reportEnv) deliver(_ context.Context, r sms.DeliveryReport) error {
	env.mu.Lock()
	defer env.mu.Unlock()
	if env.failNext > 0 {
		env.failNext--
		return errors.New("database down")
	}
	env.got = append(env.got, received{r, time.Now()})
	return nil
}

func (env *reportEnv) received() []received {
	env.mu.Lock()
	defer env.mu.Unlock()
	return append([]received(nil), env.got...)
}

// client returns a Client over the env's mock that asks for reports to its
// handler.
func (env *reportEnv) client(t *testing.T) *sms.Client {
	t.Helper()
	c, err := sms.New(env.p, sms.WithDeliveryReports(env.h))
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, c.Close()) })
	return c
}

// message returns a message with an ID and the env's report URL for it,
// for tests that call the Provider directly.
func (env *reportEnv) message(to, id string) sms.Message {
	return sms.Message{To: to, Text: "hello", ID: id, ReportURL: env.h.URL(id)}
}

// waitReports waits for the mock's reports, failing the test after 10 s.
func waitReports(t *testing.T, p *mock.Provider) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, p.WaitReports(ctx))
}

func statusesOf(rs []received) []sms.DeliveryStatus {
	out := make([]sms.DeliveryStatus, len(rs))
	for i, r := range rs {
		out[i] = r.Status
	}
	return out
}

func callStatuses(calls []mock.ReportCall) []sms.DeliveryStatus {
	out := make([]sms.DeliveryStatus, len(calls))
	for i, c := range calls {
		out[i] = c.Status
	}
	return out
}

func TestReportDelivered(t *testing.T) {
	p := mock.New(mock.Report(alice, 0, sms.DeliveryDelivered))
	env := newReportEnv(t, p, nil)
	c := env.client(t)
	start := time.Now()

	res, err := c.Send(context.Background(), sms.Message{To: "+49 151 1234 5678", Text: "hello", ID: "order-1"})
	require.NoError(t, err)
	waitReports(t, p)

	got := env.received()
	require.Len(t, got, 1)
	assert.Equal(t, "order-1", got[0].MessageID)
	assert.Equal(t, sms.DeliveryDelivered, got[0].Status)
	assert.Equal(t, res.MessageID, got[0].GatewayID)
	assert.Equal(t, "mock", got[0].Provider)
	assert.Empty(t, got[0].Code)
	assert.False(t, got[0].At.Before(start.Truncate(time.Second)), "At %v is before the send at %v", got[0].At, start)
	assert.Equal(t, []mock.ReportCall{{
		MessageID: "order-1", To: alice, GatewayID: "mock-1", Status: sms.DeliveryDelivered,
		Attempts: 1, HTTPStatus: http.StatusOK,
	}}, p.Reports())
	assert.EqualValues(t, 1, env.requests.Load())
}

func TestReportSequence(t *testing.T) {
	const (
		accepted    = sms.DeliveryAccepted
		buffered    = sms.DeliveryBuffered
		delivered   = sms.DeliveryDelivered
		undelivered = sms.DeliveryUndelivered
		rejectedSt  = sms.DeliveryRejected
	)
	tests := []struct {
		name string
		opts []mock.Option
		want []sms.DeliveryStatus
	}{
		{"one option, three statuses", []mock.Option{mock.Report(alice, 0, accepted, buffered, delivered)}, []sms.DeliveryStatus{accepted, buffered, delivered}},
		{"two options for a number add up", []mock.Option{mock.Report(alice, 0, accepted), mock.Report(alice, time.Millisecond, delivered)}, []sms.DeliveryStatus{accepted, delivered}},
		{"ReportAll", []mock.Option{mock.ReportAll(0, accepted, undelivered)}, []sms.DeliveryStatus{accepted, undelivered}},
		{"Report overrides ReportAll for its number", []mock.Option{mock.ReportAll(0, delivered), mock.Report(alice, 0, rejectedSt)}, []sms.DeliveryStatus{rejectedSt}},
		{"ReportAll for the other numbers", []mock.Option{mock.ReportAll(0, delivered), mock.Report(bob, 0, rejectedSt)}, []sms.DeliveryStatus{delivered}},
		{"a status twice", []mock.Option{mock.Report(alice, 0, delivered, delivered)}, []sms.DeliveryStatus{delivered, delivered}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := mock.New(tt.opts...)
			env := newReportEnv(t, p, nil)
			_, err := p.Send(context.Background(), env.message(alice, "m1"))
			require.NoError(t, err)
			waitReports(t, p)
			assert.Equal(t, tt.want, statusesOf(env.received()))
			assert.Equal(t, tt.want, callStatuses(p.Reports()))
		})
	}
}

// TestReportDelay checks that each report waits its delay: from the
// acceptance for the first, from the previous report for the next.
func TestReportDelay(t *testing.T) {
	const first, second = 30 * time.Millisecond, 20 * time.Millisecond
	p := mock.New(mock.Report(alice, first, sms.DeliveryAccepted), mock.Report(alice, second, sms.DeliveryDelivered))
	env := newReportEnv(t, p, nil)
	start := time.Now()
	_, err := p.Send(context.Background(), env.message(alice, "m1"))
	require.NoError(t, err)
	waitReports(t, p)

	got := env.received()
	require.Len(t, got, 2)
	assert.GreaterOrEqual(t, got[0].at.Sub(start), first)
	assert.GreaterOrEqual(t, got[1].at.Sub(got[0].at), second)
}

// TestReportRetry answers a report with the statuses of answers before
// passing it to the DeliveryHandler, and counts the requests.
func TestReportRetry(t *testing.T) {
	tests := []struct {
		name         string
		answers      []int // what the server answers first, in order
		deliverFails int   // then the deliver function fails this many times
		wantAttempts int
		wantHTTP     int
		wantTaken    bool
	}{
		{"taken at once", nil, 0, 1, 200, true},
		{"500 twice, then taken", []int{500, 500}, 0, 3, 200, true},
		{"deliver fails twice (the handler answers 500), then taken", nil, 2, 3, 200, true},
		{"503 then deliver fails, then taken", []int{503}, 1, 3, 200, true},
		{"429 once, then taken", []int{429}, 0, 2, 200, true},
		{"500 three times, taken by the last attempt", []int{500, 500, 500}, 0, 4, 200, true},
		{"500 four times: failed", []int{500, 500, 500, 500, 500}, 0, 4, 500, false},
		{"deliver fails four times: failed", nil, 4, 4, 500, false},
		{"400 is not retried", []int{400}, 0, 1, 400, false},
		{"404 is not retried", []int{404}, 0, 1, 404, false},
		{"a redirect is not followed", []int{302}, 0, 1, 302, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var mu sync.Mutex
			answers := tt.answers
			wrap := func(next http.Handler) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					mu.Lock()
					defer mu.Unlock()
					if len(answers) > 0 {
						code := answers[0]
						answers = answers[1:]
						if code == http.StatusFound {
							w.Header().Set("Location", "/elsewhere")
						}
						w.WriteHeader(code)
						return
					}
					next.ServeHTTP(w, r)
				})
			}
			p := mock.New(mock.Report(alice, 0, sms.DeliveryDelivered))
			env := newReportEnv(t, p, wrap)
			env.failNext = tt.deliverFails
			_, err := p.Send(context.Background(), env.message(alice, "m1"))
			require.NoError(t, err)
			waitReports(t, p)

			calls := p.Reports()
			require.Len(t, calls, 1)
			assert.Equal(t, tt.wantAttempts, calls[0].Attempts)
			assert.Equal(t, tt.wantHTTP, calls[0].HTTPStatus)
			assert.EqualValues(t, tt.wantAttempts, env.requests.Load(), "requests that reached the server")
			if tt.wantTaken {
				assert.NoError(t, calls[0].Err)
				require.Len(t, env.received(), 1)
				assert.Equal(t, "m1", env.received()[0].MessageID)
			} else {
				assert.ErrorIs(t, calls[0].Err, mock.ErrRefused)
				assert.Empty(t, env.received())
			}
		})
	}
}

// TestReportForgedToken sends a message whose report URL has another
// handler's token: the real DeliveryHandler refuses it with 403, which is
// not retried, and nothing reaches the deliver function.
func TestReportForgedToken(t *testing.T) {
	p := mock.New(mock.Report(alice, 0, sms.DeliveryDelivered))
	env := newReportEnv(t, p, nil)
	other, err := sms.NewDeliveryHandler(p, []byte("another secret, 16 bytes or more"), env.srv.URL+"/reports", env.deliver)
	require.NoError(t, err)
	msg := env.message(alice, "m1")
	msg.ReportURL = other.URL("m1")
	_, err = p.Send(context.Background(), msg)
	require.NoError(t, err)
	waitReports(t, p)

	calls := p.Reports()
	require.Len(t, calls, 1)
	assert.Equal(t, 1, calls[0].Attempts)
	assert.Equal(t, http.StatusForbidden, calls[0].HTTPStatus)
	assert.ErrorIs(t, calls[0].Err, mock.ErrRefused)
	assert.Empty(t, env.received())
}

// TestReportNoAnswer checks reports that get no answer: retried when a
// request fails, not attempted when the URL is unusable; the error never
// holds the URL's token.
func TestReportNoAnswer(t *testing.T) {
	gone := httptest.NewServer(http.NotFoundHandler())
	gone.Close()
	p := mock.New(mock.Report(alice, 0, sms.DeliveryDelivered))
	t.Cleanup(func() { assert.NoError(t, p.Close()) })
	h, err := sms.NewDeliveryHandler(p, secret, gone.URL+"/reports", func(context.Context, sms.DeliveryReport) error { return nil })
	require.NoError(t, err)
	token := url.QueryEscape(strings.SplitN(h.URL("m1"), sms.ReportQueryParam+"=", 2)[1])

	tests := []struct {
		name         string
		reportURL    string
		wantAttempts int
	}{
		{"connection refused", h.URL("m1"), 4},
		{"not an absolute URL", "/reports?" + sms.ReportQueryParam + "=" + token, 0},
		{"not http", "ftp://example.com/reports?" + sms.ReportQueryParam + "=" + token, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p.Reset()
			_, err := p.Send(context.Background(), sms.Message{To: alice, Text: "hello", ID: "m1", ReportURL: tt.reportURL})
			require.NoError(t, err)
			waitReports(t, p)
			calls := p.Reports()
			require.Len(t, calls, 1)
			assert.Equal(t, tt.wantAttempts, calls[0].Attempts)
			assert.Zero(t, calls[0].HTTPStatus)
			require.Error(t, calls[0].Err)
			assert.NotErrorIs(t, calls[0].Err, mock.ErrRefused)
			assert.NotContains(t, calls[0].Err.Error(), token)
		})
	}
}

func TestReportClose(t *testing.T) {
	t.Run("a delay not yet over", func(t *testing.T) {
		p := mock.New(mock.Report(alice, time.Hour, sms.DeliveryAccepted, sms.DeliveryDelivered))
		env := newReportEnv(t, p, nil)
		_, err := p.Send(context.Background(), env.message(alice, "m1"))
		require.NoError(t, err)

		require.NoError(t, p.Close())
		require.NoError(t, p.Close(), "Close is idempotent")
		waitReports(t, p)
		calls := p.Reports()
		assert.Equal(t, []sms.DeliveryStatus{sms.DeliveryAccepted, sms.DeliveryDelivered}, callStatuses(calls))
		for _, c := range calls {
			assert.Zero(t, c.Attempts)
			assert.ErrorIs(t, c.Err, mock.ErrClosed)
		}
		assert.Zero(t, env.requests.Load())
	})

	t.Run("a request in flight", func(t *testing.T) {
		arrived := make(chan struct{})
		block := func(http.Handler) http.Handler {
			return http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
				_, _ = io.Copy(io.Discard, r.Body) // then the server sees the client go
				close(arrived)
				<-r.Context().Done()
			})
		}
		p := mock.New(mock.Report(alice, 0, sms.DeliveryAccepted, sms.DeliveryDelivered))
		env := newReportEnv(t, p, block)
		_, err := p.Send(context.Background(), env.message(alice, "m1"))
		require.NoError(t, err)
		<-arrived

		require.NoError(t, p.Close())
		calls := p.Reports()
		require.Len(t, calls, 2)
		assert.Equal(t, 1, calls[0].Attempts)
		assert.Zero(t, calls[0].HTTPStatus)
		assert.ErrorIs(t, calls[0].Err, mock.ErrClosed)
		assert.Equal(t, 0, calls[1].Attempts, "the next report is not made")
		assert.ErrorIs(t, calls[1].Err, mock.ErrClosed)
		assert.Empty(t, env.received())
	})

	t.Run("a message accepted after Close", func(t *testing.T) {
		p := mock.New(mock.Report(alice, 0, sms.DeliveryDelivered))
		env := newReportEnv(t, p, nil)
		require.NoError(t, p.Close())
		_, err := p.Send(context.Background(), env.message(alice, "m1"))
		require.NoError(t, err, "Send still works")
		waitReports(t, p)
		calls := p.Reports()
		require.Len(t, calls, 1)
		assert.ErrorIs(t, calls[0].Err, mock.ErrClosed)
		assert.Zero(t, env.requests.Load())
	})

	t.Run("the Client closes the Provider", func(t *testing.T) {
		p := mock.New(mock.Report(alice, time.Hour, sms.DeliveryDelivered))
		env := newReportEnv(t, p, nil)
		c, err := sms.New(p, sms.WithDeliveryReports(env.h))
		require.NoError(t, err)
		_, err = c.Send(context.Background(), sms.Message{To: alice, Text: "hello", ID: "m1"})
		require.NoError(t, err)
		require.NoError(t, c.Close())
		calls := p.Reports()
		require.Len(t, calls, 1)
		assert.ErrorIs(t, calls[0].Err, mock.ErrClosed)
	})
}

func TestWaitReportsContext(t *testing.T) {
	p := mock.New(mock.Report(alice, time.Hour, sms.DeliveryDelivered))
	env := newReportEnv(t, p, nil)
	_, err := p.Send(context.Background(), env.message(alice, "m1"))
	require.NoError(t, err)

	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	assert.ErrorIs(t, p.WaitReports(cancelled), context.Canceled)
	expired, cancel2 := context.WithTimeout(context.Background(), time.Millisecond)
	defer cancel2()
	assert.ErrorIs(t, p.WaitReports(expired), context.DeadlineExceeded)
	assert.Empty(t, p.Reports(), "the report is still pending")
}

func TestReportReset(t *testing.T) {
	p := mock.New(mock.Report(alice, time.Hour, sms.DeliveryDelivered), mock.Report(bob, 0, sms.DeliveryDelivered))
	env := newReportEnv(t, p, nil)
	_, err := p.Send(context.Background(), env.message(alice, "m1"))
	require.NoError(t, err)

	p.Reset()
	waitReports(t, p)
	assert.Empty(t, p.Reports(), "the cancelled report is forgotten")
	assert.Zero(t, env.requests.Load())

	_, err = p.Send(context.Background(), env.message(bob, "m2"))
	require.NoError(t, err)
	waitReports(t, p)
	assert.Equal(t, []mock.ReportCall{{
		MessageID: "m2", To: bob, GatewayID: "mock-1", Status: sms.DeliveryDelivered,
		Attempts: 1, HTTPStatus: http.StatusOK,
	}}, p.Reports())
}

// TestNoReport checks which messages get reports: only those recorded in
// Sent, with a ReportURL, to a number with a script.
func TestNoReport(t *testing.T) {
	report := mock.Report(alice, 0, sms.DeliveryDelivered)
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name        string
		opts        []mock.Option
		ctx         context.Context
		noURL       bool
		sends       int // sends of the same message
		wantReports int
	}{
		{"no ReportURL", []mock.Option{report}, context.Background(), true, 1, 0},
		{"a number without a script", []mock.Option{mock.Report(bob, 0, sms.DeliveryDelivered)}, context.Background(), false, 1, 0},
		{"not accepted", []mock.Option{report, mock.FailNumber(alice, rejected)}, context.Background(), false, 1, 0},
		{"cancelled before it was accepted", []mock.Option{report}, cancelled, false, 1, 0},
		{"deduplicated by ID: reported once", []mock.Option{report, mock.Idempotent()}, context.Background(), false, 2, 1},
		{"not deduplicated: reported twice", []mock.Option{report}, context.Background(), false, 2, 2},
		{"accepted, answer lost: reported", []mock.Option{report, mock.FailFirst(1, mock.Delivered(nil))}, context.Background(), false, 1, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := mock.New(append(tt.opts, mock.Report("+10000000000", 0, sms.DeliveryDelivered))...) // any script, for the handler
			env := newReportEnv(t, p, nil)
			msg := env.message(alice, "m1")
			if tt.noURL {
				msg.ReportURL = ""
			}
			for range tt.sends {
				_, _ = p.Send(tt.ctx, msg)
			}
			waitReports(t, p)
			assert.Len(t, p.Reports(), tt.wantReports)
			assert.EqualValues(t, tt.wantReports, env.requests.Load())
			assert.Len(t, env.received(), tt.wantReports)
		})
	}
}

func TestDeliveryReports(t *testing.T) {
	tests := []struct {
		name string
		opts []mock.Option
		want bool
	}{
		{"no options", nil, false},
		{"rules only", []mock.Option{mock.FailNumber(alice, rejected), mock.Idempotent()}, false},
		{"Report", []mock.Option{mock.Report(alice, 0, sms.DeliveryDelivered)}, true},
		{"ReportAll", []mock.Option{mock.ReportAll(time.Second, sms.DeliveryExpired)}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, mock.New(tt.opts...).DeliveryReports())
		})
	}
	_, err := sms.NewDeliveryHandler(mock.New(), secret, "http://example.com/reports", func(context.Context, sms.DeliveryReport) error { return nil })
	assert.Error(t, err, "a handler needs a Provider that reports")
}

// TestMailingReports sends a mailing with an ID through a Client with
// delivery reports: every entry gets its own reports, in order.
func TestMailingReports(t *testing.T) {
	const n = 40
	p := mock.New(
		mock.ReportAll(0, sms.DeliveryAccepted, sms.DeliveryDelivered),
		mock.Report(bob, 0, sms.DeliveryRejected),
		mock.FailNumber("+4915100000007", rejected),
	)
	env := newReportEnv(t, p, nil)
	c := env.client(t)
	numbers := []string{alice, bob}
	for i := range n - 2 {
		numbers = append(numbers, fmt.Sprintf("+491510000%04d", i))
	}
	rep, err := c.Mailing(context.Background(), sms.Mailing{ID: "mailing-1", Text: "hello", To: numbers})
	require.ErrorIs(t, err, sms.ErrRejected)
	waitReports(t, p)

	byID := map[string][]sms.DeliveryStatus{}
	for _, r := range env.received() {
		byID[r.MessageID] = append(byID[r.MessageID], r.Status)
	}
	for i, res := range rep.Results {
		id := fmt.Sprintf("mailing-1/%d", i)
		switch {
		case res.Status != sms.StatusSent:
			assert.Empty(t, byID[id], "%s was not sent", res.To)
		case res.To == bob:
			assert.Equal(t, []sms.DeliveryStatus{sms.DeliveryRejected}, byID[id])
		default:
			assert.Equal(t, []sms.DeliveryStatus{sms.DeliveryAccepted, sms.DeliveryDelivered}, byID[id], "%s", res.To)
		}
	}
	assert.Len(t, byID, n-1)
	assert.Len(t, p.Reports(), 2*(n-2)+1)
	for _, call := range p.Reports() {
		assert.NoError(t, call.Err)
	}
}

func TestParseDelivery(t *testing.T) {
	p := mock.New()
	form := func(body string) *http.Request {
		r := httptest.NewRequest(http.MethodPost, "/reports", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		return r
	}
	at := time.Date(2026, 11, 29, 10, 0, 0, 500_000_000, time.UTC)
	tests := []struct {
		name string
		req  *http.Request
		want sms.DeliveryReport // zero: an error is expected
	}{
		{"every field", form("status=delivered&gateway_id=mock-7&at=2026-11-29T10:00:00.5Z"),
			sms.DeliveryReport{Status: sms.DeliveryDelivered, GatewayID: "mock-7", At: at, Provider: "mock"}},
		{"status only", form("status=buffered"), sms.DeliveryReport{Status: sms.DeliveryBuffered, Provider: "mock"}},
		{"unknown fields are ignored", form("status=expired&code=7"), sms.DeliveryReport{Status: sms.DeliveryExpired, Provider: "mock"}},
		{"GET", httptest.NewRequest(http.MethodGet, "/reports?status=delivered", nil), sms.DeliveryReport{}},
		{"the status in the query only", func() *http.Request {
			r := form("")
			r.URL.RawQuery = "status=delivered"
			return r
		}(), sms.DeliveryReport{}},
		{"no status", form("gateway_id=mock-1"), sms.DeliveryReport{}},
		{"unknown status", form("status=DELIVERED"), sms.DeliveryReport{}},
		{"bad time", form("status=delivered&at=yesterday"), sms.DeliveryReport{}},
		{"not a form", func() *http.Request {
			r := form(`{"status":"delivered"}`)
			r.Header.Set("Content-Type", "application/json")
			return r
		}(), sms.DeliveryReport{}},
		{"bad form encoding", form("status=%zz"), sms.DeliveryReport{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := p.ParseDelivery(tt.req, "http://example.com/reports")
			if tt.want == (sms.DeliveryReport{}) {
				assert.ErrorIs(t, err, mock.ErrMalformedReport)
				assert.Equal(t, sms.DeliveryReport{}, got)
				return
			}
			require.NoError(t, err)
			assert.True(t, tt.want.At.Equal(got.At), "At %v, want %v", got.At, tt.want.At)
			got.At, tt.want.At = time.Time{}, time.Time{}
			assert.Equal(t, tt.want, got)
		})
	}
}

// parseForm posts form to ParseDelivery.
func parseForm(p *mock.Provider, body string) (sms.DeliveryReport, error) {
	r := httptest.NewRequest(http.MethodPost, "/reports", strings.NewReader(body))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return p.ParseDelivery(r, "")
}

// FuzzParseDelivery checks that ParseDelivery never panics, that its errors
// match ErrMalformedReport, and that what it accepts the mock can write again
// unchanged.
func FuzzParseDelivery(f *testing.F) {
	for _, s := range []string{
		"status=delivered&gateway_id=mock-7&at=2026-11-29T10:00:00.5Z",
		"status=accepted",
		"status=unknown&at=2026-11-29T10:00:00%2B01:00",
		"status=delivered&status=rejected",
		"status=&gateway_id=",
		"at=2026-11-29T10:00:00Z",
		"%zz",
	} {
		f.Add(s)
	}
	p := mock.New()
	f.Fuzz(func(t *testing.T, body string) {
		rep, err := parseForm(p, body)
		if err != nil {
			require.ErrorIs(t, err, mock.ErrMalformedReport)
			return
		}
		again, err := parseForm(p, mock.ReportForm(rep).Encode())
		require.NoError(t, err)
		require.True(t, rep.At.Equal(again.At), "At %v became %v", rep.At, again.At)
		rep.At, again.At = time.Time{}, time.Time{}
		require.Equal(t, rep, again)
	})
}

// FuzzReportForm checks that every report the mock can make is read back as
// it was made.
func FuzzReportForm(f *testing.F) {
	f.Add("delivered", "mock-1", int64(1_800_000_000_123_456_789))
	f.Add("accepted", "", int64(0))
	f.Add("rejected", "a&b=c%d+e", int64(-1))
	p := mock.New()
	f.Fuzz(func(t *testing.T, status, gatewayID string, unixNano int64) {
		rep := sms.DeliveryReport{Status: sms.DeliveryStatus(status), GatewayID: gatewayID, Provider: "mock"}
		if unixNano != 0 {
			rep.At = time.Unix(0, unixNano).UTC()
		}
		got, err := parseForm(p, mock.ReportForm(rep).Encode())
		if err != nil {
			require.ErrorIs(t, err, mock.ErrMalformedReport)
			require.False(t, rep.Status.Final() || rep.Status == sms.DeliveryAccepted || rep.Status == sms.DeliveryBuffered,
				"a known status %q was refused: %v", status, err)
			return
		}
		require.True(t, rep.At.Equal(got.At), "At %v became %v", rep.At, got.At)
		rep.At, got.At = time.Time{}, time.Time{}
		require.Equal(t, rep, got)
	})
}

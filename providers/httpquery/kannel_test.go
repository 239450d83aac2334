package httpquery_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smsgateway/sms"
	"github.com/smsgateway/sms/internal/kanneltest"
	"github.com/smsgateway/sms/providers/httpquery"
)

// newKannelClient returns an sms.Client over this provider with Kannel's
// preset, closed at the end of the test.
func newKannelClient(t *testing.T, g *kanneltest.Gateway, password string, opts ...sms.Option) *sms.Client {
	t.Helper()
	p, err := httpquery.New(httpquery.Kannel(g.SendSMSURL, g.Username, password))
	require.NoError(t, err)
	c, err := sms.New(p, opts...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// TestKannel sends through a real Kannel (bearerbox, smsbox and a fake SMSC
// on loopback) and checks what the fake SMSC received.
func TestKannel(t *testing.T) {
	g := kanneltest.Start(t)
	c := newKannelClient(t, g, g.Password)
	ctx := context.Background()

	t.Run("plain text", func(t *testing.T) {
		res, err := c.Send(ctx, sms.Message{To: "+491700000001", Text: "Hello world", From: "ACME"})
		require.NoError(t, err)
		assert.Equal(t, 202, res.StatusCode)
		got := g.ReceivedFor(t, "+491700000001", 1)
		require.Len(t, got, 1)
		assert.Equal(t, kanneltest.CodingText, got[0].Coding)
		assert.Equal(t, "Hello world", got[0].Text)
		assert.Equal(t, "ACME", got[0].From)
	})

	t.Run("injection stays text", func(t *testing.T) {
		_, err := c.Send(ctx, sms.Message{To: "+491700000002", Text: "hi&to=+1999#x"})
		require.NoError(t, err)
		got := g.ReceivedFor(t, "+491700000002", 1)
		assert.Equal(t, "hi&to=+1999#x", got[0].Text)
		for _, m := range g.Received() {
			assert.NotContains(t, m.To, "1999")
		}
	})

	for i, text := range []string{"Привет, мир!", "Hi 😀", "Ж😀ж"} {
		t.Run("UCS-2 "+text, func(t *testing.T) {
			to := fmt.Sprintf("+49170000001%d", i)
			_, err := c.Send(ctx, sms.Message{To: to, Text: text})
			require.NoError(t, err)
			got := g.ReceivedFor(t, to, 1)
			require.Len(t, got, 1)
			assert.Equal(t, kanneltest.CodingUCS2, got[0].Coding)
			assert.Equal(t, text, got[0].Text)
		})
	}

	t.Run("300 characters in 2 parts", func(t *testing.T) {
		text := strings.Repeat("0123456789", 30)
		_, err := c.Send(ctx, sms.Message{To: "+491700000020", Text: text})
		require.NoError(t, err)
		got := g.ReceivedFor(t, "+491700000020", 2)
		require.Len(t, got, 2)
		for _, m := range got {
			assert.Equal(t, 2, m.Total)
		}
		whole := kanneltest.Assemble(got)
		require.Len(t, whole, 1)
		assert.Equal(t, text, whole[0].Text)
	})

	t.Run("wrong password is fatal after one attempt", func(t *testing.T) {
		bad := newKannelClient(t, g, "wrong-"+g.Password)
		res, err := bad.Send(ctx, sms.Message{To: "+491700000030", Text: "x"})
		assert.True(t, errors.Is(err, sms.ErrFatal), "%v", err)
		assert.Equal(t, 1, res.Attempts)
		assert.Equal(t, 403, res.StatusCode)
		assert.NotContains(t, err.Error(), g.Password)
		assert.NotContains(t, res.URL, g.Password)
	})

	t.Run("denied number is rejected", func(t *testing.T) {
		res, err := c.Send(ctx, sms.Message{To: kanneltest.DeniedPrefix + "1234567", Text: "x"})
		assert.True(t, errors.Is(err, sms.ErrRejected), "%v", err)
		assert.Equal(t, 1, res.Attempts)
	})

	t.Run("mailing of 1000", func(t *testing.T) {
		to := make([]string, 1000)
		for i := range to {
			to[i] = fmt.Sprintf("+4915%07d", i)
		}
		before := len(g.Received())
		rep, err := c.Mailing(ctx, sms.Mailing{To: to, Text: "mass"})
		require.NoError(t, err)
		assert.Equal(t, 1000, rep.Summary.Sent)
		wctx, cancel := context.WithTimeout(ctx, 60*time.Second)
		defer cancel()
		_, err = g.WaitReceived(wctx, before+1000)
		require.NoError(t, err)
		seen := map[string]int{}
		for _, m := range g.Received() {
			if strings.HasPrefix(m.To, "+4915") {
				seen[m.To]++
			}
		}
		assert.Len(t, seen, 1000)
		for _, n := range to {
			assert.Equal(t, 1, seen[n], n)
		}
	})
}

// TestKannelDeliveryReports sends through a real Kannel with the Client's
// report URLs from an sms.DeliveryHandler on 127.0.0.1, and waits for the
// fake SMSC's two reports: "delivered to the SMSC" (type 8) and
// "delivered" (type 1), in whatever order. The first "delivered" is
// refused by the store (the handler answers 500), and Kannel, which
// kanneltest configures to retry failed callbacks every second, brings it
// again. The handler's base URL has percent-encoded bytes in its path,
// which Kannel would take for its own escapes were they not doubled.
func TestKannelDeliveryReports(t *testing.T) {
	g := kanneltest.Start(t)
	p, err := httpquery.New(httpquery.Kannel(g.SendSMSURL, g.Username, g.Password))
	require.NoError(t, err)

	var mu sync.Mutex
	var stored, refused []sms.DeliveryReport
	var paths []string
	arrived := make(chan struct{}, 1)
	deliver := func(_ context.Context, r sms.DeliveryReport) error {
		mu.Lock()
		defer mu.Unlock()
		defer func() {
			select {
			case arrived <- struct{}{}:
			default:
			}
		}()
		if r.Status == sms.DeliveryDelivered && len(refused) == 0 {
			refused = append(refused, r)
			return errors.New("store unavailable")
		}
		stored = append(stored, r)
		return nil
	}
	srv := httptest.NewUnstartedServer(nil)
	const path = "/dlr/caf%C3%A9"
	h, err := sms.NewDeliveryHandler(p, []byte("kannel-test-secret-0123456789"), "http://"+srv.Listener.Addr().String()+path, deliver)
	require.NoError(t, err)
	srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		paths = append(paths, r.URL.EscapedPath())
		mu.Unlock()
		h.ServeHTTP(w, r)
	})
	srv.Start()
	defer srv.Close()

	c, err := sms.New(p, sms.WithDeliveryReports(h))
	require.NoError(t, err)
	defer c.Close()
	sentAt := time.Now()
	res, err := c.Send(context.Background(), sms.Message{To: "+491700000100", Text: "report me", ID: "kannel-report-1"})
	require.NoError(t, err)
	assert.Contains(t, res.URL, "dlr-url=REDACTED", "the report URL's token is not in the Result")

	timeout := time.After(30 * time.Second)
	for {
		mu.Lock()
		n := len(stored)
		mu.Unlock()
		if n >= 2 {
			break
		}
		select {
		case <-arrived:
		case <-timeout:
			mu.Lock()
			defer mu.Unlock()
			t.Fatalf("after 30s: stored %+v, refused %+v", stored, refused)
		}
	}

	mu.Lock()
	defer mu.Unlock()
	require.Len(t, refused, 1, "the first delivered report was refused")
	byCode := map[string]sms.DeliveryReport{}
	var kept sms.DeliveryStatus
	for _, r := range stored {
		assert.Equal(t, "kannel-report-1", r.MessageID)
		assert.WithinDuration(t, sentAt, r.At, time.Minute, "Kannel's %%T")
		byCode[r.Code] = r
		if r.Status.Replaces(kept) {
			kept = r.Status
		}
	}
	require.Contains(t, byCode, "8")
	require.Contains(t, byCode, "1")
	assert.Equal(t, sms.DeliveryAccepted, byCode["8"].Status)
	assert.Equal(t, "ACK/", byCode["8"].Text)
	assert.Equal(t, sms.DeliveryDelivered, byCode["1"].Status)
	assert.NotEmpty(t, byCode["1"].GatewayID, "the SMSC's message ID (%F)")
	assert.Equal(t, refused[0], byCode["1"], "Kannel brought the refused report again, the same")
	assert.Equal(t, sms.DeliveryDelivered, kept, "whatever the order, delivered is kept")
	for _, p := range paths {
		assert.Equal(t, path, p, "the report URL's path arrived as it was")
	}
}

// TestKannelOutage stops the fake SMSC until Kannel's queue is full (503),
// restarts it while the Client retries, and checks the message arrives
// exactly once.
func TestKannelOutage(t *testing.T) {
	g := kanneltest.Start(t, kanneltest.WithQueueLimit(5))
	ctx := context.Background()
	p, err := httpquery.New(httpquery.Kannel(g.SendSMSURL, g.Username, g.Password))
	require.NoError(t, err)
	defer p.Close()

	g.StopSMSC(t)
	for i := 0; i < g.QueueLimit; i++ {
		_, err := p.Send(ctx, sms.Message{To: fmt.Sprintf("+49160000000%d", i), Text: "queued"})
		require.NoError(t, err, "queued while the SMSC is away")
	}

	// Every attempt, in order, recorded by the Client's hook (on the
	// Client's goroutine) and read after Send has returned.
	var mu sync.Mutex
	var attempts []sms.Attempt
	firstFailure := make(chan struct{})
	c, err := sms.New(p,
		sms.WithRetry(sms.RetryPolicy{MaxAttempts: 50, BaseDelay: 100 * time.Millisecond, MaxDelay: 400 * time.Millisecond}),
		sms.WithHooks(sms.Hooks{Attempt: func(a sms.Attempt) {
			mu.Lock()
			defer mu.Unlock()
			attempts = append(attempts, a)
			if len(attempts) == 1 {
				close(firstFailure)
			}
		}}))
	require.NoError(t, err)
	defer c.Close()

	type outcome struct {
		res sms.Result
		err error
	}
	done := make(chan outcome, 1)
	go func() {
		res, err := c.Send(ctx, sms.Message{To: "+491609999999", Text: "after the outage"})
		done <- outcome{res, err}
	}()
	<-firstFailure // Kannel's queue is full: the SMSC may come back
	g.StartSMSC(t)
	out := <-done
	require.NoError(t, out.err)

	// Every attempt but the last was refused with 503 (provably not
	// accepted), and the last was accepted: the message entered Kannel
	// exactly once.
	mu.Lock()
	defer mu.Unlock()
	require.Greater(t, len(attempts), 1)
	assert.Len(t, attempts, out.res.Attempts)
	for i, a := range attempts[:len(attempts)-1] {
		assert.True(t, errors.Is(a.Err, sms.ErrTemporary), "attempt %d: %v", i+1, a.Err)
		assert.Equal(t, 503, a.Receipt.StatusCode, "attempt %d", i+1)
	}
	last := attempts[len(attempts)-1]
	assert.NoError(t, last.Err)
	assert.Equal(t, 202, last.Receipt.StatusCode)

	// Once the queue is delivered, the SMSC has it once.
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	_, err = g.WaitReceived(wctx, g.QueueLimit+1)
	require.NoError(t, err)
	assert.Len(t, g.ReceivedFor(t, "+491609999999", 1), 1, "delivered exactly once")
}

// BenchmarkKannelMailing10k sends a 10k-recipient mailing through the Client
// and this provider to a real Kannel on loopback (skipped where Kannel is
// not installed) and waits until the fake SMSC has every message. It reports
// messages per second, end to end.
func BenchmarkKannelMailing10k(b *testing.B) {
	g := kanneltest.Start(b)
	p, err := httpquery.New(httpquery.Kannel(g.SendSMSURL, g.Username, g.Password))
	if err != nil {
		b.Fatal(err)
	}
	c, err := sms.New(p, sms.WithConcurrency(64))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = c.Close() })
	const recipients = 10_000
	numbers := make([]string, recipients)
	for i := range numbers {
		numbers[i] = fmt.Sprintf("+49171%07d", i)
	}
	received := 0
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		rep, err := c.Mailing(context.Background(), sms.Mailing{To: numbers, Text: fmt.Sprintf("Hello %d", i)})
		if err != nil || rep.Sent != recipients {
			b.Fatalf("mailing: %v %+v", err, rep.Summary)
		}
		received += recipients
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		_, err = g.WaitReceived(ctx, received)
		cancel()
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*recipients)/b.Elapsed().Seconds(), "msg/s")
	b.ReportMetric(0, "ns/op")
}

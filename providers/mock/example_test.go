package mock_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"time"

	"github.com/smsgateway/sms"
	"github.com/smsgateway/sms/providers/mock"
)

func Example() {
	p := mock.New()
	c, err := sms.New(p)
	if err != nil {
		panic(err)
	}
	defer c.Close()

	res, err := c.Send(context.Background(), sms.Message{To: "+49 151 1234 5678", Text: "Your code is 1234"})
	fmt.Println(res.Status, res.MessageID, err)
	for _, m := range p.Sent() {
		fmt.Printf("to %s: %q\n", m.To, m.Text)
	}
	// Output:
	// sent mock-1 <nil>
	// to +4915112345678: "Your code is 1234"
}

// A table-driven test of code that sends through an sms.Client: each case
// scripts the gateway, and the checks read the Result and what the mock
// recorded. In a real test the loop body runs in t.Run(tc.name, ...).
func Example_tableDriven() {
	tests := []struct {
		name         string
		script       []mock.Option
		wantStatus   sms.Status
		wantAttempts int
	}{
		{"accepted at once", nil, sms.StatusSent, 1},
		{"two temporary failures, then accepted", []mock.Option{mock.FailFirst(2, mock.Err(sms.KindTemporary))}, sms.StatusSent, 3},
		{"throttled once", []mock.Option{mock.FailFirst(1, mock.Throttled(time.Millisecond))}, sms.StatusSent, 2},
		{"still failing after three attempts", []mock.Option{mock.FailFirst(3, mock.Err(sms.KindTemporary))}, sms.StatusFailed, 3},
		{"rejected, never retried", []mock.Option{mock.FailFirst(3, mock.Err(sms.KindRejected))}, sms.StatusFailed, 1},
	}
	for _, tc := range tests {
		p := mock.New(tc.script...)
		c, err := sms.New(p, sms.WithRetry(sms.RetryPolicy{BaseDelay: time.Millisecond}))
		if err != nil {
			panic(err)
		}
		res, _ := c.Send(context.Background(), sms.Message{To: "+4915112345678", Text: "hello"})
		c.Close()

		ok := res.Status == tc.wantStatus && res.Attempts == tc.wantAttempts && len(p.Calls()) == tc.wantAttempts
		kind := "-"
		if k, failed := res.Kind(); failed {
			kind = k.String()
		}
		fmt.Printf("%-38s %-6s attempts=%d sent=%d kind=%-9s ok=%v\n",
			tc.name, res.Status, res.Attempts, len(p.Sent()), kind, ok)
	}
	// Output:
	// accepted at once                       sent   attempts=1 sent=1 kind=-         ok=true
	// two temporary failures, then accepted  sent   attempts=3 sent=1 kind=-         ok=true
	// throttled once                         sent   attempts=2 sent=1 kind=-         ok=true
	// still failing after three attempts     failed attempts=3 sent=0 kind=temporary ok=true
	// rejected, never retried                failed attempts=1 sent=0 kind=rejected  ok=true
}

// The gateway accepts a message but the answer is lost. Without
// idempotency the Client cannot know and does not retry: the Result is
// ambiguous, and the message was in fact sent. With an idempotent gateway
// and a message ID, the Client retries and the gateway deduplicates: one
// text, one Result that says sent.
func ExampleDelivered() {
	for _, idempotent := range []bool{false, true} {
		script := []mock.Option{mock.FailFirst(1, mock.Delivered(nil))}
		if idempotent {
			script = append(script, mock.Idempotent())
		}
		p := mock.New(script...)
		c, err := sms.New(p, sms.WithRetry(sms.RetryPolicy{BaseDelay: time.Millisecond}))
		if err != nil {
			panic(err)
		}
		res, _ := c.Send(context.Background(), sms.Message{To: "+4915112345678", Text: "Order 42 shipped", ID: "order-42"})
		c.Close()
		kind, _ := res.Kind()
		fmt.Printf("idempotent=%v: %s after %d attempt(s), kind %s, texts sent %d\n",
			idempotent, res.Status, res.Attempts, kind, len(p.Sent()))
	}
	// Output:
	// idempotent=false: failed after 1 attempt(s), kind ambiguous, texts sent 1
	// idempotent=true: sent after 2 attempt(s), kind ambiguous, texts sent 1
}

// FailNumber scripts one bad recipient of a mailing; the others are sent.
func ExampleFailNumber() {
	p := mock.New(mock.FailNumber("+4915100000002", mock.Err(sms.KindRejected)))
	c, err := sms.New(p)
	if err != nil {
		panic(err)
	}
	defer c.Close()

	// The error summarizes the failures; the Report has every Result.
	rep, err := c.Mailing(context.Background(), sms.Mailing{
		Text: "Meeting moved to 10:00",
		To:   []string{"+4915100000001", "+4915100000002", "+4915100000003"},
	})
	for _, r := range rep.Results {
		fmt.Println(r.To, r.Status)
	}
	fmt.Println("sent:", len(p.Sent()), "rejected:", errors.Is(err, sms.ErrRejected))
	// Output:
	// +4915100000001 sent
	// +4915100000002 failed
	// +4915100000003 sent
	// sent: 2 rejected: true
}

// Func scripts anything the other rules cannot, here a gateway that rejects
// texts over 20 characters.
func ExampleFunc() {
	p := mock.New(mock.Func(func(n int, msg sms.Message) (sms.Receipt, error) {
		if len(msg.Text) > 20 {
			return sms.Receipt{}, mock.Err(sms.KindRejected)
		}
		return sms.Receipt{MessageID: fmt.Sprintf("gw-%03d", n)}, nil
	}))
	for _, text := range []string{"short", "this one is far too long"} {
		rc, err := p.Send(context.Background(), sms.Message{To: "+4915112345678", Text: text})
		fmt.Printf("%q: %q %v\n", text, rc.MessageID, err)
	}
	// Output:
	// "short": "gw-001" <nil>
	// "this one is far too long": "" sms: rejected: mock: scripted failure
}

// ThrottledRecipient scripts a gateway that limits how often one number may
// get a text. Only that message's retries wait; the rest of the mailing goes
// on, where an account-wide Throttled would hold back every message.
func ExampleThrottledRecipient() {
	p := mock.New(mock.FailNumber("+4915100000002", mock.ThrottledRecipient(time.Millisecond)))
	c, err := sms.New(p)
	if err != nil {
		panic(err)
	}
	defer c.Close()

	rep, _ := c.Mailing(context.Background(), sms.Mailing{
		Text: "Your parcel has arrived",
		To:   []string{"+4915100000001", "+4915100000002", "+4915100000003"},
	})
	for _, r := range rep.Results {
		var e *sms.Error
		perRecipient := errors.As(r.Err, &e) && e.PerRecipient
		fmt.Println(r.To, r.Status, r.Attempts, perRecipient)
	}
	// Output:
	// +4915100000001 sent 1 false
	// +4915100000002 failed 3 true
	// +4915100000003 sent 1 false
}

// A test of an application's delivery-report handling, end to end: the
// mock posts the scripted reports to the application's sms.DeliveryHandler
// over real HTTP, and the application's deliver function stores the latest
// status of each message. WaitReports replaces any sleep. In a real test the
// checks are assertions.
func ExampleReport() {
	// The application's code: keep each message's latest status.
	var mu sync.Mutex
	latest := map[string]sms.DeliveryStatus{}
	deliver := func(_ context.Context, r sms.DeliveryReport) error {
		mu.Lock()
		defer mu.Unlock()
		fmt.Println("report:", r.MessageID, r.Status, r.GatewayID)
		if r.Status.Replaces(latest[r.MessageID]) {
			latest[r.MessageID] = r.Status
		}
		return nil
	}

	// The gateway accepts the text, then reports it accepted by the
	// network and, 10 ms later, delivered.
	p := mock.New(mock.Report("+4915112345678", 10*time.Millisecond, sms.DeliveryAccepted, sms.DeliveryDelivered))
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	defer srv.Close()
	h, err := sms.NewDeliveryHandler(p, []byte("keep this secret across restarts"), srv.URL+"/sms/reports", deliver)
	if err != nil {
		panic(err)
	}
	mux.Handle("/sms/reports", h)
	c, err := sms.New(p, sms.WithDeliveryReports(h))
	if err != nil {
		panic(err)
	}
	defer c.Close() // closes p too, cancelling reports not yet made

	ctx := context.Background()
	if _, err := c.Send(ctx, sms.Message{To: "+49 151 1234 5678", Text: "Order 42 shipped", ID: "order-42"}); err != nil {
		panic(err)
	}
	if err := p.WaitReports(ctx); err != nil {
		panic(err)
	}
	for _, r := range p.Reports() {
		fmt.Println("made:", r.MessageID, r.Status, r.Attempts, r.HTTPStatus, r.Err)
	}
	fmt.Println("latest:", latest["order-42"])
	// Output:
	// report: order-42 accepted mock-1
	// report: order-42 delivered mock-1
	// made: order-42 accepted 1 200 <nil>
	// made: order-42 delivered 1 200 <nil>
	// latest: delivered
}

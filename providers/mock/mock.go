// Package mock is an in-memory sms.Provider for tests: it records every call,
// and answers as a script of options says. It is a test double, not for
// production: it sends no text. Its only network traffic is the delivery
// reports a script asks for, made to the test's own handler.
//
// Build a Client over it with the options your code uses, then assert on
// Provider.Sent (what the gateway accepted) and Provider.Calls (every
// attempt):
//
//	p := mock.New(mock.FailFirst(2, mock.Err(sms.KindTemporary)))
//	c, _ := sms.New(p, sms.WithRetry(sms.RetryPolicy{BaseDelay: time.Millisecond}))
//	res, err := c.Send(ctx, sms.Message{To: "+4915112345678", Text: "hi"})
//	// err == nil, res.Attempts == 3, len(p.Sent()) == 1
//
// # Answers
//
// Without options every call is accepted: the message is recorded in Sent and
// the Receipt is sms.Receipt{MessageID: "mock-<n>"}, where n counts the
// messages accepted so far (from 1), so receipts are deterministic in a
// sequential test.
//
// The options FailNumber, FailFirst, FailEvery and Func are rules. For each
// call the rules are tried in the order they were given to New, and the first
// that matches decides the answer; when none matches the call is accepted.
// FailNumber matches calls to its number, FailFirst the first n calls,
// FailEvery every k-th call, and Func matches every call (so rules given
// after a Func are never reached). Call.N numbers calls from 1 in the order
// they started, every call counted (accepted, failed or cancelled); Reset
// starts the count again.
//
// A scripted error is returned as it was given: an *sms.Error (see Err,
// Throttled and ThrottledRecipient) is classified by its Kind; any other error is one the Client
// treats as ambiguous. A scripted failure was not accepted: it is not
// recorded in Sent. To script "accepted by the gateway, but the answer was
// lost", wrap the error in Delivered: the message is recorded in Sent and the
// error is returned all the same. That is what a test of duplicate handling
// needs.
//
// # Context
//
// A call whose ctx is done when it starts, or ends during the Latency, returns
// an *sms.Error of KindTemporary (the mock did not accept the message) that
// matches ctx.Err() under errors.Is, and is not recorded in Sent. It is
// recorded in Calls and counts as a call. This takes precedence over every
// rule: the rules run only after the Latency, when ctx is still live.
//
// # Idempotency
//
// Provider always has the method of sms.IdempotentProvider; it reports true
// only with the Idempotent option. Then, like a gateway that deduplicates by
// Message.ID, the Provider accepts a message whose non-empty ID it has
// already accepted without recording it in Sent a second time, and answers
// with the first acceptance's Receipt. The
// rules still decide each call's answer first; deduplication only decides
// what an acceptance records.
//
// # Delivery reports
//
// Provider is an sms.DeliveryReporter, so a test can exercise its
// sms.DeliveryHandler, its mux and its deliver function end to end, over
// real HTTP, without a gateway. Report scripts the reports for one number
// and ReportAll for every other; DeliveryReports is true when either was
// given.
//
//	p := mock.New(mock.Report("+4915112345678", 0, sms.DeliveryAccepted, sms.DeliveryDelivered))
//	h, _ := sms.NewDeliveryHandler(p, secret, srv.URL+"/reports", deliver)
//	c, _ := sms.New(p, sms.WithDeliveryReports(h))
//	c.Send(ctx, sms.Message{To: "+4915112345678", Text: "hi", ID: "order-42"})
//	p.WaitReports(ctx) // then check what deliver got, and p.Reports()
//
// A message gets its number's reports when it is recorded in Sent (a
// message deduplicated by ID does not; one scripted with Delivered does,
// like a gateway that accepted it) and has a ReportURL, which a Client with
// sms.WithDeliveryReports sets for every message with an ID. Each report is
// a POST to the ReportURL, as it is, with an
// application/x-www-form-urlencoded body of the fields status (the
// sms.DeliveryStatus), gateway_id (the Receipt's MessageID) and at (when the
// report was made, RFC 3339); ParseDelivery reads it back.
//
// The reports of a message are made in order, from one goroutine: the first
// after its delay, counted from the acceptance, each other after its own,
// counted from the end of the previous one. A report that gets no answer,
// or a 5xx or 429 answer, is retried after 10, 20 and 40 ms, four requests
// in all, as gateways retry their callbacks; another non-2xx answer refuses
// it at once. Reports records how each report ended: taken, refused, failed
// or cancelled.
//
// Reports run in the background: WaitReports waits for all of them, Close
// (called by sms.Client.Close) cancels those not yet made, and Reset
// cancels and forgets them. No goroutine of the Provider outlives Close.
package mock

import (
	"cmp"
	"context"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/smsgateway/sms"
)

// Call is one call to Provider.Send, as Calls reports it.
type Call struct {
	// N is the call's number, counted from 1 in the order calls started.
	N int
	// Message is the message as Send received it.
	Message sms.Message
	// Receipt is what Send returned.
	Receipt sms.Receipt
	// Err is what Send returned; nil on success. A call scripted with
	// Delivered has an Err although its message was accepted.
	Err error
}

// Provider is an in-memory sms.Provider, sms.IdempotentProvider,
// sms.DeliveryReporter and io.Closer that records every call and answers as
// its options script. Create one with New; the zero value is not usable.
//
// A Provider is safe for concurrent use by multiple goroutines. Its script is
// fixed by New; its records change only through Send, the delivery reports
// it makes, Reset and Close.
type Provider struct {
	rules      []rule
	latency    time.Duration
	idempotent bool
	reportTo   map[string][]reportStep // Report scripts by number
	reportAll  []reportStep            // the ReportAll script
	client     *http.Client            // makes the delivery reports

	reporting sync.WaitGroup // every goroutine making reports

	mu       sync.Mutex
	started  int                    // calls started since the last Reset
	accepted int                    // messages accepted since the last Reset
	calls    []Call                 // finished calls, in the order they finished
	sent     []sms.Message          // accepted messages, in acceptance order
	byID     map[string]sms.Receipt // receipts of accepted IDs (idempotent mode)
	batch    *reportBatch           // the reports scheduled since the last Reset
	closed   bool                   // Close was called: no more reports are made
}

// New returns a Provider scripted by opts. Without options it accepts every
// message at once and makes no delivery reports.
func New(opts ...Option) *Provider {
	p := &Provider{
		byID:     make(map[string]sms.Receipt),
		reportTo: make(map[string][]reportStep),
		client:   newReportClient(),
		batch:    newReportBatch(),
	}
	for _, opt := range opts {
		opt(p)
	}
	return p
}

// Idempotent reports whether the Provider deduplicates messages by
// Message.ID: true only when it was built with the Idempotent option.
func (p *Provider) Idempotent() bool { return p.idempotent }

// Send records the call and answers as the script says (see the package
// documentation). It honours ctx during the Latency.
func (p *Provider) Send(ctx context.Context, msg sms.Message) (sms.Receipt, error) {
	p.mu.Lock()
	p.started++
	n := p.started
	p.mu.Unlock()

	if err := wait(ctx, p.latency); err != nil {
		err = &sms.Error{Kind: sms.KindTemporary, Err: err}
		p.record(Call{N: n, Message: msg, Err: err})
		return sms.Receipt{}, err
	}

	rc, err := p.answer(n, msg)
	delivered := err == nil
	if d, ok := err.(*deliveredError); ok {
		err, delivered = d.err, true
	}

	p.mu.Lock()
	defer p.mu.Unlock()
	if delivered {
		rc = p.accept(msg, rc)
		if err != nil {
			rc = sms.Receipt{} // the answer was lost
		}
	}
	p.calls = append(p.calls, Call{N: n, Message: msg, Receipt: rc, Err: err})
	return rc, err
}

// answer runs the rules for call n. The default is an acceptance with an
// empty Receipt, which accept fills in.
func (p *Provider) answer(n int, msg sms.Message) (sms.Receipt, error) {
	for _, r := range p.rules {
		if ok, rc, err := r(n, msg); ok {
			return rc, err
		}
	}
	return sms.Receipt{}, nil
}

// accept records an accepted message and returns the Receipt to answer
// with: the first acceptance's for an ID already accepted in idempotent mode,
// else rc when a Func rule gave a non-zero one, else a numbered one. A
// message recorded in Sent gets its scripted delivery reports; a deduplicated
// one does not, as a gateway reports once per message. p.mu must be held.
func (p *Provider) accept(msg sms.Message, rc sms.Receipt) sms.Receipt {
	if p.idempotent && msg.ID != "" {
		if first, ok := p.byID[msg.ID]; ok {
			return first
		}
	}
	p.accepted++
	if rc == (sms.Receipt{}) {
		rc = sms.Receipt{MessageID: "mock-" + strconv.Itoa(p.accepted)}
	}
	p.sent = append(p.sent, msg)
	if p.idempotent && msg.ID != "" {
		p.byID[msg.ID] = rc
	}
	p.scheduleReports(msg, rc)
	return rc
}

func (p *Provider) record(c Call) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls = append(p.calls, c)
}

// Sent returns copies of the messages the Provider accepted since New or the
// last Reset, in the order it accepted them. Messages scripted with
// Delivered are included; a message deduplicated by ID appears once.
func (p *Provider) Sent() []sms.Message {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.sent)
}

// SentTo returns how many messages to number are in Sent. number is compared
// with Message.To as the Provider received it (normalized by the Client).
func (p *Provider) SentTo(number string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	k := 0
	for _, m := range p.sent {
		if m.To == number {
			k++
		}
	}
	return k
}

// Calls returns every call that has finished since New or the last Reset,
// accepted or not, ordered by Call.N. A call still in its Latency is not
// included yet.
func (p *Provider) Calls() []Call {
	p.mu.Lock()
	calls := slices.Clone(p.calls)
	p.mu.Unlock()
	slices.SortFunc(calls, func(a, b Call) int { return cmp.Compare(a.N, b.N) })
	return calls
}

// Reset forgets every call, accepted message, accepted ID and delivery
// report, and starts the call count again, so FailFirst and FailEvery apply
// as if the Provider were new. Reports not yet made are cancelled: Reset
// returns once their requests have ended, and they are not recorded. Calls in
// flight during a Reset are recorded when they finish, with their old
// numbers, and their reports belong to the new records.
func (p *Provider) Reset() {
	p.mu.Lock()
	old, oldDone := p.batch, p.batch.done
	p.batch = newReportBatch()
	p.started, p.accepted = 0, 0
	p.calls, p.sent = nil, nil
	clear(p.byID)
	p.mu.Unlock()
	old.cancel(errReset)
	<-oldDone
}

// wait sleeps for d, or until ctx is done, returning ctx.Err() then. A done
// ctx fails even when d is 0.
func wait(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

package mock

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/smsgateway/sms"
)

// ReportCall is one scripted delivery report, as Reports records it: made
// and taken, refused, failed, or cancelled.
type ReportCall struct {
	// MessageID is the reported message's Message.ID (what the report URL
	// of a Client built with sms.WithDeliveryReports carries).
	MessageID string
	// To is the message's number, as the Provider received it.
	To string
	// GatewayID is the Receipt.MessageID the Provider gave the message
	// ("mock-<n>"), which the report carries.
	GatewayID string
	// Status is the status reported.
	Status sms.DeliveryStatus
	// Attempts counts the HTTP requests made for the report: 1, more when
	// it was retried, 0 when it was cancelled before its first request or
	// the report URL is not an absolute http(s) URL.
	Attempts int
	// HTTPStatus is the status code of the last answer to the report; 0
	// when no answer came.
	HTTPStatus int
	// Err is nil when the report was taken: its last request was answered
	// with a 2xx status. Otherwise it says why not, and matches ErrRefused
	// when the last answer was another status, ErrClosed when Close
	// cancelled the report, or is the request's error (connection refused,
	// timeout) with the report URL left out, since the URL carries the
	// handler's token.
	Err error
}

var (
	// ErrRefused is matched by a ReportCall.Err when the report URL
	// answered with a status other than 2xx.
	ErrRefused = errors.New("mock: delivery report refused")
	// ErrClosed is matched by a ReportCall.Err when the report was cancelled
	// by Close, or the message was accepted after Close.
	ErrClosed = errors.New("mock: provider closed")

	// errReset cancels the reports of a batch that Reset forgets.
	errReset = errors.New("mock: provider reset")
)

// reportAttempts bounds the requests made for one report: the first and
// three retries.
const reportAttempts = 4

// reportTimeout bounds one report request, as a gateway's callback client
// does.
const reportTimeout = 10 * time.Second

// maxAnswer bounds how much of an answer's body is read (and discarded).
const maxAnswer = 64 << 10

// reportStep is one scripted report: made after waiting after, counted from
// the end of the previous step, or from the message's acceptance for the
// first.
type reportStep struct {
	after  time.Duration
	status sms.DeliveryStatus
}

// reportJob is the reports scheduled for one accepted message.
type reportJob struct {
	msg       sms.Message
	gatewayID string
	steps     []reportStep
}

// reportBatch holds the reports scheduled since New or the last Reset. ctx
// is done when the batch is cancelled (by Close or Reset); every other field
// is guarded by Provider.mu.
type reportBatch struct {
	ctx     context.Context
	cancel  context.CancelCauseFunc
	pending int           // jobs not yet finished
	done    chan struct{} // closed while pending is 0
	made    []ReportCall  // in the order the reports ended
}

func newReportBatch() *reportBatch {
	b := &reportBatch{done: make(chan struct{})}
	b.ctx, b.cancel = context.WithCancelCause(context.Background())
	close(b.done)
	return b
}

// newReportClient returns the client of the Provider's reports. Without
// keep-alives, no connection (and no goroutine of the transport) outlives a
// report, even when the Provider is never closed. Redirects are answers like
// any other non-2xx status: a callback is not followed elsewhere.
func newReportClient() *http.Client {
	return &http.Client{
		Transport: &http.Transport{DisableKeepAlives: true},
		Timeout:   reportTimeout,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// DeliveryReports reports whether any delivery report is scripted (Report
// or ReportAll): only then can an sms.DeliveryHandler be built over the
// Provider.
func (p *Provider) DeliveryReports() bool {
	return len(p.reportTo) > 0 || len(p.reportAll) > 0
}

// script returns the reports scripted for number: its Report steps, or the
// ReportAll steps when it has none.
func (p *Provider) script(number string) []reportStep {
	if steps, ok := p.reportTo[number]; ok {
		return steps
	}
	return p.reportAll
}

// scheduleReports starts the reports of an accepted message, if it has a
// ReportURL and its number a script. After Close they are recorded as
// cancelled instead. p.mu must be held.
func (p *Provider) scheduleReports(msg sms.Message, rc sms.Receipt) {
	steps := p.script(msg.To)
	if msg.ReportURL == "" || len(steps) == 0 {
		return
	}
	job := reportJob{msg: msg, gatewayID: rc.MessageID, steps: steps}
	b := p.batch
	if p.closed {
		b.made = append(b.made, cancelled(job, steps, ErrClosed)...)
		return
	}
	if b.pending == 0 {
		b.done = make(chan struct{})
	}
	b.pending++
	p.reporting.Add(1)
	go p.runReports(b, job)
}

// runReports makes a message's reports in order, each after its delay.
func (p *Provider) runReports(b *reportBatch, job reportJob) {
	defer p.reporting.Done()
	defer p.finishJob(b)
	for i, s := range job.steps {
		if wait(b.ctx, s.after) != nil {
			p.recordReports(b, cancelled(job, job.steps[i:], context.Cause(b.ctx))...)
			return
		}
		p.recordReports(b, p.makeReport(b.ctx, job, s.status))
	}
}

// cancelled returns the records of steps that were never made.
func cancelled(job reportJob, steps []reportStep, cause error) []ReportCall {
	calls := make([]ReportCall, len(steps))
	for i, s := range steps {
		calls[i] = newReportCall(job, s.status)
		calls[i].Err = cause
	}
	return calls
}

func newReportCall(job reportJob, status sms.DeliveryStatus) ReportCall {
	return ReportCall{MessageID: job.msg.ID, To: job.msg.To, GatewayID: job.gatewayID, Status: status}
}

// makeReport posts one report to the message's ReportURL, retrying as
// retryReport and reportBackoff say, and returns its record. The report's
// time is when it is first made; retries carry the same time.
func (p *Provider) makeReport(ctx context.Context, job reportJob, status sms.DeliveryStatus) ReportCall {
	rc := newReportCall(job, status)
	if err := checkReportURL(job.msg.ReportURL); err != nil {
		rc.Err = err
		return rc
	}
	body := reportForm(sms.DeliveryReport{Status: status, GatewayID: job.gatewayID, At: time.Now().UTC()}).Encode()
	for {
		rc.Attempts++
		rc.HTTPStatus, rc.Err = p.post(ctx, job.msg.ReportURL, body)
		switch {
		case rc.Err == nil:
			return rc
		case ctx.Err() != nil:
			rc.Err = errors.Join(context.Cause(ctx), rc.Err)
			return rc
		case !retryReport(rc.HTTPStatus) || rc.Attempts == reportAttempts:
			return rc
		}
		if wait(ctx, reportBackoff(rc.Attempts)) != nil {
			rc.Err = errors.Join(context.Cause(ctx), rc.Err)
			return rc
		}
	}
}

// checkReportURL refuses a report URL that no request can be made to,
// without repeating it (it carries the handler's token).
func checkReportURL(u string) error {
	parsed, err := url.Parse(u)
	if err != nil || (parsed.Scheme != "http" && parsed.Scheme != "https") || parsed.Host == "" {
		return errors.New("mock: the report URL is not an absolute http(s) URL")
	}
	return nil
}

// retryReport decides whether a report that failed with an answer of the
// given status (0: no answer) is made again: when no answer came, when the
// handler failed (5xx; sms.DeliveryHandler answers 500 when its deliver
// function fails, so that the report comes again) or asked to slow down
// (429). Any other status refuses this report for good: repeating it cannot
// help.
func retryReport(status int) bool {
	return status == 0 || status == http.StatusTooManyRequests || status >= 500
}

// reportBackoff is the wait before retry n of a report (n from 1): 10, 20,
// then 40 ms. There is no jitter: the only server is the test's own handler,
// and a test is easier to read when the mock is deterministic.
func reportBackoff(n int) time.Duration {
	return 10 * time.Millisecond << (n - 1)
}

// post makes one report request and returns the answer's status, with an
// error unless it is 2xx.
func (p *Provider) post(ctx context.Context, reportURL, body string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, reportURL, strings.NewReader(body))
	if err != nil {
		return 0, redact(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := p.client.Do(req)
	if err != nil {
		return 0, redact(err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxAnswer))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return resp.StatusCode, fmt.Errorf("%w: HTTP %d", ErrRefused, resp.StatusCode)
	}
	return resp.StatusCode, nil
}

// redact leaves the URL out of a *url.Error, keeping its cause: the report
// URL carries the handler's token.
func redact(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("mock: delivery report: %s: %w", ue.Op, ue.Err)
	}
	return err
}

func (p *Provider) recordReports(b *reportBatch, calls ...ReportCall) {
	p.mu.Lock()
	defer p.mu.Unlock()
	b.made = append(b.made, calls...)
}

// finishJob counts a message's reports as ended, waking WaitReports when
// they were the last.
func (p *Provider) finishJob(b *reportBatch) {
	p.mu.Lock()
	defer p.mu.Unlock()
	b.pending--
	if b.pending == 0 {
		close(b.done)
	}
}

// Reports returns a record of every scripted report that ended since New or
// the last Reset (taken, refused, failed or cancelled), in the order they
// ended. The reports of one message are in their scripted order; those of
// different messages may interleave. Call WaitReports first to have them
// all.
func (p *Provider) Reports() []ReportCall {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.batch.made)
}

// WaitReports waits until every report scheduled since New or the last
// Reset has ended (reports scheduled meanwhile included), and returns nil;
// or ctx's error, if ctx is done first. A test calls it after its sends,
// instead of sleeping, then checks what its handler received and Reports.
// A Reset during the wait ends it once the forgotten reports are cancelled.
func (p *Provider) WaitReports(ctx context.Context) error {
	p.mu.Lock()
	done := p.batch.done
	p.mu.Unlock()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close cancels every report not yet made (recorded with an Err matching
// ErrClosed), waits for their requests to end, and closes the report
// client's connections. Messages accepted afterwards get no reports (their
// scripted reports are recorded as cancelled); Send, Reports and Reset still
// work. An sms.Client closes its Provider in its own Close: call WaitReports
// before that. Close is idempotent and always returns nil.
func (p *Provider) Close() error {
	p.mu.Lock()
	p.closed = true
	b := p.batch
	p.mu.Unlock()
	b.cancel(ErrClosed)
	p.reporting.Wait()
	p.client.CloseIdleConnections()
	return nil
}

package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/riverqueue/river"

	"github.com/smsgateway/sms"
	"github.com/smsgateway/sms/internal/gateway/store"
)

// workerStore is what a task's run needs of the storage.
type workerStore interface {
	ActiveMessages(ctx context.Context, sl store.Slice) ([]store.Message, error)
	Recorder() *store.Recorder
	Settle(ctx context.Context, sl store.Slice, from []string, to, kind, errText string) (int64, error)
	FailRetries(ctx context.Context, sl store.Slice, prefix string) (int64, error)
}

// taskWorker sends the active messages of a task. It is safe for concurrent
// use: River runs several tasks at once.
//
// One run hands the task's messages, in input order, to its provider's
// sms.Client for at most slice, then snoozes the job so that River runs it
// again at once: no run lasts longer than slice plus one message's send
// budget, so JobTimeout and RescueStuckJobsAfter can be set from the send
// timeout whatever the size of the mailing.
type taskWorker struct {
	river.WorkerDefaults[store.TaskArgs]
	store     workerStore
	providers map[string]*provider
	// draining is closed when the service shuts down: runs stop handing
	// out numbers, let the messages in flight finish, and snooze.
	draining          <-chan struct{}
	slice             time.Duration
	timeout           time.Duration
	resendInterrupted bool
	log               *slog.Logger
	now               func() time.Time
	// done is called with the task ID when a run returns, to wake the
	// requests waiting for it.
	done func(taskID string)
	// final counts messages that reached a final state (see
	// metrics.final): each message once, whatever the runs it took.
	final func(provider, state, kind string, n int)
	// events is called after a run of a task with a callback URL: its rows
	// may owe events (see eventPump).
	events func()
}

// Timeout bounds one run; see taskWorker.
func (w *taskWorker) Timeout(*river.Job[store.TaskArgs]) time.Duration { return w.timeout }

// errInterrupted is the cause recorded for a message that was in flight when
// the service stopped.
var errInterrupted = errors.New("interrupted: the service stopped while the message was being sent; it may have been sent")

// writeTimeout bounds each write of a run's outcomes. Those writes run
// without the job's cancellation, so that a cancelled run still records
// what its sends did.
const writeTimeout = 30 * time.Second

// Work runs one slice of a task.
func (w *taskWorker) Work(ctx context.Context, job *river.Job[store.TaskArgs]) error {
	a := job.Args
	defer w.done(a.TaskID)
	if a.Events {
		defer w.events()
	}
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), w.timeout+writeTimeout)
	defer cancel()
	todo, err := w.store.ActiveMessages(wctx, a.Slice())
	if err != nil {
		return err
	}
	p, ok := w.providers[a.Address]
	if todo, err = w.settleInterrupted(wctx, a, todo, ok && p.idempotent); err != nil {
		return err
	}
	if !ok {
		// The configuration changed since the task was accepted.
		msg := fmt.Sprintf("provider %q is no longer configured", a.Address)
		return w.settle(wctx, a, []string{store.StateQueued, store.StateRetry}, store.StateNotAttempted, sms.KindFatal, msg)
	}
	stopped, retries, runErr, err := w.send(withRun(ctx, uuid.NewString()), p, a, todo)
	if err != nil {
		return fmt.Errorf("message log: %w", err)
	}
	var fatal *sms.Error
	switch {
	case errors.As(runErr, &fatal) && fatal.Kind == sms.KindFatal:
		return w.settle(wctx, a, []string{store.StateQueued, store.StateRetry}, store.StateNotAttempted, sms.KindFatal, "not attempted: "+fatal.Error())
	case runErr != nil || stopped:
		// Cancelled, timed out, draining, or the slice ended: what is left
		// stays queued and the job runs again without using an attempt.
		return river.JobSnooze(0)
	}
	// The run handed every active message over: those it left to retry are
	// all the task has.
	if retries > 0 && job.Attempt < job.MaxAttempts {
		return fmt.Errorf("%d message(s) failed temporarily; the task will retry them", retries)
	}
	if retries > 0 {
		// The last provider error of each message stays in its row.
		n, err := w.store.FailRetries(wctx, a.Slice(), "failed temporarily on every attempt of the task; the last: ")
		w.final(a.Address, store.StateFailed, sms.KindTemporary.String(), int(n))
		return err
	}
	return nil
}

// settle moves the task's messages in the from states to the final state
// to, and counts them.
func (w *taskWorker) settle(ctx context.Context, a store.TaskArgs, from []string, to string, kind sms.Kind, errText string) error {
	n, err := w.store.Settle(ctx, a.Slice(), from, to, kind.String(), errText)
	w.final(a.Address, to, kind.String(), int(n))
	return err
}

// settleInterrupted deals with the messages of todo (the task's active
// ones) that a previous run left marked "sending": they were in flight when
// the service stopped. They are sent again when the operator chose so or
// when the provider's gateway deduplicates by message ID (idempotent: no
// duplicate possible); otherwise they are recorded as failed with kind
// ambiguous, and left out of what it returns.
func (w *taskWorker) settleInterrupted(ctx context.Context, a store.TaskArgs, todo []store.Message, idempotent bool) ([]store.Message, error) {
	if !slices.ContainsFunc(todo, func(m store.Message) bool { return m.Status == store.StateSending }) {
		return todo, nil // the common case: nothing to write
	}
	if w.resendInterrupted || idempotent {
		_, err := w.store.Settle(ctx, a.Slice(), []string{store.StateSending}, store.StateQueued, "", "")
		return todo, err
	}
	n, err := w.store.Settle(ctx, a.Slice(), []string{store.StateSending}, store.StateFailed, sms.KindAmbiguous.String(), errInterrupted.Error())
	w.final(a.Address, store.StateFailed, sms.KindAmbiguous.String(), int(n))
	if n > 0 {
		w.log.WarnContext(ctx, "messages in flight at a previous stop marked ambiguous", "task_id", a.TaskID, "count", n)
	}
	return slices.DeleteFunc(todo, func(m store.Message) bool { return m.Status == store.StateSending }), err
}

// send streams the messages todo through the provider's Client until the
// slice ends or the service drains, and records each outcome as it comes
// (in batches: see store.Recorder). stopped says whether it stopped before
// the end of todo; retries counts the messages left to the task's next
// attempt; runErr is why the Client stopped early; err the first failed
// write.
func (w *taskWorker) send(ctx context.Context, p *provider, a store.TaskArgs, todo []store.Message) (stopped bool, retries int, runErr, err error) {
	rec := w.store.Recorder()
	deadline := w.now().Add(w.slice)
	msgs := func(yield func(sms.Message) bool) {
		for _, m := range todo {
			select {
			case <-w.draining:
				stopped = true
				return
			default:
			}
			if w.now().After(deadline) {
				stopped = true
				return
			}
			if !yield(sms.Message{To: m.Number, Text: a.Text, From: a.From, ID: store.MessageKey(a.TaskID, m.Index)}) {
				return
			}
		}
	}
	_, runErr = p.client.MailingStream(ctx, sms.Stream{Messages: msgs, AllowDuplicates: true}, func(r sms.Result) {
		m := todo[r.Index]
		if !fillOutcome(&m, r) {
			return // not attempted for a reason that leaves it queued
		}
		rec.Record(m)
		if m.Status == store.StateRetry {
			retries++
		} else {
			w.final(a.Address, m.Status, m.Kind, 1)
		}
	})
	return stopped, retries, runErr, rec.Flush()
}

// fillOutcome copies a Result into m. It reports false for a message that
// was never handed to the provider because the run stopped (cancelled,
// closed), which stays queued, or because another run holds it.
func fillOutcome(m *store.Message, r sms.Result) bool {
	if errors.Is(r.Err, store.ErrNotClaimed) {
		return false // another run holds it and records its outcome
	}
	m.Vendor = r.Provider
	if m.Vendor == "" {
		m.Vendor = m.Address
	}
	m.MessageID = r.MessageID
	m.StatusCode = r.StatusCode
	m.URL = r.URL
	m.Kind, m.Error = "", ""
	switch r.Status {
	case sms.StatusSent:
		m.Status = store.StateSent
		return true
	case sms.StatusNotAttempted:
		return false
	case sms.StatusSkipped:
		m.Status = store.StateSkipped
	default:
		m.Status = store.StateFailed
	}
	if k, ok := r.Kind(); ok {
		m.Kind = k.String()
		if r.Status == sms.StatusFailed && (k == sms.KindTemporary || k == sms.KindThrottled) {
			m.Status = store.StateRetry // the task's next attempt sends it again
		}
	}
	if r.Err != nil {
		m.Error = r.Err.Error()
	}
	return true
}

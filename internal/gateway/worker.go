package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/riverqueue/river"

	"github.com/smsgateway/sms"
)

// taskArgs are the arguments of the one River job behind every task. The
// numbers are not in the job: they are rows of sms_message, which also
// record what became of each.
type taskArgs struct {
	TaskID  string `json:"task_id"`
	Address string `json:"address"`
	Text    string `json:"text"`
	From    string `json:"from,omitempty"`
}

// Kind is the River job kind.
func (taskArgs) Kind() string { return "sms_task" }

// taskOutput is what a finished job records with river.RecordOutput.
type taskOutput struct {
	Status string         `json:"status"` // SUCCESS or FAILURE
	Counts map[string]int `json:"counts"`
}

// taskWorker sends the active messages of a task. It is safe for concurrent
// use: River runs several tasks at once.
//
// One run handles the task's messages in input order for at most slice, then
// snoozes the job so that River runs it again at once: no run lasts longer
// than slice plus one message's send budget, so JobTimeout and
// RescueStuckJobsAfter can be set from the send timeout whatever the size of
// the mailing.
type taskWorker struct {
	river.WorkerDefaults[taskArgs]
	store     *store
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
}

// Timeout bounds one run; see taskWorker.
func (w *taskWorker) Timeout(*river.Job[taskArgs]) time.Duration { return w.timeout }

// errInterrupted is the cause recorded for a message that was in flight when
// the service stopped.
var errInterrupted = errors.New("interrupted: the service stopped while the message was being sent; it may have been sent")

// Work runs one slice of a task.
func (w *taskWorker) Work(ctx context.Context, job *river.Job[taskArgs]) error {
	a := job.Args
	defer w.done(a.TaskID)
	// Writes that record outcomes must not be lost to a cancelled job.
	wctx := context.WithoutCancel(ctx)
	if w.resendInterrupted {
		if _, err := w.store.settle(wctx, a.TaskID, []string{StateSending}, StateQueued, "", ""); err != nil {
			return err
		}
	} else {
		n, err := w.store.settle(wctx, a.TaskID, []string{StateSending}, StateFailed, sms.KindAmbiguous.String(), errInterrupted.Error())
		if err != nil {
			return err
		}
		if n > 0 {
			w.log.Warn("messages in flight at a previous stop marked ambiguous", "task_id", a.TaskID, "count", n)
		}
	}
	p, ok := w.providers[a.Address]
	if !ok {
		// The configuration changed since the task was accepted.
		msg := fmt.Sprintf("provider %q is no longer configured", a.Address)
		if _, err := w.store.settle(wctx, a.TaskID, []string{StateQueued, StateRetry}, StateNotAttempted, sms.KindFatal.String(), msg); err != nil {
			return err
		}
		return w.finish(wctx, a.TaskID)
	}
	todo, err := w.store.activeMessages(wctx, a.TaskID)
	if err != nil {
		return err
	}
	deadline := w.now().Add(w.slice)
	stopped := false // the slice ended or the service is draining
	seq := func(yield func(string) bool) {
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
			if !yield(m.Number) {
				return
			}
		}
	}
	var recErr error
	_, runErr := p.client.MailingStream(withTask(ctx, a.TaskID), sms.Stream{Text: a.Text, From: a.From, To: seq, AllowDuplicates: true}, func(r sms.Result) {
		m := todo[r.Index]
		if !fillOutcome(&m, r) {
			return // not attempted for a reason that leaves it queued
		}
		if err := w.store.record(wctx, m); err != nil && recErr == nil {
			recErr = err
		}
	})
	if recErr != nil {
		return fmt.Errorf("record results: %w", recErr)
	}
	var fatal *sms.Error
	switch {
	case errors.As(runErr, &fatal) && fatal.Kind == sms.KindFatal:
		if _, err := w.store.settle(wctx, a.TaskID, []string{StateQueued, StateRetry}, StateNotAttempted, sms.KindFatal.String(), "not attempted: "+fatal.Error()); err != nil {
			return err
		}
		return w.finish(wctx, a.TaskID)
	case runErr != nil || stopped:
		// Cancelled, timed out, draining, or the slice ended: what is left
		// stays queued and the job runs again without using an attempt.
		return river.JobSnooze(0)
	}
	counts, err := w.store.counts(wctx, a.TaskID)
	if err != nil {
		return err
	}
	if counts[StateRetry] > 0 && job.Attempt < job.MaxAttempts {
		return fmt.Errorf("%d message(s) failed temporarily; the task will retry them", counts[StateRetry])
	}
	if _, err := w.store.settle(wctx, a.TaskID, []string{StateRetry}, StateFailed, sms.KindTemporary.String(), "failed temporarily on every attempt of the task"); err != nil {
		return err
	}
	return w.finish(wctx, a.TaskID)
}

// finish records the task's outcome as the job's output.
func (w *taskWorker) finish(ctx context.Context, taskID string) error {
	counts, err := w.store.counts(ctx, taskID)
	if err != nil {
		return err
	}
	out := taskOutput{Status: statusFailure, Counts: counts}
	if counts[StateSent] > 0 && counts[StateNotAttempted] == 0 {
		out.Status = statusSuccess
	}
	return river.RecordOutput(ctx, out)
}

// fillOutcome copies a Result into m. It reports false for a message that
// was never handed to the provider because the run stopped (cancelled,
// closed): that message stays queued.
func fillOutcome(m *Message, r sms.Result) bool {
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
		m.Status = StateSent
		return true
	case sms.StatusNotAttempted:
		return false
	case sms.StatusSkipped:
		m.Status = StateSkipped
	default:
		m.Status = StateFailed
	}
	if k, ok := r.Kind(); ok {
		m.Kind = k.String()
		if r.Status == sms.StatusFailed && k.Retryable() {
			m.Status = StateRetry
		}
	}
	if r.Err != nil {
		m.Error = r.Err.Error()
	}
	return true
}

type taskKey struct{}

// withTask tells the provider wrapper which task a send belongs to.
func withTask(ctx context.Context, taskID string) context.Context {
	return context.WithValue(ctx, taskKey{}, taskID)
}

func taskFrom(ctx context.Context) (string, bool) {
	id, ok := ctx.Value(taskKey{}).(string)
	return id, ok
}

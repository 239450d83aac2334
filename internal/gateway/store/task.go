package store

import (
	"strconv"
	"strings"
	"time"

	"github.com/riverqueue/river/rivertype"
)

// The states of one message of a task, as stored in sms_message.status.
// Queued, sending and retry are active (see Active); the others are final.
const (
	// StateQueued: waiting to be sent.
	StateQueued = "queued"
	// StateSending: handed to the provider and not yet answered. A message
	// found in this state when its task starts again was in flight when the
	// service stopped.
	StateSending = "sending"
	// StateRetry: failed with a retryable outcome; sent again on the task's
	// next attempt.
	StateRetry = "retry"
	// StateSent: accepted by the gateway.
	StateSent = "sent"
	// StateFailed: not accepted, or (kind ambiguous) maybe accepted.
	StateFailed = "failed"
	// StateSkipped: never sent: the sms.Client refused it before any
	// provider saw it (it repeats an earlier number of the same mailing).
	StateSkipped = "skipped"
	// StateNotAttempted: never sent because the task stopped early (a fatal
	// outcome, or its provider is no longer configured).
	StateNotAttempted = "not_attempted"
)

// States lists every state, for validating a status filter.
var States = []string{StateQueued, StateSending, StateRetry, StateSent, StateFailed, StateSkipped, StateNotAttempted}

// activeStates are the states of messages not yet final: the one list the
// queries and Counts.Active use.
var activeStates = []string{StateQueued, StateSending, StateRetry}

// The kinds of task.
const (
	KindSending = "sending" // POST /sending: one number
	KindMailing = "mailing" // POST /mailing: many numbers
)

// Task is one row of sms_task: one request.
type Task struct {
	ID        string
	JobID     int64
	Kind      string // KindSending or KindMailing
	Address   string
	Total     int
	CreatedAt time.Time
	// CallbackURL, when set, gets an event for each message's outcome
	// and delivery (see events.go).
	CallbackURL string
}

// Message is one row of the message log: one number of one task, as GET
// /messages returns it.
type Message struct {
	// ID orders the log (newer is larger) and is the paging cursor.
	ID int64 `json:"id"`
	// TaskID and Index say which task and which entry of its input.
	TaskID string `json:"task_id"`
	Index  int    `json:"index"`
	// To is the number as the request gave it; Number is it as the
	// provider's sms.Client normalized it.
	To     string `json:"to"`
	Number string `json:"number"`
	// Status is one of the State constants.
	Status string `json:"status"`
	// Kind and Error say why a message was not sent (sms.Kind's names);
	// empty when it was.
	Kind  string `json:"kind,omitempty"`
	Error string `json:"error,omitempty"`
	// Attempts counts the calls to the provider, across runs of the task.
	Attempts int `json:"attempts"`
	// Address is the configured provider name the task asked for.
	Address string `json:"address"`
	// Vendor is the provider that handled the last attempt, when a
	// failover or routing provider says so; else the address.
	Vendor string `json:"vendor,omitempty"`
	// MessageID, StatusCode and URL are the gateway's answer to the last
	// attempt (sms.Receipt); the URL has its secrets redacted.
	MessageID  string `json:"message_id,omitempty"`
	StatusCode int    `json:"status_code,omitempty"`
	URL        string `json:"url,omitempty"`
	// Parts is how many SMS the text takes.
	Parts int `json:"parts"`
	// CreatedAt is when the task was accepted, UpdatedAt the last change,
	// SentAt when the gateway accepted the message (nil if it did not).
	CreatedAt time.Time  `json:"created_at"`
	UpdatedAt time.Time  `json:"updated_at"`
	SentAt    *time.Time `json:"sent_at,omitempty"`
	// Delivery is what the network reported (see the Delivery
	// constants); empty when no report was asked for. DeliveryCode is the
	// gateway's code in the deciding report, DeliveredAt when the final
	// status was reached.
	Delivery     string     `json:"delivery,omitempty"`
	DeliveryCode string     `json:"delivery_code,omitempty"`
	DeliveredAt  *time.Time `json:"delivered_at,omitempty"`
}

// Counts is how many messages of a task are in each state.
type Counts map[string]int

// CountsOf counts msgs by state.
func CountsOf(msgs []Message) Counts {
	c := Counts{}
	for _, m := range msgs {
		c[m.Status]++
	}
	return c
}

// Active is how many messages are not final yet.
func (c Counts) Active() int {
	n := 0
	for _, s := range activeStates {
		n += c[s]
	}
	return n
}

// Celery's task status names, which the original service's clients know.
const (
	StatusPending = "PENDING"
	StatusStarted = "STARTED"
	StatusRetry   = "RETRY"
	StatusSuccess = "SUCCESS"
	StatusFailure = "FAILURE"
)

// Outcome is the status of a task whose messages are all final: SUCCESS
// when at least one was sent and none was left unattempted, else FAILURE.
func (c Counts) Outcome() string {
	if c[StateSent] > 0 && c[StateNotAttempted] == 0 {
		return StatusSuccess
	}
	return StatusFailure
}

// Final reports whether a Celery status is the last a task gets.
func Final(status string) bool { return status == StatusSuccess || status == StatusFailure }

// TaskStatus maps a task's job (its first slice's; nil when River no
// longer has it: its cleaner deletes finished jobs after a day) and its
// counts to a Celery status name.
func TaskStatus(job *rivertype.JobRow, c Counts) string {
	if job != nil && (job.State == rivertype.JobStateDiscarded || job.State == rivertype.JobStateCancelled) {
		return StatusFailure
	}
	if c.Active() == 0 && len(c) > 0 {
		// Every message is final: the outcome is known even before River's
		// completer marks the job completed.
		return c.Outcome()
	}
	if job == nil {
		return StatusPending
	}
	switch job.State {
	case rivertype.JobStateRunning:
		return StatusStarted
	case rivertype.JobStateRetryable:
		return StatusRetry
	case rivertype.JobStateCompleted:
		// The first slice is done; others are not.
		return StatusStarted
	default: // available, scheduled, pending
		if n := len(job.Errors); n > 0 && job.Errors[n-1].Attempt == job.Attempt {
			return StatusRetry // the last run failed and the next is due
		}
		if job.AttemptedAt != nil {
			// A snoozed task has begun and resumes at once.
			return StatusStarted
		}
		return StatusPending
	}
}

// TaskArgs are the arguments of a River job of a task: one slice of its
// rows (see Slices), so that several processes share a large mailing. The
// numbers are not in the job: they are rows of sms_message, which also
// record what became of each.
type TaskArgs struct {
	TaskID  string `json:"task_id"`
	Address string `json:"address"`
	Text    string `json:"text"`
	From    string `json:"from,omitempty"`
	// First and End bound the slice: the rows with First <= idx < End. End
	// 0 means every row from First.
	First int `json:"first,omitempty"`
	End   int `json:"end,omitempty"`
	// Events: the task has a callback URL, so its runs queue events (see
	// Store.QueueEvents).
	Events bool `json:"events,omitempty"`
}

// Kind is the River job kind.
func (TaskArgs) Kind() string { return "sms_task" }

// Slicing: a task of n rows becomes min(maxSlices, ceil(n/minSliceRows))
// jobs of about equal size. Many slices let every process of a queue take
// some (a process runs Config.Workers jobs at once); few rows per slice
// would spend more on jobs than on messages.
const (
	maxSlices    = 64
	minSliceRows = 100
)

// Slices returns the jobs' arguments of a task of n rows, each args with
// its slice bounds, in row order.
func Slices(args TaskArgs, n int) []TaskArgs {
	jobs := max(1, min(maxSlices, (n+minSliceRows-1)/minSliceRows))
	size := max(1, (n+jobs-1)/jobs)
	out := make([]TaskArgs, 0, jobs)
	for first := 0; first < n; first += size {
		a := args
		a.First, a.End = first, min(first+size, n)
		out = append(out, a)
	}
	return out
}

// MessageKey is the sms.Message.ID of entry index of task taskID: the key
// an idempotent gateway deduplicates by, and the key the service marks the
// row with before each attempt.
func MessageKey(taskID string, index int) string { return taskID + "/" + strconv.Itoa(index) }

// ParseMessageKey splits a MessageKey; ok is false for any other string.
func ParseMessageKey(key string) (taskID string, index int, ok bool) {
	i := strings.LastIndexByte(key, '/')
	if i < 0 {
		return "", 0, false
	}
	n, err := strconv.Atoi(key[i+1:])
	if err != nil || n < 0 {
		return "", 0, false
	}
	return key[:i], n, true
}

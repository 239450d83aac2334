package store

import (
	"context"
	"slices"
	"time"

	"github.com/riverqueue/river"
)

// Event is what a task's callback URL receives, as JSON, when one of its
// messages reaches a final state (Type "outcome") and when its delivery
// status is final (Type "delivery").
type Event struct {
	// EventID is the same for every delivery of the event: receivers
	// deduplicate by it.
	EventID      string    `json:"event_id"`
	Type         string    `json:"type"`
	TaskID       string    `json:"task_id"`
	Index        int       `json:"index"`
	Number       string    `json:"number"`
	State        string    `json:"state"`
	Kind         string    `json:"kind,omitempty"`
	Error        string    `json:"error,omitempty"`
	Delivery     string    `json:"delivery,omitempty"`
	DeliveryCode string    `json:"delivery_code,omitempty"`
	MessageID    string    `json:"message_id,omitempty"`
	At           time.Time `json:"at"`
}

// The event types.
const (
	EventOutcome  = "outcome"
	EventDelivery = "delivery"
)

// CallbackArgs are the arguments of the River job that posts one event.
type CallbackArgs struct {
	URL   string `json:"url"`
	Event Event  `json:"event"`
}

// Kind is the River job kind.
func (CallbackArgs) Kind() string { return "sms_callback" }

// CallbackQueue is the River queue of the callback jobs, apart from the
// tasks' so that slow receivers never hold up sending.
const CallbackQueue = "callbacks"

// callbackAttempts is the MaxAttempts of a callback job: high, since the
// worker gives up by age (see gateway's callback worker).
const callbackAttempts = 10000

// The bits of sms_message.events_sent: the events already queued.
const (
	sentOutcome  = 1
	sentDelivery = 2
)

// eventRow is a message row with what its events need.
type eventRow struct {
	id                                     int64
	taskID                                 string
	index                                  int
	number, state, kind, errText, delivery string
	code, messageID, url                   string
	updated                                int64
	sentAt, delivered                      *int64
	sent                                   int
}

// due returns the events row owes its callback URL, and the events_sent
// bits once they are queued. It is the one rule of when an event is due:
// an outcome once the state is final, a delivery once its status is
// final, each once. An event's time is when it happened: a sent message's
// send, a delivery's report, else the row's last change.
func (r eventRow) due() (events []Event, sent int) {
	sent = r.sent
	add := func(typ string, bit int, at *int64) {
		e := Event{EventID: MessageKey(r.taskID, r.index) + "/" + typ, Type: typ, TaskID: r.taskID, Index: r.index,
			Number: r.number, State: r.state, Kind: r.kind, Error: r.errText, Delivery: r.delivery, DeliveryCode: r.code,
			MessageID: r.messageID, At: time.UnixMicro(r.updated).UTC()}
		if at != nil {
			e.At = time.UnixMicro(*at).UTC()
		}
		events = append(events, e)
		sent |= bit
	}
	if sent&sentOutcome == 0 && !slices.Contains(activeStates, r.state) {
		add(EventOutcome, sentOutcome, r.sentAt)
	}
	if sent&sentDelivery == 0 && r.delivery != "" && r.delivery != DeliveryPending {
		add(EventDelivery, sentDelivery, r.delivered)
	}
	return events, sent
}

// QueueEvents turns the message rows changed since the last call (those
// whose tasks have a callback URL) into callback jobs, at most limit rows
// at a time, and returns how many rows it took. Jobs and rows commit
// together, so an event is queued exactly when its row says so; a row
// changed by a crashed process is taken by the next call. Several
// processes may call it at once: on PostgreSQL each takes other rows. So
// each event is queued once, and its job need not be unique in River's
// sense (see wakeArgs for what that would cost River's scheduler).
func (s *Store) QueueEvents(ctx context.Context, limit int) (int, error) {
	q := `SELECT m.id, m.task_id, m.idx, m.number, m.status, m.kind, m.error, m.delivery, m.delivery_code, m.message_id,
		m.updated_at, m.sent_at, m.delivered_at, m.events_sent, t.callback_url
		FROM sms_message m JOIN sms_task t ON t.id = m.task_id WHERE m.notify = 1 ORDER BY m.id LIMIT ?`
	if s.postgres {
		q += ` FOR UPDATE OF m SKIP LOCKED`
	}
	n := 0
	err := s.q.inTx(ctx, func(tx querier, insert func([]river.InsertManyParams) error) error {
		rs, err := tx.query(ctx, q, limit)
		if err != nil {
			return err
		}
		var rows []eventRow
		for rs.Next() {
			var r eventRow
			if err := rs.Scan(&r.id, &r.taskID, &r.index, &r.number, &r.state, &r.kind, &r.errText, &r.delivery, &r.code,
				&r.messageID, &r.updated, &r.sentAt, &r.delivered, &r.sent, &r.url); err != nil {
				rs.Close()
				return err
			}
			rows = append(rows, r)
		}
		rs.Close()
		if err := rs.Err(); err != nil {
			return err
		}
		var jobs []river.InsertManyParams
		updates := make([][]any, len(rows))
		for i, r := range rows {
			events, sent := r.due()
			for _, e := range events {
				jobs = append(jobs, river.InsertManyParams{Args: CallbackArgs{URL: r.url, Event: e}, InsertOpts: &river.InsertOpts{
					Queue: CallbackQueue, MaxAttempts: callbackAttempts,
				}})
			}
			updates[i] = []any{sent, r.id}
		}
		if len(jobs) > 0 {
			if err := insert(jobs); err != nil {
				return err
			}
		}
		if len(updates) > 0 {
			if _, err := tx.execMany(ctx, `UPDATE sms_message SET notify = 0, events_sent = ? WHERE id = ?`, updates); err != nil {
				return err
			}
		}
		n = len(rows)
		return nil
	})
	return n, err
}

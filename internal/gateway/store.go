package gateway

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// The states of one message of a task, as stored in sms_message.status.
// queued, sending and retry are active; the others are final.
const (
	// StateQueued: waiting to be sent.
	StateQueued = "queued"
	// StateSending: handed to the provider and not yet answered. A message
	// found in this state when its task starts again was in flight when the
	// service stopped (see the package doc).
	StateSending = "sending"
	// StateRetry: failed with a retryable outcome; sent again on the task's
	// next attempt.
	StateRetry = "retry"
	// StateSent: accepted by the gateway.
	StateSent = "sent"
	// StateFailed: not accepted, or (kind ambiguous) maybe accepted.
	StateFailed = "failed"
	// StateSkipped: never sent because it repeats an earlier number of the
	// same mailing.
	StateSkipped = "skipped"
	// StateNotAttempted: never sent because the mailing stopped early.
	StateNotAttempted = "not_attempted"
)

// allStates lists every state, for validation of the status filter.
var allStates = []string{StateQueued, StateSending, StateRetry, StateSent, StateFailed, StateSkipped, StateNotAttempted}

// Message is one row of the message log: one number of one task, as GET
// /messages returns it.
type Message struct {
	// ID orders the log (newer is larger) and is the paging cursor.
	ID int64 `json:"id"`
	// TaskID and Index say which task and which entry of its input.
	TaskID string `json:"task_id"`
	Index  int    `json:"index"`
	// To is the number as the request gave it; Number is it normalized.
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
}

// task is one row of sms_task.
type task struct {
	ID        string
	JobID     int64
	Kind      string // kindSending or kindMailing
	Address   string
	Total     int
	CreatedAt time.Time
}

const (
	kindSending = "sending"
	kindMailing = "mailing"
)

// store reads and writes the service's own tables. Its methods are safe for
// concurrent use (the database serializes them).
type store struct {
	db       querier
	postgres bool
	now      func() time.Time
}

// migrations are the service's schema versions, applied in order. Each is a
// list of statements; "{{id}}" becomes the dialect's auto-increment key.
var migrations = [][]string{
	{
		`CREATE TABLE sms_task (
			id TEXT PRIMARY KEY,
			job_id BIGINT NOT NULL,
			kind TEXT NOT NULL,
			address TEXT NOT NULL,
			total INTEGER NOT NULL,
			created_at BIGINT NOT NULL
		)`,
		`CREATE TABLE sms_message (
			id {{id}},
			task_id TEXT NOT NULL,
			idx INTEGER NOT NULL,
			to_raw TEXT NOT NULL,
			number TEXT NOT NULL,
			status TEXT NOT NULL,
			kind TEXT NOT NULL DEFAULT '',
			error TEXT NOT NULL DEFAULT '',
			attempts INTEGER NOT NULL DEFAULT 0,
			address TEXT NOT NULL,
			vendor TEXT NOT NULL DEFAULT '',
			message_id TEXT NOT NULL DEFAULT '',
			status_code INTEGER NOT NULL DEFAULT 0,
			url TEXT NOT NULL DEFAULT '',
			parts INTEGER NOT NULL DEFAULT 0,
			created_at BIGINT NOT NULL,
			updated_at BIGINT NOT NULL,
			sent_at BIGINT,
			UNIQUE (task_id, idx)
		)`,
		`CREATE INDEX sms_message_task_number ON sms_message (task_id, number)`,
		`CREATE INDEX sms_message_number ON sms_message (number, id)`,
		`CREATE INDEX sms_message_created ON sms_message (created_at, id)`,
		`CREATE INDEX sms_message_status ON sms_message (status, id)`,
	},
}

// migrate brings the service's tables to the latest version. It is safe to
// run from several processes at once: on PostgreSQL an advisory lock
// serializes them, and SQLite serializes writers itself.
func (s *store) migrate(ctx context.Context, begin func(ctx context.Context) (querier, func() error, func(), error)) error {
	q, commit, rollback, err := begin(ctx)
	if err != nil {
		return err
	}
	defer rollback()
	if s.postgres {
		if _, err := q.exec(ctx, `SELECT pg_advisory_xact_lock(7302011)`); err != nil {
			return err
		}
	}
	if _, err := q.exec(ctx, `CREATE TABLE IF NOT EXISTS sms_migration (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)`); err != nil {
		return fmt.Errorf("create sms_migration: %w", err)
	}
	var current int
	if err := q.queryRow(ctx, `SELECT COALESCE(MAX(version), 0) FROM sms_migration`).Scan(&current); err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}
	id := "INTEGER PRIMARY KEY AUTOINCREMENT"
	if s.postgres {
		id = "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY"
	}
	for v := current + 1; v <= len(migrations); v++ {
		for _, stmt := range migrations[v-1] {
			if _, err := q.exec(ctx, strings.ReplaceAll(stmt, "{{id}}", id)); err != nil {
				return fmt.Errorf("schema version %d: %w", v, err)
			}
		}
		if _, err := q.exec(ctx, `INSERT INTO sms_migration (version, applied_at) VALUES (?, ?)`, v, s.now().UnixMicro()); err != nil {
			return err
		}
	}
	return commit()
}

const insertChunk = 500

// insertTask writes the task and one queued message per number, within the
// caller's transaction q.
func (s *store) insertTask(ctx context.Context, q querier, t task, msgs []Message) error {
	now := s.now().UnixMicro()
	if _, err := q.exec(ctx, `INSERT INTO sms_task (id, job_id, kind, address, total, created_at) VALUES (?, ?, ?, ?, ?, ?)`,
		t.ID, t.JobID, t.Kind, t.Address, t.Total, now); err != nil {
		return fmt.Errorf("insert task: %w", err)
	}
	const cols = 10
	for start := 0; start < len(msgs); start += insertChunk {
		chunk := msgs[start:min(start+insertChunk, len(msgs))]
		var b strings.Builder
		b.WriteString(`INSERT INTO sms_message (task_id, idx, to_raw, number, status, error, address, parts, created_at, updated_at) VALUES `)
		args := make([]any, 0, len(chunk)*cols)
		for i, m := range chunk {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString("(?,?,?,?,?,?,?,?,?,?)")
			args = append(args, t.ID, m.Index, m.To, m.Number, m.Status, m.Error, t.Address, m.Parts, now, now)
		}
		if _, err := q.exec(ctx, b.String(), args...); err != nil {
			return fmt.Errorf("insert messages: %w", err)
		}
	}
	return nil
}

// errTaskNotFound is returned for an unknown task ID.
var errTaskNotFound = errors.New("task not found")

func (s *store) task(ctx context.Context, id string) (task, error) {
	t := task{ID: id}
	var created int64
	err := s.db.queryRow(ctx, `SELECT job_id, kind, address, total, created_at FROM sms_task WHERE id = ?`, id).
		Scan(&t.JobID, &t.Kind, &t.Address, &t.Total, &created)
	if errors.Is(err, errNoRows) {
		return t, errTaskNotFound
	}
	t.CreatedAt = time.UnixMicro(created).UTC()
	return t, err
}

const messageCols = `id, task_id, idx, to_raw, number, status, kind, error, attempts, address, vendor, message_id, status_code, url, parts, created_at, updated_at, sent_at`

func scanMessage(r scanner) (Message, error) {
	var m Message
	var created, updated int64
	var sent *int64
	err := r.Scan(&m.ID, &m.TaskID, &m.Index, &m.To, &m.Number, &m.Status, &m.Kind, &m.Error, &m.Attempts,
		&m.Address, &m.Vendor, &m.MessageID, &m.StatusCode, &m.URL, &m.Parts, &created, &updated, &sent)
	m.CreatedAt = time.UnixMicro(created).UTC()
	m.UpdatedAt = time.UnixMicro(updated).UTC()
	if sent != nil {
		t := time.UnixMicro(*sent).UTC()
		m.SentAt = &t
	}
	return m, err
}

func (s *store) collect(ctx context.Context, q string, args ...any) ([]Message, error) {
	r, err := s.db.query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	var out []Message
	for r.Next() {
		m, err := scanMessage(r)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, r.Err()
}

// taskMessages returns the messages of a task in input order.
func (s *store) taskMessages(ctx context.Context, taskID string) ([]Message, error) {
	return s.collect(ctx, `SELECT `+messageCols+` FROM sms_message WHERE task_id = ? ORDER BY idx`, taskID)
}

// activeMessages returns the messages of a task that are not final, in input
// order.
func (s *store) activeMessages(ctx context.Context, taskID string) ([]Message, error) {
	return s.collect(ctx, `SELECT `+messageCols+` FROM sms_message WHERE task_id = ? AND status IN (?, ?, ?) ORDER BY idx`,
		taskID, StateQueued, StateSending, StateRetry)
}

// counts returns how many messages of a task are in each state.
func (s *store) counts(ctx context.Context, taskID string) (map[string]int, error) {
	r, err := s.db.query(ctx, `SELECT status, COUNT(*) FROM sms_message WHERE task_id = ? GROUP BY status`, taskID)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	out := make(map[string]int)
	for r.Next() {
		var st string
		var n int
		if err := r.Scan(&st, &n); err != nil {
			return nil, err
		}
		out[st] = n
	}
	return out, r.Err()
}

// markSending records that number of task is being handed to the provider,
// and counts the attempt. It is written before the provider is called, so
// that a crash leaves the message marked as in flight.
func (s *store) markSending(ctx context.Context, taskID, number string) error {
	_, err := s.db.exec(ctx, `UPDATE sms_message SET status = ?, attempts = attempts + 1, updated_at = ? WHERE task_id = ? AND number = ? AND status IN (?, ?, ?)`,
		StateSending, s.now().UnixMicro(), taskID, number, StateQueued, StateSending, StateRetry)
	return err
}

// record stores the outcome of message m.ID. The attempts are not written:
// markSending counts them, across runs of the task too.
func (s *store) record(ctx context.Context, m Message) error {
	now := s.now().UnixMicro()
	var sent *int64
	if m.Status == StateSent {
		sent = &now
	}
	_, err := s.db.exec(ctx, `UPDATE sms_message SET status = ?, kind = ?, error = ?, vendor = ?, message_id = ?, status_code = ?, url = ?, updated_at = ?, sent_at = COALESCE(?, sent_at) WHERE id = ?`,
		m.Status, m.Kind, m.Error, m.Vendor, m.MessageID, m.StatusCode, m.URL, now, sent, m.ID)
	return err
}

// settle moves every message of a task in one of the from states to state
// to, with the given kind and error text. It returns how many it moved.
func (s *store) settle(ctx context.Context, taskID string, from []string, to, kind, errText string) (int64, error) {
	q := `UPDATE sms_message SET status = ?, kind = ?, error = ?, updated_at = ? WHERE task_id = ? AND status IN (` +
		strings.TrimSuffix(strings.Repeat("?,", len(from)), ",") + `)`
	args := []any{to, kind, errText, s.now().UnixMicro(), taskID}
	for _, f := range from {
		args = append(args, f)
	}
	return s.db.exec(ctx, q, args...)
}

// queueDepth counts the messages not yet final, for the metrics.
func (s *store) queueDepth(ctx context.Context) (int, error) {
	var n int
	err := s.db.queryRow(ctx, `SELECT COUNT(*) FROM sms_message WHERE status IN (?, ?, ?)`, StateQueued, StateSending, StateRetry).Scan(&n)
	return n, err
}

// MessageFilter selects messages for GET /messages. Zero fields select
// everything.
type MessageFilter struct {
	// Number is a normalized number.
	Number string
	// Status is one of the State constants.
	Status string
	TaskID string
	// From and To bound CreatedAt: at or after From, before To.
	From time.Time
	To   time.Time
	// After is the cursor: only messages with a smaller ID (the list is
	// newest first).
	After int64
	// Limit is the page size; it must be positive.
	Limit int
}

// listMessages returns messages newest first, and the cursor for the next
// page (0 when this page is the last).
func (s *store) listMessages(ctx context.Context, f MessageFilter) ([]Message, int64, error) {
	var where []string
	var args []any
	add := func(cond string, arg any) {
		where = append(where, cond)
		args = append(args, arg)
	}
	if f.Number != "" {
		add("number = ?", f.Number)
	}
	if f.Status != "" {
		add("status = ?", f.Status)
	}
	if f.TaskID != "" {
		add("task_id = ?", f.TaskID)
	}
	if !f.From.IsZero() {
		add("created_at >= ?", f.From.UnixMicro())
	}
	if !f.To.IsZero() {
		add("created_at < ?", f.To.UnixMicro())
	}
	if f.After > 0 {
		add("id < ?", f.After)
	}
	q := `SELECT ` + messageCols + ` FROM sms_message`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY id DESC LIMIT ?"
	args = append(args, f.Limit+1)
	out, err := s.collect(ctx, q, args...)
	if err != nil {
		return nil, 0, err
	}
	var next int64
	if len(out) > f.Limit {
		out = out[:f.Limit]
		next = out[len(out)-1].ID
	}
	return out, next, nil
}

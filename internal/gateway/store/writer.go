package store

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/smsgateway/sms"
)

// writer groups the Store's row writes into few transactions (group
// commit): one goroutine runs them, and the writes that arrive while a
// transaction commits join the next one, up to maxBatch. Under load one
// commit then serves many messages and tasks; alone, a write waits for
// nothing but its own commit. A batch that fails runs again one write per
// transaction, so that a write fails only for its own reason.
//
// A write is either waited for (MarkSending: the mark must be durable
// before the provider is called) or queued by a Recorder (Record: Flush
// reports its error). A crash can lose the queued writes of the batches not
// yet committed: those messages stay "sending", and the next run reports
// them as interrupted. The writes of a batch that share a statement run as
// one (see querier.execMany): prepared once, or in one round trip.
type writer struct {
	begin func(ctx context.Context) (any, querier, func() error, func(), error)
	reqs  chan write
	done  chan struct{}

	mu     sync.RWMutex // guards closed against sends on reqs
	closed bool
}

// write is one statement with its arguments, or a function (a task's
// insert: see riverQueue.insert), run inside its batch's transaction; done
// gets the rows the statement changed and the batch's outcome (n is 0 when
// err is not nil).
type write struct {
	sql  string
	args []any
	// fn, when set, runs instead of sql, with the driver's handle of the
	// transaction and the Store's.
	fn   func(ctx context.Context, tx any, q querier) error
	done func(n int64, err error)
}

// maxBatch bounds the writes of one transaction.
const maxBatch = 256

// batchTimeout bounds one batch's transaction.
const batchTimeout = 30 * time.Second

// errClosed is the outcome of a write after the Store closed.
var errClosed = errors.New("store: closed")

func newWriter(begin func(ctx context.Context) (any, querier, func() error, func(), error)) *writer {
	w := &writer{begin: begin, reqs: make(chan write, maxBatch), done: make(chan struct{})}
	go w.loop()
	return w
}

func (w *writer) loop() {
	defer close(w.done)
	for first := range w.reqs {
		batch := []write{first}
	more:
		for len(batch) < maxBatch {
			select {
			case r, ok := <-w.reqs:
				if !ok {
					break more
				}
				batch = append(batch, r)
			default:
				break more
			}
		}
		if n, err := w.commit(batch); err == nil || len(batch) == 1 {
			for i, r := range batch {
				if err != nil {
					r.done(0, err)
					continue
				}
				r.done(n[i], nil)
			}
			continue
		}
		for _, r := range batch {
			n, err := w.commit([]write{r})
			if err != nil {
				r.done(0, err)
				continue
			}
			r.done(n[0], nil)
		}
	}
}

// commit runs a batch in one transaction, and returns the rows each write
// changed.
func (w *writer) commit(batch []write) ([]int64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), batchTimeout)
	defer cancel()
	tx, q, commit, rollback, err := w.begin(ctx)
	if err != nil {
		return nil, err
	}
	defer rollback()
	var stmts []string // in order of first use
	args := map[string][][]any{}
	at := map[string][]int{} // the batch index of each of args[sql]
	for i, r := range batch {
		if r.fn != nil {
			if err := r.fn(ctx, tx, q); err != nil {
				return nil, err
			}
			continue
		}
		if _, ok := args[r.sql]; !ok {
			stmts = append(stmts, r.sql)
		}
		args[r.sql] = append(args[r.sql], r.args)
		at[r.sql] = append(at[r.sql], i)
	}
	n := make([]int64, len(batch))
	for _, st := range stmts {
		changed, err := q.execMany(ctx, st, args[st])
		if err != nil {
			return nil, err
		}
		for j, c := range changed {
			n[at[st][j]] = c
		}
	}
	return n, commit()
}

// submit hands a write to the loop, or reports errClosed through its done.
func (w *writer) submit(r write) {
	w.mu.RLock()
	defer w.mu.RUnlock()
	if w.closed {
		r.done(0, errClosed)
		return
	}
	w.reqs <- r
}

// wait runs a statement in the next batch and returns the rows it changed
// when that batch committed, or when ctx is done (the write may then still
// happen).
func (w *writer) wait(ctx context.Context, sql string, args ...any) (int64, error) {
	return w.run(ctx, write{sql: sql, args: args})
}

// run submits r and waits for it as wait does.
func (w *writer) run(ctx context.Context, r write) (int64, error) {
	type result struct {
		n   int64
		err error
	}
	res := make(chan result, 1)
	r.done = func(n int64, err error) { res <- result{n, err} }
	w.submit(r)
	select {
	case r := <-res:
		return r.n, r.err
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

// close ends the writer after the writes already submitted.
func (w *writer) close() {
	w.mu.Lock()
	if !w.closed {
		w.closed = true
		close(w.reqs)
	}
	w.mu.Unlock()
	<-w.done
}

// Recorder queues the outcomes of one run of a task for the Store's next
// transactions, so that a mailing costs few commits. Its methods are safe
// for concurrent use.
type Recorder struct {
	w       *writer
	now     func() time.Time
	pending sync.WaitGroup
	mu      sync.Mutex
	err     error // the first failed write
}

// Recorder returns a Recorder for one run.
func (s *Store) Recorder() *Recorder { return &Recorder{w: s.w, now: s.now} }

// recordSQL stores one outcome. The attempts are not written: MarkSending
// counts them, across runs of the task too. A pending delivery stays
// pending unless the outcome proves the gateway does not have the message
// (an ambiguous failure may still bring a report).
const recordSQL = `UPDATE sms_message SET status = ?, kind = ?, error = ?, vendor = ?, message_id = ?, status_code = ?, url = ?, updated_at = ?, sent_at = COALESCE(?, sent_at),
	delivery = CASE WHEN delivery = 'pending' AND ? = 1 THEN '' ELSE delivery END, notify = wants_events WHERE id = ?`

// Record queues the outcome of message m.ID.
func (r *Recorder) Record(m Message) {
	now := r.now().UnixMicro()
	var sent *int64
	if m.Status == StateSent {
		sent = &now
	}
	notSent := 0
	if m.Status != StateSent && m.Kind != sms.KindAmbiguous.String() {
		notSent = 1
	}
	r.pending.Add(1)
	r.w.submit(write{
		sql:  recordSQL,
		args: []any{m.Status, m.Kind, m.Error, m.Vendor, m.MessageID, m.StatusCode, m.URL, now, sent, notSent, m.ID},
		done: func(_ int64, err error) {
			if err != nil {
				r.mu.Lock()
				if r.err == nil {
					r.err = err
				}
				r.mu.Unlock()
			}
			r.pending.Done()
		},
	})
}

// Flush waits until every outcome recorded is committed, and returns the
// first write that failed.
func (r *Recorder) Flush() error {
	r.pending.Wait()
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.err
}

package store

import (
	"context"
	"errors"
	"sync"
	"time"
)

// writer groups the Store's row writes into few transactions (group
// commit): one goroutine runs them, and the writes that arrive while a
// transaction commits join the next one, up to maxBatch. Under load one
// commit then serves many messages; alone, a write waits for nothing but
// its own commit.
//
// A write is either waited for (MarkSending: the mark must be durable
// before the provider is called) or queued by a Recorder (Record: Flush
// reports its error). A crash can lose the queued writes of the batches not
// yet committed: those messages stay "sending", and the next run reports
// them as interrupted. The writes of a batch that share a statement run as
// one (see querier.execMany): prepared once, or in one round trip.
type writer struct {
	begin func(ctx context.Context) (querier, func() error, func(), error)
	reqs  chan write
	done  chan struct{}

	mu     sync.RWMutex // guards closed against sends on reqs
	closed bool
}

// write is one statement with its arguments, run inside its batch's
// transaction; done gets the batch's outcome.
type write struct {
	sql  string
	args []any
	done func(error)
}

// maxBatch bounds the writes of one transaction.
const maxBatch = 256

// batchTimeout bounds one batch's transaction.
const batchTimeout = 30 * time.Second

// errClosed is the outcome of a write after the Store closed.
var errClosed = errors.New("store: closed")

func newWriter(begin func(ctx context.Context) (querier, func() error, func(), error)) *writer {
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
		err := w.commit(batch)
		for _, r := range batch {
			r.done(err)
		}
	}
}

// commit runs a batch in one transaction.
func (w *writer) commit(batch []write) error {
	ctx, cancel := context.WithTimeout(context.Background(), batchTimeout)
	defer cancel()
	q, commit, rollback, err := w.begin(ctx)
	if err != nil {
		return err
	}
	defer rollback()
	var stmts []string // in order of first use
	args := map[string][][]any{}
	for _, r := range batch {
		if _, ok := args[r.sql]; !ok {
			stmts = append(stmts, r.sql)
		}
		args[r.sql] = append(args[r.sql], r.args)
	}
	for _, st := range stmts {
		if err := q.execMany(ctx, st, args[st]); err != nil {
			return err
		}
	}
	return commit()
}

// submit hands a write to the loop, or reports errClosed through its done.
func (w *writer) submit(r write) {
	w.mu.RLock()
	defer w.mu.RUnlock()
	if w.closed {
		r.done(errClosed)
		return
	}
	w.reqs <- r
}

// wait runs a statement in the next batch and returns when that batch
// committed, or when ctx is done (the write may then still happen).
func (w *writer) wait(ctx context.Context, sql string, args ...any) error {
	res := make(chan error, 1)
	w.submit(write{sql: sql, args: args, done: func(err error) { res <- err }})
	select {
	case err := <-res:
		return err
	case <-ctx.Done():
		return ctx.Err()
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
// counts them, across runs of the task too.
const recordSQL = `UPDATE sms_message SET status = ?, kind = ?, error = ?, vendor = ?, message_id = ?, status_code = ?, url = ?, updated_at = ?, sent_at = COALESCE(?, sent_at) WHERE id = ?`

// Record queues the outcome of message m.ID.
func (r *Recorder) Record(m Message) {
	now := r.now().UnixMicro()
	var sent *int64
	if m.Status == StateSent {
		sent = &now
	}
	r.pending.Add(1)
	r.w.submit(write{
		sql:  recordSQL,
		args: []any{m.Status, m.Kind, m.Error, m.Vendor, m.MessageID, m.StatusCode, m.URL, now, sent, m.ID},
		done: func(err error) {
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

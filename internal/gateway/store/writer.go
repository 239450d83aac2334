package store

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/smsgateway/sms"
)

// writer groups the Store's row writes into few transactions (group
// commit): one goroutine runs them (or a few: see newWriter), and the
// writes that arrive while a transaction commits join the next one, up to
// maxBatch. Under load one commit then serves many messages and tasks;
// alone, a write waits for nothing but its own commit. A batch that fails runs again one write per
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
	// oneTrip, where the driver has it, runs statements with their
	// argument lists as one transaction in one round trip (see
	// pgxQuerier.batch).
	oneTrip func(ctx context.Context, stmts []string, args [][][]any) ([][]int64, error)
	reqs    chan write
	done    chan struct{}

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

// newWriter starts a writer with loops goroutines, each running one
// transaction at a time.
func newWriter(loops int, begin func(ctx context.Context) (any, querier, func() error, func(), error), oneTrip func(ctx context.Context, stmts []string, args [][][]any) ([][]int64, error)) *writer {
	w := &writer{begin: begin, oneTrip: oneTrip, reqs: make(chan write, maxBatch), done: make(chan struct{})}
	var wg sync.WaitGroup
	for range loops {
		wg.Go(w.loop)
	}
	go func() {
		wg.Wait()
		close(w.done)
	}()
	return w
}

func (w *writer) loop() {
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
// changed. The writes that share a statement run together (see
// querier.execMany); a batch of statements alone runs in one round trip
// where the driver can (oneTrip).
func (w *writer) commit(batch []write) ([]int64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), batchTimeout)
	defer cancel()
	var stmts []string // in order of first use
	var args [][][]any
	var at [][]int // the batch index of each of args[i]
	index := map[string]int{}
	var fns []write
	for i, r := range batch {
		if r.fn != nil {
			fns = append(fns, r)
			continue
		}
		k, ok := index[r.sql]
		if !ok {
			k = len(stmts)
			index[r.sql] = k
			stmts, args, at = append(stmts, r.sql), append(args, nil), append(at, nil)
		}
		args[k] = append(args[k], r.args)
		at[k] = append(at[k], i)
	}
	var changed [][]int64
	var err error
	if w.oneTrip != nil && len(fns) == 0 {
		changed, err = w.oneTrip(ctx, stmts, args)
	} else {
		changed, err = w.inTx(ctx, fns, stmts, args)
	}
	if err != nil {
		return nil, err
	}
	n := make([]int64, len(batch))
	for k := range stmts {
		for j, c := range changed[k] {
			n[at[k][j]] = c
		}
	}
	return n, nil
}

// inTx runs the function writes fns, then each statement with its argument
// lists, in one transaction.
func (w *writer) inTx(ctx context.Context, fns []write, stmts []string, args [][][]any) ([][]int64, error) {
	tx, q, commit, rollback, err := w.begin(ctx)
	if err != nil {
		return nil, err
	}
	defer rollback()
	for _, r := range fns {
		if err := r.fn(ctx, tx, q); err != nil {
			return nil, err
		}
	}
	changed := make([][]int64, len(stmts))
	for k, st := range stmts {
		if changed[k], err = q.execMany(ctx, st, args[k]); err != nil {
			return nil, err
		}
	}
	return changed, commit()
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

package store

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fakeTx counts transactions and the writes committed in each; a begin
// waits for gate when it is not nil.
type fakeTx struct {
	mu      sync.Mutex
	batches []int
	gate    chan struct{}
	began   chan struct{}
}

func (f *fakeTx) begin(context.Context) (any, querier, func() error, func(), error) {
	if f.began != nil {
		f.began <- struct{}{}
	}
	if f.gate != nil {
		<-f.gate
	}
	n := 0
	q := countingQuerier{n: &n}
	return f, q, func() error {
		f.mu.Lock()
		f.batches = append(f.batches, n)
		f.mu.Unlock()
		return nil
	}, func() {}, nil
}

type countingQuerier struct{ n *int }

var errBoom = errors.New("boom")

func (c countingQuerier) exec(context.Context, string, ...any) (int64, error) { *c.n++; return 1, nil }

// execMany says each run changed as many rows as its first argument, when
// that is an int64.
func (c countingQuerier) execMany(_ context.Context, q string, args [][]any) ([]int64, error) {
	if q == "fail" {
		return nil, errBoom
	}
	*c.n += len(args)
	n := make([]int64, len(args))
	for i, a := range args {
		if len(a) > 0 {
			n[i], _ = a[0].(int64)
		}
	}
	return n, nil
}
func (c countingQuerier) query(context.Context, string, ...any) (rows, error) { return nil, nil }
func (c countingQuerier) queryRow(context.Context, string, ...any) scanner    { return nil }

// heldWriter returns a writer of one loop whose first transaction, of one
// write, is open and held, and the function that lets it commit (and
// checks that it did): the writes submitted meanwhile wait for the next.
func heldWriter(t *testing.T) (*fakeTx, *writer, func()) {
	f := &fakeTx{gate: make(chan struct{}), began: make(chan struct{}, 1)}
	w := newWriter(1, f.begin, nil)
	t.Cleanup(w.close)
	first := make(chan error, 1)
	go func() { _, err := w.wait(context.Background(), "x"); first <- err }()
	<-f.began
	return f, w, func() {
		f.began = nil
		close(f.gate)
		require.NoError(t, <-first)
	}
}

// TestWriterGroupsWrites: the writes that arrive while a transaction
// commits share the next one.
func TestWriterGroupsWrites(t *testing.T) {
	f, w, release := heldWriter(t)
	r := &Recorder{w: w, now: time.Now}
	for range 10 {
		r.pending.Add(1)
		w.submit(write{sql: "x", done: func(int64, error) { r.pending.Done() }})
	}
	release()
	require.NoError(t, r.Flush())
	assert.Equal(t, []int{1, 10}, f.batches, "one commit for the ten writes queued meanwhile")
}

// TestWriterLoops: a writer of two loops runs a second transaction while
// the first is held.
func TestWriterLoops(t *testing.T) {
	f := &fakeTx{gate: make(chan struct{}), began: make(chan struct{}, 2)}
	w := newWriter(2, f.begin, nil)
	defer w.close()
	release := sync.OnceFunc(func() { close(f.gate) })
	defer release() // before close, also on failure
	errs := make(chan error, 2)
	for range 2 {
		go func() { _, err := w.wait(context.Background(), "x"); errs <- err }()
		select {
		case <-f.began:
		case <-time.After(5 * time.Second):
			t.Fatal("a transaction did not begin while the other was held")
		}
	}
	release()
	require.NoError(t, <-errs)
	require.NoError(t, <-errs)
	assert.Equal(t, []int{1, 1}, f.batches)
}

// TestWriterFailure: a failed write fails its batch, and the waiter or
// the Recorder hears of it.
func TestWriterFailure(t *testing.T) {
	f := &fakeTx{}
	w := newWriter(1, f.begin, nil)
	_, err := w.wait(context.Background(), "fail")
	assert.ErrorIs(t, err, errBoom)

	r := &Recorder{w: w, now: time.Now}
	r.Record(Message{ID: 1})
	r.pending.Add(1)
	w.submit(write{sql: "fail", done: func(_ int64, err error) {
		r.mu.Lock()
		r.err = err
		r.mu.Unlock()
		r.pending.Done()
	}})
	assert.ErrorIs(t, r.Flush(), errBoom)

	w.close()
	_, err = w.wait(context.Background(), "x")
	assert.ErrorIs(t, err, errClosed, "after close")
}

// TestWriterCounts: each write hears how many rows it changed, although
// the writes of one statement run together.
func TestWriterCounts(t *testing.T) {
	_, w, release := heldWriter(t)
	got := make([]int64, 6)
	var wg sync.WaitGroup
	for i := range got {
		wg.Add(1)
		sql := []string{"a", "b"}[i%2]
		w.submit(write{sql: sql, args: []any{int64(i * 10)}, done: func(n int64, err error) {
			assert.NoError(t, err)
			got[i] = n
			wg.Done()
		}})
	}
	release()
	wg.Wait()
	assert.Equal(t, []int64{0, 10, 20, 30, 40, 50}, got)
}

// TestWriterIsolatesFailure: when a write fails a batch of several, the
// others commit without it, each alone; a function write runs with the
// batch's transaction.
func TestWriterIsolatesFailure(t *testing.T) {
	f, w, release := heldWriter(t)
	errs := make([]error, 3)
	var wg sync.WaitGroup
	for i, r := range []write{
		{sql: "a", args: []any{int64(1)}},
		{sql: "fail"},
		{fn: func(_ context.Context, tx any, q querier) error {
			assert.Same(t, f, tx, "the batch's transaction")
			_, err := q.exec(context.Background(), "b")
			return err
		}},
	} {
		wg.Add(1)
		r.done = func(_ int64, err error) { errs[i] = err; wg.Done() }
		w.submit(r)
	}
	release()
	wg.Wait()
	assert.NoError(t, errs[0])
	assert.ErrorIs(t, errs[1], errBoom)
	assert.NoError(t, errs[2])
	assert.Equal(t, []int{1, 1, 1}, f.batches, "the held write, then the two good ones alone")
}

// TestWriterOneTrip: where the driver runs statements in one round trip,
// a batch of statements goes there, and a batch with a function write
// still gets a transaction.
func TestWriterOneTrip(t *testing.T) {
	f := &fakeTx{}
	var trips [][]string
	w := newWriter(1, f.begin, func(_ context.Context, stmts []string, args [][][]any) ([][]int64, error) {
		trips = append(trips, stmts)
		n := make([][]int64, len(stmts))
		for i := range stmts {
			n[i] = make([]int64, len(args[i]))
		}
		return n, nil
	})
	_, err := w.wait(context.Background(), "x")
	require.NoError(t, err)
	_, err = w.run(context.Background(), write{fn: func(context.Context, any, querier) error { return nil }})
	require.NoError(t, err)
	w.close()
	assert.Equal(t, [][]string{{"x"}}, trips)
	assert.Equal(t, []int{0}, f.batches, "the function write's transaction")
}

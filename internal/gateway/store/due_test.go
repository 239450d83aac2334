package store

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smsgateway/sms/internal/gateway/pgtest"
)

// fakeQueue is a jobQueue of scheduled jobs that records the wake-ups
// (each sends its job ID on released).
type fakeQueue struct {
	mu       sync.Mutex
	jobs     map[int64]*rivertype.JobRow
	released chan int64
	woken    []string
}

func (f *fakeQueue) insert(context.Context, []TaskArgs, *river.InsertOpts, Task, []Message) ([]int64, error) {
	return nil, nil
}
func (f *fakeQueue) subscribe(...river.EventKind) (<-chan *river.Event, func()) {
	return nil, func() {}
}
func (f *fakeQueue) inTx(context.Context, func(querier, func([]river.InsertManyParams) error) error) error {
	return nil
}
func (f *fakeQueue) start(context.Context) error { return nil }
func (f *fakeQueue) stop(context.Context) error  { return nil }

func (f *fakeQueue) jobGet(_ context.Context, id int64) (*rivertype.JobRow, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	j := *f.jobs[id]
	return &j, nil
}

func (f *fakeQueue) later(context.Context, int) ([]*rivertype.JobRow, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []*rivertype.JobRow
	for _, j := range f.jobs {
		if j.State == rivertype.JobStateScheduled || j.State == rivertype.JobStateAvailable && j.ScheduledAt.After(time.Now()) {
			out = append(out, j)
		}
	}
	return out, nil
}

func (f *fakeQueue) retry(_ context.Context, id int64) (*rivertype.JobRow, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.jobs[id].State = rivertype.JobStateAvailable
	j := *f.jobs[id]
	return &j, nil
}

// wake finds the job by its time: each job of the test has its own.
func (f *fakeQueue) wake(at time.Time) {
	f.mu.Lock()
	var id int64
	for _, j := range f.jobs {
		if j.ScheduledAt.Equal(at) {
			id = j.ID
		}
	}
	f.woken = append(f.woken, fmt.Sprintf("t%d", id))
	f.mu.Unlock()
	f.released <- id
}

func (f *fakeQueue) add(id int64, state rivertype.JobState, at time.Time) {
	args, _ := json.Marshal(TaskArgs{TaskID: "t" + string(rune('0'+id))})
	f.jobs[id] = &rivertype.JobRow{ID: id, State: state, ScheduledAt: at, EncodedArgs: args}
}

// TestDueTimer: scheduled jobs are released in the order of their time, not
// before it, with a wake-up each; jobs found at start count too, a job
// River made available ahead of its time is found and woken for, and a job
// that already ran is left alone.
func TestDueTimer(t *testing.T) {
	now := time.Now()
	q := &fakeQueue{jobs: map[int64]*rivertype.JobRow{}, released: make(chan int64, 10)}
	q.add(1, rivertype.JobStateScheduled, now.Add(60*time.Millisecond)) // found at start
	q.add(2, rivertype.JobStateScheduled, now.Add(20*time.Millisecond))
	q.add(3, rivertype.JobStateScheduled, now.Add(40*time.Millisecond))
	q.add(4, rivertype.JobStateCompleted, now.Add(30*time.Millisecond)) // already ran
	q.add(5, rivertype.JobStateAvailable, now.Add(50*time.Millisecond)) // made available ahead of time by River: found at start too
	d := newDueTimer(q, nil)
	require.NoError(t, d.start(context.Background()))
	defer d.close()
	q.mu.Lock()
	delete(q.jobs, 1) // start found it; the others are added as inserted
	q.add(1, rivertype.JobStateScheduled, now.Add(60*time.Millisecond))
	q.mu.Unlock()
	d.add(4, now.Add(30*time.Millisecond))

	var order []int64
	for range 4 {
		select {
		case id := <-q.released:
			q.mu.Lock()
			due := q.jobs[id].ScheduledAt
			q.mu.Unlock()
			assert.False(t, time.Now().Before(due), "job %d released before its time", id)
			order = append(order, id)
		case <-time.After(5 * time.Second):
			t.Fatal("a job was not released")
		}
	}
	assert.Equal(t, []int64{2, 3, 5, 1}, order)
	q.mu.Lock()
	assert.Equal(t, []string{"t2", "t3", "t5", "t1"}, q.woken)
	assert.Equal(t, rivertype.JobStateCompleted, q.jobs[4].State, "a job no longer scheduled is left alone")
	q.mu.Unlock()
}

// TestDueTimerAnalyzes: every analyzeEvery delayed jobs, the timer
// refreshes the job table's statistics once, beside its releases.
func TestDueTimerAnalyzes(t *testing.T) {
	q := &fakeQueue{jobs: map[int64]*rivertype.JobRow{}, released: make(chan int64, 10)}
	d := newDueTimer(q, nil)
	analyzed := make(chan struct{}, 10)
	d.analyze = func(context.Context) error { analyzed <- struct{}{}; return nil }
	require.NoError(t, d.start(context.Background()))
	later := time.Now().Add(time.Hour)
	for i := range analyzeEvery - 1 {
		d.add(int64(i), later)
	}
	select {
	case <-analyzed:
		t.Fatal("analyzed before analyzeEvery jobs")
	case <-time.After(50 * time.Millisecond):
	}
	d.add(analyzeEvery, later)
	select {
	case <-analyzed:
	case <-time.After(5 * time.Second):
		t.Fatal("not analyzed after analyzeEvery jobs")
	}
	d.close()
	assert.Empty(t, analyzed, "once")
}

// TestLater: a start finds the jobs scheduled and those River's scheduler
// made available ahead of their time, on both databases, and not the jobs
// already due.
func TestLater(t *testing.T) {
	for _, backend := range pgtest.Backends(t) {
		t.Run(backend, func(t *testing.T) {
			ctx := context.Background()
			s := openBackend(t, backend)
			require.NoError(t, s.NewQueue(&river.Config{}))
			now := time.Now()
			var ids []int64
			for _, at := range []time.Time{now.Add(time.Hour), now.Add(2 * time.Hour), {}} { // the last due at once
				require.NoError(t, s.q.inTx(ctx, func(_ querier, insert func([]river.InsertManyParams) error) error {
					return insert([]river.InsertManyParams{{Args: wakeArgs{}, InsertOpts: &river.InsertOpts{ScheduledAt: at}}})
				}))
				var id int64
				require.NoError(t, s.db.queryRow(ctx, `SELECT MAX(id) FROM river_job`).Scan(&id))
				ids = append(ids, id)
			}
			// The second job made available ahead of its time, as River's
			// scheduler does.
			_, err := s.db.exec(ctx, `UPDATE river_job SET state = 'available' WHERE id = ?`, ids[1])
			require.NoError(t, err)
			res, err := s.q.later(ctx, 10)
			require.NoError(t, err)
			var got []int64
			for _, j := range res {
				got = append(got, j.ID)
			}
			assert.ElementsMatch(t, ids[:2], got)
		})
	}
}

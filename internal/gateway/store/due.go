package store

import (
	"container/heap"
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/riverqueue/river/rivertype"
)

// dueTimer starts delayed tasks on time. River's scheduler makes due jobs
// available only every 5 seconds (not configurable), so a delayed message
// could go out up to 5 s late; this timer, for the tasks this process
// inserted or found not yet due at its start (see jobQueue.later), makes
// each job available at its time and wakes the workers. River's scheduler stays the backstop.
type dueTimer struct {
	q   jobQueue
	log *slog.Logger
	// analyze, where set (PostgreSQL), refreshes the planner's statistics
	// of River's job table: see analyzeEvery.
	analyze func(ctx context.Context) error

	mu        sync.Mutex
	jobs      dueHeap
	timer     *time.Timer
	added     int  // jobs added since the last analyze
	analyzing bool // an analyze runs
	stop      chan struct{}
	done      chan struct{}
	bg        sync.WaitGroup // the analyze running
}

// due is one scheduled job.
type due struct {
	at time.Time
	id int64
}

type dueHeap []due

func (h dueHeap) Len() int           { return len(h) }
func (h dueHeap) Less(i, j int) bool { return h[i].at.Before(h[j].at) }
func (h dueHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *dueHeap) Push(x any)        { *h = append(*h, x.(due)) }
func (h *dueHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// clockSlack is how long after its stored time a job is surely due by the
// database's clock (see riverQueue.wake).
const clockSlack = time.Millisecond

// analyzeEvery is how many delayed jobs make the timer refresh the
// statistics of River's job table. River's scheduler takes the scheduled
// jobs due within its next interval in one statement, holding their rows
// until it ends, and a job due meanwhile waits for it (see release).
// Planned on statistics older than a burst of delayed jobs, that statement
// compares the jobs pairwise: 500 jobs took 60–90 ms (250,000 index probes),
// and the time grows with the square of their number. On fresh statistics
// it took 21 ms (BENCHMARKS.md). PostgreSQL's autovacuum would refresh them
// only within a minute or more.
const analyzeEvery = 500

// dueLoad is how many scheduled jobs a start loads: the soonest. Later ones
// are found by River's scheduler, 5 s late at worst.
const dueLoad = 10000

func newDueTimer(q jobQueue, log *slog.Logger) *dueTimer {
	if log == nil {
		log = slog.Default()
	}
	return &dueTimer{q: q, log: log, timer: time.NewTimer(time.Hour), stop: make(chan struct{}), done: make(chan struct{})}
}

// start loads the jobs not yet due (see jobQueue.later) and runs the timer
// until close.
func (d *dueTimer) start(ctx context.Context) error {
	res, err := d.q.later(ctx, dueLoad)
	if err != nil {
		return err
	}
	for _, job := range res {
		d.add(job.ID, job.ScheduledAt)
	}
	go d.loop()
	return nil
}

// add makes job id available at at.
func (d *dueTimer) add(id int64, at time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	heap.Push(&d.jobs, due{at: at, id: id})
	if d.jobs[0].id == id {
		d.timer.Reset(time.Until(at))
	}
	d.added++
	if d.analyze != nil && d.added >= analyzeEvery && !d.analyzing {
		d.added, d.analyzing = 0, true
		d.bg.Go(d.runAnalyze)
	}
}

// runAnalyze runs analyze; the timer's releases go on meanwhile.
func (d *dueTimer) runAnalyze() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := d.analyze(ctx); err != nil {
		d.log.WarnContext(ctx, "cannot refresh the statistics of River's job table; delayed tasks may start late", "error", err)
	}
	d.mu.Lock()
	d.analyzing = false
	d.mu.Unlock()
}

// next pops the jobs due by now and rearms the timer for the rest.
func (d *dueTimer) next(now time.Time) []int64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	var ids []int64
	for len(d.jobs) > 0 && !d.jobs[0].at.After(now) {
		ids = append(ids, heap.Pop(&d.jobs).(due).id)
	}
	if len(d.jobs) > 0 {
		d.timer.Reset(d.jobs[0].at.Sub(now))
	}
	return ids
}

func (d *dueTimer) loop() {
	defer close(d.done)
	for {
		select {
		case <-d.stop:
			return
		case <-d.timer.C:
		}
		for _, id := range d.next(time.Now()) {
			d.release(id)
		}
	}
}

// release makes a job due now available and wakes the workers. River's
// scheduler may have made it available already, ahead of its time (it
// looks one interval ahead), but then only a fetch poll would pick it up.
// A job already running or finished is left alone.
func (d *dueTimer) release(id int64) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	job, err := d.q.jobGet(ctx, id)
	if err != nil {
		return
	}
	switch job.State {
	case rivertype.JobStateScheduled:
		if job, err = d.q.retry(ctx, id); err != nil {
			d.log.WarnContext(ctx, "cannot start a delayed task on time; River's scheduler will", "job_id", id, "error", err)
			return
		}
	case rivertype.JobStateAvailable:
	default:
		return
	}
	d.q.wake(job.ScheduledAt)
}

// close stops the timer.
func (d *dueTimer) close() {
	close(d.stop)
	<-d.done
	d.bg.Wait()
}

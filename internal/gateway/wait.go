package gateway

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/smsgateway/sms/internal/gateway/store"
)

// waiters lets request handlers sleep until a task may have changed (a run
// of it ended, or River reports an event of its job), instead of polling in
// a tight loop.
type waiters struct {
	mu     sync.Mutex
	byTask map[string][]chan struct{}
	closed chan struct{}
	once   sync.Once
}

func newWaiters() *waiters {
	return &waiters{byTask: make(map[string][]chan struct{}), closed: make(chan struct{})}
}

// register returns a channel that receives after each change of task id
// (changes that come while one is unread merge into it), and a function to
// drop it.
func (w *waiters) register(id string) (<-chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	w.mu.Lock()
	w.byTask[id] = append(w.byTask[id], ch)
	w.mu.Unlock()
	return ch, func() {
		w.mu.Lock()
		defer w.mu.Unlock()
		list := slices.DeleteFunc(w.byTask[id], func(c chan struct{}) bool { return c == ch })
		if len(list) == 0 {
			delete(w.byTask, id)
		} else {
			w.byTask[id] = list
		}
	}
}

// wake wakes the requests waiting for task id.
func (w *waiters) wake(id string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, c := range w.byTask[id] {
		select {
		case c <- struct{}{}:
		default: // a wake-up is already pending
		}
	}
}

// closeAll makes every wait end at once, now and later.
func (w *waiters) closeAll() { w.once.Do(func() { close(w.closed) }) }

// pollEvery is how often a waiting request rereads the task when nothing
// wakes it: wake-ups come only from this process, while on PostgreSQL
// another process may run the task.
const pollEvery = 200 * time.Millisecond

// wait waits for task t, whose answer is ans, to be SUCCESS or FAILURE,
// until d has passed, the request ends or the service drains, and returns
// its last answer. woke is the wake-up registered for it before it was
// queued. It rereads the task at each wake-up (and every pollEvery): the
// message rows, which are final as soon as the last send returns, so it
// does not wait for River's completer (which batches completions for up to
// 250 ms).
func (a *api) wait(ctx context.Context, t store.Task, ans taskAnswer, woke <-chan struct{}, d time.Duration) (taskAnswer, error) {
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	tick := time.NewTicker(pollEvery)
	defer tick.Stop()
	for {
		select {
		case <-woke:
		case <-tick.C:
		case <-deadline.C:
			return ans, nil
		case <-a.waiters.closed:
			return ans, nil
		case <-ctx.Done():
			return ans, nil
		}
		var err error
		if ans, err = a.read(ctx, t); err != nil || store.Final(ans.TaskStatus) {
			return ans, err
		}
	}
}

package gateway

import (
	"context"
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

// register returns a channel closed at the next change of task id, and a
// function to drop it.
func (w *waiters) register(id string) (<-chan struct{}, func()) {
	ch := make(chan struct{})
	w.mu.Lock()
	w.byTask[id] = append(w.byTask[id], ch)
	w.mu.Unlock()
	return ch, func() {
		w.mu.Lock()
		defer w.mu.Unlock()
		list := w.byTask[id]
		for i, c := range list {
			if c == ch {
				list = append(list[:i], list[i+1:]...)
				break
			}
		}
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
	list := w.byTask[id]
	delete(w.byTask, id)
	w.mu.Unlock()
	for _, c := range list {
		close(c)
	}
}

// closeAll makes every wait end at once, now and later.
func (w *waiters) closeAll() { w.once.Do(func() { close(w.closed) }) }

// pollEvery is how often a waiting request rereads the task when nothing
// wakes it: wake-ups come only from this process, while on PostgreSQL
// another process may run the task.
const pollEvery = 200 * time.Millisecond

// wait rereads task t until it is SUCCESS or FAILURE, d has passed, the
// request ends or the service drains, and returns its last answer. It reads
// the message rows, which are final as soon as the last send returns, so it
// does not wait for River's completer (which batches completions for up to
// 250 ms).
func (a *api) wait(ctx context.Context, t store.Task, d time.Duration) (taskAnswer, error) {
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	tick := time.NewTicker(pollEvery)
	defer tick.Stop()
	for {
		woke, drop := a.waiters.register(t.ID)
		ans, err := a.read(ctx, t)
		if err != nil || store.Final(ans.TaskStatus) {
			drop()
			return ans, err
		}
		select {
		case <-woke:
		case <-tick.C:
		case <-deadline.C:
			drop()
			return ans, nil
		case <-a.waiters.closed:
			drop()
			return ans, nil
		case <-ctx.Done():
			drop()
			return ans, nil
		}
		drop()
	}
}

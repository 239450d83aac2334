package redislimit

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/smsgateway/sms"
)

// recorder is a fast provider that accepts every message and notes when.
type recorder struct {
	mu     sync.Mutex
	times  []time.Time
	onSend func(n int)   // called with the count after each send, when set
	sent   chan struct{} // receives after each send, when not full
}

func newRecorder() *recorder { return &recorder{sent: make(chan struct{}, 1)} }

func (r *recorder) Send(ctx context.Context, msg sms.Message) (sms.Receipt, error) {
	if err := ctx.Err(); err != nil {
		return sms.Receipt{}, err
	}
	now := time.Now()
	r.mu.Lock()
	r.times = append(r.times, now)
	n := len(r.times)
	r.mu.Unlock()
	if r.onSend != nil {
		r.onSend(n)
	}
	select {
	case r.sent <- struct{}{}:
	default:
	}
	return sms.Receipt{MessageID: fmt.Sprint(n)}, nil
}

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.times)
}

func (r *recorder) sendTimes() []time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]time.Time(nil), r.times...)
}

// numbers returns n distinct valid numbers starting at from.
func numbers(from, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("+4915%09d", from+i)
	}
	return out
}

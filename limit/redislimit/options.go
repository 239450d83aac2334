package redislimit

import (
	"fmt"
	"time"
)

// An Option configures a Limiter in New; an invalid one makes New fail.
type Option func(*Limiter) error

// WithMaxOutage ends a WaitN with an *UnavailableError once Redis has failed
// for d without a break, even though ctx is not done: the messages waiting
// then fail as not attempted, instead of waiting for Redis as long as their
// context allows. 0 (the default) means no limit: a WaitN waits for Redis
// until ctx is done.
func WithMaxOutage(d time.Duration) Option {
	return func(l *Limiter) error {
		if d < 0 {
			return fmt.Errorf("redislimit: WithMaxOutage: negative duration %v", d)
		}
		l.maxOutage = d
		return nil
	}
}

// WithBackoff sets how long a WaitN waits before asking an unreachable Redis
// again: first up to lo, doubling after each failure up to hi, each wait
// spread at random over its upper half. The defaults are 50 ms and 2 s.
func WithBackoff(lo, hi time.Duration) Option {
	return func(l *Limiter) error {
		if lo <= 0 || hi < lo {
			return fmt.Errorf("redislimit: WithBackoff: need 0 < lo <= hi, got %v and %v", lo, hi)
		}
		l.minBackoff, l.maxBackoff = lo, hi
		return nil
	}
}

// WithRequestTimeout bounds each request to Redis to d (never past ctx's
// deadline). A request that gets no answer in time counts as a failure of
// Redis, and WaitN asks again after the backoff. The default is 1 s.
func WithRequestTimeout(d time.Duration) Option {
	return func(l *Limiter) error {
		if d <= 0 {
			return fmt.Errorf("redislimit: WithRequestTimeout: need a positive duration, got %v", d)
		}
		l.requestTimeout = d
		return nil
	}
}

package redislimit

import (
	"context"
	"errors"
	"fmt"
	"time"
)

var (
	// ErrUnavailable is matched by the error of a WaitN that ended while
	// Redis could not be asked; see UnavailableError.
	ErrUnavailable = errors.New("redislimit: Redis unavailable")

	// ErrExceedsBurst is matched by the error of a WaitN for more events
	// than the Limiter's burst, which it can never grant.
	ErrExceedsBurst = errors.New("redislimit: more events than the burst")
)

// UnavailableError ends a WaitN that could not reach Redis. It matches
// ErrUnavailable, and unwraps to the last error from Redis and, when ctx
// ended the wait, to ctx's error.
type UnavailableError struct {
	Err      error         // the last error from Redis
	Attempts int           // failed requests to Redis in this wait
	Outage   time.Duration // from the first failed request to the last
	Cause    error         // ctx's error, or nil when WithMaxOutage's limit ended the wait
}

func (e *UnavailableError) Error() string {
	s := fmt.Sprintf("redislimit: Redis unavailable for %v (%d failed requests): %v",
		e.Outage.Round(time.Millisecond), e.Attempts, e.Err)
	if e.Cause != nil {
		s += "; gave up: " + e.Cause.Error()
	}
	return s
}

// Is reports whether target is ErrUnavailable.
func (e *UnavailableError) Is(target error) bool { return target == ErrUnavailable }

// Unwrap returns the last error from Redis and ctx's error, when set.
func (e *UnavailableError) Unwrap() []error {
	errs := make([]error, 0, 2)
	if e.Cause != nil {
		errs = append(errs, e.Cause)
	}
	if e.Err != nil {
		errs = append(errs, e.Err)
	}
	return errs
}

// burstError refuses a WaitN for more events than the burst.
type burstError struct{ n, burst int }

func (e *burstError) Error() string {
	return fmt.Sprintf("redislimit: WaitN(n=%d) exceeds the burst of %d", e.n, e.burst)
}

func (e *burstError) Unwrap() error { return ErrExceedsBurst }

// deadlineError ends a WaitN at once when the wait Redis asks for would pass
// ctx's deadline.
type deadlineError struct {
	n    int
	wait time.Duration
}

func (e *deadlineError) Error() string {
	return fmt.Sprintf("redislimit: WaitN(n=%d) would wait %v, past the context's deadline", e.n, e.wait)
}

func (e *deadlineError) Unwrap() error { return context.DeadlineExceeded }

// requestTimeoutError is a request to Redis that got no answer within the
// Limiter's request timeout. It is not a context error: ctx was still live.
type requestTimeoutError struct{ d time.Duration }

func (e *requestTimeoutError) Error() string {
	return fmt.Sprintf("redislimit: no answer from Redis within %v", e.d)
}

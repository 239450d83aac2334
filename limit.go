package sms

import (
	"context"
	"errors"
	"sync"
	"time"
)

// Limiter paces attempts. WaitN blocks until n events may happen or ctx is
// done. *rate.Limiter satisfies it; a Limiter may be shared between Clients
// or backed by a distributed store. It must be safe for concurrent use.
type Limiter interface {
	WaitN(ctx context.Context, n int) error
}

// waitLimiter waits on l and makes its errors matchable: a rate.Limiter
// returns a plain error when the wait would pass ctx's deadline, which comes
// back here as context.DeadlineExceeded.
func waitLimiter(ctx context.Context, l Limiter, n int) error {
	if l == nil {
		return ctx.Err()
	}
	err := l.WaitN(ctx, n)
	if err == nil {
		return nil
	}
	if cerr := ctx.Err(); cerr != nil {
		return cerr
	}
	if contextErr(err) {
		return err
	}
	if _, ok := ctx.Deadline(); ok {
		// rate: "Wait(n=1) would exceed context deadline".
		return errors.Join(context.DeadlineExceeded, err)
	}
	return err
}

// gate holds every worker of a Client back after a throttled answer: one
// worker that is told to slow down slows them all.
type gate struct {
	mu    sync.Mutex
	until time.Time
}

// closeUntil keeps the gate closed until t, unless it already is for longer.
func (g *gate) closeUntil(t time.Time) {
	g.mu.Lock()
	if t.After(g.until) {
		g.until = t
	}
	g.mu.Unlock()
}

// wait returns how long the caller must still wait at time now.
func (g *gate) wait(now time.Time) time.Duration {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.until.Sub(now)
}

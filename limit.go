package sms

import (
	"context"
	"errors"
	"sync/atomic"
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
		if errors.Is(err, cerr) {
			return err // it may say more, such as why the wait was long
		}
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
// worker that is told to slow down slows them all. Its zero value is open.
type gate struct {
	until atomic.Int64 // Unix nanoseconds; 0 until the first throttle
}

// closeUntil keeps the gate closed until t, unless it already is for longer.
func (g *gate) closeUntil(t time.Time) {
	n := t.UnixNano()
	for {
		cur := g.until.Load()
		if cur >= n || g.until.CompareAndSwap(cur, n) {
			return
		}
	}
}

// closed reports whether the gate was ever closed: the fast path of every
// attempt, with no clock read.
func (g *gate) closed() bool { return g.until.Load() != 0 }

// wait returns how long the caller must still wait at time now.
func (g *gate) wait(now time.Time) time.Duration {
	return time.Duration(g.until.Load() - now.UnixNano())
}

// wait holds an attempt back until the throttle gate opens and the rate
// limiter allows it.
func (c *Client) wait(ctx, stop context.Context, n int) error {
	if err := stopCause(ctx, stop); err != nil {
		return err
	}
	for {
		if !c.gate.closed() {
			break
		}
		d := c.gate.wait(c.now())
		if d <= 0 {
			break
		}
		if err := c.sleep(stop, d); err != nil {
			return err
		}
	}
	if c.limiter == nil {
		return nil
	}
	if err := waitLimiter(stop, c.limiter, n); err != nil {
		if cause := stopCause(ctx, stop); cause != nil && !errors.Is(err, cause) {
			return cause
		}
		return err
	}
	return nil
}

// cost is what one attempt of a text of parts parts takes from the rate
// limiter: 1, or its parts with WithLimitPerPart.
func (c *Client) cost(parts int) int {
	if c.limitParts && parts > 1 {
		return parts
	}
	return 1
}

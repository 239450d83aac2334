// Package redislimit is an sms.Limiter backed by Redis, so that several
// Clients, in one process or in many, share one rate: a backend that embeds
// the library can hold a gateway's limit across all its instances.
//
//	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379", ContextTimeoutEnabled: true})
//	l, err := redislimit.New(rdb, "sms:kannel", 200, 10) // 200 per second, bursts of 10
//	...
//	c, err := sms.New(p, sms.WithLimiter(l))
//
// The limit is a GCRA (generic cell rate algorithm) kept in one Redis key by
// github.com/go-redis/redis_rate, with Redis's clock: every Limiter that uses
// the same key and the same rate and burst takes from the same allowance,
// whatever machine it runs on. Limiters that share a key must agree on rate
// and burst; one that disagrees applies its own figures to the shared state.
//
// # Waiting
//
// WaitN asks Redis whether n events may happen now; when they may not, it
// sleeps for the time Redis says and asks again. The waiters of one Limiter
// take turns: one at a time asks Redis, the others queue in the process, so
// a Limiter sends Redis about one request per grant however many
// goroutines wait on it (a mailing's workers would otherwise all poll
// Redis after each grant). Instances are not served in order: after a
// sleep another instance may have taken the slot, and the waiter asks
// again. The rate holds all the same, since only Redis grants
// events. With WithLimitPerPart, a text of n parts takes n events at once;
// n above the burst can never be granted, and WaitN refuses it at once with
// an error matching ErrExceedsBurst.
//
// # When Redis is unreachable
//
// No event is ever let through without Redis's grant. While Redis cannot be
// asked (connection refused, no answer within the request timeout of
// WithRequestTimeout, 1 s by default, a server error), WaitN keeps asking
// with an exponential backoff with jitter (WithBackoff, 50 ms to 2 s by
// default): messages wait, and none is sent unlimited. The wait ends when
// Redis answers again, when ctx is done, or when the outage has lasted the
// limit set by WithMaxOutage (by default there is none). The error then is
// an *UnavailableError, which matches ErrUnavailable, tells how long Redis
// failed and with what error, and, when ctx ended the wait, also matches
// ctx's error (context.Canceled or context.DeadlineExceeded). When ctx
// ends during the first failing request (the Redis client may retry
// within it), WaitN cannot tell the outage from a slow answer and returns
// ctx's error alone. A Redis that answers every request with an error (a
// wrong password, a key of another type) is waited out the same way: the
// error names Redis's answer.
//
// When Redis loses the key (a restart without persistence, a flush), the
// limit starts afresh: instances may then use one burst at once.
//
// go-redis honours ctx's deadline (and the request timeout) on its sockets
// only when the client's Options.ContextTimeoutEnabled is true; otherwise a
// Redis that stops answering holds a WaitN for up to the client's
// ReadTimeout past ctx. Set it on a client used for limits.
//
// # Errors
//
// WaitN returns nil when the events may happen; otherwise an error matching
// one of: ErrExceedsBurst (n can never be granted), ErrUnavailable (Redis
// could not be asked, see above), context.Canceled or
// context.DeadlineExceeded (ctx ended, or the wait Redis asks for would pass
// ctx's deadline, which is returned at once without waiting).
package redislimit

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"
	"golang.org/x/time/rate"
)

// Limiter is an sms.Limiter whose allowance lives in Redis. It is safe for
// simultaneous use by multiple goroutines, and it starts no goroutine of its
// own; closing the Redis client is the caller's. The zero Limiter is not
// usable: make one with New.
type Limiter struct {
	rl    *redis_rate.Limiter
	key   string
	limit redis_rate.Limit

	minBackoff, maxBackoff time.Duration
	maxOutage              time.Duration
	requestTimeout         time.Duration
	// turn is held by the one waiter that asks Redis (see WaitN).
	turn chan struct{}

	// Seams for tests: the clock, sleeping and the backoff's jitter.
	now    func() time.Time
	sleep  func(ctx context.Context, d time.Duration) error
	jitter func(d time.Duration) time.Duration
}

// Defaults: the backoff while Redis is unreachable, and how long one
// request to Redis may take.
const (
	defaultMinBackoff     = 50 * time.Millisecond
	defaultMaxBackoff     = 2 * time.Second
	defaultRequestTimeout = time.Second
)

// New returns a Limiter that allows events at rate r per second, with bursts
// of at most burst events, counted in Redis under key (stored as "rate:"+key
// by redis_rate). rdb may be a *redis.Client, *redis.ClusterClient or
// *redis.Ring; it is used, never closed. r must be positive and finite, and
// burst at least 1; rates above one event per microsecond are refused.
func New(rdb redis.UniversalClient, key string, r rate.Limit, burst int, opts ...Option) (*Limiter, error) {
	if rdb == nil {
		return nil, errors.New("redislimit: nil Redis client")
	}
	if key == "" {
		return nil, errors.New("redislimit: empty key")
	}
	if !(r > 0) || math.IsInf(float64(r), 1) {
		return nil, fmt.Errorf("redislimit: rate must be positive and finite, got %v", r)
	}
	if burst < 1 {
		return nil, fmt.Errorf("redislimit: burst must be at least 1, got %d", burst)
	}
	if iv := float64(time.Second) / float64(r); iv < float64(time.Microsecond) || iv > float64(math.MaxInt64) {
		return nil, fmt.Errorf("redislimit: rate %v is out of range (one event per microsecond to one per 290 years)", r)
	}
	l := &Limiter{
		rl:             redis_rate.NewLimiter(rdb),
		key:            key,
		limit:          limitOf(r, burst),
		minBackoff:     defaultMinBackoff,
		maxBackoff:     defaultMaxBackoff,
		requestTimeout: defaultRequestTimeout,
		now:            time.Now,
		sleep:          sleep,
		jitter:         jitter,
		turn:           make(chan struct{}, 1),
	}
	for _, o := range opts {
		if err := o(l); err != nil {
			return nil, err
		}
	}
	return l, nil
}

// limitOf expresses r events per second as redis_rate's events per period:
// per second when r is whole, otherwise one event per emission interval.
func limitOf(r rate.Limit, burst int) redis_rate.Limit {
	if f := float64(r); f == math.Trunc(f) && f <= math.MaxInt32 {
		return redis_rate.Limit{Rate: int(f), Period: time.Second, Burst: burst}
	}
	return redis_rate.Limit{Rate: 1, Period: time.Duration(float64(time.Second) / float64(r)), Burst: burst}
}

// Burst returns the most events the Limiter grants at once.
func (l *Limiter) Burst() int { return l.limit.Burst }

// WaitN blocks until Redis grants n events, or until ctx is done; see the
// package documentation for what happens while Redis is unreachable. n of 0
// or less is granted at once without asking Redis; n above the burst is
// refused at once with an error matching ErrExceedsBurst.
func (l *Limiter) WaitN(ctx context.Context, n int) error {
	if n > l.limit.Burst {
		return &burstError{n: n, burst: l.limit.Burst}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if n <= 0 {
		return nil
	}
	select {
	case l.turn <- struct{}{}:
		defer func() { <-l.turn }()
	case <-ctx.Done():
		return ctx.Err()
	}
	var out outage
	backoff := l.minBackoff
	for {
		res, err := l.allowN(ctx, n)
		if err != nil {
			if cerr := ctx.Err(); cerr != nil {
				return out.err(cerr)
			}
			out.fail(l.now(), err)
			if l.maxOutage > 0 && out.duration(l.now()) >= l.maxOutage {
				return out.err(nil)
			}
			d := l.jitter(backoff)
			backoff = min(2*backoff, l.maxBackoff)
			if err := l.sleep(ctx, d); err != nil {
				return out.err(err)
			}
			continue
		}
		out = outage{}
		backoff = l.minBackoff
		if res.Allowed >= n {
			return nil
		}
		d := max(res.RetryAfter, 0)
		if dl, ok := ctx.Deadline(); ok && l.now().Add(d).After(dl) {
			return &deadlineError{n: n, wait: d}
		}
		if err := l.sleep(ctx, d); err != nil {
			return err
		}
	}
}

// allowN asks Redis once whether n events may happen now, for at most the
// request timeout. A request cut short by that timeout fails with a
// *requestTimeoutError, not with a context error.
func (l *Limiter) allowN(ctx context.Context, n int) (*redis_rate.Result, error) {
	rctx, cancel := context.WithTimeout(ctx, l.requestTimeout)
	defer cancel()
	res, err := l.rl.AllowN(rctx, l.key, l.limit, n)
	if err != nil && ctx.Err() == nil && rctx.Err() != nil {
		return nil, &requestTimeoutError{d: l.requestTimeout}
	}
	return res, err
}

// outage follows one spell of failed requests to Redis within a WaitN.
type outage struct {
	since    time.Time
	last     time.Time
	attempts int
	lastErr  error
}

func (o *outage) fail(now time.Time, err error) {
	if o.attempts == 0 {
		o.since = now
	}
	o.attempts++
	o.last = now
	o.lastErr = err
}

func (o *outage) duration(now time.Time) time.Duration { return now.Sub(o.since) }

// err is the error that ends a wait: cause alone when Redis had not failed,
// otherwise an *UnavailableError that also carries cause (nil when the
// outage limit ended the wait).
func (o *outage) err(cause error) error {
	if o.attempts == 0 {
		return cause
	}
	return &UnavailableError{
		Err:      o.lastErr,
		Attempts: o.attempts,
		Outage:   o.last.Sub(o.since),
		Cause:    cause,
	}
}

// sleep waits for d or until ctx is done, returning ctx's error then.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// jitter spreads d over [d/2, d], so that instances that lost Redis together
// do not all come back in step.
func jitter(d time.Duration) time.Duration {
	if d <= 1 {
		return d
	}
	return d/2 + rand.N(d/2+1)
}

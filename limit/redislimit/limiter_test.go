package redislimit

import (
	"context"
	"errors"
	"math"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"golang.org/x/time/rate"

	"github.com/smsgateway/sms"
)

func TestNewValidates(t *testing.T) {
	rdb := redis.NewClient(&redis.Options{Addr: closedAddr(t)})
	t.Cleanup(func() { _ = rdb.Close() })
	tests := []struct {
		name  string
		rdb   redis.UniversalClient
		key   string
		r     rate.Limit
		burst int
		opts  []Option
		ok    bool
	}{
		{"valid", rdb, "k", 100, 10, nil, true},
		{"fractional rate", rdb, "k", 0.5, 1, nil, true},
		{"nil client", nil, "k", 100, 10, nil, false},
		{"empty key", rdb, "", 100, 10, nil, false},
		{"zero rate", rdb, "k", 0, 10, nil, false},
		{"negative rate", rdb, "k", -1, 10, nil, false},
		{"infinite rate", rdb, "k", rate.Inf, 10, nil, false},
		{"NaN rate", rdb, "k", rate.Limit(math.NaN()), 10, nil, false},
		{"rate above a million per second", rdb, "k", 2e6, 10, nil, false},
		{"a million per second", rdb, "k", 1e6, 10, nil, true},
		{"rate too low", rdb, "k", 1e-12, 10, nil, false},
		{"zero burst", rdb, "k", 100, 0, nil, false},
		{"negative max outage", rdb, "k", 100, 1, []Option{WithMaxOutage(-1)}, false},
		{"zero backoff", rdb, "k", 100, 1, []Option{WithBackoff(0, time.Second)}, false},
		{"backoff cap below start", rdb, "k", 100, 1, []Option{WithBackoff(time.Second, time.Millisecond)}, false},
		{"zero request timeout", rdb, "k", 100, 1, []Option{WithRequestTimeout(0)}, false},
		{"options", rdb, "k", 100, 1, []Option{WithBackoff(time.Millisecond, time.Second), WithMaxOutage(time.Minute), WithRequestTimeout(time.Second)}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := New(tt.rdb, tt.key, tt.r, tt.burst, tt.opts...)
			if (err == nil) != tt.ok {
				t.Fatalf("New: err = %v, want ok = %v", err, tt.ok)
			}
			if tt.ok && l.Burst() != tt.burst {
				t.Errorf("Burst() = %d, want %d", l.Burst(), tt.burst)
			}
		})
	}
}

func TestLimitOf(t *testing.T) {
	tests := []struct {
		r        rate.Limit
		interval time.Duration // emission interval: Period / Rate
	}{
		{200, 5 * time.Millisecond},
		{1, time.Second},
		{0.5, 2 * time.Second},
		{2.5, 400 * time.Millisecond},
	}
	for _, tt := range tests {
		l := limitOf(tt.r, 3)
		if got := l.Period / time.Duration(l.Rate); got != tt.interval || l.Burst != 3 {
			t.Errorf("limitOf(%v) = %+v: interval %v, want %v", tt.r, l, got, tt.interval)
		}
	}
}

// The burst is granted at once, n events at a time; past it, a wait that
// would pass the deadline fails at once.
func TestWaitNBurstThenDeadline(t *testing.T) {
	l, err := New(newRedis(t, ""), testKey(t), 1, 5)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	for _, n := range []int{3, 2, 0} {
		if err := l.WaitN(ctx, n); err != nil {
			t.Fatalf("WaitN(%d) within the burst: %v", n, err)
		}
	}
	err = l.WaitN(ctx, 1)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("WaitN past the burst: %v, want context.DeadlineExceeded", err)
	}
	if ctx.Err() != nil {
		t.Fatal("WaitN waited until the deadline instead of failing at once")
	}
	if isUnavailable(err) {
		t.Errorf("error %v says Redis is unavailable", err)
	}
}

func TestWaitNExceedsBurst(t *testing.T) {
	// Refused without asking Redis: the client points nowhere.
	rdb := redis.NewClient(&redis.Options{Addr: closedAddr(t)})
	t.Cleanup(func() { _ = rdb.Close() })
	l, err := New(rdb, "k", 100, 4)
	if err != nil {
		t.Fatal(err)
	}
	err = l.WaitN(context.Background(), 5)
	if !errors.Is(err, ErrExceedsBurst) {
		t.Fatalf("WaitN(5) with burst 4: %v, want ErrExceedsBurst", err)
	}
	if errors.Is(err, context.DeadlineExceeded) || isUnavailable(err) {
		t.Errorf("WaitN(5): %v matches more than ErrExceedsBurst", err)
	}
}

// waitingLimiter returns a Limiter of rate 1 per 10 s whose burst is spent,
// and a channel that receives once each time WaitN starts sleeping.
func waitingLimiter(t *testing.T, rdb *redis.Client, opts ...Option) (*Limiter, <-chan time.Duration) {
	t.Helper()
	l, err := New(rdb, testKey(t), 0.1, 1, opts...)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.WaitN(context.Background(), 1); err != nil {
		t.Fatal(err)
	}
	sleeping := make(chan time.Duration, 100)
	l.sleep = func(ctx context.Context, d time.Duration) error {
		sleeping <- d
		return sleep(ctx, d)
	}
	return l, sleeping
}

func TestWaitNCancel(t *testing.T) {
	t.Run("while waiting", func(t *testing.T) {
		l, sleeping := waitingLimiter(t, newRedis(t, ""))
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- l.WaitN(ctx, 1) }()
		d := <-sleeping
		cancel()
		t0 := time.Now()
		err := <-done
		t.Logf("was to wait %v; returned %v after cancel", d, time.Since(t0))
		if !errors.Is(err, context.Canceled) || isUnavailable(err) {
			t.Fatalf("WaitN: %v, want context.Canceled", err)
		}
		if time.Since(t0) > d/2 {
			t.Errorf("WaitN returned %v after cancel, not promptly", time.Since(t0))
		}
	})
	t.Run("already done", func(t *testing.T) {
		rdb := redis.NewClient(&redis.Options{Addr: closedAddr(t)})
		t.Cleanup(func() { _ = rdb.Close() })
		l, err := New(rdb, "k", 100, 4)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if err := l.WaitN(ctx, 1); err != context.Canceled {
			t.Fatalf("WaitN: %v, want context.Canceled itself", err)
		}
	})
}

// A Client with WithLimitPerPart takes a text's parts at once, and fails a
// text of more parts than the burst without attempting it.
func TestClientLimitPerPart(t *testing.T) {
	l, err := New(newRedis(t, ""), testKey(t), 1, 5)
	if err != nil {
		t.Fatal(err)
	}
	p := newRecorder()
	c, err := sms.New(p, sms.WithLimiter(l), sms.WithLimitPerPart())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	text := func(parts int) string { return strings.Repeat("a", 153*parts) } // GSM: 153 per part

	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	res, err := c.Send(ctx, sms.Message{To: "+4915100000001", Text: text(3)})
	if err != nil || res.Parts != 3 {
		t.Fatalf("3 parts: %v (%d parts)", err, res.Parts)
	}
	_, err = c.Send(ctx, sms.Message{To: "+4915100000002", Text: text(6)})
	if !errors.Is(err, ErrExceedsBurst) || !errors.Is(err, sms.ErrNotAttempted) {
		t.Fatalf("6 parts, burst 5: %v, want ErrExceedsBurst, not attempted", err)
	}
	_, err = c.Send(ctx, sms.Message{To: "+4915100000003", Text: text(3)})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("3 more parts, 2 left: %v, want context.DeadlineExceeded", err)
	}
	if n := p.count(); n != 1 {
		t.Errorf("provider got %d messages, want 1", n)
	}
}

// The backoff while Redis is unreachable doubles up to its cap, and
// WithMaxOutage ends the wait: exact, on a fake clock.
func TestUnreachableBackoff(t *testing.T) {
	rdb := redis.NewClient(&redis.Options{Addr: closedAddr(t), MaxRetries: -1, DialerRetries: 1})
	t.Cleanup(func() { _ = rdb.Close() })
	l, err := New(rdb, "k", 100, 1,
		WithBackoff(50*time.Millisecond, 400*time.Millisecond), WithMaxOutage(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1_000_000, 0)
	var slept []time.Duration
	l.now = func() time.Time { return now }
	l.jitter = func(d time.Duration) time.Duration { return d }
	l.sleep = func(ctx context.Context, d time.Duration) error {
		slept = append(slept, d)
		now = now.Add(d)
		return nil
	}
	err = l.WaitN(context.Background(), 1)
	ms := time.Millisecond
	want := []time.Duration{50 * ms, 100 * ms, 200 * ms}
	for range 12 { // 350 ms + 12 × 400 ms = 5.15 s ≥ 5 s
		want = append(want, 400*ms)
	}
	if len(slept) != len(want) {
		t.Fatalf("slept %v, want %v", slept, want)
	}
	for i := range want {
		if slept[i] != want[i] {
			t.Fatalf("slept %v, want %v", slept, want)
		}
	}
	var u *UnavailableError
	if !errors.As(err, &u) || !errors.Is(err, ErrUnavailable) {
		t.Fatalf("WaitN: %v, want an *UnavailableError", err)
	}
	if u.Attempts != len(want)+1 || u.Outage != 5150*ms || u.Cause != nil || u.Err == nil {
		t.Errorf("UnavailableError = %+v, want %d attempts over 5.15s, no cause", u, len(want)+1)
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		t.Errorf("WaitN: %v matches a context error, though ctx did not end", err)
	}
}

func TestJitter(t *testing.T) {
	for _, d := range []time.Duration{0, 1, 2, 3, time.Second} {
		for range 100 {
			if j := jitter(d); j < d/2 || j > d {
				t.Fatalf("jitter(%v) = %v, outside [d/2, d]", d, j)
			}
		}
	}
}

// Redis goes away while WaitN sleeps out its wait: the wait goes on, asking
// Redis with backoff, grants nothing, and ends with ctx, saying why.
func TestRedisGoesAwayMidWait(t *testing.T) {
	opt := redisOptions(t)
	px := newProxy(t, opt.Addr)
	rdb := newRedis(t, px.addr)
	l, err := New(rdb, testKey(t), 2, 1,
		WithBackoff(10*time.Millisecond, 100*time.Millisecond), WithRequestTimeout(200*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	if err := l.WaitN(context.Background(), 1); err != nil {
		t.Fatal(err)
	}
	sleeping := make(chan time.Duration, 100)
	l.sleep = func(ctx context.Context, d time.Duration) error {
		sleeping <- d
		return sleep(ctx, d)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- l.WaitN(ctx, 1) }()
	first := <-sleeping // about 500 ms, for the next event
	px.cut()
	err = <-done
	t.Logf("first wait %v; then %d more sleeps; error: %v", first, len(sleeping), err)
	var u *UnavailableError
	if !errors.As(err, &u) || !errors.Is(err, ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("WaitN: %v, want an *UnavailableError matching context.DeadlineExceeded", err)
	}
	if u.Attempts < 2 || u.Err == nil {
		t.Errorf("UnavailableError = %+v, want several attempts and Redis's error", u)
	}
}

// An outage during a mailing: messages wait, none goes out without Redis's
// grant, and sending resumes when Redis comes back.
func TestClientDuringOutage(t *testing.T) {
	opt := redisOptions(t)
	px := newProxy(t, opt.Addr)
	l, err := New(newRedis(t, px.addr), testKey(t), 200, 5,
		WithBackoff(10*time.Millisecond, 100*time.Millisecond), WithRequestTimeout(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	const concurrency = 4
	p := newRecorder()
	reached := make(chan struct{})
	var once atomic.Bool
	p.onSend = func(n int) {
		if n == 50 && once.CompareAndSwap(false, true) {
			close(reached)
		}
	}
	c, err := sms.New(p, sms.WithLimiter(l), sms.WithConcurrency(concurrency))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	type outcome struct {
		rep *sms.Report
		err error
	}
	done := make(chan outcome, 1)
	go func() {
		rep, err := c.Mailing(ctx, sms.Mailing{Text: "hi", To: numbers(0, 100_000)})
		done <- outcome{rep, err}
	}()
	<-reached
	px.cut()
	atCut := p.count()
	const window = time.Second // how long the outage is watched
	time.Sleep(window)
	duringOutage := p.count() - atCut
	t.Logf("sent %d before the cut, %d in the %v after it (at most %d in flight)", atCut, duringOutage, window, concurrency)
	if duringOutage > concurrency {
		t.Errorf("%d messages sent while Redis was gone; at most the %d granted before may", duringOutage, concurrency)
	}
	px.restore(t)
	resumed := p.count()
	for p.count() < resumed+50 {
		select {
		case <-p.sent:
		case <-time.After(10 * time.Second):
			t.Fatalf("sending did not resume after Redis came back (%d sent)", p.count())
		}
	}
	cancel()
	o := <-done
	if o.rep.Sent != p.count() {
		t.Errorf("report says %d sent, provider got %d", o.rep.Sent, p.count())
	}
	if o.rep.Sent+o.rep.NotAttempted != len(o.rep.Results) {
		t.Errorf("report: %d sent, %d not attempted of %d", o.rep.Sent, o.rep.NotAttempted, len(o.rep.Results))
	}
}

// With WithMaxOutage, a Client's Send fails as not attempted once Redis has
// been gone that long, and says why; nothing reaches the provider.
func TestClientMaxOutage(t *testing.T) {
	rdb := redis.NewClient(&redis.Options{Addr: closedAddr(t)})
	t.Cleanup(func() { _ = rdb.Close() })
	l, err := New(rdb, "k", 100, 1, WithMaxOutage(300*time.Millisecond),
		WithRequestTimeout(50*time.Millisecond), WithBackoff(10*time.Millisecond, 50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	p := newRecorder()
	c, err := sms.New(p, sms.WithLimiter(l))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, err = c.Send(context.Background(), sms.Message{To: "+4915100000001", Text: "hi"})
	if !errors.Is(err, ErrUnavailable) || !errors.Is(err, sms.ErrNotAttempted) {
		t.Fatalf("Send: %v, want not attempted, Redis unavailable", err)
	}
	if p.count() != 0 {
		t.Errorf("provider got %d messages without Redis", p.count())
	}
}

package redislimit

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		os.Exit(runChild())
	}
	redis.SetLogger(quiet{}) // go-redis logs every failed dial of the outage tests
	// After many failed dials go-redis probes Redis from a goroutine that
	// sleeps a second between dials and ends at its next turn once the
	// client is closed.
	goleak.VerifyTestMain(m, goleak.IgnoreAnyFunction("github.com/redis/go-redis/v9/internal/pool.(*ConnPool).tryDial"))
}

type quiet struct{}

func (quiet) Printf(context.Context, string, ...any) {}

// redisOptions returns the options of SMS_TEST_REDIS_URL (a URL such as
// redis://127.0.0.1:6379/0). Without it the test is skipped, unless
// SMS_REQUIRE_REDIS=1, which makes it fail: CI sets it so that a missing
// Redis cannot pass unnoticed.
func redisOptions(t testing.TB) *redis.Options {
	t.Helper()
	u := os.Getenv("SMS_TEST_REDIS_URL")
	if u == "" {
		if os.Getenv("SMS_REQUIRE_REDIS") == "1" {
			t.Fatal("SMS_REQUIRE_REDIS=1 but SMS_TEST_REDIS_URL is not set")
		}
		t.Skip("SMS_TEST_REDIS_URL is not set")
	}
	opt, err := redis.ParseURL(u)
	if err != nil {
		t.Fatalf("SMS_TEST_REDIS_URL: %v", err)
	}
	return opt
}

// newRedis returns a client of its own for SMS_TEST_REDIS_URL, or for addr
// instead of the URL's address when addr is not empty; the test closes it.
// An unreachable Redis fails the test unless addr is given.
func newRedis(t testing.TB, addr string) *redis.Client {
	t.Helper()
	opt := redisOptions(t)
	check := addr == ""
	if addr != "" {
		opt.Addr = addr
	}
	opt.ContextTimeoutEnabled = true
	rdb := redis.NewClient(opt)
	t.Cleanup(func() { _ = rdb.Close() })
	if check {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := rdb.Ping(ctx).Err(); err != nil {
			t.Fatalf("SMS_TEST_REDIS_URL is not reachable: %v", err)
		}
	}
	return rdb
}

var keySeq atomic.Int64

// testKey is a key of the test's own, so that tests and runs never share an
// allowance.
func testKey(t testing.TB) string {
	name := strings.NewReplacer("/", ":", " ", "_").Replace(t.Name())
	return fmt.Sprintf("smstest:%s:%d:%d:%d", name, os.Getpid(), time.Now().UnixNano(), keySeq.Add(1))
}

// closedAddr returns a loopback address where nothing listens.
func closedAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	return addr
}

// proxy forwards TCP connections to the real Redis, and can be cut (every
// connection closed, new ones refused) and restored, standing in for a
// Redis that goes away and comes back.
type proxy struct {
	target, addr string

	mu    sync.Mutex
	ln    net.Listener
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
}

func newProxy(t testing.TB, target string) *proxy {
	t.Helper()
	p := &proxy{target: target, conns: map[net.Conn]struct{}{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p.addr = ln.Addr().String()
	p.serve(ln)
	t.Cleanup(func() {
		p.cut()
		p.wg.Wait()
	})
	return p
}

func (p *proxy) serve(ln net.Listener) {
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.forward(c)
		}
	}()
}

func (p *proxy) forward(c net.Conn) {
	up, err := net.Dial("tcp", p.target)
	if err != nil {
		_ = c.Close()
		return
	}
	p.mu.Lock()
	if p.ln == nil { // cut meanwhile
		p.mu.Unlock()
		_ = c.Close()
		_ = up.Close()
		return
	}
	p.conns[c], p.conns[up] = struct{}{}, struct{}{}
	p.mu.Unlock()
	pipe := func(dst, src net.Conn) {
		defer p.wg.Done()
		_, _ = io.Copy(dst, src)
		_ = dst.Close()
		_ = src.Close()
	}
	p.wg.Add(2)
	go pipe(c, up)
	go pipe(up, c)
}

// cut closes the listener and every connection: Redis is gone.
func (p *proxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		_ = p.ln.Close()
		p.ln = nil
	}
	for c := range p.conns {
		_ = c.Close()
	}
	clear(p.conns)
}

// restore listens again on the same address: Redis is back.
func (p *proxy) restore(t testing.TB) {
	t.Helper()
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		t.Fatalf("restore proxy: %v", err)
	}
	p.serve(ln)
}

// isUnavailable reports whether err is an *UnavailableError.
func isUnavailable(err error) bool {
	var u *UnavailableError
	return errors.As(err, &u)
}

// countingHook counts the commands a Redis client sends.
type countingHook struct{ n *atomic.Int64 }

func (h countingHook) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h countingHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		h.n.Add(1)
		return next(ctx, cmd)
	}
}
func (h countingHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

// TestWaitersTakeTurns: many goroutines waiting on one Limiter cost Redis
// about one request per grant, not one per waiter and grant.
func TestWaitersTakeTurns(t *testing.T) {
	rdb := newRedis(t, "")
	var n atomic.Int64
	rdb.AddHook(countingHook{&n})
	l, err := New(rdb, testKey(t), 100, 1)
	require.NoError(t, err)
	const waiters, grants = 50, 50
	var granted atomic.Int64
	var wg sync.WaitGroup
	for range waiters {
		wg.Go(func() {
			for granted.Load() < grants {
				if l.WaitN(context.Background(), 1) == nil {
					granted.Add(1)
				}
			}
		})
	}
	wg.Wait()
	got := granted.Load()
	t.Logf("%d grants, %d Redis requests, %d waiters", got, n.Load(), waiters)
	assert.Less(t, n.Load(), 3*got, "about one request per grant")
}

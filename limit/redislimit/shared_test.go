package redislimit

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"golang.org/x/time/rate"

	"github.com/smsgateway/sms"
)

// childEnv, when set in the test binary's environment, makes it run one
// sending instance (runChild) instead of the tests.
const childEnv = "SMS_REDISLIMIT_CHILD"

// instance is one sender of the shared-rate test: its own Redis connection,
// its own Limiter on the shared key, its own sms.Client, sending a mailing
// to a fast provider until the deadline. It returns when each message went
// out.
func instance(url, key string, r rate.Limit, burst, first int, deadline time.Time) ([]time.Time, error) {
	opt, err := redis.ParseURL(url)
	if err != nil {
		return nil, err
	}
	opt.ContextTimeoutEnabled = true
	rdb := redis.NewClient(opt)
	defer rdb.Close()
	l, err := New(rdb, key, r, burst)
	if err != nil {
		return nil, err
	}
	p := newRecorder()
	c, err := sms.New(p, sms.WithLimiter(l), sms.WithConcurrency(4))
	if err != nil {
		return nil, err
	}
	defer c.Close()
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	rep, _ := c.Mailing(ctx, sms.Mailing{Text: "hi", To: numbers(first, int(float64(r)*time.Until(deadline).Seconds())+burst+100)})
	for _, res := range rep.Results {
		// A send granted a moment before the deadline may find it passed
		// at the provider; any other failure is the limiter's.
		if res.Status == sms.StatusFailed && !errors.Is(res.Err, context.DeadlineExceeded) {
			return nil, fmt.Errorf("entry %d failed: %w", res.Index, res.Err)
		}
	}
	return p.sendTimes(), nil
}

// runChild is the child process of TestSharedRate: it reads its settings
// from the environment, says "ready", waits for "go <deadline>" on stdin,
// sends, and prints the Unix nanoseconds of each send.
func runChild() int {
	f := strings.Fields(os.Getenv(childEnv)) // url key rate burst first
	r, _ := strconv.ParseFloat(f[2], 64)
	burst, _ := strconv.Atoi(f[3])
	first, _ := strconv.Atoi(f[4])
	fmt.Println("ready")
	in := bufio.NewScanner(os.Stdin)
	if !in.Scan() {
		return 2
	}
	ns, err := strconv.ParseInt(strings.TrimPrefix(in.Text(), "go "), 10, 64)
	if err != nil {
		return 2
	}
	times, err := instance(f[0], f[1], rate.Limit(r), burst, first, time.Unix(0, ns))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	w := bufio.NewWriter(os.Stdout)
	for _, t := range times {
		fmt.Fprintln(w, t.UnixNano())
	}
	_ = w.Flush()
	return 0
}

// Two Clients in this process and one in a child process, each with its own
// Redis connection, share one rate: every one-second window holds at most
// rate + burst sends (give or take timing jitter), and the steady rate is
// within 2 % of the limit.
func TestSharedRate(t *testing.T) {
	if testing.Short() {
		t.Skip("runs for 5 s")
	}
	const (
		limit   = 200
		burst   = 10
		runFor  = 5 * time.Second
		settled = time.Second // the steady rate is measured after this
	)
	redisOptions(t)
	url := os.Getenv("SMS_TEST_REDIS_URL")
	key := testKey(t)

	child := exec.Command(os.Args[0], "-test.run=^$")
	child.Env = append(os.Environ(), fmt.Sprintf("%s=%s %s %d %d %d", childEnv, url, key, limit, burst, 2_000_000))
	child.Stderr = os.Stderr
	stdin, err := child.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := child.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	out := bufio.NewScanner(stdout)
	if !out.Scan() || out.Text() != "ready" {
		_ = child.Process.Kill()
		_ = child.Wait()
		t.Fatalf("child did not start: %q", out.Text())
	}
	deadline := time.Now().Add(runFor)
	fmt.Fprintf(stdin, "go %d\n", deadline.UnixNano())
	_ = stdin.Close()

	sends := make([][]time.Time, 3)
	errs := make([]error, 3)
	var wg sync.WaitGroup
	for i := range 2 {
		wg.Go(func() {
			sends[i], errs[i] = instance(url, key, limit, burst, i*1_000_000, deadline)
		})
	}
	for out.Scan() {
		ns, err := strconv.ParseInt(out.Text(), 10, 64)
		if err != nil {
			t.Errorf("child wrote %q", out.Text())
			continue
		}
		sends[2] = append(sends[2], time.Unix(0, ns))
	}
	if err := child.Wait(); err != nil {
		errs[2] = fmt.Errorf("child: %w", err)
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}

	var all []time.Time
	for _, s := range sends {
		all = append(all, s...)
	}
	slices.SortFunc(all, func(a, b time.Time) int { return a.Compare(b) })
	if len(all) < 2 {
		t.Fatalf("only %d sends", len(all))
	}
	start, end := all[0], all[len(all)-1]
	span := end.Sub(start)

	// Sends per one-second window from the first send, and per sliding
	// window starting at each send.
	var windows []int
	for w := start; w.Before(end); w = w.Add(time.Second) {
		i, _ := slices.BinarySearchFunc(all, w, func(a, b time.Time) int { return a.Compare(b) })
		j, _ := slices.BinarySearchFunc(all, w.Add(time.Second), func(a, b time.Time) int { return a.Compare(b) })
		windows = append(windows, j-i)
	}
	maxSliding := 0
	for i, s := range all {
		j, _ := slices.BinarySearchFunc(all, s.Add(time.Second), func(a, b time.Time) int { return a.Compare(b) })
		maxSliding = max(maxSliding, j-i)
	}
	// Steady rate: from the first send after the burst has settled to the
	// last, (sends - 1) / time.
	k, _ := slices.BinarySearchFunc(all, start.Add(settled), func(a, b time.Time) int { return a.Compare(b) })
	steady := float64(len(all)-k-1) / end.Sub(all[k]).Seconds()
	overall := float64(len(all)-burst) / span.Seconds()
	t.Logf("sends: %d in %v (in-process %d and %d, child %d)", len(all), span.Round(time.Millisecond), len(sends[0]), len(sends[1]), len(sends[2]))
	t.Logf("per one-second window: %v; most in any sliding second: %d", windows, maxSliding)
	t.Logf("steady rate %.2f/s (%.2f %% off %d/s); overall, burst taken out, %.2f/s", steady, 100*(steady-limit)/limit, limit, overall)

	// Redis grants at most rate + burst in any second of its clock. The
	// times here are taken at the provider, a few milliseconds after each
	// grant, with scheduling jitter; allow 2 % of the rate for it.
	if most := (limit + burst) + limit/50; maxSliding > most {
		t.Errorf("%d sends in one second, more than rate + burst = %d (+%d for timing jitter)", maxSliding, limit+burst, limit/50)
	}
	if steady < limit*0.98 || steady > limit*1.02 {
		t.Errorf("steady rate %.2f/s, not within 2 %% of %d/s", steady, limit)
	}
	if max := burst + limit*span.Seconds() + 1; float64(len(all)) > max {
		t.Errorf("%d sends in %v, more than the limit allows (%.0f)", len(all), span, max)
	}
	for i, s := range sends {
		if len(s) < len(all)/10 {
			t.Errorf("instance %d sent %d of %d: it did not take part", i, len(s), len(all))
		}
	}
}

package httpquery

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/smsgateway/sms"
)

const (
	benchRecipients  = 10_000
	benchConcurrency = 64
)

func benchNumbers() []string {
	to := make([]string, benchRecipients)
	for i := range to {
		to[i] = fmt.Sprintf("+49170%07d", i)
	}
	return to
}

// BenchmarkMailing10k sends a 10k-recipient mailing to a loopback gateway
// answering like Kannel, through the sms.Client and this provider, and
// through a hand-written net/http fan-out with the same concurrency and
// transport settings. It reports messages per second, allocations per
// message (the in-process test server's included, on both sides) and the
// TCP connections opened over the whole run.
func BenchmarkMailing10k(b *testing.B) {
	numbers := benchNumbers()
	b.Run("client+httpquery", func(b *testing.B) {
		srv, run := clientMailing(b, numbers)
		measure(b, srv, run)
	})
	b.Run("net/http fan-out", func(b *testing.B) {
		srv, run := fanOut(b, numbers)
		measure(b, srv, run)
	})
	// Both in turn within each iteration, so that a machine shared with
	// other work loads them alike; ratio is the client's throughput over
	// the fan-out's.
	b.Run("interleaved", func(b *testing.B) {
		_, client := clientMailing(b, numbers)
		_, plain := fanOut(b, numbers)
		tc, tp := interleave(b, client, plain)
		b.ReportMetric(float64(tp)/float64(tc), "ratio")
		b.ReportMetric(float64(b.N*benchRecipients)/tc.Seconds(), "client-msg/s")
		b.ReportMetric(float64(b.N*benchRecipients)/tp.Seconds(), "fanout-msg/s")
		b.ReportMetric(0, "ns/op")
	})
}

// BenchmarkProviderFanOut is the same comparison without the sms.Client:
// the hand-written fan-out calling Provider.Send, interleaved with plain
// net/http, to tell the provider's share of the overhead from the Client's.
func BenchmarkProviderFanOut(b *testing.B) {
	numbers := benchNumbers()
	srv, p := benchProvider(b)
	b.Cleanup(func() { _ = p.Close() })
	provider := func() {
		fan(numbers, func(to string) {
			if _, err := p.Send(context.Background(), sms.Message{To: to, Text: "Hello"}); err != nil {
				panic(err)
			}
		})
	}
	_, plain := fanOut(b, numbers)
	tp, tq := interleave(b, provider, plain)
	b.ReportMetric(float64(tq)/float64(tp), "ratio")
	b.ReportMetric(float64(srv.conns.Load()), "conns")
	b.ReportMetric(0, "ns/op")
}

// interleave runs x then y in every iteration and returns the time each
// took in all.
func interleave(b *testing.B, x, y func()) (tx, ty time.Duration) {
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		x()
		t1 := time.Now()
		y()
		tx += t1.Sub(t0)
		ty += time.Since(t1)
	}
	return tx, ty
}

// fan calls send for every number from benchConcurrency goroutines.
func fan(numbers []string, send func(to string)) {
	jobs := make(chan string)
	var wg sync.WaitGroup
	for w := 0; w < benchConcurrency; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for to := range jobs {
				send(to)
			}
		}()
	}
	for _, to := range numbers {
		jobs <- to
	}
	close(jobs)
	wg.Wait()
}

// benchProvider returns a Kannel-like gateway and a provider for it with
// MaxConns benchConcurrency.
func benchProvider(b *testing.B) (*counter, *Provider) {
	srv := newCounter(b, answer(202, "0: Accepted for delivery"))
	cfg := Kannel(srv.URL+"/cgi-bin/sendsms", "tester", "foobar")
	cfg.MaxConns = benchConcurrency
	p, err := New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	return srv, p
}

// clientMailing returns a gateway and a function sending the mailing
// through an sms.Client over this provider.
func clientMailing(b *testing.B, numbers []string) (*counter, func()) {
	srv, p := benchProvider(b)
	c, err := sms.New(p, sms.WithConcurrency(benchConcurrency))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = c.Close() })
	return srv, func() {
		rep, err := c.Mailing(context.Background(), sms.Mailing{To: numbers, Text: "Hello"})
		if err != nil || rep.Summary.Sent != benchRecipients {
			b.Fatalf("mailing: %v %+v", err, rep.Summary)
		}
	}
}

// fanOut returns a gateway and a function sending the same requests with
// plain net/http: benchConcurrency workers, the provider's transport
// settings.
func fanOut(b *testing.B, numbers []string) (*counter, func()) {
	srv := newCounter(b, answer(202, "0: Accepted for delivery"))
	s, err := (&Config{URL: srv.URL + "/cgi-bin/sendsms", MaxConns: benchConcurrency}).settings()
	if err != nil {
		b.Fatal(err)
	}
	hc := newHTTPClient(s, newTransport(s, nil))
	b.Cleanup(hc.CloseIdleConnections)
	base := srv.URL + "/cgi-bin/sendsms?"
	return srv, func() {
		fan(numbers, func(to string) {
			q := url.Values{"username": {"tester"}, "password": {"foobar"}, "to": {to}, "text": {"Hello"}}
			req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, base+q.Encode(), nil)
			if err != nil {
				panic(err)
			}
			resp, err := hc.Do(req)
			if err != nil {
				panic(err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
			if resp.StatusCode != 202 {
				panic(resp.Status)
			}
		})
	}
}

func measure(b *testing.B, srv *counter, run func()) {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		run()
	}
	b.StopTimer()
	runtime.ReadMemStats(&after)
	msgs := float64(b.N * benchRecipients)
	b.ReportMetric(msgs/b.Elapsed().Seconds(), "msg/s")
	b.ReportMetric(float64(after.Mallocs-before.Mallocs)/msgs, "allocs/msg")
	b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/msgs, "B/msg")
	b.ReportMetric(float64(srv.conns.Load()), "conns")
	b.ReportMetric(0, "ns/op")
}

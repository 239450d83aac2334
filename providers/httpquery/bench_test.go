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

// The answers of the preset benchmarks' gateways: Twilio's example of a
// created Message (from its specification) and Vonage's of an accepted one.
const (
	benchTwilioAnswer = `{"account_sid":"ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","api_version":"2010-04-01","body":"Hello","date_created":"Thu, 24 Aug 2023 05:01:45 +0000","date_sent":"Thu, 24 Aug 2023 05:01:45 +0000","date_updated":"Thu, 24 Aug 2023 05:01:45 +0000","direction":"outbound-api","error_code":null,"error_message":null,"from":"+14155552345","num_media":"0","num_segments":"1","price":null,"price_unit":null,"messaging_service_sid":"MGaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","sid":"SMaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","status":"queued","subresource_uris":{"media":"/2010-04-01/Accounts/ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/Messages/SMaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/Media.json"},"to":"+14155552345","uri":"/2010-04-01/Accounts/ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/Messages/SMaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.json"}`
	benchVonageAnswer = `{"message-count":"1","messages":[{"to":"447700900000","message-id":"0A0000000123ABCD1","status":"0","remaining-balance":"3.14159265","message-price":"0.03330000","network":"12345"}]}`
)

// BenchmarkPresetMailing10k sends the 10k mailing through the sms.Client
// with the Kannel, Twilio and Vonage presets, each to a loopback gateway
// answering as that vendor does (Kannel's text, Twilio's 201 JSON to a form
// POST with basic authentication, Vonage's 200 JSON with a status per
// part). interleaved runs the three in turn within each iteration, so that
// the machine's load hits them alike; its ratios are each preset's
// throughput over Kannel's.
func BenchmarkPresetMailing10k(b *testing.B) {
	numbers := benchNumbers()
	presets := []struct {
		name   string
		status int
		answer string
		config func(base string) Config
	}{
		{"kannel", 202, "0: Accepted for delivery", func(base string) Config {
			return Kannel(base+"/cgi-bin/sendsms", "tester", "foobar")
		}},
		{"twilio", 201, benchTwilioAnswer, func(base string) Config {
			c := Twilio("ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "token")
			c.URL = TwilioURL(base, "ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")
			return c
		}},
		{"vonage", 200, benchVonageAnswer, func(base string) Config {
			c := Vonage("abcd1234", "secret123")
			c.URL = base + "/sms/json"
			return c
		}},
	}
	mailing := func(b *testing.B, i int) (*counter, func()) {
		pr := presets[i]
		srv := newCounter(b, func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.Copy(io.Discard, r.Body)
			if pr.status != 202 {
				w.Header().Set("Content-Type", "application/json")
			}
			w.WriteHeader(pr.status)
			_, _ = io.WriteString(w, pr.answer)
		})
		cfg := pr.config(srv.URL)
		cfg.MaxConns = benchConcurrency
		p, err := New(cfg)
		if err != nil {
			b.Fatal(err)
		}
		c, err := sms.New(p, sms.WithConcurrency(benchConcurrency))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = c.Close() })
		return srv, func() {
			rep, err := c.Mailing(context.Background(), sms.Mailing{To: numbers, Text: "Hello"})
			if err != nil || rep.Summary.Sent != benchRecipients {
				b.Fatalf("%s mailing: %v %+v", pr.name, err, rep.Summary)
			}
		}
	}
	for i, pr := range presets {
		b.Run(pr.name, func(b *testing.B) {
			srv, run := mailing(b, i)
			measure(b, srv, run)
		})
	}
	b.Run("interleaved", func(b *testing.B) {
		runs := make([]func(), len(presets))
		for i := range presets {
			_, runs[i] = mailing(b, i)
		}
		took := make([]time.Duration, len(presets))
		b.ResetTimer()
		for n := 0; n < b.N; n++ {
			for i, run := range runs {
				t0 := time.Now()
				run()
				took[i] += time.Since(t0)
			}
		}
		for i, pr := range presets {
			b.ReportMetric(float64(b.N*benchRecipients)/took[i].Seconds(), pr.name+"-msg/s")
			if i > 0 {
				b.ReportMetric(float64(took[0])/float64(took[i]), pr.name+"/kannel")
			}
		}
		b.ReportMetric(0, "ns/op")
	})
}

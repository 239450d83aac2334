package sms_test

import (
	"context"
	"fmt"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/smsgateway/sms"
	"github.com/smsgateway/sms/providers/mock"
)

// benchNumbers returns n distinct valid numbers.
func benchNumbers(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("+49151%08d", i)
	}
	return out
}

func BenchmarkSend(b *testing.B) {
	p := mock.New()
	c, err := sms.New(p)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	msg := sms.Message{To: "+4915112345678", Text: "hello"}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := c.Send(ctx, msg); err != nil {
			b.Fatal(err)
		}
		if i%100_000 == 0 {
			p.Reset() // keep the mock's record small
		}
	}
}

// BenchmarkMailing sends a 10k-recipient mailing through the Client, and the
// same through a hand-written bounded pool calling the provider directly.
// The difference per recipient is the library's overhead.
func BenchmarkMailing(b *testing.B) {
	const recipients = 10_000
	to := benchNumbers(recipients)
	ctx := context.Background()
	for _, conc := range []int{1, 8, 64} {
		b.Run(fmt.Sprintf("client/c=%d", conc), func(b *testing.B) {
			p := mock.New()
			c, err := sms.New(p, sms.WithConcurrency(conc))
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				rep, err := c.Mailing(ctx, sms.Mailing{Text: "hello", To: to})
				if err != nil || rep.Sent != recipients {
					b.Fatal(err, rep.Sent)
				}
				b.StopTimer()
				p.Reset()
				b.StartTimer()
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*recipients), "ns/recipient")
		})
		b.Run(fmt.Sprintf("baseline/c=%d", conc), func(b *testing.B) {
			p := mock.New()
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				sent := baselinePool(ctx, p, "hello", to, conc)
				if sent != recipients {
					b.Fatal(sent)
				}
				b.StopTimer()
				p.Reset()
				b.StartTimer()
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*recipients), "ns/recipient")
		})
	}
}

// baselinePool is what a user would write without the library: a bounded
// pool of goroutines calling the provider, one result slot per recipient.
func baselinePool(ctx context.Context, p sms.Provider, text string, to []string, conc int) int {
	type outcome struct {
		rc  sms.Receipt
		err error
	}
	results := make([]outcome, len(to))
	idx := make(chan int)
	var wg sync.WaitGroup
	wg.Add(conc)
	for range conc {
		go func() {
			defer wg.Done()
			for i := range idx {
				rc, err := p.Send(ctx, sms.Message{To: to[i], Text: text})
				results[i] = outcome{rc, err}
			}
		}()
	}
	for i := range to {
		idx <- i
	}
	close(idx)
	wg.Wait()
	sent := 0
	for _, r := range results {
		if r.err == nil {
			sent++
		}
	}
	return sent
}

// nopProvider accepts everything and keeps nothing, so that only the
// library's memory shows.
type nopProvider struct{}

func (nopProvider) Send(context.Context, sms.Message) (sms.Receipt, error) {
	return sms.Receipt{}, nil
}

// BenchmarkMailingStream streams 1M recipients (generated, never held in a
// slice) and reports the peak heap growth with and without the duplicate
// filter.
func BenchmarkMailingStream(b *testing.B) {
	const recipients = 1_000_000
	gen := func(yield func(sms.Message) bool) {
		buf := []byte("+4915100000000")
		for i := 0; i < recipients; i++ {
			n := i
			for j := len(buf) - 1; j > len(buf)-9; j-- {
				buf[j] = byte('0' + n%10)
				n /= 10
			}
			if !yield(sms.Message{To: string(buf), Text: "hello"}) {
				return
			}
		}
	}
	for _, allowDup := range []bool{false, true} {
		b.Run(fmt.Sprintf("allowDuplicates=%v", allowDup), func(b *testing.B) {
			c, err := sms.New(nopProvider{}, sms.WithConcurrency(64))
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			b.ReportAllocs()
			var peak uint64
			for i := 0; i < b.N; i++ {
				runtime.GC()
				var before runtime.MemStats
				runtime.ReadMemStats(&before)
				sent := 0
				sum, err := c.MailingStream(context.Background(), sms.Stream{Messages: gen, AllowDuplicates: allowDup}, func(r sms.Result) {
					if r.Status == sms.StatusSent {
						sent++
					}
					if sent%100_000 == 0 {
						var m runtime.MemStats
						runtime.ReadMemStats(&m)
						if m.HeapInuse > before.HeapInuse {
							peak = max(peak, m.HeapInuse-before.HeapInuse)
						}
					}
				})
				if err != nil || sum.Sent != recipients {
					b.Fatal(err, sum)
				}
			}
			b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MiB")
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*recipients), "ns/recipient")
		})
	}
}

// throttlingProvider accepts every message at once, except that the first
// attempt to every 8th number is throttled: for that recipient alone, or
// for the whole account.
type throttlingProvider struct {
	perRecipient bool
	retryAfter   time.Duration
	tried        []atomic.Bool // by the number's last 8 digits
}

func (p *throttlingProvider) Send(_ context.Context, msg sms.Message) (sms.Receipt, error) {
	i, err := strconv.Atoi(msg.To[len(msg.To)-8:])
	if err != nil {
		return sms.Receipt{}, &sms.Error{Kind: sms.KindRejected, Err: err}
	}
	if i%8 == 0 && !p.tried[i].Swap(true) {
		return sms.Receipt{}, &sms.Error{Kind: sms.KindThrottled, RetryAfter: p.retryAfter, PerRecipient: p.perRecipient}
	}
	return sms.Receipt{}, nil
}

// BenchmarkPerRecipientThrottle sends a 20,000-number mailing (concurrency
// 16) where 2,500 first attempts are throttled with a Retry-After of 1ms,
// against the same mailing without throttles. A throttle about the
// recipient must cost little; one about the account holds back every
// worker (shown for comparison).
func BenchmarkPerRecipientThrottle(b *testing.B) {
	const recipients = 20_000
	to := benchNumbers(recipients)
	ctx := context.Background()
	for _, bc := range []struct {
		name         string
		throttle     bool
		perRecipient bool
		attempts     int
	}{
		{"none", false, false, 1},
		{"recipient/attempts=1", true, true, 1},
		{"recipient/attempts=2", true, true, 2},
		{"account/attempts=1", true, false, 1},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				p := &throttlingProvider{perRecipient: bc.perRecipient, retryAfter: time.Millisecond, tried: make([]atomic.Bool, recipients)}
				if !bc.throttle {
					for j := range p.tried {
						p.tried[j].Store(true)
					}
				}
				c, err := sms.New(p, sms.WithRetry(sms.RetryPolicy{MaxAttempts: bc.attempts}))
				if err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				rep, _ := c.Mailing(ctx, sms.Mailing{Text: "hello", To: to})
				b.StopTimer()
				c.Close()
				want := recipients
				if bc.throttle && bc.attempts == 1 {
					want -= recipients / 8
				}
				if rep.Sent != want {
					b.Fatalf("sent %d, want %d", rep.Sent, want)
				}
				b.StartTimer()
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*recipients), "ns/recipient")
		})
	}
}

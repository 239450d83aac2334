package gateway

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/smsgateway/sms"
	"github.com/smsgateway/sms/internal/gateway/pgtest"
	"github.com/smsgateway/sms/internal/gateway/store"
	"github.com/smsgateway/sms/internal/kanneltest"
	"github.com/smsgateway/sms/providers/httpquery"
)

// BenchmarkSending measures POST /sending with the "log" provider on each
// database: "enqueue" answers at once (wait=0), "result" waits for the
// message to be sent. It reports the latency percentiles and the
// throughput of 8 concurrent clients.
//
//	go test -run '^$' -bench BenchmarkSending -benchtime 2000x ./internal/gateway
func BenchmarkSending(b *testing.B) {
	for _, backend := range pgtest.Backends(b) {
		for _, mode := range []struct{ name, wait string }{{"enqueue", "0"}, {"result", "10s"}} {
			b.Run(backend+"/"+mode.name, func(b *testing.B) {
				ts := startService(b, backend, testConfig(nil), nil)
				path := "/sending?address=log&phone_number=88005553535&message=Hello&wait=" + mode.wait
				var mu sync.Mutex
				lat := make([]time.Duration, 0, b.N)
				b.SetParallelism(4) // 4 x GOMAXPROCS (2 here) = 8 clients
				b.ResetTimer()
				start := time.Now()
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						t0 := time.Now()
						var a answer
						if code := ts.do(b, "POST", path, "", &a); code != http.StatusOK {
							b.Errorf("status %d", code)
						}
						if mode.wait != "0" && a.TaskStatus != store.StatusSuccess {
							b.Errorf("status %s", a.TaskStatus)
						}
						d := time.Since(t0)
						mu.Lock()
						lat = append(lat, d)
						mu.Unlock()
					}
				})
				elapsed := time.Since(start)
				b.StopTimer()
				slices.Sort(lat)
				b.ReportMetric(ms(lat[len(lat)/2]), "p50-ms")
				b.ReportMetric(ms(lat[len(lat)*99/100]), "p99-ms")
				b.ReportMetric(float64(len(lat))/elapsed.Seconds(), "req/s")
				b.ReportMetric(0, "ns/op")
			})
		}
	}
}

// BenchmarkMailing measures how long a mailing of 10,000 and 100,000
// numbers takes to finish through the mock provider on each database,
// without a rate limit, and for 10,000 at 500 messages per second (its
// msg/s is then to be read against 500). The provider's concurrency is the
// default (16) unless the case names another.
//
//	go test -run '^$' -bench BenchmarkMailing -benchtime 1x ./internal/gateway
func BenchmarkMailing(b *testing.B) {
	for _, backend := range pgtest.Backends(b) {
		for _, tc := range []struct {
			n           int
			limit       float64
			concurrency int
		}{{10_000, 0, 0}, {100_000, 0, 0}, {10_000, 500, 0}, {10_000, 0, 128}} {
			name := fmt.Sprintf("%s/n=%d/rate=%v", backend, tc.n, tc.limit)
			if tc.concurrency > 0 {
				name += fmt.Sprintf("/concurrency=%d", tc.concurrency)
			}
			b.Run(name, func(b *testing.B) {
				cfg := testConfig(map[string]ProviderConfig{"mock": {Type: "mock", RateLimit: tc.limit, Burst: 1, Concurrency: tc.concurrency}})
				benchMailing(b, backend, cfg, "mock", tc.n)
			})
		}
	}
}

// benchMailing sends n numbers as one mailing per iteration through the
// provider address of cfg, and reports the time until every message is
// final and the rate.
func benchMailing(b *testing.B, backend string, cfg *Config, address string, n int) {
	list := make([]string, n)
	for i := range list {
		list[i] = fmt.Sprintf("7999%07d", i)
	}
	body := "[" + strings.Join(list, ",") + "]"
	cfg.MaxMailing = n
	cfg.MaxBodyBytes = int64(len(body)) + 1024
	ts := startService(b, backend, cfg, nil)
	waits0, wait0 := ts.svc.store.PoolWait()
	b.ResetTimer()
	for range b.N {
		var a answer
		require.Equal(b, http.StatusOK, ts.do(b, "POST", "/mailing?address="+address+"&message=Hello&wait=0", body, &a))
		// The queue's depth is counted when a run of the task ends
		// (which wakes its waiters) and every 250 ms, so that the
		// benchmark hardly competes with the mailing for the database:
		// counting 100,000 rows every 20 ms took a tenth of the CPU.
		woke, drop := ts.svc.api.waiters.register(a.TaskID)
		for {
			depth, err := ts.svc.store.QueueDepth(context.Background())
			require.NoError(b, err)
			if depth == 0 {
				break
			}
			select {
			case <-woke:
			case <-time.After(250 * time.Millisecond):
			}
		}
		drop()
		b.StopTimer()
		counts, err := ts.svc.store.Counts(context.Background(), store.Slice{TaskID: a.TaskID})
		require.NoError(b, err)
		require.Equal(b, n, counts[store.StateSent], "%v", counts)
		b.StartTimer()
	}
	b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "s/mailing")
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "msg/s")
	b.ReportMetric(0, "ns/op")
	if backend == "sqlite" {
		waits, wait := ts.svc.store.PoolWait()
		b.ReportMetric(float64(waits-waits0)/float64(n*b.N), "conn-waits/msg")
		b.ReportMetric(ms(wait-wait0)/float64(n*b.N), "conn-wait-ms/msg")
	}
}

// BenchmarkKannel100k sends 100,000 numbers to a real Kannel
// (internal/kanneltest) through the service, next to the library alone
// (sms.Client with httpquery's Kannel preset, at the same concurrency)
// against the same Kannel, and reports both rates and their ratio.
//
//	go test -run '^$' -bench BenchmarkKannel100k -benchtime 1x ./internal/gateway
func BenchmarkKannel100k(b *testing.B) {
	const n, concurrency = 100_000, 64
	g := kanneltest.Start(b, kanneltest.WithQueueLimit(4*concurrency))
	received := 0
	await := func() {
		received += n
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		_, err := g.WaitReceived(ctx, received)
		require.NoError(b, err)
	}
	list := make([]string, n)
	for i := range list {
		list[i] = fmt.Sprintf("+49171%07d", i)
	}
	// The library alone.
	p, err := httpquery.New(httpquery.Kannel(g.SendSMSURL, g.Username, g.Password))
	require.NoError(b, err)
	c, err := sms.New(p, sms.WithConcurrency(concurrency))
	require.NoError(b, err)
	defer c.Close()
	start := time.Now()
	rep, err := c.Mailing(context.Background(), sms.Mailing{To: list, Text: "library"})
	require.NoError(b, err)
	require.Equal(b, n, rep.Sent)
	await()
	library := float64(n) / time.Since(start).Seconds()

	for _, backend := range pgtest.Backends(b) {
		b.Run(backend, func(b *testing.B) {
			opts := fmt.Sprintf(`{"preset": "kannel", "url": %q, "username": %q, "password": %q}`, g.SendSMSURL, g.Username, g.Password)
			cfg := testConfig(map[string]ProviderConfig{"kannel": {Type: "httpquery", Concurrency: concurrency, Options: []byte(opts)}})
			start := time.Now()
			benchMailing(b, backend, cfg, "kannel", n)
			await()
			service := float64(n*b.N) / time.Since(start).Seconds()
			b.ReportMetric(library, "library-msg/s")
			b.ReportMetric(service, "service-msg/s")
			b.ReportMetric(service/library, "ratio")
		})
	}
}

// BenchmarkDelayed sends 1,000 messages each due at its own time (send_at,
// 10 ms apart, the first 5 s ahead) and reports how late they went out:
// the lateness of sent_at behind send_at, p50, p99 and max. "restart" shuts
// the service down after queueing them and starts another on the same
// database.
//
//	go test -run '^$' -bench BenchmarkDelayed -benchtime 1x ./internal/gateway
func BenchmarkDelayed(b *testing.B) {
	const n = 1000
	for _, backend := range pgtest.Backends(b) {
		for _, restart := range []bool{false, true} {
			b.Run(fmt.Sprintf("%s/restart=%v", backend, restart), func(b *testing.B) {
				o := Options{Config: testConfig(nil), DataDir: b.TempDir(), Logger: testLogger()}
				if backend == "postgres" {
					o.DatabaseURL = pgtest.SchemaURL(b)
				}
				var late []time.Duration
				for range b.N {
					svc, srv := openService(b, o)
					ts := &testService{svc: svc, srv: srv}
					base := time.Now().Add(5 * time.Second)
					due := map[string]time.Time{}
					for i := range n {
						at := base.Add(time.Duration(i) * 10 * time.Millisecond).UTC()
						var a answer
						q := "/sending?address=log&phone_number=88005553535&message=x&wait=0&send_at=" + url.QueryEscape(at.Format(time.RFC3339Nano))
						require.Equal(b, http.StatusOK, ts.do(b, "POST", q, "", &a))
						due[a.TaskID] = at
					}
					if restart {
						closeService(b, svc, srv)
						svc, srv = openService(b, o)
						ts = &testService{svc: svc, srv: srv}
					}
					require.True(b, time.Now().Before(base), "queueing took longer than the lead time")
					for id, at := range due {
						for {
							msgs, err := ts.svc.store.TaskMessages(context.Background(), id)
							require.NoError(b, err)
							if msgs[0].SentAt != nil {
								late = append(late, msgs[0].SentAt.Sub(at))
								break
							}
							time.Sleep(10 * time.Millisecond)
						}
					}
					closeService(b, svc, srv)
				}
				slices.Sort(late)
				b.ReportMetric(ms(late[len(late)/2]), "p50-late-ms")
				b.ReportMetric(ms(late[len(late)*99/100]), "p99-late-ms")
				b.ReportMetric(ms(late[len(late)-1]), "max-late-ms")
				b.ReportMetric(0, "ns/op")
			})
		}
	}
}

// BenchmarkIdle measures what the service costs when it has nothing to do:
// the CPU time of this process (the service and nothing else) over 10 s of
// idleness, as a percentage of one core.
//
//	go test -run '^$' -bench BenchmarkIdle -benchtime 1x ./internal/gateway
func BenchmarkIdle(b *testing.B) {
	for _, backend := range pgtest.Backends(b) {
		b.Run(backend, func(b *testing.B) {
			startService(b, backend, testConfig(nil), nil)
			time.Sleep(2 * time.Second) // let the start settle
			const idle = 10 * time.Second
			var cpu time.Duration
			for range b.N {
				before := cpuTime()
				time.Sleep(idle)
				cpu += cpuTime() - before
			}
			b.ReportMetric(100*cpu.Seconds()/(idle.Seconds()*float64(b.N)), "idle-cpu-%")
			b.ReportMetric(0, "ns/op")
		})
	}
}

// cpuTime is the user and system CPU time of this process.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// BenchmarkReports measures how fast the service takes delivery reports:
// after a mailing of 10,000 numbers, 32 clients post each message's two
// reports as a gateway would (an intermediate "accepted", then the final
// "delivered"), and it reports the rate of reports taken (each answered
// 200 once committed).
//
//	go test -run '^$' -bench BenchmarkReports -benchtime 1x ./internal/gateway
func BenchmarkReports(b *testing.B) {
	const n, clients = 10_000, 32
	for _, backend := range pgtest.Backends(b) {
		b.Run(backend, func(b *testing.B) {
			p := &reportingProvider{}
			o := reportOptions(b, backend, p, func(c *Config) { c.MaxMailing = n; c.MaxBodyBytes = 1 << 20 })
			ss := serveAt(b, o, "127.0.0.1:0")
			list := make([]string, n)
			for i := range list {
				list[i] = fmt.Sprintf("7999%07d", i)
			}
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients}}
			defer client.CloseIdleConnections()
			var total time.Duration
			for range b.N {
				var a answer
				require.Equal(b, http.StatusOK, ss.do(b, "POST", "/mailing?address=vendor&message=Hi&wait=30s", "["+strings.Join(list, ",")+"]", &a))
				require.True(b, store.Final(a.TaskStatus))
				urls := make(chan string, 2*n)
				for _, num := range list {
					u := p.urls[num]
					urls <- u + "&status=accepted&code=8"
					urls <- u + "&status=delivered&code=1"
				}
				close(urls)
				start := time.Now()
				var wg sync.WaitGroup
				for range clients {
					wg.Go(func() {
						for u := range urls {
							resp, err := client.Get(u)
							if err != nil {
								b.Error(err)
								return
							}
							resp.Body.Close()
							if resp.StatusCode != http.StatusOK {
								b.Errorf("status %d", resp.StatusCode)
							}
						}
					})
				}
				wg.Wait()
				total += time.Since(start)
				d, err := ss.svc.store.DeliveryCounts(context.Background(), a.TaskID)
				require.NoError(b, err)
				require.Equal(b, map[string]int{"delivered": n}, d)
			}
			b.ReportMetric(float64(2*n*b.N)/total.Seconds(), "reports/s")
			b.ReportMetric(float64(n*b.N)/total.Seconds(), "messages/s")
			b.ReportMetric(0, "ns/op")
		})
	}
}

// BenchmarkProcesses measures one mailing of 10,000 numbers (mock
// provider, no limit) on PostgreSQL shared by 1, 2 and 3 service instances
// (each a Service with its own River client and lease, as a process has;
// here in one OS process on the same CPUs). It reports the time until
// every message is final and how many messages each instance sent.
//
//	go test -run '^$' -bench BenchmarkProcesses -benchtime 1x ./internal/gateway
func BenchmarkProcesses(b *testing.B) {
	if !slices.Contains(pgtest.Backends(b), "postgres") {
		b.Skip("SMS_TEST_POSTGRES_URL is not set")
	}
	const n = 10_000
	list := make([]string, n)
	for i := range list {
		list[i] = fmt.Sprintf("7999%07d", i)
	}
	body := "[" + strings.Join(list, ",") + "]"
	for k := 1; k <= 3; k++ {
		b.Run(fmt.Sprintf("instances=%d", k), func(b *testing.B) {
			dbURL := pgtest.SchemaURL(b)
			counters := make([]*scriptProvider, k)
			services := make([]*testService, k)
			for i := range services {
				counters[i] = &scriptProvider{}
				cfg, types := testProvider("vendor", counters[i])
				cfg.MaxMailing, cfg.MaxBodyBytes = n, int64(len(body))+1024
				require.NoError(b, cfg.setDefaults())
				svc, srv := openService(b, Options{Config: cfg, DataDir: b.TempDir(), DatabaseURL: dbURL, Logger: testLogger(), Types: types})
				b.Cleanup(func() { closeService(b, svc, srv) })
				services[i] = &testService{svc: svc, srv: srv}
			}
			b.ResetTimer()
			for range b.N {
				var a answer
				require.Equal(b, http.StatusOK, services[0].do(b, "POST", "/mailing?address=vendor&message=Hello&wait=0", body, &a))
				for {
					counts, err := services[0].svc.store.Counts(context.Background(), store.Slice{TaskID: a.TaskID})
					require.NoError(b, err)
					if counts.Active() == 0 {
						require.Equal(b, n, counts[store.StateSent], "%v", counts)
						break
					}
					time.Sleep(50 * time.Millisecond)
				}
			}
			b.StopTimer()
			b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "s/mailing")
			b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "msg/s")
			for i, c := range counters {
				sent := 0
				c.mu.Lock()
				for _, v := range c.calls {
					sent += v
				}
				c.mu.Unlock()
				b.ReportMetric(float64(sent)/float64(n*b.N), fmt.Sprintf("share-%d", i))
			}
			b.ReportMetric(0, "ns/op")
		})
	}
}

package gateway

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/smsgateway/sms/internal/gateway/store"

	"github.com/stretchr/testify/require"

	"github.com/smsgateway/sms/internal/gateway/pgtest"
)

// BenchmarkSending measures POST /sending on SQLite with the "log"
// provider: "enqueue" answers at once (wait=0), "result" waits for the
// message to be sent. It reports the latency percentiles and the
// throughput of 8 concurrent clients.
//
//	go test -run '^$' -bench BenchmarkSending -benchtime 2000x ./internal/gateway
func BenchmarkSending(b *testing.B) {
	for _, mode := range []struct{ name, wait string }{{"enqueue", "0"}, {"result", "10s"}} {
		b.Run(mode.name, func(b *testing.B) {
			ts := startService(b, "sqlite", testConfig(nil), nil)
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
		})
	}
}

// BenchmarkMailing10k measures how long a 10,000-number mailing takes to
// finish through the mock provider on SQLite (and PostgreSQL when
// SMS_TEST_POSTGRES_URL is set), without a rate limit and with 500 messages
// per second.
//
//	go test -run '^$' -bench BenchmarkMailing10k -benchtime 1x ./internal/gateway
func BenchmarkMailing10k(b *testing.B) {
	const n = 10000
	list := make([]string, n)
	for i := range list {
		list[i] = fmt.Sprintf("7999%07d", i)
	}
	body := "[" + strings.Join(list, ",") + "]"
	for _, backend := range pgtest.Backends(b) {
		for _, limit := range []float64{0, 500} {
			b.Run(fmt.Sprintf("%s/rate=%v", backend, limit), func(b *testing.B) {
				benchMailing(b, backend, limit, list, body)
			})
		}
	}
}

// benchMailing sends list as one mailing per iteration through a mock
// provider limited to limit messages per second (0: no limit).
func benchMailing(b *testing.B, backend string, limit float64, list []string, body string) {
	n := len(list)
	cfg := testConfig(map[string]ProviderConfig{"mock": {Type: "mock", RateLimit: limit, Burst: 1}})
	cfg.MaxMailing = n
	cfg.MaxBodyBytes = 1 << 20
	ts := startService(b, backend, cfg, nil)
	waits0, wait0 := ts.svc.store.PoolWait()
	b.ResetTimer()
	for range b.N {
		var a answer
		require.Equal(b, http.StatusOK, ts.do(b, "POST", "/mailing?address=mock&message=Hello&wait=0", body, &a))
		for {
			var st answer
			ts.do(b, "GET", "/tasks/"+a.TaskID, "", &st)
			if st.TaskStatus == store.StatusSuccess || st.TaskStatus == store.StatusFailure {
				require.Equal(b, n, st.Progress.Counts[store.StateSent])
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "s/mailing")
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "msg/s")
	if backend == "sqlite" {
		waits, wait := ts.svc.store.PoolWait()
		b.ReportMetric(float64(waits-waits0)/float64(n*b.N), "conn-waits/msg")
		b.ReportMetric(ms(wait-wait0)/float64(n*b.N), "conn-wait-ms/msg")
	}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

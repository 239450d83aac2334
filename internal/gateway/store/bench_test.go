package store

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/smsgateway/sms/internal/gateway/pgtest"
)

// BenchmarkRowWrites measures what a message costs the database alone: its
// mark before the send (MarkSending, waited for) and its outcome after it
// (a Recorder), through the writer's group commits, with as many messages
// in flight as a provider's concurrency and nothing else running: no
// River, no HTTP, no provider. It is the ceiling of the service's mailing
// rate on that database (compare BenchmarkMailing in internal/gateway).
//
//	go test -run '^$' -bench BenchmarkRowWrites -benchtime 3x ./internal/gateway/store
func BenchmarkRowWrites(b *testing.B) {
	const n = 10_000
	for _, backend := range pgtest.Backends(b) {
		for _, concurrency := range []int{16, 128} {
			b.Run(fmt.Sprintf("%s/concurrency=%d", backend, concurrency), func(b *testing.B) {
				ctx := context.Background()
				s := openBackend(b, backend)
				b.ResetTimer()
				for i := range b.N {
					b.StopTimer()
					task := Task{ID: fmt.Sprintf("task-%d", i), Kind: "mailing", Address: "mock", Total: n}
					msgs := make([]Message, n)
					for j := range msgs {
						msgs[j] = Message{Index: j, To: fmt.Sprintf("7999%07d", j), Number: fmt.Sprintf("+7999%07d", j), Status: StateQueued, Parts: 1}
					}
					require.NoError(b, s.insertTasks(ctx, s.db, []Task{task}, [][]Message{msgs}))
					rows, err := s.ActiveMessages(ctx, Slice{TaskID: task.ID})
					require.NoError(b, err)
					require.Len(b, rows, n)
					b.StartTimer()

					rec := s.Recorder()
					var next atomic.Int64
					var wg sync.WaitGroup
					errs := make(chan error, concurrency)
					for range concurrency {
						wg.Go(func() {
							for k := next.Add(1) - 1; k < n; k = next.Add(1) - 1 {
								m := rows[k]
								if err := s.MarkSending(ctx, task.ID, m.Index, false, "run"); err != nil {
									errs <- err
									return
								}
								m.Status, m.Vendor, m.MessageID, m.StatusCode = StateSent, "mock", "id", 200
								rec.Record(m)
							}
						})
					}
					wg.Wait()
					close(errs)
					require.NoError(b, <-errs)
					require.NoError(b, rec.Flush())
					b.StopTimer()
					counts, err := s.Counts(ctx, Slice{TaskID: task.ID})
					require.NoError(b, err)
					require.Equal(b, n, counts[StateSent], "%v", counts)
					b.StartTimer()
				}
				b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "s/10k")
				b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "msg/s")
				b.ReportMetric(0, "ns/op")
			})
		}
	}
}

package redislimit

import (
	"context"
	"testing"

	"golang.org/x/time/rate"
)

// BenchmarkWaitN measures what a grant costs against the real Redis: the
// rate is too high to make anyone wait, so each op is one request to Redis
// (redis_rate's script, by EVALSHA). Parallel: 8 goroutines per CPU share
// one client and its connection pool, as a Client's workers do.
func BenchmarkWaitN(b *testing.B) {
	for _, bc := range []struct {
		name     string
		parallel bool
	}{{"serial", false}, {"parallel", true}} {
		b.Run(bc.name, func(b *testing.B) {
			l, err := New(newRedis(b, ""), testKey(b), rate.Limit(1e6), 1_000_000)
			if err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			b.ReportAllocs()
			b.ResetTimer()
			if !bc.parallel {
				for b.Loop() {
					if err := l.WaitN(ctx, 1); err != nil {
						b.Fatal(err)
					}
				}
				return
			}
			b.SetParallelism(8)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if err := l.WaitN(ctx, 1); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

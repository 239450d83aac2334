package mock_test

import (
	"context"
	"testing"

	"github.com/smsgateway/sms"
	"github.com/smsgateway/sms/providers/mock"
)

// BenchmarkSend measures one accepted call, recording included.
func BenchmarkSend(b *testing.B) {
	p := mock.New()
	ctx := context.Background()
	m := sms.Message{To: alice, Text: "hello"}
	b.ReportAllocs()
	for range b.N {
		if _, err := p.Send(ctx, m); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSendParallel measures calls from many goroutines, which contend
// on the Provider's lock.
func BenchmarkSendParallel(b *testing.B) {
	p := mock.New(mock.Idempotent(), mock.FailEvery(10, mock.Err(sms.KindTemporary)))
	ctx := context.Background()
	m := sms.Message{To: alice, Text: "hello"}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			_, _ = p.Send(ctx, m)
		}
	})
}

package redislimit_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/smsgateway/sms"
	"github.com/smsgateway/sms/limit/redislimit"
	"github.com/smsgateway/sms/providers/mock"
)

// Every instance of a backend builds its Client this way: all of them
// together send at most 200 messages per second through the gateway.
// (No output: it needs a Redis.)
func Example() {
	rdb := redis.NewClient(&redis.Options{
		Addr:                  "127.0.0.1:6379",
		ContextTimeoutEnabled: true, // lets WaitN's context cut a hung request short
	})
	defer rdb.Close()

	l, err := redislimit.New(rdb, "sms:gateway-1", 200, 10) // 200 per second, bursts of 10
	if err != nil {
		log.Fatal(err)
	}
	c, err := sms.New(mock.New(), sms.WithLimiter(l), sms.WithLimitPerPart())
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := c.Send(ctx, sms.Message{To: "+4915112345678", Text: "Your code is 1234"})
	switch {
	case errors.Is(err, redislimit.ErrExceedsBurst):
		fmt.Println("more parts than the burst: never sendable")
	case errors.Is(err, sms.ErrNotAttempted):
		fmt.Println("not sent, the limit or Redis held it:", err)
	case err != nil:
		fmt.Println("failed:", err)
	default:
		fmt.Println(res.Status)
	}
}

// Without Redis a wait ends with ctx, and says why; nothing is granted.
func ExampleLimiter_WaitN_unavailable() {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"}) // nothing listens there
	defer rdb.Close()
	l, err := redislimit.New(rdb, "sms:gateway-1", 200, 10, redislimit.WithRequestTimeout(50*time.Millisecond))
	if err != nil {
		log.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	err = l.WaitN(ctx, 1)
	fmt.Println(errors.Is(err, redislimit.ErrUnavailable), errors.Is(err, context.DeadlineExceeded))
	// Output: true true
}

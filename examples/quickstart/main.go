// Command quickstart sends one text and a small mailing through the mock
// provider and prints what happened. Swap mock.New for a real provider (see
// providers/httpquery) to send for real.
package main

import (
	"context"
	"fmt"
	"log"
	"log/slog"
	"os"
	"time"

	"github.com/smsgateway/sms"
	"github.com/smsgateway/sms/providers/mock"
)

func main() {
	gateway := mock.New(
		mock.Latency(20*time.Millisecond),
		mock.FailFirst(1, mock.Err(sms.KindTemporary)), // the first attempt fails, the retry succeeds
	)
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	c, err := sms.New(gateway,
		sms.WithRateLimit(100, 10),
		sms.WithConcurrency(4),
		sms.WithRetry(sms.RetryPolicy{BaseDelay: 50 * time.Millisecond}),
		sms.WithLogger(logger),
	)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()

	res, err := c.Send(ctx, sms.Message{To: "8 (800) 555-35-35", Text: "Hello"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("send: %s to %s, message ID %s, %d attempts\n", res.Status, res.Number, res.MessageID, res.Attempts)

	rep, err := c.Mailing(ctx, sms.Mailing{
		Text: "Welcome!",
		To:   []string{"88005553535", "85539317914264", "+49 151 1234 5678", "88005553535", "not-a-number"},
	})
	for _, r := range rep.Results {
		fmt.Printf("mailing #%d %-18s %s\n", r.Index, r.To, r.Status)
	}
	fmt.Printf("mailing: %d sent, %d failed, %d skipped in %v\n", rep.Sent, rep.Failed, rep.Skipped, rep.Duration.Round(time.Millisecond))
	if err != nil {
		fmt.Println("problems:", err)
	}
}

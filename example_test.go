package sms_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/smsgateway/sms"
	"github.com/smsgateway/sms/providers/mock"
)

func ExampleNew() {
	p := mock.New() // any sms.Provider: providers/httpquery for a real gateway
	c, err := sms.New(p, sms.WithRateLimit(50, 10), sms.WithConcurrency(8))
	if err != nil {
		panic(err)
	}
	defer c.Close()

	res, err := c.Send(context.Background(), sms.Message{To: "+49 151 1234 5678", Text: "Your code is 1234"})
	if err != nil {
		fmt.Println("not sent:", err)
		return
	}
	fmt.Println(res.Status, res.Number, res.MessageID, res.Attempts)
	// Output: sent +4915112345678 mock-1 1
}

func ExampleClient_Mailing() {
	p := mock.New(mock.FailNumber("+4915100000003", mock.Err(sms.KindRejected)))
	c, _ := sms.New(p)
	defer c.Close()

	rep, err := c.Mailing(context.Background(), sms.Mailing{
		Text: "Welcome!",
		To:   []string{"+4915100000001", "+49 151 0000 0001", "+4915100000003", "call me"},
	})
	for i, r := range rep.Results {
		fmt.Printf("%d %-18q %s\n", i, r.To, r.Status)
	}
	fmt.Printf("sent %d, failed %d, skipped %d\n", rep.Sent, rep.Failed, rep.Skipped)
	fmt.Println(errors.Is(err, sms.ErrRejected), errors.Is(err, sms.ErrInvalidNumber))
	// Output:
	// 0 "+4915100000001"   sent
	// 1 "+49 151 0000 0001" skipped
	// 2 "+4915100000003"   failed
	// 3 "call me"          skipped
	// sent 1, failed 1, skipped 2
	// true true
}

// Temporary failures are retried; rejections never are.
func Example_retries() {
	p := mock.New(
		mock.FailNumber("+4915100000009", mock.Err(sms.KindRejected)),
		mock.FailFirst(2, mock.Err(sms.KindTemporary)),
	)
	c, _ := sms.New(p, sms.WithRetry(sms.RetryPolicy{MaxAttempts: 3, BaseDelay: time.Millisecond}))
	defer c.Close()
	ctx := context.Background()

	res, err := c.Send(ctx, sms.Message{To: "+4915100000001", Text: "hi"})
	fmt.Println(res.Status, res.Attempts, err)

	res, err = c.Send(ctx, sms.Message{To: "+4915100000009", Text: "hi"})
	var e *sms.Error
	if errors.As(err, &e) {
		fmt.Println(res.Status, e.Kind, e.Attempts, errors.Is(err, sms.ErrRejected))
	}
	// Output:
	// sent 3 <nil>
	// failed rejected 1 true
}

// A table-driven test of code that sends SMS, with the mock scripting the
// gateway. In a _test.go file the loop body would be t.Run(tt.name, ...).
func Example_tableDriven() {
	tests := []struct {
		name      string
		gateway   *mock.Provider
		wantSent  int
		wantCalls int
		wantErr   error
	}{
		{"accepted", mock.New(), 1, 1, nil},
		{"queue full, then accepted", mock.New(mock.FailFirst(1, mock.Err(sms.KindTemporary))), 1, 2, nil},
		{"bad credentials", mock.New(mock.FailFirst(9, mock.Err(sms.KindFatal))), 0, 1, sms.ErrFatal},
		{"answer lost", mock.New(mock.FailFirst(1, mock.Delivered(nil))), 1, 1, sms.ErrAmbiguous},
	}
	for _, tt := range tests {
		c, _ := sms.New(tt.gateway, sms.WithRetry(sms.RetryPolicy{BaseDelay: time.Millisecond}))
		_, err := c.Send(context.Background(), sms.Message{To: "+4915112345678", Text: "hi"})
		c.Close()
		ok := len(tt.gateway.Sent()) == tt.wantSent &&
			len(tt.gateway.Calls()) == tt.wantCalls &&
			(tt.wantErr == nil) == (err == nil) && (tt.wantErr == nil || errors.Is(err, tt.wantErr))
		fmt.Printf("%-26s ok=%v\n", tt.name, ok)
	}
	// Output:
	// accepted                   ok=true
	// queue full, then accepted  ok=true
	// bad credentials            ok=true
	// answer lost                ok=true
}

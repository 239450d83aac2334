package routing_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/smsgateway/sms"
	"github.com/smsgateway/sms/providers/failover"
	"github.com/smsgateway/sms/providers/routing"
)

// accepting stands in for a real provider in the example.
type accepting struct{}

func (accepting) Send(context.Context, sms.Message) (sms.Receipt, error) {
	return sms.Receipt{MessageID: "1"}, nil
}

func Example() {
	p, err := routing.New(routing.Config{
		Routes: []routing.Route{
			{Prefix: "+7", Vendor: failover.Vendor{Name: "ru", Provider: accepting{}}},
			{Prefix: "+79", Vendor: failover.Vendor{Name: "ru-mobile", Provider: accepting{}}},
			{Prefix: "+49", Vendor: failover.Vendor{Name: "de", Provider: accepting{}}},
		},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	c, err := sms.New(p, sms.WithRetry(sms.RetryPolicy{MaxAttempts: 1}))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()

	for _, to := range []string{"+7 916 123-45-67", "+7 495 123-45-67", "+49 30 1234567", "+44 20 7946 0000"} {
		res, err := c.Send(context.Background(), sms.Message{To: to, Text: "hi"})
		switch {
		case errors.Is(err, routing.ErrNoRoute):
			fmt.Println(res.Number, "no route")
		case err != nil:
			fmt.Println(res.Number, err)
		default:
			fmt.Println(res.Number, "via", res.Provider)
		}
	}
	// Output:
	// +79161234567 via ru-mobile
	// +74951234567 via ru
	// +49301234567 via de
	// +442079460000 no route
}

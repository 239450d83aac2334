package failover_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/smsgateway/sms"
	"github.com/smsgateway/sms/providers/failover"
)

// gateway stands in for a real provider in the examples: it refuses every
// message with err, or accepts it when err is nil.
type gateway struct{ err error }

func (g gateway) Send(_ context.Context, msg sms.Message) (sms.Receipt, error) {
	if g.err != nil {
		return sms.Receipt{}, g.err
	}
	return sms.Receipt{MessageID: "42"}, nil
}

func Example() {
	down := &sms.Error{Kind: sms.KindTemporary, Err: errors.New("connection refused")}
	p, err := failover.New(
		failover.Vendor{Name: "primary", Provider: gateway{err: down}},
		failover.Vendor{Name: "backup", Provider: gateway{}},
	)
	if err != nil {
		fmt.Println(err)
		return
	}
	c, err := sms.New(p)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()

	res, err := c.Send(context.Background(), sms.Message{To: "+4915112345678", Text: "Your code is 1234"})
	fmt.Println(res.Status, "by", res.Provider, "id", res.MessageID, err)
	// Output:
	// sent by backup id 42 <nil>
}

// An ambiguous outcome stops the failover: the first vendor may have sent
// the message, and the second would send it again.
func Example_ambiguous() {
	timeout := &sms.Error{Kind: sms.KindAmbiguous, Err: errors.New("timeout after the request was written")}
	p, err := failover.New(
		failover.Vendor{Name: "primary", Provider: gateway{err: timeout}},
		failover.Vendor{Name: "backup", Provider: gateway{}},
	)
	if err != nil {
		fmt.Println(err)
		return
	}
	_, err = p.Send(context.Background(), sms.Message{To: "+4915112345678", Text: "hi"})
	var e *sms.Error
	var ve *failover.VendorError
	if errors.As(err, &e) && errors.As(err, &ve) {
		fmt.Println(e.Kind, "at", ve.Vendor)
	}
	// Output:
	// ambiguous at primary
}

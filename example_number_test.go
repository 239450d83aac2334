package sms_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/smsgateway/sms"
)

func ExampleNormalizeNumber() {
	for _, number := range []string{
		"8 (800) 555-35-35",
		"+1 (555) 010-0000",
		"+7 916 CALL ME",
		"12-34",
	} {
		n, err := sms.NormalizeNumber(number)
		if errors.Is(err, sms.ErrInvalidNumber) {
			fmt.Printf("%q: invalid\n", number)
			continue
		}
		fmt.Printf("%q: %s\n", number, n)
	}
	// Output:
	// "8 (800) 555-35-35": 88005553535
	// "+1 (555) 010-0000": +15550100000
	// "+7 916 CALL ME": invalid
	// "12-34": invalid
}

// toRecipient is a Provider for the examples that accepts every message and
// prints the number it was given.
type toRecipient struct{}

func (toRecipient) Send(_ context.Context, msg sms.Message) (sms.Receipt, error) {
	fmt.Println("provider got", msg.To)
	return sms.Receipt{}, nil
}

// A custom Normalizer builds on NormalizeNumber and turns Russian national
// numbers (8 and ten digits) into E.164.
func ExampleNormalizer_national() {
	russian := func(number string) (string, error) {
		n, err := sms.NormalizeNumber(number)
		if err != nil {
			return "", err
		}
		if len(n) == 11 && n[0] == '8' {
			return "+7" + n[1:], nil
		}
		return n, nil
	}

	c, err := sms.New(toRecipient{}, sms.WithNormalizer(russian))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()

	res, err := c.Send(context.Background(), sms.Message{To: "8 (916) 123-45-67", Text: "Hello"})
	fmt.Println(res.To, "->", res.Number, res.Status, err)
	// Output:
	// provider got +79161234567
	// 8 (916) 123-45-67 -> +79161234567 sent <nil>
}

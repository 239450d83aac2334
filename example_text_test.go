package sms_test

import (
	"fmt"
	"strings"

	"github.com/smsgateway/sms"
)

func ExampleAnalyze() {
	for _, text := range []string{
		"Your code is 123456",
		"Price: 10€",                            // € is in the extension table: 2 septets
		"Ваш код 123456",                        // Cyrillic: UCS-2
		strings.Repeat("a", 152) + "€ and more", // € would straddle the boundary
	} {
		info := sms.Analyze(text)
		fmt.Printf("%s, %d units, %d part(s)\n", info.Encoding, info.Units, info.Parts)
	}
	// Output:
	// GSM-7, 19 units, 1 part(s)
	// GSM-7, 11 units, 1 part(s)
	// UCS-2, 14 units, 1 part(s)
	// GSM-7, 163 units, 2 part(s)
}

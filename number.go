package sms

import (
	"fmt"
	"strings"
)

// A Normalizer turns a number as a user wrote it into the form the Client
// sends and deduplicates by, or returns an error saying what is wrong with it.
// It must be safe for concurrent use. Plug one in with WithNormalizer; the
// default is NormalizeNumber.
//
// Its error should wrap ErrInvalidNumber; when it does not, the Client joins
// ErrInvalidNumber to it, so errors.Is(err, ErrInvalidNumber) holds for every
// number a Normalizer refuses. Two numbers that normalize to the same string
// are one recipient: a mailing sends to it once.
//
// NormalizeNumber guesses no country. To validate numbers against real
// numbering plans and turn national forms into E.164, wrap a library such as
// github.com/nyaruka/phonenumbers (a port of Google's libphonenumber) in a
// Normalizer in your own module; this module does not depend on it:
//
//	import (
//		"fmt"
//
//		"github.com/nyaruka/phonenumbers"
//		"github.com/smsgateway/sms"
//	)
//
//	// e164 reads numbers without a country code as Russian ones, and
//	// returns every valid number in E.164 form, such as "+78005553535".
//	func e164(number string) (string, error) {
//		num, err := phonenumbers.Parse(number, "RU")
//		if err != nil {
//			return "", fmt.Errorf("%w: %v", sms.ErrInvalidNumber, err)
//		}
//		if !phonenumbers.IsValidNumber(num) {
//			return "", fmt.Errorf("%w: not a valid number", sms.ErrInvalidNumber)
//		}
//		return phonenumbers.Format(num, phonenumbers.E164), nil
//	}
//
//	client, err := sms.New(provider, sms.WithNormalizer(e164))
//
// A smaller custom rule can build on NormalizeNumber instead: see the
// Normalizer example.
type Normalizer func(number string) (string, error)

// Number limits of the default normalizer, after separators are removed.
const (
	minDigits = 7
	maxDigits = 15
)

// NormalizeNumber is the default Normalizer. It is deliberately light and
// guesses no country:
//
//   - spaces, dashes, dots and parentheses between digits are dropped;
//   - one leading '+' is kept;
//   - what remains must be 7 to 15 digits (E.164 allows at most 15);
//   - anything else (letters, a '+' inside the number, other symbols) is an
//     error, and so is what reads as a number rather than a phone number: a
//     sign ('-' before the first digit) and a single dot, which is a
//     decimal fraction ("88005553535.0" is not 880055535350). Dots separate
//     groups only when there are two or more: "06.12.34.56.78".
//
// National forms pass as given: "8 (800) 555-35-35" becomes "88005553535",
// "+1 (555) 010-0000" becomes "+15550100000".
//
// The error wraps ErrInvalidNumber and says what is wrong.
func NormalizeNumber(number string) (string, error) {
	if normal(number) {
		return number, nil // already normal: no copy
	}
	var b strings.Builder
	b.Grow(len(number))
	digits := 0
	for i, r := range number {
		switch {
		case r >= '0' && r <= '9':
			b.WriteRune(r)
			digits++
		case r == '-' && digits == 0:
			return "", fmt.Errorf("%w: a sign before the number", ErrInvalidNumber)
		case r == ' ' || r == '-' || r == '.' || r == '(' || r == ')':
		case r == '+':
			if digits > 0 || b.Len() > 0 {
				return "", fmt.Errorf("%w: '+' must come first", ErrInvalidNumber)
			}
			b.WriteByte('+')
		default:
			return "", fmt.Errorf("%w: unexpected character %q at byte %d", ErrInvalidNumber, r, i)
		}
	}
	switch {
	case strings.Count(number, ".") == 1:
		return "", fmt.Errorf("%w: a decimal fraction, not a phone number", ErrInvalidNumber)
	case digits == 0:
		return "", fmt.Errorf("%w: no digits", ErrInvalidNumber)
	case digits < minDigits:
		return "", fmt.Errorf("%w: %d digits, at least %d needed", ErrInvalidNumber, digits, minDigits)
	case digits > maxDigits:
		return "", fmt.Errorf("%w: %d digits, at most %d allowed", ErrInvalidNumber, digits, maxDigits)
	}
	return b.String(), nil
}

// normal reports whether number is already in the default normalizer's
// output form: an optional '+' and 7 to 15 digits.
func normal(number string) bool {
	digits := number
	if len(digits) > 0 && digits[0] == '+' {
		digits = digits[1:]
	}
	if len(digits) < minDigits || len(digits) > maxDigits {
		return false
	}
	for i := 0; i < len(digits); i++ {
		if digits[i] < '0' || digits[i] > '9' {
			return false
		}
	}
	return true
}

package httpquery

import (
	"encoding/base64"
	"slices"
	"strings"

	"github.com/smsgateway/sms"
	"github.com/smsgateway/sms/internal/redact"
)

// The texts of a failure (the error of Send, and so the sms.Client's log
// lines, and the provider's own log line) quote neither a secret nor the
// message's number or text: the request URL appears without its query, and
// whatever the gateway or the network said is scrubbed by scrubber first.

// basicAuth returns the forms in which HTTP basic authentication puts a
// password on the wire: the Authorization header's value, and the base64
// of "username:password" in it.
func basicAuth(username, password string) []string {
	if password == "" {
		return nil
	}
	b64 := base64.StdEncoding.EncodeToString([]byte(username + ":" + password))
	return []string{"Basic " + b64, b64}
}

// scrubber returns a Redactor for the texts of msg's failure: every secret,
// msg's number (as given, as sent, normalized, and its digits alone) and
// text (as given and as sent), and, when it was sent, its report URL with
// its token (see deliverySettings.reportSecrets). redact.New adds the
// URL-encoded forms of each.
func (s *settings) scrubber(msg sms.Message) *redact.Redactor {
	values := append(slices.Clip(s.secrets), msg.To, s.number(msg.To), digits(msg.To), msg.Text)
	if n, err := sms.NormalizeNumber(msg.To); err == nil {
		values = append(values, n, digits(n))
	}
	if s.ucs2UTF16 && sms.Analyze(msg.Text).Encoding == sms.UCS2 {
		values = append(values, utf16BE(msg.Text))
	}
	if s.delivery != nil && msg.ReportURL != "" {
		values = append(values, s.delivery.reportSecrets(msg.ReportURL)...)
	}
	return redact.New(values...)
}

// digits returns the decimal digits of s.
func digits(s string) string {
	return strings.Map(func(r rune) rune {
		if '0' <= r && r <= '9' {
			return r
		}
		return -1
	}, s)
}

package httpquery

import (
	"net/http"
	"strings"
	"time"
)

// maxRetryAfter caps a parsed Retry-After, so that absurd values cannot
// overflow a time.Duration. The sms.Client caps it much lower again
// (RetryPolicy.MaxRetryAfter).
const maxRetryAfter = 24 * time.Hour

// parseRetryAfter reads a Retry-After header value: either delay-seconds
// ("120") or an HTTP-date ("Fri, 31 Dec 1999 23:59:59 GMT", and the two
// obsolete date forms http.ParseTime accepts), relative to now. A date in
// the past gives 0. The result is at most maxRetryAfter. ok is false for an
// empty or malformed value, including negative numbers.
func parseRetryAfter(v string, now time.Time) (d time.Duration, ok bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if isDigits(v) {
		var secs int64
		for i := 0; i < len(v); i++ {
			secs = secs*10 + int64(v[i]-'0')
			if secs > int64(maxRetryAfter/time.Second) {
				return maxRetryAfter, true
			}
		}
		return time.Duration(secs) * time.Second, true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	d = t.Sub(now)
	switch {
	case d < 0:
		return 0, true
	case d > maxRetryAfter:
		return maxRetryAfter, true
	}
	return d, true
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

package httpquery

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf16"

	"github.com/hashicorp/go-retryablehttp"

	"github.com/smsgateway/sms"
	"github.com/smsgateway/sms/internal/redact"
)

// values returns every parameter of the request for msg, in the documented
// order: static Params (and the URL's own query, for GET), the text, the
// number, the sender, then UCS2Params when the text needs UCS-2.
func (s *settings) values(msg sms.Message) url.Values {
	v := make(url.Values, len(s.params)+4)
	for k, vs := range s.params {
		v[k] = append(make([]string, 0, len(vs)+2), vs...)
	}
	text := msg.Text
	ucs2 := sms.Analyze(text).Encoding == sms.UCS2
	if ucs2 && s.ucs2UTF16 {
		text = utf16BE(text)
	}
	v[s.text] = append(v[s.text], text)
	to := msg.To
	if s.stripPlus {
		to = strings.TrimPrefix(to, "+")
	}
	v[s.to] = append(v[s.to], to)
	if s.from != "" && msg.From != "" {
		v[s.from] = append(v[s.from], msg.From)
	}
	if ucs2 {
		for k, vs := range s.ucs2Params {
			v[k] = append(v[k], vs...)
		}
	}
	return v
}

// utf16BE returns text as UTF-16 big-endian bytes.
func utf16BE(text string) string {
	units := utf16.Encode([]rune(text))
	b := make([]byte, 0, 2*len(units))
	for _, u := range units {
		b = append(b, byte(u>>8), byte(u))
	}
	return string(b)
}

// number returns the number as sent, for "{to}" in JSON paths.
func (s *settings) number(to string) string {
	if s.stripPlus {
		return strings.TrimPrefix(to, "+")
	}
	return to
}

// newRequest builds the request for msg and the printable, redacted form of
// its URL.
func (s *settings) newRequest(ctx context.Context, msg sms.Message) (*retryablehttp.Request, string, error) {
	encoded := s.values(msg).Encode()
	u := *s.url
	var body any
	if s.method == http.MethodGet {
		u.RawQuery = encoded
	} else {
		body = []byte(encoded)
	}
	req, err := retryablehttp.NewRequestWithContext(ctx, s.method, u.String(), body)
	if err != nil {
		return nil, "", err
	}
	if s.method == http.MethodGet {
		// retryablehttp gives every request a GetBody, which makes a GET
		// "replayable" for net/http: its Transport would then resend the
		// request by itself when a reused connection fails after the
		// request was written. A body of no bytes and no GetBody makes it
		// not replayable, and is sent as no body at all.
		req.GetBody = nil
		req.Body = io.NopCloser(strings.NewReader(""))
	} else {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, vs := range s.headers {
		req.Header[k] = vs
	}
	if s.username != "" {
		req.SetBasicAuth(s.username, s.password)
	}
	return req, redact.URL(&u, s.secret), nil
}

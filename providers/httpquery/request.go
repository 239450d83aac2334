package httpquery

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"unicode/utf16"

	"github.com/hashicorp/go-retryablehttp"

	"github.com/smsgateway/sms"
	"github.com/smsgateway/sms/internal/redact"
)

// encoded holds the parts of every request that do not depend on the
// message, encoded once by New, each also in its printable (redacted) form.
type encoded struct {
	static, staticPrintable string // Params (and the URL's query, for GET)
	ucs2, ucs2Printable     string // UCS2Params
	url, urlPrintable       string // the URL, without query for GET
	toSecret, textSecret    bool   // whether the per-message names are secret
	fromSecret              bool
	dynamicSecret           bool // any of the three
}

func (s *settings) encode() {
	s.enc.static = encodeValues(s.params)
	s.enc.staticPrintable = redact.Query(s.enc.static, s.secret)
	s.enc.ucs2 = encodeValues(s.ucs2Params)
	s.enc.ucs2Printable = redact.Query(s.enc.ucs2, s.secret)
	s.enc.url = s.url.String()
	s.enc.urlPrintable = redact.URL(s.url, s.secret)
	s.enc.toSecret, s.enc.textSecret, s.enc.fromSecret = s.secret(s.to), s.secret(s.text), s.from != "" && s.secret(s.from)
	s.enc.dynamicSecret = s.enc.toSecret || s.enc.textSecret || s.enc.fromSecret
}

// encodeValues is url.Values.Encode: keys sorted, values in order.
func encodeValues(v url.Values) string {
	keys := make([]string, 0, len(v))
	for k := range v {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		for _, val := range v[k] {
			appendParam(&b, k, val)
		}
	}
	return b.String()
}

func appendParam(b *strings.Builder, k, v string) {
	if b.Len() > 0 {
		b.WriteByte('&')
	}
	appendEscaped(b, k)
	b.WriteByte('=')
	appendEscaped(b, v)
}

// appendEscaped writes url.QueryEscape(s) to b without an intermediate
// string.
func appendEscaped(b *strings.Builder, s string) {
	const hex = "0123456789ABCDEF"
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9',
			c == '-', c == '_', c == '.', c == '~':
			b.WriteByte(c)
		case c == ' ':
			b.WriteByte('+')
		default:
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&15])
		}
	}
}

func appendRaw(b *strings.Builder, encoded string) {
	if encoded == "" {
		return
	}
	if b.Len() > 0 {
		b.WriteByte('&')
	}
	b.WriteString(encoded)
}

// query returns the encoded parameters of the request for msg and their
// printable form, in the documented order: static Params (and the URL's own
// query, for GET), the text, the number, the sender, then UCS2Params when
// the text needs UCS-2. Parameters of different names may come in any
// order; values of one name keep this order.
func (s *settings) query(msg sms.Message) (q, printable string) {
	text := msg.Text
	ucs2 := sms.Analyze(text).Encoding == sms.UCS2
	if ucs2 && s.ucs2UTF16 {
		text = utf16BE(text)
	}
	to := s.number(msg.To)
	sendFrom := s.from != "" && msg.From != ""

	var b strings.Builder
	b.Grow(len(s.enc.static) + 3*len(text) + 3*len(to) + 3*len(msg.From) + len(s.enc.ucs2) + 32)
	appendRaw(&b, s.enc.static)
	appendParam(&b, s.text, text)
	appendParam(&b, s.to, to)
	if sendFrom {
		appendParam(&b, s.from, msg.From)
	}
	if ucs2 {
		appendRaw(&b, s.enc.ucs2)
	}
	q = b.String()
	if !s.enc.dynamicSecret && s.enc.staticPrintable == s.enc.static && s.enc.ucs2Printable == s.enc.ucs2 {
		return q, q
	}

	// Some parameter is secret: build the printable form apart.
	var p strings.Builder
	p.Grow(len(q))
	appendRaw(&p, s.enc.staticPrintable)
	add := func(k, v string, secret bool) {
		if secret {
			v = redact.Mask
		}
		appendParam(&p, k, v)
	}
	add(s.text, text, s.enc.textSecret)
	add(s.to, to, s.enc.toSecret)
	if sendFrom {
		add(s.from, msg.From, s.enc.fromSecret)
	}
	if ucs2 {
		appendRaw(&p, s.enc.ucs2Printable)
	}
	return q, p.String()
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

// number returns the number as sent, also for "{to}" in JSON paths.
func (s *settings) number(to string) string {
	if s.stripPlus {
		return strings.TrimPrefix(to, "+")
	}
	return to
}

// newRequest builds the request for msg and the printable, redacted form of
// its URL.
func (s *settings) newRequest(ctx context.Context, msg sms.Message) (*retryablehttp.Request, string, error) {
	q, printable := s.query(msg)
	var req *retryablehttp.Request
	if s.method == http.MethodGet {
		u := *s.url
		u.RawQuery = q
		hr := (&http.Request{
			Method:     http.MethodGet,
			URL:        &u,
			Proto:      "HTTP/1.1",
			ProtoMajor: 1,
			ProtoMinor: 1,
			Header:     make(http.Header, len(s.headers)+1),
			Host:       s.host,
		}).WithContext(ctx)
		var err error
		if req, err = retryablehttp.FromRequest(hr); err != nil {
			return nil, "", err
		}
		// Without GetBody a GET is not "replayable" for net/http, whose
		// Transport would otherwise resend it by itself when a reused
		// connection fails after the request was written. A body of no
		// bytes makes net/http look at GetBody; with the "identity"
		// transfer encoding it is written as it is (nothing, and no
		// Content-Length), without the chunking or the goroutine probing
		// the body that a body of unknown length gets otherwise (see
		// http.Request.Write). Set after FromRequest, which would read it.
		// A *strings.Reader, which net/http knows to be in memory, lets it
		// write the headers without a separate flush; it cannot be shared,
		// since reading it writes to it.
		hr.Body = io.NopCloser(strings.NewReader(""))
		hr.TransferEncoding = identity
	} else {
		var err error
		req, err = retryablehttp.NewRequestWithContext(ctx, s.method, s.enc.url, []byte(q))
		if err != nil {
			return nil, "", err
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, vs := range s.headers {
		req.Header[k] = vs
	}
	if s.username != "" {
		req.SetBasicAuth(s.username, s.password)
	}
	if s.method == http.MethodGet {
		return req, s.enc.urlPrintable + "?" + printable, nil
	}
	return req, s.enc.urlPrintable, nil
}

// identity is the transfer encoding of every GET; net/http only reads it.
var identity = []string{"identity"}

package httpquery

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"testing"
	"time"
	"unicode/utf16"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smsgateway/sms"
)

// The canary message: its number and text must appear in no error and no
// log line, in any form.
const (
	canaryNumber    = "+4915187654321"
	canaryFormatted = "+49 (151) 8765-4321" // as a caller may hand it to the provider
	canaryDigits    = "4915187654321"
	canaryText      = "TXTCANARY code 7319 & more"
	canaryUCS2      = "ТЕКСТ TXTCANARY 7319"
	// A report URL as an sms.DeliveryHandler makes them: its token lets
	// whoever holds it report on the message.
	canaryToken     = "bXNnLTE.TOKCANARYxyzMAC0123456"
	canaryReportURL = "https://hooks.example/dlr/caf%C3%A9?site=a&sms_report=" + canaryToken
)

// reportForms returns the forms of the canary report URL to search for: as
// given, URL-encoded, its token, and the token's distinctive word.
func reportForms() []string {
	return []string{
		canaryReportURL, url.QueryEscape(canaryReportURL), url.PathEscape(canaryReportURL),
		canaryToken, "TOKCANARY",
	}
}

// messageForms returns the forms of to and text to search for: as given,
// URL-encoded, the number's digits, the distinctive word of the text, and
// the UTF-16BE bytes of the text, URL-encoded, as Jasmin gets them.
func messageForms(to, text string) []string {
	var be []byte
	for _, u := range utf16.Encode([]rune(text)) {
		be = append(be, byte(u>>8), byte(u))
	}
	return []string{
		to, url.QueryEscape(to), url.PathEscape(to), canaryDigits,
		text, url.QueryEscape(text), url.PathEscape(text), "TXTCANARY",
		url.QueryEscape(string(be)),
	}
}

// assertClean checks that none of forms appears in s.
func assertClean(t *testing.T, what, s string, forms []string) {
	t.Helper()
	for _, f := range forms {
		assert.NotContains(t, s, f, "%s leaks %q", what, f)
	}
}

// assertErrorTextsClean checks err's text, its %+v and %#v forms, and the
// text of every error in its chain.
func assertErrorTextsClean(t *testing.T, err error, forms []string) {
	t.Helper()
	if err == nil {
		return
	}
	assertClean(t, "error", err.Error(), forms)
	assertClean(t, "%+v", fmt.Sprintf("%+v", err), forms)
	assertClean(t, "%#v", fmt.Sprintf("%#v", err), forms)
	var ue *url.Error
	assert.False(t, errors.As(err, &ue), "a *url.Error quotes the whole URL")
	queue := []error{err}
	for len(queue) > 0 {
		e := queue[0]
		queue = queue[1:]
		assertClean(t, fmt.Sprintf("chain %T", e), e.Error(), forms)
		switch u := e.(type) {
		case interface{ Unwrap() error }:
			if n := u.Unwrap(); n != nil {
				queue = append(queue, n)
			}
		case interface{ Unwrap() []error }:
			queue = append(queue, u.Unwrap()...)
		}
	}
}

// rawEcho is a TCP server, not an HTTP one: it writes back the head of the
// request it reads. net/http then fails with "malformed HTTP response",
// quoting the start of that answer: the request line, query included.
func rawEcho(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			r := bufio.NewReader(c)
			for {
				line, err := r.ReadString('\n')
				_, _ = c.Write([]byte(line))
				if err != nil || line == "\r\n" {
					break
				}
			}
			_ = c.Close()
		}
	}()
	t.Cleanup(func() { _ = ln.Close(); wg.Wait() })
	return "http://" + ln.Addr().String()
}

// brokenEcho answers with the start of an echo and then drops the
// connection before the promised length: the answer breaks off.
func brokenEcho(w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	body := fmt.Sprintf("got %s %s", r.URL.RawQuery, r.Form.Encode())
	w.Header().Set("Content-Length", strconv.Itoa(len(body)+1000))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte(body))
	w.(http.Flusher).Flush()
	if c, _, err := w.(http.Hijacker).Hijack(); err == nil {
		_ = c.Close()
	}
}

// TestMessageNeverLeaks sends a canary number, text and report URL to
// gateways that answer every way there is, several of them echoing the
// request, and searches every error text and every log line (the
// provider's and the sms.Client's) for them, and Receipt.URL for the
// report URL's token.
func TestMessageNeverLeaks(t *testing.T) {
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	refusedURL := "http://" + closed.Addr().String()
	require.NoError(t, closed.Close())

	release := make(chan struct{})
	hang := newCounter(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	})
	t.Cleanup(func() { close(release) })
	reset := newCounter(t, func(w http.ResponseWriter, r *http.Request) {
		if c, _, err := w.(http.Hijacker).Hijack(); err == nil {
			_ = c.Close()
		}
	})

	servers := map[string]string{
		"accepted echo":  newCounter(t, echo(202)).URL,
		"rejected echo":  newCounter(t, echo(400)).URL,
		"fatal echo":     newCounter(t, echo(403)).URL,
		"temporary echo": newCounter(t, echo(503)).URL,
		"ambiguous echo": newCounter(t, echo(502)).URL,
		"broken echo":    newCounter(t, brokenEcho).URL,
		"raw echo":       rawEcho(t),
		"reset":          reset.URL,
		"refused":        refusedURL,
		"timeout":        hang.URL,
	}
	configs := map[string]struct {
		cfg  func(base string) Config
		text string
	}{
		"get":      {func(base string) Config { return Config{URL: base + "/send", FromParam: "from"} }, canaryText},
		"post":     {func(base string) Config { return Config{URL: base + "/send?json=1", Method: "POST"} }, canaryText},
		"kannel":   {func(base string) Config { return Kannel(base+"/cgi-bin/sendsms", "tester", "foobar") }, canaryText},
		"jasmin":   {func(base string) Config { return Jasmin(base+"/send", "foo", "bar") }, canaryUCS2},
		"original": {func(base string) Config { return Original(base + "/") }, canaryText},
		"smsru": {func(base string) Config {
			c := SMSRu("key")
			c.URL = base + "/sms/send"
			return c
		}, canaryText},
		"twilio": {func(base string) Config {
			c := Twilio(testAccountSID, "auth-token")
			c.URL = TwilioURL(base, testAccountSID)
			return c
		}, canaryText},
		"vonage": {func(base string) Config {
			c := Vonage("abcd1234", "abcdef0123456789")
			c.URL = base + "/sms/json"
			return c
		}, canaryText},
	}
	for cname, c := range configs {
		for sname, base := range servers {
			for _, via := range []string{"client", "provider"} {
				t.Run(cname+"/"+sname+"/"+via, func(t *testing.T) {
					var logs syncBuffer
					logger := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
					cfg := c.cfg(base)
					cfg.Timeout = sms.Duration(100 * time.Millisecond)
					cfg.Logger = logger
					p := newProvider(t, cfg, nil)
					msg := sms.Message{To: canaryNumber, Text: c.text, From: "ACME", ReportURL: canaryReportURL}
					var receiptURL string
					if via == "provider" {
						msg.To = canaryFormatted
						var rc sms.Receipt
						rc, err = p.Send(context.Background(), msg)
						receiptURL = rc.URL
					} else {
						cl, cerr := sms.New(p, sms.WithLogger(logger), sms.WithRetry(sms.RetryPolicy{MaxAttempts: 1}))
						require.NoError(t, cerr)
						var res sms.Result
						res, err = cl.Send(context.Background(), msg)
						require.NoError(t, cl.Close())
						assert.Equal(t, err, res.Err)
						receiptURL = res.URL
					}
					if sname != "accepted echo" {
						require.Error(t, err)
					} else if cname != "jasmin" && cname != "vonage" { // which want `Success "id"`, a JSON status
						require.NoError(t, err)
					}
					assertClean(t, "Receipt.URL", receiptURL, reportForms())
					forms := append(messageForms(msg.To, msg.Text), reportForms()...)
					assertErrorTextsClean(t, err, forms)
					assertClean(t, "logs", logs.String(), forms)
					assert.NotEmpty(t, logs.String(), "something was logged")

					var re *ResponseError
					if errors.As(err, &re) && sname != "timeout" {
						// The echo held the canaries: they were there,
						// and were masked.
						assert.Contains(t, re.Body, "REDACTED")
					}
					var qe *RequestError
					if errors.As(err, &qe) {
						assert.NotContains(t, qe.URL, "?", "no query in an error")
					}
				})
			}
		}
	}
}

// The URL in errors has no query, for POST neither (whose URL keeps its
// own), and no user-info password; Receipt.URL keeps what it documents.
func TestErrorURLHasNoQuery(t *testing.T) {
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	base := "http://user:pw@" + closed.Addr().String() + "/send?json=1&api_id=k"
	require.NoError(t, closed.Close())
	for _, method := range []string{"GET", "POST"} {
		t.Run(method, func(t *testing.T) {
			p := newProvider(t, Config{URL: base, Method: method, DialRetries: -1}, nil)
			rc, err := p.Send(context.Background(), sms.Message{To: canaryNumber, Text: canaryText})
			var re *RequestError
			require.True(t, errors.As(err, &re), "%v", err)
			assert.Equal(t, "http://user:REDACTED@"+closed.Addr().String()+"/send", re.URL)
			assert.Contains(t, rc.URL, "json=1")
			assert.Contains(t, rc.URL, "api_id=REDACTED")
			if method == "GET" {
				assert.Contains(t, rc.URL, url.QueryEscape(canaryNumber), "Receipt.URL is the request URL")
			}
		})
	}
}

// A cut excerpt keeps no part of the text: the answer is scrubbed whole,
// then cut.
func TestExcerptCutAfterScrubbing(t *testing.T) {
	for pad := 200; pad < 260; pad += 7 {
		t.Run(strconv.Itoa(pad), func(t *testing.T) {
			srv := newCounter(t, func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(http.StatusBadRequest)
				fmt.Fprintf(w, "%*s%s", pad, "", r.URL.Query().Get("text"))
			})
			p := newProvider(t, Config{URL: srv.URL}, nil)
			_, err := p.Send(context.Background(), sms.Message{To: canaryNumber, Text: canaryText})
			var re *ResponseError
			require.True(t, errors.As(err, &re))
			assert.NotContains(t, re.Body, "TXTCAN")
		})
	}
}

package httpquery

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smsgateway/sms"
)

const testAccountSID = "AC0123456789abcdef0123456789abcdef"

func twilioAt(base string) Config {
	c := Twilio(testAccountSID, "token")
	c.URL = TwilioURL(base, testAccountSID)
	return c
}

func vonageAt(base string) Config {
	c := Vonage("abcd1234", "secret123")
	c.URL = base + "/sms/json"
	return c
}

// twilioError is Twilio's error body for code with the HTTP status.
func twilioError(status, code int) string {
	return fmt.Sprintf(`{"code": %d, "message": "m", "more_info": "https://www.twilio.com/docs/errors/%d", "status": %d}`, code, code, status)
}

// assertCovers checks that cases test every code the preset maps.
func assertCovers(t *testing.T, codes map[string]Outcome, cases []presetCase) {
	t.Helper()
	tested := map[string]bool{}
	for _, tc := range cases {
		tested[tc.code] = true
		if tc.ok {
			tested[tc.id] = true
		}
	}
	for code, out := range codes {
		if out != Accepted {
			assert.True(t, tested[code], "code %s (%v) has no case", code, out)
		}
	}
}

// Twilio's answers: a created Message, or an error with Twilio's code and
// the HTTP status Twilio gives it.
func TestTwilioPreset(t *testing.T) {
	e := func(name string, status, code int, kind sms.Kind) presetCase {
		return presetCase{name: name, status: status, body: twilioError(status, code), kind: kind, code: fmt.Sprint(code)}
	}
	rejected, fatal := sms.KindRejected, sms.KindFatal
	cases := []presetCase{
		{name: "created", status: 201, body: `{"sid": "SM0123", "status": "queued", "error_code": null}`, ok: true, id: "SM0123"},
		e("invalid To", 400, 21211, rejected),
		e("To not reachable", 400, 21214, rejected),
		e("number not valid", 400, 21217, rejected),
		e("To is a short code", 400, 21265, rejected),
		e("To and From the same", 400, 21266, rejected),
		e("invalid phone number", 400, 21401, rejected),
		e("number type without SMS", 400, 21407, rejected),
		e("region not enabled", 400, 21408, rejected),
		e("phone number invalid", 400, 21421, rejected),
		e("To required", 400, 21604, rejected),
		e("unverified on trial", 400, 21608, rejected),
		e("unsubscribed recipient", 400, 21610, rejected),
		e("To not reachable via SMS", 400, 21612, rejected),
		e("To not a mobile number", 400, 21614, rejected),
		e("To is a landline", 400, 21635, rejected),
		e("invalid From", 400, 21212, rejected),
		e("body required", 400, 21602, rejected),
		e("From required", 400, 21603, rejected),
		e("From not SMS-capable", 400, 21606, rejected),
		e("body too long", 400, 21617, rejected),
		e("body or media required", 400, 21619, rejected),
		e("From not a Twilio number", 400, 21659, rejected),
		e("From of another account", 400, 21660, rejected),
		e("authentication", 401, 20003, fatal),
		e("account not active", 401, 20005, fatal),
		e("test credentials", 403, 20008, fatal),
		e("account not active (10001)", 401, 10001, fatal),
		e("account suspended", 400, 30002, fatal),
		e("no such account", 404, 20404, fatal),
		e("invalid StatusCallback", 400, 21609, fatal),
		e("too many requests", 429, 20429, sms.KindThrottled),
		e("From queue full", 400, 21611, sms.KindThrottled),
		e("service unavailable", 503, 20503, sms.KindTemporary),
		e("internal error", 500, 20500, sms.KindAmbiguous),
		// Codes not listed: the HTTP status decides.
		e("unknown code, 400", 400, 21999, rejected),
		e("unknown code, 401", 401, 20999, fatal),
		e("unknown code, 503", 503, 20999, sms.KindTemporary),
		{name: "429 without body", status: 429, kind: sms.KindThrottled, code: "429"},
		{name: "proxy 502", status: 502, body: "<html>Bad Gateway</html>", kind: sms.KindAmbiguous, code: "502"},
		{name: "proxy 504", status: 504, kind: sms.KindAmbiguous, code: "504"},
	}
	assertCovers(t, Twilio("AC", "x").Outcomes.Codes, cases)
	runPreset(t, twilioAt, "+14155552345", cases)
}

func vonageAnswer(parts ...string) string {
	var msgs []string
	for i, st := range parts {
		m := fmt.Sprintf(`{"to": "447700900000", "status": %q`, st)
		if st == "0" {
			m += fmt.Sprintf(`, "message-id": "0A000000000000%02d", "remaining-balance": "3.14", "message-price": "0.03", "network": "12345"`, i)
		} else {
			m += `, "error-text": "e"`
		}
		msgs = append(msgs, m+"}")
	}
	return fmt.Sprintf(`{"message-count": "%d", "messages": [%s]}`, len(parts), strings.Join(msgs, ", "))
}

// Vonage's answers: always 200, with a status per part.
func TestVonagePreset(t *testing.T) {
	s := func(name, status string, kind sms.Kind) presetCase {
		return presetCase{name: name, status: 200, body: vonageAnswer(status), kind: kind, code: status}
	}
	rejected, fatal := sms.KindRejected, sms.KindFatal
	cases := []presetCase{
		{name: "accepted", status: 200, body: vonageAnswer("0"), ok: true, id: "0A00000000000000"},
		{name: "two parts accepted", status: 200, body: vonageAnswer("0", "0"), ok: true, id: "0A00000000000000"},
		s("throttled", "1", sms.KindThrottled),
		s("too many binds", "10", sms.KindThrottled),
		s("invalid credentials", "4", fatal),
		s("account barred", "8", fatal),
		s("quota", "9", fatal),
		s("not enabled for HTTP", "11", fatal),
		s("invalid signature", "14", fatal),
		s("invalid callback", "23", fatal),
		s("signature and secret", "32", fatal),
		s("missing parameters", "2", rejected),
		s("invalid parameters", "3", rejected),
		s("invalid message", "6", rejected),
		s("number barred", "7", rejected),
		s("too long", "12", rejected),
		s("invalid sender", "15", rejected),
		s("invalid network code", "22", rejected),
		s("not whitelisted", "29", rejected),
		s("number de-activated", "33", rejected),
		s("internal error", "5", sms.KindAmbiguous),
		s("unknown status", "99", sms.KindAmbiguous),
		{name: "second part throttled", status: 200, body: vonageAnswer("0", "1"), kind: sms.KindAmbiguous, code: "1"},
		{name: "first part rejected, second accepted", status: 200, body: vonageAnswer("3", "0"), kind: sms.KindAmbiguous, code: "3"},
		{name: "every part throttled", status: 200, body: vonageAnswer("1", "1"), kind: sms.KindThrottled, code: "1"},
		{name: "no status", status: 200, body: `{"message-count": "0", "messages": []}`, kind: sms.KindAmbiguous, code: "200"},
		{name: "not JSON", status: 200, body: `<html>`, kind: sms.KindAmbiguous, code: "200"},
		{name: "401", status: 401, kind: fatal, code: "401"},
		{name: "proxy 502", status: 502, kind: sms.KindAmbiguous, code: "502"},
	}
	assertCovers(t, Vonage("k", "s").Outcomes.Codes, cases)
	runPreset(t, vonageAt, "+447700900000", cases)
}

// Throttled answers carry the Retry-After the vendor sent.
func TestVendorRetryAfter(t *testing.T) {
	srv := newCounter(t, answer(429, twilioError(429, 20429), "Retry-After", "7"))
	p := newProvider(t, twilioAt(srv.URL), nil)
	_, err := p.Send(context.Background(), testMsg)
	var e *sms.Error
	require.ErrorAs(t, err, &e)
	assert.Equal(t, sms.KindThrottled, e.Kind)
	assert.Equal(t, 7*time.Second, e.RetryAfter)
}

// The requests as the vendors document them.
func TestVendorRequests(t *testing.T) {
	msg := sms.Message{To: "+14155552345", Text: "Hello & to=+1999", From: "+14155550000"}
	t.Run("twilio", func(t *testing.T) {
		c := Twilio(testAccountSID, "token")
		assert.Equal(t, "https://api.twilio.com/2010-04-01/Accounts/"+testAccountSID+"/Messages.json", c.URL)
		req, printable := build(t, c, msg)
		assert.Equal(t, http.MethodPost, req.Method)
		assert.Equal(t, "application/x-www-form-urlencoded", req.Header.Get("Content-Type"))
		user, pw, ok := req.BasicAuth()
		assert.True(t, ok)
		assert.Equal(t, testAccountSID, user)
		assert.Equal(t, "token", pw)
		assert.Equal(t, url.Values{"To": {"+14155552345"}, "From": {"+14155550000"}, "Body": {"Hello & to=+1999"}}, sentParams(t, req))
		assert.Equal(t, c.URL, printable)
	})
	t.Run("vonage", func(t *testing.T) {
		c := Vonage("abcd1234", "secret123")
		assert.Equal(t, VonageURL, c.URL)
		req, _ := build(t, c, msg)
		assert.Equal(t, http.MethodPost, req.Method)
		assert.Equal(t, url.Values{"api_key": {"abcd1234"}, "api_secret": {"secret123"}, "to": {"14155552345"},
			"from": {"+14155550000"}, "text": {"Hello & to=+1999"}}, sentParams(t, req))
		req, _ = build(t, c, sms.Message{To: "+14155552345", Text: "Привет"})
		assert.Equal(t, []string{"unicode"}, sentParams(t, req)["type"])
	})
}

// What may have reached the vendor is ambiguous and sent once, for each
// preset: a timeout after the request was written, and a connection reset
// before the answer.
func TestVendorAmbiguous(t *testing.T) {
	presets := map[string]func(base string) Config{"twilio": twilioAt, "vonage": vonageAt}
	for name, mk := range presets {
		t.Run(name+"/timeout after send", func(t *testing.T) {
			release := make(chan struct{})
			srv := newCounter(t, func(w http.ResponseWriter, r *http.Request) {
				select {
				case <-r.Context().Done():
				case <-release:
				}
			})
			t.Cleanup(func() { close(release) })
			cfg := mk(srv.URL)
			cfg.Timeout = sms.Duration(300 * time.Millisecond)
			p := newProvider(t, cfg, nil)
			_, err := p.Send(context.Background(), testMsg)
			assert.Equal(t, sms.KindAmbiguous, kindOf(t, err))
			assert.Equal(t, int64(1), srv.conns.Load(), "nothing resent")
		})
		t.Run(name+"/reset before the answer", func(t *testing.T) {
			srv := newCounter(t, func(w http.ResponseWriter, r *http.Request) {
				_, _ = r.Body.Read(make([]byte, 1024))
				conn, _, err := http.NewResponseController(w).Hijack()
				if err == nil {
					_ = conn.Close()
				}
			})
			p := newProvider(t, mk(srv.URL), nil)
			_, err := p.Send(context.Background(), testMsg)
			assert.Equal(t, sms.KindAmbiguous, kindOf(t, err))
			assert.Equal(t, int64(1), srv.requests.Load(), "nothing resent")
		})
	}
}

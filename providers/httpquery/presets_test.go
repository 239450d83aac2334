package httpquery

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smsgateway/sms"
)

// presetCase is one answer of a gateway and what it must mean.
type presetCase struct {
	name   string
	status int
	body   string
	header []string
	ok     bool
	kind   sms.Kind
	code   string
	id     string
	// perRecipient: a throttle about this recipient alone.
	perRecipient bool
}

func runPreset(t *testing.T, mk func(base string) Config, to string, cases []presetCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := newCounter(t, answer(tc.status, tc.body, tc.header...))
			p := newProvider(t, mk(srv.URL), nil)
			rc, err := p.Send(context.Background(), sms.Message{To: to, Text: "Hello"})
			assert.Equal(t, tc.status, rc.StatusCode)
			assert.Equal(t, int64(1), srv.requests.Load())
			if tc.ok {
				require.NoError(t, err)
				assert.Equal(t, tc.id, rc.MessageID)
				return
			}
			var e *sms.Error
			require.True(t, errors.As(err, &e), "%v", err)
			assert.Equal(t, tc.kind, e.Kind)
			assert.Equal(t, tc.code, e.Code)
			assert.Equal(t, tc.perRecipient, e.PerRecipient)
		})
	}
}

// The answers of Kannel 1.4.5, as recorded in shared/kannel/NOTES.md.
func TestKannelPreset(t *testing.T) {
	runPreset(t, func(base string) Config { return Kannel(base+"/cgi-bin/sendsms", "tester", "foobar") }, "+4912345", []presetCase{
		{name: "accepted", status: 202, body: "0: Accepted for delivery", ok: true},
		{name: "queued", status: 202, body: "3: Queued for later delivery", ok: true},
		{name: "wrong password", status: 403, body: "Authorization failed for sendsms", kind: sms.KindFatal, code: "403"},
		{name: "not routable", status: 403, body: "Not routable. Do not try again.", kind: sms.KindRejected, code: "403"},
		{name: "missing receiver", status: 400, body: "Missing receiver number, rejected", kind: sms.KindRejected, code: "400"},
		{name: "black-listed", status: 400, body: "Number(s) has/have been denied by white- and/or black-lists.", kind: sms.KindRejected, code: "400"},
		{name: "queue full", status: 503, body: "Temporal failure, try again later.", kind: sms.KindTemporary, code: "503"},
		{name: "unknown request", status: 404, body: "Unknown request.", kind: sms.KindRejected, code: "404"},
	})
}

func TestKannelPresetRequest(t *testing.T) {
	var got url.Values
	srv := newCounter(t, func(w http.ResponseWriter, r *http.Request) {
		got = r.URL.Query()
		w.WriteHeader(202)
		_, _ = w.Write([]byte("0: Accepted for delivery"))
	})
	p := newProvider(t, Kannel(srv.URL+"/cgi-bin/sendsms", "tester", "foobar"), nil)
	_, err := p.Send(context.Background(), sms.Message{To: "+4912345", Text: "Привет", From: "ACME"})
	require.NoError(t, err)
	assert.Equal(t, url.Values{"username": {"tester"}, "password": {"foobar"}, "to": {"+4912345"}, "from": {"ACME"},
		"text": {"Привет"}, "coding": {"2"}, "charset": {"UTF-8"}}, got)
}

// Jasmin's /send answers, from its HTTP API documentation and source.
func TestJasminPreset(t *testing.T) {
	runPreset(t, func(base string) Config { return Jasmin(base+"/send", "foo", "bar") }, "+4912345", []presetCase{
		{name: "success", status: 200, body: `Success "07033084-5cfd-4812-90a4-e4d24ffb6e3d"`, ok: true, id: "07033084-5cfd-4812-90a4-e4d24ffb6e3d"},
		{name: "throughput", status: 403, body: `Error "User throughput exceeded"`, kind: sms.KindThrottled, code: "403"},
		{name: "authentication", status: 403, body: `Error "Authentication failure for username:foo"`, kind: sms.KindFatal, code: "403"},
		{name: "authorization", status: 403, body: `Error "Authorization failed for username:foo"`, kind: sms.KindFatal, code: "403"},
		{name: "charging", status: 403, body: `Error "Cannot charge submit_sm, check RouterPB log file for details"`, kind: sms.KindFatal, code: "403"},
		{name: "validation", status: 400, body: `Error "Argument _ has an invalid value: _."`, kind: sms.KindRejected, code: "400"},
		{name: "no route", status: 412, body: `Error "No route found"`, kind: sms.KindRejected, code: "412"},
		{name: "server error", status: 500, body: `Error "Cannot send submit_sm, check SMPPClientManagerPB log file for details"`, kind: sms.KindAmbiguous, code: "500"},
		{name: "200 without Success", status: 200, body: `Something else`, kind: sms.KindAmbiguous, code: "200"},
	})
}

// SMS.ru's JSON answers (json=1) and its documented status codes.
func TestSMSRuPreset(t *testing.T) {
	mk := func(base string) Config {
		c := SMSRu("key")
		c.URL = base + "/sms/send"
		return c
	}
	perNumber := func(code, extra string) string {
		return `{"status":"OK","status_code":100,"sms":{"79255070602":{"status":"X","status_code":` + code + extra + `}},"balance":4122.56}`
	}
	runPreset(t, mk, "+79255070602", []presetCase{
		{name: "accepted", status: 200, body: perNumber("100", `,"sms_id":"000000-10000000"`), ok: true, id: "000000-10000000"},
		{name: "bad number", status: 200, body: perNumber("202", ``), kind: sms.KindRejected, code: "202"},
		{name: "no route", status: 200, body: perNumber("207", ``), kind: sms.KindRejected, code: "207"},
		{name: "same text per minute", status: 200, body: perNumber("231", ``), kind: sms.KindThrottled, code: "231", perRecipient: true},
		{name: "repeated codes to this number", status: 200, body: perNumber("233", ``), kind: sms.KindThrottled, code: "233", perRecipient: true},
		{name: "per-number daily", status: 200, body: perNumber("230", ``), kind: sms.KindRejected, code: "230"},
		{name: "wrong api_id", status: 200, body: `{"status":"ERROR","status_code":200,"status_text":"x"}`, kind: sms.KindFatal, code: "200"},
		{name: "no money", status: 200, body: `{"status":"ERROR","status_code":201}`, kind: sms.KindFatal, code: "201"},
		{name: "unavailable", status: 200, body: `{"status":"ERROR","status_code":220}`, kind: sms.KindTemporary, code: "220"},
		{name: "unknown code", status: 200, body: `{"status":"ERROR","status_code":999}`, kind: sms.KindAmbiguous, code: "999"},
		{name: "proxy error page", status: 502, body: `<html>Bad Gateway</html>`, kind: sms.KindAmbiguous, code: "502"},
	})
}

func TestSMSRuPresetRequest(t *testing.T) {
	c := SMSRu("key")
	assert.Equal(t, SMSRuURL, c.URL)
	req, printable := build(t, c, sms.Message{To: "+79255070602", Text: "hello world"})
	assert.Equal(t, url.Values{"api_id": {"key"}, "json": {"1"}, "to": {"79255070602"}, "msg": {"hello world"}}, sentParams(t, req))
	assert.Equal(t, "https://sms.ru/sms/send?api_id=REDACTED&json=1&msg=hello+world&to=79255070602", printable)
}

func TestOriginalPreset(t *testing.T) {
	req, printable := build(t, Original("https://www.google.com/"), sms.Message{To: "88005553535", Text: "Hello"})
	assert.Equal(t, "https://www.google.com/?q=Hello&q=88005553535", req.URL.String())
	assert.Equal(t, "https://www.google.com/?q=Hello&q=88005553535", printable)
	runPreset(t, func(base string) Config { return Original(base + "/") }, "88005553535", []presetCase{
		{name: "ok", status: 200, body: "<html>", ok: true},
		{name: "not found", status: 404, kind: sms.KindRejected, code: "404"},
	})
}

package httpquery

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smsgateway/sms"
)

var reportSecret = []byte("0123456789abcdef-report-secret")

const (
	reportMsgID = "msg-1"
	twilioToken = "twilio-auth-token"
)

// reportServer is an httptest server on 127.0.0.1 serving an
// sms.DeliveryHandler for a Provider, with every report that reaches the
// deliver function recorded.
type reportServer struct {
	*httptest.Server
	h    *sms.DeliveryHandler
	logs syncBuffer

	mu  sync.Mutex
	got []sms.DeliveryReport
}

func newReportServer(t *testing.T, p sms.DeliveryReporter) *reportServer {
	t.Helper()
	rs := &reportServer{}
	rs.Server = httptest.NewUnstartedServer(nil)
	h, err := sms.NewDeliveryHandler(p, reportSecret, "http://"+rs.Listener.Addr().String()+"/dlr", rs.deliver)
	require.NoError(t, err)
	h.SetLogger(slog.New(slog.NewJSONHandler(&rs.logs, nil)))
	rs.h = h
	rs.Config.Handler = h
	rs.Start()
	t.Cleanup(rs.Close)
	return rs
}

func (rs *reportServer) deliver(_ context.Context, r sms.DeliveryReport) error {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	rs.got = append(rs.got, r)
	return nil
}

func (rs *reportServer) reports() []sms.DeliveryReport {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	return slices.Clone(rs.got)
}

// do makes a callback request and returns the handler's status.
func do(t *testing.T, req *http.Request) int {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// gatewayOK answers each preset's gateway as an acceptance.
func gatewayOK(w http.ResponseWriter, r *http.Request) {
	switch {
	case strings.HasPrefix(r.URL.Path, "/cgi-bin/"):
		w.WriteHeader(http.StatusAccepted)
		fmt.Fprint(w, "0: Accepted for delivery")
	case r.URL.Path == "/send":
		fmt.Fprint(w, `Success "jasmin-id-1"`)
	case strings.HasSuffix(r.URL.Path, "/Messages.json"):
		w.WriteHeader(http.StatusCreated)
		fmt.Fprint(w, `{"sid": "SM0123456789abcdef0123456789abcdef"}`)
	default:
		fmt.Fprint(w, `{"messages": [{"status": "0", "message-id": "vonage-id-1"}]}`)
	}
}

// reportPresets make each preset with delivery reports for a gateway at
// base.
var reportPresets = map[string]func(base string) Config{
	"kannel": func(base string) Config { return Kannel(base+"/cgi-bin/sendsms", "tester", "foobar") },
	"jasmin": func(base string) Config { return Jasmin(base+"/send", "foo", "bar") },
	"twilio": func(base string) Config {
		c := Twilio(testAccountSID, twilioToken)
		c.URL = TwilioURL(base, testAccountSID)
		return c
	},
	"vonage": func(base string) Config {
		c := Vonage("abcd1234", "abcdef0123456789")
		c.URL = base + "/sms/json"
		return c
	},
}

// sendReported sends one message with a ReportURL through cfg to a gateway
// that accepts it, and returns the parameters the gateway got.
func sendReported(t *testing.T, cfg Config, reportURL string) url.Values {
	t.Helper()
	var mu sync.Mutex
	var got url.Values
	gw := newCounter(t, func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm() // a failure leaves the form empty, and the test fails on that
		mu.Lock()
		got = r.Form
		mu.Unlock()
		gatewayOK(w, r)
	})
	cfg.URL = strings.Replace(cfg.URL, "http://gw", gw.URL, 1)
	p := newProvider(t, cfg, nil)
	_, err := p.Send(context.Background(), sms.Message{To: "+4912345678", Text: "Hello", From: "ACME", ReportURL: reportURL})
	require.NoError(t, err)
	mu.Lock()
	defer mu.Unlock()
	return got
}

// kannelExpand does what Kannel does to a dlr-url: each %-escape becomes
// its value, URL-encoded; "%%" becomes '%'; unknown escapes stay.
func kannelExpand(dlrURL string, values map[byte]string) string {
	var b strings.Builder
	for i := 0; i < len(dlrURL); i++ {
		if dlrURL[i] != '%' || i+1 == len(dlrURL) {
			b.WriteByte(dlrURL[i])
			continue
		}
		i++
		switch c := dlrURL[i]; {
		case c == '%':
			b.WriteByte('%')
		case values[c] != "" || strings.IndexByte("dFTA", c) >= 0:
			b.WriteString(url.QueryEscape(values[c]))
		default:
			b.WriteByte('%')
			b.WriteByte(c)
		}
	}
	return b.String()
}

// kannelCallback is Kannel's GET to the dlr-url it got for a message.
func kannelCallback(t *testing.T, dlrURL, typ, fid, ts, reply string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, kannelExpand(dlrURL, map[byte]string{'d': typ, 'F': fid, 'T': ts, 'A': reply}), nil)
	require.NoError(t, err)
	return req
}

// formCallback posts fields as a form to u.
func formCallback(t *testing.T, u string, fields url.Values) *http.Request {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, u, strings.NewReader(fields.Encode()))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return req
}

// twilioSign is Twilio's signature, computed here independently of
// signature.go: the URL, then each name and value sorted by name.
func twilioSign(token, u string, fields url.Values) string {
	var keys []string
	for k := range fields {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	s := u
	for _, k := range keys {
		for _, v := range fields[k] {
			s += k + v
		}
	}
	m := hmac.New(sha1.New, []byte(token))
	m.Write([]byte(s))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// twilioCallback is Twilio's signed form POST to the StatusCallback.
func twilioCallback(t *testing.T, u string, fields url.Values) *http.Request {
	t.Helper()
	req := formCallback(t, u, fields)
	req.Header.Set("X-Twilio-Signature", twilioSign(twilioToken, u, fields))
	return req
}

func twilioFields(status string, extra ...string) url.Values {
	v := url.Values{
		"MessageSid":    {"SM0123456789abcdef0123456789abcdef"},
		"SmsSid":        {"SM0123456789abcdef0123456789abcdef"},
		"AccountSid":    {testAccountSID},
		"MessageStatus": {status},
		"SmsStatus":     {status},
		"To":            {"+4912345678"},
		"From":          {"+15005550006"},
		"ApiVersion":    {"2010-04-01"},
	}
	for i := 0; i+1 < len(extra); i += 2 {
		v.Set(extra[i], extra[i+1])
	}
	return v
}

func vonageFields(status, errCode string) url.Values {
	return url.Values{
		"msisdn": {"4912345678"}, "to": {"ACME"}, "network-code": {"26201"},
		"messageId": {"vonage-id-1"}, "price": {"0.03330000"}, "status": {status},
		"scts": {"2001011400"}, "err-code": {errCode}, "api-key": {"abcd1234"},
		"message-timestamp": {"2020-01-01 12:00:00"},
	}
}

// callbackCase is one callback a gateway makes to the URL it got (the
// value of the preset's report parameter) and the report that must reach
// the deliver function; status is what the handler answers.
type callbackCase struct {
	name   string
	req    func(t *testing.T, sent string) *http.Request
	status int
	want   sms.DeliveryReport
}

var (
	kannelTime = time.Unix(1795665433, 0).UTC()
	jasminTime = time.Date(2024, 11, 29, 10, 55, 0, 0, time.UTC)
	vonageTime = time.Date(2020, 1, 1, 12, 0, 0, 0, time.UTC)
	twilioTime = time.Date(2024, 7, 11, 12, 34, 0, 0, time.UTC)
)

// callbackCases are the callbacks of each preset's gateway, by the name of
// the parameter that carries the report URL.
var callbackCases = map[string]struct {
	param string
	cases []callbackCase
}{
	"kannel": {"dlr-url", []callbackCase{
		{"type 1 delivered", func(t *testing.T, u string) *http.Request {
			return kannelCallback(t, u, "1", "6b5cd2f3-fid", "1795665433", "")
		}, 200, sms.DeliveryReport{Status: sms.DeliveryDelivered, Code: "1", GatewayID: "6b5cd2f3-fid", At: kannelTime}},
		{"type 8 accepted by the SMSC", func(t *testing.T, u string) *http.Request {
			return kannelCallback(t, u, "8", "", "1795665433", "ACK/")
		}, 200, sms.DeliveryReport{Status: sms.DeliveryAccepted, Code: "8", Text: "ACK/", At: kannelTime}},
		{"type 2 undelivered with an SMPP receipt", func(t *testing.T, u string) *http.Request {
			return kannelCallback(t, u, "2", "f2", "1795665433", "id:f2 sub:001 dlvrd:000 stat:EXPIRED err:027")
		}, 200, sms.DeliveryReport{Status: sms.DeliveryUndelivered, Code: "2", GatewayID: "f2", Text: "id:f2 sub:001 dlvrd:000 stat:EXPIRED err:027", At: kannelTime}},
		{"type 4 buffered", func(t *testing.T, u string) *http.Request {
			return kannelCallback(t, u, "4", "f4", "1795665433", "")
		}, 200, sms.DeliveryReport{Status: sms.DeliveryBuffered, Code: "4", GatewayID: "f4", At: kannelTime}},
		{"type 16 rejected by the SMSC", func(t *testing.T, u string) *http.Request {
			return kannelCallback(t, u, "16", "", "1795665433", "NACK/0x0000000b/Invalid Destination Address")
		}, 200, sms.DeliveryReport{Status: sms.DeliveryRejected, Code: "16", Text: "NACK/0x0000000b/Invalid Destination Address", At: kannelTime}},
		{"no time", func(t *testing.T, u string) *http.Request {
			return kannelCallback(t, u, "1", "f1", "", "")
		}, 200, sms.DeliveryReport{Status: sms.DeliveryDelivered, Code: "1", GatewayID: "f1"}},
		{"unknown type", func(t *testing.T, u string) *http.Request {
			return kannelCallback(t, u, "3", "f", "1795665433", "")
		}, 400, sms.DeliveryReport{}},
		{"as a form POST", func(t *testing.T, u string) *http.Request {
			return formCallback(t, kannelExpand(u, nil), url.Values{"type": {"1"}})
		}, 400, sms.DeliveryReport{}},
	}},
	"jasmin": {"dlr-url", []callbackCase{
		{"level 1 ESME_ROK", func(t *testing.T, u string) *http.Request {
			return formCallback(t, u, url.Values{"id": {"jasmin-id-1"}, "message_status": {"ESME_ROK"}, "level": {"1"}})
		}, 200, sms.DeliveryReport{Status: sms.DeliveryAccepted, Code: "ESME_ROK", GatewayID: "jasmin-id-1"}},
		{"level 1 refused", func(t *testing.T, u string) *http.Request {
			return formCallback(t, u, url.Values{"id": {"jasmin-id-1"}, "message_status": {"ESME_RINVDSTADR"}, "level": {"1"}})
		}, 200, sms.DeliveryReport{Status: sms.DeliveryRejected, Code: "ESME_RINVDSTADR", GatewayID: "jasmin-id-1"}},
		{"level 3 DELIVRD", func(t *testing.T, u string) *http.Request {
			return formCallback(t, u, url.Values{"id": {"jasmin-id-1"}, "id_smsc": {"2567"}, "message_status": {"DELIVRD"},
				"level": {"3"}, "subdate": {"2411291054"}, "donedate": {"2411291055"}, "sub": {"1"}, "dlvrd": {"1"}, "err": {"000"}, "text": {"Hello"}})
		}, 200, sms.DeliveryReport{Status: sms.DeliveryDelivered, Code: "000", GatewayID: "jasmin-id-1", At: jasminTime}},
		{"level 3 EXPIRED", func(t *testing.T, u string) *http.Request {
			return formCallback(t, u, url.Values{"id": {"jasmin-id-1"}, "message_status": {"EXPIRED"}, "level": {"3"}, "donedate": {"2411291055"}, "err": {"027"}})
		}, 200, sms.DeliveryReport{Status: sms.DeliveryExpired, Code: "027", GatewayID: "jasmin-id-1", At: jasminTime}},
		{"level 3 UNDELIV, empty err", func(t *testing.T, u string) *http.Request {
			return formCallback(t, u, url.Values{"id": {"jasmin-id-1"}, "message_status": {"UNDELIV"}, "level": {"3"}, "donedate": {""}, "err": {""}})
		}, 200, sms.DeliveryReport{Status: sms.DeliveryUndelivered, Code: "UNDELIV", GatewayID: "jasmin-id-1"}},
		{"a throttle is not in the table", func(t *testing.T, u string) *http.Request {
			return formCallback(t, u, url.Values{"id": {"jasmin-id-1"}, "message_status": {"ESME_RTHROTTLED"}, "level": {"1"}})
		}, 400, sms.DeliveryReport{}},
		{"as a GET", func(t *testing.T, u string) *http.Request {
			req, err := http.NewRequest(http.MethodGet, u+"&id=j&message_status=DELIVRD&level=3", nil)
			require.NoError(t, err)
			return req
		}, 400, sms.DeliveryReport{}},
	}},
	"twilio": {"StatusCallback", []callbackCase{
		{"sent", func(t *testing.T, u string) *http.Request {
			return twilioCallback(t, u, twilioFields("sent"))
		}, 200, sms.DeliveryReport{Status: sms.DeliveryAccepted, Code: "sent", GatewayID: "SM0123456789abcdef0123456789abcdef"}},
		{"delivered", func(t *testing.T, u string) *http.Request {
			return twilioCallback(t, u, twilioFields("delivered", "RawDlrDoneDate", "2407111234"))
		}, 200, sms.DeliveryReport{Status: sms.DeliveryDelivered, Code: "delivered", GatewayID: "SM0123456789abcdef0123456789abcdef", At: twilioTime}},
		{"undelivered with an error code", func(t *testing.T, u string) *http.Request {
			return twilioCallback(t, u, twilioFields("undelivered", "ErrorCode", "30003", "RawDlrDoneDate", "2407111234"))
		}, 200, sms.DeliveryReport{Status: sms.DeliveryUndelivered, Code: "30003", GatewayID: "SM0123456789abcdef0123456789abcdef", At: twilioTime}},
		{"failed", func(t *testing.T, u string) *http.Request {
			return twilioCallback(t, u, twilioFields("failed", "ErrorCode", "30001"))
		}, 200, sms.DeliveryReport{Status: sms.DeliveryRejected, Code: "30001", GatewayID: "SM0123456789abcdef0123456789abcdef"}},
		{"unknown status", func(t *testing.T, u string) *http.Request {
			return twilioCallback(t, u, twilioFields("partially_delivered"))
		}, 400, sms.DeliveryReport{}},
		{"no signature", func(t *testing.T, u string) *http.Request {
			req := twilioCallback(t, u, twilioFields("delivered"))
			req.Header.Del("X-Twilio-Signature")
			return req
		}, 400, sms.DeliveryReport{}},
		{"signed with another token", func(t *testing.T, u string) *http.Request {
			req := twilioCallback(t, u, twilioFields("delivered"))
			req.Header.Set("X-Twilio-Signature", twilioSign("another-token", u, twilioFields("delivered")))
			return req
		}, 400, sms.DeliveryReport{}},
		{"signature not base64", func(t *testing.T, u string) *http.Request {
			req := twilioCallback(t, u, twilioFields("delivered"))
			req.Header.Set("X-Twilio-Signature", "%%%")
			return req
		}, 400, sms.DeliveryReport{}},
		{"status changed after signing", func(t *testing.T, u string) *http.Request {
			req := formCallback(t, u, twilioFields("delivered"))
			req.Header.Set("X-Twilio-Signature", twilioSign(twilioToken, u, twilioFields("undelivered")))
			return req
		}, 400, sms.DeliveryReport{}},
		{"a field added after signing", func(t *testing.T, u string) *http.Request {
			req := formCallback(t, u, twilioFields("delivered", "ErrorCode", "30003"))
			req.Header.Set("X-Twilio-Signature", twilioSign(twilioToken, u, twilioFields("delivered")))
			return req
		}, 400, sms.DeliveryReport{}},
		{"signed for another URL", func(t *testing.T, u string) *http.Request {
			req := twilioCallback(t, u, twilioFields("delivered"))
			req.Header.Set("X-Twilio-Signature", twilioSign(twilioToken, u+"&x=1", twilioFields("delivered")))
			return req
		}, 400, sms.DeliveryReport{}},
		{"signed, as a GET", func(t *testing.T, u string) *http.Request {
			f := twilioFields("delivered")
			req, err := http.NewRequest(http.MethodGet, u+"&"+f.Encode(), nil)
			require.NoError(t, err)
			req.Header.Set("X-Twilio-Signature", twilioSign(twilioToken, u, f))
			return req
		}, 400, sms.DeliveryReport{}},
	}},
	"vonage": {"callback", []callbackCase{
		{"GET delivered", func(t *testing.T, u string) *http.Request {
			req, err := http.NewRequest(http.MethodGet, u+"&"+vonageFields("delivered", "0").Encode(), nil)
			require.NoError(t, err)
			return req
		}, 200, sms.DeliveryReport{Status: sms.DeliveryDelivered, Code: "0", GatewayID: "vonage-id-1", At: vonageTime}},
		{"form POST expired", func(t *testing.T, u string) *http.Request {
			return formCallback(t, u, vonageFields("expired", "5"))
		}, 200, sms.DeliveryReport{Status: sms.DeliveryExpired, Code: "5", GatewayID: "vonage-id-1", At: vonageTime}},
		{"JSON POST failed", func(t *testing.T, u string) *http.Request {
			body := map[string]string{}
			for k := range vonageFields("", "") {
				body[k] = vonageFields("failed", "2").Get(k)
			}
			b, err := json.Marshal(body)
			require.NoError(t, err)
			req, err := http.NewRequest(http.MethodPost, u, bytes.NewReader(b))
			require.NoError(t, err)
			req.Header.Set("Content-Type", "application/json; charset=utf-8")
			return req
		}, 200, sms.DeliveryReport{Status: sms.DeliveryUndelivered, Code: "2", GatewayID: "vonage-id-1", At: vonageTime}},
		{"JSON POST with a number as err-code", func(t *testing.T, u string) *http.Request {
			req, err := http.NewRequest(http.MethodPost, u, strings.NewReader(
				`{"messageId": "vonage-id-1", "status": "rejected", "err-code": 6, "message-timestamp": "2020-01-01 12:00:00"}`))
			require.NoError(t, err)
			req.Header.Set("Content-Type", "application/json")
			return req
		}, 200, sms.DeliveryReport{Status: sms.DeliveryRejected, Code: "6", GatewayID: "vonage-id-1", At: vonageTime}},
		{"buffered, time in another format", func(t *testing.T, u string) *http.Request {
			f := vonageFields("buffered", "0")
			f.Set("message-timestamp", "2020-01-01T12:00:00Z")
			return formCallback(t, u, f)
		}, 200, sms.DeliveryReport{Status: sms.DeliveryBuffered, Code: "0", GatewayID: "vonage-id-1"}},
		{"JSON array", func(t *testing.T, u string) *http.Request {
			req, err := http.NewRequest(http.MethodPost, u, strings.NewReader(`[{"status": "delivered"}]`))
			require.NoError(t, err)
			req.Header.Set("Content-Type", "application/json")
			return req
		}, 400, sms.DeliveryReport{}},
		{"no status", func(t *testing.T, u string) *http.Request {
			f := vonageFields("delivered", "0")
			f.Del("status")
			return formCallback(t, u, f)
		}, 400, sms.DeliveryReport{}},
		{"POST of text", func(t *testing.T, u string) *http.Request {
			req, err := http.NewRequest(http.MethodPost, u, strings.NewReader("status=delivered"))
			require.NoError(t, err)
			req.Header.Set("Content-Type", "text/plain")
			return req
		}, 400, sms.DeliveryReport{}},
	}},
}

// TestDeliveryCallbacks sends a message through each preset with a report
// URL from an sms.DeliveryHandler, then makes the callbacks its gateway
// makes to the URL it got, and checks what reaches the deliver function:
// the report, with the message's ID, or nothing when the handler refuses
// the callback.
func TestDeliveryCallbacks(t *testing.T) {
	for preset, pc := range callbackCases {
		mk := reportPresets[preset]
		for _, tc := range pc.cases {
			t.Run(preset+"/"+tc.name, func(t *testing.T) {
				p := newProvider(t, mk("http://gw"), nil)
				rs := newReportServer(t, p)
				sent := sendReported(t, mk("http://gw"), rs.h.URL(reportMsgID))
				require.Len(t, sent[pc.param], 1, "the report URL went out as %s", pc.param)

				status := do(t, tc.req(t, sent.Get(pc.param)))
				assert.Equal(t, tc.status, status)
				got := rs.reports()
				if tc.status != http.StatusOK {
					assert.Empty(t, got, "a refused callback reaches nothing")
					return
				}
				want := tc.want
				want.MessageID = reportMsgID
				assert.Equal(t, []sms.DeliveryReport{want}, got)
			})
		}
	}
}

// A callback whose token was tampered with, or that has none, is refused
// with 403 for every preset, and reaches nothing.
func TestDeliveryTamperedToken(t *testing.T) {
	genuine := map[string]func(t *testing.T, u string) *http.Request{
		"kannel": func(t *testing.T, u string) *http.Request { return kannelCallback(t, u, "1", "f", "1795665433", "") },
		"jasmin": func(t *testing.T, u string) *http.Request {
			return formCallback(t, u, url.Values{"id": {"j"}, "message_status": {"DELIVRD"}})
		},
		"twilio": func(t *testing.T, u string) *http.Request { return twilioCallback(t, u, twilioFields("delivered")) },
		"vonage": func(t *testing.T, u string) *http.Request { return formCallback(t, u, vonageFields("delivered", "0")) },
	}
	for preset, mk := range reportPresets {
		t.Run(preset, func(t *testing.T) {
			p := newProvider(t, mk("http://gw"), nil)
			rs := newReportServer(t, p)
			param := callbackCases[preset].param
			sent := sendReported(t, mk("http://gw"), rs.h.URL(reportMsgID)).Get(param)

			token := reportToken(t, rs.h.URL(reportMsgID))
			id, mac, _ := strings.Cut(token, ".")
			_, otherMAC, _ := strings.Cut(reportToken(t, rs.h.URL("msg-2")), ".")
			flip := "A"
			if mac[0] == 'A' {
				flip = "B"
			}
			for name, forged := range map[string]string{
				"code changed":           id + "." + flip + mac[1:],
				"another message's code": id + "." + otherMAC,
				"no code":                id,
				"empty":                  "",
			} {
				u := strings.Replace(sent, sms.ReportQueryParam+"="+token, sms.ReportQueryParam+"="+forged, 1)
				require.NotEqual(t, sent, u)
				assert.Equal(t, http.StatusForbidden, do(t, genuine[preset](t, u)), name)
			}
			assert.Empty(t, rs.reports())
			// And the genuine one passes, so the 403s were about the token.
			assert.Equal(t, http.StatusOK, do(t, genuine[preset](t, sent)))
			assert.Len(t, rs.reports(), 1)
		})
	}
}

// reportToken returns the token of a report URL.
func reportToken(t *testing.T, reportURL string) string {
	t.Helper()
	u, err := url.Parse(reportURL)
	require.NoError(t, err)
	tok := u.Query().Get(sms.ReportQueryParam)
	require.Contains(t, tok, ".")
	return tok
}

// keep applies reports in their order of arrival as a store would: a
// report replaces the one kept when DeliveryStatus.Replaces says so.
func keep(reports []sms.DeliveryReport) sms.DeliveryReport {
	var kept sms.DeliveryReport
	for _, r := range reports {
		if r.Status.Replaces(kept.Status) {
			kept = r
		}
	}
	return kept
}

// Kannel sends "delivered to the SMSC" (type 8) and "delivered" (type 1)
// in either order, and may repeat them: both reach the deliver function,
// and the report kept is the final one.
func TestKannelReportOrder(t *testing.T) {
	for name, order := range map[string][]string{
		"8 then 1":           {"8", "1"},
		"1 then 8":           {"1", "8"},
		"1, 8, then 1 again": {"1", "8", "1"},
	} {
		t.Run(name, func(t *testing.T) {
			cfg := Kannel("http://gw/cgi-bin/sendsms", "tester", "foobar")
			rs := newReportServer(t, newProvider(t, cfg, nil))
			dlrURL := sendReported(t, cfg, rs.h.URL(reportMsgID)).Get("dlr-url")
			for _, typ := range order {
				fid, reply := "fid-7", ""
				if typ == "8" {
					fid, reply = "", "ACK/"
				}
				require.Equal(t, http.StatusOK, do(t, kannelCallback(t, dlrURL, typ, fid, "1795665433", reply)))
			}
			got := rs.reports()
			require.Len(t, got, len(order))
			for i, typ := range order {
				assert.Equal(t, typ, got[i].Code)
				assert.Equal(t, reportMsgID, got[i].MessageID)
			}
			kept := keep(got)
			assert.Equal(t, sms.DeliveryDelivered, kept.Status)
			assert.Equal(t, "fid-7", kept.GatewayID)
		})
	}
}

// The delivery parameters go out only with a ReportURL, built as the
// preset says, and Receipt.URL masks them.
func TestDeliveryParamsSent(t *testing.T) {
	const token = "bXNnLTE.c2VjcmV0LW1hYy0xMjM0NQ"
	report := "https://hooks.example/dlr?site=a&" + sms.ReportQueryParam + "=" + token
	tests := []struct {
		name   string
		cfg    Config
		report string
		want   url.Values // the delivery parameters
	}{
		{"kannel", Kannel("http://gw/cgi-bin/sendsms", "u", "p"), report, url.Values{
			"dlr-mask": {"31"}, "dlr-url": {report + "&type=%d&fid=%F&ts=%T&reply=%A"}}},
		{"kannel, URL without a query", Kannel("http://gw/cgi-bin/sendsms", "u", "p"), "https://hooks.example/dlr", url.Values{
			"dlr-mask": {"31"}, "dlr-url": {"https://hooks.example/dlr?type=%d&fid=%F&ts=%T&reply=%A"}}},
		{"kannel, '%' doubled", Kannel("http://gw/cgi-bin/sendsms", "u", "p"), "https://hooks.example/caf%C3%A9?t=%41", url.Values{
			"dlr-mask": {"31"}, "dlr-url": {"https://hooks.example/caf%%C3%%A9?t=%%41&type=%d&fid=%F&ts=%T&reply=%A"}}},
		{"jasmin", Jasmin("http://gw/send", "u", "p"), report, url.Values{
			"dlr": {"yes"}, "dlr-url": {report}, "dlr-level": {"3"}, "dlr-method": {"POST"}}},
		{"twilio", reportPresets["twilio"]("http://gw"), report, url.Values{"StatusCallback": {report}}},
		{"vonage", reportPresets["vonage"]("http://gw"), report, url.Values{"callback": {report}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			names := slices.Collect(maps.Keys(tc.cfg.Delivery.Params))
			msg := sms.Message{To: "+4912345678", Text: "Hello"}
			req, _ := build(t, tc.cfg, msg)
			for _, n := range names {
				assert.NotContains(t, sentParams(t, req), n, "without a ReportURL")
			}

			msg.ReportURL = tc.report
			req, receiptURL := build(t, tc.cfg, msg)
			sent := sentParams(t, req)
			got := url.Values{}
			for _, n := range names {
				got[n] = sent[n]
			}
			assert.Equal(t, tc.want, got)
			assert.Equal(t, "Hello", sent.Get(tc.cfg.TextParam), "the message's own parameters stay")
			assert.NotContains(t, receiptURL, token)
			assert.NotContains(t, receiptURL, url.QueryEscape(token))
			if req.Method == http.MethodGet {
				assert.Contains(t, receiptURL, "dlr-url=REDACTED")
				assert.NotContains(t, receiptURL, "hooks.example")
				for name, vs := range tc.cfg.Delivery.Params {
					if !strings.Contains(vs[0], ReportURLVar) {
						assert.Contains(t, receiptURL, url.Values{name: vs}.Encode(), "what holds no URL stays readable")
					}
				}
			}
		})
	}
}

// A report URL that cannot be one is refused before anything is sent; a
// Config without Delivery sends no ReportURL, whatever it is.
func TestReportURLChecked(t *testing.T) {
	for _, bad := range []string{"hooks.example/dlr", "ftp://hooks.example/dlr", "https:///dlr", "https://hooks.example/dlr#x", "http://[::1"} {
		t.Run(bad, func(t *testing.T) {
			gw := newCounter(t, gatewayOK)
			p := newProvider(t, Kannel(gw.URL+"/cgi-bin/sendsms", "u", "p"), nil)
			_, err := p.Send(context.Background(), sms.Message{To: "+4912345678", Text: "Hello", ReportURL: bad})
			assert.ErrorIs(t, err, ErrReportURL)
			assert.ErrorIs(t, err, sms.ErrRejected)
			assert.Zero(t, gw.requests.Load(), "nothing sent")
		})
	}
	t.Run("no Delivery", func(t *testing.T) {
		for _, cfg := range []Config{SMSRu("key"), Original("http://gw/"), {URL: "http://gw/send"}} {
			assert.Nil(t, cfg.Delivery)
			msg := sms.Message{To: "+4912345678", Text: "Hello", ReportURL: "https://hooks.example/dlr?sms_report=x.y"}
			req, _ := build(t, cfg, msg)
			assert.NotContains(t, req.URL.RawQuery, "hooks.example")
			p := newProvider(t, cfg, nil)
			assert.False(t, p.DeliveryReports())
			_, err := p.ParseDelivery(httptest.NewRequest(http.MethodGet, "/dlr?status=1", nil), msg.ReportURL)
			assert.ErrorIs(t, err, ErrReportMalformed)
			_, err = sms.NewDeliveryHandler(p, reportSecret, "https://hooks.example/dlr", func(context.Context, sms.DeliveryReport) error { return nil })
			assert.Error(t, err, "a handler needs a provider that asks for reports")
		}
	})
}

// ParseDelivery's errors match their kind and never quote the report URL
// or the callback's URL, whose token is a secret.
func TestParseDeliveryErrors(t *testing.T) {
	const token = "bXNnLTE.SECRETMACSECRETMAC"
	reportURL := "https://hooks.example/dlr?" + sms.ReportQueryParam + "=" + token
	twilio := newProvider(t, reportPresets["twilio"]("http://gw"), nil)
	kannel := newProvider(t, Kannel("http://gw/cgi-bin/sendsms", "u", "p"), nil)
	vonage := newProvider(t, reportPresets["vonage"]("http://gw"), nil)
	get := func(q string) *http.Request { return httptest.NewRequest(http.MethodGet, reportURL+"&"+q, nil) }
	post := func(ct, body string) *http.Request {
		r := httptest.NewRequest(http.MethodPost, reportURL, strings.NewReader(body))
		r.Header.Set("Content-Type", ct)
		return r
	}
	tests := []struct {
		name string
		p    *Provider
		req  *http.Request
		want error
	}{
		{"kannel unknown type", kannel, get("type=" + token), ErrReportStatus},
		{"kannel no type", kannel, get("fid=1"), ErrReportMalformed},
		{"kannel bad escape", kannel, get("type=1&fid=%zz" + token), ErrReportMalformed},
		{"kannel PUT", kannel, httptest.NewRequest(http.MethodPut, reportURL+"&type=1", nil), ErrReportMalformed},
		{"twilio unsigned", twilio, post("application/x-www-form-urlencoded", twilioFields("delivered").Encode()), ErrReportSignature},
		{"twilio JSON", twilio, post("application/json", `{"MessageStatus": "delivered"}`), ErrReportMalformed},
		{"vonage unknown status", vonage, post("application/json", `{"status": "`+token+`"}`), ErrReportStatus},
		{"vonage two JSON values", vonage, post("application/json", `{"status": "delivered"} {}`), ErrReportMalformed},
		{"vonage body too large", vonage, post("application/x-www-form-urlencoded", "status=delivered&x="+strings.Repeat("a", maxBodyBytes)), ErrReportMalformed},
		{"vonage bad content type", vonage, post("application/json; x", `{"status": "delivered"}`), ErrReportMalformed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rep, err := tc.p.ParseDelivery(tc.req, reportURL)
			assert.ErrorIs(t, err, tc.want)
			assert.Zero(t, rep)
			for _, other := range []error{ErrReportMalformed, ErrReportStatus, ErrReportSignature} {
				if other != tc.want {
					assert.NotErrorIs(t, err, other)
				}
			}
			assert.NotContains(t, err.Error(), "SECRETMAC")
			assert.NotContains(t, err.Error(), "hooks.example")
		})
	}
}

// A refused Twilio callback is logged by the handler without the token,
// and answered without it.
func TestRefusedReportLogsNoToken(t *testing.T) {
	p := newProvider(t, reportPresets["twilio"]("http://gw"), nil)
	rs := newReportServer(t, p)
	u := rs.h.URL(reportMsgID)
	token := u[strings.Index(u, "=")+1:]
	req := formCallback(t, u, twilioFields("delivered"))
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
	assert.Contains(t, rs.logs.String(), "X-Twilio-Signature", "the refusal was logged")
	for _, s := range []string{rs.logs.String(), string(body)} {
		assert.NotContains(t, s, token)
		assert.NotContains(t, s, token[strings.LastIndex(token, ".")+1:])
	}
}

// Twilio may sign the URL with or without its default port.
func TestTwilioSignatureURLs(t *testing.T) {
	tests := []struct {
		u    string
		want []string
	}{
		{"https://h.example/dlr?a=1", []string{"https://h.example/dlr?a=1", "https://h.example:443/dlr?a=1"}},
		{"https://h.example:443/dlr", []string{"https://h.example:443/dlr", "https://h.example/dlr"}},
		{"http://h.example/dlr", []string{"http://h.example/dlr", "http://h.example:80/dlr"}},
		{"http://[::1]:80/dlr", []string{"http://[::1]:80/dlr", "http://[::1]/dlr"}},
		{"https://h.example:8443/dlr", []string{"https://h.example:8443/dlr"}},
		{"://bad", []string{"://bad"}},
	}
	for _, tc := range tests {
		assert.Equal(t, tc.want, twilioURLs(tc.u), tc.u)
	}
	form := twilioFields("delivered")
	for _, signed := range []string{"https://h.example/dlr?a=1", "https://h.example:443/dlr?a=1"} {
		sig := twilioSign(twilioToken, signed, form)
		assert.True(t, twilioSignatureValid(twilioToken, "https://h.example/dlr?a=1", form, sig), signed)
	}
	assert.False(t, twilioSignatureValid(twilioToken, "https://h.example/dlr?a=1", form,
		twilioSign(twilioToken, "https://h.example:8443/dlr?a=1", form)))
}

func TestDeliveryConfigInvalid(t *testing.T) {
	valid := func() *Delivery {
		return &Delivery{
			Params:      url.Values{"cb": {ReportURLVar}},
			StatusField: "status",
			Statuses:    map[string]sms.DeliveryStatus{"ok": sms.DeliveryDelivered},
		}
	}
	tests := map[string]func(d *Delivery){
		"no report URL in Params": func(d *Delivery) { d.Params = url.Values{"cb": {"https://fixed.example/"}} },
		"no status field":         func(d *Delivery) { d.StatusField = "" },
		"no statuses":             func(d *Delivery) { d.Statuses = nil },
		"unknown status":          func(d *Delivery) { d.Statuses["ok"] = "arrived" },
		"unknown source":          func(d *Delivery) { d.Sources = []string{"header"} },
		"time without layout":     func(d *Delivery) { d.TimeField = "ts" },
		"unknown signature":       func(d *Delivery) { d.Signature = "hmac" },
		"twilio without a key":    func(d *Delivery) { d.Signature, d.Sources = SignatureTwilio, []string{SourceForm} },
		"twilio with the query": func(d *Delivery) {
			d.Signature, d.SignatureKey, d.Sources = SignatureTwilio, "k", []string{SourceForm, SourceQuery}
		},
	}
	for name, breakIt := range tests {
		t.Run(name, func(t *testing.T) {
			d := valid()
			breakIt(d)
			_, err := New(Config{URL: "http://gw/", Delivery: d})
			assert.ErrorIs(t, err, errConfig)
		})
	}
	p, err := New(Config{URL: "http://gw/", Delivery: valid()})
	require.NoError(t, err)
	assert.True(t, p.DeliveryReports(), "the valid one is valid")
	assert.Empty(t, p.DeliveryAck())
}

// A Delivery read from a configuration file works as the preset does.
func TestDeliveryConfigJSON(t *testing.T) {
	const file = `{
		"url": "http://gw/cgi-bin/sendsms",
		"params": {"username": ["tester"], "password": ["foobar"]},
		"delivery": {
			"params": {"dlr-mask": ["31"], "dlr-url": ["{report_url}&type=%d&fid=%F&ts=%T&reply=%A"]},
			"escape_percent": true,
			"sources": ["query"],
			"status_field": "type",
			"statuses": {"1": "delivered", "2": "undelivered", "4": "buffered", "8": "accepted", "16": "rejected"},
			"id_field": "fid", "text_field": "reply", "time_field": "ts", "time_layout": "unix"
		}
	}`
	var cfg Config
	require.NoError(t, json.Unmarshal([]byte(file), &cfg))
	preset := Kannel("http://gw/cgi-bin/sendsms", "tester", "foobar")
	assert.Equal(t, preset.Delivery, cfg.Delivery)
	p := newProvider(t, cfg, nil)
	assert.True(t, p.DeliveryReports())
	rep, err := p.ParseDelivery(httptest.NewRequest(http.MethodGet, "/dlr?sms_report=x&type=1&fid=f&ts=1795665433", nil), "")
	require.NoError(t, err)
	assert.Equal(t, sms.DeliveryReport{Status: sms.DeliveryDelivered, Code: "1", GatewayID: "f", At: kannelTime}, rep)
}

// The Provider keeps copies of the tables: changing the Config after New
// changes nothing.
func TestDeliveryConfigCopied(t *testing.T) {
	cfg := Kannel("http://gw/cgi-bin/sendsms", "u", "p")
	p := newProvider(t, cfg, nil)
	cfg.Delivery.Statuses["1"] = sms.DeliveryRejected
	cfg.Delivery.Params["dlr-url"][0] = "https://elsewhere.example/"
	rep, err := p.ParseDelivery(httptest.NewRequest(http.MethodGet, "/dlr?type=1", nil), "")
	require.NoError(t, err)
	assert.Equal(t, sms.DeliveryDelivered, rep.Status)
	req, _, err := p.s.newRequest(context.Background(), sms.Message{To: "+4912345678", Text: "Hi", ReportURL: "https://hooks.example/dlr?a=1"})
	require.NoError(t, err)
	assert.Contains(t, sentParams(t, req).Get("dlr-url"), "hooks.example")
}

func TestDeliveryAck(t *testing.T) {
	for preset, want := range map[string]string{"kannel": "", "jasmin": "ACK/Jasmin", "twilio": "", "vonage": ""} {
		assert.Equal(t, want, newProvider(t, reportPresets[preset]("http://gw"), nil).DeliveryAck(), preset)
	}
}

func TestClip(t *testing.T) {
	assert.Equal(t, "short", clip("short"))
	long := strings.Repeat("ж", 30) // 60 bytes
	got := clip(long)
	assert.True(t, strings.HasSuffix(got, "..."))
	assert.LessOrEqual(t, len(got), maxQuoted+3)
	assert.Equal(t, strings.Repeat("ж", 20)+"...", got, "not cut inside a character")
}

// FuzzParseDelivery feeds every preset's callback parser arbitrary
// callbacks: it must never panic, and a report it accepts always has a
// known status, the one its table gives the status field, and a Twilio
// report a valid signature.
func FuzzParseDelivery(f *testing.F) {
	f.Add(uint8(0), "GET", "", "type=1&fid=f&ts=1795665433&reply=ACK%2F", "", false)
	f.Add(uint8(0), "GET", "", "type=8&ts=-1&fid=%zz", "", false)
	f.Add(uint8(1), "POST", "application/x-www-form-urlencoded", "", "id=j&message_status=DELIVRD&donedate=2411291055&err=000", false)
	f.Add(uint8(2), "POST", "application/x-www-form-urlencoded", "", twilioFields("delivered", "RawDlrDoneDate", "2407111234").Encode(), true)
	f.Add(uint8(2), "POST", "application/x-www-form-urlencoded", "", "MessageStatus=sent&MessageStatus=failed", true)
	f.Add(uint8(3), "POST", "application/json", "", `{"status": "delivered", "err-code": 0, "message-timestamp": "2020-01-01 12:00:00"}`, false)
	f.Add(uint8(3), "POST", "application/json", "", `{"status": ["delivered"]}`, false)
	f.Add(uint8(3), "GET", "", "status=expired&messageId=x", "", false)
	names := []string{"kannel", "jasmin", "twilio", "vonage"}
	providers := map[string]*Provider{}
	for _, n := range names {
		p, err := New(reportPresets[n]("http://gw"))
		if err != nil {
			f.Fatal(err)
		}
		providers[n] = p
		f.Cleanup(func() { _ = p.Close() })
	}
	const reportURL = "https://hooks.example/dlr?sms_report=bXNnLTE.bWFj"
	f.Fuzz(func(t *testing.T, which uint8, method, contentType, query, body string, sign bool) {
		name := names[int(which)%len(names)]
		p := providers[name]
		r := httptest.NewRequest(http.MethodGet, "/dlr", nil)
		r.Method = method
		r.URL.RawQuery = query
		r.Body = io.NopCloser(strings.NewReader(body))
		r.Header.Set("Content-Type", contentType)
		if sign {
			if form, err := url.ParseQuery(body); err == nil {
				r.Header.Set("X-Twilio-Signature", twilioSign(twilioToken, reportURL, form))
			}
		}
		rep, err := p.ParseDelivery(r, reportURL)
		if err != nil {
			if !errors.Is(err, ErrReportMalformed) && !errors.Is(err, ErrReportStatus) && !errors.Is(err, ErrReportSignature) {
				t.Fatalf("error of no kind: %v", err)
			}
			if rep != (sms.DeliveryReport{}) {
				t.Fatalf("a report with the error: %+v", rep)
			}
			return
		}
		if !rep.Status.Known() {
			t.Fatalf("accepted report with status %q", rep.Status)
		}
		d := p.s.delivery
		if !slices.Contains(slices.Collect(maps.Values(d.statuses)), rep.Status) {
			t.Fatalf("status %q: not from the table", rep.Status)
		}
		if st, ok := d.statuses[rep.Code]; d.codeField == "" && (!ok || st != rep.Status) {
			t.Fatalf("status %q for the gateway's %q", rep.Status, rep.Code)
		}
		if name == "twilio" && !sign {
			t.Fatalf("an unsigned Twilio callback was accepted")
		}
		if !rep.At.IsZero() && rep.At.Location() != time.UTC {
			t.Fatalf("time not in UTC: %v", rep.At)
		}
	})
}

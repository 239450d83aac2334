package gateway

import (
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smsgateway/sms"
	"github.com/smsgateway/sms/internal/gateway/pgtest"
	"github.com/smsgateway/sms/internal/gateway/store"
	"github.com/smsgateway/sms/internal/prismtest"
	"github.com/smsgateway/sms/providers/httpquery"
)

// reportingProvider accepts every message and can ask for delivery
// reports: its "gateway" reports with a query string status=...&code=...,
// which tests send to the report URLs it recorded.
type reportingProvider struct {
	mu   sync.Mutex
	urls map[string]string // number → the last ReportURL
}

func (p *reportingProvider) Send(_ context.Context, msg sms.Message) (sms.Receipt, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.urls == nil {
		p.urls = map[string]string{}
	}
	p.urls[msg.To] = msg.ReportURL
	return sms.Receipt{MessageID: "gw-" + msg.To, StatusCode: 202}, nil
}

func (p *reportingProvider) DeliveryReports() bool { return true }

func (p *reportingProvider) ParseDelivery(r *http.Request, _ string) (sms.DeliveryReport, error) {
	q := r.URL.Query()
	st := sms.DeliveryStatus(q.Get("status"))
	if !st.Final() && st != sms.DeliveryAccepted && st != sms.DeliveryBuffered {
		return sms.DeliveryReport{}, fmt.Errorf("unknown status %q", st)
	}
	rep := sms.DeliveryReport{Status: st, Code: q.Get("code")}
	if ts := q.Get("ts"); ts != "" {
		var sec int64
		if _, err := fmt.Sscan(ts, &sec); err != nil {
			return rep, errors.New("bad ts")
		}
		rep.At = time.Unix(sec, 0)
	}
	return rep, nil
}

// reportURL returns the report URL the provider got for number (as the
// Client normalized it, with its "+").
func (p *reportingProvider) reportURL(t *testing.T, number string) string {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	u := p.urls[number]
	require.NotEmpty(t, u, "no report URL for %s", number)
	return u
}

// report sends a gateway's callback to u with the extra query and returns
// the status code.
func report(t *testing.T, u, extra string) int {
	t.Helper()
	resp, err := http.Get(u + "&" + extra)
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// servedService runs a Service whose PublicURL is its own address, on the
// listener address addr ("127.0.0.1:0" picks one); a test restarts it on
// the same address, so that report URLs stay valid.
type servedService struct {
	*testService
	o    Options
	addr string
}

func serveAt(t testing.TB, o Options, addr string) *servedService {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	require.NoError(t, err)
	cfg := *o.Config
	cfg.PublicURL = "http://" + ln.Addr().String()
	o.Config = &cfg
	svc, err := New(context.Background(), o)
	if err != nil {
		ln.Close()
		require.NoError(t, err)
	}
	require.NoError(t, svc.Start(context.Background()))
	srv := httptest.NewUnstartedServer(svc.Handler())
	srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	ss := &servedService{testService: &testService{svc: svc, srv: srv}, o: o, addr: ln.Addr().String()}
	t.Cleanup(ss.stop)
	return ss
}

// stop stops the service; it is idempotent.
func (s *servedService) stop() {
	if s.srv == nil {
		return
	}
	s.svc.Drain()
	s.srv.Close()
	_ = s.svc.Shutdown(context.Background())
	s.srv = nil
}

// restart stops the service and starts a new one on the same database and
// address.
func (s *servedService) restart(t testing.TB) *servedService {
	s.stop()
	return serveAt(t, s.o, s.addr)
}

// reportOptions are the Options of a service on backend with the provider
// "vendor" of type "test", p.
func reportOptions(t testing.TB, backend string, p sms.Provider, edit func(*Config)) Options {
	cfg, types := testProvider("vendor", p)
	if edit != nil {
		edit(cfg)
	}
	require.NoError(t, cfg.setDefaults())
	o := Options{Config: cfg, DataDir: t.TempDir(), Logger: testLogger(), Types: types}
	if backend == "postgres" {
		o.DatabaseURL = pgtest.SchemaURL(t)
	}
	return o
}

// TestDeliveryReports: a report URL goes with each message; reports in
// either order end in the final status, which no later report changes;
// the task, the message log and its filter show it.
func TestDeliveryReports(t *testing.T) {
	for _, backend := range backends(t) {
		t.Run(backend, func(t *testing.T) {
			p := &reportingProvider{}
			ss := serveAt(t, reportOptions(t, backend, p, nil), "127.0.0.1:0")
			var a answer
			require.Equal(t, http.StatusOK, ss.do(t, "POST", "/mailing?address=vendor&message=hi", `["79990000001", "79990000002", "79990000003"]`, &a))
			a = ss.awaitTask(t, a.TaskID)
			for _, e := range a.list(t) {
				assert.Equal(t, store.DeliveryPending, e["delivery"], "sent, report expected")
			}
			assert.Equal(t, map[string]int{store.DeliveryPending: 3}, a.Progress.Delivery)

			u1, u2, u3 := p.reportURL(t, "79990000001"), p.reportURL(t, "79990000002"), p.reportURL(t, "79990000003")
			assert.True(t, strings.HasPrefix(u1, ss.svc.cfg.PublicURL+"/reports/vendor?"), u1)
			// 1: accepted by the SMSC, then delivered.
			assert.Equal(t, http.StatusOK, report(t, u1, "status=accepted&code=8"))
			assert.Equal(t, http.StatusOK, report(t, u1, "status=delivered&code=1&ts=1795665433"))
			// 2: delivered first, then the intermediate report and a
			// contradicting final one, both too late.
			assert.Equal(t, http.StatusOK, report(t, u2, "status=delivered&code=1"))
			assert.Equal(t, http.StatusOK, report(t, u2, "status=accepted&code=8"))
			assert.Equal(t, http.StatusOK, report(t, u2, "status=undelivered&code=2"))
			// 3: expired, and the same report again.
			assert.Equal(t, http.StatusOK, report(t, u3, "status=expired&code=2"))
			assert.Equal(t, http.StatusOK, report(t, u3, "status=expired&code=2"))

			a = ss.awaitTask(t, a.TaskID)
			list := a.list(t)
			assert.Equal(t, "delivered", list[0]["delivery"])
			assert.Equal(t, time.Unix(1795665433, 0).UTC().Format(time.RFC3339), list[0]["delivered_at"], "the operator's time")
			assert.Equal(t, "delivered", list[1]["delivery"])
			assert.Equal(t, "expired", list[2]["delivery"])
			assert.Equal(t, map[string]int{"delivered": 2, "expired": 1}, a.Progress.Delivery)

			var page messagesPage
			require.Equal(t, http.StatusOK, ss.do(t, "GET", "/messages?delivery=delivered", "", &page))
			require.Len(t, page.Messages, 2)
			assert.Equal(t, "1", page.Messages[1].DeliveryCode)
			require.NotNil(t, page.Messages[0].DeliveredAt)
			var bad apiError
			require.Equal(t, http.StatusUnprocessableEntity, ss.do(t, "GET", "/messages?delivery=lost", "", &bad))
			assert.Equal(t, "delivery", bad.Details[0].Field)

			m := ss.svc.api.metrics
			assert.Equal(t, 2.0, testutil.ToFloat64(m.reports.WithLabelValues("vendor", "accepted")))
			assert.Equal(t, 2.0, testutil.ToFloat64(m.reports.WithLabelValues("vendor", "expired")))
		})
	}
}

// TestForgedReports: a callback without a valid code for its message is
// refused and changes nothing; a genuine one for a message the log does
// not have is acknowledged and counted.
func TestForgedReports(t *testing.T) {
	for _, backend := range backends(t) {
		t.Run(backend, func(t *testing.T) {
			p := &reportingProvider{}
			ss := serveAt(t, reportOptions(t, backend, p, nil), "127.0.0.1:0")
			var a answer
			require.Equal(t, http.StatusOK, ss.do(t, "POST", "/mailing?address=vendor&message=hi", `["79990000001", "79990000002"]`, &a))
			ss.awaitTask(t, a.TaskID)
			u1, u2 := p.reportURL(t, "79990000001"), p.reportURL(t, "79990000002")
			tok := func(u string) string { v, _ := url.Parse(u); return v.Query().Get(sms.ReportQueryParam) }
			id1, _, _ := strings.Cut(tok(u1), ".")
			_, mac2, _ := strings.Cut(tok(u2), ".")
			base := ss.svc.cfg.PublicURL + "/reports/vendor?" + sms.ReportQueryParam + "="
			for name, forged := range map[string]string{
				"no code":                ss.svc.cfg.PublicURL + "/reports/vendor?x=1",
				"id only":                base + id1,
				"wrong code":             base + id1 + ".AAAAAAAAAAAAAAAAAAAAAA",
				"another message's code": base + id1 + "." + mac2,
			} {
				assert.Equal(t, http.StatusForbidden, report(t, forged, "status=delivered"), name)
			}
			assert.Equal(t, http.StatusBadRequest, report(t, u1, "status=teleported"), "malformed")
			assert.Equal(t, http.StatusNotFound, report(t, strings.Replace(u1, "/reports/vendor", "/reports/nobody", 1), "status=delivered"))

			var page messagesPage
			require.Equal(t, http.StatusOK, ss.do(t, "GET", "/messages?task_id="+a.TaskID, "", &page))
			for _, m := range page.Messages {
				assert.Equal(t, store.DeliveryPending, m.Delivery, "no forged callback changed a row")
			}
			assert.Equal(t, 5.0, testutil.ToFloat64(ss.svc.api.metrics.reportsRefused.WithLabelValues("vendor")))

			// A genuine code for a message that does not exist (as a report
			// for a deleted database would have).
			secret, err := ss.svc.store.Secret(context.Background(), reportSecretName)
			require.NoError(t, err)
			h, err := sms.NewDeliveryHandler(p, secret, ss.svc.cfg.PublicURL+"/reports/vendor", func(context.Context, sms.DeliveryReport) error { return nil })
			require.NoError(t, err)
			assert.Equal(t, http.StatusOK, report(t, h.URL(store.MessageKey("5f0c1a3e-0000-4000-8000-000000000000", 0)), "status=delivered"))
			assert.Equal(t, http.StatusOK, report(t, h.URL("not a key"), "status=delivered"))
			assert.Equal(t, 2.0, testutil.ToFloat64(ss.svc.api.metrics.reportsUnmatched.WithLabelValues("vendor")))
		})
	}
}

// TestDeliveryTimeout: a delivery with no report within delivery_timeout
// becomes unknown; a report after that changes nothing.
func TestDeliveryTimeout(t *testing.T) {
	p := &reportingProvider{}
	ss := serveAt(t, reportOptions(t, "sqlite", p, func(c *Config) { c.DeliveryTimeout = sms.Duration(300 * time.Millisecond) }), "127.0.0.1:0")
	var a answer
	require.Equal(t, http.StatusOK, ss.do(t, "POST", "/sending?address=vendor&message=hi&phone_number=79990000001", "", &a))
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		var got answer
		assert.Equal(c, http.StatusOK, ss.do(c, "GET", "/tasks/"+a.TaskID, "", &got))
		if assert.NotEmpty(c, got.TaskResult) {
			var e resultEntry
			assert.NoError(c, json.Unmarshal(got.TaskResult, &e))
			assert.Equal(c, "unknown", e.Delivery)
			assert.NotNil(c, e.DeliveredAt)
		}
	}, 10*time.Second, 20*time.Millisecond)
	assert.Equal(t, http.StatusOK, report(t, p.reportURL(t, "79990000001"), "status=delivered"))
	var page messagesPage
	require.Equal(t, http.StatusOK, ss.do(t, "GET", "/messages", "", &page))
	assert.Equal(t, "unknown", page.Messages[0].Delivery, "final is final")
	assert.Equal(t, 1.0, testutil.ToFloat64(ss.svc.api.metrics.deliveriesExpired))
}

// TestNoReportsWithoutPublicURL: without public_url nothing asks for
// reports and no delivery is shown.
func TestNoReportsWithoutPublicURL(t *testing.T) {
	p := &reportingProvider{}
	cfg, types := testProvider("vendor", p)
	ts := startService(t, "sqlite", cfg, types)
	var a answer
	require.Equal(t, http.StatusOK, ts.do(t, "POST", "/sending?address=vendor&message=hi&phone_number=79990000001", "", &a))
	a = ts.awaitTask(t, a.TaskID)
	assert.NotContains(t, a.single(t), "delivery")
	p.mu.Lock()
	assert.Equal(t, "", p.urls["79990000001"])
	p.mu.Unlock()
	assert.Equal(t, http.StatusNotFound, ts.do(t, "GET", "/reports/vendor?status=delivered", "", nil))
}

// receiver is a caller's callback receiver: it fails the first failFirst
// posts of each event with 500, checks each signature, and records the
// events it took.
type receiver struct {
	secret    string
	failFirst int
	mu        sync.Mutex
	down      bool
	attempts  map[string]int
	events    map[string]store.Event
	badSigs   int
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	m := hmac.New(sha256.New, []byte(rc.secret))
	m.Write(body)
	var e store.Event
	err := json.Unmarshal(body, &e)
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if r.Header.Get(SignatureHeader) != "sha256="+hex.EncodeToString(m.Sum(nil)) || err != nil || e.EventID == "" {
		rc.badSigs++
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	rc.attempts[e.EventID]++
	if rc.down || rc.attempts[e.EventID] <= rc.failFirst {
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	rc.events[e.EventID] = e
	w.WriteHeader(http.StatusOK)
}

func (rc *receiver) setDown(down bool) {
	rc.mu.Lock()
	rc.down = down
	rc.mu.Unlock()
}

func newReceiver(t *testing.T, secret string, failFirst int) (*receiver, string) {
	rc := &receiver{secret: secret, failFirst: failFirst, attempts: map[string]int{}, events: map[string]store.Event{}}
	srv := httptest.NewServer(rc)
	t.Cleanup(srv.Close)
	return rc, srv.URL + "/hook?from=sms"
}

// awaitEvents waits until the receiver holds want events.
func (rc *receiver) awaitEvents(t *testing.T, want int, within time.Duration) map[string]store.Event {
	t.Helper()
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		rc.mu.Lock()
		defer rc.mu.Unlock()
		assert.Len(c, rc.events, want)
	}, within, 50*time.Millisecond)
	rc.mu.Lock()
	defer rc.mu.Unlock()
	assert.Zero(t, rc.badSigs, "every signature verifies")
	out := map[string]store.Event{}
	for k, v := range rc.events {
		out[k] = v
	}
	return out
}

const testCallbackSecret = "callback-secret-for-tests"

func callbackConfig(c *Config) {
	c.CallbackSecret = testCallbackSecret
	c.CallbackPrivate = true // the receiver is on loopback
}

// TestCallbacks: every message's outcome and final delivery reach the
// caller's receiver, signed, although it fails the first two posts of
// each event.
func TestCallbacks(t *testing.T) {
	for _, backend := range backends(t) {
		t.Run(backend, func(t *testing.T) {
			rc, hook := newReceiver(t, testCallbackSecret, 2)
			p := &reportingProvider{}
			ss := serveAt(t, reportOptions(t, backend, p, callbackConfig), "127.0.0.1:0")
			var a answer
			body := fmt.Sprintf(`{"address": "vendor", "message": "hi", "phone_numbers": ["79990000001", "79990000002", "79990000001"], "callback_url": %q}`, hook)
			require.Equal(t, http.StatusOK, ss.do(t, "POST", "/mailing", body, &a))
			ss.awaitTask(t, a.TaskID)
			assert.Equal(t, http.StatusOK, report(t, p.reportURL(t, "79990000001"), "status=delivered&code=1"))
			assert.Equal(t, http.StatusOK, report(t, p.reportURL(t, "79990000002"), "status=rejected&code=16"))

			// Three outcomes (the repeated number is skipped) and two
			// deliveries.
			events := rc.awaitEvents(t, 5, 30*time.Second)
			key := func(i int, typ string) string { return store.MessageKey(a.TaskID, i) + "/" + typ }
			for _, id := range []string{key(0, "outcome"), key(1, "outcome"), key(2, "outcome"), key(0, "delivery"), key(1, "delivery")} {
				require.Contains(t, events, id)
				assert.Equal(t, a.TaskID, events[id].TaskID)
				assert.Equal(t, id, events[id].EventID)
			}
			assert.Equal(t, "sent", events[key(0, "outcome")].State)
			assert.Equal(t, "gw-79990000001", events[key(0, "outcome")].MessageID)
			assert.Equal(t, "79990000001", events[key(0, "outcome")].Number)
			assert.Equal(t, "skipped", events[key(2, "outcome")].State)
			assert.Equal(t, "delivered", events[key(0, "delivery")].Delivery)
			assert.Equal(t, "rejected", events[key(1, "delivery")].Delivery)
			assert.Equal(t, "16", events[key(1, "delivery")].DeliveryCode)
			rc.mu.Lock()
			for id, n := range rc.attempts {
				assert.Equal(t, 3, n, "event %s: two failures, then taken", id)
			}
			rc.mu.Unlock()
			m := ss.svc.api.metrics
			assert.Equal(t, 5.0, testutil.ToFloat64(m.callbacks.WithLabelValues("delivered")))
			assert.Equal(t, 10.0, testutil.ToFloat64(m.callbacks.WithLabelValues("failed")))
		})
	}
}

// TestCallbacksAcrossRestart: events pending while the receiver is down
// survive a restart of the service and arrive once it is back, and so do
// reports that come while the service is down (the gateway retries them).
func TestCallbacksAcrossRestart(t *testing.T) {
	for _, backend := range backends(t) {
		t.Run(backend, func(t *testing.T) {
			rc, hook := newReceiver(t, testCallbackSecret, 0)
			rc.setDown(true)
			p := &reportingProvider{}
			ss := serveAt(t, reportOptions(t, backend, p, callbackConfig), "127.0.0.1:0")
			var a answer
			require.Equal(t, http.StatusOK, ss.do(t, "POST", "/sending?address=vendor&message=hi&phone_number=79990000001&callback_url="+url.QueryEscape(hook), "", &a))
			ss.awaitTask(t, a.TaskID)
			require.EventuallyWithT(t, func(c *assert.CollectT) {
				rc.mu.Lock()
				defer rc.mu.Unlock()
				assert.NotZero(c, rc.attempts[store.MessageKey(a.TaskID, 0)+"/outcome"], "the receiver was tried")
			}, 10*time.Second, 20*time.Millisecond)
			u := p.reportURL(t, "79990000001")
			ss.stop()
			resp, err := http.Get(u + "&status=delivered")
			if err == nil {
				resp.Body.Close()
			}
			require.Error(t, err, "the service is down: the gateway's report fails, and it will retry")

			ss = ss.restart(t)
			assert.Equal(t, http.StatusOK, report(t, u, "status=delivered"), "the gateway's retry")
			rc.setDown(false)
			events := rc.awaitEvents(t, 2, 30*time.Second)
			assert.Equal(t, "sent", events[store.MessageKey(a.TaskID, 0)+"/outcome"].State)
			assert.Equal(t, "delivered", events[store.MessageKey(a.TaskID, 0)+"/delivery"].Delivery)
			var page messagesPage
			require.Equal(t, http.StatusOK, ss.do(t, "GET", "/messages?delivery=delivered", "", &page))
			assert.Len(t, page.Messages, 1)
		})
	}
}

// TestCallbackURLPolicy: a callback_url must be http(s), needs the
// service's callback_secret, and may not name an internal address unless
// callback_private allows it; the dialler enforces the same.
func TestCallbackURLPolicy(t *testing.T) {
	cfg, types := testProvider("vendor", &reportingProvider{})
	cfg.CallbackSecret = "s"
	ts := startService(t, "sqlite", cfg, types)
	for raw, want := range map[string]string{
		"ftp://hooks.example/x":          "http or https",
		"/relative":                      "http or https",
		"http://user:pw@hooks.example/x": "credentials",
		"http://127.0.0.1:8080/x":        "not a public address",
		"http://localhost/x":             "not a public address",
		"http://10.1.2.3/x":              "not a public address",
		"http://[::1]/x":                 "not a public address",
		"http://169.254.169.254/latest":  "not a public address",
		"http://192.168.0.1/x":           "not a public address",
		"http://100.100.100.200/meta":    "not a public address",
		"http://[::ffff:10.0.0.1]/x":     "not a public address",
	} {
		var e apiError
		require.Equal(t, http.StatusUnprocessableEntity, ts.do(t, "POST", "/sending?address=vendor&message=hi&phone_number=79990000001&callback_url="+url.QueryEscape(raw), "", &e), raw)
		require.NotEmpty(t, e.Details, raw)
		assert.Equal(t, "callback_url", e.Details[0].Field, raw)
		assert.Contains(t, e.Details[0].Reason, want, raw)
	}
	assert.Equal(t, http.StatusOK, ts.do(t, "POST", "/sending?address=vendor&message=hi&phone_number=79990000001&wait=0&callback_url="+url.QueryEscape("https://hooks.example/sms"), "", nil))

	cfg2, types2 := testProvider("vendor", &reportingProvider{})
	ts2 := startService(t, "sqlite", cfg2, types2)
	var e apiError
	require.Equal(t, http.StatusUnprocessableEntity, ts2.do(t, "POST", "/sending?address=vendor&message=hi&phone_number=79990000001&callback_url=https://hooks.example/", "", &e))
	assert.Contains(t, e.Details[0].Reason, "callback_secret")

	// The dialler refuses a name that resolves to loopback.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}))
	defer srv.Close()
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	resp, err := callbackClient(false).Post("http://localhost:"+port+"/", "application/json", nil)
	if err == nil {
		resp.Body.Close()
	}
	require.ErrorIs(t, err, errPrivateAddress)
	resp, err = callbackClient(true).Post(srv.URL, "application/json", nil)
	require.NoError(t, err)
	resp.Body.Close()
}

// twilioSignature signs a Twilio callback as Twilio does: base64 of the
// HMAC-SHA1, under the auth token, of the URL followed by each form field's
// name and value, sorted by name.
func twilioSignature(token, u string, form url.Values) string {
	keys := slices.Sorted(maps.Keys(form))
	m := hmac.New(sha1.New, []byte(token))
	m.Write([]byte(u))
	for _, k := range keys {
		m.Write([]byte(k + form.Get(k)))
	}
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// TestVendorReports runs the twilio and vonage presets against their
// specifications under Prism with public_url set: the send carries the
// callback (the spec validates it), and the vendors' callbacks, Twilio's
// signed, set the delivery; an unsigned or wrongly signed Twilio callback
// is refused and changes nothing.
func TestVendorReports(t *testing.T) {
	const (
		sid   = "AC0123456789abcdef0123456789abcdef"
		token = "vendor-canary-token"
		specs = "../../providers/httpquery/testdata/vendors/"
	)
	for _, tc := range []struct {
		preset, spec, username string
		url                    func(base string) string
		params                 map[string][]string
	}{
		{"twilio", "twilio/twilio_api_v2010.json", sid, func(base string) string { return httpquery.TwilioURL(base, sid) }, map[string][]string{"From": {"+14155552345"}}},
		{"vonage", "vonage/sms.yml", "abcd1234", func(base string) string { return base + "/json" }, map[string][]string{"from": {"AcmeInc"}}},
	} {
		t.Run(tc.preset, func(t *testing.T) {
			m := prismtest.Start(t, specs+tc.spec)
			opts, err := json.Marshal(map[string]any{"preset": tc.preset, "url": tc.url(m.URL), "username": tc.username, "password": token, "params": tc.params})
			require.NoError(t, err)
			o := reportOptions(t, "sqlite", nil, nil)
			o.Config.Providers = map[string]ProviderConfig{tc.preset: {Type: "httpquery", Options: opts}}
			o.Types = nil
			ss := serveAt(t, o, "127.0.0.1:0")

			var a answer
			require.Equal(t, http.StatusOK, ss.do(t, "POST", "/sending?address="+tc.preset+"&phone_number=%2B447700900000&message=Hello", "", &a))
			require.Equal(t, store.StateSent, a.single(t)["state"])
			assert.Equal(t, store.DeliveryPending, a.single(t)["delivery"])
			log := m.Take(t)
			assert.Empty(t, prismtest.Violations(log), "the request with its callback passes the vendor's specification")

			// The report URL the send carried, as the service made it.
			secret, err := ss.svc.store.Secret(context.Background(), reportSecretName)
			require.NoError(t, err)
			h, err := sms.NewDeliveryHandler(&reportingProvider{}, secret, ss.svc.cfg.PublicURL+"/reports/"+tc.preset, func(context.Context, sms.DeliveryReport) error { return nil })
			require.NoError(t, err)
			u := h.URL(store.MessageKey(a.TaskID, 0))
			delivery := func() string {
				var page messagesPage
				require.Equal(t, http.StatusOK, ss.do(t, "GET", "/messages?task_id="+a.TaskID, "", &page))
				return page.Messages[0].Delivery
			}
			post := func(form url.Values, sig string) int {
				req, err := http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
				require.NoError(t, err)
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				if sig != "" {
					req.Header.Set("X-Twilio-Signature", sig)
				}
				resp, err := http.DefaultClient.Do(req)
				require.NoError(t, err)
				resp.Body.Close()
				return resp.StatusCode
			}
			if tc.preset == "twilio" {
				form := url.Values{"MessageSid": {"SMaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"}, "MessageStatus": {"delivered"}, "AccountSid": {sid}}
				assert.Equal(t, http.StatusBadRequest, post(form, ""), "unsigned")
				assert.Equal(t, http.StatusBadRequest, post(form, twilioSignature("not the token", u, form)), "signed with another key")
				assert.Equal(t, store.DeliveryPending, delivery())
				assert.Equal(t, http.StatusOK, post(form, twilioSignature(token, u, form)))
			} else {
				assert.Equal(t, http.StatusOK, report(t, u, "messageId=0A0000000123ABCD1&status=delivered&err-code=0&message-timestamp=2026-11-29+10%3A00%3A00"))
			}
			assert.Equal(t, "delivered", delivery())
		})
	}
}

// TestMockReports: the "mock" type reports delivery as its options say,
// through the service's report URLs, so that the whole path can be tried
// without a gateway.
func TestMockReports(t *testing.T) {
	o := reportOptions(t, "sqlite", nil, nil)
	o.Config.Providers = map[string]ProviderConfig{
		"demo": {Type: "mock", Options: []byte(`{"reports": {
			"*": {"statuses": ["accepted", "delivered"]},
			"79990000002": {"after": "10ms", "statuses": ["expired"]}}}`)},
		"down":  {Type: "mock", Options: []byte(`{"fail": {"79990000009": "temporary"}, "reports": {"*": {"statuses": ["rejected"]}}}`)},
		"group": {Type: "failover", Options: []byte(`{"vendors": ["down", "demo"]}`)},
	}
	o.Types = nil
	ss := serveAt(t, o, "127.0.0.1:0")
	var a answer
	require.Equal(t, http.StatusOK, ss.do(t, "POST", "/mailing?address=demo&message=hi", `["79990000001", "79990000002", "79990000003"]`, &a))
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		var got answer
		assert.Equal(c, http.StatusOK, ss.do(c, "GET", "/tasks/"+a.TaskID, "", &got))
		if assert.NotNil(c, got.Progress) {
			assert.Equal(c, map[string]int{"delivered": 2, "expired": 1}, got.Progress.Delivery)
		}
	}, 10*time.Second, 20*time.Millisecond)

	// Through a failover: the vendor that took the message reports.
	require.Equal(t, http.StatusOK, ss.do(t, "POST", "/sending?address=group&message=hi&phone_number=79990000009", "", &a))
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		var page messagesPage
		assert.Equal(c, http.StatusOK, ss.do(c, "GET", "/messages?task_id="+a.TaskID, "", &page))
		if assert.Len(c, page.Messages, 1) {
			assert.Equal(c, "delivered", page.Messages[0].Delivery)
			assert.Equal(c, "demo", page.Messages[0].Vendor)
		}
	}, 10*time.Second, 20*time.Millisecond)

	for _, bad := range []string{
		`{"reports": {"*": {"statuses": []}}}`,
		`{"reports": {"*": {"statuses": ["pending"]}}}`,
		`{"reports": {"*": {"after": "-1s", "statuses": ["delivered"]}}}`,
	} {
		_, err := newMockProvider(ProviderEnv{Name: "x"}, json.RawMessage(bad))
		assert.Error(t, err, bad)
	}
}

// TestSkippedEventAtOnce: a repeated number is final when the task is
// queued, so its event goes out then, even if the task is due in an hour.
func TestSkippedEventAtOnce(t *testing.T) {
	rc, hook := newReceiver(t, testCallbackSecret, 0)
	ss := serveAt(t, reportOptions(t, "sqlite", &reportingProvider{}, callbackConfig), "127.0.0.1:0")
	var a answer
	body := fmt.Sprintf(`{"address": "vendor", "message": "later", "delay": "1h", "phone_numbers": ["79990000001", "79990000001"], "callback_url": %q}`, hook)
	require.Equal(t, http.StatusOK, ss.do(t, "POST", "/mailing", body, &a))
	events := rc.awaitEvents(t, 1, 10*time.Second)
	e := events[store.MessageKey(a.TaskID, 1)+"/outcome"]
	assert.Equal(t, store.StateSkipped, e.State)
	assert.Contains(t, e.Error, "duplicate")
}

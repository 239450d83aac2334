package gateway

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/smsgateway/sms/internal/gateway/store"
	"github.com/smsgateway/sms/internal/prismtest"
	"github.com/smsgateway/sms/providers/httpquery"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakeVendor is a fake HTTP gateway that records the queries it gets.
type fakeVendor struct {
	mu      sync.Mutex
	queries []string
	answer  func(q string) (int, string)
}

func newFakeVendor(t *testing.T, answer func(q string) (int, string)) (*fakeVendor, *httptest.Server) {
	v := &fakeVendor{answer: answer}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v.mu.Lock()
		v.queries = append(v.queries, r.URL.RawQuery)
		v.mu.Unlock()
		code, body := v.answer(r.URL.RawQuery)
		w.WriteHeader(code)
		_, _ = io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	return v, srv
}

func (v *fakeVendor) all() []string {
	v.mu.Lock()
	defer v.mu.Unlock()
	return append([]string(nil), v.queries...)
}

// TestHTTPQueryOriginal configures the original service's fakeVendor with the
// "original" preset and gets the original's answer: the fakeVendor's status,
// the number, and the URL it was sent to.
func TestHTTPQueryOriginal(t *testing.T) {
	v, srv := newFakeVendor(t, func(string) (int, string) { return http.StatusOK, "ok" })
	cfg := testConfig(nil)
	opts, err := json.Marshal(map[string]any{"preset": "original", "url": srv.URL + "/"})
	require.NoError(t, err)
	cfg.Providers = map[string]ProviderConfig{"Google": {Type: "httpquery", Options: opts}}
	ts := startService(t, "sqlite", cfg, nil)

	var a answer
	require.Equal(t, http.StatusOK, ts.do(t, "POST", "/sending?address=Google&phone_number=88005553535&message=Hello", "", &a))
	assert.Equal(t, store.StatusSuccess, a.TaskStatus)
	r := a.single(t)
	assert.Equal(t, json.Number("200"), r["status"])
	assert.Equal(t, json.Number("88005553535"), r["number"])
	assert.Equal(t, srv.URL+"/?q=Hello&q=88005553535", r["URL"])
	assert.Equal(t, []string{"q=Hello&q=88005553535"}, v.all())
}

// TestHTTPQueryKannelPreset uses the "kannel" preset against a fake
// Kannel: credentials go into the query, never into answers or logs, and
// Kannel's answers are classified.
func TestHTTPQueryKannelPreset(t *testing.T) {
	const canary = "kannel-canary-pw"
	v, srv := newFakeVendor(t, func(q string) (int, string) {
		if strings.Contains(q, "to=79990000002") {
			return http.StatusForbidden, "Not routable. Do not try again."
		}
		return http.StatusAccepted, "0: Accepted for delivery"
	})
	var logs lockedBuffer
	cfg := testConfig(nil)
	opts, err := json.Marshal(map[string]any{"preset": "kannel", "url": srv.URL + "/cgi-bin/sendsms", "username": "tester", "password": canary, "params": map[string][]string{"smsc": {"fake"}}})
	require.NoError(t, err)
	cfg.Providers = map[string]ProviderConfig{"kannel": {Type: "httpquery", Options: opts}}
	svc, srv := openService(t, Options{Config: cfg, DataDir: t.TempDir(), Logger: newTestLogger(&logs)})
	ts := &testService{svc: svc, srv: srv}
	defer func() {
		closeService(t, svc, srv)
		assert.NotContains(t, logs.String(), canary)
	}()

	var a answer
	require.Equal(t, http.StatusOK, ts.do(t, "POST", "/mailing?address=kannel&message=Hi", "[79990000001, 79990000002]", &a))
	body, err := json.Marshal(a)
	require.NoError(t, err)
	assert.NotContains(t, string(body), canary)
	list := a.list(t)
	require.Len(t, list, 2)
	assert.Equal(t, store.StateSent, list[0]["state"])
	assert.Equal(t, json.Number("202"), list[0]["status"])
	assert.Equal(t, store.StateFailed, list[1]["state"])
	assert.Equal(t, "rejected", list[1]["kind"])

	queries := v.all()
	require.Len(t, queries, 2, "a rejected message is not retried")
	for _, q := range queries {
		assert.Contains(t, q, "password="+canary)
		assert.Contains(t, q, "username=tester")
		assert.Contains(t, q, "smsc=fake", "params given with a preset are added to it")
	}
	var page messagesPage
	ts.do(t, "GET", "/messages", "", &page)
	for _, m := range page.Messages {
		assert.NotContains(t, m.URL, canary)
		assert.NotEmpty(t, m.URL)
	}
}

func TestHTTPQueryOptionErrors(t *testing.T) {
	for _, tc := range []struct{ name, options string }{
		{"no url", `{}`},
		{"unknown preset", `{"preset": "telegraph", "url": "http://127.0.0.1:1/"}`},
		{"api_id without smsru", `{"url": "http://127.0.0.1:1/", "api_id": "x"}`},
		{"unknown field", `{"url": "http://127.0.0.1:1/", "passwrd": "x"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := newHTTPQueryProvider(ProviderEnv{Name: "x", Log: newTestLogger(io.Discard)}, json.RawMessage(tc.options))
			assert.Error(t, err)
		})
	}
}

// TestHTTPQueryVendorPresets runs the service with the "twilio" and
// "vonage" presets, configured from their options alone, against Prism
// serving each vendor's own OpenAPI description: the request passes the
// specification's validation and the example answer is a sent message with
// the example's message ID. The secret never shows in answers or logs.
func TestHTTPQueryVendorPresets(t *testing.T) {
	const (
		sid    = "AC0123456789abcdef0123456789abcdef"
		secret = "vendor-canary-secret"
		specs  = "../../providers/httpquery/testdata/vendors/"
	)
	for _, tc := range []struct {
		preset, spec, username, id string
		url                        func(base string) string
		// The sender: the service's API has none, so it comes with the
		// configuration.
		params map[string][]string
		status json.Number
	}{
		{"twilio", "twilio/twilio_api_v2010.json", sid, "SMaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
			func(base string) string { return httpquery.TwilioURL(base, sid) }, map[string][]string{"From": {"+14155552345"}}, "201"},
		{"vonage", "vonage/sms.yml", "abcd1234", "0A0000000123ABCD1",
			func(base string) string { return base + "/json" }, map[string][]string{"from": {"AcmeInc"}}, "200"},
	} {
		t.Run(tc.preset, func(t *testing.T) {
			m := prismtest.Start(t, specs+tc.spec)
			var logs lockedBuffer
			cfg := testConfig(nil)
			opts, err := json.Marshal(map[string]any{"preset": tc.preset, "url": tc.url(m.URL), "username": tc.username, "password": secret, "params": tc.params})
			require.NoError(t, err)
			cfg.Providers = map[string]ProviderConfig{tc.preset: {Type: "httpquery", Options: opts}}
			svc, srv := openService(t, Options{Config: cfg, DataDir: t.TempDir(), Logger: newTestLogger(&logs)})
			ts := &testService{svc: svc, srv: srv}
			defer func() {
				closeService(t, svc, srv)
				assert.NotContains(t, logs.String(), secret)
			}()

			var a answer
			require.Equal(t, http.StatusOK, ts.do(t, "POST", "/sending?address="+tc.preset+"&phone_number=%2B447700900000&message=Hello", "", &a))
			assert.Equal(t, store.StatusSuccess, a.TaskStatus)
			r := a.single(t)
			assert.Equal(t, store.StateSent, r["state"])
			assert.Equal(t, tc.status, r["status"])
			assert.Equal(t, tc.id, r["message_id"], "the example answer's message ID")
			body, err := json.Marshal(a)
			require.NoError(t, err)
			assert.NotContains(t, string(body), secret)

			log := m.Take(t)
			assert.Contains(t, log, "Request received")
			assert.Empty(t, prismtest.Violations(log), "the request passes the vendor's specification")
		})
	}
}

// The vendor presets need no "url": the vendors' public endpoints are the
// default.
func TestHTTPQueryVendorPresetDefaults(t *testing.T) {
	for _, options := range []string{
		`{"preset": "twilio", "username": "AC0123456789abcdef0123456789abcdef", "password": "x", "params": {"From": ["+14155552345"]}}`,
		`{"preset": "vonage", "username": "abcd1234", "password": "x", "params": {"from": ["AcmeInc"]}}`,
	} {
		p, err := newHTTPQueryProvider(ProviderEnv{Name: "x", Log: newTestLogger(io.Discard)}, json.RawMessage(options))
		require.NoError(t, err, options)
		require.NoError(t, p.(io.Closer).Close())
	}
}

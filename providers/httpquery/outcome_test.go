package httpquery

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smsgateway/sms"
)

func TestDefaultOutcomes(t *testing.T) {
	for _, tc := range []struct {
		status int
		want   Outcome
	}{
		{200, Accepted}, {202, Accepted}, {204, Accepted},
		{301, Fatal}, {302, Fatal},
		{400, Rejected}, {404, Rejected}, {422, Rejected}, {410, Rejected},
		{401, Fatal}, {403, Fatal}, {405, Fatal}, {407, Fatal},
		{408, Temporary}, {429, Throttled},
		{500, Ambiguous}, {502, Ambiguous}, {504, Ambiguous}, {599, Ambiguous},
		{501, Fatal}, {503, Temporary}, {505, Fatal},
	} {
		t.Run(statusText(tc.status), func(t *testing.T) {
			o, err := (&Outcomes{}).compile()
			require.NoError(t, err)
			v := o.classify(tc.status, []byte("whatever"), "+4912345678")
			assert.Equal(t, tc.want, v.out)
			assert.Equal(t, statusText(tc.status), v.code)
		})
	}
}

func statusText(n int) string { return strconv.Itoa(n) }

func TestConfiguredOutcomes(t *testing.T) {
	cfg := Outcomes{
		Rules: []Rule{
			{Status: "403", Body: `Not routable`, Outcome: Rejected},
			{Status: "2xx", Body: `^ERR`, Outcome: Rejected},
			{Body: `slow down`, Outcome: Throttled},
		},
		CodePaths:     []string{"results.{to}.code", "code"},
		Codes:         map[string]Outcome{"0": Accepted, "7": Fatal},
		UnknownCode:   Rejected,
		Status:        map[string]Outcome{"500": Temporary, "4xx": Ambiguous},
		MessageIDPath: "results.{to}.id",
	}
	o, err := cfg.compile()
	require.NoError(t, err)
	for _, tc := range []struct {
		name     string
		status   int
		body     string
		want     Outcome
		wantCode string
		wantID   string
	}{
		{"rule beats status", 403, "Not routable. Do not try again.", Rejected, "403", ""},
		{"403 without the pattern: status override for 4xx", 403, "Authorization failed", Ambiguous, "403", ""},
		{"2xx body rule", 200, "ERR bad number", Rejected, "200", ""},
		{"rule with any status", 500, "please slow down", Throttled, "500", ""},
		{"per-number JSON code and ID, plus stripped", 200, `{"results":{"4912345678":{"code":0,"id":"m-1"}}}`, Accepted, "0", "m-1"},
		{"top-level code when number is missing", 200, `{"code":7}`, Fatal, "7", ""},
		{"unknown code", 200, `{"code":"99"}`, Rejected, "99", ""},
		{"no code in JSON: status decides", 200, `{"other":1}`, Accepted, "200", ""},
		{"not JSON: status decides", 500, `<html>`, Temporary, "500", ""},
		{"class override", 418, ``, Ambiguous, "418", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := o.classify(tc.status, []byte(tc.body), "+4912345678")
			assert.Equal(t, tc.want, v.out)
			assert.Equal(t, tc.wantCode, v.code)
			assert.Equal(t, tc.wantID, v.messageID)
		})
	}
}

// A throttle is about the recipient alone only when its code is listed.
func TestPerRecipientThrottle(t *testing.T) {
	o, err := (&Outcomes{
		CodePaths:    []string{"code"},
		Codes:        map[string]Outcome{"7": Throttled, "8": Throttled, "9": Rejected},
		PerRecipient: []string{"7", "429", "9"},
	}).compile()
	require.NoError(t, err)
	for _, tc := range []struct {
		name   string
		status int
		body   string
		want   Outcome
		per    bool
	}{
		{"listed vendor code", 200, `{"code":7}`, Throttled, true},
		{"other vendor code", 200, `{"code":8}`, Throttled, false},
		{"listed, but not a throttle", 200, `{"code":9}`, Rejected, false},
		{"listed status", 429, ``, Throttled, true},
		{"503 is no throttle", 503, ``, Temporary, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := o.classify(tc.status, []byte(tc.body), "+4912345678")
			assert.Equal(t, tc.want, v.out)
			assert.Equal(t, tc.per, v.perRecipient)
		})
	}

	// Through Send, into the *sms.Error; and only when listed.
	for _, listed := range []bool{true, false} {
		srv := newCounter(t, answer(429, "slow down", "Retry-After", "3"))
		cfg := Config{URL: srv.URL}
		if listed {
			cfg.Outcomes.PerRecipient = []string{"429"}
		}
		p := newProvider(t, cfg, nil)
		_, err := p.Send(context.Background(), testMsg)
		var e *sms.Error
		require.True(t, errors.As(err, &e))
		assert.Equal(t, sms.KindThrottled, e.Kind)
		assert.Equal(t, listed, e.PerRecipient)
		assert.Equal(t, 3*time.Second, e.RetryAfter)
	}
}

func TestMessageIDRegexp(t *testing.T) {
	o, err := (&Outcomes{MessageID: `^Success "([^"]+)"`}).compile()
	require.NoError(t, err)
	assert.Equal(t, "07033084-5cfd", o.classify(200, []byte(`Success "07033084-5cfd"`), "1").messageID)
	assert.Equal(t, "", o.classify(200, []byte(`Accepted`), "1").messageID, "accepted without an ID")
	assert.Equal(t, Accepted, o.classify(200, []byte(`Accepted`), "1").out)
}

func TestInvalidConfig(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
	}{
		{"no URL", Config{}},
		{"bad scheme", Config{URL: "ftp://gw/"}},
		{"no host", Config{URL: "http:///x"}},
		{"bad method", Config{URL: "http://gw/", Method: "PUT"}},
		{"bad ucs2 text", Config{URL: "http://gw/", UCS2Text: "latin1"}},
		{"negative max conns", Config{URL: "http://gw/", MaxConns: -1}},
		{"bad rule status", Config{URL: "http://gw/", Outcomes: Outcomes{Rules: []Rule{{Status: "6xx", Outcome: Fatal}}}}},
		{"rule without outcome", Config{URL: "http://gw/", Outcomes: Outcomes{Rules: []Rule{{Status: "403"}}}}},
		{"bad rule outcome", Config{URL: "http://gw/", Outcomes: Outcomes{Rules: []Rule{{Outcome: 99}}}}},
		{"invalid is no outcome", Config{URL: "http://gw/", Outcomes: Outcomes{Rules: []Rule{{Outcome: failure + Outcome(sms.KindInvalid)}}}}},
		{"bad rule regexp", Config{URL: "http://gw/", Outcomes: Outcomes{Rules: []Rule{{Body: "(", Outcome: Fatal}}}}},
		{"bad code outcome", Config{URL: "http://gw/", Outcomes: Outcomes{Codes: map[string]Outcome{"1": 0}}}},
		{"bad status key", Config{URL: "http://gw/", Outcomes: Outcomes{Status: map[string]Outcome{"20": Fatal}}}},
		{"id regexp without group", Config{URL: "http://gw/", Outcomes: Outcomes{MessageID: `id=\d+`}}},
		{"bad status outcome", Config{URL: "http://gw/", Outcomes: Outcomes{Status: map[string]Outcome{"5xx": -1}}}},
		{"bad unknown code", Config{URL: "http://gw/", Outcomes: Outcomes{UnknownCode: 99}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := New(tc.cfg)
			assert.Nil(t, p)
			assert.True(t, errors.Is(err, errConfig), "%v", err)
		})
	}
}

// An Outcome's text is "accepted" or an sms.Kind's: every kind a gateway
// can give, and only those, round-trips to the outcome of that kind.
func TestOutcomeText(t *testing.T) {
	for k := sms.Kind(0); ; k++ {
		name, err := k.MarshalText()
		if err != nil {
			break // past the last kind
		}
		t.Run(string(name), func(t *testing.T) {
			var o Outcome
			err := o.UnmarshalText(name)
			if k == sms.KindInvalid {
				assert.Error(t, err, "invalid is the Client's kind, no gateway answer's")
				return
			}
			require.NoError(t, err)
			got, ok := o.kind()
			assert.True(t, ok)
			assert.Equal(t, k, got)
			back, err := o.MarshalText()
			require.NoError(t, err)
			assert.Equal(t, string(name), string(back))
			assert.Equal(t, string(name), o.String())
		})
	}
	for _, tc := range []struct {
		o    Outcome
		name string
		kind sms.Kind
	}{
		{Rejected, "rejected", sms.KindRejected},
		{Temporary, "temporary", sms.KindTemporary},
		{Throttled, "throttled", sms.KindThrottled},
		{Fatal, "fatal", sms.KindFatal},
		{Ambiguous, "ambiguous", sms.KindAmbiguous},
	} {
		assert.Equal(t, tc.name, tc.o.String())
		k, ok := tc.o.kind()
		assert.True(t, ok)
		assert.Equal(t, tc.kind, k)
	}

	var o Outcome
	require.NoError(t, o.UnmarshalText([]byte("accepted")))
	assert.Equal(t, Accepted, o)
	_, ok := Accepted.kind()
	assert.False(t, ok, "Accepted is no failure")
	for _, bad := range []string{"", "maybe", "Accepted", "REJECTED", "invalid"} {
		assert.Error(t, o.UnmarshalText([]byte(bad)), bad)
	}
	for _, none := range []Outcome{0, -1, 99, failure + Outcome(sms.KindInvalid)} {
		_, err := none.MarshalText()
		assert.Error(t, err, "%d", int(none))
		assert.False(t, none.valid())
	}
}

func TestConfigJSON(t *testing.T) {
	const doc = `{
		"url": "http://127.0.0.1:13013/cgi-bin/sendsms",
		"method": "POST",
		"params": {"username": ["tester"], "password": ["foobar"]},
		"timeout": "5s",
		"dial_retries": -1,
		"outcomes": {"rules": [{"status": "403", "body": "Not routable", "outcome": "rejected"}],
		             "status": {"5xx": "temporary"}}
	}`
	var cfg Config
	require.NoError(t, json.Unmarshal([]byte(doc), &cfg))
	assert.Equal(t, url.Values{"username": {"tester"}, "password": {"foobar"}}, cfg.Params)
	assert.Equal(t, sms.Duration(5*time.Second), cfg.Timeout)
	s, err := cfg.settings()
	require.NoError(t, err)
	assert.Equal(t, 0, s.dialRetries)
	assert.Equal(t, "POST", s.method)
	assert.Equal(t, Rejected, s.outcomes.classify(403, []byte("Not routable"), "1").out)
	assert.Equal(t, Temporary, s.outcomes.classify(502, nil, "1").out)

}

// Durations in a Config read as in the service's configuration: a string
// time.ParseDuration takes, or a number of seconds.
func TestConfigDurationsJSON(t *testing.T) {
	for _, tc := range []struct {
		name, doc string
		want      time.Duration
	}{
		{"string", `{"timeout": "5s"}`, 5 * time.Second},
		{"compound string", `{"timeout": "1m30s"}`, 90 * time.Second},
		{"seconds", `{"timeout": 30}`, 30 * time.Second},
		{"fractional seconds", `{"timeout": 0.25}`, 250 * time.Millisecond},
		{"seconds as a string", `{"timeout": "30"}`, 30 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var cfg Config
			require.NoError(t, json.Unmarshal([]byte(tc.doc), &cfg))
			cfg.URL = "http://gw/"
			s, err := cfg.settings()
			require.NoError(t, err)
			assert.Equal(t, tc.want, s.timeout)
		})
	}

	var cfg Config
	require.NoError(t, json.Unmarshal([]byte(`{"url": "http://gw/", "dial_timeout": 2, "dial_retry_wait": "250ms"}`), &cfg))
	s, err := cfg.settings()
	require.NoError(t, err)
	assert.Equal(t, 2*time.Second, s.dialTimeout)
	assert.Equal(t, 250*time.Millisecond, s.retryWait)

	out, err := json.Marshal(Config{URL: "http://gw/", Timeout: sms.Duration(1500 * time.Millisecond)})
	require.NoError(t, err)
	assert.Contains(t, string(out), `"timeout":"1.5s"`)
	var back Config
	require.NoError(t, json.Unmarshal(out, &back))
	assert.Equal(t, sms.Duration(1500*time.Millisecond), back.Timeout)

	for _, bad := range []string{`{"timeout":"soon"}`, `{"timeout":true}`, `{"timeout":1e300}`} {
		var c Config
		assert.Error(t, json.Unmarshal([]byte(bad), &c), bad)
	}
}

func TestConfigDefaults(t *testing.T) {
	s, err := (&Config{URL: "http://gw/"}).settings()
	require.NoError(t, err)
	assert.Equal(t, DefaultMethod, s.method)
	assert.Equal(t, DefaultToParam, s.to)
	assert.Equal(t, DefaultTextParam, s.text)
	assert.Equal(t, DefaultTimeout, s.timeout)
	assert.Equal(t, DefaultDialTimeout, s.dialTimeout)
	assert.Equal(t, DefaultDialRetries, s.dialRetries)
	assert.Equal(t, DefaultDialRetryWait, s.retryWait)
	assert.Equal(t, DefaultMaxConns, s.maxConns)
}

func FuzzLookup(f *testing.F) {
	f.Add(`{"sms":{"79161234567":{"status_code":100}}}`, "sms.{to}.status_code")
	f.Add(`[1,[2,3]]`, "1.0")
	f.Add(`{"messages":[{"status":"0"},{"status":"1"}]}`, "messages.*.status")
	f.Add(`[[1,2],[3,[4]]]`, "*.*.*")
	f.Fuzz(func(t *testing.T, body, path string) {
		doc := parseJSON([]byte(body))
		if doc == nil {
			return
		}
		// Must not panic; a found value is a scalar's text, and lookup
		// finds lookupAll's first.
		all := lookupAll(doc, path, "+79161234567")
		v, ok := lookup(doc, path, "+79161234567")
		if ok != (len(all) > 0) || ok && v != all[0] {
			t.Fatalf("lookup %q %v, lookupAll %q", v, ok, all)
		}
	})
}

// An answer is read up to maxBodyBytes: a rule matches what lies within,
// not what lies past it.
func TestAnswerReadUpToLimit(t *testing.T) {
	for _, tc := range []struct {
		name string
		pad  int
		want sms.Kind
		ok   bool
	}{
		{"marker within the limit", maxBodyBytes - 3, sms.KindRejected, false},
		{"marker past the limit", maxBodyBytes - 2, 0, true},
		{"short answer", 10, sms.KindRejected, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newCounter(t, answer(200, strings.Repeat("x", tc.pad)+"ERR"))
			p := newProvider(t, Config{URL: srv.URL, Outcomes: Outcomes{Rules: []Rule{{Body: "ERR", Outcome: Rejected}}}}, nil)
			_, err := p.Send(context.Background(), testMsg)
			if tc.ok {
				require.NoError(t, err)
				return
			}
			assert.Equal(t, tc.want, kindOf(t, err))
			var re *ResponseError
			require.True(t, errors.As(err, &re))
			assert.LessOrEqual(t, len(re.Body), 256, "an excerpt")
		})
	}
}

func TestLookupAll(t *testing.T) {
	doc := parseJSON([]byte(`{"messages":[{"status":"0","id":"a"},{"status":"1"},{"status":2}],"n":[[1,2],[3]],"code":21211}`))
	for _, tc := range []struct {
		path string
		want []string
	}{
		{"messages.*.status", []string{"0", "1", "2"}},
		{"messages.*.id", []string{"a"}},
		{"messages.1.status", []string{"1"}},
		{"messages.3.status", nil},
		{"n.*.*", []string{"1", "2", "3"}},
		{"n.*.1", []string{"2"}},
		{"code", []string{"21211"}},
		{"code.*", nil},
		{"*", nil},
		{"messages.*", nil},
	} {
		t.Run(tc.path, func(t *testing.T) {
			assert.Equal(t, tc.want, lookupAll(doc, tc.path, "+1"))
		})
	}
}

// Codes found at a path with "*" decide together; UnknownCodeByStatus
// leaves an unknown code to the HTTP status.
func TestCodesTogether(t *testing.T) {
	codes := map[string]Outcome{"0": Accepted, "1": Throttled, "2": Rejected, "3": Fatal}
	parts := func(sts ...string) string {
		var b strings.Builder
		b.WriteString(`{"messages":[`)
		for i, st := range sts {
			if i > 0 {
				b.WriteString(",")
			}
			fmt.Fprintf(&b, `{"status":%q}`, st)
		}
		b.WriteString("]}")
		return b.String()
	}
	for _, tc := range []struct {
		name     string
		status   int
		body     string
		byStatus bool
		want     Outcome
		code     string
	}{
		{"one accepted", 200, parts("0"), false, Accepted, "0"},
		{"all accepted", 200, parts("0", "0", "0"), false, Accepted, "0"},
		{"all throttled", 200, parts("1", "1"), false, Throttled, "1"},
		{"accepted then throttled", 200, parts("0", "1"), false, Ambiguous, "1"},
		{"rejected then accepted", 200, parts("2", "0"), false, Ambiguous, "2"},
		{"two failures: the first decides", 200, parts("2", "3"), false, Rejected, "2"},
		{"unknown code", 400, parts("9"), false, Ambiguous, "9"},
		{"unknown code by status 400", 400, parts("9"), true, Rejected, "9"},
		{"unknown code by status 401", 401, parts("9"), true, Fatal, "9"},
		{"known code by status", 400, parts("1"), true, Throttled, "1"},
		{"no code", 503, `{}`, true, Temporary, "503"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o, err := (&Outcomes{CodePaths: []string{"messages.*.status"}, Codes: codes, UnknownCodeByStatus: tc.byStatus}).compile()
			require.NoError(t, err)
			v := o.classify(tc.status, []byte(tc.body), "+1")
			assert.Equal(t, tc.want, v.out)
			assert.Equal(t, tc.code, v.code)
		})
	}
}

// The presets are plain data: they survive a JSON round trip, as a
// configuration file holds them.
func TestVendorPresetsJSON(t *testing.T) {
	for name, cfg := range map[string]Config{
		"twilio": Twilio("AC1", "tok"), "vonage": Vonage("k", "s"),
		"kannel": Kannel("http://gw/cgi-bin/sendsms", "u", "p"), "jasmin": Jasmin("http://gw/send", "u", "p"),
	} {
		t.Run(name, func(t *testing.T) {
			b, err := json.Marshal(cfg)
			require.NoError(t, err)
			var back Config
			require.NoError(t, json.Unmarshal(b, &back))
			assert.Equal(t, cfg, back)
		})
	}
}

package httpquery

import (
	"context"
	"encoding/base64"
	"io"
	"net/http"
	"net/url"
	"testing"
	"unicode/utf16"

	"github.com/hashicorp/go-retryablehttp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smsgateway/sms"
	"github.com/smsgateway/sms/internal/redact"
)

// sentParams returns the parameters a request carries: its query for GET,
// its form body for POST (the URL's own query included).
func sentParams(t testing.TB, req *retryablehttp.Request) url.Values {
	t.Helper()
	v, err := url.ParseQuery(req.URL.RawQuery)
	require.NoError(t, err)
	if req.Method == http.MethodPost {
		b, err := req.BodyBytes()
		require.NoError(t, err)
		form, err := url.ParseQuery(string(b))
		require.NoError(t, err)
		for k, vs := range form {
			v[k] = append(v[k], vs...)
		}
	}
	return v
}

func build(t testing.TB, cfg Config, msg sms.Message) (*retryablehttp.Request, string) {
	t.Helper()
	s, err := cfg.settings()
	require.NoError(t, err)
	req, printable, err := s.newRequest(context.Background(), msg)
	require.NoError(t, err)
	return req, printable
}

func TestRequestParams(t *testing.T) {
	msg := sms.Message{To: "+4912345678", Text: "Hello", From: "ACME"}
	for _, tc := range []struct {
		name string
		cfg  Config
		msg  sms.Message
		want url.Values
	}{
		{
			name: "defaults",
			cfg:  Config{URL: "http://gw/send"},
			msg:  msg,
			want: url.Values{"to": {"+4912345678"}, "text": {"Hello"}},
		},
		{
			name: "names, from and static params, URL query kept",
			cfg: Config{URL: "http://gw/send?json=1", ToParam: "phone", TextParam: "msg", FromParam: "sender",
				Params: url.Values{"user": {"u"}, "tag": {"a", "b"}}},
			msg:  msg,
			want: url.Values{"json": {"1"}, "phone": {"+4912345678"}, "msg": {"Hello"}, "sender": {"ACME"}, "user": {"u"}, "tag": {"a", "b"}},
		},
		{
			name: "empty From not sent",
			cfg:  Config{URL: "http://gw/send", FromParam: "from"},
			msg:  sms.Message{To: "+4912345678", Text: "Hello"},
			want: url.Values{"to": {"+4912345678"}, "text": {"Hello"}},
		},
		{
			name: "same name for text and number: text first",
			cfg:  Original("https://www.google.com/"),
			msg:  sms.Message{To: "88005553535", Text: "Hello"},
			want: url.Values{"q": {"Hello", "88005553535"}},
		},
		{
			name: "static param sharing a name comes first",
			cfg:  Config{URL: "http://gw/", ToParam: "q", TextParam: "q", Params: url.Values{"q": {"static"}}},
			msg:  sms.Message{To: "88005553535", Text: "Hello"},
			want: url.Values{"q": {"static", "Hello", "88005553535"}},
		},
		{
			name: "UCS-2 text gets the extra params",
			cfg:  Kannel("http://gw/cgi-bin/sendsms", "u", "p"),
			msg:  sms.Message{To: "+4912345678", Text: "Привет 😀"},
			want: url.Values{"username": {"u"}, "password": {"p"}, "to": {"+4912345678"}, "text": {"Привет 😀"}, "coding": {"2"}, "charset": {"UTF-8"}},
		},
		{
			name: "GSM text does not",
			cfg:  Kannel("http://gw/cgi-bin/sendsms", "u", "p"),
			msg:  sms.Message{To: "+4912345678", Text: "Hello"},
			want: url.Values{"username": {"u"}, "password": {"p"}, "to": {"+4912345678"}, "text": {"Hello"}},
		},
		{
			name: "strip plus",
			cfg:  Config{URL: "http://gw/", StripPlus: true},
			msg:  msg,
			want: url.Values{"to": {"4912345678"}, "text": {"Hello"}},
		},
		{
			name: "injection stays inside the text",
			cfg:  Config{URL: "http://gw/send"},
			msg:  sms.Message{To: "+4912345678", Text: "hi&to=+1999#x"},
			want: url.Values{"to": {"+4912345678"}, "text": {"hi&to=+1999#x"}},
		},
		{
			name: "URL with empty query and fragment",
			cfg:  Config{URL: "http://gw/send?#frag"},
			msg:  msg,
			want: url.Values{"to": {"+4912345678"}, "text": {"Hello"}},
		},
		{
			name: "POST form",
			cfg:  Config{URL: "http://gw/send?json=1", Method: "post", Params: url.Values{"k": {"v"}}},
			msg:  sms.Message{To: "+4912345678", Text: "a=b&c=d"},
			want: url.Values{"json": {"1"}, "k": {"v"}, "to": {"+4912345678"}, "text": {"a=b&c=d"}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := build(t, tc.cfg, tc.msg)
			assert.Equal(t, tc.want, sentParams(t, req))
			assert.Empty(t, req.URL.Fragment)
		})
	}
}

func TestRequestMethodHeadersAuth(t *testing.T) {
	cfg := Config{URL: "http://gw/send", Method: "POST", Headers: map[string]string{"X-Api-Key": "k1"}, Username: "user", Password: "pw"}
	req, _ := build(t, cfg, sms.Message{To: "+4912345678", Text: "Hi"})
	assert.Equal(t, http.MethodPost, req.Method)
	assert.Equal(t, "application/x-www-form-urlencoded", req.Header.Get("Content-Type"))
	assert.Equal(t, "k1", req.Header.Get("X-Api-Key"))
	assert.Equal(t, "Basic "+base64.StdEncoding.EncodeToString([]byte("user:pw")), req.Header.Get("Authorization"))
	assert.Empty(t, req.URL.RawQuery)

	get, _ := build(t, Config{URL: "http://gw/send"}, sms.Message{To: "+4912345678", Text: "Hi"})
	assert.Equal(t, http.MethodGet, get.Method)
	assert.Empty(t, get.Header.Get("Authorization"))
	assert.Nil(t, get.GetBody, "a GET must not be replayable by net/http")
	assert.NotNil(t, get.Body, "a GET must not be replayable by net/http")
	assert.NotEqual(t, http.NoBody, get.Body, "a GET must not be replayable by net/http")
	assert.Equal(t, []string{"identity"}, get.TransferEncoding, "no probe of the body")
}

func TestRequestJasminUTF16(t *testing.T) {
	req, _ := build(t, Jasmin("http://gw:1401/send", "u", "p"), sms.Message{To: "+4912345678", Text: "Жx😀"})
	v := sentParams(t, req)
	raw := v.Get("content")
	require.Len(t, raw, 8)
	units := make([]uint16, 0, 4)
	for i := 0; i < len(raw); i += 2 {
		units = append(units, uint16(raw[i])<<8|uint16(raw[i+1]))
	}
	assert.Equal(t, "Жx😀", string(utf16.Decode(units)))
	assert.Equal(t, "8", v.Get("coding"))
}

func TestReceiptURLRedacted(t *testing.T) {
	_, printable := build(t, Kannel("http://gw/cgi-bin/sendsms", "tester", "pa ss&word"), sms.Message{To: "+4912345678", Text: "Hi"})
	assert.Equal(t, "http://gw/cgi-bin/sendsms?password=REDACTED&username=tester&text=Hi&to=%2B4912345678", printable)
}

// FuzzRequest checks that the decoded parameters of a built request are
// exactly the inputs, whatever the text, number and sender hold.
func FuzzRequest(f *testing.F) {
	f.Add("+4912345678", "hi&to=+1999#x", "ACME", false, false)
	f.Add("88005553535", "Привет %zz ?a=b", "", true, true)
	f.Add("1", "=&=&", "&from=x", false, true)
	f.Fuzz(func(t *testing.T, to, text, from string, post, sameName bool) {
		cfg := Config{URL: "http://gw/send?fixed=1", FromParam: "from", Params: url.Values{"password": {"p&w"}}, UCS2Params: url.Values{"coding": {"2"}}}
		if post {
			cfg.Method = "POST"
		}
		if sameName {
			cfg.ToParam, cfg.TextParam = "q", "q"
		}
		s, err := cfg.settings()
		require.NoError(t, err)
		req, printable, err := s.newRequest(context.Background(), sms.Message{To: to, Text: text, From: from})
		require.NoError(t, err)
		got := sentParams(t, req)
		if !post {
			assert.Equal(t, redact.URL(req.URL, s.secret), printable, "Receipt.URL is the request URL, redacted")
		} else {
			assert.Equal(t, "http://gw/send?fixed=1", printable)
		}

		want := url.Values{"fixed": {"1"}, "password": {"p&w"}}
		toName, textName := "to", "text"
		if sameName {
			toName, textName = "q", "q"
		}
		want[textName] = append(want[textName], text)
		want[toName] = append(want[toName], to)
		if from != "" {
			want["from"] = []string{from}
		}
		if sms.Analyze(text).Encoding == sms.UCS2 {
			want["coding"] = []string{"2"}
		}
		assert.Equal(t, want, got)
	})
}

// The non-replayable empty body of a GET goes on the wire as no body: no
// Content-Length, no Transfer-Encoding, nothing after the headers.
func TestGETHasNoBodyOnTheWire(t *testing.T) {
	type seen struct {
		cl      int64
		te      []string
		headers http.Header
		body    string
	}
	got := make(chan seen, 1)
	srv := newCounter(t, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- seen{r.ContentLength, r.TransferEncoding, r.Header.Clone(), string(b)}
		w.WriteHeader(http.StatusAccepted)
	})
	p := newProvider(t, Config{URL: srv.URL}, nil)
	_, err := p.Send(context.Background(), sms.Message{To: "+4912345678", Text: "Hi"})
	require.NoError(t, err)
	s := <-got
	assert.Equal(t, int64(0), s.cl)
	assert.Empty(t, s.te)
	assert.Empty(t, s.headers.Get("Content-Length"))
	assert.Empty(t, s.headers.Get("Transfer-Encoding"))
	assert.Empty(t, s.body)
}

func TestPrintableWithSecretNames(t *testing.T) {
	cfg := Config{URL: "http://gw/send", ToParam: "to", TextParam: "token", FromParam: "from", SecretParams: []string{"from"}}
	req, printable := build(t, cfg, sms.Message{To: "+4912345678", Text: "s3cret", From: "me"})
	assert.Equal(t, "http://gw/send?from=REDACTED&to=%2B4912345678&token=REDACTED", printable)
	assert.Equal(t, "from=me&to=%2B4912345678&token=s3cret", req.URL.RawQuery)
}

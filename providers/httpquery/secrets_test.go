package httpquery

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smsgateway/sms"
)

const canary = "CANARY-s3cr&t/pw"

// canaryBasic is the base64 of "user:"+canary, as basic authentication
// sends it.
var canaryBasic = base64.StdEncoding.EncodeToString([]byte("user:" + canary))

// assertNoCanary checks that canary appears in s in none of its forms: raw,
// URL-encoded, in basic authentication's base64 (whole, URL-encoded, or its
// first 16 characters, which hold "user:CANARY-"), or just its first word.
func assertNoCanary(t *testing.T, what, s string) {
	t.Helper()
	for _, form := range []string{canary, url.QueryEscape(canary), url.PathEscape(canary), "CANARY",
		canaryBasic, url.QueryEscape(canaryBasic), canaryBasic[:16]} {
		assert.NotContains(t, s, form, "%s leaks the secret", what)
	}
}

// assertErrorClean checks err's text, its %+v and %#v forms, and the text
// of every error in its chain.
func assertErrorClean(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		return
	}
	assertNoCanary(t, "error", err.Error())
	assertNoCanary(t, "%+v", fmt.Sprintf("%+v", err))
	assertNoCanary(t, "%#v", fmt.Sprintf("%#v", err))
	var ue *url.Error
	assert.False(t, errors.As(err, &ue), "a *url.Error quotes the whole URL")
	queue := []error{err}
	for len(queue) > 0 {
		e := queue[0]
		queue = queue[1:]
		assertNoCanary(t, fmt.Sprintf("chain %T", e), e.Error())
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

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// echo answers with everything it got, secrets included, as a careless
// gateway might.
func echo(status int) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		w.WriteHeader(status)
		fmt.Fprintf(w, "got %s %s %v user=%s", r.URL.RawQuery, r.Form.Encode(), r.Header, r.Header.Get("Authorization"))
	}
}

// echoCredentials answers 403 with the credentials of the Authorization
// header in every form: the header's value, the part after its scheme, and
// basic authentication's password decoded; each also URL-encoded, after pad
// spaces.
func echoCredentials(pad int) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		auth := r.Header.Get("Authorization")
		_, cred, _ := strings.Cut(auth, " ")
		_, pw, _ := r.BasicAuth()
		w.WriteHeader(http.StatusForbidden)
		fmt.Fprintf(w, "%*sauth=%s cred=%s pw=%s q=%s", pad, "", auth, cred, pw, url.Values{"a": {auth}, "c": {cred}}.Encode())
	}
}

func TestSecretsNeverLeak(t *testing.T) {
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	refusedURL := "http://" + closed.Addr().String() + "/send"
	require.NoError(t, closed.Close())

	release := make(chan struct{})
	hang := newCounter(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	})
	t.Cleanup(func() { close(release) })

	servers := map[string]string{
		"accepted":    newCounter(t, echo(202)).URL,
		"rejected":    newCounter(t, echo(400)).URL,
		"fatal":       newCounter(t, echo(403)).URL,
		"ambiguous":   newCounter(t, echo(502)).URL,
		"credentials": newCounter(t, echoCredentials(0)).URL,
		// Puts the header's base64 across the 256th byte, where the
		// excerpt in the error is cut.
		"credentials cut": newCounter(t, echoCredentials(220)).URL,
		"raw echo":        rawEcho(t),
		"refused":         refusedURL,
		"timeout":         hang.URL,
	}
	configs := map[string]func(base string) Config{
		"param": func(base string) Config {
			return Config{URL: base + "/send", Params: url.Values{"password": {canary}}}
		},
		"listed param": func(base string) Config {
			return Config{URL: base + "/send", Params: url.Values{"sig": {canary}}, SecretParams: []string{"sig"}}
		},
		"url query": func(base string) Config { return Config{URL: base + "/send?api_id=" + url.QueryEscape(canary)} },
		"header": func(base string) Config {
			return Config{URL: base + "/send", Headers: map[string]string{"X-Custom": canary}}
		},
		"basic auth": func(base string) Config {
			return Config{URL: base + "/send", Username: "user", Password: canary}
		},
		"url user info": func(base string) Config {
			return Config{URL: strings.Replace(base, "http://", "http://user:"+url.PathEscape(canary)+"@", 1) + "/send"}
		},
		"bearer token": func(base string) Config {
			return Config{URL: base + "/send", Headers: map[string]string{"Authorization": "Bearer " + canary}}
		},
		"post": func(base string) Config {
			return Config{URL: base + "/send", Method: "POST", Params: url.Values{"token": {canary}}}
		},
		"kannel": func(base string) Config { return Kannel(base+"/cgi-bin/sendsms", "tester", canary) },
		"smsru": func(base string) Config {
			c := SMSRu(canary)
			c.URL = base + "/sms/send"
			return c
		},
		"twilio": func(base string) Config {
			c := Twilio("user", canary)
			c.URL = TwilioURL(base, "user")
			return c
		},
		"vonage": func(base string) Config {
			c := Vonage("abcd1234", canary)
			c.URL = base + "/sms/json"
			return c
		},
	}
	for cname, mk := range configs {
		for sname, base := range servers {
			t.Run(cname+"/"+sname, func(t *testing.T) {
				var logs syncBuffer
				cfg := mk(base)
				cfg.Timeout = sms.Duration(100 * time.Millisecond)
				cfg.Logger = slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
				p := newProvider(t, cfg, nil)
				c, err := sms.New(p, sms.WithLogger(cfg.Logger), sms.WithRetry(sms.RetryPolicy{MaxAttempts: 1}))
				require.NoError(t, err)
				res, err := c.Send(context.Background(), sms.Message{To: "+4912345678", Text: "Hello"})
				require.NoError(t, c.Close())

				// Vonage's answers are 200 with a status in JSON; an echo
				// has none.
				if sname == "accepted" && cname != "vonage" {
					require.NoError(t, err)
				} else {
					require.Error(t, err)
				}
				assertErrorClean(t, err)
				assertNoCanary(t, "Receipt.URL", res.URL)
				assertNoCanary(t, "Result %+v", fmt.Sprintf("%+v", res))
				assertNoCanary(t, "logs", logs.String())
				assert.NotEmpty(t, logs.String(), "the provider logged")
				switch cname {
				case "header", "basic auth", "post", "bearer token", "twilio", "vonage":
				default:
					assert.Contains(t, res.URL, "REDACTED")
				}
			})
		}
	}
}

func TestNewErrorDoesNotQuoteURL(t *testing.T) {
	_, err := New(Config{URL: "http://gw/%zz?password=" + canary})
	require.Error(t, err)
	assertErrorClean(t, err)
	_, err = New(Config{URL: "http://gw/?password=" + canary + "&%zz"})
	require.Error(t, err)
	assertErrorClean(t, err)
}

func TestURLUserInfoRedacted(t *testing.T) {
	srv := newCounter(t, echo(403))
	u := strings.Replace(srv.URL, "http://", "http://user:"+url.PathEscape(canary)+"@", 1)
	p := newProvider(t, Config{URL: u}, nil)
	rc, err := p.Send(context.Background(), testMsg)
	require.Error(t, err)
	assertErrorClean(t, err)
	assertNoCanary(t, "Receipt.URL", rc.URL)
}

// Every form in which a request carries a secret, headers and the basic
// authentication that net/http makes of the URL's user info included, is
// one the Redactor masks.
func TestRedactorCoversTheWire(t *testing.T) {
	for name, cfg := range map[string]Config{
		"basic auth":    {URL: "http://gw/send", Username: "user", Password: canary},
		"url user info": {URL: "http://user:" + url.PathEscape(canary) + "@gw/send"},
		"header":        {URL: "http://gw/send", Headers: map[string]string{"X-Api-Key": canary}},
		"bearer":        {URL: "http://gw/send", Headers: map[string]string{"authorization": "Bearer " + canary}},
		"param":         {URL: "http://gw/send", Params: url.Values{"password": {canary}}},
		"post param":    {URL: "http://gw/send?api_id=" + url.QueryEscape(canary), Method: "POST", Params: url.Values{"token": {canary}}},
		"twilio":        Twilio("user", canary),
		"vonage":        Vonage("abcd1234", canary),
	} {
		t.Run(name, func(t *testing.T) {
			s, err := cfg.settings()
			require.NoError(t, err)
			req, _, err := s.newRequest(context.Background(), testMsg)
			require.NoError(t, err)
			wire := []string{req.URL.String(), req.URL.RawQuery}
			for _, vs := range req.Header {
				wire = append(wire, vs...)
			}
			if u := req.URL.User; u != nil {
				// What http.Client.Do adds for it.
				c := &http.Request{Header: http.Header{}}
				p, _ := u.Password()
				c.SetBasicAuth(u.Username(), p)
				wire = append(wire, c.Header.Get("Authorization"))
			}
			if req.Method == http.MethodPost {
				b, err := req.BodyBytes()
				require.NoError(t, err)
				wire = append(wire, string(b))
			}
			for _, w := range wire {
				assertNoCanary(t, "redacted "+w, s.redactor.String(w))
			}
		})
	}
}

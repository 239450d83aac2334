package sms

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// queryReporter is a DeliveryReporter whose gateway reports with a "status"
// query parameter; it records the report URLs it was asked to parse for.
type queryReporter struct {
	fakeProvider
	mu   sync.Mutex
	urls []string
}

func (q *queryReporter) DeliveryReports() bool { return true }

func (q *queryReporter) ParseDelivery(r *http.Request, reportURL string) (DeliveryReport, error) {
	q.mu.Lock()
	q.urls = append(q.urls, reportURL)
	q.mu.Unlock()
	st := DeliveryStatus(r.URL.Query().Get("status"))
	switch st {
	case DeliveryAccepted, DeliveryDelivered:
		return DeliveryReport{Status: st, Code: "c"}, nil
	}
	return DeliveryReport{}, errors.New("unknown status")
}

var testSecret = []byte("0123456789abcdef-test-secret")

// reportServer serves a DeliveryHandler for p; got collects the reports.
func reportServer(t *testing.T, p DeliveryReporter, deliver func(DeliveryReport) error) (*DeliveryHandler, *httptest.Server) {
	t.Helper()
	srv := httptest.NewUnstartedServer(nil)
	base := "http://" + srv.Listener.Addr().String() + "/dlr?site=a"
	h, err := NewDeliveryHandler(p, testSecret, base, func(_ context.Context, r DeliveryReport) error { return deliver(r) })
	require.NoError(t, err)
	srv.Config.Handler = h
	srv.Start()
	t.Cleanup(srv.Close)
	return h, srv
}

func get(t *testing.T, u string) int {
	t.Helper()
	resp, err := http.Get(u)
	require.NoError(t, err)
	resp.Body.Close()
	return resp.StatusCode
}

func TestDeliveryHandler(t *testing.T) {
	var mu sync.Mutex
	var got []DeliveryReport
	fail := false
	p := &queryReporter{}
	h, _ := reportServer(t, p, func(r DeliveryReport) error {
		mu.Lock()
		defer mu.Unlock()
		if fail {
			return errors.New("database down")
		}
		got = append(got, r)
		return nil
	})
	u := h.URL("task-1/7")
	assert.True(t, strings.HasPrefix(u, "http://"), u)
	assert.Contains(t, u, "/dlr?site=a&"+ReportQueryParam+"=", "the base URL's query is kept")
	assert.Equal(t, u, h.URL("task-1/7"), "the URL is stable")
	other := h.URL("task-1/8")

	assert.Equal(t, http.StatusOK, get(t, u+"&status=delivered"))
	mu.Lock()
	require.Len(t, got, 1)
	mu.Unlock()
	assert.Equal(t, DeliveryReport{MessageID: "task-1/7", Status: DeliveryDelivered, Code: "c"}, got[0])
	assert.Equal(t, []string{u}, p.urls, "the provider is told the URL it was given")

	// Forged: no token, a token of another key, another message's code.
	tok := func(s string) string { q, _ := url.Parse(s); return q.Query().Get(ReportQueryParam) }
	idOf := func(s string) string { a, _, _ := strings.Cut(tok(s), "."); return a }
	macOf := func(s string) string { _, b, _ := strings.Cut(tok(s), "."); return b }
	base := strings.SplitN(u, "&"+ReportQueryParam, 2)[0]
	otherKey, err := NewDeliveryHandler(p, []byte("another secret, 16 bytes+"), base, func(context.Context, DeliveryReport) error { return nil })
	require.NoError(t, err)
	for name, forged := range map[string]string{
		"missing":                base + "&status=delivered",
		"empty":                  base + "&" + ReportQueryParam + "=&status=delivered",
		"no code":                base + "&" + ReportQueryParam + "=" + idOf(u) + "&status=delivered",
		"another key":            otherKey.URL("task-1/7") + "&status=delivered",
		"another message's code": base + "&" + ReportQueryParam + "=" + idOf(u) + "." + macOf(other) + "&status=delivered",
		"bad base64":             base + "&" + ReportQueryParam + "=!!." + macOf(u) + "&status=delivered",
	} {
		assert.Equal(t, http.StatusForbidden, get(t, forged), name)
	}
	assert.Equal(t, http.StatusBadRequest, get(t, u+"&status=nonsense"), "malformed")
	assert.Len(t, got, 1, "refused callbacks reach nothing")
	assert.Len(t, p.urls, 2, "forged callbacks are not even parsed")

	setFail := func(v bool) { mu.Lock(); fail = v; mu.Unlock() }
	setFail(true)
	assert.Equal(t, http.StatusInternalServerError, get(t, other+"&status=accepted"), "a failed store asks the gateway to retry")
	setFail(false)
	assert.Equal(t, http.StatusOK, get(t, other+"&status=accepted"))
	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, "task-1/8", got[1].MessageID)
}

func TestNewDeliveryHandlerRefuses(t *testing.T) {
	p := &queryReporter{}
	ok := func(context.Context, DeliveryReport) error { return nil }
	for name, f := range map[string]func() (*DeliveryHandler, error){
		"short secret": func() (*DeliveryHandler, error) {
			return NewDeliveryHandler(p, []byte("short"), "https://x.example/r", ok)
		},
		"relative URL": func() (*DeliveryHandler, error) { return NewDeliveryHandler(p, testSecret, "/r", ok) },
		"ftp URL":      func() (*DeliveryHandler, error) { return NewDeliveryHandler(p, testSecret, "ftp://x.example/r", ok) },
		"nil deliver":  func() (*DeliveryHandler, error) { return NewDeliveryHandler(p, testSecret, "https://x.example/r", nil) },
		"not reporting": func() (*DeliveryHandler, error) {
			return NewDeliveryHandler(silentReporter{p}, testSecret, "https://x.example/r", ok)
		},
		"fragment": func() (*DeliveryHandler, error) {
			return NewDeliveryHandler(p, testSecret, "https://x.example/r#f", ok)
		},
		"nil provider": func() (*DeliveryHandler, error) {
			return NewDeliveryHandler(nil, testSecret, "https://x.example/r", ok)
		},
		"unparsable URL": func() (*DeliveryHandler, error) {
			return NewDeliveryHandler(p, testSecret, "https://x.example/%zz", ok)
		},
	} {
		h, err := f()
		assert.Error(t, err, name)
		assert.Nil(t, h, name)
	}
}

type silentReporter struct{ *queryReporter }

func (silentReporter) DeliveryReports() bool { return false }

func TestDeliveryStatusReplaces(t *testing.T) {
	all := []DeliveryStatus{DeliveryAccepted, DeliveryBuffered, DeliveryDelivered, DeliveryUndelivered, DeliveryExpired, DeliveryRejected, DeliveryUnknown}
	for _, prev := range append(all, "") {
		for _, next := range all {
			assert.Equal(t, !prev.Final(), next.Replaces(prev), "%q after %q", next, prev)
		}
	}
	for _, s := range all {
		assert.True(t, s.Known(), s)
	}
	assert.False(t, DeliveryStatus("pending").Known())
	assert.False(t, DeliveryStatus("").Known())
	assert.False(t, DeliveryAccepted.Final())
	assert.False(t, DeliveryBuffered.Final())
	assert.True(t, DeliveryExpired.Final())
	// Either order of an intermediate and a final report ends final.
	end := func(seq ...DeliveryStatus) DeliveryStatus {
		var cur DeliveryStatus
		for _, s := range seq {
			if s.Replaces(cur) {
				cur = s
			}
		}
		return cur
	}
	assert.Equal(t, DeliveryDelivered, end(DeliveryAccepted, DeliveryDelivered))
	assert.Equal(t, DeliveryDelivered, end(DeliveryDelivered, DeliveryAccepted))
	assert.Equal(t, DeliveryDelivered, end(DeliveryDelivered, DeliveryExpired, DeliveryDelivered))
}

func TestClientSetsReportURL(t *testing.T) {
	p := &queryReporter{fakeProvider: fakeProvider{script: func(int, Message) (Receipt, error) { return Receipt{}, nil }}}
	h, err := NewDeliveryHandler(p, testSecret, "https://hooks.example/dlr", func(context.Context, DeliveryReport) error { return nil })
	require.NoError(t, err)
	c, err := New(p, WithDeliveryReports(h))
	require.NoError(t, err)
	defer c.Close()
	ctx := context.Background()
	_, err = c.Send(ctx, Message{To: testNumber, Text: "hi", ID: "a"})
	require.NoError(t, err)
	_, err = c.Send(ctx, Message{To: testNumber, Text: "no ID"})
	require.NoError(t, err)
	_, err = c.Send(ctx, Message{To: testNumber, Text: "own URL", ID: "b", ReportURL: "https://mine.example/"})
	require.NoError(t, err)
	_, err = c.Mailing(ctx, Mailing{To: []string{testNumber, "+4915112345679"}, Text: "all", ID: "m"})
	require.NoError(t, err)

	p.mu.Lock()
	defer p.mu.Unlock()
	byText := map[string][]string{}
	for _, m := range p.calls {
		byText[m.Text] = append(byText[m.Text], m.ReportURL)
	}
	assert.Equal(t, []string{h.URL("a")}, byText["hi"])
	assert.Equal(t, []string{""}, byText["no ID"])
	assert.Equal(t, []string{"https://mine.example/"}, byText["own URL"])
	assert.ElementsMatch(t, []string{h.URL("m/0"), h.URL("m/1")}, byText["all"])
}

func FuzzDeliveryToken(f *testing.F) {
	h, err := NewDeliveryHandler(&queryReporter{}, testSecret, "https://x.example/r", func(context.Context, DeliveryReport) error { return nil })
	if err != nil {
		f.Fatal(err)
	}
	for _, id := range []string{"a", "task/1", "", "ü/%F"} {
		f.Add(h.URL(id)[len("https://x.example/r?"):], id)
	}
	f.Fuzz(func(t *testing.T, query, id string) {
		r := httptest.NewRequest(http.MethodGet, "https://x.example/r", nil)
		r.URL.RawQuery = query
		got, ok := h.messageID(r)
		if ok && h.URL(got) != "https://x.example/r?"+ReportQueryParam+"="+r.URL.Query().Get(ReportQueryParam) {
			t.Fatalf("token for %q accepted for %q", query, got)
		}
		r.URL.RawQuery = h.URL(id)[len("https://x.example/r?"):]
		if back, ok := h.messageID(r); !ok || back != id {
			t.Fatalf("own URL for %q not accepted (%q, %v)", id, back, ok)
		}
	})
}

// ackingReporter wants its reports answered with a body.
type ackingReporter struct{ *queryReporter }

func (ackingReporter) DeliveryAck() string { return "ACK/Jasmin" }

func TestDeliveryHandlerAck(t *testing.T) {
	for _, tc := range []struct {
		p    DeliveryReporter
		want string
	}{{ackingReporter{&queryReporter{}}, "ACK/Jasmin"}, {&queryReporter{}, ""}} {
		h, srv := reportServer(t, tc.p, func(DeliveryReport) error { return nil })
		resp, err := http.Get(h.URL("m1") + "&status=delivered")
		require.NoError(t, err)
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		assert.Equal(t, http.StatusOK, resp.StatusCode)
		assert.Equal(t, tc.want, string(b))
		srv.Close()
	}
}

package kanneltest

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// send makes one sendsms GET request with plain net/http and returns the
// status and body.
func send(t testing.TB, g *Gateway, params url.Values) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, g.SendSMSURL+"?"+params.Encode(), nil)
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(body)
}

func params(g *Gateway, to, text string, extra ...string) url.Values {
	v := url.Values{"username": {g.Username}, "password": {g.Password}, "to": {to}, "text": {text}}
	for i := 0; i+1 < len(extra); i += 2 {
		v.Set(extra[i], extra[i+1])
	}
	return v
}

func longGSM(n int) string {
	var b strings.Builder
	for i := 0; b.Len() < n; i++ {
		fmt.Fprintf(&b, "%02d:xxxxxx ", i%100)
	}
	return b.String()[:n]
}

// TestGateway shares one gateway between the cases that do not disturb it.
func TestGateway(t *testing.T) {
	g := Start(t)
	t.Logf("startup took %v", g.StartupTime)

	t.Run("plain text", func(t *testing.T) {
		status, body := send(t, g, params(g, "4912345", "Hello world", "from", "ACME"))
		assert.Equal(t, http.StatusAccepted, status)
		assert.Equal(t, "0: Accepted for delivery", body)
		got := g.ReceivedFor(t, "4912345", 1)
		assert.Equal(t, Message{Seq: got[0].Seq, From: "ACME", To: "4912345", Coding: CodingText,
			Text: "Hello world", Payload: []byte("Hello world")}, got[0])
	})
	t.Run("default sender", func(t *testing.T) {
		status, _ := send(t, g, params(g, "4912346", "no from"))
		assert.Equal(t, http.StatusAccepted, status)
		assert.Equal(t, DefaultSender, g.ReceivedFor(t, "4912346", 1)[0].From)
	})
	t.Run("Cyrillic as UCS-2", func(t *testing.T) {
		status, _ := send(t, g, params(g, "4911111", "Привет, мир!", "coding", "2", "charset", "UTF-8"))
		assert.Equal(t, http.StatusAccepted, status)
		got := g.ReceivedFor(t, "4911111", 1)
		assert.Equal(t, CodingUCS2, got[0].Coding)
		assert.Equal(t, "Привет, мир!", got[0].Text)
	})
	t.Run("300 GSM characters in two parts", func(t *testing.T) {
		text := longGSM(300)
		status, _ := send(t, g, params(g, "4966666", text))
		assert.Equal(t, http.StatusAccepted, status)
		got := g.ReceivedFor(t, "4966666", 2)
		require.Len(t, got, 2)
		assert.Equal(t, []int{2, 2}, []int{got[0].Total, got[1].Total})
		assert.ElementsMatch(t, []int{1, 2}, []int{got[0].Part, got[1].Part})
		whole := Assemble(got)
		require.Len(t, whole, 1)
		assert.Equal(t, text, whole[0].Text)
		assert.Equal(t, CodingText, whole[0].Coding)
	})
	t.Run("long Cyrillic in UCS-2 parts", func(t *testing.T) {
		text := strings.Repeat("Съешь же ещё этих мягких булок 😀 ", 5)
		status, _ := send(t, g, params(g, "4988888", text, "coding", "2", "charset", "UTF-8"))
		assert.Equal(t, http.StatusAccepted, status)
		got := g.ReceivedFor(t, "4988888", 3)
		whole := Assemble(got)
		require.Len(t, whole, 1)
		assert.Equal(t, CodingUCS2, whole[0].Coding)
		assert.Equal(t, text, whole[0].Text)
	})
	t.Run("single account truncates", func(t *testing.T) {
		v := params(g, "4977777", longGSM(300))
		v.Set("username", g.SingleUsername)
		v.Set("password", g.SinglePassword)
		status, _ := send(t, g, v)
		assert.Equal(t, http.StatusAccepted, status)
		got := g.ReceivedFor(t, "4977777", 1)
		assert.Equal(t, longGSM(160), got[0].Text)
		assert.Zero(t, got[0].Total)
	})
	t.Run("newline in text", func(t *testing.T) {
		status, _ := send(t, g, params(g, "4955555", "line1\nline2"))
		assert.Equal(t, http.StatusAccepted, status)
		assert.Equal(t, "line1\nline2", g.ReceivedFor(t, "4955555", 1)[0].Text)
	})

	rejections := []struct {
		name   string
		params url.Values
		status int
		body   string
	}{
		{"wrong password", url.Values{"username": {g.Username}, "password": {"WRONG"}, "to": {"4912345"}, "text": {"x"}},
			http.StatusForbidden, "Authorization failed for sendsms"},
		{"not routable", params(g, DeniedPrefix+"123", "x"), http.StatusForbidden, "Not routable. Do not try again."},
		{"black-listed", params(g, BlackListedPrefix+"123", "x"), http.StatusBadRequest,
			"Number(s) has/have been denied by white- and/or black-lists."},
	}
	for _, tt := range rejections {
		t.Run(tt.name, func(t *testing.T) {
			status, body := send(t, g, tt.params)
			assert.Equal(t, tt.status, status)
			assert.Equal(t, tt.body, body)
		})
	}
	t.Run("nothing rejected arrived", func(t *testing.T) {
		for _, m := range g.Received() {
			assert.NotContains(t, []string{"4912345x", DeniedPrefix + "123", BlackListedPrefix + "123"}, m.To)
		}
	})
}

func TestSMSCOutage(t *testing.T) {
	tests := []struct {
		name string
		opts []Option
	}{
		{"default queue limit", nil},
		{"queue limit 3", []Option{WithQueueLimit(3)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := Start(t, tt.opts...)
			g.StopSMSC(t)
			g.StopSMSC(t) // idempotent

			var want []string
			for i := 1; i <= g.QueueLimit; i++ {
				to := fmt.Sprintf("4973%04d", i)
				status, body := send(t, g, params(g, to, "queued"))
				require.Equal(t, http.StatusAccepted, status, "send %d", i)
				require.Equal(t, "3: Queued for later delivery", body, "send %d", i)
				want = append(want, to)
			}
			status, body := send(t, g, params(g, "4979999", "one too many"))
			assert.Equal(t, http.StatusServiceUnavailable, status)
			assert.Equal(t, "Temporal failure, try again later.", body)
			assert.Empty(t, g.Received())

			g.StartSMSC(t)
			g.StartSMSC(t) // idempotent
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			got, err := g.WaitReceived(ctx, g.QueueLimit)
			require.NoError(t, err)
			var tos []string
			for _, m := range got {
				tos = append(tos, m.To)
			}
			assert.ElementsMatch(t, want, tos)

			status, body = send(t, g, params(g, "4974000", "after the outage"))
			assert.Equal(t, http.StatusAccepted, status)
			assert.Equal(t, "0: Accepted for delivery", body)
			assert.Equal(t, "after the outage", g.ReceivedFor(t, "4974000", 1)[0].Text)
		})
	}
}

// TestDLRCallbackRetried checks that smsbox fetches a delivery report's
// callback again after the receiver failed it: the first "delivered"
// report is answered 503, and the same report must come once more.
func TestDLRCallbackRetried(t *testing.T) {
	g := Start(t)
	reports := make(chan url.Values, 16)
	var mu sync.Mutex
	failed := false
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		reports <- q
		mu.Lock()
		defer mu.Unlock()
		if q.Get("type") == "1" && !failed {
			failed = true
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()

	status, _ := send(t, g, params(g, "4970001", "report me",
		"dlr-mask", "31", "dlr-url", srv.URL+"/dlr?msg=a1&type=%d&fid=%F&ts=%T"))
	require.Equal(t, http.StatusAccepted, status)

	var delivered []url.Values
	types := map[string]int{}
	timeout := time.After(time.Duration(DLRRetries) * DLRRetryDelay / 4)
	for len(delivered) < 2 {
		select {
		case q := <-reports:
			types[q.Get("type")]++
			if q.Get("type") == "1" {
				delivered = append(delivered, q)
			}
		case <-timeout:
			t.Fatalf("reports by type: %v; want type 1 twice (failed, then fetched again)", types)
		}
	}
	assert.Equal(t, "a1", delivered[0].Get("msg"))
	assert.Equal(t, delivered[0], delivered[1], "the same report, fetched again")
	assert.NotEmpty(t, delivered[0].Get("fid"), "a type-1 report carries the SMSC's message ID")
}

func TestWaitReceivedHonoursContext(t *testing.T) {
	g := Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	got, err := g.WaitReceived(ctx, 1)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Empty(t, got)
}

// fakeTB records Skipf and Fatalf; like testing, both end the goroutine.
type fakeTB struct {
	testing.TB
	skipped, failed string
}

func (f *fakeTB) Helper() {}

func (f *fakeTB) Skipf(format string, args ...any) {
	f.skipped = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

func (f *fakeTB) Fatalf(format string, args ...any) {
	f.failed = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

func TestStartWithoutKannel(t *testing.T) {
	noKannel := func(c *config) { c.bins.bearerbox = "/nonexistent/bearerbox" }
	tests := []struct {
		name     string
		env      string
		wantSkip bool
	}{
		{"skips by default", "", true},
		{"skips unless exactly 1", "yes", true},
		{"fails when required", "1", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(RequireEnv, tt.env)
			f := &fakeTB{TB: t}
			done := make(chan struct{})
			go func() {
				defer close(done)
				Start(f, noKannel)
				t.Error("Start returned without Kannel")
			}()
			<-done
			if tt.wantSkip {
				assert.Contains(t, f.skipped, "/nonexistent/bearerbox is missing")
				assert.Empty(t, f.failed)
			} else {
				assert.Contains(t, f.failed, "/nonexistent/bearerbox is missing")
				assert.Empty(t, f.skipped)
			}
		})
	}
}

// TestStartRetriesTakenPort hands the first attempt a sendsms port that
// another listener holds: smsbox cannot bind it, and Start must succeed on
// fresh ports.
func TestStartRetriesTakenPort(t *testing.T) {
	held, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer held.Close()
	heldPort := held.Addr().(*net.TCPAddr).Port
	calls := 0
	g := Start(t, func(c *config) {
		c.pickPorts = func() (ports, error) {
			calls++
			p, err := freePorts()
			if calls == 1 {
				p.sendsms = heldPort
			}
			return p, err
		}
	})
	// The first attempt fails on the held port; the next ones may also
	// meet a port that another test took in the meantime.
	assert.GreaterOrEqual(t, calls, 2)
	assert.NotContains(t, g.SendSMSURL, ":"+strconv.Itoa(heldPort)+"/")
	status, _ := send(t, g, params(g, "4912345", "second attempt"))
	assert.Equal(t, http.StatusAccepted, status)
}

// TestStopLeavesNothing checks that the processes are gone after Cleanup and
// that the gateway stayed inside its directory.
func TestStopLeavesNothing(t *testing.T) {
	var g *Gateway
	t.Run("run", func(t *testing.T) {
		g = Start(t)
		status, _ := send(t, g, params(g, "4912345", "bye"))
		assert.Equal(t, http.StatusAccepted, status)
	})
	if g == nil || t.Skipped() {
		return
	}
	for _, p := range []*process{g.bearerbox, g.smsbox, g.fakesmsc} {
		assert.True(t, p.exited(), "%s still running", p.name)
		_, err := os.Stat(filepath.Join("/proc", fmt.Sprint(p.cmd.Process.Pid)))
		assert.ErrorIs(t, err, os.ErrNotExist, "%s still has a /proc entry", p.name)
	}
	assert.False(t, listening(g.ports.sendsms), "sendsms port still open")
	_, err := os.Stat(g.Dir)
	assert.ErrorIs(t, err, os.ErrNotExist, "TempDir not removed")
}

// TestMailing1000 checks that the configuration lets a 1,000-message
// mailing through without a single 503, with 16 concurrent senders.
func TestMailing1000(t *testing.T) {
	if testing.Short() {
		t.Skip("1,000 sends; skipped with -short")
	}
	g := Start(t)
	const n, workers = 1000, 16
	errs := sendMany(t, g, n, workers)
	assert.Empty(t, errs)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	got, err := g.WaitReceived(ctx, n)
	require.NoError(t, err)
	seen := map[string]bool{}
	for _, m := range got {
		seen[m.To] = true
	}
	assert.Len(t, seen, n)
}

// sendMany sends n messages to distinct receivers with the given number of
// concurrent workers and returns the failures.
func sendMany(t testing.TB, g *Gateway, n, workers int) []string {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: workers}}
	defer client.CloseIdleConnections()
	jobs := make(chan int)
	var (
		mu   sync.Mutex
		errs []string
		wg   sync.WaitGroup
	)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				v := params(g, fmt.Sprintf("49100%05d", i), fmt.Sprintf("mailing %d", i))
				resp, err := client.Get(g.SendSMSURL + "?" + v.Encode())
				if err != nil {
					mu.Lock()
					errs = append(errs, err.Error())
					mu.Unlock()
					continue
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusAccepted {
					mu.Lock()
					errs = append(errs, fmt.Sprintf("%d %s", resp.StatusCode, body))
					mu.Unlock()
				}
			}
		}()
	}
	for i := 0; i < n; i++ {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	return errs
}

// BenchmarkStart measures starting a gateway until it is ready, and
// stopping it (reported separately as stop-ns/op).
func BenchmarkStart(b *testing.B) {
	c := defaultConfig()
	if reason := c.bins.missing(); reason != "" {
		b.Skip(reason)
	}
	var stopping time.Duration
	for i := 0; i < b.N; i++ {
		g, err := start(b.TempDir(), c)
		if err != nil {
			b.Fatal(err)
		}
		t0 := time.Now()
		g.stop()
		stopping += time.Since(t0)
	}
	b.ReportMetric(float64(stopping.Nanoseconds())/float64(b.N), "stop-ns/op")
}

// BenchmarkSend measures one sendsms request until the fake SMSC has the
// message, sequentially and with 16 concurrent senders.
func BenchmarkSend(b *testing.B) {
	g := Start(b)
	for _, workers := range []int{1, 16} {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) {
			before := len(g.Received())
			b.ResetTimer()
			if errs := sendMany(b, g, b.N, workers); len(errs) > 0 {
				b.Fatalf("%d failures, first: %s", len(errs), errs[0])
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			if _, err := g.WaitReceived(ctx, before+b.N); err != nil {
				b.Fatal(err)
			}
		})
	}
}

package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/smsgateway/sms"
	"github.com/smsgateway/sms/internal/gateway/pgtest"
	"github.com/smsgateway/sms/internal/gateway/store"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// testTypes returns Options.Types with the type "test", whose providers are
// the ones given, by configured name.
func testTypes(providers map[string]sms.Provider) map[string]ProviderFactory {
	return map[string]ProviderFactory{"test": func(env ProviderEnv, _ json.RawMessage) (sms.Provider, error) {
		p, ok := providers[env.Name]
		if !ok {
			return nil, fmt.Errorf("no test provider %q", env.Name)
		}
		return p, nil
	}}
}

// scriptProvider is a Provider for tests: it fails the numbers it is told
// to with the given kind, waits delay per call, and counts calls per number.
type scriptProvider struct {
	fail  map[string]sms.Kind
	delay time.Duration
	// onSend, when set, is called at the start of every Send.
	onSend func()
	mu     sync.Mutex
	calls  map[string]int
}

func (p *scriptProvider) Send(ctx context.Context, msg sms.Message) (sms.Receipt, error) {
	if p.onSend != nil {
		p.onSend()
	}
	p.mu.Lock()
	if p.calls == nil {
		p.calls = make(map[string]int)
	}
	p.calls[msg.To]++
	p.mu.Unlock()
	if p.delay > 0 {
		select {
		case <-time.After(p.delay):
		case <-ctx.Done():
			return sms.Receipt{}, &sms.Error{Kind: sms.KindTemporary, Err: ctx.Err()}
		}
	}
	rc := sms.Receipt{StatusCode: 200, URL: "https://gateway.test/send?to=" + url.QueryEscape(msg.To), MessageID: "id-" + msg.To}
	if k, ok := p.fail[msg.To]; ok {
		rc.StatusCode = 400
		return rc, &sms.Error{Kind: k, Code: "400", Err: fmt.Errorf("scripted %v", k)}
	}
	return rc, nil
}

func (p *scriptProvider) callsTo(number string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.calls[number]
}

// testProvider returns a configuration with one provider of type "test",
// p, named name, and the defaults and quick timings of testConfig.
func testProvider(name string, p sms.Provider) (*Config, map[string]ProviderFactory) {
	return testConfig(map[string]ProviderConfig{name: {Type: "test"}}), testTypes(map[string]sms.Provider{name: p})
}

func backends(t *testing.T) []string { return pgtest.Backends(t) }

// testConfig returns a configuration with the defaults and quick timings.
func testConfig(providers map[string]ProviderConfig) *Config {
	return &Config{
		Providers:       providers,
		SendTimeout:     sms.Duration(5 * time.Second),
		Retry:           sms.RetryPolicy{BaseDelay: 10 * time.Millisecond, MaxDelay: 20 * time.Millisecond},
		ShutdownTimeout: sms.Duration(5 * time.Second),
	}
}

type testService struct {
	svc *Service
	srv *httptest.Server
	key string
}

// startService runs a Service on backend with cfg (and the provider types
// of types, which may be nil) behind an httptest server; both stop at the
// end of the test.
func startService(t testing.TB, backend string, cfg *Config, types map[string]ProviderFactory) *testService {
	t.Helper()
	ts := newService(t, backend, cfg, types)
	require.NoError(t, ts.svc.Start(context.Background()))
	return ts
}

// newService is startService without Start: nothing is sent until the
// test calls ts.svc.Start.
func newService(t testing.TB, backend string, cfg *Config, types map[string]ProviderFactory) *testService {
	t.Helper()
	require.NoError(t, cfg.setDefaults())
	o := Options{Config: cfg, DataDir: t.TempDir(), Logger: slog.New(slog.DiscardHandler), Types: types}
	if backend == "postgres" {
		o.DatabaseURL = pgtest.SchemaURL(t)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	svc, err := New(ctx, o)
	require.NoError(t, err)
	srv := httptest.NewServer(svc.Handler())
	t.Cleanup(func() { closeService(t, svc, srv) })
	ts := &testService{svc: svc, srv: srv}
	if len(cfg.APIKeys) > 0 {
		ts.key = cfg.APIKeys[0]
	}
	return ts
}

// do sends a request and decodes a JSON answer into out (when not nil).
func (ts *testService) do(t require.TestingT, method, path string, body string, out any) int {
	if h, ok := t.(interface{ Helper() }); ok {
		h.Helper()
	}
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, ts.srv.URL+path, r)
	require.NoError(t, err)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if ts.key != "" {
		req.Header.Set("Authorization", "Bearer "+ts.key)
	}
	resp, err := ts.srv.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	if out != nil {
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.UseNumber()
		require.NoError(t, dec.Decode(out), "body: %s", b)
	}
	return resp.StatusCode
}

// answer is a task answer as a client decodes it.
type answer struct {
	TaskID     string          `json:"task_id"`
	TaskStatus string          `json:"task_status"`
	TaskResult json.RawMessage `json:"task_result"`
	Progress   *progress       `json:"progress"`
}

func (a answer) single(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(a.TaskResult))
	dec.UseNumber()
	require.NoError(t, dec.Decode(&m), "task_result: %s", a.TaskResult)
	return m
}

func (a answer) list(t *testing.T) []map[string]any {
	t.Helper()
	var m []map[string]any
	dec := json.NewDecoder(bytes.NewReader(a.TaskResult))
	dec.UseNumber()
	require.NoError(t, dec.Decode(&m), "task_result: %s", a.TaskResult)
	return m
}

// awaitTask polls GET /tasks/{id} until the task is SUCCESS or FAILURE.
func (ts *testService) awaitTask(t *testing.T, id string) answer {
	t.Helper()
	var a answer
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		a = answer{}
		assert.Equal(c, http.StatusOK, ts.do(c, "GET", "/tasks/"+id, "", &a))
		assert.True(c, store.Final(a.TaskStatus), "task status %s", a.TaskStatus)
	}, 20*time.Second, 50*time.Millisecond)
	return a
}

type messagesPage struct {
	Messages   []store.Message `json:"messages"`
	NextCursor string          `json:"next_cursor"`
}

// allPages reads the message log page by page (limit per page) and
// returns the pages.
func (ts *testService) allPages(t *testing.T, limit int) []messagesPage {
	t.Helper()
	var pages []messagesPage
	cursor := ""
	for {
		var p messagesPage
		path := fmt.Sprintf("/messages?limit=%d", limit)
		if cursor != "" {
			path += "&cursor=" + cursor
		}
		require.Equal(t, http.StatusOK, ts.do(t, "GET", path, "", &p))
		pages = append(pages, p)
		if p.NextCursor == "" {
			return pages
		}
		cursor = p.NextCursor
	}
}

// messageCount counts every row of the message log.
func (ts *testService) messageCount(t *testing.T) int {
	n := 0
	for _, p := range ts.allPages(t, 1000) {
		n += len(p.Messages)
	}
	return n
}

// lockedBuffer collects log output from several goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// newTestLogger logs everything, debug included, as JSON into w.
func newTestLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// testLogger discards the service's logs.
func testLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// openService starts a Service with o behind an httptest server; the test
// stops both with closeService.
func openService(t testing.TB, o Options) (*Service, *httptest.Server) {
	t.Helper()
	svc, err := New(context.Background(), o)
	require.NoError(t, err)
	require.NoError(t, svc.Start(context.Background()))
	return svc, httptest.NewServer(svc.Handler())
}

// closeService stops what openService started.
func closeService(t testing.TB, svc *Service, srv *httptest.Server) {
	t.Helper()
	svc.Drain()
	srv.Close()
	require.NoError(t, svc.Shutdown(context.Background()))
}

// redisURL returns SMS_TEST_REDIS_URL, skipping the test without it, unless
// SMS_REQUIRE_REDIS=1, which makes it fail (as in CI).
func redisURL(t testing.TB) string {
	t.Helper()
	u := os.Getenv("SMS_TEST_REDIS_URL")
	if u == "" {
		if os.Getenv("SMS_REQUIRE_REDIS") == "1" {
			t.Fatal("SMS_REQUIRE_REDIS=1 but SMS_TEST_REDIS_URL is not set")
		}
		t.Skip("SMS_TEST_REDIS_URL is not set")
	}
	return u
}

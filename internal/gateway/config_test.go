package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/smsgateway/sms/internal/gateway/store"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func writeFile(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "config.json")
	require.NoError(t, os.WriteFile(p, []byte(content), 0o600))
	return p
}

func TestLoadConfig(t *testing.T) {
	t.Run("no file means one log provider and the defaults", func(t *testing.T) {
		t.Setenv("SMSGATEWAY_API_KEYS", "")
		cfg, err := LoadConfig("")
		require.NoError(t, err)
		assert.Equal(t, map[string]ProviderConfig{"log": {Type: "log"}}, cfg.Providers)
		assert.Equal(t, 30*time.Second, time.Duration(cfg.SendTimeout))
		assert.Equal(t, 3*time.Second, time.Duration(cfg.DefaultWait))
		assert.Empty(t, cfg.APIKeys)
	})
	t.Run("a full file", func(t *testing.T) {
		t.Setenv("SMSGATEWAY_API_KEYS", " env-key ,")
		cfg, err := LoadConfig(writeFile(t, `{
			"api_keys": ["file-key"],
			"send_timeout": 5,
			"default_wait": "1s",
			"providers": {
				"Google": {"type": "mock", "rate_limit": 500, "options": {"latency": "10ms", "fail": {"88005553535": "rejected"}}},
				"Yandex": {"type": "log"},
				"both": {"type": "failover", "options": {"vendors": ["Google", "Yandex"]}},
				"by-country": {"type": "routing", "options": {"routes": {"+7": "Yandex"}, "default": "Google"}}
			}}`))
		require.NoError(t, err)
		assert.Equal(t, []string{"file-key", "env-key"}, cfg.APIKeys)
		assert.Equal(t, 5*time.Second, time.Duration(cfg.SendTimeout))
		assert.Equal(t, time.Second, time.Duration(cfg.DefaultWait))
		assert.Equal(t, []string{"Google", "Yandex", "both", "by-country"}, cfg.names())
		ps, err := buildProviders(cfg, builtinTypes, nopStore{}, &rateLimits{}, nil, newMetrics(nopStore{}).hooks, slog.New(slog.DiscardHandler))
		require.NoError(t, err)
		require.Len(t, ps, 4)
		require.NoError(t, closeProviders(ps))
	})
	for _, tc := range []struct{ name, file string }{
		{"unknown field", `{"sned_timeout": "1s"}`},
		{"bad duration", `{"send_timeout": "soon"}`},
		{"default wait above max", `{"default_wait": "1m", "max_wait": "10s"}`},
		{"negative rate", `{"providers": {"x": {"type": "log", "rate_limit": -1}}}`},
		{"not JSON", `providers: x`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := LoadConfig(writeFile(t, tc.file))
			assert.Error(t, err)
		})
	}
	t.Run("missing file", func(t *testing.T) {
		_, err := LoadConfig(filepath.Join(t.TempDir(), "none.json"))
		assert.ErrorIs(t, err, os.ErrNotExist)
	})
}

func TestBuildProvidersErrors(t *testing.T) {
	for _, tc := range []struct {
		name      string
		providers string
	}{
		{"unknown type", `{"x": {"type": "carrier-pigeon"}}`},
		{"unknown option", `{"a": {"type": "log", "options": {"dealy": "1s"}}}`},
		{"unknown vendor", `{"a": {"type": "failover", "options": {"vendors": ["nobody"]}}}`},
		{"cycle", `{"a": {"type": "failover", "options": {"vendors": ["b"]}}, "b": {"type": "failover", "options": {"vendors": ["a"]}}}`},
		{"no vendors", `{"a": {"type": "failover", "options": {"vendors": []}}}`},
		{"unknown kind", `{"a": {"type": "mock", "options": {"fail": {"88005553535": "lost"}}}}`},
		{"bad route", `{"a": {"type": "log"}, "r": {"type": "routing", "options": {"routes": {"x1": "a"}}}}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := &Config{}
			require.NoError(t, json.Unmarshal([]byte(tc.providers), &cfg.Providers))
			require.NoError(t, cfg.setDefaults())
			_, err := buildProviders(cfg, builtinTypes, nopStore{}, &rateLimits{}, nil, newMetrics(nopStore{}).hooks, slog.New(slog.DiscardHandler))
			assert.Error(t, err)
		})
	}
}

// TestProviderTypes sends through mock, failover and routing providers
// configured from JSON.
func TestProviderTypes(t *testing.T) {
	cfg := testConfig(nil)
	require.NoError(t, json.Unmarshal([]byte(`{
		"down": {"type": "mock", "options": {"fail_every": 1, "fail_every_kind": "temporary"}},
		"up": {"type": "mock", "options": {"fail": {"88005553535": "rejected"}}},
		"both": {"type": "failover", "options": {"vendors": ["down", "up"]}},
		"by-prefix": {"type": "routing", "options": {"routes": {"7999": "up"}}}
	}`), &cfg.Providers))
	ts := startService(t, "sqlite", cfg, nil)

	var a answer
	require.Equal(t, http.StatusOK, ts.do(t, "POST", "/sending?address=both&phone_number=79990000001&message=x", "", &a))
	assert.Equal(t, store.StatusSuccess, a.TaskStatus)
	assert.Equal(t, "up", a.single(t)["vendor"], "failover went past the vendor that is down")

	a = answer{}
	require.Equal(t, http.StatusOK, ts.do(t, "POST", "/sending?address=up&phone_number=88005553535&message=x", "", &a))
	assert.Equal(t, store.StatusFailure, a.TaskStatus)
	assert.Equal(t, "rejected", a.single(t)["kind"])

	a = answer{}
	require.Equal(t, http.StatusOK, ts.do(t, "POST", "/mailing?address=by-prefix&message=x", "[79990000001, 88005553599]", &a))
	list := a.list(t)
	assert.Equal(t, store.StateSent, list[0]["state"])
	assert.Equal(t, store.StateFailed, list[1]["state"], "no route for the second number")
}

// TestPerProviderRetry: a provider's own retry policy replaces the
// configuration's.
func TestPerProviderRetry(t *testing.T) {
	cfg := testConfig(nil)
	cfg.TaskAttempts = 1
	require.NoError(t, json.Unmarshal([]byte(`{
		"default": {"type": "mock", "options": {"fail_every": 1, "fail_every_kind": "temporary"}},
		"once": {"type": "mock", "options": {"fail_every": 1, "fail_every_kind": "temporary"}, "retry": {"max_attempts": 1}},
		"five": {"type": "mock", "options": {"fail_every": 1, "fail_every_kind": "temporary"}, "retry": {"max_attempts": 5, "base_delay": "1ms"}}
	}`), &cfg.Providers))
	ts := startService(t, "sqlite", cfg, nil)
	for address, want := range map[string]string{"default": "3", "once": "1", "five": "5"} {
		var a answer
		require.Equal(t, http.StatusOK, ts.do(t, "POST", "/sending?wait=10s&address="+address+"&phone_number=79990000001&message=x", "", &a))
		assert.Equal(t, store.StatusFailure, a.TaskStatus, address)
		assert.Equal(t, json.Number(want), a.single(t)["attempts"], address)
	}
	assert.Greater(t, cfg.jobTimeout(), testConfig(nil).jobTimeout(), "the most patient policy sets the job timeout")
}

// nopStore stands in for the storage where a test builds providers
// without a database.
type nopStore struct{}

func (nopStore) QueueDepth(context.Context) (int, error)                      { return 0, nil }
func (nopStore) MarkSending(context.Context, string, int, bool, string) error { return nil }

// TestSharedRateLimit: two services with one Redis share each provider's
// rate limit: together they send no faster than one alone may.
func TestSharedRateLimit(t *testing.T) {
	url := redisURL(t)
	const limit, n = 50, 60                                // each service sends n; together 2n at 50/s: about 2.4 s
	name := fmt.Sprintf("shared%d", time.Now().UnixNano()) // the Redis key is per provider name
	var times []time.Time
	var mu sync.Mutex
	p := &scriptProvider{onSend: func() {
		mu.Lock()
		times = append(times, time.Now())
		mu.Unlock()
	}}
	list, body := make([]string, n), ""
	for i := range list {
		list[i] = fmt.Sprintf("7999%07d", i)
	}
	body = "[" + strings.Join(list, ",") + "]"
	var services []*testService
	for range 2 {
		cfg, types := testProvider(name, p)
		cfg.Providers[name] = ProviderConfig{Type: "test", RateLimit: limit, Burst: 1}
		o := Options{Config: cfg, DataDir: t.TempDir(), Logger: testLogger(), Types: types, RedisURL: url}
		svc, srv := openService(t, o)
		t.Cleanup(func() { closeService(t, svc, srv) })
		services = append(services, &testService{svc: svc, srv: srv})
	}
	var ids []string
	for _, ts := range services {
		var a answer
		require.Equal(t, http.StatusOK, ts.do(t, "POST", "/mailing?address="+name+"&message=x&wait=0", body, &a))
		ids = append(ids, a.TaskID)
	}
	for i, ts := range services {
		assert.Equal(t, store.StatusSuccess, ts.awaitTask(t, ids[i]).TaskStatus)
	}
	mu.Lock()
	defer mu.Unlock()
	require.Len(t, times, 2*n)
	slices.SortFunc(times, func(a, b time.Time) int { return a.Compare(b) })
	got := float64(len(times)-1) / times[len(times)-1].Sub(times[0]).Seconds()
	t.Logf("%d messages from 2 services at %.1f/s (limit %d/s)", len(times), got, limit)
	assert.Less(t, got, limit*1.1, "the limit is shared, not one per service")
}

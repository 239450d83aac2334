package gateway

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/smsgateway/sms/internal/gateway/store"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smsgateway/sms"
)

func TestMessageLog(t *testing.T) {
	for _, backend := range backends(t) {
		t.Run(backend, func(t *testing.T) {
			p := &scriptProvider{fail: map[string]sms.Kind{"79990000003": sms.KindRejected}}
			name := "v-" + backend
			cfg, types := testProvider(name, p)
			ts := startService(t, backend, cfg, types)
			start := time.Now().UTC()
			var a answer
			require.Equal(t, http.StatusOK, ts.do(t, "POST", "/mailing?address="+name+"&message=Hello", "[79990000001,79990000002,79990000003,79990000004,79990000005]", &a))
			a = ts.awaitTask(t, a.TaskID)
			var b answer
			require.Equal(t, http.StatusOK, ts.do(t, "POST", "/sending?address="+name+"&phone_number=79990000001&message=Again", "", &b))

			t.Run("every message with its details", func(t *testing.T) {
				var page messagesPage
				require.Equal(t, http.StatusOK, ts.do(t, "GET", "/messages", "", &page))
				require.Len(t, page.Messages, 6)
				assert.Empty(t, page.NextCursor)
				m := page.Messages[0] // newest first
				assert.Equal(t, b.TaskID, m.TaskID)
				assert.Equal(t, "79990000001", m.Number)
				assert.Equal(t, store.StateSent, m.Status)
				assert.Equal(t, 1, m.Attempts)
				assert.Equal(t, name, m.Address)
				assert.Equal(t, name, m.Vendor)
				assert.Equal(t, "id-79990000001", m.MessageID)
				assert.Equal(t, 1, m.Parts)
				require.NotNil(t, m.SentAt)
				assert.False(t, m.CreatedAt.Before(start.Add(-time.Second)))
				assert.False(t, m.SentAt.Before(m.CreatedAt))
			})
			t.Run("filters", func(t *testing.T) {
				for _, tc := range []struct {
					query string
					want  int
				}{
					{"number=79990000001", 2},
					{"number=" + url.QueryEscape("7 999 000-00-01"), 2},
					{"status=failed", 1},
					{"status=sent", 5},
					{"task_id=" + a.TaskID, 5},
					{"number=79990000001&status=sent&task_id=" + b.TaskID, 1},
					{"from=" + url.QueryEscape(start.Add(-time.Minute).Format(time.RFC3339)), 6},
					{"from=" + url.QueryEscape(time.Now().Add(time.Minute).Format(time.RFC3339)), 0},
					{"to=" + url.QueryEscape(start.Add(-time.Minute).Format(time.RFC3339)), 0},
				} {
					t.Run(tc.query, func(t *testing.T) {
						var page messagesPage
						require.Equal(t, http.StatusOK, ts.do(t, "GET", "/messages?"+tc.query, "", &page))
						assert.Len(t, page.Messages, tc.want)
					})
				}
				var page messagesPage
				ts.do(t, "GET", "/messages?status=failed", "", &page)
				require.Len(t, page.Messages, 1)
				assert.Equal(t, "rejected", page.Messages[0].Kind)
				assert.NotEmpty(t, page.Messages[0].Error)
			})
			t.Run("paging", func(t *testing.T) {
				seen := map[int64]bool{}
				pages := ts.allPages(t, 4)
				for _, page := range pages {
					for _, m := range page.Messages {
						assert.False(t, seen[m.ID], "message %d on two pages", m.ID)
						seen[m.ID] = true
					}
				}
				assert.Len(t, pages, 2)
				assert.Len(t, seen, 6)
			})
			t.Run("bad filters", func(t *testing.T) {
				for _, q := range []string{"status=lost", "number=abc", "from=yesterday", "limit=0", "limit=100000", "cursor=x"} {
					var e apiError
					assert.Equal(t, http.StatusUnprocessableEntity, ts.do(t, "GET", "/messages?"+q, "", &e), q)
					assert.NotEmpty(t, e.Details, q)
				}
			})
		})
	}
}

func TestOperations(t *testing.T) {
	cfg := testConfig(nil)
	ts := startService(t, "sqlite", cfg, nil)
	var a answer
	require.Equal(t, http.StatusOK, ts.do(t, "POST", "/sending?address=log&phone_number=88005553535&message=x", "", &a))
	require.Equal(t, store.StatusSuccess, a.TaskStatus)

	for _, path := range []string{"/healthz", "/readyz"} {
		var st map[string]string
		assert.Equal(t, http.StatusOK, ts.do(t, "GET", path, "", &st), path)
	}
	resp, err := ts.srv.Client().Get(ts.srv.URL + "/metrics")
	require.NoError(t, err)
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	text := string(b)
	for _, want := range []string{
		`smsgateway_messages_total{kind="",provider="log",status="sent"} 1`,
		`smsgateway_attempts_total{outcome="accepted",provider="log"} 1`,
		`smsgateway_send_duration_seconds_count{provider="log"} 1`,
		`smsgateway_tasks_total{kind="sending"} 1`,
		`smsgateway_queue_depth 0`,
		`smsgateway_http_requests_total{code="200",route="POST /sending"} 1`,
	} {
		assert.Contains(t, text, want)
	}
}

// TestSecretsStayHidden checks that neither answers nor logs show API keys
// or a provider option's secret, and that numbers are masked in logs.
func TestSecretsStayHidden(t *testing.T) {
	const canary = "canary-secret-7f3a"
	var logs lockedBuffer
	cfg := testConfig(nil)
	cfg.APIKeys = []string{canary}
	require.NoError(t, cfg.setDefaults())
	svc, srv := openService(t, Options{Config: cfg, DataDir: t.TempDir(), Logger: newTestLogger(&logs)})
	ts := &testService{svc: svc, srv: srv, key: canary}
	var a answer
	require.Equal(t, http.StatusOK, ts.do(t, "POST", "/sending?address=log&phone_number=88005553535&message=x", "", &a))
	var answers strings.Builder
	for _, key := range []string{canary, "wrong"} {
		ts.key = key
		for _, path := range []string{"/tasks/" + a.TaskID, "/messages", "/metrics"} {
			var raw json.RawMessage
			if path != "/metrics" {
				ts.do(t, "GET", path, "", &raw)
			}
			answers.Write(raw)
		}
	}
	assert.NotContains(t, answers.String(), canary)
	closeService(t, svc, srv)
	assert.NotContains(t, logs.String(), canary)
	assert.NotContains(t, logs.String(), "88005553535", "numbers are masked in logs")
	assert.Contains(t, logs.String(), "88*******35")
}

package gateway

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/smsgateway/sms/internal/gateway/store"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smsgateway/sms"
)

// TestOriginalRequests sends the original service's requests as its README
// shows them and checks the answers' shape.
func TestOriginalRequests(t *testing.T) {
	for _, backend := range backends(t) {
		t.Run(backend, func(t *testing.T) {
			ts := startService(t, backend, testConfig(nil), nil) // the default "log" provider

			var a answer
			code := ts.do(t, "POST", "/sending?address=log&phone_number=88005553535&message=Hello", "", &a)
			require.Equal(t, http.StatusOK, code)
			assert.Equal(t, store.StatusSuccess, a.TaskStatus)
			assert.Len(t, a.TaskID, 36)
			r := a.single(t)
			assert.Equal(t, json.Number("200"), r["status"])
			assert.Equal(t, json.Number("88005553535"), r["number"])
			assert.Contains(t, r, "URL")
			assert.Equal(t, store.StateSent, r["state"])
			assert.NotEmpty(t, r["message_id"])
			assert.Nil(t, a.Progress, "no progress for a single sending")

			a = answer{}
			code = ts.do(t, "POST", "/mailing?address=log&message=Welcome!", "[88005553535, 85539317914264]", &a)
			require.Equal(t, http.StatusOK, code)
			assert.Equal(t, store.StatusSuccess, a.TaskStatus)
			list := a.list(t)
			require.Len(t, list, 2)
			assert.Equal(t, json.Number("88005553535"), list[0]["number"])
			assert.Equal(t, json.Number("85539317914264"), list[1]["number"])
			for _, e := range list {
				assert.Equal(t, json.Number("200"), e["status"])
				assert.Equal(t, store.StateSent, e["state"])
			}
			require.NotNil(t, a.Progress)
			assert.Equal(t, progress{Done: 2, Total: 2, Counts: store.Counts{store.StateSent: 2}}, *a.Progress)

			// The same task through GET /tasks.
			var again answer
			require.Equal(t, http.StatusOK, ts.do(t, "GET", "/tasks/"+a.TaskID, "", &again))
			assert.Equal(t, a.TaskStatus, again.TaskStatus)
			assert.JSONEq(t, string(a.TaskResult), string(again.TaskResult))
		})
	}
}

func TestJSONBodies(t *testing.T) {
	for _, backend := range backends(t) {
		t.Run(backend, func(t *testing.T) {
			ts := startService(t, backend, testConfig(nil), nil)
			var a answer
			require.Equal(t, http.StatusOK, ts.do(t, "POST", "/sending", `{"address":"log","phone_number":"+7 (916) 123-45-67","message":"Привет"}`, &a))
			assert.Equal(t, store.StatusSuccess, a.TaskStatus)
			r := a.single(t)
			assert.Equal(t, json.Number("79161234567"), r["number"])
			assert.Equal(t, json.Number("1"), r["parts"])

			a = answer{}
			require.Equal(t, http.StatusOK, ts.do(t, "POST", "/mailing", `{"address":"log","message":"Hi","phone_numbers":[88005553535,"85539317914",88005553535]}`, &a))
			assert.Equal(t, store.StatusSuccess, a.TaskStatus)
			list := a.list(t)
			require.Len(t, list, 3)
			assert.Equal(t, store.StateSent, list[0]["state"])
			assert.Equal(t, store.StateSent, list[1]["state"])
			assert.Equal(t, store.StateSkipped, list[2]["state"], "a repeated number is sent once")
			assert.Equal(t, store.Counts{store.StateSent: 2, store.StateSkipped: 1}, a.Progress.Counts)
		})
	}
}

func TestFailureIsAnAnswer(t *testing.T) {
	for _, backend := range backends(t) {
		t.Run(backend, func(t *testing.T) {
			p := &scriptProvider{fail: map[string]sms.Kind{"88005553535": sms.KindRejected, "88005553536": sms.KindFatal}}
			name := "vendor-" + backend
			cfg, types := testProvider(name, p)
			cfg.Providers[name] = ProviderConfig{Type: "test", Concurrency: 1} // so that the fatal outcome comes before the other sends
			ts := startService(t, backend, cfg, types)

			var a answer
			require.Equal(t, http.StatusOK, ts.do(t, "POST", "/sending?address="+name+"&phone_number=88005553535&message=x", "", &a))
			assert.Equal(t, store.StatusFailure, a.TaskStatus)
			r := a.single(t)
			assert.Equal(t, json.Number("400"), r["status"])
			assert.Equal(t, "rejected", r["kind"])
			assert.Equal(t, store.StateFailed, r["state"])
			assert.Contains(t, r["URL"], "https://gateway.test/send")
			assert.Equal(t, 1, p.callsTo("88005553535"), "a rejected message is not retried")

			// A fatal outcome stops the mailing: later numbers are not attempted.
			a = answer{}
			body := `{"phone_numbers":[88005553536,79990000001,79990000002,79990000003],"message":"x","address":"` + name + `"}`
			require.Equal(t, http.StatusOK, ts.do(t, "POST", "/mailing", body, &a))
			a = ts.awaitTask(t, a.TaskID)
			assert.Equal(t, store.StatusFailure, a.TaskStatus)
			list := a.list(t)
			assert.Equal(t, "fatal", list[0]["kind"])
			assert.Equal(t, len(list), a.Progress.Done)
			assert.Equal(t, store.Counts{store.StateFailed: 1, store.StateNotAttempted: 3}, a.Progress.Counts)
			assert.Zero(t, p.callsTo("79990000001"))
		})
	}
}

func TestTemporaryFailureRetriesTheTask(t *testing.T) {
	for _, backend := range backends(t) {
		t.Run(backend, func(t *testing.T) { testTemporaryFailureRetriesTheTask(t, backend) })
	}
}

func testTemporaryFailureRetriesTheTask(t *testing.T, backend string) {
	p := &scriptProvider{fail: map[string]sms.Kind{"88005553535": sms.KindTemporary}}
	cfg, types := testProvider("flaky", p)
	cfg.TaskAttempts = 2
	cfg.PollInterval = sms.Duration(100 * time.Millisecond) // picks up the task's retry
	ts := startService(t, backend, cfg, types)
	var a answer
	require.Equal(t, http.StatusOK, ts.do(t, "POST", "/mailing?address=flaky&message=x&wait=0", "[88005553535, 88005553599]", &a))
	id := a.TaskID
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		a = answer{}
		ts.do(c, "GET", "/tasks/"+id, "", &a)
		assert.Equal(c, store.StatusRetry, a.TaskStatus)
	}, 10*time.Second, 20*time.Millisecond, "the task waits for its next attempt")
	assert.Equal(t, store.Counts{store.StateSent: 1, store.StateRetry: 1}, a.Progress.Counts)

	a = ts.awaitTask(t, id)
	assert.Equal(t, store.StatusSuccess, a.TaskStatus, "one of two was sent")
	list := a.list(t)
	assert.Equal(t, store.StateFailed, list[0]["state"])
	assert.Equal(t, "temporary", list[0]["kind"])
	assert.Equal(t, json.Number("6"), list[0]["attempts"], "3 attempts on each of 2 runs")
	assert.Contains(t, list[0]["error"], "scripted temporary", "the provider's last error is kept")
	m := ts.svc.api.metrics
	// The worker counts the final failures right after committing them,
	// which the answer above may have read first.
	assert.EventuallyWithT(t, func(c *assert.CollectT) {
		assert.Equal(c, 1.0, testutil.ToFloat64(m.messages.WithLabelValues("flaky", store.StateFailed, "temporary")), "one final failure, however many runs")
	}, 5*time.Second, 10*time.Millisecond)
	assert.Equal(t, 1.0, testutil.ToFloat64(m.messages.WithLabelValues("flaky", store.StateSent, "")))
	assert.Equal(t, 6.0, testutil.ToFloat64(m.attempts.WithLabelValues("flaky", "temporary")), "attempts have their own counter")
	assert.Equal(t, 6, p.callsTo("88005553535"))
	assert.Equal(t, 1, p.callsTo("88005553599"), "the task's retry does not resend what was sent")
}

func TestWaitAndDelay(t *testing.T) {
	for _, backend := range backends(t) {
		t.Run(backend, func(t *testing.T) {
			p := &scriptProvider{delay: 300 * time.Millisecond}
			name := "slow-" + backend
			cfg, types := testProvider(name, p)
			ts := startService(t, backend, cfg, types)

			t.Run("wait=0 answers at once", func(t *testing.T) {
				var a answer
				require.Equal(t, http.StatusOK, ts.do(t, "POST", "/sending?address="+name+"&phone_number=88005553535&message=x&wait=0", "", &a))
				assert.Equal(t, store.StatusPending, a.TaskStatus, "the task as queued")
				assert.Equal(t, "null", string(a.TaskResult))
				a = ts.awaitTask(t, a.TaskID)
				assert.Equal(t, store.StatusSuccess, a.TaskStatus)
			})
			t.Run("a short wait ends before the send", func(t *testing.T) {
				var a answer
				require.Equal(t, http.StatusOK, ts.do(t, "POST", "/sending?address="+name+"&phone_number=88005553535&message=x&wait=50ms", "", &a))
				assert.Contains(t, []string{store.StatusPending, store.StatusStarted}, a.TaskStatus)
				assert.Equal(t, store.StatusSuccess, ts.awaitTask(t, a.TaskID).TaskStatus)
			})
			t.Run("a long wait gets the result", func(t *testing.T) {
				var a answer
				require.Equal(t, http.StatusOK, ts.do(t, "POST", "/sending?address="+name+"&phone_number=88005553535&message=x&wait=10", "", &a))
				assert.Equal(t, store.StatusSuccess, a.TaskStatus)
			})
			for _, tc := range []struct {
				name  string
				param func() string
			}{
				{"delay", func() string { return "delay=1500ms" }},
				{"send_at", func() string {
					return "send_at=" + url.QueryEscape(time.Now().Add(1500*time.Millisecond).UTC().Format(time.RFC3339Nano))
				}},
			} {
				t.Run(tc.name, func(t *testing.T) {
					before := p.callsTo("79990001111")
					var a answer
					require.Equal(t, http.StatusOK, ts.do(t, "POST", "/sending?address="+name+"&phone_number=79990001111&message=later&wait=500ms&"+tc.param(), "", &a))
					assert.Equal(t, store.StatusPending, a.TaskStatus, "not sent before its time")
					assert.Equal(t, before, p.callsTo("79990001111"))
					a = ts.awaitTask(t, a.TaskID)
					assert.Equal(t, store.StatusSuccess, a.TaskStatus)
					assert.Equal(t, before+1, p.callsTo("79990001111"))
				})
			}
		})
	}
}

func TestTaskNotFound(t *testing.T) {
	ts := startService(t, "sqlite", testConfig(nil), nil)
	for _, id := range []string{"6e2bcbdf-823b-43ad-b099-30e40d8a7f00", "nope", "1"} {
		var e apiError
		require.Equal(t, http.StatusNotFound, ts.do(t, "GET", "/tasks/"+id, "", &e), id)
		assert.NotEmpty(t, e.Message)
	}
}

func TestBadInput(t *testing.T) {
	cfg := testConfig(map[string]ProviderConfig{"log": {Type: "log"}, "Google": {Type: "log"}})
	cfg.MaxBodyBytes = 2048
	cfg.MaxMailing = 3
	ts := startService(t, "sqlite", cfg, nil)
	for _, tc := range []struct {
		name, path, body string
		code             int
		fields           []string
	}{
		{"phone number with letters", "/sending?address=log&phone_number=8800abc&message=x", "", 422, []string{"phone_number"}},
		{"phone number too short", "/sending?address=log&phone_number=123&message=x", "", 422, []string{"phone_number"}},
		{"phone number a fraction", "/sending", `{"address":"log","phone_number":8.5,"message":"x"}`, 422, []string{"phone_number"}},
		{"phone number a bool", "/sending", `{"address":"log","phone_number":true,"message":"x"}`, 422, []string{"phone_number"}},
		{"phone number missing", "/sending?address=log&message=x", "", 422, []string{"phone_number"}},
		{"message empty", "/sending?address=log&phone_number=88005553535&message=", "", 422, []string{"message"}},
		{"unknown address", "/sending?address=Yandex&phone_number=88005553535&message=x", "", 422, []string{"address"}},
		{"address missing with two providers", "/sending?phone_number=88005553535&message=x", "", 422, []string{"address"}},
		{"bad delay", "/sending?address=log&phone_number=88005553535&message=x&delay=soon", "", 422, []string{"delay"}},
		{"negative delay", "/sending?address=log&phone_number=88005553535&message=x&delay=-5s", "", 422, []string{"delay"}},
		{"bad send_at", "/sending?address=log&phone_number=88005553535&message=x&send_at=tomorrow", "", 422, []string{"send_at"}},
		{"delay and send_at", "/sending?address=log&phone_number=88005553535&message=x&delay=1s&send_at=2030-01-01T00:00:00Z", "", 422, []string{"delay"}},
		{"unknown field", "/sending", `{"address":"log","phone_number":"88005553535","message":"x","tpyo":1}`, 422, []string{"tpyo"}},
		{"mailing entry invalid", "/mailing?address=log&message=x", `[88005553535, "abc"]`, 422, []string{"phone_numbers[1]"}},
		{"mailing empty", "/mailing?address=log&message=x", `[]`, 422, []string{"phone_numbers"}},
		{"mailing too long", "/mailing?address=log&message=x", `[88005553531,88005553532,88005553533,88005553534]`, 422, []string{"phone_numbers"}},
		{"list for sending", "/sending?address=log&message=x", `[88005553535]`, 422, []string{"phone_numbers"}},
		{"malformed JSON", "/sending", `{"address":`, 400, nil},
		{"not JSON", "/sending", `address=log`, 400, nil},
		{"two JSON values", "/mailing?address=log&message=x", `[88005553535][1]`, 400, nil},
		{"oversized body", "/mailing?address=log&message=x", "[" + strings.Repeat("88005553535,", 300) + "1]", 413, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var e apiError
			require.Equal(t, tc.code, ts.do(t, "POST", tc.path, tc.body, &e))
			assert.NotEmpty(t, e.Message)
			var fields []string
			for _, d := range e.Details {
				fields = append(fields, d.Field)
				assert.NotEmpty(t, d.Reason)
			}
			for _, f := range tc.fields {
				assert.Contains(t, fields, f)
			}
		})
	}
	t.Run("the unknown address error lists the known ones", func(t *testing.T) {
		var e apiError
		ts.do(t, "POST", "/sending?address=Yandex&phone_number=88005553535&message=x", "", &e)
		require.Len(t, e.Details, 1)
		assert.Contains(t, e.Details[0].Reason, "Google, log")
	})
	assert.Zero(t, ts.messageCount(t), "a rejected request enqueues nothing")
}

func TestAPIKeys(t *testing.T) {
	cfg := testConfig(nil)
	cfg.APIKeys = []string{"first-key", "second-key"}
	ts := startService(t, "sqlite", cfg, nil)
	for _, tc := range []struct {
		name, header string
		code         int
	}{
		{"none", "", 401},
		{"wrong", "Bearer nope", 401},
		{"prefix of a key", "Bearer first", 401},
		{"not bearer", "Basic Zmlyc3Qta2V5", 401},
		{"first", "Bearer first-key", 200},
		{"second", "Bearer second-key", 200},
		{"scheme in lower case", "bearer first-key", 200},
		{"scheme in upper case", "BEARER second-key", 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest("POST", ts.srv.URL+"/sending?address=log&phone_number=88005553535&message=x", nil)
			require.NoError(t, err)
			if tc.header != "" {
				req.Header.Set("Authorization", tc.header)
			}
			resp, err := ts.srv.Client().Do(req)
			require.NoError(t, err)
			resp.Body.Close()
			assert.Equal(t, tc.code, resp.StatusCode)
		})
	}
	resp, err := ts.srv.Client().Get(ts.srv.URL + "/healthz")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode, "health checks need no key")
}

// TestMethodNotAllowed: a known path asked with another method answers 405
// with the methods it takes; an unknown path 404.
func TestMethodNotAllowed(t *testing.T) {
	ts := startService(t, "sqlite", testConfig(nil), nil)
	for _, tc := range []struct{ method, path, allow string }{
		{"GET", "/sending", "POST"},
		{"PUT", "/mailing", "POST"},
		{"POST", "/messages", "GET, HEAD"},
		{"DELETE", "/tasks/6e2bcbdf-823b-43ad-b099-30e40d8a7f00", "GET, HEAD"},
	} {
		req, err := http.NewRequest(tc.method, ts.srv.URL+tc.path, nil)
		require.NoError(t, err)
		resp, err := ts.srv.Client().Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode, "%s %s", tc.method, tc.path)
		assert.Equal(t, tc.allow, resp.Header.Get("Allow"), "%s %s", tc.method, tc.path)
	}
	var e apiError
	assert.Equal(t, http.StatusNotFound, ts.do(t, "GET", "/nothing", "", &e))
}

// TestBadFiltersSameOnBothDatabases: filters that cannot match are refused
// with 422 on SQLite and PostgreSQL alike, never a 500.
func TestBadFiltersSameOnBothDatabases(t *testing.T) {
	for _, backend := range backends(t) {
		t.Run(backend, func(t *testing.T) {
			ts := startService(t, backend, testConfig(nil), nil)
			for _, q := range []string{"task_id=%00", "task_id=%ff", "task_id=nope", "number=%00", "status=%ff", "tpyo=1", "limit=1&limit=2"} {
				var e apiError
				assert.Equal(t, http.StatusUnprocessableEntity, ts.do(t, "GET", "/messages?"+q, "", &e), q)
				assert.NotEmpty(t, e.Details, q)
			}
			for _, body := range []string{`{"address":"log","phone_number":88005553535,"message":"x\u0000y"}`, "{\"address\":\"log\",\"phone_number\":88005553535,\"message\":\"\xff\"}"} {
				var e apiError
				assert.Equal(t, http.StatusUnprocessableEntity, ts.do(t, "POST", "/sending", body, &e), body)
			}
			var e apiError
			assert.Equal(t, http.StatusUnprocessableEntity, ts.do(t, "POST", "/sending?address=log&phone_number=88005553535&message=a%00b", "", &e))
		})
	}
}

// TestWakeWithoutPoll shows that a task starts when it is queued or falls
// due, not at River's next fetch poll (an hour away here): a send and a
// delayed send alone, then 40 at once, end within their wait. Tasks
// queued at the same moment share their insert (see store's
// riverQueue.insert); each still gets its own rows and jobs, and a delayed
// one its own timer (River's scheduler would take up to 5 s).
func TestWakeWithoutPoll(t *testing.T) {
	for _, backend := range backends(t) {
		t.Run(backend, func(t *testing.T) {
			cfg := testConfig(nil)
			cfg.PollInterval = sms.Duration(time.Hour)
			ts := startService(t, backend, cfg, nil)
			send := func(t require.TestingT, number string, delayed bool) {
				path := "/sending?address=log&message=x&wait=3s&phone_number=" + number
				if delayed {
					path += "&delay=300ms"
				}
				var a answer
				require.Equal(t, http.StatusOK, ts.do(t, "POST", path, "", &a))
				assert.Equal(t, store.StatusSuccess, a.TaskStatus, number)
				var res struct{ Number json.Number }
				require.NoError(t, json.Unmarshal(a.TaskResult, &res))
				assert.Equal(t, number, res.Number.String())
			}
			send(t, "88005553535", false)
			send(t, "88005553536", true)
			var wg sync.WaitGroup
			for i := range 40 {
				wg.Go(func() { send(goroutineT{t}, fmt.Sprintf("7999%07d", i), i%2 == 1) })
			}
			wg.Wait()
		})
	}
}

// goroutineT is t for a goroutine of the test: FailNow ends that
// goroutine, not the test's.
type goroutineT struct{ *testing.T }

func (g goroutineT) FailNow() { g.Fail(); runtime.Goexit() }

package gateway

import (
	"context"
	"database/sql"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/smsgateway/sms/internal/gateway/store"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestInterruptedMessages plays what a crash leaves behind: a message marked
// "sending" when its task runs. By default it is reported as ambiguous and
// not resent; with ResendInterrupted it is sent again.
func TestInterruptedMessages(t *testing.T) {
	for _, resend := range []bool{false, true} {
		t.Run(map[bool]string{false: "default", true: "resend_interrupted"}[resend], func(t *testing.T) {
			p := &scriptProvider{}
			name := "crash-" + t.Name()
			cfg, types := testProvider(name, p)
			cfg.ResendInterrupted = resend
			ts := newService(t, "sqlite", cfg, types) // not started: nothing runs yet
			var a answer
			require.Equal(t, http.StatusOK, ts.do(t, "POST", "/mailing?address="+name+"&message=x&wait=0", "[79990000001, 79990000002]", &a))
			// As if a previous run had handed the first number to the
			// provider and died.
			require.NoError(t, ts.svc.store.MarkSending(context.Background(), a.TaskID, 0, false, "dead-run"))
			require.NoError(t, ts.svc.Start(context.Background()))

			a = ts.awaitTask(t, a.TaskID)
			list := a.list(t)
			assert.Equal(t, store.StateSent, list[1]["state"])
			assert.Equal(t, 1, p.callsTo("79990000002"))
			if resend {
				assert.Equal(t, store.StateSent, list[0]["state"])
				assert.Equal(t, 1, p.callsTo("79990000001"))
				return
			}
			assert.Equal(t, store.StateFailed, list[0]["state"])
			assert.Equal(t, "ambiguous", list[0]["kind"])
			assert.Contains(t, list[0]["error"], "interrupted")
			assert.Zero(t, p.callsTo("79990000001"), "an interrupted message is not resent")
		})
	}
}

// TestProviderRemoved restarts the service on the same database without the
// provider a queued task asked for: the task fails instead of waiting
// forever.
func TestProviderRemoved(t *testing.T) {
	o := Options{Config: testConfig(map[string]ProviderConfig{"gone": {Type: "log"}, "log": {Type: "log"}}), DataDir: t.TempDir(), Logger: testLogger()}
	svc, err := New(context.Background(), o) // not started: the task waits in the database
	require.NoError(t, err)
	ts := &testService{svc: svc, srv: httptest.NewServer(svc.Handler())}
	var a answer
	require.Equal(t, http.StatusOK, ts.do(t, "POST", "/sending?address=gone&phone_number=79990000001&message=x&wait=0", "", &a))
	closeService(t, ts.svc, ts.srv)

	o.Config = testConfig(map[string]ProviderConfig{"log": {Type: "log"}})
	svc, srv := openService(t, o)
	defer closeService(t, svc, srv)
	ts = &testService{svc: svc, srv: srv}
	got := ts.awaitTask(t, a.TaskID)
	assert.Equal(t, store.StatusFailure, got.TaskStatus)
	r := got.single(t)
	assert.Equal(t, store.StateNotAttempted, r["state"])
	assert.Contains(t, r["error"], `"gone"`)
}

// TestSQLiteResumesAtOnce plays a process killed in the middle of a task on
// SQLite: its job is left running and a message marked in flight. The next
// process to open the data directory resumes the task at once (River's
// rescuer would wait minutes), reports the message in flight as ambiguous,
// and sends the rest.
func TestSQLiteResumesAtOnce(t *testing.T) {
	p := &scriptProvider{}
	cfg, types := testProvider("vendor", p)
	o := Options{Config: cfg, DataDir: t.TempDir(), Logger: testLogger(), Types: types}
	svc, err := New(context.Background(), o) // never started: we play its run
	require.NoError(t, err)
	ts := &testService{svc: svc, srv: httptest.NewServer(svc.Handler())}
	var a answer
	require.Equal(t, http.StatusOK, ts.do(t, "POST", "/mailing?address=vendor&message=x&wait=0", "[79990000001, 79990000002]", &a))
	tk, err := svc.store.Task(context.Background(), a.TaskID)
	require.NoError(t, err)
	require.NoError(t, svc.store.MarkSending(context.Background(), a.TaskID, 0, false, "dead-run"))
	closeService(t, svc, ts.srv)
	// What River records while a process works the job.
	db, err := sql.Open("sqlite", filepath.Join(o.DataDir, "smsgateway.db"))
	require.NoError(t, err)
	_, err = db.Exec(`UPDATE river_job SET state = 'running', attempt = attempt + 1 WHERE id = ?`, tk.JobID)
	require.NoError(t, err)
	require.NoError(t, db.Close())

	start := time.Now()
	svc, srv := openService(t, o)
	defer closeService(t, svc, srv)
	ts = &testService{svc: svc, srv: srv}
	got := ts.awaitTask(t, a.TaskID)
	t.Logf("resumed and finished %v after the start", time.Since(start))
	list := got.list(t)
	assert.Equal(t, store.StateFailed, list[0]["state"])
	assert.Equal(t, "ambiguous", list[0]["kind"])
	assert.Equal(t, store.StateSent, list[1]["state"])
	assert.Zero(t, p.callsTo("79990000001"), "the message in flight is not resent")
}

package gateway

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smsgateway/sms"
	"github.com/smsgateway/sms/internal/gateway/pgtest"
	"github.com/smsgateway/sms/internal/gateway/store"
)

// TestSlices: the slices cover every row once; a mailing (several jobs on
// PostgreSQL, one on SQLite) still answers as one task, in input order.
// That the slices are shared between processes is TestThreeProcesses's.
func TestSlices(t *testing.T) {
	assert.Len(t, store.Slices(store.TaskArgs{}, 1), 1)
	assert.Len(t, store.Slices(store.TaskArgs{}, 100), 1)
	assert.Len(t, store.Slices(store.TaskArgs{}, 101), 2)
	assert.Len(t, store.Slices(store.TaskArgs{}, 100_000), 64)
	for _, n := range []int{1, 99, 100, 101, 250, 6000, 10_001} {
		sl := store.Slices(store.TaskArgs{TaskID: "t"}, n)
		next := 0
		for _, a := range sl {
			assert.Equal(t, next, a.First, "n=%d: slices are contiguous", n)
			assert.Greater(t, a.End, a.First)
			next = a.End
		}
		assert.Equal(t, n, next, "n=%d: every row is in a slice", n)
	}

	for _, backend := range backends(t) {
		t.Run(backend, func(t *testing.T) {
			p := &scriptProvider{fail: map[string]sms.Kind{"79990000100": sms.KindRejected}}
			cfg, types := testProvider("vendor", p)
			ts := startService(t, backend, cfg, types)
			numbers := make([]string, 450)
			for i := range numbers {
				numbers[i] = fmt.Sprintf("7999%07d", i)
			}
			var a answer
			require.Equal(t, http.StatusOK, ts.do(t, "POST", "/mailing?address=vendor&message=x&wait=0", "["+strings.Join(numbers, ",")+"]", &a))
			a = ts.awaitTask(t, a.TaskID)
			assert.Equal(t, store.StatusSuccess, a.TaskStatus)
			list := a.list(t)
			require.Len(t, list, len(numbers))
			for i, e := range list {
				assert.Equal(t, numbers[i], fmt.Sprint(e["number"]), "input order")
				want := store.StateSent
				if i == 100 {
					want = store.StateFailed
				}
				assert.Equal(t, want, e["state"], numbers[i])
				assert.Equal(t, 1, p.callsTo(numbers[i]))
			}
			assert.Equal(t, 450, a.Progress.Done)
		})
	}
}

// TestClaims: a run takes a row to send it; no other run can take it
// while it is in flight or once it is final.
func TestClaims(t *testing.T) {
	for _, backend := range backends(t) {
		t.Run(backend, func(t *testing.T) {
			cfg, types := testProvider("vendor", &scriptProvider{})
			ts := newService(t, backend, cfg, types) // not started: we play the runs
			var a answer
			require.Equal(t, http.StatusOK, ts.do(t, "POST", "/sending?address=vendor&message=x&phone_number=79990000001&wait=0", "", &a))
			st, ctx := ts.svc.store, context.Background()
			require.NoError(t, st.MarkSending(ctx, a.TaskID, 0, false, "run-a"))
			require.NoError(t, st.MarkSending(ctx, a.TaskID, 0, false, "run-a"), "a retry within the run")
			require.ErrorIs(t, st.MarkSending(ctx, a.TaskID, 0, false, "run-b"), store.ErrNotClaimed, "in flight for run a")
			require.ErrorIs(t, st.MarkSending(ctx, a.TaskID, 1, false, "run-a"), store.ErrNotClaimed, "no such row")
			msgs, err := st.TaskMessages(ctx, a.TaskID)
			require.NoError(t, err)
			m := msgs[0]
			assert.Equal(t, 2, m.Attempts)
			m.Status = store.StateSent
			rec := st.Recorder()
			rec.Record(m)
			require.NoError(t, rec.Flush())
			require.ErrorIs(t, st.MarkSending(ctx, a.TaskID, 0, false, "run-a"), store.ErrNotClaimed, "final")
		})
	}
}

// TestTakeOver (PostgreSQL): a job left running by a process whose lease
// expired is taken over by a live process, which reports the message the
// dead one had in flight as ambiguous and sends the rest.
func TestTakeOver(t *testing.T) {
	if !slices.Contains(pgtest.Backends(t), "postgres") {
		t.Skip("SMS_TEST_POSTGRES_URL is not set")
	}
	p := &scriptProvider{}
	cfg, types := testProvider("vendor", p)
	require.NoError(t, cfg.setDefaults())
	dbURL := pgtest.SchemaURL(t)
	o := Options{Config: cfg, DataDir: t.TempDir(), DatabaseURL: dbURL, Logger: testLogger(), Types: types}
	dead, err := New(context.Background(), o) // never started: we play its run
	require.NoError(t, err)
	deadSrv := httptest.NewServer(dead.Handler())
	ts := &testService{svc: dead, srv: deadSrv}
	var a answer
	require.Equal(t, http.StatusOK, ts.do(t, "POST", "/mailing?address=vendor&message=x&wait=0", "[79990000001, 79990000002]", &a))
	require.NoError(t, dead.store.MarkSending(context.Background(), a.TaskID, 0, false, "dead-run"))
	closeService(t, dead, deadSrv)

	// What a process that died while running the job leaves: the job
	// running in its name, and its lease, last renewed long ago.
	conn, err := pgx.Connect(context.Background(), dbURL)
	require.NoError(t, err)
	defer conn.Close(context.Background())
	_, err = conn.Exec(context.Background(), `UPDATE river_job SET state = 'running', attempt = attempt + 1, attempted_at = now(), attempted_by = ARRAY['smsgateway-dead']`)
	require.NoError(t, err)
	_, err = conn.Exec(context.Background(), `INSERT INTO sms_process (id, heartbeat_at) VALUES ('smsgateway-dead', 0)`)
	require.NoError(t, err)

	start := time.Now()
	live, srv := openService(t, o)
	defer closeService(t, live, srv)
	got := (&testService{svc: live, srv: srv}).awaitTask(t, a.TaskID)
	t.Logf("taken over and finished %v after the start", time.Since(start))
	list := got.list(t)
	assert.Equal(t, store.StateFailed, list[0]["state"])
	assert.Equal(t, "ambiguous", list[0]["kind"])
	assert.Equal(t, store.StateSent, list[1]["state"])
	assert.Zero(t, p.callsTo("79990000001"), "the message in flight is not resent")
	var leases int
	require.NoError(t, conn.QueryRow(context.Background(), `SELECT COUNT(*) FROM sms_process WHERE id = 'smsgateway-dead'`).Scan(&leases))
	assert.Zero(t, leases, "the dead lease is gone")
}

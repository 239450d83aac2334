package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smsgateway/sms/internal/gateway/pgtest"
)

// hit is one message as the loopback gateway got it.
type hit struct {
	at       time.Time
	to, proc string
}

// loopGateway is a loopback SMS gateway that records every message with
// the process that sent it (its "p" parameter).
type loopGateway struct {
	mu   sync.Mutex
	hits []hit
}

func (g *loopGateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	g.mu.Lock()
	g.hits = append(g.hits, hit{at: time.Now(), to: q.Get("to"), proc: q.Get("p")})
	g.mu.Unlock()
	_, _ = w.Write([]byte("OK"))
}

func (g *loopGateway) reset() {
	g.mu.Lock()
	g.hits = nil
	g.mu.Unlock()
}

func (g *loopGateway) all() []hit {
	g.mu.Lock()
	defer g.mu.Unlock()
	return slices.Clone(g.hits)
}

// maxPerSecond is the most hits in any one-second window, and when that
// window starts after the first hit.
func maxPerSecond(hits []hit) (best int, at time.Duration) {
	j := 0
	for i := range hits {
		for hits[i].at.Sub(hits[j].at) >= time.Second {
			j++
		}
		if i-j+1 > best {
			best, at = i-j+1, hits[j].at.Sub(hits[0].at)
		}
	}
	return best, at
}

// requireRedis returns SMS_TEST_REDIS_URL, skipping without it unless
// SMS_REQUIRE_REDIS=1.
func requireRedis(t *testing.T) string {
	u := os.Getenv("SMS_TEST_REDIS_URL")
	if u == "" {
		if os.Getenv("SMS_REQUIRE_REDIS") == "1" {
			t.Fatal("SMS_REQUIRE_REDIS=1 but SMS_TEST_REDIS_URL is not set")
		}
		t.Skip("SMS_TEST_REDIS_URL is not set")
	}
	return u
}

// leases reads the processes' leases (their River client IDs).
func leases(t *testing.T, conn *pgx.Conn) []string {
	rows, err := conn.Query(context.Background(), `SELECT id FROM sms_process ORDER BY id`)
	require.NoError(t, err)
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	return ids
}

// TestThreeProcesses runs three service processes (the built binary) on
// one PostgreSQL with one Redis, and sends one 6,000-number mailing to a
// loopback gateway under a shared limit of 200 messages per second.
// "shared": every number arrives once, each process sends at least a fifth,
// and the gateway never sees more than 200 + burst in a second, at 200/s
// within 2 %. "kill": one process is killed with SIGKILL in the middle; the
// others take over its jobs within 15 s and finish the mailing, and the
// messages it had in flight are reported ambiguous, never resent.
func TestThreeProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("three service processes for a minute")
	}
	redisURL := requireRedis(t)
	if !slices.Contains(pgtest.Backends(t), "postgres") {
		t.Skip("SMS_TEST_POSTGRES_URL is not set")
	}
	const n, limit, burst = 6000, 200, 20
	for _, kill := range []bool{false, true} {
		t.Run(map[bool]string{false: "shared", true: "kill"}[kill], func(t *testing.T) {
			gw := &loopGateway{}
			srv := httptest.NewServer(gw)
			defer srv.Close()
			dbURL := pgtest.SchemaURL(t)
			provider := fmt.Sprintf("gw-%d", time.Now().UnixNano()) // its own Redis key
			procs := make([]*proc, 3)
			for i := range procs {
				dir := t.TempDir()
				options := map[string]any{"url": srv.URL + "/send", "to_param": "to", "text_param": "text", "params": map[string][]string{"p": {fmt.Sprint(i)}}}
				cfg := map[string]any{"providers": map[string]any{
					provider: map[string]any{"type": "httpquery", "rate_limit": limit, "burst": burst, "options": options},
					"warm":   map[string]any{"type": "httpquery", "options": options},
				}}
				b, err := json.Marshal(cfg)
				require.NoError(t, err)
				path := filepath.Join(dir, "config.json")
				require.NoError(t, os.WriteFile(path, b, 0o600))
				procs[i] = startProc(t, "-data-dir", filepath.Join(dir, "data"), "-config", path, "-database", dbURL, "-redis", redisURL)
			}
			conn, err := pgx.Connect(context.Background(), dbURL)
			require.NoError(t, err)
			defer conn.Close(context.Background())
			require.Len(t, leases(t, conn), 3)

			// A warm-up mailing without a limit first, in 24 slices, so that
			// each process has opened its database connections before the
			// measured one.
			_, warmBody := numbers(2400)
			warm := procs[1].post(t, "/mailing?address=warm&message=warm-up&wait=0", warmBody)
			procs[1].await(t, warm.TaskID, 60*time.Second)
			gw.reset()

			list, body := numbers(n)
			mailing := procs[0].post(t, "/mailing?address="+provider+"&message=Hi&wait=0", body)
			var takeover time.Duration
			if kill {
				require.Eventually(t, func() bool { return len(gw.all()) >= n/3 }, 60*time.Second, 10*time.Millisecond)
				before := leases(t, conn)
				procs[2].kill(t)
				killed := time.Now()
				require.Eventually(t, func() bool { return len(leases(t, conn)) == 2 }, 30*time.Second, 50*time.Millisecond, "no takeover")
				takeover = time.Since(killed)
				t.Logf("lease of the killed process taken over %v after the kill (of %v)", takeover, before)
				assert.Less(t, takeover, 15*time.Second)
			}
			got := procs[0].await(t, mailing.TaskID, 3*time.Minute)
			hits := gw.all()

			perNumber := map[string]int{}
			perProc := map[string]int{}
			for _, h := range hits {
				perNumber[h.to]++
				perProc[h.proc]++
			}
			require.Len(t, got.TaskResult, n)
			ambiguous := 0
			for i, r := range got.TaskResult {
				num := list[i]
				assert.LessOrEqual(t, perNumber[num], 1, "number %s sent twice", num)
				switch {
				case r.State == "sent":
					assert.Equal(t, 1, perNumber[num], "number %s", num)
				case kill && r.State == "failed" && r.Kind == "ambiguous":
					ambiguous++ // in flight at the kill: maybe sent, not resent
				default:
					t.Errorf("number %s ended %s %s: %s", num, r.State, r.Kind, r.Error)
				}
			}
			t.Logf("per process: %v; ambiguous: %d", perProc, ambiguous)
			// The killed process had at most its provider's concurrency
			// (16 by default) in flight.
			assert.LessOrEqual(t, ambiguous, 16)
			if kill {
				return
			}
			assert.Equal(t, "SUCCESS", got.TaskStatus)
			for p, c := range perProc {
				assert.GreaterOrEqual(t, c, n/5, "process %s sent %d of %d", p, c, n)
			}
			assert.Len(t, perProc, 3)
			peak, peakAt := maxPerSecond(hits)
			span := hits[len(hits)-1].at.Sub(hits[0].at)
			rate := float64(len(hits)-burst) / span.Seconds()
			t.Logf("peak %d in the second from %v; %.1f messages/s over %v", peak, peakAt, rate, span)
			// Redis grants at most limit + burst in any second. The gateway
			// sees each message some milliseconds after its grant (its
			// row's mark is committed in between, and the first commits of
			// a process open its connections), and the spread of that delay
			// puts more into one of its windows: a quarter of the limit
			// allows 250 ms of it (5 %, 50 ms, was once exceeded by 4
			// messages under CI's load). Without the shared limit the
			// gateway would see three times the limit; the mean rate below
			// is the close check.
			assert.LessOrEqual(t, peak, limit+burst+limit/4)
			assert.InEpsilon(t, float64(limit), rate, 0.02)
		})
	}
}

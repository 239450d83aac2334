package main

import (
	"context"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smsgateway/sms/internal/gateway/pgtest"
	"github.com/smsgateway/sms/internal/kanneltest"
)

// freeAddr returns a loopback address no one listens on now.
func freeAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	return ln.Addr().String()
}

// TestKillBeforeReports kills the service with SIGKILL after Kannel took a
// mailing and before any delivery report could come (the fake SMSC is
// stopped, so Kannel queues the messages). The SMSC then delivers them
// while the service is dead: Kannel's report callbacks fail, and it tries
// them again every second. The service restarted on the same database and
// address takes every report: none is lost.
func TestKillBeforeReports(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the service as a subprocess, and Kannel")
	}
	g := kanneltest.Start(t)
	for _, backend := range pgtest.Backends(t) {
		t.Run(backend, func(t *testing.T) {
			const n = 50
			g.StopSMSC(t)
			dir := t.TempDir()
			addr := freeAddr(t)
			cfg := map[string]any{
				"public_url": "http://" + addr,
				"providers": map[string]any{"kannel": map[string]any{"type": "httpquery", "options": map[string]any{
					"preset": "kannel", "url": g.SendSMSURL, "username": g.Username, "password": g.Password,
				}}},
				"retry": map[string]any{"max_attempts": 1},
			}
			b, err := json.Marshal(cfg)
			require.NoError(t, err)
			cfgPath := filepath.Join(dir, "config.json")
			require.NoError(t, os.WriteFile(cfgPath, b, 0o600))
			args := []string{"-data-dir", filepath.Join(dir, "data"), "-config", cfgPath, "-addr", addr}
			if backend == "postgres" {
				args = append(args, "-database", pgtest.SchemaURL(t))
			}

			first := startProc(t, args...)
			_, body := numbers(n)
			mailing := first.post(t, "/mailing?address=kannel&message=Hi&wait=0", body)
			got := first.await(t, mailing.TaskID, 30*time.Second)
			require.Equal(t, n, got.Progress.Counts["sent"], "Kannel queued every message")
			require.Equal(t, map[string]int{"pending": n}, got.Progress.Delivery)
			first.kill(t)

			before := len(g.Received())
			g.StartSMSC(t) // the reports start now, to a dead service
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			_, err = g.WaitReceived(ctx, before+n)
			require.NoError(t, err)

			second := startProc(t, args...)
			require.EventuallyWithT(t, func(c *assert.CollectT) {
				pr := second.task(c, mailing.TaskID).Progress
				if assert.NotNil(c, pr) {
					assert.Equal(c, map[string]int{"delivered": n}, pr.Delivery)
				}
			}, 60*time.Second, 200*time.Millisecond, "every report arrives after the restart\n%s", second.log())
			require.NoError(t, second.term(t, 30*time.Second))
		})
	}
}

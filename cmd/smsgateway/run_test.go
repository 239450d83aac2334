package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRunFromEnvironment runs the service in-process with its settings from
// the environment, and stops it through the context.
func TestRunFromEnvironment(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{
		"SMSGATEWAY_ADDR":     "127.0.0.1:0",
		"SMSGATEWAY_DATA_DIR": filepath.Join(dir, "from-env"),
		"SMSGATEWAY_CONFIG":   "gateway.example.json",
	}
	ctx, cancel := context.WithCancel(context.Background())
	logs := &stopWhenListening{cancel: cancel}
	require.NoError(t, run(ctx, nil, func(k string) string { return env[k] }, logs), logs.String())
	_, err := os.Stat(filepath.Join(dir, "from-env", "smsgateway.db"))
	assert.NoError(t, err, "the database is in the data directory from the environment")
	assert.Contains(t, logs.String(), `"msg":"smsgateway stopped"`)
	assert.NotContains(t, logs.String(), "change-me", "API keys and passwords are not logged")
}

func TestRunFlagsWinOverEnvironment(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"SMSGATEWAY_DATA_DIR": filepath.Join(dir, "env")}
	ctx, cancel := context.WithCancel(context.Background())
	logs := &stopWhenListening{cancel: cancel}
	require.NoError(t, run(ctx, []string{"-addr", "127.0.0.1:0", "-data-dir", filepath.Join(dir, "flag")}, func(k string) string { return env[k] }, logs), logs.String())
	_, err := os.Stat(filepath.Join(dir, "flag", "smsgateway.db"))
	assert.NoError(t, err)
	_, err = os.Stat(filepath.Join(dir, "env"))
	assert.ErrorIs(t, err, os.ErrNotExist)
}

func TestRunRejectsBadSettings(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.json")
	require.NoError(t, os.WriteFile(bad, []byte(`{"providers": {"x": {"type": "nope"}}}`), 0o600))
	for _, args := range [][]string{
		{"-log-level", "loud"},
		{"-config", bad},
		{"-config", filepath.Join(dir, "missing.json")},
		{"-no-such-flag"},
		{"-database", "postgres://u:sekret@127.0.0.1:1/db?connect_timeout=1"},
		{"-database", "postgres://u:sekret@127.0.0.1:99999999/db"}, // does not parse
	} {
		t.Run(args[0], func(t *testing.T) {
			var logs bytes.Buffer
			err := run(context.Background(), append([]string{"-addr", "127.0.0.1:0", "-data-dir", filepath.Join(dir, "data")}, args...), func(string) string { return "" }, &logs)
			require.Error(t, err)
			assert.NotContains(t, err.Error(), "sekret", "a database password is not shown")
		})
	}
}

// stopWhenListening collects the log and cancels the service's context once
// it listens.
type stopWhenListening struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	cancel context.CancelFunc
}

func (w *stopWhenListening) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if bytes.Contains(p, []byte(`"msg":"smsgateway listening"`)) {
		w.cancel()
	}
	return w.buf.Write(p)
}

func (w *stopWhenListening) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// TestRunHelp: -h prints the usage and is no error (exit status 0).
func TestRunHelp(t *testing.T) {
	for _, arg := range []string{"-h", "-help"} {
		var out bytes.Buffer
		err := run(context.Background(), []string{arg}, func(string) string { return "" }, &out)
		assert.NoError(t, err, arg)
		assert.Contains(t, out.String(), "-data-dir", arg)
	}
}

// TestExampleConfigInDocs: docs/service.md shows gateway.example.json as it
// is, so that what a reader copies from the page is the file a test loads.
func TestExampleConfigInDocs(t *testing.T) {
	file, err := os.ReadFile("gateway.example.json")
	require.NoError(t, err)
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "service.md"))
	require.NoError(t, err)
	_, after, ok := bytes.Cut(doc, []byte("`cmd/smsgateway/gateway.example.json`, as it is"))
	require.True(t, ok, "docs/service.md names the example file")
	_, block, ok := bytes.Cut(after, []byte("```json\n"))
	require.True(t, ok, "a JSON block follows")
	block, _, ok = bytes.Cut(block, []byte("```"))
	require.True(t, ok)
	assert.Equal(t, string(bytes.TrimSpace(file)), string(bytes.TrimSpace(block)))
}

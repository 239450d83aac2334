package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/smsgateway/sms/internal/gateway/pgtest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		_ = os.RemoveAll(buildDir)
	}
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
	buildDir  string
)

// binary builds the service once per test run, into a temporary directory.
func binary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		buildDir, buildErr = os.MkdirTemp("", "smsgateway-test-")
		if buildErr != nil {
			return
		}
		binPath = filepath.Join(buildDir, "smsgateway")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	require.NoError(t, buildErr)
	return binPath
}

// proc is a running service process.
type proc struct {
	cmd  *exec.Cmd
	addr string
	done chan error
	logs *bytes.Buffer
	mu   *sync.Mutex
}

// startProc starts the binary and waits until it listens.
func startProc(t *testing.T, args ...string) *proc {
	t.Helper()
	cmd := exec.Command(binary(t), append([]string{"-addr", "127.0.0.1:0"}, args...)...)
	cmd.Env = append(os.Environ(), "SMSGATEWAY_ADDR=", "SMSGATEWAY_API_KEYS=")
	stderr, err := cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	p := &proc{cmd: cmd, done: make(chan error, 1), logs: &bytes.Buffer{}, mu: &sync.Mutex{}}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			line := sc.Bytes()
			p.mu.Lock()
			p.logs.Write(line)
			p.logs.WriteByte('\n')
			p.mu.Unlock()
			var rec struct {
				Msg  string `json:"msg"`
				Addr string `json:"addr"`
			}
			if json.Unmarshal(line, &rec) == nil && rec.Msg == "smsgateway listening" {
				addr <- rec.Addr
			}
		}
		_, _ = io.Copy(io.Discard, stderr)
		p.done <- cmd.Wait()
	}()
	select {
	case p.addr = <-addr:
	case err := <-p.done:
		t.Fatalf("service exited before listening: %v\n%s", err, p.log())
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		<-p.done
		t.Fatalf("service did not start\n%s", p.log())
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			select {
			case <-p.done:
			case <-time.After(10 * time.Second):
			}
		}
	})
	return p
}

func (p *proc) log() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.logs.String()
}

// kill ends the process with SIGKILL: no cleanup of any kind runs.
func (p *proc) kill(t *testing.T) {
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGKILL))
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		t.Fatal("process did not die")
	}
}

// term sends SIGTERM and returns the exit error.
func (p *proc) term(t *testing.T, within time.Duration) error {
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGTERM))
	select {
	case err := <-p.done:
		return err
	case <-time.After(within):
		t.Fatalf("no exit within %v after SIGTERM\n%s", within, p.log())
		return nil
	}
}

type taskAnswer struct {
	TaskID     string `json:"task_id"`
	TaskStatus string `json:"task_status"`
	TaskResult []struct {
		Number json.Number `json:"number"`
		State  string      `json:"state"`
		Kind   string      `json:"kind"`
		Error  string      `json:"error"`
	} `json:"task_result"`
	Progress *struct {
		Done     int            `json:"done"`
		Total    int            `json:"total"`
		Counts   map[string]int `json:"counts"`
		Delivery map[string]int `json:"delivery"`
	} `json:"progress"`
}

func (p *proc) post(t *testing.T, path, body string) taskAnswer {
	t.Helper()
	resp, err := http.Post("http://"+p.addr+path, "application/json", strings.NewReader(body))
	require.NoError(t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s", b)
	var a struct {
		TaskID     string `json:"task_id"`
		TaskStatus string `json:"task_status"`
	}
	require.NoError(t, json.Unmarshal(b, &a), "%s", b)
	return taskAnswer{TaskID: a.TaskID, TaskStatus: a.TaskStatus}
}

// task reads GET /tasks/{id}; a single sending's result is read as a list
// of one.
func (p *proc) task(t require.TestingT, id string) taskAnswer {
	resp, err := http.Get("http://" + p.addr + "/tasks/" + id)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s", b)
	var raw map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(b, &raw))
	if r := bytes.TrimSpace(raw["task_result"]); len(r) > 0 && r[0] == '{' {
		raw["task_result"] = append(append([]byte{'['}, r...), ']')
		b, _ = json.Marshal(raw)
	}
	var a taskAnswer
	require.NoError(t, json.Unmarshal(b, &a), "%s", b)
	return a
}

func (p *proc) await(t *testing.T, id string, within time.Duration) taskAnswer {
	t.Helper()
	var a taskAnswer
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		a = p.task(c, id)
		assert.Contains(c, []string{"SUCCESS", "FAILURE"}, a.TaskStatus)
	}, within, 100*time.Millisecond, "task %s did not finish\n%s", id, p.log())
	return a
}

// outbox counts the lines of the log provider's outbox per number.
func outbox(t *testing.T, path string) map[string]int {
	t.Helper()
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return map[string]int{}
	}
	require.NoError(t, err)
	out := map[string]int{}
	for _, line := range bytes.Split(bytes.TrimSpace(b), []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		var rec struct {
			To string `json:"to"`
		}
		require.NoError(t, json.Unmarshal(line, &rec), "%s", line)
		out[rec.To]++
	}
	return out
}

const concurrency = 4

// writeConfig writes a configuration with a slow "log" provider that
// records every message in an outbox file.
func writeConfig(t *testing.T, dir string) (cfgPath, outboxPath string) {
	outboxPath = filepath.Join(dir, "outbox.jsonl")
	cfg := map[string]any{
		"providers": map[string]any{
			"log": map[string]any{"type": "log", "concurrency": concurrency, "options": map[string]any{"delay": "100ms", "outbox": outboxPath}},
		},
		"send_timeout":     "2s",
		"retry":            map[string]any{"max_attempts": 1},
		"mailing_slice":    "1s",
		"shutdown_timeout": "10s",
	}
	b, err := json.Marshal(cfg)
	require.NoError(t, err)
	cfgPath = filepath.Join(dir, "config.json")
	require.NoError(t, os.WriteFile(cfgPath, b, 0o600))
	return cfgPath, outboxPath
}

// setup returns the arguments of a service with the slow "log" provider
// and its own data directory (or PostgreSQL schema), and the path of the
// provider's outbox.
func setup(t *testing.T, backend string) (args []string, outboxPath string) {
	dir := t.TempDir()
	cfgPath, outboxPath := writeConfig(t, dir)
	args = []string{"-data-dir", filepath.Join(dir, "data"), "-config", cfgPath}
	if backend == "postgres" {
		args = append(args, "-database", pgtest.SchemaURL(t))
	}
	return args, outboxPath
}

// startMailing posts a mailing of n numbers and waits until done of them
// are finished.
func (p *proc) startMailing(t *testing.T, n, done int) (list []string, taskID string) {
	t.Helper()
	list, body := numbers(n)
	mailing := p.post(t, "/mailing?address=log&message=Welcome!&wait=0", body)
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		pr := p.task(c, mailing.TaskID).Progress
		if assert.NotNil(c, pr) {
			assert.GreaterOrEqual(c, pr.Done, done)
		}
	}, 20*time.Second, 20*time.Millisecond)
	return list, mailing.TaskID
}

func numbers(n int) (list []string, body string) {
	for i := range n {
		list = append(list, fmt.Sprintf("7999%07d", i))
	}
	return list, "[" + strings.Join(list, ",") + "]"
}

// TestKillAndRestart kills the service with SIGKILL in the middle of a
// mailing and before a delayed sending is due, restarts it on the same data
// directory, and checks that everything is finished, nothing is lost, and
// no number is sent twice: the messages in flight at the kill are reported
// as ambiguous, not resent.
func TestKillAndRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the service as a subprocess and waits for River's rescuer")
	}
	for _, backend := range pgtest.Backends(t) {
		t.Run(backend, func(t *testing.T) {
			args, outboxPath := setup(t, backend)
			a := startProc(t, args...)
			delayed := a.post(t, "/sending?address=log&phone_number=79161234567&message=later&delay=3s&wait=0", "")
			require.Equal(t, "PENDING", delayed.TaskStatus)
			list, mailing := a.startMailing(t, 80, 20)
			a.kill(t)
			before := outbox(t, outboxPath)
			require.Less(t, len(before), len(list), "the kill came before the end of the mailing")
			assert.Zero(t, before["79161234567"], "the delayed sending was not due")

			b := startProc(t, args...)
			got := b.await(t, mailing, 90*time.Second)
			d := b.await(t, delayed.TaskID, 30*time.Second)
			assert.Equal(t, "SUCCESS", d.TaskStatus)

			sent := outbox(t, outboxPath)
			assert.Equal(t, 1, sent["79161234567"], "the delayed sending ran once")
			require.Len(t, got.TaskResult, len(list))
			interrupted := 0
			for i, r := range got.TaskResult {
				n := list[i]
				assert.Equal(t, n, r.Number.String())
				assert.LessOrEqual(t, sent[n], 1, "number %s sent twice", n)
				switch r.State {
				case "sent":
					assert.Equal(t, 1, sent[n], "number %s is sent but not in the outbox", n)
				case "failed":
					// In flight at the kill: maybe sent, never resent.
					assert.Equal(t, "ambiguous", r.Kind)
					interrupted++
				default:
					t.Errorf("number %s ended %q", n, r.State)
				}
			}
			assert.LessOrEqual(t, interrupted, concurrency, "only messages in flight can be ambiguous")
			t.Logf("sent before the kill: %d, in flight at the kill: %d, total %d", len(before), interrupted, len(list))
			require.NoError(t, b.term(t, 30*time.Second))
		})
	}
}

// TestGracefulStop sends SIGTERM in the middle of a mailing: the process
// exits cleanly, the messages in flight finish, and after a restart the rest
// is sent, each number exactly once.
func TestGracefulStop(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the service as a subprocess")
	}
	for _, backend := range pgtest.Backends(t) {
		t.Run(backend, func(t *testing.T) {
			args, outboxPath := setup(t, backend)
			a := startProc(t, args...)
			list, mailing := a.startMailing(t, 60, 10)
			require.NoError(t, a.term(t, 20*time.Second), "exit status after SIGTERM")
			before := outbox(t, outboxPath)
			require.Less(t, len(before), len(list))

			b := startProc(t, args...)
			got := b.await(t, mailing, 60*time.Second)
			assert.Equal(t, "SUCCESS", got.TaskStatus)
			sent := outbox(t, outboxPath)
			for i, r := range got.TaskResult {
				assert.Equal(t, "sent", r.State, "number %s", list[i])
				assert.Equal(t, 1, sent[list[i]], "number %s", list[i])
			}
			require.NoError(t, b.term(t, 30*time.Second))
		})
	}
}

// TestDataDirLock refuses a second process on the same data directory.
func TestDataDirLock(t *testing.T) {
	data := t.TempDir()
	startProc(t, "-data-dir", data)
	out, err := exec.Command(binary(t), "-addr", "127.0.0.1:0", "-data-dir", data).CombinedOutput()
	var exit *exec.ExitError
	require.ErrorAs(t, err, &exit)
	assert.Contains(t, string(out), "in use")
}

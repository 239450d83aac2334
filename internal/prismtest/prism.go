// Package prismtest starts Prism (@stoplight/prism-cli) as a contract mock
// of an OpenAPI specification for tests: Prism validates every request
// against the specification, answers 401 or 422 to what breaks it (with
// the violated rule in its log) and answers valid requests with the
// specification's examples.
//
// Start skips the test when prism is not on PATH, or fails it when the
// environment variable SMS_REQUIRE_PRISM is "1" (as CI sets; .ci/run
// installs Prism from npm). Prism needs no network at run time.
package prismtest

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// RequireEnv names the environment variable that turns a missing prism
// into a test failure.
const RequireEnv = "SMS_REQUIRE_PRISM"

// startTimeout bounds Prism's start (about 5 s on Twilio's specification).
const startTimeout = 90 * time.Second

// Mock is one running Prism. Its methods must be called from one
// goroutine at a time.
type Mock struct {
	// URL is Prism's base URL, such as "http://127.0.0.1:40123"; the
	// specification's paths go after it.
	URL string

	cmd     *exec.Cmd
	done    chan struct{} // closed when the log reader has seen the end
	changed chan struct{} // signalled when the log grows

	mu    sync.Mutex
	log   strings.Builder
	taken int // how much of log Take has returned
	marks int
}

// Start runs "prism mock spec -h 127.0.0.1 -p PORT" on a free port, waits
// until it listens, and stops it in t.Cleanup.
func Start(t testing.TB, spec string) *Mock {
	t.Helper()
	bin, err := exec.LookPath("prism")
	if err != nil {
		msg := "prismtest: prism is not on PATH; install it with npm install -g @stoplight/prism-cli"
		if os.Getenv(RequireEnv) == "1" {
			t.Fatalf("%s (%s=1 makes this a failure)", msg, RequireEnv)
		}
		t.Skipf("%s, or set %s=1 to fail instead of skipping", msg, RequireEnv)
	}
	port, err := freePort()
	if err != nil {
		t.Fatalf("prismtest: %v", err)
	}
	m := &Mock{
		URL:     "http://127.0.0.1:" + strconv.Itoa(port),
		done:    make(chan struct{}),
		changed: make(chan struct{}, 1),
	}
	m.cmd = exec.Command(bin, "mock", spec, "-h", "127.0.0.1", "-p", strconv.Itoa(port))
	m.cmd.Env = append(os.Environ(), "NO_COLOR=1")
	m.cmd.SysProcAttr = sysProcAttr()
	out, err := m.cmd.StdoutPipe()
	if err != nil {
		t.Fatalf("prismtest: %v", err)
	}
	m.cmd.Stderr = m.cmd.Stdout
	if err := m.cmd.Start(); err != nil {
		t.Fatalf("prismtest: start prism: %v", err)
	}
	go m.read(out)
	t.Cleanup(m.stop)
	begin := time.Now()
	if !m.waitFor("Prism is listening", startTimeout) {
		t.Fatalf("prismtest: prism did not start within %v; its log:\n%s", startTimeout, m.all())
	}
	t.Logf("prismtest: %s ready in %v at %s", spec, time.Since(begin).Round(time.Millisecond), m.URL)
	m.mu.Lock()
	m.taken = m.log.Len()
	m.mu.Unlock()
	return m
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// read copies Prism's output into the log until it ends.
func (m *Mock) read(r io.Reader) {
	defer close(m.done)
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		m.mu.Lock()
		m.log.WriteString(sc.Text())
		m.log.WriteByte('\n')
		m.mu.Unlock()
		select {
		case m.changed <- struct{}{}:
		default:
		}
	}
	_, _ = io.Copy(io.Discard, r)
}

// waitFor waits until the log contains s; false when Prism exited or the
// timeout passed first.
func (m *Mock) waitFor(s string, timeout time.Duration) bool {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		m.mu.Lock()
		found := strings.Contains(m.log.String()[m.taken:], s)
		m.mu.Unlock()
		if found {
			return true
		}
		select {
		case <-m.changed:
		case <-m.done:
			m.mu.Lock()
			defer m.mu.Unlock()
			return strings.Contains(m.log.String()[m.taken:], s)
		case <-deadline.C:
			return false
		}
	}
}

func (m *Mock) all() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.log.String()
}

// Take returns Prism's log of the requests made since the last Take (or
// since Start): it sends a marker request and waits until Prism has
// finished with it, so that every line of the earlier requests is in. The
// marker's own lines are left out.
func (m *Mock) Take(t testing.TB) string {
	t.Helper()
	m.marks++
	mark := fmt.Sprintf("/prismtest/mark-%d ", m.marks)
	resp, err := http.Get(m.URL + strings.TrimSpace(mark))
	if err != nil {
		t.Fatalf("prismtest: marker request: %v", err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	const finished = "Request terminated"
	deadline := time.NewTimer(10 * time.Second)
	defer deadline.Stop()
	for {
		m.mu.Lock()
		s := m.log.String()[m.taken:]
		first := strings.Index(s, mark)
		last := -1
		if first >= 0 {
			for i := first; ; {
				j := strings.Index(s[i:], mark)
				if j < 0 {
					break
				}
				i += j
				line := s[i:]
				if k := strings.IndexByte(line, '\n'); k >= 0 {
					line = line[:k]
				}
				if strings.Contains(line, finished) {
					last = i
					break
				}
				i += len(mark)
			}
		}
		if last >= 0 {
			start := strings.LastIndexByte(s[:first], '\n') + 1
			part := s[:start]
			end := last + strings.IndexByte(s[last:], '\n') + 1
			m.taken += end
			m.mu.Unlock()
			return part
		}
		m.mu.Unlock()
		select {
		case <-m.changed:
		case <-m.done:
			t.Fatalf("prismtest: prism exited; its log:\n%s", m.all())
		case <-deadline.C:
			t.Fatalf("prismtest: prism did not finish the marker request; its log:\n%s", m.all())
		}
	}
}

// Violations returns the lines of a log in which Prism's validator
// reports a problem with a request (a warning or an error), and those of
// requests it refused. Prism's checks of its own answers ("Violation:
// response...", which it makes of the specification's examples) are not
// about the request and are left out.
func Violations(log string) []string {
	var v []string
	for _, line := range strings.Split(log, "\n") {
		if strings.Contains(line, "Violation: response") {
			continue
		}
		validator := strings.Contains(line, "[VALIDATOR]") && (strings.Contains(line, "warning") || strings.Contains(line, "error"))
		if validator || strings.Contains(line, "Request terminated with error") {
			v = append(v, strings.TrimSpace(line))
		}
	}
	return v
}

// stop ends Prism and waits until its output is read to the end.
func (m *Mock) stop() {
	_ = m.cmd.Process.Kill()
	<-m.done
	_ = m.cmd.Wait()
}

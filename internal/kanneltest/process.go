package kanneltest

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"time"
)

// stopGrace is how long a process may take to exit after SIGTERM before
// its process group gets SIGKILL.
const stopGrace = 5 * time.Second

// process is one child started by the harness, in its own process group.
type process struct {
	name string
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited and was reaped
	err  error         // Wait's result, readable after done is closed
}

// startProcess starts path with args in dir, appending its stdout and
// stderr to logPath. One goroutine waits for it; it ends when the process
// exits, which stop guarantees.
func startProcess(name, dir, logPath, path string, args ...string) (*process, error) {
	out, err := os.OpenFile(logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	defer out.Close() // the child has its own copy once started

	cmd := exec.Command(path, args...)
	cmd.Dir = dir
	cmd.Stdout = out
	cmd.Stderr = out
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C"}
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("kanneltest: start %s: %w", name, err)
	}
	p := &process{name: name, cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// exited reports whether the process has ended.
func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop sends SIGTERM to the process group, then SIGKILL after stopGrace,
// and waits until the process is reaped. Only this process's own group is
// signalled; it is safe to call more than once.
func (p *process) stop() {
	if p.exited() {
		return
	}
	pid := p.cmd.Process.Pid
	if err := signalGroup(pid, syscall.SIGTERM); err != nil && !errors.Is(err, syscall.ESRCH) {
		_ = p.cmd.Process.Kill()
	}
	t := time.NewTimer(stopGrace)
	defer t.Stop()
	select {
	case <-p.done:
	case <-t.C:
		if err := signalGroup(pid, syscall.SIGKILL); err != nil {
			_ = p.cmd.Process.Kill()
		}
		<-p.done
	}
}

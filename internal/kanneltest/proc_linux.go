//go:build linux

package kanneltest

import "syscall"

// supported reports whether this platform can run the gateway.
const supported = true

// sysProcAttr puts a child into its own process group and makes the kernel
// kill it with SIGKILL when the thread that started it exits, so that no
// Kannel process outlives a crashed test binary.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// signalGroup sends sig to the process group led by pid.
func signalGroup(pid int, sig syscall.Signal) error {
	return syscall.Kill(-pid, sig)
}

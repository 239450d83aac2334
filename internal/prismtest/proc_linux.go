//go:build linux

package prismtest

import "syscall"

// sysProcAttr makes the kernel kill Prism when the thread that started it
// exits, so that no Prism outlives a crashed test binary.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}

//go:build !linux

package kanneltest

import (
	"errors"
	"syscall"
)

// supported reports whether this platform can run the gateway: the Debian
// packages and the process handling are Linux only.
const supported = false

func sysProcAttr() *syscall.SysProcAttr { return nil }

func signalGroup(int, syscall.Signal) error {
	return errors.New("kanneltest: process groups are supported on Linux only")
}

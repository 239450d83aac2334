//go:build !linux

package prismtest

import "syscall"

func sysProcAttr() *syscall.SysProcAttr { return nil }

//go:build !linux

package funcrunner

import "syscall"

// sysProcAttr puts the child in a process group of its own. Outside Linux
// there is no Pdeathsig: a child may outlive a parent that crashes.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}

//go:build unix && !linux

package backing

import "syscall"

// sysProcAttr puts MinIO in a process group of its own. Outside Linux there
// is no Pdeathsig: MinIO may outlive a dev runner that crashes.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}

// signalGroup signals the process group led by pid.
func signalGroup(pid int, sig syscall.Signal) { syscall.Kill(-pid, sig) }

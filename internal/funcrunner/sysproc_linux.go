package funcrunner

import "syscall"

// sysProcAttr puts the child in a process group of its own (so signals
// reach anything it forks) and has the kernel kill it if we die first.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

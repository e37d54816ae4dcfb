package backing

import "syscall"

// sysProcAttr puts MinIO in a process group of its own and has the kernel
// kill it if this process dies first.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// signalGroup signals the process group led by pid.
func signalGroup(pid int, sig syscall.Signal) { syscall.Kill(-pid, sig) }

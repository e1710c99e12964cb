package s3test

import "syscall"

// sysProcAttr makes the server die with the test binary, even when that is
// killed.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}

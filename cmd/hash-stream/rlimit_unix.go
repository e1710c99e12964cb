//go:build unix

package main

import "syscall"

// openFileLimit returns the process's open file limit (RLIMIT_NOFILE, as
// Go raised it at start: the hard limit).
func openFileLimit() (int, bool) {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil || rl.Cur > 1<<30 {
		return 0, false
	}
	return int(rl.Cur), true
}

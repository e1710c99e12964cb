//go:build !unix

package main

// openFileLimit reports no limit where RLIMIT_NOFILE does not exist.
func openFileLimit() (int, bool) { return 0, false }

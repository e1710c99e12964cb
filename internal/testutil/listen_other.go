//go:build !linux

package testutil

import (
	"errors"
	"fmt"
)

// ListenPorts returns the TCP ports process pid listens on. It reads /proc
// and so works on Linux only; elsewhere it returns an error.
func ListenPorts(pid int) ([]int, error) {
	return nil, fmt.Errorf("testutil: ports of %d: %w", pid, errors.ErrUnsupported)
}

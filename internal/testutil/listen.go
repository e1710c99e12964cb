package testutil

import (
	"errors"
	"fmt"
	"time"
)

// ErrExited is returned by WaitListen when the process ended first.
var ErrExited = errors.New("exited before it listened")

// WaitListen waits until process pid listens on ports that ready accepts
// and returns them. It polls ListenPorts until timeout, and gives up at
// once with ErrExited when exited is closed (a server that could not bind
// its address exits).
func WaitListen(pid int, exited <-chan struct{}, ready func(ports []int) bool, timeout time.Duration) ([]int, error) {
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(timeout)
	for {
		select {
		case <-exited:
			return nil, ErrExited
		default:
		}
		ports, err := ListenPorts(pid)
		if err != nil {
			return nil, err
		}
		if ready(ports) {
			return ports, nil
		}
		select {
		case <-exited:
			return nil, ErrExited
		case <-deadline:
			return nil, fmt.Errorf("testutil: process %d listens on %v, not what is awaited, after %v", pid, ports, timeout)
		case <-tick.C:
		}
	}
}

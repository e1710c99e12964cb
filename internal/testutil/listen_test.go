package testutil

import (
	"errors"
	"net"
	"os"
	"slices"
	"testing"
	"time"
)

func TestListenPorts(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	ports, err := WaitListen(os.Getpid(), nil, func(p []int) bool { return slices.Contains(p, port) }, 30*time.Second)
	if errors.Is(err, errors.ErrUnsupported) {
		t.Skipf("no /proc here: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(ports, port) {
		t.Fatalf("ports %v lack %d", ports, port)
	}
	ln.Close()
	after, err := ListenPorts(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if slices.Contains(after, port) {
		t.Fatalf("closed port %d still listed: %v", port, after)
	}
}

func TestWaitListenExited(t *testing.T) {
	exited := make(chan struct{})
	close(exited)
	if _, err := WaitListen(os.Getpid(), exited, func([]int) bool { return false }, 30*time.Second); err != ErrExited {
		t.Fatalf("err = %v, want ErrExited", err)
	}
}

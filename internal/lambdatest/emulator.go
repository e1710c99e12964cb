package lambdatest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hash-stream/hash-stream-aws/internal/testutil"
)

// EmulatorCommand is the Runtime Interface Emulator's program name, looked
// up on PATH.
const EmulatorCommand = "aws-lambda-rie"

// EmulatorPath returns the path of aws-lambda-rie on PATH. If it is
// missing, it skips the test, or fails it when the environment has
// CI=true, so that CI cannot silently skip the emulator tests.
func EmulatorPath(t testing.TB) string {
	t.Helper()
	p, err := exec.LookPath(EmulatorCommand)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("lambdatest: %s not on PATH with CI=true: %v", EmulatorCommand, err)
		}
		t.Skipf("lambdatest: %s not on PATH (make test puts .tools/bin first): %v", EmulatorCommand, err)
	}
	return p
}

// Emulator is a running Runtime Interface Emulator serving one function
// binary. It buffers each response whole (at most 6 MiB) and drops errors
// raised after the first byte: test streaming with Runtime instead.
type Emulator struct {
	url    string
	client *http.Client
	mu     sync.Mutex // the emulator fails on concurrent invokes
	pid    int
	out    *testutil.Buffer
}

// Output returns what the emulator and the function wrote so far (the
// function's log lines among them).
func (e *Emulator) Output() string { return e.out.String() }

// FunctionPID returns the process id of the function the emulator runs
// (its child), or 0 when it runs none (before the first invoke).
func (e *Emulator) FunctionPID() int {
	// A child is listed under the thread that started it: read them all.
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", e.pid))
	for _, f := range tasks {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		if fields := strings.Fields(string(b)); len(fields) > 0 {
			pid, _ := strconv.Atoi(fields[0])
			return pid
		}
	}
	return 0
}

// StartEmulator starts aws-lambda-rie (see EmulatorPath) on two free
// 127.0.0.1 ports, serving binary as the function with env ("KEY=value",
// e.g. AWS_LAMBDA_FUNCTION_TIMEOUT=5) as its whole environment besides
// what the emulator adds. It waits until the emulator accepts connections;
// the emulator and the function are killed when the test ends.
func StartEmulator(t testing.TB, binary string, env ...string) *Emulator {
	t.Helper()
	rie := EmulatorPath(t)
	abs, err := filepath.Abs(binary)
	if err != nil {
		t.Fatalf("lambdatest: %v", err)
	}
	invokeAddr, apiAddr := freeAddr(t), freeAddr(t)
	cmd, out := startProcess(t, rie, env, []string{
		"--runtime-interface-emulator-address", invokeAddr,
		"--runtime-api-address", apiAddr,
		abs,
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", invokeAddr, time.Second)
		if err == nil {
			_ = c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("lambdatest: emulator not listening on %s: %v", invokeAddr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	transport := &http.Transport{Proxy: nil}
	t.Cleanup(transport.CloseIdleConnections)
	return &Emulator{
		url:    "http://" + invokeAddr + "/2015-03-31/functions/function/invocations",
		client: &http.Client{Transport: transport},
		pid:    cmd.Process.Pid,
		out:    out,
	}
}

// Invoke sends event to the function and returns the emulator's reply: its
// status code (200 even for most function errors) and the whole buffered
// body: for a Function URL streaming response, a prelude, eight NUL bytes
// and the body (see DecodeHTTPResponse); for a function error, its JSON.
// Calls are serialized.
func (e *Emulator) Invoke(ctx context.Context, event []byte) (int, []byte, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.url, bytes.NewReader(event))
	if err != nil {
		return 0, nil, fmt.Errorf("lambdatest: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := e.client.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("lambdatest: invoke: %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, b, fmt.Errorf("lambdatest: read invoke response: %w", err)
	}
	return resp.StatusCode, b, nil
}

// InvokeHTTP invokes a Function URL streaming function and decodes its
// response. A reply other than 200 is an error carrying its body.
func (e *Emulator) InvokeHTTP(ctx context.Context, event []byte) (*HTTPResponse, error) {
	code, b, err := e.Invoke(ctx, event)
	if err != nil {
		return nil, err
	}
	if code != http.StatusOK {
		return nil, fmt.Errorf("lambdatest: emulator replied %d: %s", code, b)
	}
	return DecodeHTTPResponse(b)
}

// freeAddr returns a 127.0.0.1 address whose port was free a moment ago.
func freeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("lambdatest: listen: %v", err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	return addr
}

package lambdatest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"

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

// StartEmulator starts aws-lambda-rie (see EmulatorPath) on 127.0.0.1
// (see LaunchEmulator), serving binary as the function with env
// ("KEY=value", e.g. AWS_LAMBDA_FUNCTION_TIMEOUT=5) as its whole
// environment besides what the emulator adds. It returns once the
// emulator listens; the emulator and the function are killed when the
// test ends, and their output is logged if the test failed.
func StartEmulator(t testing.TB, binary string, env ...string) *Emulator {
	t.Helper()
	rie := EmulatorPath(t)
	out := &testutil.Buffer{}
	p, err := LaunchEmulator(rie, binary, env, out)
	if err != nil {
		t.Fatalf("lambdatest: %v; output:\n%s", err, out.String())
	}
	t.Cleanup(func() {
		p.Stop()
		if t.Failed() {
			t.Logf("lambdatest: output of %s:\n%s", EmulatorCommand, out.String())
		}
	})
	transport := &http.Transport{Proxy: nil}
	t.Cleanup(transport.CloseIdleConnections)
	return &Emulator{
		url:    p.InvokeURL,
		client: &http.Client{Transport: transport},
		pid:    p.Pid(),
		out:    out,
	}
}

// EmulatorProcess is a running aws-lambda-rie started by LaunchEmulator.
type EmulatorProcess struct {
	// InvokeURL is where an event is posted to invoke the function.
	InvokeURL string
	// Exited is closed when the emulator has exited.
	Exited <-chan struct{}

	cmd *exec.Cmd
}

// Pid returns the emulator's process id.
func (p *EmulatorProcess) Pid() int { return p.cmd.Process.Pid }

// Stop kills the emulator and the function it runs (its process group)
// and waits until the emulator has exited, so that its output is whole.
func (p *EmulatorProcess) Stop() {
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	<-p.Exited
}

// emulatorStarts bounds LaunchEmulator's attempts.
const emulatorStarts = 5

// LaunchEmulator starts rie serving binary with exactly env, its output
// (and the function's) written to out, in a process group of its own.
//
// The emulator's invoke server binds port 0 itself and its port is read
// from /proc, so no other process can take it between a choice and a
// bind. The Runtime API port cannot be port 0: the emulator hands its
// address, as given, to the function as AWS_LAMBDA_RUNTIME_API. So it is a
// port free a moment before, and a start whose emulator could not bind it
// (the emulator exits) is tried again on another, up to 5 times. It
// returns once the emulator listens on both ports.
func LaunchEmulator(rie, binary string, env []string, out io.Writer) (*EmulatorProcess, error) {
	abs, err := filepath.Abs(binary)
	if err != nil {
		return nil, fmt.Errorf("lambdatest: %w", err)
	}
	for attempt := 1; ; attempt++ {
		p, err := launchEmulator(rie, abs, env, out)
		if err == nil || !errors.Is(err, testutil.ErrExited) || attempt == emulatorStarts {
			return p, err
		}
	}
}

func launchEmulator(rie, binary string, env []string, out io.Writer) (*EmulatorProcess, error) {
	apiPort, err := freePort()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(rie,
		"--runtime-interface-emulator-address", "127.0.0.1:0",
		"--runtime-api-address", "127.0.0.1:"+strconv.Itoa(apiPort),
		binary)
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("lambdatest: start %s: %w", rie, err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait() // the exit status of a killed process is expected
		close(exited)
	}()
	p := &EmulatorProcess{Exited: exited, cmd: cmd}
	ports, err := testutil.WaitListen(cmd.Process.Pid, exited, func(ports []int) bool {
		return len(ports) == 2 && slices.Contains(ports, apiPort)
	}, StartTimeout)
	if err != nil {
		p.Stop()
		return nil, fmt.Errorf("lambdatest: %s: %w", rie, err)
	}
	invokePort := ports[0]
	if invokePort == apiPort {
		invokePort = ports[1]
	}
	p.InvokeURL = "http://127.0.0.1:" + strconv.Itoa(invokePort) + "/2015-03-31/functions/function/invocations"
	return p, nil
}

// StartTimeout bounds how long LaunchEmulator waits for the emulator to
// listen: testutil.WaitTimeout, generous for a loaded machine.
const StartTimeout = testutil.WaitTimeout

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

// freePort returns a port of 127.0.0.1 that was free a moment ago.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("lambdatest: listen: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

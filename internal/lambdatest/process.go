package lambdatest

import (
	"os/exec"
	"syscall"
	"testing"

	"github.com/hash-stream/hash-stream-aws/internal/testutil"
)

// startProcess runs name with args and exactly env, in its own process
// group so that it and its children are killed, by group id, when the test
// ends. Its output, which it returns, is logged if the test failed.
func startProcess(t testing.TB, name string, env []string, args []string) (*exec.Cmd, *testutil.Buffer) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = env
	out := &testutil.Buffer{}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("lambdatest: start %s: %v", name, err)
	}
	waited := make(chan struct{})
	go func() {
		_ = cmd.Wait() // the exit status of a killed process is expected
		close(waited)
	}()
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-waited
		if t.Failed() {
			t.Logf("lambdatest: output of %s:\n%s", name, out.String())
		}
	})
	return cmd, out
}

package lambdaurl

import (
	"bytes"
	"fmt"
	"os/exec"
	"sync"
	"syscall"

	"github.com/hash-stream/hash-stream-aws/internal/lambdatest"
)

// functionARN is the invoked function ARN the environments' Runtime APIs
// send.
const functionARN = "arn:aws:lambda:us-east-1:123456789012:function:lambdaurl"

// environment is one execution environment: a Runtime API
// (lambdatest.Runtime) on its own 127.0.0.1 port and the bootstrap process
// polling it. It serves one invocation at a time (the Server's pool
// guarantees it).
type environment struct {
	s      *Server
	n      int
	starts int // guarded by s.mu

	mu     sync.Mutex
	rt     *lambdatest.Runtime
	exited chan struct{} // closed when the process has exited
	kill   func()
}

// ensure starts the environment if it is not running (a cold start).
func (e *environment) ensure() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.exited != nil {
		select {
		case <-e.exited:
		default:
			return nil // running
		}
	}
	rt, err := lambdatest.ListenRuntime(lambdatest.WithTimeout(e.s.opts.Timeout), lambdatest.WithFunctionARN(functionARN))
	if err != nil {
		return err
	}
	cmd := exec.Command(e.s.opts.Bootstrap)
	cmd.Env = append([]string{
		"AWS_LAMBDA_RUNTIME_API=" + rt.Addr(),
		"AWS_LAMBDA_FUNCTION_NAME=lambdaurl",
		"AWS_LAMBDA_FUNCTION_VERSION=$LATEST",
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE=1024",
		"AWS_REGION=us-east-1",
	}, e.s.opts.Env...)
	out := &logWriter{log: e.s.opts.Log, prefix: fmt.Sprintf("env %d: ", e.n)}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		_ = rt.Close()
		return fmt.Errorf("start %s: %w", e.s.opts.Bootstrap, err)
	}
	exited := make(chan struct{})
	go func() {
		err := cmd.Wait()
		for _, ie := range rt.InitErrors() {
			e.s.opts.Log("env %d: init error: %v", e.n, ie.Err())
		}
		e.s.opts.Log("env %d: bootstrap exited: %v", e.n, err)
		_ = rt.Close()
		close(exited)
	}()
	var once sync.Once
	e.rt, e.exited = rt, exited
	e.kill = func() {
		once.Do(func() { // never signal a process group id that may be reused
			select {
			case <-exited:
			default:
				_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
				<-exited
			}
		})
	}
	e.s.mu.Lock()
	e.starts++
	e.s.mu.Unlock()
	e.s.opts.Log("env %d: cold start (pid %d, runtime API %s)", e.n, cmd.Process.Pid, rt.Addr())
	return nil
}

// stop kills the environment's process, if any; ensure starts a new one.
func (e *environment) stop() {
	e.mu.Lock()
	kill := e.kill
	e.mu.Unlock()
	if kill != nil {
		kill()
	}
}

// logWriter sends a process's output, line by line, to a log function.
type logWriter struct {
	mu     sync.Mutex
	log    func(string, ...any)
	prefix string
	buf    []byte
}

func (l *logWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf = append(l.buf, p...)
	for {
		i := bytes.IndexByte(l.buf, '\n')
		if i < 0 {
			break
		}
		l.log("%s%s", l.prefix, l.buf[:i])
		l.buf = l.buf[i+1:]
	}
	if len(l.buf) > 64<<10 {
		l.log("%s%s", l.prefix, l.buf)
		l.buf = nil
	}
	return len(p), nil
}

package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"time"

	"github.com/hash-stream/hash-stream-aws/internal/lambdatest"
	"github.com/hash-stream/hash-stream-aws/internal/s3test"
	"github.com/hash-stream/hash-stream-aws/internal/testutil"
	"github.com/hash-stream/hash-stream-aws/lib/store/s3"
)

// startS3 finds the emulator first (so a missing tool fails before a
// server starts), then starts the local S3 server. stop ends the server.
func startS3() (rie string, srv *s3test.Server, stop func(), err error) {
	rie, err = exec.LookPath(lambdatest.EmulatorCommand)
	if err != nil {
		return "", nil, nil, fmt.Errorf("%s not found: run make tools (it installs it in .tools/bin)", lambdatest.EmulatorCommand)
	}
	srv, stop, err = s3test.Start()
	if err != nil {
		return "", nil, nil, err
	}
	if srv == nil {
		stop()
		return "", nil, nil, fmt.Errorf("no S3-compatible server: run make tools (it installs versitygw in .tools/bin)")
	}
	return rie, srv, stop, nil
}

// emulator is one bootstrap running under the Lambda Runtime Interface
// Emulator, with its output (the function's and the emulator's) kept.
type emulator struct {
	proc *lambdatest.EmulatorProcess
	logs testutil.Buffer
}

// startEmulator runs bootstrap under the emulator rie, configured for srv
// and the two buckets, and waits until it listens (lambdatest's launcher,
// as the tests use it). The emulator is killed when ctx ends; the caller
// calls stop once it has printed the answer.
func startEmulator(ctx context.Context, rie, bootstrap string, srv *s3test.Server, indexBucket, packBucket string) (*emulator, error) {
	e := &emulator{}
	env := append(srv.Env(),
		s3.EnvIndexBucket+"="+indexBucket, s3.EnvPackBucket+"="+packBucket,
		"PATH="+os.Getenv("PATH"), "HOME="+os.Getenv("HOME"))
	proc, err := lambdatest.LaunchEmulator(rie, bootstrap, env, &e.logs)
	if err != nil {
		return nil, fmt.Errorf("%w; output:\n%s", err, e.logs.String())
	}
	e.proc = proc
	context.AfterFunc(ctx, proc.Stop)
	return e, nil
}

// post sends one event and reads at most limit bytes of the answer (all of
// it if limit < 0); took runs from the request to the end of the answer.
func (e *emulator) post(event []byte, limit int64) (status int, answer []byte, took time.Duration, err error) {
	start := time.Now()
	resp, err := http.Post(e.proc.InvokeURL, "application/json", bytes.NewReader(event))
	if err != nil {
		return 0, nil, 0, err
	}
	defer resp.Body.Close()
	var body io.Reader = resp.Body
	if limit >= 0 {
		body = io.LimitReader(resp.Body, limit)
	}
	answer, err = io.ReadAll(body)
	if err != nil {
		return 0, nil, 0, err
	}
	return resp.StatusCode, answer, time.Since(start), nil
}

// stop ends the emulator and prints what it and the function logged.
func (e *emulator) stop() {
	e.proc.Stop()
	fmt.Printf("\n--- function and emulator log ---\n%s", e.logs.String())
}

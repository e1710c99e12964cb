// Package lambdatest is a test rig: it runs Lambda functions in tests and
// dev commands, on 127.0.0.1 only. It holds the repository's one fake
// Runtime API and its one emulator launcher.
//
//   - Build compiles a function's main package into a bootstrap binary
//     with -tags lambda.norpc, as Lambda's provided runtimes run it.
//   - Runtime is a fake Lambda Runtime API: the function's own runtime
//     client (aws-lambda-go's lambda.Start) polls it for events and posts
//     its responses to it, streamed. For an event queued with Invoke,
//     Runtime records when the first body bytes arrived, the whole body
//     and the error trailers: use it to test true streaming and mid-stream
//     failures. For one queued with InvokeStream, it hands the post over
//     as it arrives and the function's writes wait for the caller's reads
//     (package lambdaurl's local Function URL is built on that).
//   - Emulator drives the real Runtime Interface Emulator (aws-lambda-rie),
//     which buffers the whole response (6 MiB at most) and drops mid-stream
//     errors, but checks the function against the real runtime side.
//     LaunchEmulator starts it outside a test (internal/cmd/invoke).
//
// DecodeHTTPResponse splits a Function URL streaming response (a JSON
// prelude, eight NUL bytes, the body) as both return it.
//
// A typical test:
//
//	bin := lambdatest.Build(t, "./testdata/function")
//	rt := lambdatest.NewRuntime(t)
//	rt.Start(t, bin, "SOME_SETTING=x")
//	inv := rt.Invoke(lambdatest.FunctionURLEvent("GET", "/path", ""))
//	res, err := inv.Wait(ctx)
//	resp, err := lambdatest.DecodeHTTPResponse(res.Body)
package lambdatest

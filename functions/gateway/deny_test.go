package main

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hash-stream/hash-stream-aws/internal/fixture"
	"github.com/hash-stream/hash-stream-aws/internal/lambdatest"
	"github.com/hash-stream/hash-stream-aws/internal/testutil"
	"github.com/hash-stream/hash-stream-aws/lib/server"
)

// The function under the emulator reads its denylist from S3, blocks what
// it lists, and follows a change of the list without a restart; a bad
// version keeps the last good list and is counted in the request log
// (the metric the stack alarms on).
func TestDenylistFromS3(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the function and runs it under the emulator")
	}
	bin := bootstrap(t)
	lambdatest.EmulatorPath(t)
	b := newBuckets(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if _, err := fixture.Load(ctx, b.indexStore, b.packStore); err != nil {
		t.Fatal(err)
	}
	lists := s3srv.NewBucket(t)
	putObject(t, b.client, lists, "deny/takedowns.deny", []byte("/ipfs/"+fixture.HelloCID+" status:451\n"))
	emu := lambdatest.StartEmulator(t, bin, functionEnv(t, b, s3srv.Endpoint,
		"AWS_LAMBDA_FUNCTION_TIMEOUT=30",
		server.EnvDenylist+"=s3://"+lists+"/deny/",
		server.EnvDenylistInterval+"=1ms")...)
	get := func(root string) int {
		t.Helper()
		resp, err := emu.InvokeHTTP(ctx, lambdatest.FunctionURLEvent(http.MethodGet, "/ipfs/"+root, "format=raw"))
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode
	}
	if status := get(fixture.HelloCID); status != http.StatusUnavailableForLegalReasons {
		t.Fatalf("listed: status %d, want 451", status)
	}
	// Unblocked by a new version of the list: the next check loads it.
	putObject(t, b.client, lists, "deny/takedowns.deny", []byte("!/ipfs/"+fixture.HelloCID+"\n"))
	if !testutil.Eventually(func() bool { return get(fixture.HelloCID) == http.StatusOK }) {
		t.Fatal("the changed list was not loaded")
	}
	// A bad version: the last good list stays, the failure is counted.
	putObject(t, b.client, lists, "deny/takedowns.deny", []byte("not a rule\n"))
	if !testutil.Eventually(func() bool {
		if get(fixture.HelloCID) != http.StatusOK {
			t.Fatal("a bad list replaced the last good one")
		}
		return strings.Contains(emu.Output(), `"denylist_reload_failures":1`)
	}) {
		t.Fatalf("no reload failure counted; output:\n%s", emu.Output())
	}
}

// A denylist that cannot be read at start fails the function's init: it
// never serves unfiltered.
func TestDenylistMissingFailsInit(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the function and runs it")
	}
	bin := bootstrap(t)
	b := newBuckets(t)
	rt := lambdatest.NewRuntime(t)
	msg := runFailingInit(t, bin, append(functionEnv(t, b, s3srv.Endpoint, server.EnvDenylist+"=s3://"+s3srv.NewBucket(t)+"/deny/"), "AWS_LAMBDA_RUNTIME_API="+rt.Addr()))
	if !strings.Contains(msg, "init failed") || !strings.Contains(msg, "denylist s3://") {
		t.Fatalf("output %q does not name the denylist", msg)
	}
}

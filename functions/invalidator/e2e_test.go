package main

import (
	"context"
	"errors"
	"net/http/httptest"
	"os"
	"reflect"
	"testing"
	"time"

	"github.com/hash-stream/hash-stream-aws/internal/cdntest"
	"github.com/hash-stream/hash-stream-aws/internal/lambdatest"
)

// TestEndToEnd runs the function's real binary (-tags lambda.norpc, as
// make build-invalidator builds it) under aws-lambda-go's runtime client
// against the fake Runtime API, with the SDK's default configuration
// pointed at the fake CloudFront API on 127.0.0.1 (AWS_ENDPOINT_URL_CLOUDFRONT):
// the delivery of testdata/cuts.json becomes one invalidation of both
// paths; an undecodable delivery is an error post.
func TestEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the function")
	}
	cf := &cdntest.CloudFront{}
	srv := httptest.NewServer(cf)
	t.Cleanup(srv.Close)
	bin := lambdatest.Build(t, ".")
	rt := lambdatest.NewRuntime(t)
	rt.Start(t, bin, "HASH_STREAM_DISTRIBUTION_ID=EDIST", "AWS_ENDPOINT_URL_CLOUDFRONT="+srv.URL,
		"AWS_ACCESS_KEY_ID=AKID", "AWS_SECRET_ACCESS_KEY=SECRET", "AWS_EC2_METADATA_DISABLED=true")

	raw, err := os.ReadFile("testdata/cuts.json")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	res, err := rt.Invoke(raw).Wait(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if res.Path != lambdatest.PathResponse || res.Err() != nil {
		t.Fatalf("posted to %s: %v (%s)", res.Path, res.Err(), res.Body)
	}
	want := [][]string{{
		"/ipfs/bafybeidh6k2vzukelqtrjsmd4p52cpmltd2ufqrdtdg6yigi73in672fwu*",
		"/ipfs/bafkreif5ua27xd3g3tch2ofq76ggzrevnh7x7fn6s3bqha66qvrnc352z4*",
	}}
	if !reflect.DeepEqual(cf.Paths, want) {
		t.Fatalf("invalidations %q, want %q", cf.Paths, want)
	}

	res, err = rt.Invoke([]byte(`{"awslogs":{"data":"not base64!"}}`)).Wait(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var fe *lambdatest.FunctionError
	if res.Path != lambdatest.PathError || !errors.As(res.Err(), &fe) {
		t.Fatalf("undecodable delivery posted to %s: %v", res.Path, res.Err())
	}
	if len(cf.Paths) != 1 {
		t.Errorf("%d invalidations after an undecodable delivery", len(cf.Paths))
	}
}

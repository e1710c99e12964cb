// Command lambda-url is a dev command, `make lambda-url`: it serves the
// real gateway bootstrap as a local Function URL with Lambda's streaming
// limits (the rig internal/lambdaurl), over a local S3 server (versitygw)
// loaded with testdata/, and prints its URL until interrupted.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"syscall"

	"github.com/hash-stream/hash-stream-aws/internal/fixture"
	"github.com/hash-stream/hash-stream-aws/internal/lambdatest"
	"github.com/hash-stream/hash-stream-aws/internal/lambdaurl"
	"github.com/hash-stream/hash-stream-aws/internal/s3test"
	"github.com/hash-stream/hash-stream-aws/lib/store/s3"
)

func main() {
	bootstrap := flag.String("bootstrap", "build/lambda/gateway-amd64/bootstrap", "the function binary (linux, this machine's architecture)")
	listen := flag.String("listen", "127.0.0.1:9000", "address to serve on (loopback only)")
	burst := flag.Int64("burst", lambdaurl.DefaultBurstBytes, "bytes of a response sent uncapped")
	rate := flag.Int64("rate", lambdaurl.DefaultRateBytesPerSec, "bytes per second after the burst")
	maxBytes := flag.Int64("max", lambdaurl.DefaultMaxBytes, "bytes at which a response is cut")
	envs := flag.Int("environments", 4, "concurrent execution environments")
	quiet := flag.Bool("quiet", false, "do not log cold starts, cuts and the function's output")
	store := flag.Bool("store-from-env", false, "serve the store the environment names ("+s3.EnvIndexBucket+", "+s3.EnvPackBucket+", their prefixes, AWS_ENDPOINT_URL_S3 and the AWS credentials) instead of a local S3 server loaded with testdata/")
	flag.Parse()
	var err error
	if *store {
		err = runStore(*bootstrap, *listen, *burst, *rate, *maxBytes, *envs, *quiet)
	} else {
		err = run(*bootstrap, *listen, *burst, *rate, *maxBytes, *envs, *quiet)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "lambda-url:", err)
		os.Exit(1)
	}
}

// runStore serves the store the environment names: the function gets this
// process's environment, as a deployed function gets its configuration.
func runStore(bootstrap, listen string, burst, rate, maxBytes int64, envs int, quiet bool) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if _, err := os.Stat(bootstrap); err != nil {
		return fmt.Errorf("%w: run make build-lambda", err)
	}
	e, err := s3.ReadEnv(os.Getenv)
	if err != nil {
		return err
	}
	logf := log.Printf
	if quiet {
		logf = func(string, ...any) {}
	}
	url, err := lambdaurl.Start(lambdaurl.Options{
		Bootstrap: bootstrap, Addr: listen, Env: os.Environ(),
		BurstBytes: burst, RateBytesPerSec: rate, MaxBytes: maxBytes, Environments: envs, Log: logf,
	})
	if err != nil {
		return err
	}
	defer url.Close()
	fmt.Printf("Local Function URL: %s over s3://%s/%s and s3://%s/%s (%d environments; %d bytes uncapped, then %d bytes/s, cut at %d bytes)\n",
		url.URL(), e.IndexBucket, e.IndexPrefix, e.PackBucket, e.PackPrefix, envs, burst, rate, maxBytes)
	fmt.Println("Ctrl-C stops it.")
	<-ctx.Done()
	return nil
}

func run(bootstrap, listen string, burst, rate, maxBytes int64, envs int, quiet bool) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if _, err := os.Stat(bootstrap); err != nil {
		return fmt.Errorf("%w: run make build-lambda", err)
	}
	srv, stopS3, err := s3test.Start()
	if err != nil {
		return err
	}
	defer stopS3()
	if srv == nil {
		return fmt.Errorf("no S3-compatible server: run make tools (it installs versitygw in .tools/bin)")
	}
	indexBucket, packBucket, err := fixture.LoadS3(ctx, srv.Client())
	if err != nil {
		return err
	}
	home, err := os.MkdirTemp("", "lambda-url-home-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(home)
	logf := log.Printf
	if quiet {
		logf = func(string, ...any) {}
	}
	url, err := lambdaurl.Start(lambdaurl.Options{
		Bootstrap: bootstrap,
		Addr:      listen,
		Env: append(srv.Env(),
			append([]string{s3.EnvIndexBucket + "=" + indexBucket, s3.EnvPackBucket + "=" + packBucket},
				// Keep the function away from this machine's AWS configuration.
				lambdatest.IsolatedEnv(home)...)...),
		BurstBytes:      burst,
		RateBytesPerSec: rate,
		MaxBytes:        maxBytes,
		Environments:    envs,
		Log:             logf,
	})
	if err != nil {
		return err
	}
	defer url.Close()
	fmt.Printf("S3 server %s loaded with testdata/ (buckets %s, %s)\n", srv.Endpoint, indexBucket, packBucket)
	fmt.Printf("Local Function URL: %s (%d environments; %d bytes uncapped, then %d bytes/s, cut at %d bytes)\n",
		url.URL(), envs, burst, rate, maxBytes)
	fmt.Printf("  curl '%s/ipfs/%s?format=raw'\n", url.URL(), fixture.HelloCID)
	fmt.Printf("  curl -o dir.car '%s/ipfs/%s?format=car'\n", url.URL(), fixture.DirCID)
	fmt.Printf("  hash-stream fetch --gateway %s -o hello.txt %s\n", url.URL(), fixture.HelloCID)
	fmt.Println("Ctrl-C stops it.")
	<-ctx.Done()
	return nil
}

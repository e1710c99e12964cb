# Hash Stream on AWS: build, test, serve, invoke, synth, deploy, bench.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c

# Tools the tests run for real (S3 server, Lambda emulator, Node, CDK CLI)
# are installed here by .ci/tools.sh and found on PATH.
TOOLS ?= $(CURDIR)/.tools
export PATH := $(TOOLS)/bin:$(TOOLS)/node/node_modules/.bin:$(PATH)
export CDK_DISABLE_CLI_TELEMETRY := true

LAMBDA_DIR ?= build/lambda/gateway
LAMBDA_LOCAL_DIR ?= build/lambda/gateway-amd64
INDEXER_DIR ?= build/lambda/indexer
INDEXER_LOCAL_DIR ?= build/lambda/indexer-amd64
INVALIDATOR_DIR ?= build/lambda/invalidator
INVALIDATOR_LOCAL_DIR ?= build/lambda/invalidator-amd64
LAMBDA_FLAGS := -tags lambda.norpc -trimpath -ldflags="-s -w"
GO_TEST_TIMEOUT ?= 40m

.PHONY: all build tools check test test-stress test-s3compat serve demo build-lambda build-invalidator invoke invoke-indexer bench-indexer lambda-url sam-env sam-invoke synth deploy destroy bench soak smoke image image-stage cdk-image fuzz clean

all: build

build:
	go build ./...
	go build -o build/hash-stream ./cmd/hash-stream

tools:
	bash .ci/tools.sh

# Static checks: formatting, vet and staticcheck (installed by make tools).
check:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	go vet ./...
	staticcheck ./...

# go test's output goes through internal/cmd/testreport: what go test prints
# without -v, then, when anything failed, the failing tests and the last
# lines of each failing package's output at the end.
test: tools check
	go test -race -json -timeout $(GO_TEST_TIMEOUT) ./... | go run ./internal/cmd/testreport
	$(MAKE) --no-print-directory fuzz

# The suite under CPU contention (two `yes` hogs, started and stopped
# here): go test -race ./... STRESS_RUNS times (5), then each test that
# once flaked STRESS_COUNT times (50). See .ci/stress.sh.
test-stress: tools
	bash .ci/stress.sh

# The S3 tests against an S3-compatible server already running (not part
# of make test, whose tests start versitygw): the store backends, ingest,
# store copy and the CLI's S3 tests. HASHSTREAM_S3_ENDPOINT names it, with
# AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY of an identity that may create
# and delete buckets (AWS_REGION, default us-east-1); the README has a
# SeaweedFS recipe. S3COMPAT_FLAGS adds go test flags, e.g. -v.
S3COMPAT_CLI_TESTS := ^(TestS3Backend|TestRoundTrips|TestStoreCopy(S3|CorruptPack|MissingBucket)|TestPackWriteFolderS3|TestIndexAddNeedsStoredPackS3)$$
S3COMPAT_FLAGS ?=
test-s3compat:
	@for v in HASHSTREAM_S3_ENDPOINT AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY; do \
	  if [ -z "$${!v:-}" ]; then echo "$$v not set. usage: HASHSTREAM_S3_ENDPOINT=http://127.0.0.1:8333 AWS_ACCESS_KEY_ID=... AWS_SECRET_ACCESS_KEY=... make test-s3compat"; exit 2; fi; \
	done
	go test -race -count=1 -timeout $(GO_TEST_TIMEOUT) $(S3COMPAT_FLAGS) ./lib/store/... ./lib/ingest ./lib/storecopy
	go test -race -count=1 -timeout $(GO_TEST_TIMEOUT) $(S3COMPAT_FLAGS) -run '$(S3COMPAT_CLI_TESTS)' ./cmd/hash-stream

# A short run of every fuzz target (parsers and decoders of untrusted input).
# A count, not a duration: Go 1.26's fuzz coordinator can fail a clean run
# with "context deadline exceeded" at the end of a timed run (go.dev/issue/75804).
FUZZTIME ?= 50000x
fuzz:
	go test -run '^$$' -fuzz '^FuzzParseRequest$$' -fuzztime $(FUZZTIME) ./lib/gateway
	go test -run '^$$' -fuzz '^FuzzParseRange$$' -fuzztime $(FUZZTIME) ./lib/gateway
	go test -run '^$$' -fuzz '^FuzzParseEntityBytes$$' -fuzztime $(FUZZTIME) ./lib/gateway
	go test -run '^$$' -fuzz '^FuzzDecode$$' -fuzztime $(FUZZTIME) ./lib/index
	go test -run '^$$' -fuzz '^FuzzDecodeMatchesIPLD$$' -fuzztime $(FUZZTIME) ./lib/index
	go test -run '^$$' -fuzz '^FuzzNewRequest$$' -fuzztime $(FUZZTIME) ./lib/lambdastream
	go test -run '^$$' -fuzz '^FuzzDecodeLogs$$' -fuzztime $(FUZZTIME) ./lib/heal
	go test -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME) ./lib/denylist

# Benchmarks: pack write and gateway serving (1 GiB generated content, never
# committed; HASH_STREAM_BENCH_BYTES to change), compare runs with benchstat.
BENCHTIME ?= 3x
bench:
	go test -run '^$$' -bench . -benchtime $(BENCHTIME) -timeout 60m ./lib/pack ./lib/gateway ./lib/streamer ./lib/unixfs

# Full-size attacks on `hash-stream serve` (issue 9): 20,000 idle connections,
# 200 clients fetching a 200 MB CAR under the memory budget (peak RSS),
# 200 stalled readers, 500 bodiless chunked requests. A few minutes.
soak:
	HASH_STREAM_SOAK=1 go test -count=1 -run Soak -v -timeout 30m ./cmd/hash-stream

# The Lambda functions (the gateway, the ingest indexer and the
# invalidator of cut responses): arm64 for AWS (what the CDK app deploys),
# amd64 for local runs under the Runtime Interface Emulator.
build-lambda: build-invalidator
	mkdir -p $(LAMBDA_DIR) $(LAMBDA_LOCAL_DIR) $(INDEXER_DIR) $(INDEXER_LOCAL_DIR)
	CGO_ENABLED=0 GOOS=linux GOARCH=arm64 go build $(LAMBDA_FLAGS) -o $(LAMBDA_DIR)/bootstrap ./functions/gateway
	CGO_ENABLED=0 GOOS=linux GOARCH=amd64 go build $(LAMBDA_FLAGS) -o $(LAMBDA_LOCAL_DIR)/bootstrap ./functions/gateway
	CGO_ENABLED=0 GOOS=linux GOARCH=arm64 go build $(LAMBDA_FLAGS) -o $(INDEXER_DIR)/bootstrap ./functions/indexer
	CGO_ENABLED=0 GOOS=linux GOARCH=amd64 go build $(LAMBDA_FLAGS) -o $(INDEXER_LOCAL_DIR)/bootstrap ./functions/indexer
	@ls -l $(LAMBDA_DIR)/bootstrap $(LAMBDA_LOCAL_DIR)/bootstrap $(INDEXER_DIR)/bootstrap $(INDEXER_LOCAL_DIR)/bootstrap

# The invalidator alone (every stack deploys it, compute=ecs too).
build-invalidator:
	mkdir -p $(INVALIDATOR_DIR) $(INVALIDATOR_LOCAL_DIR)
	CGO_ENABLED=0 GOOS=linux GOARCH=arm64 go build $(LAMBDA_FLAGS) -o $(INVALIDATOR_DIR)/bootstrap ./functions/invalidator
	CGO_ENABLED=0 GOOS=linux GOARCH=amd64 go build $(LAMBDA_FLAGS) -o $(INVALIDATOR_LOCAL_DIR)/bootstrap ./functions/invalidator
	@ls -l $(INVALIDATOR_DIR)/bootstrap $(INVALIDATOR_LOCAL_DIR)/bootstrap

# Invoke the real bootstrap locally: S3 server loaded with testdata/, the
# Runtime Interface Emulator, one event. make invoke EVENT=events/car.json
EVENT ?= events/car.json
invoke: build-lambda tools
	go run ./internal/cmd/invoke -bootstrap $(LAMBDA_LOCAL_DIR)/bootstrap -event $(EVENT)

# The indexer's real bootstrap under the emulator on one S3 event: the
# event's object (a CAR of testdata/cars, by its name) put in a pack bucket
# of the local S3 server, then the buckets listed after the invocation.
# make invoke-indexer INDEXER_EVENT=events/s3-put.json
INDEXER_EVENT ?= events/s3-put.json
invoke-indexer: build-lambda tools
	go run ./internal/cmd/invoke -indexer -bootstrap $(INDEXER_LOCAL_DIR)/bootstrap -event $(INDEXER_EVENT)

# Indexer throughput and peak RSS on one generated CAR (never committed)
# under the emulator over the local S3 server: HASH_STREAM_INDEXER_BENCH_BYTES
# bytes of random content (1 GiB by default here).
INDEXER_BENCH_BYTES ?= 1073741824
bench-indexer: tools
	HASH_STREAM_INDEXER_BENCH_BYTES=$(INDEXER_BENCH_BYTES) go test -count=1 -run '^TestMeasureIndexer$$' -v -timeout 30m ./functions/indexer

# The real bootstrap behind a local Function URL with Lambda's streaming
# limits (6 MiB uncapped, then 2 MiB/s, cut at 200 MiB; LAMBDA_URL_ARGS
# changes them: -burst -rate -max -environments -listen), over the S3
# server loaded with testdata/, or with LAMBDA_URL_ARGS=-store-from-env
# over the store the environment names (HASH_STREAM_S3_*, AWS_ENDPOINT_URL_S3
# and credentials, as the CLI reads them). Prints its URL; Ctrl-C stops it.
LAMBDA_URL_ARGS ?=
lambda-url: build-lambda tools
	go run ./internal/cmd/lambda-url -bootstrap $(LAMBDA_LOCAL_DIR)/bootstrap $(LAMBDA_URL_ARGS)

# sam local invoke (SAM CLI and Docker) of the synthesized function. On an
# x86_64 host synth it for x86_64 first: make synth CDK_ARGS="-c architecture=x86_64".
# SAM applies --env-vars only to variables the template declares, so sam-env
# writes exactly those (build/sam/env.json); give the ones the template sets
# from a reference (the buckets the stack makes) in SAM_VARS, e.g.
# SAM_VARS="HASH_STREAM_S3_INDEX_BUCKET=my-index HASH_STREAM_S3_PACK_BUCKET=my-packs".
# sam-invoke decodes the streaming framing with make invoke's decoder.
SAM ?= sam
SAM_TEMPLATE ?= cdk.out/HashStreamGateway.template.json
SAM_ENV ?= build/sam/env.json
SAM_VARS ?=
sam-env:
	go run ./internal/cmd/samenv -template $(SAM_TEMPLATE) -o $(SAM_ENV) $(SAM_VARS)

sam-invoke: sam-env
	id=$$(go run ./internal/cmd/samenv -template $(SAM_TEMPLATE) -id); \
	$(SAM) local invoke -t $(SAM_TEMPLATE) "$$id" -e $(EVENT) --env-vars $(SAM_ENV) > build/sam/out
	go run ./internal/cmd/invoke -decode < build/sam/out

# The gateway over a store loaded from testdata/ (the quickest way to try it).
SERVE_DIR ?= build/serve-store
LISTEN ?= 127.0.0.1:3000
serve: build
	rm -rf $(SERVE_DIR)
	build/hash-stream pack write testdata/hello.txt --dir $(SERVE_DIR) >/dev/null
	for car in testdata/cars/*.car; do build/hash-stream pack import "$$car" --dir $(SERVE_DIR) >/dev/null; done
	@echo "Loaded testdata/ into $(SERVE_DIR). Fetch a CAR with:"
	@echo "  curl -H 'Accept: application/vnd.ipld.car' http://$(LISTEN)/ipfs/bafybeidh6k2vzukelqtrjsmd4p52cpmltd2ufqrdtdg6yigi73in672fwu -o dir.car"
	@echo "  curl 'http://$(LISTEN)/ipfs/bafkreif5ua27xd3g3tch2ofq76ggzrevnh7x7fn6s3bqha66qvrnc352z4?format=raw'"
	build/hash-stream serve --dir $(SERVE_DIR) --listen $(LISTEN)

# The main job on the embedded default: load testdata/ into a store and dump it back.
demo: build
	bash .ci/demo.sh

# After a deploy: check the gateway at URL end to end (verified raw block
# and CAR, cache headers, CloudFront's cache result). Without CID it checks
# the sample `hash-stream pack write testdata/hello.txt` loads.
URL ?=
CID ?=
smoke: build
	@if [ -z "$(URL)" ]; then echo "usage: make smoke URL=https://<distribution> [CID=<cid>]"; exit 2; fi
	build/hash-stream smoke $(URL) $(CID)

# The container image of `hash-stream serve` (cmd/hash-stream/image), one
# per architecture, built from the static binary: no base image to pull.
# CONTAINER is podman or docker; podman needs no daemon (vfs storage works
# where overlay mounts are not allowed).
CONTAINER ?= $(shell command -v podman >/dev/null 2>&1 && echo podman || echo docker)
IMAGE ?= hash-stream
IMAGE_ARCHS ?= amd64 arm64
PODMAN_FLAGS ?= $(if $(findstring podman,$(CONTAINER)),--storage-driver vfs,)
# image-stage only writes each build context, build/image/<arch>/ (the
# Dockerfile, the static binary, CA certificates, passwd): the CDK app's
# compute=ecs image asset is build/image/arm64, built by Docker at deploy.
image-stage:
	for arch in $(IMAGE_ARCHS); do \
	  dir=build/image/$$arch; rm -rf $$dir; mkdir -p $$dir; \
	  CGO_ENABLED=0 GOOS=linux GOARCH=$$arch go build -trimpath -ldflags="-s -w" -o $$dir/hash-stream ./cmd/hash-stream; \
	  cp cmd/hash-stream/image/Dockerfile $$dir/; \
	  cp /etc/ssl/certs/ca-certificates.crt $$dir/; \
	  echo 'nonroot:x:65532:65532:nonroot:/:/sbin/nologin' > $$dir/passwd; \
	  echo 'nonroot:x:65532:' > $$dir/group; \
	done

image: image-stage
	for arch in $(IMAGE_ARCHS); do \
	  $(CONTAINER) $(PODMAN_FLAGS) build --platform linux/$$arch -t $(IMAGE):$$arch build/image/$$arch; \
	done

# CDK (infra/, cdk.json): the stack over the function folder build-lambda makes
# (compute=lambda, the default) or the image context image-stage makes
# (compute=ecs; cdk deploy builds that image with Docker, synth only copies it).
# Context goes in CDK_ARGS, e.g. make deploy CDK_ARGS="-c domainName=gw.example.org -c hostedZoneId=Z123"
# or make deploy CDK_ARGS="-c compute=ecs".
CDK ?= cdk
CDK_ARGS ?=
CDK_IMAGE_DIR ?= build/image/arm64
# architecture=x86_64 (for sam local on an x86_64 host) takes the amd64 build.
CDK_LAMBDA_DIR := $(if $(findstring architecture=x86_64,$(CDK_ARGS)),$(LAMBDA_LOCAL_DIR),$(LAMBDA_DIR))
CDK_COMMON := --no-notices --no-version-reporting -c lambdaDir=$(CDK_LAMBDA_DIR)
CDK_ECS := $(findstring compute=ecs,$(CDK_ARGS))
# ingest=true deploys the indexer, a Lambda whatever the compute; the
# invalidator is deployed always.
CDK_INPUTS := $(if $(CDK_ECS),cdk-image $(if $(findstring ingest=true,$(CDK_ARGS)),build-lambda,build-invalidator),build-lambda)
CDK_COMMON += $(if $(CDK_ECS),-c imageDir=$(CDK_IMAGE_DIR),)

cdk-image:
	$(MAKE) --no-print-directory image-stage IMAGE_ARCHS=arm64

# Offline: no credentials, no lookups, no Docker, no instance metadata probe. Writes cdk.out/.
synth: $(CDK_INPUTS)
	AWS_EC2_METADATA_DISABLED=true $(CDK) synth --quiet $(CDK_COMMON) $(CDK_ARGS)

deploy: $(CDK_INPUTS)
	$(CDK) deploy $(CDK_COMMON) $(CDK_ARGS)

destroy: $(CDK_INPUTS)
	$(CDK) destroy $(CDK_COMMON) $(CDK_ARGS)

clean:
	rm -rf build cdk.out

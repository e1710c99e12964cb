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
LAMBDA_FLAGS := -tags lambda.norpc -trimpath -ldflags="-s -w"
GO_TEST_TIMEOUT ?= 40m

.PHONY: all build tools check test serve demo build-lambda invoke synth deploy destroy bench fuzz clean

all: build

build:
	go build ./...
	go build -o build/hash-stream ./cmd/hash-stream

tools:
	bash .ci/tools.sh

# Static checks: formatting and vet.
check:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	go vet ./...

test: tools check
	go test -race -timeout $(GO_TEST_TIMEOUT) ./...

# The main job on the embedded default: load testdata/ into a store and dump it back.
demo: build
	bash .ci/demo.sh

# CDK (infra/, cdk.json): the stack over the function folder build-lambda makes.
# Context goes in CDK_ARGS, e.g. make deploy CDK_ARGS="-c domainName=gw.example.org -c hostedZoneId=Z123".
CDK ?= cdk
CDK_ARGS ?=
CDK_COMMON := --no-notices --no-version-reporting -c lambdaDir=$(LAMBDA_DIR)

# Offline: no credentials, no lookups, no Docker, no instance metadata probe. Writes cdk.out/.
synth: build-lambda
	AWS_EC2_METADATA_DISABLED=true $(CDK) synth --quiet $(CDK_COMMON) $(CDK_ARGS)

deploy: build-lambda
	$(CDK) deploy $(CDK_COMMON) $(CDK_ARGS)

destroy: build-lambda
	$(CDK) destroy $(CDK_COMMON) $(CDK_ARGS)

clean:
	rm -rf build cdk.out

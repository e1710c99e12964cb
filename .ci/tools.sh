#!/usr/bin/env bash
# Installs the programs the tests run for real into $HASH_STREAM_TOOLS
# (default: .tools in the repository), each from its package registry:
#   versitygw        S3-compatible server (Go module)
#   staticcheck      the linter of make check (Go module)
#   aws-lambda-rie   Lambda Runtime Interface Emulator (Go module)
#   node 22, aws-cdk, @helia/verified-fetch, ipfs-unixfs-importer,
#   esbuild (minifies the CloudFront Function: infra/cachekey.go)  (npm packages)
#   podman           builds the container image (Debian package, as root)
# Idempotent: what is already there is kept.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
tools=${HASH_STREAM_TOOLS:-$root/.tools}
mkdir -p "$tools/bin" "$tools/node"

VERSITYGW_VERSION=v1.8.0
STATICCHECK_VERSION=v0.8.2
RIE_VERSION=v0.0.0-20261030222936-bef5c4ba774d
NODE_VERSION=22.23.3
AWS_CDK_VERSION=2.1148.1
VERIFIED_FETCH_VERSION=8.0.4
UNIXFS_IMPORTER_VERSION=17.1.1
ESBUILD_VERSION=0.28.2

if [ ! -x "$tools/bin/versitygw" ]; then
  echo "tools: installing versitygw $VERSITYGW_VERSION" >&2
  GOBIN="$tools/bin" go install "github.com/versity/versitygw/cmd/versitygw@$VERSITYGW_VERSION"
fi
if [ ! -x "$tools/bin/staticcheck" ]; then
  echo "tools: installing staticcheck $STATICCHECK_VERSION" >&2
  GOBIN="$tools/bin" go install "honnef.co/go/tools/cmd/staticcheck@$STATICCHECK_VERSION"
fi
if [ ! -x "$tools/bin/aws-lambda-rie" ]; then
  echo "tools: installing aws-lambda-rie $RIE_VERSION" >&2
  GOBIN="$tools/bin" go install "github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie@$RIE_VERSION"
fi
stamp="$tools/node/.installed-$NODE_VERSION-$AWS_CDK_VERSION-$VERIFIED_FETCH_VERSION-$UNIXFS_IMPORTER_VERSION-$ESBUILD_VERSION"
if [ ! -f "$stamp" ]; then
  echo "tools: installing node $NODE_VERSION, aws-cdk $AWS_CDK_VERSION, @helia/verified-fetch $VERIFIED_FETCH_VERSION, ipfs-unixfs-importer $UNIXFS_IMPORTER_VERSION, esbuild $ESBUILD_VERSION" >&2
  (cd "$tools/node" &&
    { [ -f package.json ] || echo '{"name":"hash-stream-tools","private":true}' >package.json; } &&
    npm install --no-audit --no-fund --loglevel=error \
      "node@$NODE_VERSION" "aws-cdk@$AWS_CDK_VERSION" "@helia/verified-fetch@$VERIFIED_FETCH_VERSION" \
      "ipfs-unixfs-importer@$UNIXFS_IMPORTER_VERSION" "esbuild@$ESBUILD_VERSION")
  touch "$stamp"
fi

# podman builds the container image (make image) without a daemon. It is a
# Debian package: installed when missing and we may (root with apt-get).
if ! command -v podman >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "tools: installing podman (Debian package)" >&2
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq podman >/dev/null
  else
    echo "tools: podman not found and not installable here: make image and its test are skipped" >&2
  fi
fi

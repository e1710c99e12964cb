#!/usr/bin/env bash
# make test-stress: the test suite under CPU contention, as CI and a
# contributor's laptop run it. Starts STRESS_HOGS CPU-burning processes
# (yes > /dev/null), runs the whole `go test -race ./...` STRESS_RUNS times
# in a row, then each test that once flaked STRESS_COUNT times, and stops
# the hogs whatever happens. Any failure stops it with exit 1.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${STRESS_RUNS:-5}
count=${STRESS_COUNT:-50}
hogs=${STRESS_HOGS:-2}
pkgs=${STRESS_PKGS:-./...}

# Tests that flaked on a busy machine, or waited on a sleep or a tight
# clock before issue 20, and the timing tests added since, by package.
# Each pattern must match: a set that runs no test fails the stress run.
flaky=(
  "./functions/indexer ^(TestIndexerInitFails|TestIndexer|TestIndexerRejects)$"
  "./functions/gateway ^TestStreaming$/^first_bytes_while_reads_go_on$"
  "./functions/gateway ^TestInitFailure$"
  "./lib/gateway ^(TestS3StallCutsTheCAR|TestBudgetAdmission|TestBudgetBoundsConcurrentResponses|TestClientDisconnect|TestRequestLogStats)$"
  "./lib/store/s3 ^(TestStalledBodyTimesOut|TestNoAnswerTimesOut|TestCanceledReadIsNotResumed|TestConnectTimeout|TestWatchedBody)$"
  "./lib/index ^(TestSetReadOnce|TestSetCallerLeaves|TestSetReadTimeout|TestDecodeBound)$"
  "./lib/budget ."
  "./lib/lambdastream ^Test[^E]"
  "./lib/streamer ^(TestStreamCloseEarly|TestStreamGivesBackReadAheadWhenStalled)$"
  "./lib/store/fs ^TestFirstWriteRemovesStaleTemp$"
  "./lib/storecopy ^TestConcurrencyBound$"
  "./internal/faultproxy ."
  "./internal/testutil ."
  "./cmd/hash-stream ^(TestKilledWriteSpoolRemovedByNextWrite|TestServeStalledReaders|TestServeConnectionCap|TestServeRequestBodies|TestServeNonReadersCannotLockOut|TestServePerClientLimit|TestFetchDripAndTimeout)$"
  "./lib/fetch ^TestFetchDrip"
)

tmp=$(mktemp -d)
report=$tmp/testreport
log=$tmp/last.log
go build -o "$report" ./internal/cmd/testreport

pids=()
stop_hogs() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap stop_hogs EXIT
for _ in $(seq "$hogs"); do
  yes >/dev/null &
  pids+=($!)
done

start=$SECONDS
for i in $(seq "$runs"); do
  t=$SECONDS
  echo "stress: run $i of $runs: go test -race $pkgs beside $hogs CPU hogs"
  go test -race -count=1 -json -timeout 60m $pkgs | "$report"
  echo "stress: run $i green in $((SECONDS - t)) s"
done
for entry in "${flaky[@]}"; do
  read -r pkg pattern <<<"$entry"
  t=$SECONDS
  echo "stress: $pkg -run '$pattern' -count=$count beside $hogs CPU hogs"
  go test -race -count="$count" -json -timeout 60m -run "$pattern" "$pkg" | "$report" | tee "$log"
  if grep -q '^testreport: 0 passed' "$log"; then
    echo "stress: -run '$pattern' matched no test in $pkg" >&2
    exit 1
  fi
  echo "stress: green in $((SECONDS - t)) s"
done
echo "stress: all green: $runs runs of $pkgs and ${#flaky[@]} flaky sets x$count, $hogs hogs, $((SECONDS - start)) s"

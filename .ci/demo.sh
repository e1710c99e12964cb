#!/usr/bin/env bash
# The main job on the embedded default: load testdata/ into a fresh store
# with the hash-stream CLI, dump the content back, and check it.
set -euo pipefail
cd "$(dirname "$0")/.."
hs=build/hash-stream
store=build/demo-store
rm -rf "$store" && mkdir -p "$store"
export HASH_STREAM_DIR=$store HASH_STREAM_STORE_BACKEND=fs

echo "== hash-stream pack write testdata/hello.txt"
$hs pack write testdata/hello.txt
for car in testdata/cars/*.car; do
  echo "== hash-stream pack import $car"
  $hs pack import "$car" | sed -n '2,5p'
done

root=$($hs pack write testdata/hello.txt | awk '/Containing CID:/{getline; print $1}')
echo "== hash-stream streamer dump $root (raw) and compare"
$hs streamer dump "$root" build/demo-hello.bin --format raw
cmp build/demo-hello.bin testdata/hello.txt && echo "hello.txt came back byte for byte, verified"

dir=bafybeidh6k2vzukelqtrjsmd4p52cpmltd2ufqrdtdg6yigi73in672fwu
echo "== hash-stream streamer dump $dir (CAR of the whole DAG)"
$hs streamer dump "$dir" build/demo-dir.car
echo
echo "Store: $store ($(find "$store" -type f | wc -l) files)"

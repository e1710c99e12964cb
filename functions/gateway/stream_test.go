package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hash-stream/hash-stream-aws/internal/lambdatest"
	"github.com/hash-stream/hash-stream-aws/lib/pack"
	"github.com/hash-stream/hash-stream-aws/lib/store/s3"
	"github.com/ipfs/go-cid"
	"github.com/ipfs/go-unixfsnode/data/builder"
	dagpb "github.com/ipld/go-codec-dagpb"
	"github.com/ipld/go-ipld-prime"
	cidlink "github.com/ipld/go-ipld-prime/linking/cid"
)

// streamDeadline is the invocation deadline of the streaming tests, longer
// than they wait for anything: none of them is about the deadline, and a
// loaded machine streams tens of MiB slowly under -race.
const streamDeadline = 5 * time.Minute

// TestStreaming runs the real bootstrap against the fake Runtime API (the
// response streamed as aws-lambda-go posts it, with its error trailers)
// over S3 buckets holding generated files.
func TestStreaming(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the function and streams tens of MiB")
	}
	bootstrap(t)
	b := newBuckets(t)
	t0 := time.Now()
	big := b.writeFile(t, "gateway function streaming ", 64<<20)
	mid := b.writeFile(t, "gateway function 20 MiB ", 20<<20)
	t.Logf("loaded %d MiB into S3 in %v", (big.size+mid.size)>>20, time.Since(t0).Round(time.Millisecond))

	t.Run("first bytes while reads go on", func(t *testing.T) { testStreamsWhileReading(t, b, big) })
	t.Run("20 MiB CAR streams whole", func(t *testing.T) {
		rt := lambdatest.NewRuntime(t, lambdatest.WithTimeout(streamDeadline))
		startFunction(t, rt, functionEnv(t, b, s3srv.Endpoint)...)
		res := invoke(t, rt, carEvent(mid.root, "dag-scope=all"))
		if err := res.Err(); err != nil {
			t.Fatalf("function error: %v", err)
		}
		resp := decode(t, res)
		if resp.StatusCode != http.StatusOK || resp.Headers["Content-Type"] != "application/vnd.ipld.car; version=1; order=dfs; dups=n" {
			t.Fatalf("status %d, headers %v", resp.StatusCode, resp.Headers)
		}
		if resp.Headers["X-Ipfs-Roots"] != mid.root.String() {
			t.Errorf("X-Ipfs-Roots %q, want %s", resp.Headers["X-Ipfs-Roots"], mid.root)
		}
		checkFileCAR(t, resp.Body, mid)
		d := res.Done.Sub(res.Fetched)
		t.Logf("%d-byte CAR in %v (%.0f MB/s); prelude after %v", len(resp.Body), d.Round(time.Millisecond),
			float64(len(resp.Body))/d.Seconds()/1e6, res.FirstByte.Sub(res.Fetched).Round(time.Millisecond))
	})
	t.Run("corrupt block ends the stream with error trailers", func(t *testing.T) { testCorruptPack(t, b) })
	t.Run("response cap", func(t *testing.T) { testResponseCap(t, b) })
}

// testStreamsWhileReading reads a 64 MiB file with reads of one block each
// and little read-ahead, through a proxy that holds the 10th ranged GET:
// the first leaves' bytes must reach the runtime while the function waits
// for it, with the invocation still running and most of the file unread.
//
// The function waits for the held GET's headers longer than the test waits
// for anything: with the default header timeout (5 s), a test slowed down
// that long (a 6 s sleep before the release reproduces it) let the function
// give up the GET, read it again and stream on, and failed with 40 ranged
// GETs served while GET 10 was "held".
func testStreamsWhileReading(t *testing.T, b *buckets, g *generated) {
	const hold = 10
	proxy := startS3Proxy(t, hold)
	rt := lambdatest.NewRuntime(t, lambdatest.WithTimeout(streamDeadline))
	startFunction(t, rt, functionEnv(t, b, proxy.endpoint,
		"HASH_STREAM_READ_MAX_RANGE_BYTES=1048576", // one 1 MiB leaf per ranged GET
		"HASH_STREAM_READ_AHEAD_BYTES=1",
		"HASH_STREAM_READ_CONCURRENCY=2",
		s3.EnvHeaderTimeout+"="+streamDeadline.String(),
	)...)
	inv := rt.Invoke(carEvent(g.root, ""))
	timeout := time.After(60 * time.Second)
	select {
	case <-proxy.held:
	case <-inv.Done():
		t.Fatalf("the invocation ended before ranged GET %d", hold)
	case <-timeout:
		t.Fatalf("no ranged GET %d within 60s", hold)
	}
	// The function waits for GET 10: what it read before must stream.
	var seenAt time.Time
	var seen int
	for seenAt.IsZero() {
		if body := bodyOf(inv.Received()); len(body) > 0 {
			seenAt, seen = time.Now(), len(body)
			break
		}
		select {
		case <-inv.Done():
			t.Fatal("the invocation ended while a ranged GET was held")
		case <-timeout:
			t.Fatalf("no body bytes while ranged GET %d was held: the function does not stream", hold)
		case <-time.After(time.Millisecond):
		}
	}
	readsThen := len(proxy.rangedGets())
	if proxy.abandoned.Load() {
		t.Fatalf("the function gave up ranged GET %d while it was held", hold)
	}
	select {
	case <-inv.Done():
		t.Fatal("the invocation ended while a ranged GET was held")
	default:
	}
	proxy.release()

	res := wait(t, inv)
	if err := res.Err(); err != nil {
		t.Fatalf("function error: %v", err)
	}
	resp := decode(t, res)
	checkFileCAR(t, resp.Body, g)
	reads := len(proxy.rangedGets())
	t.Logf("%d body bytes (of %d) reached the runtime %v after the event was fetched, while ranged GET %d was held, %d of %d ranged GETs served; body done after %v",
		seen, len(resp.Body), seenAt.Sub(res.Fetched).Round(time.Millisecond), hold, readsThen, reads,
		res.Done.Sub(res.Fetched).Round(time.Millisecond))
	if leaves := int(g.size >> 20); reads < leaves {
		t.Fatalf("%d ranged GETs for %d leaves of 1 MiB: the reads were not split", reads, leaves)
	}
	// With two reads in flight, the one beside the held GET may be served
	// too (it was a flake at exactly hold+1): more than that means the
	// function read on without bound while its client waited.
	if readsThen > hold+1 {
		t.Errorf("%d ranged GETs served while GET %d was held", readsThen, hold)
	}
	if !res.FirstByte.Before(seenAt) || !seenAt.Before(res.Done) {
		t.Errorf("prelude %v, body bytes seen %v, done %v: not in order", res.FirstByte, seenAt, res.Done)
	}
}

// testCorruptPack flips a byte of the last leaf of a 4 MiB file in its
// stored pack: the CAR starts (the earlier leaves are fine) and must end
// with the runtime's error trailers, never as a complete CAR.
func testCorruptPack(t *testing.T, b *buckets) {
	g := b.writeFile(t, "gateway function corrupt ", 4<<20)
	if len(g.packs) != 1 || len(g.packs[0].Blobs) != 5 {
		t.Fatalf("packs %+v: want one pack of 4 leaves and the root", g.packs)
	}
	p := g.packs[0]
	key := packKey(p.Multihash)
	obj := getObject(t, b.client, b.pack, key)
	leaf := p.Blobs[3] // the last leaf, before the root in the pack
	block := obj[leaf.Offset : leaf.Offset+leaf.Length]
	if sum := sha256.Sum256(block); !bytes.HasSuffix(leaf.Multihash, sum[:]) {
		t.Fatal("the blob location does not point at the block's bytes")
	}
	leafCID := cid.NewCidV1(cid.Raw, leaf.Multihash)
	firstLeaf := cid.NewCidV1(cid.Raw, p.Blobs[0].Multihash)
	block[len(block)/2] ^= 0xff
	putObject(t, b.client, b.pack, key, obj)

	rt := lambdatest.NewRuntime(t, lambdatest.WithTimeout(streamDeadline))
	startFunction(t, rt, functionEnv(t, b, s3srv.Endpoint)...)
	res := invoke(t, rt, carEvent(g.root, "dag-scope=all"))
	resp := decode(t, res)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d: the corruption is past the first byte, the head must be 200", resp.StatusCode)
	}
	var fe *lambdatest.FunctionError
	if err := res.Err(); !errors.As(err, &fe) {
		t.Fatalf("the stream ended with %v, want the runtime's error trailers", err)
	}
	t.Logf("error trailers: %s: %s (after %d body bytes)", fe.Type, fe.Message, len(resp.Body))
	if len(resp.Body) < 1<<20 {
		t.Errorf("only %d body bytes before the error: the good leaves were not streamed", len(resp.Body))
	}
	_, blocks, err := readCAR(resp.Body)
	if err == nil && len(blocks) == 5 {
		t.Fatal("the body is a complete, valid CAR")
	}
	for _, blk := range blocks {
		if blk.cid.Equals(leafCID) {
			t.Fatal("the corrupt leaf was sent")
		}
	}
	t.Logf("the body holds %d verified blocks of 5 (read error: %v)", len(blocks), err)

	// The corrupt block alone answers 502 before any byte, and the same
	// function instance serves the next request.
	res = invoke(t, rt, lambdatest.FunctionURLEvent(http.MethodGet, "/ipfs/"+leafCID.String(), "format=raw"))
	resp = decode(t, res)
	if err := res.Err(); err != nil || resp.StatusCode != http.StatusBadGateway {
		t.Errorf("raw corrupt block: status %d, error %v; want 502", resp.StatusCode, err)
	}
	if bytes.Contains(resp.Body, block[:64]) {
		t.Error("the corrupt block's bytes were sent")
	}
	res = invoke(t, rt, lambdatest.FunctionURLEvent(http.MethodGet, "/ipfs/"+firstLeaf.String(), "format=raw"))
	resp = decode(t, res)
	if err := res.Err(); err != nil || resp.StatusCode != http.StatusOK || len(resp.Body) != 1<<20 {
		t.Errorf("raw good block after the abort: status %d, %d bytes, error %v", resp.StatusCode, len(resp.Body), err)
	}
}

// testResponseCap runs the function with a 1 MiB response cap: a larger
// UnixFS file is refused with 413 before the first byte (its size is in
// its root), a directory whose DAG is larger is cut with error trailers.
func testResponseCap(t *testing.T, b *buckets) {
	const limit = 1 << 20
	file := b.writeFile(t, "gateway function capped file ", 2<<20+100<<10)
	dir, entries := b.writeDir(t, "gateway function capped dir ", 768<<10, 768<<10)

	rt := lambdatest.NewRuntime(t, lambdatest.WithTimeout(streamDeadline))
	startFunction(t, rt, functionEnv(t, b, s3srv.Endpoint, "HASH_STREAM_MAX_RESPONSE_BYTES="+strconv.Itoa(limit))...)

	res := invoke(t, rt, carEvent(file.root, ""))
	resp := decode(t, res)
	if err := res.Err(); err != nil {
		t.Fatalf("413 must be a clean response: %v", err)
	}
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("2.1 MiB file under a 1 MiB cap: status %d, want 413", resp.StatusCode)
	}
	if !strings.Contains(string(resp.Body), "entity-bytes") || resp.Headers["Cache-Control"] != "" {
		t.Errorf("413 body %q, headers %v: want a hint to fetch in parts and no caching", resp.Body, resp.Headers)
	}

	// A part whose CAR fits is served; a part of exactly the cap is not,
	// since the leaves holding it go whole, with their framing.
	res = invoke(t, rt, carEvent(file.root, "dag-scope=entity&entity-bytes=-1000:*"))
	resp = decode(t, res)
	if err := res.Err(); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("entity-bytes within the cap: status %d, error %v", resp.StatusCode, err)
	}
	if _, blocks, err := readCAR(resp.Body); err != nil || len(blocks) != 2 {
		t.Errorf("entity-bytes within the cap: %d blocks, %v; want the root and the last leaf", len(blocks), err)
	}
	res = invoke(t, rt, carEvent(file.root, "dag-scope=entity&entity-bytes=0:"+strconv.Itoa(limit-1)))
	resp = decode(t, res)
	if err := res.Err(); err != nil || resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("entity-bytes of exactly the cap: status %d, error %v; want 413 before the first byte", resp.StatusCode, err)
	}

	// A directory's size is not known up front: it is cut at the cap.
	res = invoke(t, rt, carEvent(dir, "dag-scope=all"))
	resp = decode(t, res)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("directory over the cap: status %d, want 200 then a cut", resp.StatusCode)
	}
	var fe *lambdatest.FunctionError
	if err := res.Err(); !errors.As(err, &fe) {
		t.Fatalf("directory over the cap ended with %v, want the runtime's error trailers", err)
	}
	if len(resp.Body) > limit {
		t.Errorf("%d body bytes sent, over the %d-byte cap", len(resp.Body), limit)
	}
	_, blocks, err := readCAR(resp.Body)
	if err == nil && len(blocks) == 1+len(entries) {
		t.Fatal("the cut body is a complete CAR")
	}
	t.Logf("directory over the cap: %d body bytes, %d blocks, then %s: %s", len(resp.Body), len(blocks), fe.Type, fe.Message)
}

// writeDir stores files of the given sizes and a UnixFS directory holding
// them, and indexes the whole DAG under the directory's root.
func (b *buckets) writeDir(t *testing.T, prefix string, sizes ...int64) (cid.Cid, []*generated) {
	t.Helper()
	var files []*generated
	var links []dagpb.PBLink
	for i, size := range sizes {
		g := b.writeFile(t, prefix+strconv.Itoa(i)+" ", size)
		files = append(files, g)
		l, err := builder.BuildUnixFSDirectoryEntry("f"+strconv.Itoa(i), size, cidlink.Link{Cid: g.root})
		if err != nil {
			t.Fatal(err)
		}
		links = append(links, l)
	}
	type block struct {
		c    cid.Cid
		data []byte
	}
	var blocks []block
	ls := cidlink.DefaultLinkSystem()
	ls.StorageWriteOpener = func(ipld.LinkContext) (io.Writer, ipld.BlockWriteCommitter, error) {
		var buf bytes.Buffer
		return &buf, func(l ipld.Link) error {
			blocks = append(blocks, block{l.(cidlink.Link).Cid, buf.Bytes()})
			return nil
		}, nil
	}
	root, _, err := builder.BuildUnixFSDirectory(links, &ls)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	w, err := pack.NewWriter(b.packStore)
	if err != nil {
		t.Fatal(err)
	}
	for _, blk := range blocks {
		if err := w.Add(ctx, blk.c, blk.data); err != nil {
			t.Fatal(err)
		}
	}
	rootCID := root.(cidlink.Link).Cid
	infos, err := w.Close(ctx, rootCID)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		infos = append(infos, f.packs...)
	}
	b.index1(t, infos, rootCID)
	return rootCID, files
}

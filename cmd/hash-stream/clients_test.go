package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/hash-stream/hash-stream-aws/internal/testutil"
	"github.com/ipfs/go-cid"
	"github.com/ipfs/go-unixfsnode/data"
	dagpb "github.com/ipld/go-codec-dagpb"
	cidlink "github.com/ipld/go-ipld-prime/linking/cid"
)

// A real trustless client fetches through the gateway: @helia/verified-fetch
// (Node) with this gateway as its only one gets every block with
// ?format=raw, checks it against its CID and rebuilds the files, which must
// hash to the originals. Loopback only; skipped without Node 22 and the
// package (bash .ci/tools.sh installs both), failed then when CI=true.
func TestVerifiedFetch(t *testing.T) {
	node, modules := verifiedFetchTools(t)
	shared := testutil.Shared(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	dir := t.TempDir()
	start := time.Now()

	// The store: three originals written as packs (single-level records, so
	// each block is found on its own) and a conformance CAR directory.
	type target struct {
		arg  string // <cid>[/<path>]
		name string
		sum  [sha256.Size]byte
		size int
	}
	var targets []target
	rootBlobs := map[string][]string{} // name -> multihashes of its blocks
	containing := regexp.MustCompile(`Containing CID:\s+(\S+)`)
	blob := regexp.MustCompile(`MH\((\w+)\)`)
	for _, name := range []string{"hello.txt", "lorem.txt", "random-3m.bin"} {
		file := filepath.Join(shared, "interop", "originals", name)
		code, out, errOut := runCLI(t, dir, "pack", "write", file)
		if code != 0 {
			t.Fatalf("pack write %s: %s", name, errOut)
		}
		m := containing.FindStringSubmatch(out)
		if m == nil || !strings.Contains(out, "Blobs:") {
			t.Fatalf("pack write %s: no containing CID or blobs in\n%s", name, out)
		}
		after := out[strings.Index(out, "Blobs:"):] // one pack: its blobs follow
		for _, b := range blob.FindAllStringSubmatch(after, -1) {
			rootBlobs[name] = append(rootBlobs[name], b[1])
		}
		content, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		targets = append(targets, target{m[1], name, sha256.Sum256(content), len(content)})
	}
	if n := len(rootBlobs["random-3m.bin"]); n < 2 {
		t.Fatalf("random-3m.bin written as %d blocks, want a multi-block file", n)
	}
	// Files in conformance CAR directories, rebuilt here from the CAR's
	// blocks and fetched by path: verified-fetch walks the path itself,
	// block by block (HAMT shards too). Of the HAMT's ~1000 files, three.
	for _, fx := range []struct{ car, root string }{
		{"subdir-with-mixed-block-files.car", "bafybeidh6k2vzukelqtrjsmd4p52cpmltd2ufqrdtdg6yigi73in672fwu"},
		{"dir-with-duplicate-files.car", "bafybeihchr7vmgjaasntayyatmp5sv6xza57iy2h4xj7g46bpjij6yhrmy"},
		{"single-layer-hamt-with-multi-block-files.car", "bafybeidbclfqleg2uojchspzd4bob56dqetqjsj27gy2cq3klkkgxtpn4i"},
	} {
		carPath := filepath.Join(shared, "conformance", fx.car)
		if code, _, errOut := runCLI(t, dir, "pack", "import", carPath); code != 0 {
			t.Fatalf("pack import %s: %s", fx.car, errOut)
		}
		files := carFiles(t, carPath, fx.root)
		if len(files) > 3 {
			files = []carFile{files[0], files[len(files)/2], files[len(files)-1]}
		}
		for _, f := range files {
			targets = append(targets, target{fx.root + "/" + f.path, fx.car + ":" + f.path, sha256.Sum256(f.content), len(f.content)})
		}
	}
	loaded := time.Since(start)

	// The gateway, in-process on a free loopback port.
	addr, requests := startGateway(t, ctx, dir)

	// The client.
	script := filepath.Join("testdata", "verified-fetch.mjs")
	args := []string{script, "--timeout", "20000", "--modules", modules, "http://" + addr}
	for _, tg := range targets {
		args = append(args, tg.arg+"="+hex.EncodeToString(tg.sum[:]))
	}
	cmd := exec.CommandContext(ctx, node, args...)
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	fetchStart := time.Now()
	runErr := cmd.Run()
	fetched := time.Since(fetchStart)
	t.Logf("store loaded in %v; node ran %v", loaded.Round(time.Millisecond), fetched.Round(time.Millisecond))
	if runErr != nil {
		t.Errorf("verified-fetch.mjs: %v (context: %v)\nstderr:\n%s", runErr, ctx.Err(), stderr.String())
	}

	type result struct {
		Target      string  `json:"target"`
		Status      int     `json:"status"`
		SHA256      *string `json:"sha256"`
		Bytes       int     `json:"bytes"`
		ContentType *string `json:"contentType"`
		MS          int     `json:"ms"`
		Error       *string `json:"error"`
	}
	results := map[string]result{}
	sc := bufio.NewScanner(&stdout)
	for sc.Scan() {
		var r result
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("bad output line %q: %v", sc.Text(), err)
		}
		results[r.Target] = r
	}
	for _, tg := range targets {
		r, ok := results[tg.arg]
		if !ok {
			t.Errorf("%s: no result", tg.name)
			continue
		}
		want := hex.EncodeToString(tg.sum[:])
		got := ""
		if r.SHA256 != nil {
			got = *r.SHA256
		}
		if r.Status != 200 || got != want || r.Bytes != tg.size || r.Error != nil {
			t.Errorf("%s (%s): status %d, %d bytes, sha256 %s, error %v; want 200, %d bytes, sha256 %s",
				tg.name, tg.arg, r.Status, r.Bytes, got, deref(r.Error), tg.size, want)
			continue
		}
		t.Logf("%-56s 200 %8d bytes %5d ms %s", tg.name, r.Bytes, r.MS, deref(r.ContentType))
	}

	// The gateway saw only raw block requests, all answered, and every
	// block of the multi-block file among them.
	reqs := requests()
	raw := map[string]bool{}
	for _, r := range reqs {
		if r.Format != "raw" || r.Status != 200 {
			t.Errorf("request %s: format %q, status %d; want raw, 200", r.Path, r.Format, r.Status)
			continue
		}
		c, err := cid.Decode(r.CID)
		if err != nil {
			t.Errorf("request log: bad cid %q", r.CID)
			continue
		}
		raw[string(c.Hash())] = true
	}
	for _, mh := range rootBlobs["random-3m.bin"] {
		c, err := cid.Decode(mh)
		if err != nil {
			t.Fatalf("blob %s: %v", mh, err)
		}
		if !raw[string(c.Hash())] {
			t.Errorf("random-3m.bin: block %s never requested as a raw block", mh)
		}
	}
	t.Logf("%d requests to the gateway, %d distinct blocks, all format=raw", len(reqs), len(raw))
	if t.Failed() {
		t.Logf("client stderr:\n%s", stderr.String())
	}
}

func deref(s *string) string {
	if s == nil {
		return "<nil>"
	}
	return *s
}

// verifiedFetchTools finds a Node >= 22 and the node_modules holding
// @helia/verified-fetch (see testutil.Node).
func verifiedFetchTools(t *testing.T) (node, modules string) {
	t.Helper()
	return testutil.Node(t, "@helia/verified-fetch")
}

// gatewayRequest is one line of the gateway's request log.
type gatewayRequest struct {
	Msg    string `json:"msg"`
	Path   string `json:"path"`
	CID    string `json:"cid"`
	Format string `json:"format"`
	Status int    `json:"status"`
}

// startGateway runs `hash-stream serve` over the fs store in dir on a free
// loopback port until the test ends. It returns the address and a function
// giving the requests logged so far.
func startGateway(t *testing.T, ctx context.Context, dir string) (addr string, requests func() []gatewayRequest) {
	t.Helper()
	srvCtx, stop := context.WithCancel(ctx)
	logBuf := &testutil.Buffer{}
	addrc := make(chan string, 1)
	env := &cliEnv{stdout: io.Discard, stderr: logBuf, getenv: func(string) string { return "" },
		onListen: func(a string) { addrc <- a }}
	done := make(chan int, 1)
	go func() { done <- run(srvCtx, env, []string{"serve", "--dir", dir, "--listen", "127.0.0.1:0"}) }()
	t.Cleanup(func() {
		stop()
		select {
		case code := <-done:
			if code != 0 {
				t.Errorf("serve exited %d: %s", code, logBuf.String())
			}
		case <-time.After(15 * time.Second):
			t.Error("serve did not stop")
		}
	})
	select {
	case addr = <-addrc:
	case code := <-done:
		t.Fatalf("serve exited %d before listening: %s", code, logBuf.String())
	case <-ctx.Done():
		t.Fatal("serve did not start listening")
	}
	return addr, func() []gatewayRequest {
		var out []gatewayRequest
		for _, line := range strings.Split(logBuf.String(), "\n") {
			var r gatewayRequest
			if json.Unmarshal([]byte(line), &r) == nil && r.Msg == "request" {
				out = append(out, r)
			}
		}
		return out
	}
}

// carFile is a UnixFS file found in a CAR directory.
type carFile struct {
	path    string
	content []byte
}

// carFiles rebuilds every file below the UnixFS directory root from the
// blocks of a CAR, by itself (not through the gateway), in path order.
func carFiles(t *testing.T, carPath, root string) []carFile {
	t.Helper()
	f, err := os.Open(carPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	_, read := testutil.MustReadCAR(t, f)
	blocks := map[string][]byte{} // by multihash
	for _, b := range read {
		blocks[string(b.CID.Hash())] = b.Data
	}
	block := func(c cid.Cid) []byte {
		b, ok := blocks[string(c.Hash())]
		if !ok {
			t.Fatalf("%s: block %s missing", carPath, c)
		}
		return b
	}
	decode := func(c cid.Cid) (dagpb.PBNode, data.UnixFSData) {
		nb := dagpb.Type.PBNode.NewBuilder()
		if err := dagpb.DecodeBytes(nb, block(c)); err != nil {
			t.Fatalf("%s: %v", c, err)
		}
		pb := nb.Build().(dagpb.PBNode)
		if !pb.FieldData().Exists() {
			t.Fatalf("%s: not UnixFS", c)
		}
		ufs, err := data.DecodeUnixFSData(pb.FieldData().Must().Bytes())
		if err != nil {
			t.Fatalf("%s: %v", c, err)
		}
		return pb, ufs
	}
	var content func(c cid.Cid) []byte
	content = func(c cid.Cid) []byte {
		if c.Prefix().Codec == cid.Raw {
			return block(c)
		}
		pb, ufs := decode(c)
		var out []byte
		if ufs.FieldData().Exists() {
			out = append(out, ufs.FieldData().Must().Bytes()...)
		}
		for it := pb.FieldLinks().Iterator(); !it.Done(); {
			_, l := it.Next()
			out = append(out, content(l.FieldHash().Link().(cidlink.Link).Cid)...)
		}
		return out
	}
	var files []carFile
	var walk func(c cid.Cid, prefix string)
	walk = func(c cid.Cid, prefix string) {
		if c.Prefix().Codec == cid.Raw {
			files = append(files, carFile{prefix, block(c)})
			return
		}
		pb, ufs := decode(c)
		switch ufs.FieldDataType().Int() {
		case data.Data_File, data.Data_Raw:
			files = append(files, carFile{prefix, content(c)})
		case data.Data_Directory, data.Data_HAMTShard:
			// A HAMT link name is the bucket in hex, then the entry's
			// name; a bucket alone links to a sub-shard.
			bucket := 0
			if ufs.FieldDataType().Int() == data.Data_HAMTShard {
				bucket = len(fmt.Sprintf("%X", ufs.FieldFanout().Must().Int()-1))
			}
			for it := pb.FieldLinks().Iterator(); !it.Done(); {
				_, l := it.Next()
				child := l.FieldHash().Link().(cidlink.Link).Cid
				name := l.FieldName().Must().String()
				if len(name) == bucket {
					walk(child, prefix)
					continue
				}
				name = name[bucket:]
				if prefix != "" {
					name = prefix + "/" + name
				}
				walk(child, name)
			}
		default:
			t.Fatalf("%s: UnixFS type %d not handled here", c, ufs.FieldDataType().Int())
		}
	}
	walk(cid.MustParse(root), "")
	if len(files) == 0 {
		t.Fatalf("%s: no files", carPath)
	}
	sort.Slice(files, func(i, j int) bool { return files[i].path < files[j].path })
	return files
}

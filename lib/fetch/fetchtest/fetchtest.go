// Package fetchtest is a hostile trustless gateway for the tests of the
// fetch client (lib/fetch and hash-stream fetch): it serves blocks and
// CARs on 127.0.0.1 and builds the DAGs an attacker would send: trees
// that reuse their subtrees (diamonds), HAMTs whose shards all link to the
// same child, symbolic links; and it can answer CARs with a drip (200,
// then one byte at a time).
package fetchtest

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hash-stream/hash-stream-aws/lib/dag"
	"github.com/hash-stream/hash-stream-aws/lib/unixfs"
	"github.com/ipfs/go-cid"
	"github.com/ipfs/go-unixfsnode/data"
	"github.com/ipfs/go-unixfsnode/data/builder"
	dagpb "github.com/ipld/go-codec-dagpb"
	"github.com/ipld/go-ipld-prime"
	cidlink "github.com/ipld/go-ipld-prime/linking/cid"
	"github.com/multiformats/go-multihash"
)

// Gateway serves the blocks it holds: ?format=raw (or an Accept of
// application/vnd.ipld.raw) the block, ?format=car a CARv1 of every block
// reachable from the CID, each once, depth first, whatever the dag-scope
// or entity-bytes (a client takes what it needs); 404 for a CID it does
// not hold, and for paths.
type Gateway struct {
	URL string

	tb     testing.TB
	srv    *httptest.Server
	mu     sync.Mutex
	blocks map[string][]byte // by CID key
	sizes  map[string]int64  // Tsize: a block and everything below it
	drip   atomic.Int64      // nanoseconds between two bytes of a CAR; 0 for none
	raws   atomic.Int64
	cars   atomic.Int64
	hook   atomic.Value // func(*http.Request), called on each request
}

// New starts a Gateway on 127.0.0.1, closed when tb ends.
func New(tb testing.TB) *Gateway {
	g := &Gateway{tb: tb, blocks: map[string][]byte{}, sizes: map[string]int64{}}
	g.srv = httptest.NewServer(http.HandlerFunc(g.serve))
	g.URL = g.srv.URL
	tb.Cleanup(g.srv.Close)
	return g
}

// Drip makes every CAR response answer 200 at once, then send its bytes
// one at a time, every d (0 turns it off).
func (g *Gateway) Drip(d time.Duration) { g.drip.Store(int64(d)) }

// OnRequest has fn called with each request as it arrives, before it is
// answered (a test waits on it: a fetch under way).
func (g *Gateway) OnRequest(fn func(*http.Request)) { g.hook.Store(fn) }

// RawRequests returns how many blocks were asked (?format=raw).
func (g *Gateway) RawRequests() int64 { return g.raws.Load() }

// CARRequests returns how many CARs were asked.
func (g *Gateway) CARRequests() int64 { return g.cars.Load() }

func (g *Gateway) serve(w http.ResponseWriter, r *http.Request) {
	if fn, ok := g.hook.Load().(func(*http.Request)); ok && fn != nil {
		fn(r)
	}
	c, err := cid.Decode(strings.TrimPrefix(r.URL.Path, "/ipfs/"))
	if err != nil {
		http.NotFound(w, r)
		return
	}
	raw, ok := g.block(c)
	if !ok {
		http.NotFound(w, r)
		return
	}
	format := r.URL.Query().Get("format")
	if format == "raw" || (format == "" && strings.Contains(r.Header.Get("Accept"), "application/vnd.ipld.raw")) {
		g.raws.Add(1)
		w.Header().Set("Content-Type", "application/vnd.ipld.raw")
		w.Write(raw)
		return
	}
	if format != "car" && !strings.Contains(r.Header.Get("Accept"), "application/vnd.ipld.car") {
		http.Error(w, "format=raw or format=car", http.StatusBadRequest)
		return
	}
	g.cars.Add(1)
	car, err := g.car(c)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/vnd.ipld.car; version=1; order=dfs; dups=n")
	d := time.Duration(g.drip.Load())
	if d <= 0 {
		w.Write(car)
		return
	}
	w.WriteHeader(http.StatusOK)
	w.(http.Flusher).Flush()
	tick := time.NewTicker(d)
	defer tick.Stop()
	for i := range car {
		select {
		case <-tick.C:
		case <-r.Context().Done():
			return
		}
		if _, err := w.Write(car[i : i+1]); err != nil {
			return
		}
		w.(http.Flusher).Flush()
	}
}

func (g *Gateway) block(c cid.Cid) ([]byte, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	b, ok := g.blocks[c.KeyString()]
	return b, ok
}

// car returns the CAR of every block reachable from root that the gateway
// holds, each once, depth first.
func (g *Gateway) car(root cid.Cid) ([]byte, error) {
	var out bytes.Buffer
	h, err := dag.CARHeader(root)
	if err != nil {
		return nil, err
	}
	out.Write(h)
	seen := map[string]bool{}
	stack := []cid.Cid{root}
	for len(stack) > 0 {
		c := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if seen[c.KeyString()] {
			continue
		}
		seen[c.KeyString()] = true
		raw, ok := g.block(c)
		if !ok {
			continue
		}
		if err := dag.WriteSection(&out, c, raw); err != nil {
			return nil, err
		}
		links, err := pbLinks(c, raw)
		if err != nil {
			return nil, err
		}
		for i := len(links) - 1; i >= 0; i-- {
			stack = append(stack, links[i])
		}
	}
	return out.Bytes(), nil
}

// pbLinks returns the links of a dag-pb block (none for a raw one).
func pbLinks(c cid.Cid, raw []byte) ([]cid.Cid, error) {
	if c.Prefix().Codec != cid.DagProtobuf {
		return nil, nil
	}
	nb := dagpb.Type.PBNode.NewBuilder()
	if err := dagpb.DecodeBytes(nb, raw); err != nil {
		return nil, err
	}
	var out []cid.Cid
	links := nb.Build().(dagpb.PBNode).FieldLinks()
	for it := links.Iterator(); !it.Done(); {
		_, l := it.Next()
		out = append(out, l.FieldHash().Link().(cidlink.Link).Cid)
	}
	return out, nil
}

// put adds a block (with its Tsize, for the links made to it).
func (g *Gateway) put(c cid.Cid, b []byte, tsize int64) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.blocks[c.KeyString()] = bytes.Clone(b)
	g.sizes[c.KeyString()] = tsize
}

// Tsize returns the size a link to c declares: its block and everything
// below it.
func (g *Gateway) Tsize(c cid.Cid) int64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.sizes[c.KeyString()]
}

// linkSystem stores what it encodes in g; Tsize sums the block and what
// its links declare.
func (g *Gateway) linkSystem() *ipld.LinkSystem {
	ls := cidlink.DefaultLinkSystem()
	ls.StorageWriteOpener = func(ipld.LinkContext) (io.Writer, ipld.BlockWriteCommitter, error) {
		var buf bytes.Buffer
		return &buf, func(l ipld.Link) error {
			c := l.(cidlink.Link).Cid
			size := int64(buf.Len())
			links, err := pbLinks(c, buf.Bytes())
			if err != nil {
				return err
			}
			for _, k := range links {
				size += g.Tsize(k)
			}
			g.put(c, buf.Bytes(), size)
			return nil
		}, nil
	}
	return &ls
}

// File adds a UnixFS file of content (chunk-byte raw leaves) and returns
// its root.
func (g *Gateway) File(content []byte, chunk int) cid.Cid {
	g.tb.Helper()
	root, _, err := unixfs.BuildFile(bytes.NewReader(content), func(b unixfs.Block) error {
		size := int64(len(b.Data))
		links, err := pbLinks(b.CID, b.Data)
		if err != nil {
			return err
		}
		for _, k := range links {
			size += g.Tsize(k)
		}
		g.put(b.CID, b.Data, size)
		return nil
	}, unixfs.WithChunkSize(chunk))
	if err != nil {
		g.tb.Fatalf("fetchtest: file: %v", err)
	}
	return root
}

// Link is an entry of a directory: Tsize -1 is the honest size.
type Link struct {
	Name  string
	CID   cid.Cid
	Tsize int64
}

// Entry returns the link to c named name, with its honest Tsize.
func Entry(name string, c cid.Cid) Link { return Link{name, c, -1} }

// Dir adds a plain UnixFS directory of links and returns it.
func (g *Gateway) Dir(links ...Link) cid.Cid {
	g.tb.Helper()
	var entries []dagpb.PBLink
	for _, l := range links {
		size := l.Tsize
		if size < 0 {
			size = g.Tsize(l.CID)
		}
		e, err := builder.BuildUnixFSDirectoryEntry(l.Name, size, cidlink.Link{Cid: l.CID})
		if err != nil {
			g.tb.Fatalf("fetchtest: entry %q: %v", l.Name, err)
		}
		entries = append(entries, e)
	}
	root, _, err := builder.BuildUnixFSDirectory(entries, g.linkSystem())
	if err != nil {
		g.tb.Fatalf("fetchtest: directory: %v", err)
	}
	return root.(cidlink.Link).Cid
}

// Symlink adds a UnixFS symbolic link to target and returns it.
func (g *Gateway) Symlink(target string) cid.Cid {
	g.tb.Helper()
	l, _, err := builder.BuildUnixFSSymlink(target, g.linkSystem())
	if err != nil {
		g.tb.Fatalf("fetchtest: symlink: %v", err)
	}
	return l.(cidlink.Link).Cid
}

// DiamondDir adds a plain directory of levels levels, each {a: child, b:
// child}, over a one-block file: levels+1 blocks that write 2^(levels+1)-2
// names. Its Tsizes are honest (they double at each level).
func (g *Gateway) DiamondDir(levels int) cid.Cid {
	g.tb.Helper()
	c := g.File([]byte("the leaf of a diamond\n"), 1<<20)
	for range levels {
		c = g.Dir(Entry("a", c), Entry("b", c))
	}
	return c
}

// DiamondHAMT adds a HAMT-sharded directory (fanout 256) of levels shards,
// each linking its 256 buckets 00..FF to the same child shard, the last
// one holding 256 entries of one file: levels+1 blocks that list 256^levels
// entries.
func (g *Gateway) DiamondHAMT(levels int) cid.Cid {
	g.tb.Helper()
	leaf := g.File([]byte("an entry of a diamond HAMT\n"), 1<<20)
	var links []Link
	for i := range 256 {
		links = append(links, Link{fmt.Sprintf("%02Xfile-%03d", i, i), leaf, -1})
	}
	c := g.shard(links)
	for range levels - 1 {
		links = links[:0]
		for i := range 256 {
			links = append(links, Link{fmt.Sprintf("%02X", i), c, -1})
		}
		c = g.shard(links)
	}
	return c
}

// shard adds a HAMT shard (fanout 256, every bucket set) of links, named
// as they are (the bucket's two hex digits, then the entry's name for an
// entry).
func (g *Gateway) shard(links []Link) cid.Cid {
	g.tb.Helper()
	ufs, err := builder.BuildUnixFS(func(b *builder.Builder) {
		builder.DataType(b, data.Data_HAMTShard)
		builder.HashType(b, multihash.MURMUR3X64_64)
		builder.Data(b, bytes.Repeat([]byte{0xff}, 32))
		builder.Fanout(b, 256)
	})
	if err != nil {
		g.tb.Fatalf("fetchtest: shard: %v", err)
	}
	return g.Node(ufs, links...)
}

// Node adds a dag-pb node of UnixFS data ufs and links, whatever they
// say (a file declaring sizes it does not hold, a shard of any links),
// and returns it.
func (g *Gateway) Node(ufs data.UnixFSData, links ...Link) cid.Cid {
	g.tb.Helper()
	must := func(err error) {
		if err != nil {
			g.tb.Fatalf("fetchtest: node: %v", err)
		}
	}
	pbb := dagpb.Type.PBNode.NewBuilder()
	pbm, err := pbb.BeginMap(2)
	must(err)
	must(pbm.AssembleKey().AssignString("Data"))
	must(pbm.AssembleValue().AssignBytes(data.EncodeUnixFSData(ufs)))
	must(pbm.AssembleKey().AssignString("Links"))
	lb := dagpb.Type.PBLinks.NewBuilder()
	la, err := lb.BeginList(int64(len(links)))
	must(err)
	for _, l := range links {
		size := l.Tsize
		if size < 0 {
			size = g.Tsize(l.CID)
		}
		e, err := builder.BuildUnixFSDirectoryEntry(l.Name, size, cidlink.Link{Cid: l.CID})
		must(err)
		must(la.AssembleValue().AssignNode(e))
	}
	must(la.Finish())
	must(pbm.AssembleValue().AssignNode(lb.Build()))
	must(pbm.Finish())
	lp := cidlink.LinkPrototype{Prefix: cid.Prefix{Version: 1, Codec: cid.DagProtobuf, MhType: multihash.SHA2_256, MhLength: -1}}
	l, err := g.linkSystem().Store(ipld.LinkContext{}, lp, pbb.Build())
	must(err)
	return l.(cidlink.Link).Cid
}

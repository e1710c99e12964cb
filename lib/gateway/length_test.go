package gateway_test

import (
	"bytes"
	"crypto/rand"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"testing"

	"github.com/ipfs/go-cid"
	"github.com/ipfs/go-unixfsnode/data"
	"github.com/ipfs/go-unixfsnode/data/builder"
	dagpb "github.com/ipld/go-codec-dagpb"
	"github.com/ipld/go-ipld-prime"
	"github.com/ipld/go-ipld-prime/datamodel"
	"github.com/ipld/go-ipld-prime/fluent/qp"
	cidlink "github.com/ipld/go-ipld-prime/linking/cid"
	basicnode "github.com/ipld/go-ipld-prime/node/basic"

	"github.com/hash-stream/hash-stream-aws/lib/store"
)

// checkLength fetches a CAR with HEAD, then GET: when the HEAD response
// announces a Content-Length (the gateway's own: net/http adds none to a
// HEAD), the GET response must carry the same and its body be exactly that
// long. It reports whether the length was announced.
func checkLength(t *testing.T, srv *httptest.Server, target string) bool {
	t.Helper()
	head := fetch(t, srv, http.MethodHead, target)
	r := fetch(t, srv, http.MethodGet, target)
	if r.status != http.StatusOK || head.status != http.StatusOK {
		t.Fatalf("status %d, HEAD %d: %q", r.status, head.status, r.body)
	}
	if r.readErr != nil {
		t.Fatalf("body read failed after %d bytes: %v", len(r.body), r.readErr)
	}
	mustCAR(t, r)
	v := head.header.Get("Content-Length")
	if v == "" {
		return false
	}
	if got := r.header.Get("Content-Length"); got != v {
		t.Errorf("GET Content-Length %q, HEAD %q", got, v)
	}
	if n, err := strconv.Atoi(v); err != nil || n != len(r.body) {
		t.Errorf("Content-Length %s, body %d bytes", v, len(r.body))
	}
	if len(r.header.Values("Transfer-Encoding")) > 0 {
		t.Errorf("Transfer-Encoding %q with a Content-Length", r.header.Values("Transfer-Encoding"))
	}
	return true
}

// TestCARContentLength checks, over the conformance table, that every CAR
// whose size the blocks read before the first byte tell carries an exact
// Content-Length, and which do not.
func TestCARContentLength(t *testing.T) {
	idx, packs := backends()[0].stores(t)
	for _, f := range conformanceFiles(t) {
		importCAR(t, idx, packs, f)
	}
	srv := newServer(t, idx, packs, nil)
	// These need blocks below the terminal to know their size: a DAG under
	// dag-scope=all, a HAMT's shards, or a file with dag-pb leaves (v0).
	unknown := []string{"dir/all", "root/all/dups=y", "mixed/all", "dups=n", "dups=y",
		"cbor/document/all", "cbor/ends inside block", "cbor/ends inside block/dups=y", "cbor/all/dups=y",
		"hamt/root/entity", "hamt/root/entity/dups=y", "entity-bytes on a HAMT",
		"v0/first block", "v0/first block/entity", "v0/first bytes", "v0/last block", "v0/last 1024",
		"v0/last byte", "v0/first/dups=y"}
	with := 0
	for _, tc := range carCases() {
		t.Run(tc.name, func(t *testing.T) {
			known := checkLength(t, srv, tc.target())
			if want := !slices.Contains(unknown, tc.name); known != want {
				t.Errorf("Content-Length announced: %v, want %v", known, want)
			}
			if known {
				with++
			}
		})
	}
	t.Logf("%d of %d CARs with Content-Length", with, len(carCases()))
}

// memLinkSystem stores the blocks it is given, in order.
type memLinkSystem struct {
	ipld.LinkSystem
	order  []cid.Cid
	blocks map[string][]byte
}

func newMemLinkSystem() *memLinkSystem {
	m := &memLinkSystem{LinkSystem: cidlink.DefaultLinkSystem(), blocks: make(map[string][]byte)}
	m.StorageWriteOpener = func(ipld.LinkContext) (io.Writer, ipld.BlockWriteCommitter, error) {
		var buf bytes.Buffer
		return &buf, func(l ipld.Link) error {
			c := l.(cidlink.Link).Cid
			if _, ok := m.blocks[c.KeyString()]; !ok {
				m.order = append(m.order, c)
				m.blocks[c.KeyString()] = buf.Bytes()
			}
			return nil
		}, nil
	}
	m.StorageReadOpener = func(_ ipld.LinkContext, l ipld.Link) (io.Reader, error) {
		return bytes.NewReader(m.blocks[l.(cidlink.Link).Cid.KeyString()]), nil
	}
	return m
}

// store writes the blocks as one pack with root as its CAR root, indexed
// with both writers under root.
func (m *memLinkSystem) store(t *testing.T, idx store.IndexStore, packs store.PackStore, root cid.Cid) {
	t.Helper()
	m.storeOrdered(t, idx, packs, root, m.order)
}

func (m *memLinkSystem) file(t *testing.T, content []byte) dagpb.PBLink {
	t.Helper()
	l, size, err := builder.BuildUnixFSFile(bytes.NewReader(content), "size-1024", &m.LinkSystem)
	if err != nil {
		t.Fatal(err)
	}
	return entryLink(t, l.(cidlink.Link).Cid, size)
}

func entryLink(t *testing.T, c cid.Cid, size uint64) dagpb.PBLink {
	t.Helper()
	l, err := builder.BuildUnixFSDirectoryEntry("", int64(size), cidlink.Link{Cid: c})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func (m *memLinkSystem) dir(t *testing.T, names []string, entries []dagpb.PBLink) cid.Cid {
	t.Helper()
	named := make([]dagpb.PBLink, len(entries))
	for i, e := range entries {
		l, err := builder.BuildUnixFSDirectoryEntry(names[i], e.FieldTsize().Must().Int(), e.FieldHash().Link())
		if err != nil {
			t.Fatal(err)
		}
		named[i] = l
	}
	l, _, err := builder.BuildUnixFSDirectory(named, &m.LinkSystem)
	if err != nil {
		t.Fatal(err)
	}
	return l.(cidlink.Link).Cid
}

// fileNode stores a UnixFS file node linking leaves with the block sizes
// given (true or not).
func (m *memLinkSystem) fileNode(t *testing.T, leaves []cid.Cid, sizes []uint64) cid.Cid {
	t.Helper()
	var total uint64
	for _, s := range sizes {
		total += s
	}
	ufs, err := builder.BuildUnixFS(func(b *builder.Builder) {
		builder.DataType(b, data.Data_File)
		builder.FileSize(b, total)
		builder.BlockSizes(b, sizes)
	})
	if err != nil {
		t.Fatal(err)
	}
	node, err := qp.BuildMap(dagpb.Type.PBNode, 2, func(ma datamodel.MapAssembler) {
		qp.MapEntry(ma, "Links", qp.List(int64(len(leaves)), func(la datamodel.ListAssembler) {
			for i, c := range leaves {
				qp.ListEntry(la, qp.Map(2, func(ma datamodel.MapAssembler) {
					qp.MapEntry(ma, "Hash", qp.Link(cidlink.Link{Cid: c}))
					qp.MapEntry(ma, "Tsize", qp.Int(int64(sizes[i])))
				}))
			}
		}))
		qp.MapEntry(ma, "Data", qp.Bytes(data.EncodeUnixFSData(ufs)))
	})
	if err != nil {
		t.Fatal(err)
	}
	l, err := m.Store(ipld.LinkContext{}, cidlink.LinkPrototype{Prefix: cid.Prefix{
		Version: 1, Codec: cid.DagProtobuf, MhType: 0x12, MhLength: 32}}, node)
	if err != nil {
		t.Fatal(err)
	}
	return l.(cidlink.Link).Cid
}

// TestCARContentLengthExact serves files of raw leaves, some repeated
// within a file and across files, through paths, with every dag-scope,
// dups=n and y, and entity-bytes slices: each CAR must announce its length
// and come out exactly that long. A file node whose block sizes do not
// match its leaves is cut, not ended short or long.
func TestCARContentLengthExact(t *testing.T) {
	idx, packs := backends()[0].stores(t)
	m := newMemLinkSystem()
	random := make([]byte, 3000)
	rand.Read(random)
	zeros := m.file(t, make([]byte, 5000)) // leaves Z Z Z Z T: one leaf four times
	rnd := m.file(t, random)
	sub := m.dir(t, []string{"zeros.bin"}, []dagpb.PBLink{zeros})
	leaf := func(b []byte) cid.Cid {
		l, err := m.Store(ipld.LinkContext{}, cidlink.LinkPrototype{Prefix: cid.Prefix{
			Version: 1, Codec: cid.Raw, MhType: 0x12, MhLength: 32}}, basicnode.NewBytes(b))
		if err != nil {
			t.Fatal(err)
		}
		return l.(cidlink.Link).Cid
	}
	// Files whose node lies about its last leaf, past the first flush
	// (256 KiB) so that the status is out when the lie shows.
	big := make([]byte, 3*200000)
	rand.Read(big)
	leaves := []cid.Cid{leaf(big[:200000]), leaf(big[200000:400000]), leaf(big[400000:])}
	short := m.fileNode(t, leaves, []uint64{200000, 200000, 199000}) // says less than there is
	long := m.fileNode(t, leaves, []uint64{200000, 200000, 201000})  // says more
	root := m.dir(t, []string{"zeros.bin", "copy.bin", "random.bin", "sub", "short.bin", "long.bin"},
		[]dagpb.PBLink{zeros, zeros, rnd, entryLink(t, sub, 0), entryLink(t, short, 600000), entryLink(t, long, 600000)})
	m.store(t, idx, packs, root)
	srv := newServer(t, idx, packs, nil)

	for _, path := range []string{"/zeros.bin", "/copy.bin", "/random.bin", "/sub/zeros.bin"} {
		for _, dups := range []string{"n", "y"} {
			var queries []string
			for _, scope := range []string{"block", "entity", "all"} {
				queries = append(queries, "dag-scope="+scope)
			}
			for _, eb := range []string{"0:0", "0:1023", "1000:3000", "1024:2047", "-1:*", "2048:*", "-5000:-4000", "4999:*", "9000:*", "0:*"} {
				queries = append(queries, "entity-bytes="+eb)
			}
			for _, q := range queries {
				target := "/ipfs/" + root.String() + path + "?format=car&car-dups=" + dups + "&" + q
				t.Run(target, func(t *testing.T) {
					if !checkLength(t, srv, target) {
						t.Error("no Content-Length")
					}
				})
			}
		}
	}
	for _, q := range []string{"dag-scope=block", "dag-scope=entity"} {
		if target := "/ipfs/" + root.String() + "?format=car&" + q; !checkLength(t, srv, target) {
			t.Errorf("%s: no Content-Length", target)
		}
	}
	for _, name := range []string{"short.bin", "long.bin"} {
		for _, q := range []string{"", "&entity-bytes=0:*", "&car-dups=y"} {
			target := "/ipfs/" + root.String() + "/" + name + "?format=car" + q
			r := fetch(t, srv, http.MethodGet, target)
			if r.status != http.StatusOK || r.header.Get("Content-Length") == "" {
				t.Fatalf("%s: status %d, Content-Length %q", target, r.status, r.header.Get("Content-Length"))
			}
			if r.readErr == nil {
				t.Errorf("%s: a body of %d bytes against Content-Length %s ended cleanly", target, len(r.body), r.header.Get("Content-Length"))
			}
		}
	}
}

// TestCutWithContentLength checks that a CAR with a Content-Length cut
// mid-stream (a corrupt leaf) arrives short of it.
func TestCutWithContentLength(t *testing.T) {
	idx, packs := backends()[0].stores(t)
	f := writeFaultFile(t, idx, packs)
	l := f.blobs[1]
	rewritePack(t, packs, l.Pack.Multihash, func(b []byte) []byte { b[l.Offset+l.Length/2] ^= 0x01; return b })
	srv := newServer(t, idx, packs, nil)
	for _, q := range []string{"format=car", "format=car&car-dups=y", "format=car&entity-bytes=1000000:2500000"} {
		r := fetch(t, srv, http.MethodGet, "/ipfs/"+f.root.String()+"?"+q)
		n, err := strconv.Atoi(r.header.Get("Content-Length"))
		if r.status != http.StatusOK || err != nil {
			t.Fatalf("%s: status %d, Content-Length %q", q, r.status, r.header.Get("Content-Length"))
		}
		if len(r.body) >= n || !errors.Is(r.readErr, io.ErrUnexpectedEOF) {
			t.Errorf("%s: %d of %d bytes, read error %v: want a short body", q, len(r.body), n, r.readErr)
		}
	}
}

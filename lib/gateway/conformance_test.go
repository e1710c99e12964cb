package gateway_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/ipfs/go-unixfsnode/data"
	car "github.com/ipld/go-car/v2"
	dagpb "github.com/ipld/go-codec-dagpb"
	"github.com/ipld/go-ipld-prime/codec/dagcbor"
	"github.com/ipld/go-ipld-prime/datamodel"
	cidlink "github.com/ipld/go-ipld-prime/linking/cid"
	basicnode "github.com/ipld/go-ipld-prime/node/basic"
	"github.com/multiformats/go-multihash"

	"github.com/hash-stream/hash-stream-aws/internal/s3test"
	"github.com/hash-stream/hash-stream-aws/internal/testutil"
	"github.com/hash-stream/hash-stream-aws/lib/dag"
	"github.com/hash-stream/hash-stream-aws/lib/gateway"
	"github.com/hash-stream/hash-stream-aws/lib/index"
	"github.com/hash-stream/hash-stream-aws/lib/pack"
	"github.com/hash-stream/hash-stream-aws/lib/store"
	"github.com/hash-stream/hash-stream-aws/lib/store/fs"
	"github.com/hash-stream/hash-stream-aws/lib/store/s3"
	"github.com/hash-stream/hash-stream-aws/lib/streamer"
)

// s3Server is the S3-compatible server of this test binary (nil: none;
// the S3 variants then skip, or fail under CI=true).
var s3Server *s3test.Server

func TestMain(m *testing.M) { s3test.Main(m, &s3Server) }

// The roots of the conformance fixtures (see shared/conformance/README.md).
const (
	rawBlockRoot  = "bafybeie72edlprgtlwwctzljf6gkn2wnlrddqjbkxo3jomh4n7omwblxly"
	twoFilesRoot  = "bafybeietjm63oynimmv5yyqay33nui4y4wx6u3peezwetxgiwvfmelutzu"
	mixedRoot     = "bafybeidh6k2vzukelqtrjsmd4p52cpmltd2ufqrdtdg6yigi73in672fwu"
	hamtRoot      = "bafybeidbclfqleg2uojchspzd4bob56dqetqjsj27gy2cq3klkkgxtpn4i"
	cborRoot      = "bafybeia264q44a3kmfc2otctzu4egp2k235o3t7mslz2yjraymp4nv6asi"
	dupsRoot      = "bafybeihchr7vmgjaasntayyatmp5sv6xza57iy2h4xj7g46bpjij6yhrmy"
	v0Root        = "QmYhmPjhFjYFyaoiuNzYv8WGavpSRDwdHWe5B4M5du5Rtk"
	v0MissingLeaf = "QmSNLTo6Wv9dfroVaw7MFYjLqf9ho7PKrgsjdzYDtv8h1W"

	rawContentType = "application/vnd.ipld.raw"
	carDupsN       = "application/vnd.ipld.car; version=1; order=dfs; dups=n"
	carDupsY       = "application/vnd.ipld.car; version=1; order=dfs; dups=y"
	immutable      = "public, max-age=29030400, immutable"
)

// backend makes an empty (index, pack) store pair for one test.
type backend struct {
	name   string
	stores func(t *testing.T) (store.IndexStore, store.PackStore)
}

// backends are the stores every table runs against: a folder, and the
// real S3 server of s3test with fresh buckets per test.
func backends() []backend {
	return []backend{
		{"fs", func(t *testing.T) (store.IndexStore, store.PackStore) {
			dir := t.TempDir()
			return fs.NewIndexStore(filepath.Join(dir, "index")), fs.NewPackStore(filepath.Join(dir, "pack"))
		}},
		{"s3", func(t *testing.T) (store.IndexStore, store.PackStore) {
			s3Server.Require(t)
			client := s3Server.Client()
			return s3.NewIndexStore(client, s3Server.NewBucket(t)), s3.NewPackStore(client, s3Server.NewBucket(t))
		}},
	}
}

// newServer serves the gateway handler over (idx, packs) on a loopback
// httptest server closed when t ends. wrap, when not nil, wraps the handler.
func newServer(t *testing.T, idx store.IndexStore, packs store.PackStore, wrap func(http.Handler) http.Handler) *httptest.Server {
	t.Helper()
	var h http.Handler = gateway.New(streamer.New(index.NewReader(idx), packs))
	if wrap != nil {
		h = wrap(h)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

// importCAR stores a CAR file as a pack and indexes its blocks with both
// index writers, the root from the CAR header as the containing multihash.
func importCAR(t *testing.T, idx store.IndexStore, packs store.PackStore, file string) pack.Info {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ctx := context.Background()
	info, err := pack.Import(ctx, packs, f)
	if err != nil {
		t.Fatalf("import %s: %v", file, err)
	}
	if len(info.Roots) != 1 {
		t.Fatalf("%s: %d roots", file, len(info.Roots))
	}
	for _, w := range []index.Writer{index.NewSingleLevelWriter(idx), index.NewMultipleLevelWriter(idx)} {
		if err := w.Add(ctx, info.Blobs, info.Roots[0].Hash()); err != nil {
			t.Fatalf("index %s: %v", file, err)
		}
	}
	return info
}

func conformanceFiles(t testing.TB) []string {
	files, err := filepath.Glob(filepath.Join(testutil.Shared(t), "conformance", "*.car"))
	if err != nil || len(files) != 7 {
		t.Fatalf("conformance fixtures: %d files, %v", len(files), err)
	}
	return files
}

// ---------------------------------------------------------------------------
// An independent model of the fixtures: their blocks, read with go-car, and
// the DAG walks a response must follow, computed here with go-ipld-prime
// link extraction (not with the streamer or the handler).

type corpus struct {
	blocks map[string][]byte // by multihash
	all    []cid.Cid         // every block as its CAR labels it
}

func loadCorpus(t testing.TB) *corpus {
	c := &corpus{blocks: make(map[string][]byte)}
	for _, file := range conformanceFiles(t) {
		f, err := os.Open(file)
		if err != nil {
			t.Fatal(err)
		}
		br, err := car.NewBlockReader(f)
		if err != nil {
			t.Fatal(err)
		}
		for {
			b, err := br.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("%s: %v", file, err)
			}
			if _, ok := c.blocks[string(b.Cid().Hash())]; !ok {
				c.all = append(c.all, b.Cid())
			}
			c.blocks[string(b.Cid().Hash())] = b.RawData()
		}
		f.Close()
	}
	return c
}

func (c *corpus) data(t testing.TB, x cid.Cid) []byte {
	t.Helper()
	d, ok := c.blocks[string(x.Hash())]
	if !ok {
		t.Fatalf("model: block %s not in the fixtures", x)
	}
	return d
}

func (c *corpus) has(x cid.Cid) bool { _, ok := c.blocks[string(x.Hash())]; return ok }

func decodePB(t testing.TB, raw []byte) dagpb.PBNode {
	t.Helper()
	nb := dagpb.Type.PBNode.NewBuilder()
	if err := dagpb.DecodeBytes(nb, raw); err != nil {
		t.Fatalf("model: dag-pb: %v", err)
	}
	return nb.Build().(dagpb.PBNode)
}

type pbLink struct {
	name string
	cid  cid.Cid
}

func pbLinks(pb dagpb.PBNode) []pbLink {
	var out []pbLink
	for it := pb.FieldLinks().Iterator(); !it.Done(); {
		_, l := it.Next()
		var name string
		if l.FieldName().Exists() {
			name = l.FieldName().Must().String()
		}
		out = append(out, pbLink{name, l.FieldHash().Link().(cidlink.Link).Cid})
	}
	return out
}

// unixfs returns the dag-pb node x and its UnixFS data (nil when none).
func (c *corpus) unixfs(t testing.TB, raw []byte) (dagpb.PBNode, data.UnixFSData) {
	t.Helper()
	pb := decodePB(t, raw)
	if !pb.FieldData().Exists() {
		return pb, nil
	}
	ufs, err := data.DecodeUnixFSData(pb.FieldData().Must().Bytes())
	if err != nil {
		t.Fatalf("model: UnixFS: %v", err)
	}
	return pb, ufs
}

func decodeCBOR(t testing.TB, raw []byte) datamodel.Node {
	t.Helper()
	nb := basicnode.Prototype.Any.NewBuilder()
	if err := dagcbor.Decode(nb, bytes.NewReader(raw)); err != nil {
		t.Fatalf("model: dag-cbor: %v", err)
	}
	return nb.Build()
}

func nodeLinks(n datamodel.Node, out []cid.Cid) []cid.Cid {
	switch n.Kind() {
	case datamodel.Kind_Link:
		l, _ := n.AsLink()
		out = append(out, l.(cidlink.Link).Cid)
	case datamodel.Kind_Map:
		for it := n.MapIterator(); !it.Done(); {
			_, v, _ := it.Next()
			out = nodeLinks(v, out)
		}
	case datamodel.Kind_List:
		for it := n.ListIterator(); !it.Done(); {
			_, v, _ := it.Next()
			out = nodeLinks(v, out)
		}
	}
	return out
}

// links returns the links of block x in order.
func (c *corpus) links(t testing.TB, x cid.Cid, raw []byte) []cid.Cid {
	t.Helper()
	switch x.Prefix().Codec {
	case cid.Raw:
		return nil
	case cid.DagProtobuf:
		var out []cid.Cid
		for _, l := range pbLinks(decodePB(t, raw)) {
			out = append(out, l.cid)
		}
		return out
	case cid.DagCBOR:
		return nodeLinks(decodeCBOR(t, raw), nil)
	}
	t.Fatalf("model: codec %x", x.Prefix().Codec)
	return nil
}

// walk builds the block sequence of a CAR response.
type walk struct {
	c    *corpus
	t    testing.TB
	dups bool
	seen map[string]bool
	out  []cid.Cid
}

func (c *corpus) newWalk(t testing.TB, dups bool) *walk {
	return &walk{c: c, t: t, dups: dups, seen: make(map[string]bool)}
}

// emit appends x, or reports false when dups=n and x was written before.
func (w *walk) emit(x cid.Cid) bool {
	if !w.dups {
		if w.seen[x.KeyString()] {
			return false
		}
		w.seen[x.KeyString()] = true
	}
	w.out = append(w.out, x)
	return true
}

// all is a plain depth-first walk, parents first, links in order.
func (w *walk) all(x cid.Cid) {
	if !w.emit(x) {
		return
	}
	for _, l := range w.c.links(w.t, x, w.c.data(w.t, x)) {
		w.all(l)
	}
}

// entityRange is a parsed entity-bytes value.
type entityRange struct {
	from, to int64
	toEnd    bool
}

func parseEntityRange(t testing.TB, s string) *entityRange {
	if s == "" {
		return nil
	}
	a, b, ok := strings.Cut(s, ":")
	if !ok {
		t.Fatalf("model: entity-bytes %q", s)
	}
	r := &entityRange{}
	r.from, _ = strconv.ParseInt(a, 10, 64)
	if b == "*" {
		r.toEnd = true
	} else {
		r.to, _ = strconv.ParseInt(b, 10, 64)
	}
	return r
}

// bounds resolves r for a file of size bytes: inclusive first..last.
func (r *entityRange) bounds(size int64) (first, last int64, ok bool) {
	first, last = r.from, r.to
	if first < 0 {
		first = max(size+first, 0)
	}
	if r.toEnd {
		last = size - 1
	} else if last < 0 {
		last = size + last
	}
	last = min(last, size-1)
	return first, last, first <= last && first < size
}

// scope appends the terminal x and what dag-scope (and entity-bytes) add.
func (w *walk) scope(x cid.Cid, scope string, eb *entityRange) {
	switch scope {
	case "block":
		w.emit(x)
		return
	case "all", "":
		w.all(x)
		return
	}
	if x.Prefix().Codec != cid.DagProtobuf {
		w.emit(x) // a raw file is one block; dag-cbor: the block alone
		return
	}
	pb, ufs := w.c.unixfs(w.t, w.c.data(w.t, x))
	if ufs == nil {
		w.emit(x)
		return
	}
	switch ufs.FieldDataType().Int() {
	case data.Data_File, data.Data_Raw:
		if eb == nil {
			w.all(x)
			return
		}
		if !w.emit(x) {
			return
		}
		if first, last, ok := eb.bounds(ufs.FieldFileSize().Must().Int()); ok {
			w.fileRange(pb, ufs, 0, first, last)
		}
	case data.Data_HAMTShard:
		w.hamtShards(x)
	default:
		w.emit(x)
	}
}

// fileRange appends the blocks below a file node that hold bytes
// first..last, the node starting at byte off of the file.
func (w *walk) fileRange(pb dagpb.PBNode, ufs data.UnixFSData, off, first, last int64) {
	pos := off
	if ufs.FieldData().Exists() {
		pos += int64(len(ufs.FieldData().Must().Bytes()))
	}
	for i, l := range pbLinks(pb) {
		bs, err := ufs.FieldBlockSizes().LookupByIndex(int64(i))
		if err != nil {
			w.t.Fatalf("model: blocksizes: %v", err)
		}
		size, _ := bs.AsInt()
		if pos <= last && pos+size-1 >= first && w.emit(l.cid) && l.cid.Prefix().Codec == cid.DagProtobuf {
			cpb, cufs := w.c.unixfs(w.t, w.c.data(w.t, l.cid))
			w.fileRange(cpb, cufs, pos, first, last)
		}
		pos += size
	}
}

// hamtShards appends a HAMT shard and its sub-shards, not its entries.
func (w *walk) hamtShards(x cid.Cid) {
	if !w.emit(x) {
		return
	}
	pb, ufs := w.c.unixfs(w.t, w.c.data(w.t, x))
	pad := len(fmt.Sprintf("%X", ufs.FieldFanout().Must().Int()-1))
	for _, l := range pbLinks(pb) {
		if len(l.name) == pad {
			w.hamtShards(l.cid)
		}
	}
}

// resolve walks a slash-separated path from root: the blocks the walk
// reads before the terminal (HAMT shards included) and the terminal.
func (c *corpus) resolve(t testing.TB, root cid.Cid, path string) (through []cid.Cid, terminal cid.Cid) {
	cur := root
	segs := strings.FieldsFunc(path, func(r rune) bool { return r == '/' })
	for i, seg := range segs {
		var err error
		if segs[i], err = url.PathUnescape(seg); err != nil {
			t.Fatalf("model: %v", err)
		}
	}
	for len(segs) > 0 {
		raw := c.data(t, cur)
		switch cur.Prefix().Codec {
		case cid.DagProtobuf:
			through = append(through, cur)
			pb, ufs := c.unixfs(t, raw)
			var next cid.Cid
			if ufs.FieldDataType().Int() == data.Data_HAMTShard {
				var shards []cid.Cid
				shards, next = c.hamtFind(t, pb, ufs, segs[0])
				through = append(through, shards...)
			} else {
				for _, l := range pbLinks(pb) {
					if l.name == segs[0] {
						next = l.cid
					}
				}
			}
			if !next.Defined() {
				t.Fatalf("model: no %q below %s", segs[0], cur)
			}
			cur, segs = next, segs[1:]
		case cid.DagCBOR:
			n := decodeCBOR(t, raw)
			var next cid.Cid
			for len(segs) > 0 && !next.Defined() {
				v, err := n.LookupByString(segs[0])
				if err != nil {
					t.Fatalf("model: no %q in %s: %v", segs[0], cur, err)
				}
				segs = segs[1:]
				if v.Kind() == datamodel.Kind_Link {
					l, _ := v.AsLink()
					next = l.(cidlink.Link).Cid
				}
				n = v
			}
			if !next.Defined() {
				return through, cur // the path ends inside this block
			}
			through = append(through, cur)
			cur = next
		default:
			t.Fatalf("model: cannot path into %s", cur)
		}
	}
	return through, cur
}

// hamtFind finds an entry of a HAMT directory by searching every shard
// (no hashing): the sub-shards on the way to it, in order, and its CID.
func (c *corpus) hamtFind(t testing.TB, pb dagpb.PBNode, ufs data.UnixFSData, name string) ([]cid.Cid, cid.Cid) {
	pad := len(fmt.Sprintf("%X", ufs.FieldFanout().Must().Int()-1))
	for _, l := range pbLinks(pb) {
		if len(l.name) == pad {
			spb, sufs := c.unixfs(t, c.data(t, l.cid))
			if shards, found := c.hamtFind(t, spb, sufs, name); found.Defined() {
				return append([]cid.Cid{l.cid}, shards...), found
			}
		} else if l.name[pad:] == name {
			return nil, l.cid
		}
	}
	return nil, cid.Undef
}

// fileBytes rebuilds the UnixFS file x from blocks (by multihash), in DFS
// order of its leaves; ok is false when a block is missing.
func fileBytes(t testing.TB, blocks map[string][]byte, x cid.Cid) ([]byte, bool) {
	raw, ok := blocks[string(x.Hash())]
	if !ok {
		return nil, false
	}
	if x.Prefix().Codec == cid.Raw {
		return raw, true
	}
	var c corpus
	pb, ufs := c.unixfs(t, raw)
	var out []byte
	if ufs.FieldData().Exists() {
		out = append(out, ufs.FieldData().Must().Bytes()...)
	}
	for _, l := range pbLinks(pb) {
		b, ok := fileBytes(t, blocks, l.cid)
		if !ok {
			return nil, false
		}
		out = append(out, b...)
	}
	if ufs.FieldFileSize().Exists() && int64(len(out)) != ufs.FieldFileSize().Must().Int() {
		t.Errorf("file %s: rebuilt %d bytes, filesize says %d", x, len(out), ufs.FieldFileSize().Must().Int())
	}
	return out, true
}

// fileRangeBytes rebuilds bytes first..last of file x from blocks, which
// must hold every block of the file that holds any of those bytes (and may
// lack the others).
func fileRangeBytes(t testing.TB, blocks map[string][]byte, x cid.Cid, off, first, last int64) ([]byte, error) {
	raw, ok := blocks[string(x.Hash())]
	if !ok {
		return nil, fmt.Errorf("block %s (file bytes from %d) not in the response", x, off)
	}
	clip := func(b []byte, at int64) []byte {
		lo, hi := max(first-at, 0), min(last-at+1, int64(len(b)))
		if lo >= hi {
			return nil
		}
		return b[lo:hi]
	}
	if x.Prefix().Codec == cid.Raw {
		return clip(raw, off), nil
	}
	var c corpus
	pb, ufs := c.unixfs(t, raw)
	pos := off
	var out []byte
	if ufs.FieldData().Exists() {
		d := ufs.FieldData().Must().Bytes()
		out = append(out, clip(d, pos)...)
		pos += int64(len(d))
	}
	for i, l := range pbLinks(pb) {
		bs, _ := ufs.FieldBlockSizes().LookupByIndex(int64(i))
		size, _ := bs.AsInt()
		if pos <= last && pos+size-1 >= first {
			b, err := fileRangeBytes(t, blocks, l.cid, pos, first, last)
			if err != nil {
				return nil, err
			}
			out = append(out, b...)
		}
		pos += size
	}
	return out, nil
}

// ---------------------------------------------------------------------------
// HTTP helpers.

type response struct {
	status  int
	header  http.Header
	body    []byte
	readErr error // reading the body failed (a cut response)
}

// fetch sends one request (header: key, value pairs) and reads the whole
// body, within a bounded time. A request that gets no response fails t.
func fetch(t testing.TB, srv *httptest.Server, method, target string, header ...string) response {
	t.Helper()
	r, err := try(srv, method, target, header...)
	if err != nil {
		t.Fatalf("%s %s: %v", method, target, err)
	}
	return r
}

// try is fetch returning the error of a request that got no response.
func try(srv *httptest.Server, method, target string, header ...string) (response, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, srv.URL+target, nil)
	if err != nil {
		return response{}, err
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Add(header[i], header[i+1])
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		return response{}, err
	}
	defer resp.Body.Close()
	body, rerr := io.ReadAll(resp.Body)
	return response{status: resp.StatusCode, header: resp.Header, body: body, readErr: rerr}, nil
}

type carBlock struct {
	cid  cid.Cid
	data []byte
}

type carBody struct {
	roots  []cid.Cid
	blocks []carBlock
}

func (b carBody) cids() []cid.Cid {
	out := make([]cid.Cid, len(b.blocks))
	for i, blk := range b.blocks {
		out[i] = blk.cid
	}
	return out
}

func (b carBody) byHash() map[string][]byte {
	m := make(map[string][]byte)
	for _, blk := range b.blocks {
		m[string(blk.cid.Hash())] = blk.data
	}
	return m
}

// parseCAR reads a whole CARv1 body, checking every block against its CID
// (testutil.ReadCAR).
func parseCAR(body []byte) (carBody, error) {
	roots, blocks, err := testutil.ReadCAR(bytes.NewReader(body))
	out := carBody{roots: roots}
	for _, b := range blocks {
		out.blocks = append(out.blocks, carBlock{b.CID, b.Data})
	}
	return out, err
}

func mustCAR(t testing.TB, r response) carBody {
	t.Helper()
	if r.readErr != nil {
		t.Fatalf("body read failed: %v", r.readErr)
	}
	b, err := parseCAR(r.body)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func cidStrings(cs []cid.Cid) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.String()
	}
	return out
}

func equalCIDs(a, b []cid.Cid) bool {
	return slices.EqualFunc(a, b, func(x, y cid.Cid) bool { return x.Equals(y) })
}

func checkHeader(t testing.TB, h http.Header, key, want string) {
	t.Helper()
	if got := h.Get(key); got != want {
		t.Errorf("%s: %q, want %q", key, got, want)
	}
}

// checkCommon checks the headers every successful response carries.
func checkCommon(t testing.TB, r response, contentPath string, roots []cid.Cid) {
	t.Helper()
	checkHeader(t, r.header, "X-Content-Type-Options", "nosniff")
	checkHeader(t, r.header, "Cache-Control", immutable)
	checkHeader(t, r.header, "X-Ipfs-Path", contentPath)
	checkHeader(t, r.header, "X-Ipfs-Roots", strings.Join(cidStrings(roots), ","))
	if r.header.Get("Etag") == "" {
		t.Error("no Etag")
	}
}

// checkCARResponse checks a 200 CAR response: headers, roots, and the
// exact block sequence.
func checkCARResponse(t testing.TB, r response, dups bool, root cid.Cid, want []cid.Cid) carBody {
	t.Helper()
	if r.status != http.StatusOK {
		t.Fatalf("status %d (%q), want 200", r.status, bytes.TrimSpace(r.body))
	}
	ct := carDupsN
	if dups {
		ct = carDupsY
	}
	checkHeader(t, r.header, "Content-Type", ct)
	checkHeader(t, r.header, "Accept-Ranges", "none")
	checkHeader(t, r.header, "X-Content-Type-Options", "nosniff")
	checkHeader(t, r.header, "Cache-Control", immutable)
	if cd := r.header.Get("Content-Disposition"); !strings.HasPrefix(cd, `attachment; filename="`) || !strings.HasSuffix(cd, `.car"`) {
		t.Errorf("Content-Disposition %q", cd)
	}
	if r.header.Get("Etag") == "" {
		t.Error("no Etag")
	}
	body := mustCAR(t, r)
	if !equalCIDs(body.roots, []cid.Cid{root}) {
		t.Errorf("CAR roots %v, want [%s]", body.roots, root)
	}
	if got := body.cids(); !equalCIDs(got, want) {
		t.Errorf("CAR blocks (%d):\n  %s\nwant (%d):\n  %s", len(got), strings.Join(cidStrings(got), "\n  "),
			len(want), strings.Join(cidStrings(want), "\n  "))
	}
	return body
}

// checkError checks an error response: the status and a short text body.
func checkError(t testing.TB, r response, status int) {
	t.Helper()
	if r.status != status {
		t.Errorf("status %d (%q), want %d", r.status, bytes.TrimSpace(r.body), status)
		return
	}
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Errorf("error Content-Type %q", ct)
	}
	if n := len(bytes.TrimSpace(r.body)); n == 0 || n > 300 {
		t.Errorf("error body of %d bytes: %q", n, r.body)
	}
	if cc := r.header.Get("Cache-Control"); strings.Contains(cc, "immutable") {
		t.Errorf("error response cached as immutable: %q", cc)
	}
	if r.header.Get("Etag") != "" {
		t.Errorf("error response has Etag %q", r.header.Get("Etag"))
	}
}

// ---------------------------------------------------------------------------
// Store wrappers.

// packHooks wraps a PackStore: counts calls, tracks open readers, and lets
// a test fail or hold calls.
type packHooks struct {
	store.PackStore
	calls    atomic.Int64 // GetRange calls
	open     atomic.Int64 // readers returned and not closed
	bytes    atomic.Int64 // bytes read through returned readers
	getRange func(ctx context.Context, n int64, loc store.Location, off, length int64) (io.ReadCloser, error)
	// readErr, when set, makes the reader of a range fail with err once it
	// returned after bytes (after < 0: never).
	readErr func(loc store.Location, off, length int64) (after int64, err error)
}

func (p *packHooks) GetRange(ctx context.Context, loc store.Location, off, length int64) (io.ReadCloser, error) {
	n := p.calls.Add(1)
	var rc io.ReadCloser
	var err error
	if p.getRange != nil {
		rc, err = p.getRange(ctx, n, loc, off, length)
	} else {
		rc, err = p.PackStore.GetRange(ctx, loc, off, length)
	}
	if err != nil {
		return nil, err
	}
	p.open.Add(1)
	tr := &trackedReader{rc: rc, p: p, failAt: -1}
	if p.readErr != nil {
		tr.failAt, tr.failErr = p.readErr(loc, off, length)
	}
	return tr, nil
}

type trackedReader struct {
	rc      io.ReadCloser
	p       *packHooks
	n       int64
	failAt  int64
	failErr error
	once    sync.Once
}

func (r *trackedReader) Read(b []byte) (int, error) {
	if r.failAt >= 0 {
		if r.n >= r.failAt {
			return 0, r.failErr
		}
		b = b[:min(int64(len(b)), r.failAt-r.n)]
	}
	n, err := r.rc.Read(b)
	r.n += int64(n)
	r.p.bytes.Add(int64(n))
	return n, err
}

func (r *trackedReader) Close() error {
	r.once.Do(func() { r.p.open.Add(-1) })
	return r.rc.Close()
}

// countingIndex counts index store reads.
type countingIndex struct {
	store.IndexStore
	files atomic.Int64
}

func (c *countingIndex) Files(ctx context.Context, mh multihash.Multihash) ([]store.IndexFile, error) {
	c.files.Add(1)
	return c.IndexStore.Files(ctx, mh)
}

// ---------------------------------------------------------------------------
// The conformance table.

type env struct {
	srv   *httptest.Server
	c     *corpus
	idx   store.IndexStore
	packs store.PackStore
}

func (e *env) model(t testing.TB, root, path, scope, entityBytes string, dups bool) (terminal cid.Cid, want []cid.Cid) {
	through, terminal := e.c.resolve(t, cid.MustParse(root), path)
	w := e.c.newWalk(t, dups)
	for _, x := range through {
		w.emit(x)
	}
	w.scope(terminal, scope, parseEntityRange(t, entityBytes))
	return terminal, w.out
}

func TestConformance(t *testing.T) {
	c := loadCorpus(t)
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			idx, packs := b.stores(t)
			for _, f := range conformanceFiles(t) {
				importCAR(t, idx, packs, f)
			}
			e := &env{srv: newServer(t, idx, packs, nil), c: c, idx: idx, packs: packs}
			for _, check := range []struct {
				name string
				run  func(*testing.T, *env)
			}{
				{"RawBlock", testRawBlock},
				{"RawEveryBlock", testRawEveryBlock},
				{"RawRange", testRawRange},
				{"CARWholeDAG", testCARWholeDAG},
				{"CARPathsAndScopes", testCARPathsAndScopes},
				{"CARRebuildFiles", testCARRebuildFiles},
				{"CARParams", testCARParams},
				{"HEAD", testHEAD},
				{"Etag", testEtag},
				{"MissingBlock", testMissingBlock},
				{"Identity", testIdentity},
				{"MissingPath", testMissingPath}, // missing_path_test.go
				{"Errors", testErrors},
				{"StorageErrors", testStorageErrors},
			} {
				t.Run(check.name, func(t *testing.T) { check.run(t, e) })
			}
		})
	}
}

func testRawBlock(t *testing.T, e *env) {
	leaf := "bafkreihhpc5y2pqvl5rbe5uuyhqjouybfs3rvlmisccgzue2kkt5zq6upq" // dir/ascii.txt of gateway-raw-block
	for _, tc := range []struct {
		name, target string
		header       []string
		filename     string
	}{
		{"format=raw", "/ipfs/" + leaf + "?format=raw", nil, leaf + ".bin"},
		{"Accept", "/ipfs/" + leaf, []string{"Accept", rawContentType}, leaf + ".bin"},
		{"Accept with q", "/ipfs/" + leaf, []string{"Accept", "text/html;q=0.9, application/vnd.ipld.raw"}, leaf + ".bin"},
		{"filename", "/ipfs/" + leaf + "?format=raw&filename=ascii.txt", nil, "ascii.txt"},
		{"dag-pb block", "/ipfs/" + rawBlockRoot + "?format=raw", nil, rawBlockRoot + ".bin"},
		{"CIDv0 block", "/ipfs/" + v0Root, []string{"Accept", rawContentType}, v0Root + ".bin"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := cid.MustParse(strings.TrimPrefix(strings.SplitN(tc.target, "?", 2)[0], "/ipfs/"))
			r := fetch(t, e.srv, http.MethodGet, tc.target, tc.header...)
			if r.status != http.StatusOK {
				t.Fatalf("status %d: %q", r.status, r.body)
			}
			checkHeader(t, r.header, "Content-Type", rawContentType)
			checkHeader(t, r.header, "Content-Length", strconv.Itoa(len(r.body)))
			checkHeader(t, r.header, "Content-Disposition", `attachment; filename="`+tc.filename+`"`)
			checkHeader(t, r.header, "Etag", `"`+c.String()+`.raw"`)
			checkCommon(t, r, "/ipfs/"+c.String(), []cid.Cid{c})
			if !bytes.Equal(r.body, e.c.data(t, c)) {
				t.Errorf("body %q differs from the block", r.body)
			}
			if got, err := c.Prefix().Sum(r.body); err != nil || !got.Equals(c) {
				t.Errorf("body hashes to %v (%v), want %s", got, err, c)
			}
		})
	}
}

// testRawEveryBlock asks for every block of every fixture as a raw block
// and checks the bytes hash to the CID.
func testRawEveryBlock(t *testing.T, e *env) {
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	var mu sync.Mutex
	var failed []string
	for _, c := range e.c.all {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			r := fetch(t, e.srv, http.MethodGet, "/ipfs/"+c.String()+"?format=raw")
			sum, err := c.Prefix().Sum(r.body)
			if r.status != http.StatusOK || r.readErr != nil || err != nil || !sum.Equals(c) || !bytes.Equal(r.body, e.c.data(t, c)) {
				mu.Lock()
				failed = append(failed, fmt.Sprintf("%s: status %d, %d bytes", c, r.status, len(r.body)))
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(failed) > 0 {
		t.Errorf("%d of %d raw blocks failed:\n%s", len(failed), len(e.c.all), strings.Join(failed, "\n"))
	}
}

func testRawRange(t *testing.T, e *env) {
	leaf := "bafkreihhpc5y2pqvl5rbe5uuyhqjouybfs3rvlmisccgzue2kkt5zq6upq"
	block := e.c.data(t, cid.MustParse(leaf))
	size := len(block) // 31
	for _, tc := range []struct {
		rng         string
		status      int
		first, last int
	}{
		{"bytes=0-4", 206, 0, 4},
		{"bytes=2-9", 206, 2, 9},
		{"bytes=10-", 206, 10, size - 1},
		{"bytes=-5", 206, size - 5, size - 1},
		{"bytes=20-1000", 206, 20, size - 1},
		{"bytes=31-40", 416, 0, 0},
		{"bytes=100-200", 416, 0, 0},
	} {
		t.Run(tc.rng, func(t *testing.T) {
			for _, via := range [][]string{{"Range", tc.rng}, {"Range", tc.rng, "Accept", rawContentType}} {
				target := "/ipfs/" + leaf
				if len(via) == 2 {
					target += "?format=raw"
				}
				r := fetch(t, e.srv, http.MethodGet, target, via...)
				if r.status != tc.status {
					t.Fatalf("%v: status %d (%q), want %d", via, r.status, r.body, tc.status)
				}
				if tc.status == 416 {
					checkHeader(t, r.header, "Content-Range", fmt.Sprintf("bytes */%d", size))
					continue
				}
				checkHeader(t, r.header, "Content-Type", rawContentType)
				checkHeader(t, r.header, "Content-Range", fmt.Sprintf("bytes %d-%d/%d", tc.first, tc.last, size))
				checkHeader(t, r.header, "Content-Length", strconv.Itoa(tc.last-tc.first+1))
				if !bytes.Equal(r.body, block[tc.first:tc.last+1]) {
					t.Errorf("body %q, want %q", r.body, block[tc.first:tc.last+1])
				}
			}
		})
	}
}

// testCARWholeDAG asks for every fixture root as a CAR, through format=car
// and through Accept variants, with dups=n and dups=y.
func testCARWholeDAG(t *testing.T, e *env) {
	for _, root := range []string{rawBlockRoot, twoFilesRoot, mixedRoot, hamtRoot, cborRoot, dupsRoot} {
		for _, dups := range []bool{false, true} {
			_, want := e.model(t, root, "", "all", "", dups)
			d := map[bool]string{false: "n", true: "y"}[dups]
			for _, via := range []struct {
				name   string
				query  string
				header []string
			}{
				{"format=car", "?format=car&car-dups=" + d, nil},
				{"Accept", "", []string{"Accept", "application/vnd.ipld.car; version=1; order=dfs; dups=" + d}},
				{"Accept order=unk", "", []string{"Accept", "application/vnd.ipld.car; order=unk; dups=" + d}},
			} {
				if !dups && via.name == "Accept" {
					via.header = []string{"Accept", "application/vnd.ipld.car"} // dups=n is the default
				}
				if dups && root == hamtRoot && via.name != "format=car" {
					continue // ~1000 copies of one file, each read again: once is enough
				}
				t.Run(root[len(root)-8:]+"/dups="+d+"/"+via.name, func(t *testing.T) {
					r := fetch(t, e.srv, http.MethodGet, "/ipfs/"+root+via.query, via.header...)
					body := checkCARResponse(t, r, dups, cid.MustParse(root), want)
					checkHeader(t, r.header, "Content-Disposition", `attachment; filename="`+root+`.car"`)
					checkCommon(t, r, "/ipfs/"+root, []cid.Cid{cid.MustParse(root)})
					e.checkFiles(t, body, cid.MustParse(root))
					if root == dupsRoot {
						// ascii.txt and ascii-copy.txt are one block.
						dup := cid.MustParse("bafkreifkam6ns4aoolg3wedr4uzrs3kvq66p4pecirz6y2vlrngla62mxm")
						n := 0
						for _, b := range body.blocks {
							if b.cid.Equals(dup) {
								n++
							}
						}
						if wantN := map[bool]int{false: 1, true: 2}[dups]; n != wantN {
							t.Errorf("the duplicate block came %d times, want %d", n, wantN)
						}
					}
				})
			}
		}
	}
}

// checkFiles rebuilds every UnixFS file below x (directories, HAMT
// shards and dag-cbor links followed) from the blocks of a CAR and
// compares it with the fixture's file.
func (e *env) checkFiles(t testing.TB, body carBody, x cid.Cid) {
	t.Helper()
	blocks := body.byHash()
	done := make(map[string]bool)
	var visit func(x cid.Cid)
	visit = func(x cid.Cid) {
		if done[x.KeyString()] {
			return
		}
		done[x.KeyString()] = true
		raw, ok := blocks[string(x.Hash())]
		if !ok {
			t.Errorf("block %s is not in the CAR", x)
			return
		}
		isFile := x.Prefix().Codec == cid.Raw
		if x.Prefix().Codec == cid.DagProtobuf {
			_, ufs := e.c.unixfs(t, raw)
			isFile = ufs != nil && (ufs.FieldDataType().Int() == data.Data_File || ufs.FieldDataType().Int() == data.Data_Raw)
		}
		if !isFile {
			for _, l := range e.c.links(t, x, raw) {
				visit(l)
			}
			return
		}
		got, ok := fileBytes(t, blocks, x)
		want, _ := fileBytes(t, e.c.blocks, x)
		if !ok || !bytes.Equal(got, want) {
			t.Errorf("file %s: rebuilt %d bytes from the CAR (complete %v), want %d", x, len(got), ok, len(want))
		}
	}
	visit(x)
}

type carCase struct {
	name        string
	root, path  string
	scope       string // "" leaves dag-scope out
	entityBytes string // "" leaves entity-bytes out
	dups        bool
	// roots is the X-Ipfs-Roots chain (checked when not nil).
	roots []string
}

func carCases() []carCase {
	const (
		sub2      = "bafybeiggghzz6dlue3m6nb2dttnbrygxh3lrjl5764f2m4gq7dgzdt55o4"
		hello     = "bafkreifjjcie6lypi6ny7amxnfftagclbuxndqonfipmb64f2km2devei4"
		ascii     = "bafkreifkam6ns4aoolg3wedr4uzrs3kvq66p4pecirz6y2vlrngla62mxm"
		subMixed  = "bafybeicnmple4ehlz3ostv2sbojz3zhh5q7tz5r2qkfdpqfilgggeen7xm"
		multi     = "bafybeigcisqd7m5nf3qmuvjdbakl5bdnh4ocrmacaqkpuh77qjvggmt2sa"
		document  = "bafyreidy4q6mmetut5jzc54ambsfnatbyoujmwbfzyyolqw24majazwgha"
		multiPath = "/subdir/multiblock.txt"
	)
	cases := []carCase{
		// dag-scope on subdir-with-two-single-block-files.
		{name: "file/block", root: twoFilesRoot, path: "/subdir/hello.txt", scope: "block", roots: []string{twoFilesRoot, sub2, hello}},
		{name: "file/entity", root: twoFilesRoot, path: "/subdir/hello.txt", scope: "entity", roots: []string{twoFilesRoot, sub2, hello}},
		{name: "file/all", root: twoFilesRoot, path: "/subdir/hello.txt", scope: "all"},
		{name: "file/default", root: twoFilesRoot, path: "/subdir/ascii.txt", roots: []string{twoFilesRoot, sub2, ascii}},
		{name: "dir/block", root: twoFilesRoot, path: "/subdir", scope: "block", roots: []string{twoFilesRoot, sub2}},
		{name: "dir/entity", root: twoFilesRoot, path: "/subdir", scope: "entity"},
		{name: "dir/all", root: twoFilesRoot, path: "/subdir", scope: "all"},
		{name: "root/block", root: twoFilesRoot, scope: "block"},
		{name: "root/entity", root: twoFilesRoot, scope: "entity"},
		{name: "root/all/dups=y", root: twoFilesRoot, scope: "all", dups: true},
		// Multi-block file under a path (1026 bytes: 4 x 256 + 2).
		{name: "multiblock/block", root: mixedRoot, path: multiPath, scope: "block", roots: []string{mixedRoot, subMixed, multi}},
		{name: "multiblock/entity", root: mixedRoot, path: multiPath, scope: "entity"},
		{name: "multiblock/all", root: mixedRoot, path: multiPath},
		{name: "mixed dir/entity", root: mixedRoot, path: "/subdir", scope: "entity"},
		{name: "mixed/all", root: mixedRoot, scope: "all"},
		// dups on dir-with-duplicate-files.
		{name: "dups=n", root: dupsRoot},
		{name: "dups=y", root: dupsRoot, dups: true},
		{name: "dups=y/entity", root: dupsRoot, scope: "entity", dups: true},
		{name: "dups file", root: dupsRoot, path: "/ascii-copy.txt", dups: true},
		// dag-cbor pathing on dir-with-dag-cbor-with-links.
		{name: "cbor/document/all", root: cborRoot, path: "/document", roots: []string{cborRoot, document}},
		{name: "cbor/document/entity", root: cborRoot, path: "/document", scope: "entity"},
		{name: "cbor/document/block", root: cborRoot, path: "/document", scope: "block"},
		{name: "cbor/link to file", root: cborRoot, path: "/document/files/multiblock"},
		{name: "cbor/link to file/entity-bytes", root: cborRoot, path: "/document/files/multiblock", entityBytes: "300:600"},
		{name: "cbor/link to raw", root: cborRoot, path: "/document/files/single", scope: "block"},
		{name: "cbor/ends inside block", root: cborRoot, path: "/document/files"},
		{name: "cbor/ends inside block/block", root: cborRoot, path: "/document/monkeys", scope: "block"},
		{name: "cbor/ends inside block/dups=y", root: cborRoot, path: "/document/files", dups: true},
		{name: "cbor/all/dups=y", root: cborRoot, dups: true},
		// HAMT on single-layer-hamt-with-multi-block-files.
		{name: "hamt/root/block", root: hamtRoot, scope: "block"},
		{name: "hamt/root/entity", root: hamtRoot, scope: "entity"},
		{name: "hamt/root/entity/dups=y", root: hamtRoot, scope: "entity", dups: true},
		{name: "hamt/entry in root/entity", root: hamtRoot, path: "/393.txt", scope: "entity", roots: []string{hamtRoot, multi}},
		{name: "hamt/entry in sub-shard/all", root: hamtRoot, path: "/470.txt", roots: []string{hamtRoot, multi}},
		{name: "hamt/entry in sub-shard/block", root: hamtRoot, path: "/470.txt", scope: "block"},
		{name: "hamt/entry in sub-shard/entity-bytes", root: hamtRoot, path: "/742.txt", entityBytes: "-3:*"},
		{name: "hamt/entry/dups=y", root: hamtRoot, path: "/1000.txt", dups: true},
		// CIDv0 root (file-3k...): ranges that do not need the missing block.
		{name: "v0/block", root: v0Root, scope: "block"},
		{name: "v0/first block", root: v0Root, entityBytes: "0:1023"},
		{name: "v0/first block/entity", root: v0Root, scope: "entity", entityBytes: "0:1023"},
		{name: "v0/first bytes", root: v0Root, entityBytes: "0:0"},
		{name: "v0/last block", root: v0Root, entityBytes: "2048:*"},
		{name: "v0/last 1024", root: v0Root, entityBytes: "-1024:*"},
		{name: "v0/last byte", root: v0Root, entityBytes: "-1:*"},
		{name: "v0/beyond end", root: v0Root, entityBytes: "5000:*"},
		{name: "v0/first/dups=y", root: v0Root, entityBytes: "0:1023", dups: true},
		// entity-bytes on what is not a byte array is ignored (dag-scope=entity).
		{name: "entity-bytes on a directory", root: twoFilesRoot, path: "/subdir", entityBytes: "0:10"},
		{name: "entity-bytes on a HAMT", root: hamtRoot, entityBytes: "0:10"},
		{name: "entity-bytes on dag-cbor", root: cborRoot, path: "/document", entityBytes: "0:10"},
		{name: "entity-bytes on a raw file", root: twoFilesRoot, path: "/subdir/hello.txt", entityBytes: "2:4"},
		// Escaped path segments are unescaped before lookup.
		{name: "escaped segment", root: hamtRoot, path: "/%34%37%30.txt", scope: "block"},
		{name: "trailing slash", root: twoFilesRoot, path: "/subdir/", scope: "entity"},
	}
	// entity-bytes on the multi-block file of subdir-with-mixed-block-files.
	for _, eb := range []string{"0:255", "0:0", "255:256", "256:511", "300:*", "0:*", "-2:*", "-3:-1",
		"-1026:*", "-5000:*", "1000:2000", "1025:1025", "499:-100", "-300:-200", "0:-1", "2000:*", "-1:-1"} {
		cases = append(cases, carCase{name: "entity-bytes=" + eb, root: mixedRoot, path: multiPath, entityBytes: eb})
	}
	cases = append(cases, carCase{name: "entity-bytes=300:*/dups=y", root: mixedRoot, path: multiPath, entityBytes: "300:*", dups: true})
	return cases
}

func (tc carCase) target() string {
	q := []string{"format=car"}
	if tc.scope != "" {
		q = append(q, "dag-scope="+tc.scope)
	}
	if tc.entityBytes != "" {
		q = append(q, "entity-bytes="+tc.entityBytes)
	}
	if tc.dups {
		q = append(q, "car-dups=y")
	}
	return "/ipfs/" + tc.root + tc.path + "?" + strings.Join(q, "&")
}

func testCARPathsAndScopes(t *testing.T, e *env) {
	for _, tc := range carCases() {
		t.Run(tc.name, func(t *testing.T) {
			scope := tc.scope
			if scope == "" && tc.entityBytes != "" {
				scope = "entity"
			}
			terminal, want := e.model(t, tc.root, tc.path, scope, tc.entityBytes, tc.dups)
			r := fetch(t, e.srv, http.MethodGet, tc.target())
			body := checkCARResponse(t, r, tc.dups, terminal, want)
			unescaped, _ := url.PathUnescape(tc.path)
			checkHeader(t, r.header, "X-Ipfs-Path", "/ipfs/"+tc.root+unescaped)
			if tc.roots != nil {
				checkHeader(t, r.header, "X-Ipfs-Roots", strings.Join(tc.roots, ","))
			}
			// The blocks of a byte range rebuild those bytes of the file.
			isFile := false
			if terminal.Prefix().Codec == cid.DagProtobuf {
				_, ufs := e.c.unixfs(t, e.c.data(t, terminal))
				isFile = ufs != nil && ufs.FieldDataType().Int() == data.Data_File
			}
			if eb := parseEntityRange(t, tc.entityBytes); eb != nil && isFile {
				whole, _ := fileBytes(t, e.c.blocks, terminal)
				if whole == nil { // the CIDv0 fixture lacks a block: use its size
					_, ufs := e.c.unixfs(t, e.c.data(t, terminal))
					whole = make([]byte, ufs.FieldFileSize().Must().Int())
				}
				first, last, ok := eb.bounds(int64(len(whole)))
				if !ok {
					return
				}
				got, err := fileRangeBytes(t, body.byHash(), terminal, 0, first, last)
				if err != nil {
					t.Fatalf("entity-bytes %s: %v", tc.entityBytes, err)
				}
				if full, ok := fileBytes(t, e.c.blocks, terminal); ok && !bytes.Equal(got, full[first:last+1]) {
					t.Errorf("entity-bytes %s: rebuilt range differs from the file", tc.entityBytes)
				}
				if int64(len(got)) != last-first+1 {
					t.Errorf("entity-bytes %s: rebuilt %d bytes, want %d", tc.entityBytes, len(got), last-first+1)
				}
			}
		})
	}
}

// testCARRebuildFiles fetches UnixFS files whole and rebuilds them from
// the CAR alone.
func testCARRebuildFiles(t *testing.T, e *env) {
	for _, tc := range []struct{ root, path string }{
		{twoFilesRoot, "/subdir/hello.txt"},
		{twoFilesRoot, "/subdir/ascii.txt"},
		{mixedRoot, "/subdir/multiblock.txt"},
		{dupsRoot, "/multiblock.txt"},
		{dupsRoot, "/ascii-copy.txt"},
		{hamtRoot, "/470.txt"},
		{cborRoot, "/document/files/multiblock"},
		{rawBlockRoot, "/dir/ascii.txt"},
	} {
		for _, scope := range []string{"all", "entity"} {
			t.Run(tc.root[len(tc.root)-8:]+tc.path+"/"+scope, func(t *testing.T) {
				_, terminal := e.c.resolve(t, cid.MustParse(tc.root), tc.path)
				r := fetch(t, e.srv, http.MethodGet, "/ipfs/"+tc.root+tc.path+"?format=car&dag-scope="+scope)
				body := mustCAR(t, r)
				got, ok := fileBytes(t, body.byHash(), terminal)
				if !ok {
					t.Fatal("the CAR lacks blocks of the file")
				}
				want, _ := fileBytes(t, e.c.blocks, terminal)
				if !bytes.Equal(got, want) {
					t.Errorf("rebuilt %d bytes differ from the %d-byte file", len(got), len(want))
				}
			})
		}
	}
}

// testCARParams checks how format=, Accept and the car-* query parameters
// combine.
func testCARParams(t *testing.T, e *env) {
	_, dupsN := e.model(t, dupsRoot, "", "all", "", false)
	_, dupsY := e.model(t, dupsRoot, "", "all", "", true)
	root := cid.MustParse(dupsRoot)
	for _, tc := range []struct {
		name   string
		query  string
		accept string
		dups   bool
	}{
		{"car-dups=y beats Accept dups=n", "?car-dups=y", "application/vnd.ipld.car; version=1; order=dfs; dups=n", true},
		{"car-dups=n beats Accept dups=y", "?car-dups=n", "application/vnd.ipld.car; version=1; order=dfs; dups=y", false},
		{"car-order=dfs beats Accept order=unk", "?car-order=dfs", "application/vnd.ipld.car; order=unk; dups=y", true},
		{"car-order=unk", "?format=car&car-order=unk", "", false},
		{"car-version=1", "?format=car&car-version=1&car-dups=y", "", true},
		{"format=car beats Accept raw", "?format=car", rawContentType, false},
		{"format=car uses Accept CAR params", "?format=car", "application/vnd.ipld.car; dups=y", true},
		{"Accept q ranks", "", "application/vnd.ipld.raw;q=0.5, application/vnd.ipld.car;dups=y", true},
		{"Accept skips unsupported variant", "", "application/vnd.ipld.car;version=2, application/vnd.ipld.car;dups=y;q=0.4", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var header []string
			if tc.accept != "" {
				header = []string{"Accept", tc.accept}
			}
			r := fetch(t, e.srv, http.MethodGet, "/ipfs/"+dupsRoot+tc.query, header...)
			want := dupsN
			if tc.dups {
				want = dupsY
			}
			checkCARResponse(t, r, tc.dups, root, want)
		})
	}
	t.Run("format=raw beats Accept car", func(t *testing.T) {
		r := fetch(t, e.srv, http.MethodGet, "/ipfs/"+dupsRoot+"?format=raw", "Accept", carDupsY)
		if r.status != 200 || r.header.Get("Content-Type") != rawContentType || !bytes.Equal(r.body, e.c.data(t, root)) {
			t.Errorf("status %d, Content-Type %q, %d bytes", r.status, r.header.Get("Content-Type"), len(r.body))
		}
	})
	t.Run("filename", func(t *testing.T) {
		r := fetch(t, e.srv, http.MethodGet, "/ipfs/"+dupsRoot+"?format=car&filename=dups.car")
		checkCARResponse(t, r, false, root, dupsN)
		checkHeader(t, r.header, "Content-Disposition", `attachment; filename="dups.car"`)
	})
}

// testHEAD checks that HEAD answers the headers of GET without a body.
func testHEAD(t *testing.T, e *env) {
	for _, target := range []string{
		"/ipfs/" + twoFilesRoot + "?format=raw",
		"/ipfs/" + twoFilesRoot + "?format=car",
		"/ipfs/" + twoFilesRoot + "/subdir/hello.txt?format=car&dag-scope=entity",
		"/ipfs/" + mixedRoot + "/subdir/multiblock.txt?format=car&entity-bytes=0:300&car-dups=y",
		"/ipfs/" + hamtRoot + "/470.txt?format=car",
	} {
		t.Run(target, func(t *testing.T) {
			get := fetch(t, e.srv, http.MethodGet, target)
			head := fetch(t, e.srv, http.MethodHead, target)
			if get.status != 200 || head.status != 200 {
				t.Fatalf("GET %d, HEAD %d", get.status, head.status)
			}
			if len(head.body) != 0 {
				t.Errorf("HEAD body of %d bytes", len(head.body))
			}
			keys := []string{"Content-Type", "Content-Disposition", "Etag", "X-Ipfs-Path", "X-Ipfs-Roots",
				"Cache-Control", "X-Content-Type-Options", "Accept-Ranges", "Vary"}
			if strings.Contains(target, "format=raw") {
				// A CAR is streamed: its length is unknown to HEAD (net/http
				// adds one to a small GET body it buffered whole).
				keys = append(keys, "Content-Length")
			}
			for _, k := range keys {
				if g, h := get.header.Get(k), head.header.Get(k); g != h {
					t.Errorf("%s: GET %q, HEAD %q", k, g, h)
				}
			}
		})
	}
	t.Run("unknown CID", func(t *testing.T) {
		r := fetch(t, e.srv, http.MethodHead, "/ipfs/"+unknownCID().String()+"?format=car")
		if r.status != 404 || len(r.body) != 0 {
			t.Errorf("status %d, %d bytes", r.status, len(r.body))
		}
	})
}

func unknownCID() cid.Cid {
	mh, _ := multihash.Sum([]byte("not in any store"), multihash.SHA2_256, -1)
	return cid.NewCidV1(cid.Raw, mh)
}

// testEtag checks that Etags differ per path and parameters, stay the same
// for the same request, and that If-None-Match answers 304.
func testEtag(t *testing.T, e *env) {
	targets := []string{
		"/ipfs/" + mixedRoot + "?format=car",
		"/ipfs/" + mixedRoot + "?format=car&dag-scope=block",
		"/ipfs/" + mixedRoot + "?format=car&dag-scope=entity",
		"/ipfs/" + mixedRoot + "?format=car&car-dups=y",
		"/ipfs/" + mixedRoot + "/subdir?format=car",
		"/ipfs/" + mixedRoot + "/subdir/multiblock.txt?format=car",
		"/ipfs/" + mixedRoot + "/subdir/multiblock.txt?format=car&entity-bytes=0:10",
		"/ipfs/" + mixedRoot + "/subdir/multiblock.txt?format=car&entity-bytes=0:11",
		"/ipfs/" + mixedRoot + "?format=raw",
	}
	seen := make(map[string]string)
	for _, target := range targets {
		r := fetch(t, e.srv, http.MethodGet, target)
		etag := r.header.Get("Etag")
		if r.status != 200 || etag == "" {
			t.Fatalf("%s: status %d, Etag %q", target, r.status, etag)
		}
		if other, ok := seen[etag]; ok {
			t.Errorf("%s and %s share Etag %s", target, other, etag)
		}
		seen[etag] = target
		if again := fetch(t, e.srv, http.MethodGet, target).header.Get("Etag"); again != etag {
			t.Errorf("%s: Etag %s then %s", target, etag, again)
		}
		for _, inm := range []string{etag, `"other", ` + etag, "*", strings.TrimPrefix(etag, "W/")} {
			nm := fetch(t, e.srv, http.MethodGet, target, "If-None-Match", inm)
			if nm.status != http.StatusNotModified || len(nm.body) != 0 {
				t.Errorf("%s with If-None-Match %s: status %d, %d bytes", target, inm, nm.status, len(nm.body))
			}
		}
		if r := fetch(t, e.srv, http.MethodGet, target, "If-None-Match", `"something-else"`); r.status != 200 {
			t.Errorf("%s with a stale If-None-Match: status %d", target, r.status)
		}
	}
	// The format chosen by Accept gives the same entity as by format=.
	a := fetch(t, e.srv, http.MethodGet, "/ipfs/"+mixedRoot, "Accept", carDupsN).header.Get("Etag")
	b := fetch(t, e.srv, http.MethodGet, "/ipfs/"+mixedRoot+"?format=car").header.Get("Etag")
	if a != b {
		t.Errorf("Etag by Accept %s, by format=car %s", a, b)
	}
	raw := fetch(t, e.srv, http.MethodGet, "/ipfs/"+mixedRoot+"?format=raw").header.Get("Etag")
	if raw != `"`+mixedRoot+`.raw"` {
		t.Errorf("raw Etag %s", raw)
	}
}

// testMissingBlock checks the CIDv0 fixture that lacks its second leaf: a
// request that needs the block must not end as a complete CAR.
func testMissingBlock(t *testing.T, e *env) {
	missing := cid.MustParse(v0MissingLeaf)
	if e.c.has(missing) {
		t.Fatal("the fixture holds the block it should lack")
	}
	for _, q := range []string{
		"format=car",
		"format=car&dag-scope=entity",
		"format=car&entity-bytes=0:2047",
		"format=car&entity-bytes=1024:1024",
		"format=car&entity-bytes=-2049:-1025",
		"format=car&car-dups=y",
	} {
		t.Run(q, func(t *testing.T) {
			checkFailed(t, e.srv, "/ipfs/"+v0Root+"?"+q)
		})
	}
	t.Run("raw", func(t *testing.T) {
		checkError(t, fetch(t, e.srv, http.MethodGet, "/ipfs/"+v0MissingLeaf+"?format=raw"), 404)
	})
	t.Run("path CIDv1 of the root", func(t *testing.T) {
		// The same root asked as CIDv1: the CAR root is labelled as asked,
		// the blocks below under the CIDv0 of their links.
		v1 := cid.NewCidV1(cid.DagProtobuf, cid.MustParse(v0Root).Hash())
		r := fetch(t, e.srv, http.MethodGet, "/ipfs/"+v1.String()+"?format=car&entity-bytes=0:1023")
		_, want := e.model(t, v0Root, "", "entity", "0:1023", false)
		want[0] = v1
		checkCARResponse(t, r, false, v1, want)
		if got := mustCAR(t, r).blocks[1].cid; got.Version() != 0 {
			t.Errorf("leaf labelled %s, want the CIDv0 of the link", got)
		}
	})
}

// checkFailed checks that a CAR request ends as a failure: no response
// (cut before the status line), a 404 or 502, or a 200 whose body cannot
// be read to its end.
func checkFailed(t testing.TB, srv *httptest.Server, target string) {
	t.Helper()
	r, err := try(srv, http.MethodGet, target)
	switch {
	case err != nil: // cut before the status line
	case r.status == 404 || r.status == 502:
		checkError(t, r, r.status)
	case r.status != 200:
		t.Errorf("status %d", r.status)
	case r.readErr == nil:
		b, err := parseCAR(r.body)
		t.Errorf("a complete response (%d bytes, %d blocks, parse error %v)", len(r.body), len(b.blocks), err)
	}
}

// carHeaderLen is the length of a CARv1 header naming root.
func carHeaderLen(t testing.TB, root cid.Cid) int {
	t.Helper()
	h, err := dag.CARHeader(root)
	if err != nil {
		t.Fatal(err)
	}
	return len(h)
}

// testIdentity checks identity CIDs: served from the CID, no storage read.
func testIdentity(t *testing.T, e *env) {
	idx := &countingIndex{IndexStore: e.idx}
	packs := &packHooks{PackStore: e.packs}
	srv := newServer(t, idx, packs, nil)
	mh, err := multihash.Sum([]byte("hello"), multihash.IDENTITY, -1)
	if err != nil {
		t.Fatal(err)
	}
	id := cid.NewCidV1(cid.Raw, mh)
	t.Run("raw", func(t *testing.T) {
		r := fetch(t, srv, http.MethodGet, "/ipfs/"+id.String()+"?format=raw")
		if r.status != 200 || string(r.body) != "hello" {
			t.Fatalf("status %d, body %q", r.status, r.body)
		}
		checkHeader(t, r.header, "Content-Type", rawContentType)
		checkHeader(t, r.header, "Content-Length", "5")
		checkHeader(t, r.header, "Etag", `"`+id.String()+`.raw"`)
		checkCommon(t, r, "/ipfs/"+id.String(), []cid.Cid{id})
	})
	t.Run("car", func(t *testing.T) {
		for _, scope := range []string{"all", "entity", "block"} {
			r := fetch(t, srv, http.MethodGet, "/ipfs/"+id.String()+"?format=car&dag-scope="+scope)
			// The spec: identity CIDs are never written as blocks; the
			// header names the CID as root, and no block follows.
			checkCARResponse(t, r, false, id, nil)
			if want := carHeaderLen(t, id); len(r.body) != want {
				t.Errorf("dag-scope=%s: %d bytes, want the %d of the header alone", scope, len(r.body), want)
			}
		}
	})
	t.Run("head", func(t *testing.T) {
		if r := fetch(t, srv, http.MethodHead, "/ipfs/"+id.String()+"?format=raw"); r.status != 200 {
			t.Errorf("status %d", r.status)
		}
	})
	if n, m := packs.calls.Load(), idx.files.Load(); n != 0 || m != 0 {
		t.Errorf("identity CIDs made %d pack reads and %d index reads, want none", n, m)
	}
}

func testErrors(t *testing.T, e *env) {
	unknown := unknownCID().String()
	for _, tc := range []struct {
		name   string
		method string
		target string
		header []string
		status int
	}{
		{"bad CID", "GET", "/ipfs/not-a-cid?format=raw", nil, 400},
		{"bad CID car", "GET", "/ipfs/bafybeie72edlprgtlwwctzljf6gkn2wnlrddqjbkxo3jomh4n7omwblxl?format=car", nil, 400},
		{"missing CID", "GET", "/ipfs/?format=raw", nil, 400},
		{"dot-dot segment", "GET", "/ipfs/" + twoFilesRoot + "/subdir/../subdir?format=car", nil, 400},
		{"empty segment", "GET", "/ipfs/" + twoFilesRoot + "//subdir?format=car", nil, 400},
		{"bad dag-scope", "GET", "/ipfs/" + twoFilesRoot + "?format=car&dag-scope=everything", nil, 400},
		{"bad entity-bytes", "GET", "/ipfs/" + mixedRoot + "/subdir/multiblock.txt?format=car&entity-bytes=abc", nil, 400},
		{"reversed entity-bytes", "GET", "/ipfs/" + mixedRoot + "/subdir/multiblock.txt?format=car&entity-bytes=10:5", nil, 400},
		{"bad car-dups", "GET", "/ipfs/" + twoFilesRoot + "?format=car&car-dups=maybe", nil, 400},
		{"no format", "GET", "/ipfs/" + twoFilesRoot, nil, 400},
		{"unknown CID raw", "GET", "/ipfs/" + unknown + "?format=raw", nil, 404},
		{"unknown CID car", "GET", "/ipfs/" + unknown + "?format=car", nil, 404},
		{"unknown CID Accept", "GET", "/ipfs/" + unknown, []string{"Accept", carDupsN}, 404},
		{"not under /ipfs", "GET", "/ipns/example.org?format=raw", nil, 404},
		{"format=foo", "GET", "/ipfs/" + twoFilesRoot + "?format=foo", nil, 406},
		{"format=html", "GET", "/ipfs/" + twoFilesRoot + "?format=html", nil, 406},
		{"Accept html", "GET", "/ipfs/" + twoFilesRoot, []string{"Accept", "text/html"}, 406},
		{"Accept CARv2", "GET", "/ipfs/" + twoFilesRoot, []string{"Accept", "application/vnd.ipld.car; version=2"}, 406},
		{"car-version=2", "GET", "/ipfs/" + twoFilesRoot + "?format=car&car-version=2", nil, 406},
		{"car-order=bfs", "GET", "/ipfs/" + twoFilesRoot + "?format=car&car-order=bfs", nil, 406},
		{"raw with path", "GET", "/ipfs/" + twoFilesRoot + "/subdir?format=raw", nil, 406},
		{"POST", "POST", "/ipfs/" + twoFilesRoot + "?format=raw", nil, 405},
		{"PUT", "PUT", "/ipfs/" + twoFilesRoot + "?format=car", nil, 405},
		{"DELETE", "DELETE", "/ipfs/" + twoFilesRoot, nil, 405},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := fetch(t, e.srv, tc.method, tc.target, tc.header...)
			checkError(t, r, tc.status)
			if tc.status == 405 && !strings.Contains(r.header.Get("Allow"), "GET") {
				t.Errorf("405 without Allow: %q", r.header.Get("Allow"))
			}
		})
	}
}

// testStorageErrors checks 502 for a failing pack store and 504 for one
// that does not answer before the request's deadline.
func testStorageErrors(t *testing.T, e *env) {
	failing := &packHooks{PackStore: e.packs, getRange: func(context.Context, int64, store.Location, int64, int64) (io.ReadCloser, error) {
		return nil, errors.New("disk on fire at /secret/path")
	}}
	blocking := &packHooks{PackStore: e.packs, getRange: func(ctx context.Context, _ int64, _ store.Location, _, _ int64) (io.ReadCloser, error) {
		<-ctx.Done()
		return nil, ctx.Err()
	}}
	deadline := &packHooks{PackStore: e.packs, getRange: func(context.Context, int64, store.Location, int64, int64) (io.ReadCloser, error) {
		return nil, fmt.Errorf("s3: get: %w", context.DeadlineExceeded)
	}}
	withTimeout := func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ctx, cancel := context.WithTimeout(r.Context(), 200*time.Millisecond)
			defer cancel()
			h.ServeHTTP(w, r.WithContext(ctx))
		})
	}
	for _, tc := range []struct {
		name   string
		srv    *httptest.Server
		status int
	}{
		{"error", newServer(t, e.idx, failing, nil), 502},
		{"blocks until deadline", newServer(t, e.idx, blocking, withTimeout), 504},
		{"deadline exceeded", newServer(t, e.idx, deadline, nil), 504},
	} {
		for _, target := range []string{
			"/ipfs/" + twoFilesRoot + "?format=raw",
			"/ipfs/" + twoFilesRoot + "?format=car",
			"/ipfs/" + twoFilesRoot + "/subdir/hello.txt?format=car",
		} {
			t.Run(tc.name+target, func(t *testing.T) {
				start := time.Now()
				r := fetch(t, tc.srv, http.MethodGet, target)
				checkError(t, r, tc.status)
				if strings.Contains(string(r.body), "secret") {
					t.Errorf("error body leaks the storage error: %q", r.body)
				}
				if d := time.Since(start); d > 10*time.Second {
					t.Errorf("took %v", d)
				}
			})
		}
	}
}

// TestInteropJSStore serves the FS store the JavaScript CLI wrote, as it
// is, and gets each original back byte for byte: whole through a CAR, and
// block by block through raw requests found by single-level records.
func TestInteropJSStore(t *testing.T) {
	interop := filepath.Join(testutil.Shared(t), "interop")
	idx := fs.NewIndexStore(filepath.Join(interop, "js-fs-store", "index"))
	packs := fs.NewPackStore(filepath.Join(interop, "js-fs-store", "pack"))
	var exp struct {
		Files []struct {
			Name       string `json:"name"`
			Original   string `json:"original"`
			Containing struct {
				CID string `json:"cid"`
			} `json:"containing"`
			Packs []struct {
				Blobs []struct {
					BlockCID string `json:"block_cid"`
				} `json:"blobs"`
			} `json:"packs"`
		} `json:"files"`
	}
	readJSON(t, filepath.Join(interop, "expected.json"), &exp)
	if len(exp.Files) != 3 {
		t.Fatalf("%d files in expected.json", len(exp.Files))
	}
	carSrv := newServer(t, idx, packs, nil)
	for _, f := range exp.Files {
		t.Run(f.Name, func(t *testing.T) {
			original, err := os.ReadFile(filepath.Join(interop, f.Original))
			if err != nil {
				t.Fatal(err)
			}
			root := cid.MustParse(f.Containing.CID)
			for _, q := range []string{"format=car", "format=car&dag-scope=entity", "format=car&car-dups=y"} {
				r := fetch(t, carSrv, http.MethodGet, "/ipfs/"+root.String()+"?"+q)
				body := mustCAR(t, r)
				if !equalCIDs(body.roots, []cid.Cid{root}) {
					t.Errorf("%s: roots %v", q, body.roots)
				}
				got, ok := fileBytes(t, body.byHash(), root)
				if !ok || !bytes.Equal(got, original) {
					t.Errorf("%s: rebuilt %d bytes (complete %v), want the %d-byte original", q, len(got), ok, len(original))
				}
			}
			// Block by block, each on a fresh handler that has learned
			// nothing from CONTAINING records: every block is found through
			// its own single-level record. The file is rebuilt from them.
			blocks := make(map[string][]byte)
			var leaves []cid.Cid
			for _, p := range f.Packs {
				for _, b := range p.Blobs {
					c := cid.MustParse(b.BlockCID)
					r := fetch(t, newServer(t, idx, packs, nil), http.MethodGet, "/ipfs/"+c.String(), "Accept", rawContentType)
					if r.status != 200 {
						t.Fatalf("raw %s: status %d %q", c, r.status, r.body)
					}
					checkHeader(t, r.header, "Content-Type", rawContentType)
					if sum, err := c.Prefix().Sum(r.body); err != nil || !sum.Equals(c) {
						t.Fatalf("raw %s: body does not hash to the CID", c)
					}
					if c.Prefix().Codec == cid.Raw {
						leaves = append(leaves, c)
					}
					blocks[string(c.Hash())] = r.body
				}
			}
			got, ok := fileBytes(t, blocks, root)
			if !ok || !bytes.Equal(got, original) {
				t.Errorf("rebuilt from raw blocks: %d bytes (complete %v), want %d", len(got), ok, len(original))
			}
			if len(leaves) == 0 {
				t.Error("no raw leaves")
			}
		})
	}
}

func readJSON(t testing.TB, file string, v any) {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
}

package gateway_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/hash-stream/hash-stream-aws/internal/testutil"
	"github.com/hash-stream/hash-stream-aws/lib/dag"
	"github.com/hash-stream/hash-stream-aws/lib/gateway"
	"github.com/ipfs/go-cid"
	"github.com/multiformats/go-multihash"
)

// fakeSource is a dag.Source over blocks held in memory: the seam the
// gateway reads through, without an index or a pack store. It verifies
// nothing; what it holds was made by the test.
type fakeSource struct{ blocks map[string][]byte }

func (f *fakeSource) Block(_ context.Context, mh, _ multihash.Multihash, stats *dag.Stats) ([]byte, error) {
	data, ok := f.blocks[string(mh)]
	if !ok {
		return nil, fmt.Errorf("%w: fake", dag.ErrNotFound)
	}
	if stats != nil {
		stats.Blocks.Add(1)
	}
	return data, nil
}

func (f *fakeSource) Stream(ctx context.Context, cids []cid.Cid, containing multihash.Multihash, stats *dag.Stats) dag.Stream {
	return &fakeStream{ctx: ctx, src: f, cids: cids, stats: stats}
}

type fakeStream struct {
	ctx   context.Context
	src   *fakeSource
	cids  []cid.Cid
	stats *dag.Stats
}

func (s *fakeStream) Next() (dag.Block, error) {
	if len(s.cids) == 0 {
		return dag.Block{}, io.EOF
	}
	c := s.cids[0]
	s.cids = s.cids[1:]
	data, err := s.src.Block(s.ctx, c.Hash(), nil, s.stats)
	return dag.Block{CID: c, Data: data}, err
}

func (s *fakeStream) Recycle(dag.Block) {}
func (s *fakeStream) Close()            {}

// The gateway serves whatever Source it is given: a raw block and a CAR
// of a two-level DAG come from a fake, and a block it lacks is a 404.
func TestGatewayOverAFakeSource(t *testing.T) {
	leaf := []byte("a leaf block")
	leafMH, _ := multihash.Sum(leaf, multihash.SHA2_256, -1)
	leafCID := cid.NewCidV1(cid.Raw, leafMH)
	root, err := testutil.CBORLinks(leafCID)
	if err != nil {
		t.Fatal(err)
	}
	rootMH, _ := multihash.Sum(root, multihash.SHA2_256, -1)
	rootCID := cid.NewCidV1(cid.DagCBOR, rootMH)
	src := &fakeSource{blocks: map[string][]byte{string(leafMH): leaf, string(rootMH): root}}
	ts := httptest.NewServer(gateway.New(src))
	defer ts.Close()

	get := func(path, accept string) (int, []byte) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, ts.URL+path, nil)
		req.Header.Set("Accept", accept)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, body
	}
	if status, body := get("/ipfs/"+leafCID.String(), "application/vnd.ipld.raw"); status != 200 || string(body) != string(leaf) {
		t.Fatalf("raw: %d %q", status, body)
	}
	status, body := get("/ipfs/"+rootCID.String(), "application/vnd.ipld.car")
	if status != 200 {
		t.Fatalf("car: %d %q", status, body)
	}
	roots, blocks := testutil.MustReadCAR(t, strings.NewReader(string(body)))
	if len(roots) != 1 || !roots[0].Equals(rootCID) || len(blocks) != 2 || !blocks[0].CID.Equals(rootCID) || !blocks[1].CID.Equals(leafCID) {
		t.Fatalf("car: roots %v, %d blocks", roots, len(blocks))
	}
	missing, _ := multihash.Sum([]byte("absent"), multihash.SHA2_256, -1)
	if status, _ := get("/ipfs/"+cid.NewCidV1(cid.Raw, missing).String(), "application/vnd.ipld.raw"); status != http.StatusNotFound {
		t.Fatalf("missing block: %d", status)
	}
}

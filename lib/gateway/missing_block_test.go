package gateway_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"testing"

	"github.com/ipfs/go-cid"
	"github.com/multiformats/go-multihash"

	"github.com/hash-stream/hash-stream-aws/internal/testutil"
	"github.com/hash-stream/hash-stream-aws/lib/dag"
	"github.com/hash-stream/hash-stream-aws/lib/index"
	"github.com/hash-stream/hash-stream-aws/lib/pack"
	"github.com/hash-stream/hash-stream-aws/lib/store"
)

// storeOrdered writes the blocks of m named by order (and no other) as one
// pack with root as its CAR root, indexed with both writers under root.
func (m *memLinkSystem) storeOrdered(t *testing.T, idx store.IndexStore, packs store.PackStore, root cid.Cid, order []cid.Cid) pack.Info {
	t.Helper()
	h, err := dag.CARHeader(root)
	if err != nil {
		t.Fatal(err)
	}
	car := bytes.NewBuffer(h)
	for _, c := range order {
		if err := dag.WriteSection(car, c, m.blocks[c.KeyString()]); err != nil {
			t.Fatal(err)
		}
	}
	ctx := context.Background()
	info, err := pack.Import(ctx, packs, bytes.NewReader(car.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	writers := []index.Writer{index.NewSingleLevelWriter(idx), index.NewMultipleLevelWriter(idx)}
	if err := pack.AddToIndex(ctx, writers, []pack.Info{info}, root.Hash()); err != nil {
		t.Fatal(err)
	}
	return info
}

// put adds a block of codec to m (stored by m.store) and returns its CID.
func (m *memLinkSystem) put(codec uint64, b []byte) cid.Cid {
	mh, err := multihash.Sum(b, multihash.SHA2_256, -1)
	if err != nil {
		panic(err)
	}
	c := cid.NewCidV1(codec, mh)
	if _, ok := m.blocks[c.KeyString()]; !ok {
		m.order = append(m.order, c)
		m.blocks[c.KeyString()] = b
	}
	return c
}

// cborList adds a dag-cbor list of links to m.
func (m *memLinkSystem) cborList(t *testing.T, links ...cid.Cid) cid.Cid {
	t.Helper()
	b, err := testutil.CBORLinks(links...)
	if err != nil {
		t.Fatal(err)
	}
	return m.put(cid.DagCBOR, b)
}

// TestMissingBlockCutsWhereMissing checks that a CAR whose DAG lacks a
// middle leaf (the third of four) holds every block before it, whole, then
// is cut: small leaves sit in the response's buffer when the missing one
// is met, and must go out before the cut, not be dropped with it. The leaf
// is missing from the index and the pack, or indexed in a pack that ends
// inside it.
func TestMissingBlockCutsWhereMissing(t *testing.T) {
	for _, lost := range []string{"not stored", "pack cut short"} {
		t.Run(lost, func(t *testing.T) {
			idx, packs := backends()[0].stores(t)
			m := newMemLinkSystem()
			var leaves []cid.Cid
			var sizes []uint64
			for i := range 4 {
				leaves = append(leaves, m.put(cid.Raw, bytes.Repeat([]byte{byte('a' + i)}, 1000)))
				sizes = append(sizes, 1000)
			}
			file := m.fileNode(t, leaves, sizes)
			list := m.cborList(t, leaves...)
			switch lost {
			case "not stored":
				m.storeOrdered(t, idx, packs, file, []cid.Cid{file, list, leaves[0], leaves[1], leaves[3]})
			case "pack cut short":
				// The lost leaf is last in its pack, which ends in its middle:
				// one ranged read covers leaves 0, 1, 3 and 2.
				info := m.storeOrdered(t, idx, packs, file, []cid.Cid{file, list, leaves[0], leaves[1], leaves[3], leaves[2]})
				rewritePack(t, packs, info.Multihash, func(b []byte) []byte { return b[:len(b)-500] })
			}
			srv := newServer(t, idx, packs, nil)
			for _, tc := range []struct {
				name  string
				root  cid.Cid
				query string
				want  []cid.Cid
			}{
				{"file", file, "format=car", []cid.Cid{file, leaves[0], leaves[1]}},
				{"file", file, "format=car&car-dups=y", []cid.Cid{file, leaves[0], leaves[1]}},
				{"file", file, "format=car&dag-scope=entity", []cid.Cid{file, leaves[0], leaves[1]}},
				{"file", file, "format=car&entity-bytes=1500:3500", []cid.Cid{file, leaves[1]}},
				{"dag-cbor", list, "format=car", []cid.Cid{list, leaves[0], leaves[1]}},
			} {
				target := fmt.Sprintf("/ipfs/%s?%s", tc.root, tc.query)
				t.Run(tc.name+"/"+tc.query, func(t *testing.T) {
					r := fetch(t, srv, http.MethodGet, target)
					if r.status != http.StatusOK || r.readErr == nil {
						t.Fatalf("status %d, read error %v: want 200 then a cut", r.status, r.readErr)
					}
					got, err := parseCAR(r.body)
					if err != nil {
						t.Errorf("the bytes before the cut end inside a block (%v): a cut comes between whole blocks", err)
					}
					if !equalCIDs(got.cids(), tc.want) {
						t.Errorf("blocks before the cut %v, want every block before the missing one: %v", got.cids(), tc.want)
					}
				})
			}
		})
	}
}

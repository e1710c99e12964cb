package denylist_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/hash-stream/hash-stream-aws/lib/denylist"
	"github.com/ipfs/go-cid"
	"github.com/multiformats/go-multihash"
)

// benchSet is a set with 10,000 /ipfs/CID rules and 10,000 legacy
// double-hash rules, and CIDs listed and not.
func benchSet(b *testing.B) (*denylist.Set, []cid.Cid) {
	var text strings.Builder
	for i := range 10_000 {
		fmt.Fprintf(&text, "/ipfs/%s\n", scaleCID(i))
		fmt.Fprintf(&text, "//%s\n", legacyDoubleHash(scaleCID(10_000+i).String()+"/"))
	}
	l, err := denylist.Parse(strings.NewReader(text.String()), "bench.deny")
	if err != nil {
		b.Fatal(err)
	}
	cids := []cid.Cid{scaleCID(5), scaleCID(10_005), scaleCID(99_999)}
	return denylist.NewSet(l), cids
}

// BenchmarkMatchMultihash is the per-block check of a CAR walk.
func BenchmarkMatchMultihash(b *testing.B) {
	s, cids := benchSet(b)
	for _, tt := range []struct {
		name string
		mh   multihash.Multihash
	}{{"listed", cids[0].Hash()}, {"not-listed", cids[2].Hash()}} {
		b.Run(tt.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				s.MatchMultihash(tt.mh)
			}
		})
	}
}

// BenchmarkMatch is the request check: the CID, then a path, with
// double-hash rules present (so both forms are computed).
func BenchmarkMatch(b *testing.B) {
	s, cids := benchSet(b)
	for _, tt := range []struct {
		name string
		c    cid.Cid
		path []string
	}{
		{"cid-listed", cids[0], nil},
		{"cid-double-hash-listed", cids[1], nil},
		{"cid-not-listed", cids[2], nil},
		{"path-not-listed", cids[2], []string{"dir", "file.txt"}},
	} {
		b.Run(tt.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				s.Match(tt.c, tt.path)
			}
		})
	}
}

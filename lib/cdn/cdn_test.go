package cdn_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/hash-stream/hash-stream-aws/internal/cdntest"
	"github.com/hash-stream/hash-stream-aws/lib/cdn"
	"github.com/ipfs/go-cid"
	"github.com/multiformats/go-multibase"
	"github.com/multiformats/go-multihash"
)

func TestEdgeList(t *testing.T) {
	ctx := context.Background()
	f, _, kc, _ := cdntest.Start(t)
	l := cdn.NewEdgeList(kc, cdntest.ARN)
	mh, _ := multihash.Sum([]byte("blocked"), multihash.SHA2_256, -1)
	if _, err := l.Block(ctx, mh, 451); err != nil {
		t.Fatal(err)
	}
	if f.Items[cdn.DenyKey(mh)] != "451" {
		t.Fatalf("items %v", f.Items)
	}
	// Another writer between our read of the ETag and our write: retried.
	f.Conflict = 2
	mh2, _ := multihash.Sum([]byte("also blocked"), multihash.SHA2_256, -1)
	if _, err := l.Block(ctx, mh2, 410); err != nil {
		t.Fatal(err)
	}
	if f.Items[cdn.DenyKey(mh2)] != "410" || f.Items[cdn.DenyKey(mh)] != "451" {
		t.Fatalf("a write lost after a conflict: %v", f.Items)
	}
	size, count, err := l.Size(ctx)
	if err != nil || count != 2 || size != sizeOf(f.Snapshot()) {
		t.Fatalf("size %d count %d, %v", size, count, err)
	}
	if err := l.Unblock(ctx, mh); err != nil {
		t.Fatal(err)
	}
	if err := l.Unblock(ctx, mh); err != nil {
		t.Fatalf("unblocking twice: %v", err)
	}
	if _, ok := f.Items[cdn.DenyKey(mh)]; ok {
		t.Fatal("still blocked at the edge")
	}
	// Conflicts without end give up with an error.
	f.Conflict = 100
	if _, err := l.Block(ctx, mh, 410); err == nil {
		t.Fatal("endless conflicts: no error")
	}
}

func TestInvalidate(t *testing.T) {
	_, f, _, cc := cdntest.Start(t)
	v := cdn.NewInvalidator(cc, "EDIST")
	c := cid.MustParse("bafybeidh6k2vzukelqtrjsmd4p52cpmltd2ufqrdtdg6yigi73in672fwu")
	id, err := v.Invalidate(context.Background(), cdn.CIDPaths(c))
	if err != nil || id != "I1" {
		t.Fatalf("id %q, %v", id, err)
	}
	// Every form a client may write, each encoded here apart from the
	// package: CIDv1 dag-pb and raw in base32 and base36, and CIDv0.
	mh := c.Hash()
	var want []string
	for _, codec := range []uint64{cid.DagProtobuf, cid.Raw} {
		b := cid.NewCidV1(codec, mh).Bytes()
		for _, base := range []multibase.Encoding{multibase.Base32, multibase.Base36} {
			s, err := multibase.Encode(base, b)
			if err != nil {
				t.Fatal(err)
			}
			want = append(want, "/ipfs/"+s+"*")
		}
	}
	v0, err := multibase.Encode(multibase.Base58BTC, mh) // "z" then the CIDv0
	if err != nil {
		t.Fatal(err)
	}
	want = append(want, "/ipfs/"+v0[1:]+"*")
	if strings.Join(f.Paths[0], "\n") != strings.Join(want, "\n") {
		t.Fatalf("paths\n%s\nwant\n%s", strings.Join(f.Paths[0], "\n"), strings.Join(want, "\n"))
	}
	if _, err := v.Invalidate(context.Background(), nil); err == nil {
		t.Fatal("an empty invalidation: no error")
	}
}

func sizeOf(items map[string]string) int64 {
	var n int64
	for k, v := range items {
		n += int64(len(k) + len(v))
	}
	return n
}

// BlockAll sets many entries in UpdateKeys calls of at most
// MaxKeysPerUpdate keys, one ETag read per call, retrying a call that
// meets another writer's change.
func TestEdgeListBlockAll(t *testing.T) {
	f, _, kc, _ := cdntest.Start(t)
	l := cdn.NewEdgeList(kc, cdntest.ARN)
	entries := make([]cdn.Entry, 2*cdn.MaxKeysPerUpdate+7)
	for i := range entries {
		mh, _ := multihash.Sum([]byte(fmt.Sprint("entry ", i)), multihash.SHA2_256, -1)
		entries[i] = cdn.Entry{Multihash: mh, Status: 410 + i%2*41}
	}
	f.Conflict = 1
	n, size, err := l.BlockAll(context.Background(), entries)
	if err != nil || n != len(entries) {
		t.Fatalf("set %d of %d: %v", n, len(entries), err)
	}
	if fmt.Sprint(f.Batches()) != fmt.Sprint([]int{cdn.MaxKeysPerUpdate, cdn.MaxKeysPerUpdate, 7}) {
		t.Errorf("batches %v", f.Batches())
	}
	items := f.Snapshot()
	for _, e := range entries {
		if items[cdn.DenyKey(e.Multihash)] != fmt.Sprint(e.Status) {
			t.Fatalf("%s: %q, want %d", cdn.DenyKey(e.Multihash), items[cdn.DenyKey(e.Multihash)], e.Status)
		}
	}
	if size != sizeOf(items) {
		t.Errorf("size %d, want %d", size, sizeOf(items))
	}
	// A failure part-way says how many were set.
	f.Fail = 100
	if n, _, err := l.BlockAll(context.Background(), entries); err == nil || n != 0 {
		t.Fatalf("failing store: %d set, %v", n, err)
	}
}

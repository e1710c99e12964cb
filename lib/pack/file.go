package pack

import (
	"context"
	"io"

	"github.com/hash-stream/hash-stream-aws/lib/store"
	"github.com/hash-stream/hash-stream-aws/lib/unixfs"
	"github.com/ipfs/go-cid"
)

// WriteFile encodes r as a UnixFS file (see package unixfs, same layout as
// the JavaScript CLI), stores its blocks in packs and returns the root CID
// and the packs, in order. A failed write leaves no partial pack behind;
// packs already stored stay (they are complete and content-addressed).
func WriteFile(ctx context.Context, s store.PackStore, r io.Reader, opts ...WriterOption) (cid.Cid, []Info, error) {
	w, err := NewWriter(s, opts...)
	if err != nil {
		return cid.Undef, nil, err
	}
	root, _, err := unixfs.BuildFile(r, func(b unixfs.Block) error {
		return w.Add(ctx, b.CID, b.Data)
	})
	if err != nil {
		w.Abort()
		return cid.Undef, nil, err
	}
	packs, err := w.Close(ctx, root)
	if err != nil {
		return cid.Undef, nil, err
	}
	return root, packs, nil
}

package dag

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/ipfs/go-cid"
	"github.com/ipfs/go-unixfsnode/data"
	"github.com/ipfs/go-unixfsnode/hamt"
	dagpb "github.com/ipld/go-codec-dagpb"
	"github.com/ipld/go-ipld-prime"
	cidlink "github.com/ipld/go-ipld-prime/linking/cid"
)

var (
	// ErrNoEntry is returned (wrapped) by Lookup for a name the directory
	// does not hold.
	ErrNoEntry = errors.New("no such entry")
	// ErrNotDirectory is returned (wrapped) by Lookup for a block that is
	// neither a UnixFS directory nor a HAMT shard.
	ErrNotDirectory = errors.New("not a UnixFS directory")
)

// DecodeUnixFS decodes a dag-pb block and its UnixFS data; ufs is nil for a
// dag-pb node without UnixFS data.
func DecodeUnixFS(c cid.Cid, raw []byte) (dagpb.PBNode, data.UnixFSData, error) {
	n, err := Decode(c, raw)
	if err != nil {
		return nil, nil, err
	}
	pb, ok := n.(dagpb.PBNode)
	if !ok || !pb.FieldData().Exists() {
		return pb, nil, nil
	}
	ufs, err := data.DecodeUnixFSData(pb.FieldData().Must().Bytes())
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %s: UnixFS data: %v", ErrDecode, c, err)
	}
	return pb, ufs, nil
}

// DirectoryLink returns the link named name of a plain UnixFS directory
// node (not a HAMT shard, whose names carry a bucket prefix).
func DirectoryLink(pb dagpb.PBNode, name string) (cid.Cid, bool) {
	for it := pb.FieldLinks().Iterator(); !it.Done(); {
		_, l := it.Next()
		if l.FieldName().Exists() && l.FieldName().Must().String() == name {
			return l.FieldHash().Link().(cidlink.Link).Cid, true
		}
	}
	return cid.Undef, false
}

// Loader returns the verified bytes of block c.
type Loader func(ctx context.Context, c cid.Cid) ([]byte, error)

// Lookup returns the CID that name leads to in the UnixFS directory or
// HAMT shard c (raw its verified bytes). A HAMT's inner shards are read
// with load; an error of load is returned as it is, so a shard that cannot
// be read is never taken for a missing name. A name the directory does not
// hold wraps ErrNoEntry, a block that is no directory ErrNotDirectory.
func Lookup(ctx context.Context, c cid.Cid, raw []byte, name string, load Loader) (cid.Cid, error) {
	pb, ufs, err := DecodeUnixFS(c, raw)
	if err != nil {
		return cid.Undef, err
	}
	if ufs == nil {
		return cid.Undef, fmt.Errorf("%w: %s", ErrNotDirectory, c)
	}
	switch ufs.FieldDataType().Int() {
	case data.Data_Directory:
		if link, ok := DirectoryLink(pb, name); ok {
			return link, nil
		}
		return cid.Undef, fmt.Errorf("%w: no %q in directory %s", ErrNoEntry, name, c)
	case data.Data_HAMTShard:
		// go-unixfsnode's HAMT reads shards through a link system and
		// says only "not found" when one fails: loadErr keeps the cause.
		var loadErr error
		shard, err := hamt.AttemptHAMTShardFromNode(ctx, pb, linkSystem(ctx, load, &loadErr))
		if err != nil {
			if loadErr != nil {
				return cid.Undef, loadErr
			}
			return cid.Undef, fmt.Errorf("%w: %s: HAMT: %v", ErrDecode, c, err)
		}
		n, err := shard.LookupByString(name)
		if loadErr != nil {
			return cid.Undef, loadErr
		}
		if err != nil {
			return cid.Undef, fmt.Errorf("%w: no %q in directory %s", ErrNoEntry, name, c)
		}
		l, err := n.AsLink()
		if err != nil {
			return cid.Undef, fmt.Errorf("%w: %s: HAMT entry %q: %v", ErrDecode, c, name, err)
		}
		cl, ok := l.(cidlink.Link)
		if !ok {
			return cid.Undef, fmt.Errorf("%w: %s: HAMT entry %q is not a CID link", ErrDecode, c, name)
		}
		return cl.Cid, nil
	}
	return cid.Undef, fmt.Errorf("%w: %s", ErrNotDirectory, c)
}

// linkSystem serves go-ipld-prime (HAMT lookups) from load, recording the
// first error of load in *loadErr.
func linkSystem(ctx context.Context, load Loader, loadErr *error) *ipld.LinkSystem {
	ls := cidlink.DefaultLinkSystem()
	ls.StorageReadOpener = func(_ ipld.LinkContext, l ipld.Link) (io.Reader, error) {
		cl, ok := l.(cidlink.Link)
		if !ok {
			return nil, fmt.Errorf("dag: not a CID link: %v", l)
		}
		b, err := load(ctx, cl.Cid)
		if err != nil {
			if *loadErr == nil {
				*loadErr = err
			}
			return nil, err
		}
		return bytes.NewReader(b), nil
	}
	ls.TrustedStorage = true // load returns verified bytes
	return &ls
}

package gateway

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/hash-stream/hash-stream-aws/lib/carwalk"
	"github.com/hash-stream/hash-stream-aws/lib/streamer"
	"github.com/ipfs/go-cid"
	"github.com/ipfs/go-unixfsnode/data"
	"github.com/ipfs/go-unixfsnode/hamt"
	dagpb "github.com/ipld/go-codec-dagpb"
	"github.com/ipld/go-ipld-prime"
	cidlink "github.com/ipld/go-ipld-prime/linking/cid"
	"github.com/multiformats/go-multicodec"
	"github.com/multiformats/go-multihash"
)

// loadedBlock is a verified block read while resolving a path.
type loadedBlock struct {
	cid  cid.Cid
	data []byte
}

// resolver loads blocks one at a time, verified, and remembers them in
// load order: the blocks a path goes through, which a CAR response starts
// with.
type resolver struct {
	ctx        context.Context
	blocks     *streamer.Streamer
	containing multihash.Multihash
	loaded     []loadedBlock
	stats      *streamer.Stats
	lastErr    error
}

func (r *resolver) load(c cid.Cid) ([]byte, error) {
	for _, b := range r.loaded {
		if b.cid.Equals(c) {
			return b.data, nil
		}
	}
	data, err := r.blocks.Block(r.ctx, c.Hash(), r.containing, streamer.Counting(r.stats))
	if err != nil {
		r.lastErr = err
		return nil, err
	}
	r.loaded = append(r.loaded, loadedBlock{c, data})
	return data, nil
}

// linkSystem serves go-ipld-prime (HAMT lookups) from r.load.
func (r *resolver) linkSystem() *ipld.LinkSystem {
	ls := cidlink.DefaultLinkSystem()
	ls.StorageReadOpener = func(_ ipld.LinkContext, l ipld.Link) (io.Reader, error) {
		cl, ok := l.(cidlink.Link)
		if !ok {
			return nil, fmt.Errorf("gateway: not a CID link: %v", l)
		}
		data, err := r.load(cl.Cid)
		if err != nil {
			return nil, err
		}
		return bytes.NewReader(data), nil
	}
	ls.TrustedStorage = true // r.load verified the bytes
	return &ls
}

// resolve walks segments from root and returns the terminal CID and the
// CIDs the walk went through (one per block where a segment was resolved,
// then the terminal): X-Ipfs-Roots.
func (r *resolver) resolve(root cid.Cid, segments []string) (cid.Cid, []cid.Cid, error) {
	cur := root
	roots := []cid.Cid{root}
	for i := 0; i < len(segments); {
		data, err := r.load(cur)
		if err != nil {
			return cid.Undef, nil, err
		}
		var next cid.Cid
		var used int
		switch cur.Prefix().Codec {
		case cid.DagProtobuf:
			next, err = r.resolveUnixFS(cur, data, segments[i])
			used = 1
		case cid.Raw, uint64(multicodec.Identity): // identity blocks are bytes, as raw ones
			return cid.Undef, nil, pathError(segments[:i+1], "a raw block has no path")
		default:
			next, used, err = r.resolveIPLD(cur, data, segments[i:])
		}
		if err != nil {
			return cid.Undef, nil, err
		}
		i += used
		cur = next
		roots = append(roots, cur)
	}
	return cur, roots, nil
}

// resolveUnixFS finds name in a UnixFS directory or HAMT shard.
func (r *resolver) resolveUnixFS(c cid.Cid, raw []byte, name string) (cid.Cid, error) {
	node, err := streamer.Decode(c, raw)
	if err != nil {
		return cid.Undef, err
	}
	pb, ok := node.(dagpb.PBNode)
	if !ok || !pb.FieldData().Exists() {
		return cid.Undef, pathError([]string{name}, "%s is not a UnixFS directory", c)
	}
	ufs, err := data.DecodeUnixFSData(pb.FieldData().Must().Bytes())
	if err != nil {
		return cid.Undef, fmt.Errorf("%w: %s: UnixFS data: %v", streamer.ErrDecode, c, err)
	}
	switch ufs.FieldDataType().Int() {
	case data.Data_Directory:
		if link, ok := carwalk.DirectoryLink(pb, name); ok {
			return link, nil
		}
		return cid.Undef, notFound("no %q in directory %s", name, c)
	case data.Data_HAMTShard:
		shard, err := hamt.AttemptHAMTShardFromNode(r.ctx, pb, r.linkSystem())
		if err != nil {
			if r.lastErr != nil {
				return cid.Undef, r.lastErr
			}
			return cid.Undef, fmt.Errorf("gateway: HAMT %s: %w", c, err)
		}
		r.lastErr = nil
		n, err := shard.LookupByString(name)
		if err != nil {
			if r.lastErr != nil { // a shard could not be read: not a missing name
				return cid.Undef, r.lastErr
			}
			return cid.Undef, notFound("no %q in directory %s", name, c)
		}
		l, err := n.AsLink()
		if err != nil {
			return cid.Undef, fmt.Errorf("gateway: HAMT %s: %w", c, err)
		}
		return l.(cidlink.Link).Cid, nil
	}
	return cid.Undef, pathError([]string{name}, "%s is not a UnixFS directory", c)
}

// resolveIPLD walks segments inside a dag-cbor or dag-json block until a
// link leaves it; it returns the link's CID and the segments used.
func (r *resolver) resolveIPLD(c cid.Cid, raw []byte, segments []string) (cid.Cid, int, error) {
	next, used, err := streamer.PathStep(c, raw, segments)
	var pe *streamer.PathError
	if errors.As(err, &pe) {
		if pe.NotFound {
			return cid.Undef, 0, notFound("%s in %s", pe.Reason, c)
		}
		return cid.Undef, 0, pathError(segments[:pe.Segment+1], "%s", pe.Reason)
	}
	return next, used, err
}

// noPathError is a path segment that names nothing in the DAG: a name a
// directory or HAMT does not hold, a key or index a dag-cbor node does not
// have, or a segment after a file, a raw block or a scalar (boxo counts all
// of these as not found). serveCAR answers it with the blocks that resolve
// the path as far as it exists; anywhere else it is its RequestError (404,
// or 400 for a path into something that has none).
type noPathError struct{ *RequestError }

// Unwrap returns the RequestError, for ErrorStatus.
func (e *noPathError) Unwrap() error { return e.RequestError }

func notFound(format string, args ...any) error {
	return &noPathError{requestError(http.StatusNotFound, ErrNotFound, format, args...)}
}

func pathError(segments []string, format string, args ...any) error {
	return &noPathError{requestError(http.StatusBadRequest, ErrBadRequest, "path /%s: "+format, append([]any{joinPath(segments)}, args...)...)}
}

func joinPath(s []string) string {
	var b bytes.Buffer
	for i, p := range s {
		if i > 0 {
			b.WriteByte('/')
		}
		b.WriteString(p)
	}
	return b.String()
}

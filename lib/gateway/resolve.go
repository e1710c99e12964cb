package gateway

import (
	"bytes"
	"context"
	"errors"
	"net/http"

	"github.com/hash-stream/hash-stream-aws/lib/dag"
	"github.com/ipfs/go-cid"
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
	blocks     dag.Source
	containing multihash.Multihash
	loaded     []loadedBlock
	stats      *dag.Stats
}

func (r *resolver) load(c cid.Cid) ([]byte, error) {
	for _, b := range r.loaded {
		if b.cid.Equals(c) {
			return b.data, nil
		}
	}
	// Every block a path goes through is checked: a path through a
	// blocked directory is blocked.
	if err := checkDenied(r.ctx, c, nil); err != nil {
		return nil, err
	}
	data, err := r.blocks.Block(r.ctx, c.Hash(), r.containing, r.stats)
	if err != nil {
		return nil, err
	}
	r.loaded = append(r.loaded, loadedBlock{c, data})
	return data, nil
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
	next, err := dag.Lookup(r.ctx, c, raw, name, r.lookupLoad)
	switch {
	case errors.Is(err, dag.ErrNoEntry):
		return cid.Undef, notFound("no %q in directory %s", name, c)
	case errors.Is(err, dag.ErrNotDirectory):
		return cid.Undef, pathError([]string{name}, "%s is not a UnixFS directory", c)
	}
	return next, err
}

// lookupLoad is r.load as a dag.Loader.
func (r *resolver) lookupLoad(_ context.Context, c cid.Cid) ([]byte, error) { return r.load(c) }

// resolveIPLD walks segments inside a dag-cbor or dag-json block until a
// link leaves it; it returns the link's CID and the segments used.
func (r *resolver) resolveIPLD(c cid.Cid, raw []byte, segments []string) (cid.Cid, int, error) {
	next, used, err := dag.PathStep(c, raw, segments)
	var pe *dag.PathError
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

package gateway

import (
	"fmt"
	"net/http"
	"strconv"

	"github.com/hash-stream/hash-stream-aws/lib/dag"
	"github.com/ipfs/go-cid"
)

// emptyIdentityCID (bafkqaaa: raw codec, identity multihash of no bytes)
// is the root of a CAR for a path that does not exist: a CARv1 header needs
// a root, and the path has no terminal. boxo and Kubo answer so.
var emptyIdentityCID = cid.NewCidV1(cid.Raw, []byte{0x00, 0x00})

// serveMissingPath answers a CAR request whose path names nothing in the
// DAG, as boxo does: 200 with a CARv1 rooted at emptyIdentityCID holding the
// blocks that resolve the path as far as it exists (HAMT shards included),
// in the order they were read, each once. A client verifies them and sees
// for itself that the name is not there; boxo's remote CAR backend answers
// its own client 404 from them, where any other status becomes its 502.
//
// The answer is as immutable as the DAG (same Etag and caching as any CAR
// for this root, path and parameters), X-Ipfs-Roots names the root alone
// (there is no terminal), and Content-Length is exact: the blocks are all
// in hand. Identity blocks are never written.
func (h *Handler) serveMissingPath(w http.ResponseWriter, r *http.Request, req *Request, blocks []loadedBlock) error {
	header, err := dag.CARHeader(emptyIdentityCID)
	if err != nil {
		return err
	}
	n := int64(len(header))
	out := blocks[:0:0]
	for _, b := range blocks {
		if _, inline, _ := dag.Inline(b.cid.Hash()); inline {
			continue
		}
		out = append(out, b)
		n += sectionLen(b.cid, len(b.data))
	}
	if h.maxCARBytes > 0 && n > h.maxCARBytes {
		return &RequestError{Status: http.StatusRequestEntityTooLarge, Err: ErrTooLarge, Message: fmt.Sprintf(
			"the path does not exist, and the %d bytes of blocks that show it are over this gateway's %d-byte response limit", n, h.maxCARBytes)}
	}
	SetHeaders(w.Header(), req, nil)
	if notModified(r, req.Etag()) {
		writeNotModified(w)
		return nil
	}
	w.Header().Set("Content-Length", strconv.FormatInt(n, 10))
	w.WriteHeader(http.StatusOK)
	if req.Method == http.MethodHead {
		return nil
	}
	if _, err := w.Write(header); err != nil {
		return err
	}
	for _, b := range out {
		if err := dag.WriteSection(w, b.cid, b.data); err != nil {
			return err
		}
	}
	return nil
}

package gateway

import (
	"context"
	"net/http"
	"strconv"
)

// serveRaw answers a raw block: the verified bytes of the root CID, whole
// or a single Range.
func (h *Handler) serveRaw(ctx context.Context, w http.ResponseWriter, r *http.Request, req *Request, rl *requestLog) error {
	var data []byte
	if id, ok := req.Identity(); ok {
		data = id
	} else {
		var err error
		if data, err = h.blocks.Block(ctx, req.Root.Hash(), nil, &rl.stats); err != nil {
			return err
		}
	}
	SetHeaders(w.Header(), req, nil)
	if notModified(r, req.Etag()) {
		writeNotModified(w)
		return nil
	}
	size := int64(len(data))
	rng, err := rawRange(r, size, req.Etag())
	if err != nil {
		w.Header().Set("Content-Range", "bytes */"+strconv.FormatInt(size, 10))
		return err
	}
	status, body := http.StatusOK, data
	if rng != nil {
		status, body = http.StatusPartialContent, data[rng.First:rng.Last+1]
		w.Header().Set("Content-Range", rng.Header(size))
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	if req.Method == http.MethodHead {
		return nil
	}
	_, err = w.Write(body)
	return err
}

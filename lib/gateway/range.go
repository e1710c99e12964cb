package gateway

import (
	"math"
	"net/http"
	"strconv"
	"strings"
)

// contentRange is an inclusive byte range First..Last of a raw block.
type contentRange struct {
	First, Last int64
}

// Length is the number of bytes in c.
func (c contentRange) Length() int64 { return c.Last - c.First + 1 }

// Header returns the Content-Range value of c within a size-byte block,
// "bytes first-last/size".
func (c contentRange) Header(size int64) string {
	return "bytes " + strconv.FormatInt(c.First, 10) + "-" + strconv.FormatInt(c.Last, 10) +
		"/" + strconv.FormatInt(size, 10)
}

// rawRange returns the range of a size-byte raw block that r asks for
// (Range, checked against If-Range), or nil to send the whole block with
// 200. See parseRange. etag is the response's Etag: a Range under an
// If-Range that does not match it strongly is ignored (there is no
// Last-Modified, so an If-Range date never matches).
func rawRange(r *http.Request, size int64, etag string) (*contentRange, error) {
	header := r.Header.Get("Range")
	if header == "" {
		return nil, nil
	}
	if ir := r.Header.Get("If-Range"); ir != "" {
		tag, _ := scanETag(strings.TrimSpace(ir))
		if tag == "" || !strongMatch(tag, etag) {
			return nil, nil
		}
	}
	return parseRange(header, size)
}

// parseRange parses a Range header (RFC 9110 section 14.2) for a raw
// block of size bytes. It supports one range: "bytes=a-b", "bytes=a-" and
// "bytes=-n"; last positions past the end are clamped. It returns:
//
//   - nil, nil (send the whole block with 200) for an empty header, a unit
//     other than bytes, a syntactically invalid range, more than one range
//     (a server MAY ignore Range; one whole block is cheaper than
//     multipart/byteranges for a block of at most a few MiB), or an empty
//     block (no range of it can be served as 206);
//   - a *RangeError (416, with Content-Range: bytes */size) when the single
//     range starts at or past the end, or is the suffix "-0";
//   - the range otherwise (206 with Content-Range).
func parseRange(header string, size int64) (*contentRange, error) {
	unit, set, ok := strings.Cut(strings.TrimSpace(header), "=")
	if !ok || !strings.EqualFold(strings.TrimSpace(unit), "bytes") || size <= 0 {
		return nil, nil
	}
	var spec string
	for s := range strings.SplitSeq(set, ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		if spec != "" {
			return nil, nil
		}
		spec = s
	}
	firstText, lastText, ok := strings.Cut(spec, "-")
	if !ok {
		return nil, nil
	}
	if firstText == "" {
		n, ok := parsePos(lastText)
		switch {
		case !ok:
			return nil, nil
		case n == 0:
			return nil, &RangeError{Size: size}
		}
		return &contentRange{First: max(size-n, 0), Last: size - 1}, nil
	}
	first, ok := parsePos(firstText)
	if !ok {
		return nil, nil
	}
	last := int64(math.MaxInt64)
	if lastText != "" {
		if last, ok = parsePos(lastText); !ok || last < first {
			return nil, nil
		}
	}
	if first >= size {
		return nil, &RangeError{Size: size}
	}
	return &contentRange{First: first, Last: min(last, size-1)}, nil
}

// parsePos parses a non-negative decimal position; values too large for
// int64 saturate at math.MaxInt64 (they are past the end of any block).
func parsePos(s string) (int64, bool) {
	if s == "" || strings.TrimLeft(s, "0123456789") != "" {
		return 0, false
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return math.MaxInt64, true
	}
	return n, true
}

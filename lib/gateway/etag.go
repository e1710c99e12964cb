package gateway

import (
	"encoding/binary"
	"hash/fnv"
	"net/http"
	"strconv"
	"strings"
)

// Etag returns the response's entity tag.
//
// Raw blocks: the strong `"<cid>.raw"` (the bytes are fixed by the CID).
// CARs: the weak `W/"<cid>.car.<hash>"`, where the hash (FNV-1a 64, base
// 32) covers the content path and every parameter that changes which
// blocks are sent: dag-scope when not all, entity-bytes when not the whole
// file, dups=y. Order and version do not: the response is always a CARv1
// in DFS order. Weak because a CAR is not promised byte for byte (the
// spec: Etags are not portable between gateways). This follows boxo.
func (r *Request) Etag() string {
	root := r.Root.String()
	if r.Format == FormatRaw {
		return `"` + root + `.raw"`
	}
	h := fnv.New64a()
	h.Write([]byte("/ipfs/" + root))
	for _, s := range r.Segments {
		// Length-prefixed, so segment boundaries cannot be confused.
		var n [8]byte
		binary.LittleEndian.PutUint64(n[:], uint64(len(s)))
		h.Write(n[:])
		h.Write([]byte(s))
	}
	if r.Car.Scope != ScopeAll && r.Car.Scope != "" {
		h.Write([]byte("\x00scope=" + string(r.Car.Scope)))
	}
	if eb := r.Car.EntityBytes; eb != nil && !eb.Whole() {
		h.Write([]byte("\x00entity-bytes=" + eb.String()))
	}
	if r.Car.Dups {
		h.Write([]byte("\x00dups=y"))
	}
	return `W/"` + root + ".car." + strconv.FormatUint(h.Sum64(), 32) + `"`
}

// notModified reports whether the request's If-None-Match matches etag,
// so the answer is 304 Not Modified: "*", or any entity tag of the list
// equal to etag under weak comparison (RFC 9110 section 13.1.2: W/
// prefixes ignored). A malformed list stops at the first bad element.
func notModified(r *http.Request, etag string) bool {
	for _, v := range r.Header.Values("If-None-Match") {
		if matchList(v, etag) {
			return true
		}
	}
	return false
}

func matchList(list, etag string) bool {
	buf := list
	for {
		buf = strings.TrimLeft(buf, " \t")
		switch {
		case buf == "":
			return false
		case buf[0] == ',':
			buf = buf[1:]
			continue
		case buf[0] == '*':
			return true
		}
		tag, rest := scanETag(buf)
		if tag == "" {
			return false
		}
		if weakMatch(tag, etag) {
			return true
		}
		buf = rest
	}
}

// scanETag splits the entity tag at the start of s (W/"x" or "x") from
// the rest; tag is "" when s does not start with one.
func scanETag(s string) (tag, rest string) {
	start := 0
	if strings.HasPrefix(s, "W/") {
		start = 2
	}
	if len(s)-start < 2 || s[start] != '"' {
		return "", ""
	}
	for i := start + 1; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"':
			return s[:i+1], s[i+1:]
		// etagc: %x21 / %x23-7E / obs-text
		case c == 0x21 || c >= 0x23 && c != 0x7f:
		default:
			return "", ""
		}
	}
	return "", ""
}

func weakMatch(a, b string) bool {
	return strings.TrimPrefix(a, "W/") == strings.TrimPrefix(b, "W/")
}

func strongMatch(a, b string) bool {
	return a == b && a != "" && !strings.HasPrefix(a, "W/")
}

package gateway

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/ipfs/go-cid"
	"github.com/multiformats/go-multihash"
)

// Format is the response format of a request.
type Format int

const (
	// FormatRaw is a single raw block, application/vnd.ipld.raw.
	FormatRaw Format = iota + 1
	// FormatCAR is a CARv1 stream, application/vnd.ipld.car.
	FormatCAR
)

// String returns the format's ?format= value ("raw", "car").
func (f Format) String() string {
	switch f {
	case FormatRaw:
		return "raw"
	case FormatCAR:
		return "car"
	}
	return ""
}

// DagScope is the dag-scope query parameter of a CAR request.
type DagScope string

const (
	// ScopeAll is the whole DAG below the terminal (default).
	ScopeAll DagScope = "all"
	// ScopeEntity is the terminal entity: a whole UnixFS file, a
	// directory's own node(s), or the block itself for other codecs.
	ScopeEntity DagScope = "entity"
	// ScopeBlock is the terminal block alone.
	ScopeBlock DagScope = "block"
)

// CarParams are the parameters of a CAR response, merged from Accept
// content type parameters and query parameters (query wins).
//
// The version is always 1 and the order always dfs: order=unk is accepted
// and answered in DFS order, which is one valid "unknown" order, and the
// response says order=dfs.
type CarParams struct {
	// Dups is true for dups=y: a block is written each time the walk meets
	// it. False (dups=n, the default) writes each block at most once.
	Dups bool
	// Scope is the dag-scope; ScopeEntity when only entity-bytes is given.
	Scope DagScope
	// EntityBytes is the entity-bytes range, nil when absent or when an
	// explicit dag-scope other than entity makes it meaningless.
	EntityBytes *EntityBytes
}

// Request is a parsed trustless gateway request:
// GET|HEAD /ipfs/{cid}[/{path}][?format=raw|car&...].
type Request struct {
	// Method is http.MethodGet or http.MethodHead.
	Method string
	// Root is the CID right after /ipfs/.
	Root cid.Cid
	// RootText is Root as written in the URL (any multibase, CIDv0 or v1).
	RootText string
	// Segments are the URL-unescaped path segments under Root; never empty
	// strings, ".", or "..". Raw requests have none.
	Segments []string
	// TrailingSlash is set when the URL path ends with "/".
	TrailingSlash bool
	// Format is FormatRaw or FormatCAR.
	Format Format
	// FormatFromQuery is set when ?format= chose Format (else Accept did).
	FormatFromQuery bool
	// Car holds the CAR parameters; zero for raw requests.
	Car CarParams
	// Filename is the ?filename= value for Content-Disposition, or "".
	Filename string
	// Query is the request's query, kept for Content-Location.
	Query url.Values
}

// ContentPath is the request's content path, /ipfs/{cid}[/{path}], with
// the CID as written in the URL and the segments unescaped.
func (r *Request) ContentPath() string {
	var b strings.Builder
	b.WriteString("/ipfs/")
	b.WriteString(r.RootText)
	for _, s := range r.Segments {
		b.WriteByte('/')
		b.WriteString(s)
	}
	if r.TrailingSlash {
		b.WriteByte('/')
	}
	return b.String()
}

// Identity returns the bytes inlined in Root when Root is an identity CID
// (multihash code 0x00): such a block is served from the CID itself.
func (r *Request) Identity() ([]byte, bool) {
	dmh, err := multihash.Decode(r.Root.Hash())
	if err != nil || dmh.Code != multihash.IDENTITY {
		return nil, false
	}
	return dmh.Digest, true
}

const ipfsPrefix = "/ipfs/"

// MaxDigestBytes is the largest multihash digest of a CID asked for: 512
// bytes, so the most data an identity CID inlines (boxo and Kubo stop at
// 128 bytes; an identity root may carry a small node here). No hash
// function comes near it (sha2-512: 64). A CID is echoed in response
// headers (Etag, X-Ipfs-Path, X-Ipfs-Roots) and an identity CID is served
// without a lookup, so its length is bounded first: each of those stays
// under 1 KB, all the headers of a response under 4 KB.
const MaxDigestBytes = 512

// ParseRequest parses a trustless gateway request. Every error is a
// *RequestError with a 4xx status:
//
//   - 405 for methods other than GET and HEAD;
//   - 404 for paths outside /ipfs/;
//   - 400 for an unparsable CID, a CID whose digest is over
//     MaxDigestBytes, an empty, "." or ".." path segment, an invalid
//     dag-scope, entity-bytes or car-dups value;
//   - 406 when no response format can be agreed: an unsupported ?format=,
//     an Accept header naming neither a raw block nor a supported CAR
//     variant (car version other than 1, unknown order), or a raw block
//     asked with a path (the spec serves raw blocks at /ipfs/{cid} only);
//   - 400 when there is neither ?format= nor an Accept header at all, as
//     the trustless spec says a strict trustless gateway SHOULD.
//
// ?format= beats Accept. With ?format=car the CAR parameters of the best
// acceptable CAR entry in Accept still apply, and car-version, car-order,
// car-dups query parameters override them.
func ParseRequest(r *http.Request) (*Request, error) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return nil, &RequestError{Status: http.StatusMethodNotAllowed,
			Message: "method " + r.Method + " not allowed: use GET or HEAD", Err: ErrMethodNotAllowed}
	}
	query, err := parseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, err
	}
	req := &Request{Method: r.Method, Query: query}
	if err := req.parsePath(r.URL); err != nil {
		return nil, err
	}
	accept := negotiate(r.Header.Values("Accept"), len(req.Segments) > 0)
	if err := req.chooseFormat(accept, len(r.Header.Values("Accept")) > 0); err != nil {
		return nil, err
	}
	req.Filename = req.Query.Get("filename")
	if req.Format == FormatCAR {
		var err error
		if req.Car, err = carParams(req.Query, accept.car); err != nil {
			return nil, err
		}
	}
	return req, nil
}

// trustlessParams are the query parameters that change a response. Each
// may be given once, or repeated with the same value.
var trustlessParams = []string{"format", "dag-scope", "entity-bytes", "car-version", "car-order", "car-dups"}

// parseQuery parses a raw query strictly: a pair that does not unescape,
// a ';' (which net/url drops with the rest of the pair), or a trustless
// parameter given twice with different values is a 400
// naming the parameter, never ignored: dropping dag-scope=block;x would
// serve a whole DAG where one block was asked for.
func parseQuery(raw string) (url.Values, error) {
	q := make(url.Values)
	for raw != "" {
		var pair string
		pair, raw, _ = strings.Cut(raw, "&")
		if pair == "" {
			continue
		}
		rawKey, rawValue, _ := strings.Cut(pair, "=")
		key, kerr := url.QueryUnescape(rawKey)
		if kerr != nil {
			return nil, badRequest("query parameter %q: invalid escape", rawKey)
		}
		if strings.Contains(pair, ";") {
			return nil, badRequest("query parameter %q: ';' is not a separator, use '&'", key)
		}
		value, verr := url.QueryUnescape(rawValue)
		if verr != nil {
			return nil, badRequest("query parameter %q: invalid escape in its value", key)
		}
		q[key] = append(q[key], value)
	}
	for _, name := range trustlessParams {
		values, ok := q[name]
		if !ok {
			continue
		}
		for _, v := range values {
			if v != values[0] {
				return nil, badRequest("query parameter %q is given twice with different values", name)
			}
		}
	}
	return q, nil
}

// parsePath splits u's path into root CID and segments.
func (req *Request) parsePath(u *url.URL) error {
	escaped := u.EscapedPath()
	rest, ok := strings.CutPrefix(escaped, ipfsPrefix)
	if !ok {
		if escaped == "/ipfs" {
			return badRequest("missing CID: use /ipfs/{cid}")
		}
		return &RequestError{Status: http.StatusNotFound,
			Message: "not found: only /ipfs/{cid} content paths are served", Err: ErrNotFound}
	}
	parts := strings.Split(rest, "/")
	if n := len(parts); n > 1 && parts[n-1] == "" {
		req.TrailingSlash = true
		parts = parts[:n-1]
	}
	for i, p := range parts {
		s, err := url.PathUnescape(p)
		if err != nil {
			return badRequest("invalid escape in path segment %q", p)
		}
		switch {
		case i == 0 && s == "":
			return badRequest("missing CID: use /ipfs/{cid}")
		case s == "":
			return badRequest("empty path segment")
		case s == "." || s == "..":
			return badRequest("path segment %q not allowed", s)
		}
		parts[i] = s
	}
	c, err := cid.Decode(parts[0])
	if err != nil {
		return badRequest("invalid CID %q: %v", parts[0], err)
	}
	if dmh, err := multihash.Decode(c.Hash()); err == nil && len(dmh.Digest) > MaxDigestBytes {
		return badRequest("CID with a digest of %d bytes: at most %d are served (an identity CID inlines at most %[2]d bytes)", len(dmh.Digest), MaxDigestBytes)
	}
	req.Root, req.RootText = c, parts[0]
	if len(parts) > 1 {
		req.Segments = parts[1:]
	}
	return nil
}

// chooseFormat sets the response format from ?format= or Accept.
func (req *Request) chooseFormat(a acceptance, hasAccept bool) error {
	if v := req.Query.Get("format"); v != "" {
		switch v {
		case "raw":
			req.Format = FormatRaw
		case "car":
			req.Format = FormatCAR
		default:
			return notAcceptable("format %q not supported: this trustless gateway serves format=raw and format=car", v)
		}
		req.FormatFromQuery = true
		if req.Format == FormatRaw && len(req.Segments) > 0 {
			return notAcceptable("raw blocks are served at /ipfs/{cid} without a path: ask for format=car to resolve a path")
		}
		return nil
	}
	switch {
	case a.format != 0:
		req.Format = a.format
		return nil
	case a.rawWithPath:
		return notAcceptable("raw blocks are served at /ipfs/{cid} without a path: accept application/vnd.ipld.car to resolve a path")
	case !hasAccept:
		return badRequest("no response format: send Accept: application/vnd.ipld.raw or application/vnd.ipld.car, or ?format=raw|car")
	default:
		return notAcceptable("only trustless responses are served: accept application/vnd.ipld.raw or application/vnd.ipld.car; version=1, or use ?format=raw|car")
	}
}

// carParams merges CAR parameters from the Accept entry and the query.
func carParams(q url.Values, accepted map[string]string) (CarParams, error) {
	param := func(queryKey, acceptKey string) string {
		if v := q.Get(queryKey); v != "" {
			return v
		}
		return accepted[acceptKey]
	}
	p := CarParams{Scope: ScopeAll}
	if v := param("car-version", "version"); v != "" && v != "1" {
		return p, notAcceptable("car version %q not supported: only version=1", v)
	}
	if v := param("car-order", "order"); v != "" && v != "dfs" && v != "unk" {
		return p, notAcceptable("car order %q not supported: use dfs or unk", v)
	}
	switch v := param("car-dups", "dups"); v {
	case "", "n":
	case "y":
		p.Dups = true
	default:
		return p, badRequest("invalid car-dups %q: use y or n", v)
	}
	scope := q.Get("dag-scope")
	switch DagScope(scope) {
	case "":
	case ScopeAll, ScopeEntity, ScopeBlock:
		p.Scope = DagScope(scope)
	default:
		return p, badRequest("invalid dag-scope %q: use block, entity or all", scope)
	}
	if q.Has("entity-bytes") {
		eb, err := parseEntityBytes(q.Get("entity-bytes"))
		if err != nil {
			return p, err
		}
		// entity-bytes implies dag-scope=entity; an explicit other scope
		// wins and the range is dropped (it selects nothing there).
		if scope == "" || p.Scope == ScopeEntity {
			p.Scope = ScopeEntity
			p.EntityBytes = &eb
		}
	}
	return p, nil
}

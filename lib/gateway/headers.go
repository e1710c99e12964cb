package gateway

import (
	"net/http"
	"net/url"
	"path"
	"strings"
	"unicode/utf8"

	"github.com/ipfs/go-cid"
)

// immutableCacheControl is the Cache-Control of every successful response:
// content addressed by an /ipfs/ path never changes.
const immutableCacheControl = "public, max-age=29030400, immutable"

// MaxHeaderEchoBytes bounds a response header whose value grows with the
// request: X-Ipfs-Path and Content-Location (the path, the query) and
// X-Ipfs-Roots (a CID per path segment) are left out when longer, since a
// cut path or list would name something else. The file name offered in
// Content-Disposition is cut to MaxEchoBytes (keeping its extension), so
// that header stays within this bound too. A URL may be up to the server's
// header limit (1 MiB by default): a response should not hand it back, nor
// overflow the response header buffer of a proxy or cache in front.
const MaxHeaderEchoBytes = 2048

// ContentType returns the response Content-Type: exactly
// application/vnd.ipld.raw, or application/vnd.ipld.car with every
// parameter as served: "; version=1; order=dfs; dups=n" (or dups=y).
func (r *Request) ContentType() string {
	if r.Format == FormatRaw {
		return RawContentType
	}
	dups := "n"
	if r.Car.Dups {
		dups = "y"
	}
	return CARContentType + "; version=1; order=dfs; dups=" + dups
}

// DownloadName returns the file name offered in Content-Disposition: the
// ?filename= value, else "<cid>.bin" for raw blocks and "<cid>.car" for
// CARs, "<cid>_<last segment>.car" when the CAR has a path (as boxo); cut
// to MaxEchoBytes, keeping its extension.
func (r *Request) DownloadName() string {
	return clipName(r.downloadName(), MaxEchoBytes)
}

func (r *Request) downloadName() string {
	if r.Filename != "" {
		return r.Filename
	}
	root := r.Root.String()
	if r.Format == FormatRaw {
		return root + ".bin"
	}
	if n := len(r.Segments); n > 0 {
		return root + "_" + r.Segments[n-1] + ".car"
	}
	return root + ".car"
}

// clipName cuts name to at most max bytes, on a UTF-8 boundary, keeping
// its extension (when at most 16 bytes): no mark, so that a plain ASCII
// name stays one.
func clipName(name string, max int) string {
	if len(name) <= max {
		return name
	}
	ext := path.Ext(name)
	if len(ext) > 16 {
		ext = ""
	}
	cut := max - len(ext)
	for cut > 0 && !utf8.RuneStart(name[cut]) {
		cut--
	}
	return name[:cut] + ext
}

// contentDisposition returns `attachment; filename="<name>"`. Quotes and
// backslashes are escaped, control characters become "_"; a name that is
// not plain ASCII gets an ASCII fallback (other runes as "_") plus the
// RFC 6266 / RFC 8187 form filename*=UTF-8”<percent-encoded name>.
func contentDisposition(name string) string {
	name = strings.ToValidUTF8(name, "_")
	var ascii strings.Builder
	plain := true
	for _, c := range name {
		switch {
		case c < 0x20 || c == 0x7f:
			ascii.WriteByte('_')
		case c >= utf8.RuneSelf:
			plain = false
			ascii.WriteByte('_')
		case c == '"' || c == '\\':
			ascii.WriteByte('\\')
			ascii.WriteRune(c)
		default:
			ascii.WriteRune(c)
		}
	}
	v := `attachment; filename="` + ascii.String() + `"`
	if !plain {
		v += "; filename*=UTF-8''" + encodeExtValue(name)
	}
	return v
}

// encodeExtValue percent-encodes s for an RFC 8187 ext-value: every byte
// but attr-char.
func encodeExtValue(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
			strings.IndexByte("!#$&+-.^_`|~", c) >= 0 {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}

// IpfsPath returns the X-Ipfs-Path value: the content path as requested.
// Should it hold a control character it is sent escaped instead, as a
// header value cannot carry one.
func (r *Request) IpfsPath() string {
	p := r.ContentPath()
	for i := 0; i < len(p); i++ {
		if p[i] < 0x20 || p[i] == 0x7f {
			return (&url.URL{Path: p}).EscapedPath()
		}
	}
	return p
}

// ContentLocation returns the Content-Location the spec asks for when the
// format came from Accept rather than ?format=: the request path with
// format=raw|car added to the query, and for a CAR the car-dups it was
// answered with. It returns "" when ?format= chose the format.
func (r *Request) ContentLocation() string {
	if r.FormatFromQuery {
		return ""
	}
	q := url.Values{}
	for k, v := range r.Query {
		q[k] = v
	}
	q.Set("format", r.Format.String())
	if r.Format == FormatCAR && q.Get("car-dups") == "" {
		q.Set("car-dups", "n")
		if r.Car.Dups {
			q.Set("car-dups", "y")
		}
	}
	return (&url.URL{Path: r.ContentPath()}).EscapedPath() + "?" + q.Encode()
}

// SetHeaders sets the headers of a successful response to r: Content-Type,
// Content-Disposition, X-Content-Type-Options, Etag, X-Ipfs-Path,
// X-Ipfs-Roots, Cache-Control, Vary, Content-Location when the format came
// from Accept, and Accept-Ranges (none on CARs, bytes on raw blocks).
// Content-Length and Content-Range are left to the caller, who knows the
// block size and range.
//
// roots are the CIDs the path resolved through, one per path segment plus
// the terminal (X-Ipfs-Roots); nil means just r.Root.
//
// No header is longer than MaxHeaderEchoBytes: X-Ipfs-Path, X-Ipfs-Roots
// and Content-Location are left out when they would be.
func SetHeaders(h http.Header, r *Request, roots []cid.Cid) {
	h.Set("Content-Type", r.ContentType())
	h.Set("Content-Disposition", contentDisposition(r.DownloadName()))
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Etag", r.Etag())
	setBounded(h, "X-Ipfs-Path", r.IpfsPath())
	setBounded(h, "X-Ipfs-Roots", rootsHeader(r.Root, roots))
	h.Set("Cache-Control", immutableCacheControl)
	h.Set("Vary", "Accept")
	setBounded(h, "Content-Location", r.ContentLocation())
	if r.Format == FormatCAR {
		h.Set("Accept-Ranges", "none")
	} else {
		h.Set("Accept-Ranges", "bytes")
	}
}

// setBounded sets header k to v, or leaves it out when v is empty or
// longer than MaxHeaderEchoBytes.
func setBounded(h http.Header, k, v string) {
	if v == "" || len(v) > MaxHeaderEchoBytes {
		h.Del(k)
		return
	}
	h.Set(k, v)
}

// rootsHeader returns the X-Ipfs-Roots value, or "" once it is longer than
// MaxHeaderEchoBytes (it is then left out): a path of many segments does
// not build a long list to drop.
func rootsHeader(root cid.Cid, roots []cid.Cid) string {
	if len(roots) == 0 {
		return root.String()
	}
	var b strings.Builder
	for i, c := range roots {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(c.String())
		if b.Len() > MaxHeaderEchoBytes {
			return ""
		}
	}
	return b.String()
}

// writeNotModified answers 304 Not Modified, keeping only the headers RFC
// 9110 section 15.4.5 allows (the caller has set them with SetHeaders).
func writeNotModified(w http.ResponseWriter) {
	h := w.Header()
	for _, k := range []string{"Content-Type", "Content-Length", "Content-Disposition",
		"Content-Range", "Accept-Ranges", "Content-Encoding"} {
		h.Del(k)
	}
	w.WriteHeader(http.StatusNotModified)
}

package heal

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/ipfs/go-cid"
)

// MaxPathBytes is CloudFront's limit on the length of one invalidation path
// (CloudFront Developer Guide, "Invalidating files", Invalidation paths).
const MaxPathBytes = 4000

// ErrNotHealable is the error of Path for a request path that no cut
// response can have, or that would widen the invalidation past one CID.
var ErrNotHealable = errors.New("heal: not a healable path")

// Path returns the invalidation path that covers every cached response for
// the request path p (as the gateway logs it: decoded, possibly clipped):
// p up to its first byte outside A-Z a-z 0-9 - . _ /, then "*". The
// trailing * covers every query string (and Accept value) CloudFront keys
// responses of p by. Cutting at the first other byte keeps the path free of
// characters CloudFront wants percent-encoded (a viewer may have encoded
// them either way, and the gateway logs them decoded) and of a * that would
// be a wildcard; what follows the cut is covered by the *.
//
// p must be /ipfs/<cid>[/...] with a CID that parses: a gateway answers
// nothing else with a response it could cut, and the CID bounds how wide a
// hostile line can make the invalidation.
func Path(p string) (string, error) {
	rest, ok := strings.CutPrefix(p, "/ipfs/")
	if !ok {
		return "", fmt.Errorf("%w: %.64q does not start with /ipfs/", ErrNotHealable, p)
	}
	seg, _, _ := strings.Cut(rest, "/")
	if seg == "" || len(seg) > 256 || !alnum(seg) {
		return "", fmt.Errorf("%w: %.64q has no CID", ErrNotHealable, p)
	}
	if _, err := cid.Decode(seg); err != nil {
		return "", fmt.Errorf("%w: %.64q: %v", ErrNotHealable, p, err)
	}
	n := len("/ipfs/") + len(seg)
	for n < len(p) && n < MaxPathBytes-1 && safe(p[n]) {
		n++
	}
	return p[:n] + "*", nil
}

// cidPath is the path that covers every response under the CID string s:
// /ipfs/<s>*.
func cidPath(s string) string { return "/ipfs/" + s + "*" }

// cidOf returns the CID segment of a path Path returned.
func cidOf(path string) string {
	rest := strings.TrimPrefix(path, "/ipfs/")
	rest = strings.TrimSuffix(rest, "*")
	seg, _, _ := strings.Cut(rest, "/")
	return seg
}

// Coalesce returns paths (from Path) without repeats, in the order first
// seen, and with the paths under one CID folded into /ipfs/<cid>* when
// there are several: one path, billed once, instead of many.
func Coalesce(paths []string) []string {
	byCID := map[string][]string{}
	var order []string
	for _, p := range paths {
		c := cidOf(p)
		if _, ok := byCID[c]; !ok {
			order = append(order, c)
		}
		if !slices.Contains(byCID[c], p) {
			byCID[c] = append(byCID[c], p)
		}
	}
	out := make([]string, 0, len(order))
	for _, c := range order {
		if ps := byCID[c]; len(ps) == 1 {
			out = append(out, ps[0])
		} else {
			out = append(out, cidPath(c))
		}
	}
	return out
}

func alnum(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9') {
			return false
		}
	}
	return true
}

// safe: the bytes kept in an invalidation path as they are.
func safe(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '/'
}

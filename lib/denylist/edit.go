package denylist

import (
	"bufio"
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/ipfs/go-cid"
	"github.com/multiformats/go-multihash"
)

// The editing helpers below are what `hash-stream deny` does to the one
// list it owns (a takedowns list): add a rule, remove the rules of a CID
// and path. They keep every other line as it is.

// ParseTarget parses what an operator names: "<cid>[/path]", optionally
// after /ipfs/ or ipfs://. Path segments are returned decoded.
func ParseTarget(s string) (cid.Cid, []string, error) {
	s = strings.TrimPrefix(strings.TrimPrefix(s, "ipfs://"), "/ipfs/")
	first, rest, _ := strings.Cut(s, "/")
	c, err := cid.Decode(first)
	if err != nil {
		return cid.Undef, nil, fmt.Errorf("denylist: %q is not a CID: %v", first, err)
	}
	var path []string
	for _, seg := range strings.Split(rest, "/") {
		if seg == "" {
			continue
		}
		dec, err := url.PathUnescape(seg)
		if err != nil {
			return cid.Undef, nil, fmt.Errorf("denylist: path segment %q: %v", seg, err)
		}
		path = append(path, dec)
	}
	return c, path, nil
}

// RuleLine returns the line of a rule blocking c (its CIDv1, in base32:
// the rule applies to every form) at path, with status and reason hints
// when they are not the defaults.
func RuleLine(c cid.Cid, path []string, status int, reason string) string {
	var b strings.Builder
	b.WriteString("/ipfs/")
	b.WriteString(cid.NewCidV1(c.Type(), c.Hash()).String())
	for _, seg := range path {
		b.WriteByte('/')
		b.WriteString(url.PathEscape(seg))
	}
	if status != 0 && status != DefaultStatus {
		b.WriteString(" status:" + strconv.Itoa(status))
	}
	if reason != "" {
		b.WriteString(" reason:" + url.PathEscape(reason))
	}
	return b.String()
}

// placeholder is the rule a list holds when it has no takedown left: an
// exception for content nobody has (the multihash of a fixed sentence),
// since a list without a rule is refused as truncated.
func placeholder() string {
	mh, _ := multihash.Sum([]byte("hash-stream deny: this list holds no takedown"), multihash.SHA2_256, -1)
	return "!/ipfs/" + cid.NewCidV1(cid.Raw, mh).String()
}

// NewTakedowns returns the text of a new, empty takedowns list.
func NewTakedowns() []byte {
	return []byte("# Takedowns of this gateway, edited by `hash-stream deny`.\n" +
		"# The exception below matches no content: it keeps the list valid\n" +
		"# while it holds no takedown (a list without a rule is refused).\n" +
		placeholder() + "\n")
}

// AddRule returns text with line added at the end, or false when a rule
// for the same CID and path is there already (its hints are not changed).
func AddRule(text []byte, line string) ([]byte, bool, error) {
	c, path, err := ruleTarget(line)
	if err != nil {
		return nil, false, err
	}
	if _, n := removeRules(text, c, path); n > 0 {
		return text, false, nil
	}
	out := bytes.Clone(text)
	if len(out) > 0 && out[len(out)-1] != '\n' {
		out = append(out, '\n')
	}
	return append(out, line+"\n"...), true, nil
}

// RemoveRules returns text without the blocking rules for c's multihash
// at exactly path, and how many it removed. A list left without a rule
// gets the placeholder exception.
func RemoveRules(text []byte, c cid.Cid, path []string) ([]byte, int) {
	out, n := removeRules(text, c, path)
	if n == 0 {
		return text, 0
	}
	if _, err := Parse(bytes.NewReader(out), "takedowns"); errors.Is(err, ErrNoRules) {
		out = append(out, placeholder()+"\n"...)
	}
	return out, n
}

func removeRules(text []byte, c cid.Cid, path []string) ([]byte, int) {
	var out bytes.Buffer
	n := 0
	sc := bufio.NewScanner(bytes.NewReader(text))
	sc.Buffer(nil, DefaultMaxLineLength)
	want := strings.Join(path, "/")
	for sc.Scan() {
		line := sc.Text()
		if rc, rpath, err := ruleTarget(line); err == nil && !strings.HasPrefix(line, "!") &&
			string(rc.Hash()) == string(c.Hash()) && strings.Join(rpath, "/") == want {
			n++
			continue
		}
		out.WriteString(line)
		out.WriteByte('\n')
	}
	return out.Bytes(), n
}

// ruleTarget returns the CID and path of an /ipfs/ rule line (hints and a
// leading ! aside); any other line is an error.
func ruleTarget(line string) (cid.Cid, []string, error) {
	line = strings.TrimPrefix(strings.TrimSpace(line), "!")
	rule, _, _ := strings.Cut(line, " ")
	if !strings.HasPrefix(rule, "/ipfs/") || strings.HasSuffix(rule, "*") {
		return cid.Undef, nil, fmt.Errorf("denylist: not a CID rule: %q", line)
	}
	return ParseTarget(rule)
}

// BlockedCID is a CID-wide block of a list: its multihash and status.
type BlockedCID struct {
	Multihash multihash.Multihash
	Status    int
}

// BlockedCIDs returns the /ipfs/CID rules of l that block (not the
// exceptions), in line order: what an edge list keyed by multihash can
// hold. Path and double-hash rules stay with the origin.
func (l *List) BlockedCIDs() []BlockedCID {
	refs := make([]ref, 0, len(l.byMultihash))
	keys := make(map[uint32]string, len(l.byMultihash))
	for k, r := range l.byMultihash {
		if !l.metas[r.meta].allow {
			refs = append(refs, r)
			keys[r.line] = k
		}
	}
	slices.SortFunc(refs, func(a, b ref) int { return cmp.Compare(a.line, b.line) })
	out := make([]BlockedCID, len(refs))
	for i, r := range refs {
		out[i] = BlockedCID{Multihash: multihash.Multihash(keys[r.line]), Status: l.metas[r.meta].status}
	}
	return out
}

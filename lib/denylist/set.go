package denylist

import (
	"context"
	"crypto/sha256"
	"strings"

	"github.com/ipfs/go-cid"
	"github.com/multiformats/go-multihash"
)

// Set is the lists a gateway enforces, in order: on a conflict the later
// list wins, as the later rule of one list does. A Set is read-only, safe
// for concurrent use; to reload, build a new one and swap it. A nil *Set
// blocks nothing.
type Set struct {
	lists     []*List
	funcs     []hashFunc // the modern double-hash functions of all lists
	hasLegacy bool       // some list holds legacy double-hash rules
}

// NewSet combines lists, the later overriding the earlier.
func NewSet(lists ...*List) *Set {
	s := &Set{lists: lists}
	for _, l := range lists {
		s.hasLegacy = s.hasLegacy || len(l.legacy) > 0
		for _, f := range l.funcs {
			if !containsFunc(s.funcs, f) {
				s.funcs = append(s.funcs, f)
			}
		}
	}
	return s
}

func containsFunc(funcs []hashFunc, f hashFunc) bool {
	for _, g := range funcs {
		if g == f {
			return true
		}
	}
	return false
}

// Load parses a list file, or every *.deny file of a directory in the
// order of their names (the spec's order: a later file overrides an
// earlier one). Any file that cannot be read or parsed fails Load, and so
// does a directory without a *.deny file. It is Watch's first load, of a
// LocalFolder.
func Load(path string, opts ...Option) (*Set, error) {
	folder, err := NewLocalFolder(path)
	if err != nil {
		return nil, err
	}
	w, err := Watch(context.Background(), folder, WithParseOptions(opts...))
	if err != nil {
		return nil, err
	}
	return w.Current(), nil
}

// Lists returns the lists of s, in order.
func (s *Set) Lists() []*List {
	if s == nil {
		return nil
	}
	return s.lists
}

// MatchMultihash is the per-block check, for every block a response would
// hold: it applies the /ipfs/CID and /ipfs/CID/* rules of mh, one map
// lookup per list. Double-hash rules need the CID (Match with no path).
// It reports whether mh is blocked, and the rule that decided, if any (an
// Allow rule when an exception un-blocks it).
func (s *Set) MatchMultihash(mh multihash.Multihash) (Rule, bool) {
	if s == nil {
		return Rule{}, false
	}
	for i := len(s.lists) - 1; i >= 0; i-- {
		l := s.lists[i]
		if r, ok := l.byMultihash[string(mh)]; ok {
			return l.rule(r), !l.metas[r.meta].allow
		}
	}
	return Rule{}, false
}

// Match is the request check, for /ipfs/c/path (path as unescaped
// segments, nil for c alone). It first checks c itself: its /ipfs/CID and
// /ipfs/CID/* rules and both double-hash forms of c. A blocked c blocks
// every path under it, as the root block is read to resolve any path (the
// spec's block-level model): an exception for a path under a blocked CID,
// /ipfs/CID/* included, does not lift it; block a narrower prefix instead.
// Then, for a path, the path rules of c (exact, PATH* and PATH/* prefixes)
// and both double-hash forms of c with the path. In each step the last
// matching rule wins. Match reports whether the request is blocked, and
// the rule that decided, if any (an Allow rule when an exception
// un-blocks it). With double-hash rules loaded it hashes c (and c with
// the path) once per form and hash function: about half a microsecond.
func (s *Set) Match(c cid.Cid, path []string) (Rule, bool) {
	if s == nil || !c.Defined() {
		return Rule{}, false
	}
	mh := string(c.Hash())
	keys := s.doubleHashKeys(c, "", false)
	root, found := s.last(func(l *List) (ref, bool) { return l.matchCID(mh, &keys) })
	if found && !root.Allow {
		return root, true
	}
	if len(path) == 0 {
		return root, false
	}
	joined := strings.Join(path, "/")
	keys = s.doubleHashKeys(c, joined, true)
	r, ok := s.last(func(l *List) (ref, bool) { return l.matchPath(mh, joined, &keys) })
	if ok {
		return r, !r.Allow
	}
	return root, false
}

// last returns the rule found in the last list that has one.
func (s *Set) last(find func(*List) (ref, bool)) (Rule, bool) {
	for i := len(s.lists) - 1; i >= 0; i-- {
		if r, ok := find(s.lists[i]); ok {
			return s.lists[i].rule(r), true
		}
	}
	return Rule{}, false
}

// doubleHashes are the double-hash rule keys of one request.
type doubleHashes struct {
	legacy    legacyKey
	hasLegacy bool
	modern    []string // multihash bytes, one per hash function
}

// doubleHashKeys hashes c (and its path, when hasPath) both ways: legacy
// sha256 of "CIDV1_BASE32/PATH", with the slash kept when PATH is empty,
// and modern multihash of "B58_MULTIHASH[/PATH]" with each hash function
// the lists use.
func (s *Set) doubleHashKeys(c cid.Cid, path string, hasPath bool) doubleHashes {
	var k doubleHashes
	if s.hasLegacy {
		v1 := cid.NewCidV1(c.Type(), c.Hash()).String() // base32
		digest := sha256.Sum256([]byte(v1 + "/" + path))
		k.legacy = legacyKey(digest[:len(legacyKey{})])
		k.hasLegacy = true
	}
	if len(s.funcs) > 0 {
		in := c.Hash().B58String()
		if hasPath {
			in += "/" + path
		}
		for _, f := range s.funcs {
			if mh, err := multihash.Sum([]byte(in), f.code, f.length); err == nil {
				k.modern = append(k.modern, string(mh))
			}
		}
	}
	return k
}

// matchCID returns the last rule of l on the CID itself.
func (l *List) matchCID(mh string, k *doubleHashes) (ref, bool) {
	best, found := l.byMultihash[mh]
	best, found = l.matchDoubleHash(k, best, found)
	return best, found
}

// matchPath returns the last rule of l on the CID with a non-empty path.
func (l *List) matchPath(mh, path string, k *doubleHashes) (ref, bool) {
	var best ref
	found := false
	rules := l.byPath[mh]
	for i := len(rules) - 1; i >= 0; i-- {
		if rules[i].matches(path) {
			best, found = rules[i].ref, true
			break
		}
	}
	return l.matchDoubleHash(k, best, found)
}

// matchDoubleHash returns the later of best and l's double-hash rules on k.
func (l *List) matchDoubleHash(k *doubleHashes, best ref, found bool) (ref, bool) {
	later := func(r ref, ok bool) {
		if ok && (!found || r.line > best.line) {
			best, found = r, true
		}
	}
	if k.hasLegacy && len(l.legacy) > 0 {
		r, ok := l.legacy[k.legacy]
		later(r, ok)
	}
	if len(l.modern) > 0 {
		for _, key := range k.modern {
			r, ok := l.modern[key]
			later(r, ok)
		}
	}
	return best, found
}

// rule expands a stored rule.
func (l *List) rule(r ref) Rule {
	m := l.metas[r.meta]
	return Rule{Status: m.status, Reason: m.reason, Allow: m.allow, File: l.File, Line: int(r.line)}
}

package denylist

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"

	"github.com/ipfs/go-cid"
	"github.com/multiformats/go-multihash"
)

var (
	errIPNS     = errors.New("/ipns/ rule ignored: this gateway serves /ipfs/ only")
	errBarePath = errors.New("bare path rule ignored: this gateway applies /ipfs/CID/PATH rules only")
)

// rule parses a trimmed line: nothing for a blank line or a comment, an
// ignored reason for a rule that does not apply here, else an error or the
// rule added to the list.
func (p *parser) rule(line uint32, s []byte) (ignored, err error) {
	if len(s) == 0 || s[0] == '#' {
		return nil, nil
	}
	item, hints := s, []byte(nil)
	if i := bytes.IndexAny(s, " \t"); i >= 0 {
		item, hints = s[:i], s[i+1:]
	}
	allow := item[0] == '!'
	if allow {
		item = item[1:]
	}
	r := ref{line: line, meta: p.defaults[0]}
	if allow {
		r.meta = p.defaults[1]
	}
	if len(bytes.TrimSpace(hints)) > 0 {
		if r.meta, err = p.lineMeta(r.meta, hints); err != nil {
			return nil, err
		}
	}
	switch {
	case bytes.HasPrefix(item, []byte("//")):
		err = p.doubleHash(item[2:], r)
	case bytes.HasPrefix(item, []byte("/ipfs/")):
		err = p.ipfs(item[len("/ipfs/"):], r)
	case bytes.HasPrefix(item, []byte("/ipns/")):
		return errIPNS, nil
	case len(item) > 0 && item[0] == '/':
		return errBarePath, nil
	default:
		return nil, fmt.Errorf("not a rule: want /ipfs/CID[/PATH], //DOUBLE-HASH, or a comment after #")
	}
	if err != nil {
		return nil, err
	}
	p.list.Rules++
	return nil, nil
}

// lineMeta applies a line's space-separated hints (key:value; key=value is
// read too) over the meta at index base. Values are %-decoded, so a reason
// can carry spaces as %20.
func (p *parser) lineMeta(base uint32, hints []byte) (uint32, error) {
	m := p.list.metas[base]
	for _, field := range bytes.Fields(hints) {
		if field[0] == '#' {
			break // a trailing comment
		}
		i := bytes.IndexAny(field, ":=")
		if i <= 0 {
			continue // not a hint: ignored, like unknown hints
		}
		value := string(field[i+1:])
		if v, err := url.PathUnescape(value); err == nil {
			value = v
		}
		if err := applyHint(&m, string(field[:i]), value); err != nil {
			return 0, err
		}
	}
	return p.metaFor(m), nil
}

// doubleHash adds a //DOUBLE-HASH rule: a sha256 hex digest (legacy
// bad-bits), a base58btc multihash (modern), or both when it reads as
// both, as the spec requires.
func (p *parser) doubleHash(h []byte, r ref) error {
	added := false
	if len(h) == 2*sha256.Size {
		var digest [sha256.Size]byte
		if _, err := hex.Decode(digest[:], h); err == nil {
			p.list.legacy[legacyKey(digest[:len(legacyKey{})])] = r
			added = true
			if bytes.IndexByte(h, '0') >= 0 {
				return nil // no base58 string holds a 0
			}
		}
	}
	mh, err := multihash.FromB58String(string(h))
	if err != nil {
		if added {
			return nil
		}
		return fmt.Errorf("double-hash %q: neither a base58btc multihash nor a sha256 hex digest", h)
	}
	dmh, err := multihash.Decode(mh)
	if err != nil {
		return err
	}
	if err := p.addHashFunc(hashFunc{code: dmh.Code, length: dmh.Length}); err != nil {
		if added {
			return nil
		}
		return fmt.Errorf("double-hash %q: %w", h, err)
	}
	p.list.modern[string(mh)] = r
	return nil
}

// addHashFunc records f as used by modern double-hash rules, checking it
// can be computed.
func (p *parser) addHashFunc(f hashFunc) error {
	for _, g := range p.list.funcs {
		if g == f {
			return nil
		}
	}
	if f.code == multihash.IDENTITY {
		return errors.New("identity is not a hash function")
	}
	if len(p.list.funcs) == MaxHashFunctions {
		return fmt.Errorf("more than %d hash functions in one list", MaxHashFunctions)
	}
	if _, err := multihash.Sum(nil, f.code, f.length); err != nil {
		return fmt.Errorf("hash function 0x%x (%d bytes): %w", f.code, f.length, err)
	}
	p.list.funcs = append(p.list.funcs, f)
	return nil
}

// ipfs adds an /ipfs/ rule; rest is what follows "/ipfs/".
func (p *parser) ipfs(rest []byte, r ref) error {
	cidText, sub, _ := bytes.Cut(rest, []byte("/"))
	mh, err := decodeMultihash(string(cidText))
	if err != nil {
		return err
	}
	key := string(mh)
	prefix := len(sub) > 0 && sub[len(sub)-1] == '*'
	if prefix {
		sub = sub[:len(sub)-1]
	}
	// "/ipfs/CID/a/" is "/ipfs/CID/a", and "/ipfs/CID/a/*" is "/ipfs/CID/a*".
	sub = bytes.TrimRight(sub, "/")
	path, err := url.PathUnescape(string(sub))
	if err != nil {
		return fmt.Errorf("path %q: %w", sub, err)
	}
	if path == "" {
		p.list.byMultihash[key] = r // the CID itself
		if !prefix {
			return nil
		}
	}
	p.list.byPath[key] = append(p.list.byPath[key], pathRule{path: path, prefix: prefix, ref: r})
	return nil
}

// decodeMultihash reads a CID of any version and base, or a base58btc
// multihash, and returns its multihash.
func decodeMultihash(s string) (multihash.Multihash, error) {
	c, err := cid.Decode(s)
	if err == nil {
		return c.Hash(), nil
	}
	if mh, mhErr := multihash.FromB58String(s); mhErr == nil {
		return mh, nil
	}
	return nil, fmt.Errorf("CID %q: %w", s, err)
}

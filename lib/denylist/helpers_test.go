package denylist_test

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hash-stream/hash-stream-aws/lib/denylist"
	"github.com/ipfs/go-cid"
	"github.com/multiformats/go-multibase"
)

// The double-hash forms, computed here apart from the package: the legacy
// bad-bits anchor is the sha256 hex digest of its input, the modern one a
// sha2-256 multihash (0x12 0x20 digest) in base58btc.
func legacyDoubleHash(in string) string {
	sum := sha256.Sum256([]byte(in))
	return hex.EncodeToString(sum[:])
}

func modernDoubleHash(t testing.TB, in string) string {
	sum := sha256.Sum256([]byte(in))
	return base58(t, append([]byte{0x12, 0x20}, sum[:]...))
}

// base58 encodes b in base58btc, without the multibase prefix "z".
func base58(t testing.TB, b []byte) string {
	s, err := multibase.Encode(multibase.Base58BTC, b)
	if err != nil {
		t.Fatal(err)
	}
	return s[1:]
}

// parse parses a list given as text.
func parse(t testing.TB, text string) *denylist.List {
	t.Helper()
	l, err := denylist.Parse(strings.NewReader(text), "test.deny")
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return l
}

// load loads a file of testdata.
func load(t testing.TB, name string) *denylist.Set {
	t.Helper()
	s, err := denylist.Load(filepath.Join("testdata", name))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return s
}

// writeFile writes a file in dir.
func writeFile(t testing.TB, dir, name, text string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// contentPath splits "/ipfs/CID/a/b" into its CID and segments.
func contentPath(t testing.TB, p string) (cid.Cid, []string) {
	t.Helper()
	parts := strings.Split(strings.TrimPrefix(p, "/ipfs/"), "/")
	c, err := cid.Decode(parts[0])
	if err != nil {
		t.Fatalf("%s: %v", p, err)
	}
	var segs []string
	for _, s := range parts[1:] {
		if s != "" {
			segs = append(segs, s)
		}
	}
	return c, segs
}

// wantMatch checks that each content path is blocked (or not) and, when
// blocked, by line.
func wantMatch(t *testing.T, s *denylist.Set, paths []string, blocked bool, line int) {
	t.Helper()
	for _, p := range paths {
		c, segs := contentPath(t, p)
		r, got := s.Match(c, segs)
		if got != blocked {
			t.Errorf("Match(%s) = %v (%v), want blocked %v", p, got, r, blocked)
			continue
		}
		if blocked && line != 0 && r.Line != line {
			t.Errorf("Match(%s) by line %d, want line %d", p, r.Line, line)
		}
	}
}

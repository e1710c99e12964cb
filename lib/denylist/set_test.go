package denylist_test

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hash-stream/hash-stream-aws/lib/denylist"
	"github.com/ipfs/go-cid"
	"github.com/multiformats/go-multibase"
	"github.com/multiformats/go-multihash"
)

// TestSpecExample runs the example list of the spec (testdata, quoted
// verbatim) against what its comments say, with the variants the spec's
// reference test suite expects.
func TestSpecExample(t *testing.T) {
	s := load(t, "spec-example.deny")
	l := s.Lists()[0]
	if l.Name != "Example IPFSCorp blocking list" || l.Author != "abuse-ipfscorp@example.com" ||
		l.Hints["hint"] != "value" || l.Hints["hint2"] != "value2" {
		t.Errorf("header: %+v", l)
	}
	if l.Rules != 12 || l.Ignored != 3 || l.Invalid != 0 {
		t.Errorf("rules %d, ignored %d, invalid %d (%v): want 12, 3, 0", l.Rules, l.Ignored, l.Invalid, l.Errors)
	}

	tests := []struct {
		name    string
		blocked []string
		line    int
		allowed []string
	}{
		{"CID by multihash", []string{
			"/ipfs/bafybeihvvulpp4evxj7x7armbqcyg6uezzuig6jp3lktpbovlqfkuqeuoq",
			"/ipfs/bafkreihvvulpp4evxj7x7armbqcyg6uezzuig6jp3lktpbovlqfkuqeuoq",
			"/ipfs/QmesfgDQ3q6prBy2Kg2gKbW4MAGuWiRP2DVuGA5MZSERLo",
			// A path under a blocked CID: the root block is read to resolve it.
			"/ipfs/QmesfgDQ3q6prBy2Kg2gKbW4MAGuWiRP2DVuGA5MZSERLo/sub",
		}, 12, nil},
		{"PATH*", []string{
			"/ipfs/Qmah2YDTfrox4watLCr3YgKyBwvjq8FJZEFdWY6WtJ3Xt2/test",
			"/ipfs/Qmah2YDTfrox4watLCr3YgKyBwvjq8FJZEFdWY6WtJ3Xt2/test2",
			"/ipfs/Qmah2YDTfrox4watLCr3YgKyBwvjq8FJZEFdWY6WtJ3Xt2/test/one",
		}, 15, []string{
			"/ipfs/Qmah2YDTfrox4watLCr3YgKyBwvjq8FJZEFdWY6WtJ3Xt2/tes",
			"/ipfs/Qmah2YDTfrox4watLCr3YgKyBwvjq8FJZEFdWY6WtJ3Xt2",
			"/ipfs/Qmah2YDTfrox4watLCr3YgKyBwvjq8FJZEFdWY6WtJ3Xt2/one/test",
		}},
		{"PATH/* (the same rule)", []string{
			"/ipfs/QmTuvSQbEDR3sarFAN9kAeXBpiBCyYYNxdxciazBba11eC/test",
			"/ipfs/QmTuvSQbEDR3sarFAN9kAeXBpiBCyYYNxdxciazBba11eC/test2",
			"/ipfs/QmTuvSQbEDR3sarFAN9kAeXBpiBCyYYNxdxciazBba11eC/test/one",
		}, 16, []string{
			"/ipfs/QmTuvSQbEDR3sarFAN9kAeXBpiBCyYYNxdxciazBba11eC/tes",
			"/ipfs/QmTuvSQbEDR3sarFAN9kAeXBpiBCyYYNxdxciazBba11eC",
			"/ipfs/QmTuvSQbEDR3sarFAN9kAeXBpiBCyYYNxdxciazBba11eC/one/test",
		}},
		{"exceptions, last matching rule wins", []string{
			"/ipfs/QmUboz9UsQBDeS6Tug1U8jgoFkgYxyYood9NDyVURAY9pK/blocked",
			"/ipfs/QmUboz9UsQBDeS6Tug1U8jgoFkgYxyYood9NDyVURAY9pK/blocked2",
		}, 19, []string{
			"/ipfs/QmUboz9UsQBDeS6Tug1U8jgoFkgYxyYood9NDyVURAY9pK/blockednot",
			"/ipfs/QmUboz9UsQBDeS6Tug1U8jgoFkgYxyYood9NDyVURAY9pK/blocked/not",
			"/ipfs/QmUboz9UsQBDeS6Tug1U8jgoFkgYxyYood9NDyVURAY9pK/blocked/exceptions",
			"/ipfs/QmUboz9UsQBDeS6Tug1U8jgoFkgYxyYood9NDyVURAY9pK/blocked/exceptions2",
			"/ipfs/QmUboz9UsQBDeS6Tug1U8jgoFkgYxyYood9NDyVURAY9pK/blocked/exceptions/one",
			"/ipfs/QmUboz9UsQBDeS6Tug1U8jgoFkgYxyYood9NDyVURAY9pK",
		}},
		{"modern double-hash of a CID", []string{
			"/ipfs/bafybeidjwik6im54nrpfg7osdvmx7zojl5oaxqel5cmsz46iuelwf5acja",
			"/ipfs/QmVTF1yEejXd9iMgoRTFDxBv7HAz9kuZcQNBzHrceuK9HR",
			"/ipfs/QmVTF1yEejXd9iMgoRTFDxBv7HAz9kuZcQNBzHrceuK9HR/any/path",
		}, 37, nil},
		{"modern double-hash of a path, blake3", []string{
			"/ipfs/bafyb4ieqht3b2rssdmc7sjv2cy2gfdilxkfh7623nvndziyqnawkmo266a/path",
			"/ipfs/f01701e20903cf61d46521b05f926ba1634628d0bba8a7ffb5b6d5a3ca310682ca63b5ef0/path",
		}, 45, []string{
			"/ipfs/bafyb4ieqht3b2rssdmc7sjv2cy2gfdilxkfh7623nvndziyqnawkmo266a",
			"/ipfs/bafyb4ieqht3b2rssdmc7sjv2cy2gfdilxkfh7623nvndziyqnawkmo266a/path2",
			"/ipfs/f01701e20903cf61d46521b05f926ba1634628d0bba8a7ffb5b6d5a3ca310682ca63b5ef0/path2",
		}},
		{"legacy double-hash of a CID", []string{
			"/ipfs/bafybeiefwqslmf6zyyrxodaxx4vwqircuxpza5ri45ws3y5a62ypxti42e",
			"/ipfs/bafybeiefwqslmf6zyyrxodaxx4vwqircuxpza5ri45ws3y5a62ypxti42e/",
			"/ipfs/bafybeiefwqslmf6zyyrxodaxx4vwqircuxpza5ri45ws3y5a62ypxti42e/path2",
		}, 50, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantMatch(t, s, tt.blocked, true, tt.line)
			wantMatch(t, s, tt.allowed, false, 0)
		})
	}

	t.Run("legacy double-hash of a path", func(t *testing.T) {
		// The CID alone is blocked by line 50, so test the path rule alone.
		l := parse(t, "//3f8b9febd851873b3774b937cce126910699ceac56e72e64b866f8e258d09572\n")
		s := denylist.NewSet(l)
		wantMatch(t, s, []string{"/ipfs/bafybeiefwqslmf6zyyrxodaxx4vwqircuxpza5ri45ws3y5a62ypxti42e/path"}, true, 1)
		wantMatch(t, s, []string{
			"/ipfs/bafybeiefwqslmf6zyyrxodaxx4vwqircuxpza5ri45ws3y5a62ypxti42e",
			"/ipfs/bafybeiefwqslmf6zyyrxodaxx4vwqircuxpza5ri45ws3y5a62ypxti42e/path2",
		}, false, 0)
	})
	t.Run("a legacy anchor is tied to the codec", func(t *testing.T) {
		c := cid.MustParse("bafybeiefwqslmf6zyyrxodaxx4vwqircuxpza5ri45ws3y5a62ypxti42e")
		v0 := cid.NewCidV0(c.Hash())
		raw := cid.NewCidV1(cid.Raw, c.Hash())
		if _, ok := s.Match(v0, nil); !ok {
			t.Errorf("%s (the same CID as v0) not blocked", v0)
		}
		if _, ok := s.Match(raw, nil); ok {
			t.Errorf("%s (raw codec) blocked: the legacy form blocks one CID", raw)
		}
	})
	t.Run("warnings", func(t *testing.T) {
		var lines []int
		for _, w := range l.Warnings {
			lines = append(lines, w.Line)
		}
		if fmt.Sprint(lines) != "[25 28 31]" {
			t.Errorf("warnings on lines %v, want [25 28 31]: %v", lines, l.Warnings)
		}
	})
}

// TestSpecDoubleHashConstants recomputes the spec's double-hash examples
// apart from the package.
func TestSpecDoubleHashConstants(t *testing.T) {
	for _, tt := range []struct{ got, want string }{
		{legacyDoubleHash("bafybeiefwqslmf6zyyrxodaxx4vwqircuxpza5ri45ws3y5a62ypxti42e/"),
			"d9d295bde21f422d471a90f2a37ec53049fdf3e5fa3ee2e8f20e10003da429e7"},
		{legacyDoubleHash("bafybeiefwqslmf6zyyrxodaxx4vwqircuxpza5ri45ws3y5a62ypxti42e/path"),
			"3f8b9febd851873b3774b937cce126910699ceac56e72e64b866f8e258d09572"},
		{legacyDoubleHash("bad-domain-name.tld/"),
			"c555c4de78827ba42527dd3dc5398db38d6c0a8c345a88e0158b2d100f317e50"},
		{modernDoubleHash(t, "QmVTF1yEejXd9iMgoRTFDxBv7HAz9kuZcQNBzHrceuK9HR"),
			"QmX9dhRcQcKUw3Ws8485T5a9dtjrSCQaUAHnG4iK9i4ceM"},
		{modernDoubleHash(t, "QmecDgNqCRirkc3Cjz9eoRBNwXGckJ9WvTdmY16HP88768/my/path"),
			"QmSju6XPmYLG611rmK7rEeCMFVuL6EHpqyvmEU6oGx3GR8"},
		{base58(t, cid.MustParse("bafybeihrw75yfhdx5qsqgesdnxejtjybscwuclpusvxkuttep6h7pkgmze").Hash()),
			"QmecDgNqCRirkc3Cjz9eoRBNwXGckJ9WvTdmY16HP88768"},
	} {
		if tt.got != tt.want {
			t.Errorf("got %s, want %s", tt.got, tt.want)
		}
	}
}

// TestSpecNote covers the spec's note on modern double-hashes and its
// introduction's echo line.
func TestSpecNote(t *testing.T) {
	s := load(t, "spec-note.deny")
	wantMatch(t, s, []string{"/ipfs/bafybeihrw75yfhdx5qsqgesdnxejtjybscwuclpusvxkuttep6h7pkgmze"}, true, 2)
	wantMatch(t, s, []string{"/ipfs/bafybeihrw75yfhdx5qsqgesdnxejtjybscwuclpusvxkuttep6h7pkgmze/my/path"}, true, 2)

	// Without the CID rule, only the path is blocked.
	l := parse(t, "//QmSju6XPmYLG611rmK7rEeCMFVuL6EHpqyvmEU6oGx3GR8\n")
	s = denylist.NewSet(l)
	wantMatch(t, s, []string{"/ipfs/bafybeihrw75yfhdx5qsqgesdnxejtjybscwuclpusvxkuttep6h7pkgmze/my/path"}, true, 1)
	wantMatch(t, s, []string{
		"/ipfs/bafybeihrw75yfhdx5qsqgesdnxejtjybscwuclpusvxkuttep6h7pkgmze",
		"/ipfs/bafybeihrw75yfhdx5qsqgesdnxejtjybscwuclpusvxkuttep6h7pkgmze/my",
		"/ipfs/bafybeihrw75yfhdx5qsqgesdnxejtjybscwuclpusvxkuttep6h7pkgmze/my/path2",
	}, false, 0)
}

// TestSpecNegation covers the spec's negated-rules example.
func TestSpecNegation(t *testing.T) {
	s := load(t, "spec-negation.deny")
	wantMatch(t, s, []string{
		"/ipfs/QmecDgNqCRirkc3Cjz9eoRBNwXGckJ9WvTdmY16HP88768/photo",
		"/ipfs/QmecDgNqCRirkc3Cjz9eoRBNwXGckJ9WvTdmY16HP88768/photo1.jpg",
	}, true, 3)
	c, segs := contentPath(t, "/ipfs/QmecDgNqCRirkc3Cjz9eoRBNwXGckJ9WvTdmY16HP88768/photo123.jpg")
	r, blocked := s.Match(c, segs)
	if blocked || !r.Allow || r.Line != 4 {
		t.Errorf("photo123.jpg: %v blocked %v, want allowed by line 4", r, blocked)
	}
	if l := s.Lists()[0]; l.Ignored != 2 || l.Rules != 2 {
		t.Errorf("rules %d, ignored %d: want 2, 2", l.Rules, l.Ignored)
	}
}

// TestCIDForms checks that every form of one CID, as a rule or as a
// request, is the same multihash.
func TestCIDForms(t *testing.T) {
	c := cid.MustParse("bafybeihvvulpp4evxj7x7armbqcyg6uezzuig6jp3lktpbovlqfkuqeuoq")
	var forms []string
	for _, v1 := range []cid.Cid{c, cid.NewCidV1(cid.Raw, c.Hash()), cid.NewCidV1(cid.DagCBOR, c.Hash())} {
		for _, base := range []multibase.Encoding{multibase.Base32, multibase.Base36, multibase.Base16, multibase.Base58BTC, multibase.Base64url} {
			s, err := v1.StringOfBase(base)
			if err != nil {
				t.Fatal(err)
			}
			forms = append(forms, s)
		}
	}
	forms = append(forms, cid.NewCidV0(c.Hash()).String())

	for _, rule := range forms {
		s := denylist.NewSet(parse(t, "/ipfs/"+rule+"\n"))
		for _, req := range forms {
			rc := cid.MustParse(req)
			if _, ok := s.Match(rc, nil); !ok {
				t.Errorf("rule %s: Match(%s) not blocked", rule, req)
			}
			if _, ok := s.MatchMultihash(rc.Hash()); !ok {
				t.Errorf("rule %s: MatchMultihash(%s) not blocked", rule, req)
			}
		}
	}
	// A bare base58btc multihash is accepted too (not a CIDv0 when not sha2-256).
	mh, err := multihash.Sum([]byte("x"), multihash.BLAKE3, 32)
	if err != nil {
		t.Fatal(err)
	}
	s := denylist.NewSet(parse(t, "/ipfs/"+mh.B58String()+"\n"))
	if _, ok := s.Match(cid.NewCidV1(cid.Raw, mh), nil); !ok {
		t.Error("rule by base58btc multihash: not blocked")
	}
}

// TestDoubleHashGenerated blocks a fresh CID and path through both
// double-hash forms, computed here.
func TestDoubleHashGenerated(t *testing.T) {
	mh, _ := multihash.Sum([]byte("takedown"), multihash.SHA2_256, -1)
	c := cid.NewCidV1(cid.DagProtobuf, mh)
	b32, b58 := c.String(), base58(t, mh)
	other := cid.NewCidV0(mh) // the same CID, requested as v0

	tests := []struct {
		name, rule string
		blocked    [][]string // paths, nil for the CID alone
		allowed    [][]string
	}{
		{"legacy CID", legacyDoubleHash(b32 + "/"), [][]string{nil, {"any"}}, nil},
		{"legacy path", legacyDoubleHash(b32 + "/a/b c"), [][]string{{"a", "b c"}}, [][]string{nil, {"a"}, {"a", "b"}}},
		{"modern CID", modernDoubleHash(t, b58), [][]string{nil, {"any"}}, nil},
		{"modern path", modernDoubleHash(t, b58+"/a/b c"), [][]string{{"a", "b c"}}, [][]string{nil, {"a"}, {"a", "b"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := denylist.NewSet(parse(t, "//"+tt.rule+"\n"))
			for _, req := range []cid.Cid{c, other} {
				for _, p := range tt.blocked {
					if _, ok := s.Match(req, p); !ok {
						t.Errorf("Match(%s, %q) not blocked", req, p)
					}
				}
				for _, p := range tt.allowed {
					if r, ok := s.Match(req, p); ok {
						t.Errorf("Match(%s, %q) blocked by %v", req, p, r)
					}
				}
			}
			if _, ok := s.MatchMultihash(mh); ok {
				t.Error("MatchMultihash applies a double-hash rule: it is documented not to")
			}
		})
	}
}

// TestNegation covers last-matching-rule-wins within a list, between the
// kinds of rules, and across files.
func TestNegation(t *testing.T) {
	const x = "QmecDgNqCRirkc3Cjz9eoRBNwXGckJ9WvTdmY16HP88768"
	xc := cid.MustParse(x)
	legacyX := legacyDoubleHash(cid.NewCidV1(cid.DagProtobuf, xc.Hash()).String() + "/")
	tests := []struct {
		name    string
		list    string
		path    []string
		blocked bool
		line    int
	}{
		{"allow after deny", "/ipfs/" + x + "\n!/ipfs/" + x + "\n", nil, false, 2},
		{"deny after allow", "!/ipfs/" + x + "\n/ipfs/" + x + "\n", nil, true, 2},
		{"deny, allow, deny", "/ipfs/" + x + "\n!/ipfs/" + x + "\n/ipfs/" + x + "\n", nil, true, 3},
		{"allow of another form", "/ipfs/" + x + "\n!/ipfs/" + xc.String() + "\n", nil, false, 2},
		{"allow of a double-hashed CID", "//" + legacyX + "\n!/ipfs/" + x + "\n", nil, false, 2},
		{"double-hash after the allow", "!/ipfs/" + x + "\n//" + legacyX + "\n", nil, true, 2},
		{"/* then allow of the CID: the CID", "/ipfs/" + x + "/*\n!/ipfs/" + x + "\n", nil, false, 2},
		{"/* then allow of the CID: a path", "/ipfs/" + x + "/*\n!/ipfs/" + x + "\n", []string{"a"}, true, 1},
		{"blocked CID, path exception", "/ipfs/" + x + "\n!/ipfs/" + x + "/a\n", []string{"a"}, true, 1},
		{"exact path exception", "/ipfs/" + x + "/a*\n!/ipfs/" + x + "/a/\n", []string{"a"}, false, 2},
		{"exact path exception, deeper", "/ipfs/" + x + "/a*\n!/ipfs/" + x + "/a\n", []string{"a", "b"}, true, 1},
		{"/* blocks the CID, so every path", "/ipfs/" + x + "/*\n!/ipfs/" + x + "/a\n", []string{"a"}, true, 1},
		{"%-encoded path", "/ipfs/" + x + "/a%20b/c*\n", []string{"a b", "cd"}, true, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := denylist.NewSet(parse(t, tt.list))
			r, blocked := s.Match(xc, tt.path)
			if blocked != tt.blocked || r.Line != tt.line {
				t.Errorf("Match = %v, %v; want blocked %v by line %d", r, blocked, tt.blocked, tt.line)
			}
			// The per-block check agrees where no double-hash rule is involved.
			if tt.path == nil && !strings.Contains("\n"+tt.list, "\n//") {
				if _, mb := s.MatchMultihash(xc.Hash()); mb != tt.blocked {
					t.Errorf("MatchMultihash = %v, want %v", mb, tt.blocked)
				}
			}
		})
	}

	t.Run("across files, the later name wins", func(t *testing.T) {
		dir := t.TempDir()
		writeFile(t, dir, "10-block.deny", "/ipfs/"+x+" status:451\n")
		writeFile(t, dir, "20-unblock.deny", "!/ipfs/"+xc.String()+"\n")
		writeFile(t, dir, "30-other.deny", "/ipfs/QmUboz9UsQBDeS6Tug1U8jgoFkgYxyYood9NDyVURAY9pK\n")
		writeFile(t, dir, "ignored.txt", "/ipfs/"+x+"\n")
		s, err := denylist.Load(dir)
		if err != nil {
			t.Fatal(err)
		}
		if n := len(s.Lists()); n != 3 {
			t.Fatalf("%d lists, want 3", n)
		}
		r, blocked := s.MatchMultihash(xc.Hash())
		if blocked || !r.Allow || filepath.Base(r.File) != "20-unblock.deny" {
			t.Errorf("MatchMultihash = %v, %v; want allowed by 20-unblock.deny", r, blocked)
		}
		if _, blocked := s.Match(xc, nil); blocked {
			t.Error("Match: blocked, want allowed by the later file")
		}
	})
}

// TestStatusHints checks the status and reason of rules from header and
// line hints.
func TestStatusHints(t *testing.T) {
	s := load(t, "hints.deny")
	l := s.Lists()[0]
	if l.Name != "Takedowns" || l.Description != "Operator takedowns, folded over two lines." || l.Author != "ops' desk" {
		t.Errorf("header: name %q, description %q, author %q", l.Name, l.Description, l.Author)
	}
	for _, tt := range []struct {
		path   string
		status int
		reason string
	}{
		{"/ipfs/bafybeihvvulpp4evxj7x7armbqcyg6uezzuig6jp3lktpbovlqfkuqeuoq", 451, "court order"},
		{"/ipfs/QmecDgNqCRirkc3Cjz9eoRBNwXGckJ9WvTdmY16HP88768", 410, "phishing kit"},
		{"/ipfs/bafybeiefwqslmf6zyyrxodaxx4vwqircuxpza5ri45ws3y5a62ypxti42e", 451, "bad-bits"},
	} {
		c, segs := contentPath(t, tt.path)
		r, ok := s.Match(c, segs)
		if !ok || r.Status != tt.status || r.Reason != tt.reason {
			t.Errorf("Match(%s) = %v, %v; want status %d reason %q", tt.path, r, ok, tt.status, tt.reason)
		}
	}
	// Without hints: 410 and no reason.
	r, _ := denylist.NewSet(parse(t, "/ipfs/QmecDgNqCRirkc3Cjz9eoRBNwXGckJ9WvTdmY16HP88768\n")).
		MatchMultihash(cid.MustParse("QmecDgNqCRirkc3Cjz9eoRBNwXGckJ9WvTdmY16HP88768").Hash())
	if r.Status != denylist.DefaultStatus || r.Reason != "" {
		t.Errorf("default rule: %v", r)
	}
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := denylist.Load(dir); !errors.Is(err, denylist.ErrNoRules) {
		t.Errorf("empty directory: %v, want ErrNoRules", err)
	}
	writeFile(t, dir, "a.deny", "/ipfs/QmecDgNqCRirkc3Cjz9eoRBNwXGckJ9WvTdmY16HP88768\n")
	writeFile(t, dir, "b.deny", "# nothing\n")
	if _, err := denylist.Load(dir); !errors.Is(err, denylist.ErrNoRules) {
		t.Errorf("a directory with an empty list: %v, want ErrNoRules", err)
	}
	if _, err := denylist.Load(filepath.Join(dir, "missing.deny")); err == nil {
		t.Error("missing file: no error")
	}
}

func TestNilSet(t *testing.T) {
	var s *denylist.Set
	c := cid.MustParse("QmecDgNqCRirkc3Cjz9eoRBNwXGckJ9WvTdmY16HP88768")
	if _, ok := s.Match(c, []string{"a"}); ok {
		t.Error("nil Set blocks")
	}
	if _, ok := s.MatchMultihash(c.Hash()); ok {
		t.Error("nil Set blocks")
	}
	if _, ok := load(t, "spec-note.deny").Match(cid.Undef, nil); ok {
		t.Error("cid.Undef blocked")
	}
}

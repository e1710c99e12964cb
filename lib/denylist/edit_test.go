package denylist_test

import (
	"bytes"
	"net/http"
	"strings"
	"testing"

	"github.com/hash-stream/hash-stream-aws/lib/denylist"
	"github.com/ipfs/go-cid"
)

// A takedowns list edited by add and remove is always a valid list that
// blocks exactly what was added and not removed, in every CID form.
func TestEditTakedowns(t *testing.T) {
	dir := cid.MustParse("bafybeidh6k2vzukelqtrjsmd4p52cpmltd2ufqrdtdg6yigi73in672fwu")
	v0 := cid.NewCidV0(dir.Hash())
	leaf := cid.MustParse("bafkreif5ua27xd3g3tch2ofq76ggzrevnh7x7fn6s3bqha66qvrnc352z4")
	parse := func(text []byte) *denylist.Set {
		t.Helper()
		l, err := denylist.Parse(bytes.NewReader(text), "takedowns.deny")
		if err != nil {
			t.Fatalf("%v in\n%s", err, text)
		}
		return denylist.NewSet(l)
	}
	text := denylist.NewTakedowns()
	if _, blocked := parse(text).Match(dir, nil); blocked {
		t.Fatal("an empty takedowns list blocks")
	}
	text, added, err := denylist.AddRule(text, denylist.RuleLine(v0, nil, http.StatusUnavailableForLegalReasons, "court order 42"))
	if err != nil || !added {
		t.Fatal(added, err)
	}
	text, added, _ = denylist.AddRule(text, denylist.RuleLine(leaf, []string{"a b", "c"}, 0, ""))
	if !added {
		t.Fatal("path rule not added")
	}
	if _, again, _ := denylist.AddRule(text, denylist.RuleLine(dir, nil, 0, "")); again {
		t.Fatal("the same CID in another form added twice")
	}
	s := parse(text)
	rule, blocked := s.Match(dir, []string{"sub"})
	if !blocked || rule.Status != http.StatusUnavailableForLegalReasons || rule.Reason != "court order 42" {
		t.Fatalf("dir: %v %v", rule, blocked)
	}
	if _, blocked := s.Match(leaf, []string{"a b", "c"}); !blocked {
		t.Fatal("path rule with an escaped segment not in force")
	}
	if _, blocked := s.Match(leaf, nil); blocked {
		t.Fatal("a path rule blocks its CID")
	}
	text, n := denylist.RemoveRules(text, dir, nil)
	if n != 1 {
		t.Fatalf("removed %d", n)
	}
	text, n = denylist.RemoveRules(text, leaf, []string{"a b", "c"})
	if n != 1 {
		t.Fatalf("removed %d", n)
	}
	s = parse(text) // still a valid list: the placeholder
	if _, blocked := s.Match(dir, nil); blocked {
		t.Fatal("removed, still blocked")
	}
	if !strings.HasPrefix(string(text), "# Takedowns") {
		t.Fatalf("comments lost:\n%s", text)
	}
	if _, n := denylist.RemoveRules(text, dir, nil); n != 0 {
		t.Fatal("removed a rule twice")
	}
	// A list whose last rule goes (one not made by NewTakedowns) gets the
	// placeholder: it stays a valid list, blocking nothing.
	only := []byte("# one takedown\n" + denylist.RuleLine(leaf, nil, 0, "") + "\n")
	out, n := denylist.RemoveRules(only, leaf, nil)
	if n != 1 {
		t.Fatalf("removed %d", n)
	}
	if _, blocked := parse(out).Match(leaf, nil); blocked {
		t.Fatal("removed, still blocked")
	}
}

func TestParseTarget(t *testing.T) {
	for in, want := range map[string]string{
		"bafkreif5ua27xd3g3tch2ofq76ggzrevnh7x7fn6s3bqha66qvrnc352z4":               "",
		"/ipfs/bafkreif5ua27xd3g3tch2ofq76ggzrevnh7x7fn6s3bqha66qvrnc352z4/a%20b/c": "a b/c",
		"ipfs://bafkreif5ua27xd3g3tch2ofq76ggzrevnh7x7fn6s3bqha66qvrnc352z4/x/":     "x",
	} {
		_, path, err := denylist.ParseTarget(in)
		if err != nil || strings.Join(path, "/") != want {
			t.Errorf("%s: %v %v", in, path, err)
		}
	}
	if _, _, err := denylist.ParseTarget("not-a-cid/x"); err == nil {
		t.Error("a bad CID parsed")
	}
}

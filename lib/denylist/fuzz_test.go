package denylist_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/hash-stream/hash-stream-aws/lib/denylist"
	"github.com/ipfs/go-cid"
)

// FuzzParse parses arbitrary lists under small limits and matches against
// them: no panic, and the limits hold.
func FuzzParse(f *testing.F) {
	seeds, _ := filepath.Glob(filepath.Join("testdata", "*.deny"))
	for _, p := range seeds {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("---\n!/ipfs/QmecDgNqCRirkc3Cjz9eoRBNwXGckJ9WvTdmY16HP88768/a*  status:451 reason=x%20y\n"))
	cids := []cid.Cid{
		cid.MustParse("QmecDgNqCRirkc3Cjz9eoRBNwXGckJ9WvTdmY16HP88768"),
		cid.MustParse("bafybeihvvulpp4evxj7x7armbqcyg6uezzuig6jp3lktpbovlqfkuqeuoq"),
	}
	const maxSize, maxLine = 64 << 10, 512
	f.Fuzz(func(t *testing.T, data []byte) {
		l, err := denylist.Parse(bytes.NewReader(data), "fuzz.deny",
			denylist.WithMaxFileSize(maxSize), denylist.WithMaxLineLength(maxLine))
		if err != nil {
			return
		}
		if len(data) > maxSize {
			t.Fatalf("a list of %d bytes parsed under a %d limit", len(data), maxSize)
		}
		if len(l.Errors) > denylist.MaxReported || len(l.Warnings) > denylist.MaxReported {
			t.Fatalf("%d errors, %d warnings kept", len(l.Errors), len(l.Warnings))
		}
		s := denylist.NewSet(l)
		for _, c := range cids {
			s.MatchMultihash(c.Hash())
			s.Match(c, nil)
			s.Match(c, []string{"a", "photo123.jpg"})
		}
	})
}

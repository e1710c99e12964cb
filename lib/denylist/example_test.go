package denylist_test

import (
	"fmt"
	"strings"

	"github.com/hash-stream/hash-stream-aws/lib/denylist"
	"github.com/ipfs/go-cid"
)

func Example() {
	list := `name: takedowns
hints:
  status: 451
---
/ipfs/QmecDgNqCRirkc3Cjz9eoRBNwXGckJ9WvTdmY16HP88768/photo*
!/ipfs/QmecDgNqCRirkc3Cjz9eoRBNwXGckJ9WvTdmY16HP88768/photo123.jpg
/ipfs/bafybeihvvulpp4evxj7x7armbqcyg6uezzuig6jp3lktpbovlqfkuqeuoq status:410 reason:phishing
/ipns/domain.example
`
	l, err := denylist.Parse(strings.NewReader(list), "takedowns.deny")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(l.Rules, "rules;", l.Warnings[0])
	s := denylist.NewSet(l)

	dir := cid.MustParse("bafybeihrw75yfhdx5qsqgesdnxejtjybscwuclpusvxkuttep6h7pkgmze") // QmecDg... as CIDv1
	fmt.Println(s.Match(dir, []string{"photo1.jpg"}))
	fmt.Println(s.Match(dir, []string{"photo123.jpg"}))

	// The per-block check: any CID of the blocked multihash, here as CIDv0.
	child := cid.MustParse("QmesfgDQ3q6prBy2Kg2gKbW4MAGuWiRP2DVuGA5MZSERLo")
	fmt.Println(s.MatchMultihash(child.Hash()))
	// Output:
	// 3 rules; takedowns.deny:8: /ipns/ rule ignored: this gateway serves /ipfs/ only
	// blocked by takedowns.deny:5 (status 451) true
	// allowed by takedowns.deny:6 (status 451) false
	// blocked by takedowns.deny:7 (status 410, reason "phishing") true
}

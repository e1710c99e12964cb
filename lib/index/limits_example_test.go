package index_test

import (
	"errors"
	"fmt"

	"github.com/hash-stream/hash-stream-aws/lib/index"
	"github.com/multiformats/go-multihash"
)

// A writer tallies each block before it stores anything, and stops at the
// first one the readers would refuse.
func ExampleTally() {
	limits := index.Limits{MaxBlockBytes: 1 << 20, MaxFileBytes: 1000}
	root, _ := multihash.Sum([]byte("root"), multihash.SHA2_256, -1)
	tally := index.NewTally(limits, len(root))
	tally.Pack(len(root)) // the pack is named by a sha2-256 multihash too
	fmt.Println(tally.Blob(root, 59, 2<<20))
	var n int
	for ; ; n++ {
		mh, _ := multihash.Sum([]byte{byte(n)}, multihash.SHA2_256, -1)
		if err := tally.Blob(mh, 59+uint64(n)*1000, 1000); err != nil {
			fmt.Println(n, "blocks fit;", errors.Is(err, index.ErrIndexOverLimit), tally.Bytes() <= limits.MaxFileBytes)
			break
		}
	}
	// Output:
	// over the readers' limits: block too long: 2097152 bytes, over the 1048576-byte block limit
	// 2 blocks fit; true true
}

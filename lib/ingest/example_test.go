package ingest_test

import (
	"fmt"

	"github.com/hash-stream/hash-stream-aws/lib/ingest"
	"github.com/hash-stream/hash-stream-aws/lib/store/memory"
)

// New refuses a configuration that would loop: a rejected CAR moved under
// the ingest prefix would come back as a new object to index.
func ExampleNew() {
	_, err := ingest.New(nil, nil, memory.NewIndexStore(), ingest.WithRejectedPrefix("ingest/rejected/"))
	fmt.Println(err)
	// Output: ingest: the ingest prefix "ingest/" and the rejected prefix "ingest/rejected/" overlap: a rejected CAR would come back as a new one
}

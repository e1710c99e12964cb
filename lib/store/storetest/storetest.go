// Package storetest is the conformance suite of the store interfaces: every
// backend runs RunIndexStore and RunPackStore from its own tests, so they
// all behave alike for missing keys, file naming, merging, ranges, paths,
// concurrency and cancellation.
package storetest

import (
	"context"
	"crypto/rand"
	"testing"

	"github.com/multiformats/go-multihash"
)

// Sum returns the sha2-256 multihash of data.
func Sum(t testing.TB, data []byte) multihash.Multihash {
	t.Helper()
	mh, err := multihash.Sum(data, multihash.SHA2_256, -1)
	if err != nil {
		t.Fatalf("multihash: %v", err)
	}
	return mh
}

// RandomBytes returns n random bytes.
func RandomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

// RandomMultihash returns the multihash of 32 random bytes.
func RandomMultihash(t testing.TB) multihash.Multihash {
	t.Helper()
	return Sum(t, RandomBytes(32))
}

// canceled returns a context that is already canceled.
func canceled() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}

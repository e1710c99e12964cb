package pack_test

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"io"
	"testing"

	"github.com/multiformats/go-multihash"

	"github.com/hash-stream/hash-stream-aws/lib/pack"
)

// A Verifier passes the bytes of its pack through and fails the read
// that ends them unless they hash to the pack's multihash.
func TestVerifier(t *testing.T) {
	data := bytes.Repeat([]byte("pack bytes "), 10000)
	sum := sha256.Sum256(data)
	mh, err := multihash.Encode(sum[:], multihash.SHA2_256)
	if err != nil {
		t.Fatal(err)
	}
	bad := bytes.Clone(data)
	bad[len(bad)-1] ^= 1
	for _, tc := range []struct {
		name string
		in   []byte
		ok   bool
	}{
		{"whole", data, true},
		{"last byte flipped", bad, false},
		{"short", data[:len(data)-1], false},
		{"empty", nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, err := pack.NewVerifier(bytes.NewReader(tc.in), mh)
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(v)
			if tc.ok != (err == nil) || tc.ok != v.Verified() {
				t.Fatalf("err %v, verified %v, want ok %v", err, v.Verified(), tc.ok)
			}
			if !tc.ok && !errors.Is(err, pack.ErrCorrupt) {
				t.Fatalf("err %v, want ErrCorrupt", err)
			}
			if !bytes.Equal(got, tc.in) {
				t.Fatalf("%d bytes passed through, want %d", len(got), len(tc.in))
			}
			// The failure stays.
			if _, again := v.Read(make([]byte, 1)); !tc.ok && !errors.Is(again, pack.ErrCorrupt) {
				t.Fatalf("read after the failure: %v", again)
			}
		})
	}
	if _, err := pack.NewVerifier(bytes.NewReader(data), multihash.Multihash("not a multihash")); err == nil {
		t.Fatal("a bad multihash was accepted")
	}
}

package pack

import (
	"bytes"
	"errors"
	"fmt"
	"hash"
	"io"

	"github.com/multiformats/go-multihash"

	"github.com/hash-stream/hash-stream-aws/lib/store"
)

// ErrCorrupt is wrapped by the error of a Verifier whose pack bytes do not
// hash to the pack's multihash.
var ErrCorrupt = errors.New("pack bytes do not hash to its multihash")

// Verifier reads a whole pack and checks it against its multihash: the
// read that reaches the end of the pack fails, wrapping ErrCorrupt,
// unless the bytes hash to it. A destination that keeps a body only once
// it has read it to its end therefore keeps nothing unverified.
type Verifier struct {
	r        io.Reader
	h        hash.Hash
	want     *multihash.DecodedMultihash
	n        int64
	verified bool
	err      error
}

// NewVerifier returns a Verifier of the pack mh read from r. It fails
// when mh is not a multihash or its hash function is unknown.
func NewVerifier(r io.Reader, mh multihash.Multihash) (*Verifier, error) {
	dec, err := multihash.Decode(mh)
	if err != nil {
		return nil, err
	}
	h, err := multihash.GetHasher(dec.Code)
	if err != nil {
		return nil, fmt.Errorf("cannot verify: %w", err)
	}
	return &Verifier{r: r, h: h, want: dec}, nil
}

// Read reads from the pack, hashing what it reads.
func (v *Verifier) Read(p []byte) (int, error) {
	if v.err != nil {
		return 0, v.err
	}
	n, err := v.r.Read(p)
	v.h.Write(p[:n])
	v.n += int64(n)
	if err == io.EOF {
		if verr := v.check(); verr != nil {
			err = verr
		} else {
			v.verified = true
		}
	}
	if err != nil {
		v.err = err
	}
	return n, err
}

// Verified reports whether the pack was read to its end and its bytes
// hash to its multihash.
func (v *Verifier) Verified() bool { return v.verified }

// check compares the hash of the bytes read with the multihash.
func (v *Verifier) check() error {
	sum := v.h.Sum(nil)
	if v.want.Length <= len(sum) && bytes.Equal(sum[:v.want.Length], v.want.Digest) {
		return nil
	}
	got := "a digest too short"
	if mh, err := multihash.Encode(sum[:min(v.want.Length, len(sum))], v.want.Code); err == nil {
		got = store.Key(mh)
	}
	return fmt.Errorf("its %d bytes hash to %s: %w", v.n, got, ErrCorrupt)
}

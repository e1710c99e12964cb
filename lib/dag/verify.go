package dag

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"

	"github.com/ipfs/go-cid"
	"github.com/multiformats/go-multihash"
)

// ErrCorrupt is returned (wrapped) for bytes that do not hash to the
// block's multihash.
var ErrCorrupt = errors.New("block failed verification")

// Verify checks that data hashes to mh with mh's own hash function.
func Verify(mh multihash.Multihash, data []byte) error {
	dec, err := multihash.Decode(mh)
	if err != nil {
		return fmt.Errorf("dag: bad multihash: %w", err)
	}
	var ok bool
	if dec.Code == multihash.SHA2_256 && dec.Length == sha256.Size {
		sum := sha256.Sum256(data) // the common case, without allocation
		ok = bytes.Equal(sum[:], dec.Digest)
	} else {
		got, err := multihash.Sum(data, dec.Code, dec.Length)
		if err != nil {
			return fmt.Errorf("dag: cannot verify %s: %w", key(mh), err)
		}
		ok = bytes.Equal(got, mh)
	}
	if !ok {
		return fmt.Errorf("%w: %s", ErrCorrupt, key(mh))
	}
	return nil
}

// Inline returns the data of an identity multihash (ok true), which is
// stored in the multihash itself and needs no storage read.
func Inline(mh multihash.Multihash) (data []byte, ok bool, err error) {
	dec, err := multihash.Decode(mh)
	if err != nil {
		return nil, false, fmt.Errorf("dag: bad multihash: %w", err)
	}
	if dec.Code != multihash.IDENTITY {
		return nil, false, nil
	}
	return dec.Digest, true, nil
}

// IsIdentityHash reports whether mh is an identity multihash (code 0x00),
// whose data is the digest itself: it is never looked up in an index.
func IsIdentityHash(mh multihash.Multihash) bool {
	// Code 0 is the one-byte varint 0x00; no other code starts with it.
	return len(mh) > 0 && mh[0] == multihash.IDENTITY
}

// IsIdentity reports whether c's multihash is an identity one (its data is
// in the CID), without allocating: a CIDv1 is a version and a codec
// varint, then the multihash, whose identity code is the byte 0x00. A
// CIDv0 is always sha2-256.
func IsIdentity(c cid.Cid) bool {
	k := c.KeyString()
	if c.Version() == 0 {
		return false
	}
	i := 0
	for skip := 0; skip < 2; skip++ { // version, codec
		for i < len(k) && k[i]&0x80 != 0 {
			i++
		}
		i++
	}
	return i < len(k) && k[i] == 0x00
}

// key names a multihash in messages as the stores name it: a CIDv1 raw.
func key(mh multihash.Multihash) string { return cid.NewCidV1(cid.Raw, mh).String() }

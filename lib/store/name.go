package store

import (
	"fmt"
	"strconv"

	"github.com/multiformats/go-multihash"
)

// IndexName returns the name of an index file in the folder of its
// multihash, the same in every backend: k(sub) for a record with
// sub-records (sub not nil), else ms, a timestamp in milliseconds, as
// decimal digits. Each backend maps it to its layout: the file
// <dir>/k(mh)/<name> in fs, the object <prefix>k(mh)/k(mh)/<name> in S3,
// where a k(sub) name is doubled again (k(sub)/k(sub)).
func IndexName(sub multihash.Multihash, ms int64) string {
	if sub != nil {
		return Key(sub)
	}
	return strconv.FormatInt(ms, 10)
}

// ParseIndexName returns the sub-record multihash of an index file name,
// or nil for a timestamp name. A name that is neither a timestamp (decimal
// digits, at most 19) nor a key exactly as Key writes it is an error
// wrapping ErrUnexpectedKey.
func ParseIndexName(name string) (multihash.Multihash, error) {
	if isTimestamp(name) {
		return nil, nil
	}
	mh, ok := ParseCanonicalKey(name)
	if !ok {
		return nil, fmt.Errorf("store: index file name %q is neither k(mh) nor a timestamp: %w", name, ErrUnexpectedKey)
	}
	return mh, nil
}

// CheckIndexName returns an error wrapping ErrUnexpectedKey unless name is
// an index file name (see ParseIndexName).
func CheckIndexName(name string) error {
	_, err := ParseIndexName(name)
	return err
}

// ParseCanonicalKey returns the multihash of key when key is exactly what
// Key writes for it (so copying it under Key of the multihash keeps its
// name), and false otherwise.
func ParseCanonicalKey(key string) (multihash.Multihash, bool) {
	if len(key) == 0 || len(key) > 512 {
		return nil, false
	}
	mh, err := ParseKey(key)
	if err != nil || Key(mh) != key {
		return nil, false
	}
	return mh, true
}

func isTimestamp(name string) bool {
	if len(name) == 0 || len(name) > 19 {
		return false
	}
	for i := 0; i < len(name); i++ {
		if name[i] < '0' || name[i] > '9' {
			return false
		}
	}
	return true
}

package store

import "errors"

// ErrChanged is returned (wrapped) by a backend when an object it was told
// to expect, by the ETag or version an earlier read saw, has been replaced
// or removed since: a conditional read, copy or delete that did not happen.
var ErrChanged = errors.New("object changed since it was read")

package store

import (
	"errors"
	"fmt"
	"strings"
)

// ErrInvalidPath is returned (wrapped) for a path location that is not a
// clean relative path, so that it could reach outside a store's folder or
// prefix.
var ErrInvalidPath = errors.New("invalid path")

// CheckPath returns an error wrapping ErrInvalidPath unless p is a clean
// relative path: slash-separated segments, none of them empty, "." or "..",
// no leading slash, and no backslash or NUL byte. Backends check every path
// location with it before turning it into a file name or object key, so a
// path read from an index record never reaches outside the store. The
// error has no package prefix: backends add their own.
func CheckPath(p string) error {
	if p == "" {
		return fmt.Errorf("empty path: %w", ErrInvalidPath)
	}
	if strings.ContainsAny(p, "\\\x00") {
		return fmt.Errorf("path %q has a backslash or NUL byte: %w", p, ErrInvalidPath)
	}
	if strings.HasPrefix(p, "/") {
		return fmt.Errorf("path %q is absolute: %w", p, ErrInvalidPath)
	}
	for seg := range strings.SplitSeq(p, "/") {
		switch seg {
		case "":
			return fmt.Errorf("path %q has an empty segment: %w", p, ErrInvalidPath)
		case ".", "..":
			return fmt.Errorf("path %q has a %q segment: %w", p, seg, ErrInvalidPath)
		}
	}
	return nil
}

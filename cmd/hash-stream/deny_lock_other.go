//go:build !unix

package main

import "errors"

// lockPath is not available without flock: a local list is edited on a
// Unix machine (or in S3, where writes are conditional).
func lockPath(string) (func(), error) {
	return nil, errors.New("editing a local list needs file locks (Unix); use an s3:// list")
}

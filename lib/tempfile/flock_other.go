//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package tempfile

import (
	"errors"
	"os"
)

// Without flock a live temporary file cannot be told from a stale one:
// files are made unlocked and RemoveStale removes nothing. Supported
// reports whether files can be locked here.
const Supported = false

func lock(*os.File) error { return errors.ErrUnsupported }

func tryLock(*os.File) (bool, error) { return false, errors.ErrUnsupported }

package pack

import (
	"fmt"
	"strings"

	"github.com/hash-stream/hash-stream-aws/lib/store"
)

// maxListedPacks bounds how many packs a LeftError's message names.
const maxListedPacks = 8

// LeftError is the error of a write that failed after it had stored
// packs: it says what the write leaves behind. A pack is stored whole or
// not at all, and before any index record names it, so a failed write
// never leaves a record that points at a missing pack; it may leave packs
// that no record names (Indexing false: the write failed before indexing)
// or packs whose records are only partly written (Indexing true). Writing
// the same content again stores the same packs and completes the index.
type LeftError struct {
	Err      error
	Packs    []Info // stored, complete, in order
	Indexing bool   // the write failed while indexing Packs
}

func (e *LeftError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%v (left behind: ", e.Err)
	if len(e.Packs) == 1 {
		b.WriteString("pack ")
	} else {
		fmt.Fprintf(&b, "%d packs ", len(e.Packs))
	}
	for i, p := range e.Packs {
		if i == maxListedPacks {
			fmt.Fprintf(&b, " and %d more", len(e.Packs)-i)
			break
		}
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(store.Key(p.Multihash))
	}
	if e.Indexing {
		b.WriteString(" stored and partly indexed; every record written names a stored pack)")
	} else {
		b.WriteString(" stored but not indexed)")
	}
	return b.String()
}

func (e *LeftError) Unwrap() error { return e.Err }

// leftBehind returns err as a *LeftError naming packs, or err itself when
// no pack was stored.
func leftBehind(err error, packs []Info, indexing bool) error {
	if len(packs) == 0 {
		return err
	}
	if le, ok := err.(*LeftError); ok {
		err = le.Err // the packs stored since are named below
	}
	return &LeftError{Err: err, Packs: packs, Indexing: indexing}
}

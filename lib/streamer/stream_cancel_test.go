package streamer_test

import (
	"context"
	"errors"
	"io"
	"testing"
)

// A stream whose context ends before its last block must end with the
// context's error, never io.EOF: its consumer would take a cut stream for
// a complete one (a CAR that ends cleanly without its last blocks).
func TestStreamCancelledIsNotEOF(t *testing.T) {
	s, root, leaves := random3mLeaves(t)
	for i := range 20 {
		ctx, cancel := context.WithCancel(context.Background())
		st := s.Stream(ctx, leaves, root.Hash(), nil)
		if _, err := st.Next(); err != nil {
			t.Fatal(err)
		}
		cancel()
		got := 1
		var err error
		for {
			_, err = st.Next()
			if err != nil {
				break
			}
			got++
		}
		st.Close()
		if err == io.EOF && got != len(leaves) {
			t.Fatalf("try %d: io.EOF after %d of %d blocks", i, got, len(leaves))
		}
		if err != io.EOF && !errors.Is(err, context.Canceled) {
			t.Fatalf("try %d: %v, want context.Canceled", i, err)
		}
	}
}

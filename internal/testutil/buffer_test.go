package testutil

import (
	"strings"
	"sync"
	"testing"
)

func TestBuffer(t *testing.T) {
	var b Buffer
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 100 {
				b.Write([]byte("ab"))
			}
		})
	}
	wg.Wait()
	if got := b.String(); got != strings.Repeat("ab", 800) {
		t.Errorf("%d bytes, want 1600", len(got))
	}
	capped := Buffer{Max: 5}
	for range 3 {
		if n, err := capped.Write([]byte("abc")); n != 3 || err != nil {
			t.Errorf("capped write: %d %v", n, err)
		}
	}
	if got := capped.String(); got != "abcab" {
		t.Errorf("capped: %q, want abcab", got)
	}
}

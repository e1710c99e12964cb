package testutil

import (
	"context"
	"errors"
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

// Wait and WaitLine see what a writer writes after they started waiting,
// and a line only once its newline is written; a wait that ends says what
// is missing.
func TestBufferWait(t *testing.T) {
	var b Buffer
	b.Write([]byte("start\n"))
	next := make(chan string)
	go func() {
		for s := range next {
			b.Write([]byte(s))
		}
	}()
	defer close(next)
	ctx := WaitContext(t)

	got := make(chan string, 1)
	go func() {
		line, err := b.WaitLine(ctx, `"msg":"done"`)
		if err != nil {
			line = err.Error()
		}
		got <- line
	}()
	next <- `{"level":"INFO","msg":"do`
	next <- `ne","n":1}`
	select {
	case line := <-got:
		t.Fatalf("WaitLine returned %q before the line's end", line)
	default: // a slow machine only makes this check weaker, never wrong
	}
	next <- "\nmore"
	if line := <-got; line != `{"level":"INFO","msg":"done","n":1}` {
		t.Errorf("WaitLine: %q", line)
	}
	if s, err := b.Wait(ctx, "start", "more"); err != nil || !strings.HasSuffix(s, "more") {
		t.Errorf("Wait: %q, %v", s, err)
	}

	ended, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := b.Wait(ended, "start", "never written"); !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "never written") || strings.Contains(err.Error(), `"start"`) {
		t.Errorf("Wait with an ended context: %v", err)
	}
	if _, err := b.WaitLine(ended, "more"); !errors.Is(err, context.Canceled) {
		t.Errorf("WaitLine of a line with no newline yet: %v", err)
	}
	if line, ok := LastLine("a 1\nb\na 2\na 3", "a"); !ok || line != "a 2" {
		t.Errorf("LastLine: %q %v", line, ok)
	}
}

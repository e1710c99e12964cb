package testutil

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync"
)

// Buffer is a bytes.Buffer safe for concurrent writers: a server's
// goroutines writing log lines, a child process's output. With Max > 0 it
// keeps the first Max bytes and drops the rest, reporting them written.
// A test that reads what another goroutine or process writes waits for it
// with Wait, WaitFunc or WaitLine: the writer may be behind the event the
// test saw (a reply, a closed connection).
type Buffer struct {
	Max     int
	mu      sync.Mutex
	buf     bytes.Buffer
	changed chan struct{} // closed at the next Write; nil when nobody waits
}

// Write appends p, or as much of it as Max leaves room for.
func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.changed != nil {
		close(b.changed)
		b.changed = nil
	}
	if b.Max > 0 {
		room := max(b.Max-b.buf.Len(), 0)
		b.buf.Write(p[:min(len(p), room)])
		return len(p), nil
	}
	return b.buf.Write(p)
}

// String returns what was written (and kept).
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// WaitFunc waits until ok holds for what was written, checking it after
// each write, or until ctx ends. It returns what was written then, and
// ctx's error if ok did not hold.
func (b *Buffer) WaitFunc(ctx context.Context, ok func(string) bool) (string, error) {
	for {
		b.mu.Lock()
		s := b.buf.String()
		if b.changed == nil {
			b.changed = make(chan struct{})
		}
		changed := b.changed
		b.mu.Unlock()
		if ok(s) {
			return s, nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			s := b.String()
			if ok(s) {
				return s, nil
			}
			return s, ctx.Err()
		}
	}
}

// Wait waits until what was written contains every one of want, or until
// ctx ends. It returns what was written then, and an error naming what is
// missing if ctx ended first.
func (b *Buffer) Wait(ctx context.Context, want ...string) (string, error) {
	s, err := b.WaitFunc(ctx, func(s string) bool { return missing(s, want) == nil })
	if err != nil {
		return s, fmt.Errorf("testutil: %q not written: %w", missing(s, want), err)
	}
	return s, nil
}

// WaitLine waits until a whole line (ended by a newline) containing substr
// was written, or until ctx ends, and returns the last such line, without
// its newline. It returns what was written and an error if ctx ended
// first.
func (b *Buffer) WaitLine(ctx context.Context, substr string) (string, error) {
	var line string
	s, err := b.WaitFunc(ctx, func(s string) bool {
		var ok bool
		line, ok = LastLine(s, substr)
		return ok
	})
	if err != nil {
		return s, fmt.Errorf("testutil: no whole line with %q written: %w", substr, err)
	}
	return line, nil
}

// LastLine returns the last whole line (ended by a newline) of s that
// contains substr, without its newline.
func LastLine(s, substr string) (string, bool) {
	end := strings.LastIndexByte(s, '\n')
	if end < 0 {
		return "", false
	}
	lines := strings.Split(s[:end], "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if strings.Contains(lines[i], substr) {
			return lines[i], true
		}
	}
	return "", false
}

// missing returns the strings of want that s lacks.
func missing(s string, want []string) []string {
	var m []string
	for _, w := range want {
		if !strings.Contains(s, w) {
			m = append(m, w)
		}
	}
	return m
}

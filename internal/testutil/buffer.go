package testutil

import (
	"bytes"
	"sync"
)

// Buffer is a bytes.Buffer safe for concurrent writers: a server's
// goroutines writing log lines, a child process's output. With Max > 0 it
// keeps the first Max bytes and drops the rest, reporting them written.
type Buffer struct {
	Max int
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write appends p, or as much of it as Max leaves room for.
func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
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

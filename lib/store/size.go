package store

import (
	"errors"
	"fmt"
	"io"
)

// ErrSizeMismatch is returned (wrapped) by PackStore.Put when the reader
// yields more or fewer bytes than the size it was given. Nothing is stored
// then.
var ErrSizeMismatch = errors.New("size mismatch")

// ExactReader returns a reader over r that yields exactly size bytes and then
// io.EOF. If r ends early, its last Read fails with an error wrapping both
// ErrSizeMismatch and io.ErrUnexpectedEOF. If r holds more than size bytes,
// the Read that would deliver the last byte delivers nothing and fails with
// an error wrapping ErrSizeMismatch, so a consumer that streams what it reads
// (an HTTP upload with a fixed Content-Length) never sends a complete body.
// A negative size fails on the first Read.
func ExactReader(r io.Reader, size int64) io.Reader {
	return &exactReader{r: r, size: size, left: size}
}

type exactReader struct {
	r    io.Reader
	size int64
	left int64
	err  error
}

func (e *exactReader) Read(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	if e.size < 0 {
		e.err = fmt.Errorf("negative size %d: %w", e.size, ErrSizeMismatch)
		return 0, e.err
	}
	if e.left == 0 {
		if err := e.checkEnd(); err != nil {
			return 0, err
		}
		e.err = io.EOF
		return 0, io.EOF
	}
	if int64(len(p)) > e.left {
		p = p[:e.left]
	}
	n, err := e.r.Read(p)
	e.left -= int64(n)
	if err != nil && err != io.EOF {
		e.err = err
		return n, err
	}
	if e.left == 0 {
		// Look for one byte more before handing over the last bytes.
		if err := e.checkEnd(); err != nil {
			return 0, err
		}
		e.err = io.EOF
		return n, nil
	}
	if err == io.EOF {
		e.err = fmt.Errorf("got %d of %d bytes: %w (%w)",
			e.size-e.left, e.size, ErrSizeMismatch, io.ErrUnexpectedEOF)
		return n, e.err
	}
	return n, nil
}

// checkEnd reads one more byte from r and fails unless r is at its end.
func (e *exactReader) checkEnd() error {
	var b [1]byte
	n, err := io.ReadFull(e.r, b[:])
	switch {
	case n > 0:
		e.err = fmt.Errorf("more than %d bytes: %w", e.size, ErrSizeMismatch)
	case err == io.EOF:
		return nil
	default:
		e.err = err
	}
	return e.err
}

package s3

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/hash-stream/hash-stream-aws/lib/store"
)

// ErrChanged is wrapped by the error of a read that would have to be
// resumed on an object that is no longer the one it began on (another
// ETag or version; S3 answers the conditional GET with 412). Packs are
// never replaced, so it means the store was tampered with: the read ends
// rather than stitch two objects together. The conditional copies and
// deletes (PackStore.CopyFrom, Objects) wrap it too. It is store.ErrChanged, so programs that
// see the store through its interfaces can tell it.
var ErrChanged = store.ErrChanged

// resumer is the body of a GetObject that, when it fails part-way (a
// reset, a body that ends early, a body timeout), asks for the rest with
// another GetObject starting at the first byte not yet received, up to max
// times in all, before the error reaches the reader. It does not resume
// when ctx has ended: that is the caller leaving, not a fault.
type resumer struct {
	ctx context.Context
	// open returns the bytes of the object from start to end (end < 0:
	// to the end of the object), or an error wrapping ErrChanged when the
	// object is not the one the read began on.
	open func(ctx context.Context, start, end int64) (io.ReadCloser, error)
	name string // the object, for errors

	body  io.ReadCloser
	pos   int64 // offset in the object of the next byte
	start int64 // offset of the first byte
	end   int64 // offset after the last byte; < 0: unknown, the body's EOF ends the read
	max   int   // resumes allowed
	done  int   // resumes made
	err   error // sticky: io.EOF or the error that ended the read
}

func (r *resumer) Read(p []byte) (int, error) {
	if r.err != nil {
		return 0, r.err
	}
	for {
		n, err := r.body.Read(p)
		r.pos += int64(n)
		if err == nil {
			return n, nil
		}
		if err == io.EOF {
			if r.end < 0 || r.pos >= r.end {
				r.err = io.EOF
				return n, io.EOF
			}
			err = io.ErrUnexpectedEOF // the body ended early
		}
		if rerr := r.resume(err); rerr != nil {
			r.err = rerr
			return n, rerr
		}
		if n > 0 {
			return n, nil
		}
	}
}

// resume replaces the failed body with one from r.pos, or returns the
// error that ends the read.
func (r *resumer) resume(cause error) error {
	_ = r.body.Close()
	r.body = eofBody{}
	at := fmt.Sprintf("s3: get %s: read failed at byte %d of [%d, %s)", r.name, r.pos, r.start, endString(r.end))
	if ctxErr := r.ctx.Err(); ctxErr != nil {
		if errors.Is(cause, ctxErr) {
			return fmt.Errorf("%s: %w", at, cause)
		}
		return fmt.Errorf("%s: %w (%w)", at, cause, ctxErr)
	}
	if r.done >= r.max {
		return fmt.Errorf("%s after %d resumes: %w", at, r.done, cause)
	}
	r.done++
	body, err := r.open(r.ctx, r.pos, r.end)
	if err != nil {
		return fmt.Errorf("%s: %w; resume %d of %d: %w", at, cause, r.done, r.max, err)
	}
	r.body = body
	return nil
}

func (r *resumer) Close() error {
	if r.err == nil {
		r.err = errors.New("s3: read after close")
	}
	return r.body.Close()
}

func endString(end int64) string {
	if end < 0 {
		return "end"
	}
	return fmt.Sprint(end)
}

// eofBody stands for a body already closed.
type eofBody struct{}

func (eofBody) Read([]byte) (int, error) { return 0, io.EOF }
func (eofBody) Close() error             { return nil }

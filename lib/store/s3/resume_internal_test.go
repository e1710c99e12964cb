package s3

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"
	"testing/iotest"
	"time"

	"github.com/hash-stream/hash-stream-aws/internal/testutil"
)

// failingBody gives data, then fails with err (io.EOF: ends cleanly).
type failingBody struct {
	r      io.Reader
	err    error
	closed bool
}

func (b *failingBody) Read(p []byte) (int, error) {
	if b.closed {
		return 0, errors.New("read after close")
	}
	n, err := b.r.Read(p)
	if err == io.EOF {
		return n, b.err
	}
	return n, err
}

func (b *failingBody) Close() error { b.closed = true; return nil }

// fakeObject serves the bytes of an object; each open (the first body,
// then resumes) gets at most cut[i] bytes before failing with fail[i].
type fakeObject struct {
	data   []byte
	cut    []int
	fail   []error
	opens  []int64 // start of each resume
	bodies []*failingBody
	refuse error // when set, resumes fail with it
}

func (o *fakeObject) body(start, end int64) *failingBody {
	i := len(o.bodies)
	if end < 0 {
		end = int64(len(o.data))
	}
	b := o.data[start:end]
	err := io.EOF
	if i < len(o.cut) && o.cut[i] < len(b) {
		b, err = b[:o.cut[i]], o.fail[i]
	}
	fb := &failingBody{r: iotest.HalfReader(bytes.NewReader(b)), err: err}
	o.bodies = append(o.bodies, fb)
	return fb
}

func (o *fakeObject) resumer(ctx context.Context, start, end int64, max int) *resumer {
	return &resumer{
		ctx: ctx, name: "s3://b/k", body: o.body(start, end), pos: start, start: start, end: end, max: max,
		open: func(_ context.Context, s, e int64) (io.ReadCloser, error) {
			o.opens = append(o.opens, s)
			if o.refuse != nil {
				return nil, o.refuse
			}
			return o.body(s, e), nil
		},
	}
}

func pattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i * 7 / 3)
	}
	return b
}

var (
	errReset   = &net.OpError{Op: "read", Net: "tcp", Err: os.NewSyscallError("read", syscall.ECONNRESET)}
	errStalled = &BodyTimeoutError{After: time.Second}
)

func TestResumerResumesAfterTheBytesReceived(t *testing.T) {
	for _, tc := range []struct {
		name       string
		start, end int64
		cut        []int
		fail       []error
		opens      []int64
	}{
		{"reset", 0, 1000, []int{300}, []error{errReset}, []int64{300}},
		{"reset at the start", 0, 1000, []int{0}, []error{errReset}, []int64{0}},
		{"range", 100, 900, []int{10, 20, 30}, []error{errReset, errStalled, io.ErrUnexpectedEOF}, []int64{110, 130, 160}},
		// A body that ends cleanly before its Content-Length.
		{"short body", 0, 1000, []int{999}, []error{io.EOF}, []int64{999}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := &fakeObject{data: pattern(1000), cut: tc.cut, fail: tc.fail}
			r := o.resumer(context.Background(), tc.start, tc.end, 3)
			got, err := io.ReadAll(r)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, o.data[tc.start:tc.end]) {
				t.Fatalf("got %d bytes, not the range's %d", len(got), tc.end-tc.start)
			}
			if fmt.Sprint(o.opens) != fmt.Sprint(tc.opens) {
				t.Fatalf("resumed at %v, want %v", o.opens, tc.opens)
			}
			for i, b := range o.bodies[:len(o.bodies)-1] {
				if !b.closed {
					t.Errorf("body %d left open", i)
				}
			}
		})
	}
}

func TestResumerGivesUpAfterMax(t *testing.T) {
	o := &fakeObject{data: pattern(1000), cut: []int{100, 100, 100, 100}, fail: []error{errReset, errReset, errReset, errStalled}}
	r := o.resumer(context.Background(), 0, 1000, 3)
	got, err := io.ReadAll(r)
	if len(got) != 400 || !bytes.Equal(got, o.data[:400]) {
		t.Fatalf("got %d bytes", len(got))
	}
	if len(o.opens) != 3 {
		t.Fatalf("%d resumes, want 3", len(o.opens))
	}
	// The last failure is what the reader sees, still a timeout.
	var netErr net.Error
	if !errors.Is(err, os.ErrDeadlineExceeded) || !errors.As(err, &netErr) || !netErr.Timeout() {
		t.Fatalf("got %v, want the body timeout", err)
	}
	if !strings.Contains(err.Error(), "s3://b/k") || !strings.Contains(err.Error(), "byte 400 of [0, 1000) after 3 resumes") {
		t.Fatalf("unclear error: %v", err)
	}
	// It stays failed.
	if _, err2 := r.Read(make([]byte, 1)); err2 != err {
		t.Fatalf("then %v", err2)
	}

	// With no resumes allowed, the first failure ends the read.
	o = &fakeObject{data: pattern(1000), cut: []int{100}, fail: []error{errReset}}
	if _, err := io.ReadAll(o.resumer(context.Background(), 0, 1000, 0)); !errors.Is(err, syscall.ECONNRESET) || len(o.opens) != 0 {
		t.Fatalf("max 0: %v after %d resumes", err, len(o.opens))
	}
}

// A read that fails because the caller's context ended is not resumed.
func TestResumerStopsWithTheContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	o := &fakeObject{data: pattern(1000), cut: []int{100}, fail: []error{context.Canceled}}
	r := o.resumer(ctx, 0, 1000, 3)
	buf := make([]byte, 50)
	if _, err := io.ReadFull(r, buf); err != nil {
		t.Fatal(err)
	}
	cancel()
	_, err := io.ReadAll(r)
	if !errors.Is(err, context.Canceled) || len(o.opens) != 0 {
		t.Fatalf("got %v after %d resumes", err, len(o.opens))
	}
	// Even when the body's error does not say so.
	ctx, cancel = context.WithCancel(context.Background())
	o = &fakeObject{data: pattern(1000), cut: []int{100}, fail: []error{errReset}}
	r = o.resumer(ctx, 0, 1000, 3)
	cancel()
	_, err = io.ReadAll(r)
	if !errors.Is(err, context.Canceled) || !errors.Is(err, syscall.ECONNRESET) || len(o.opens) != 0 {
		t.Fatalf("got %v after %d resumes", err, len(o.opens))
	}
}

// A resume that fails (the object changed, or S3 refuses) ends the read
// with both errors.
func TestResumerOpenFails(t *testing.T) {
	o := &fakeObject{data: pattern(1000), cut: []int{100}, fail: []error{errReset}, refuse: fmt.Errorf("s3: get s3://b/k: %w", ErrChanged)}
	_, err := io.ReadAll(o.resumer(context.Background(), 0, 1000, 3))
	if !errors.Is(err, ErrChanged) || !errors.Is(err, syscall.ECONNRESET) || len(o.opens) != 1 {
		t.Fatalf("got %v after %d resumes", err, len(o.opens))
	}
	if !strings.Contains(err.Error(), "resume 1 of 3") {
		t.Fatalf("unclear error: %v", err)
	}
}

// A read with an unknown end takes the body's EOF as the end.
func TestResumerUnknownEnd(t *testing.T) {
	o := &fakeObject{data: pattern(1000), cut: []int{500}, fail: []error{errReset}}
	r := o.resumer(context.Background(), 0, 1000, 3)
	r.end = -1
	got, err := io.ReadAll(r)
	if err != nil || !bytes.Equal(got, o.data) || fmt.Sprint(o.opens) != "[500]" {
		t.Fatalf("%d bytes, %v, resumes at %v", len(got), err, o.opens)
	}
}

// blockingBody blocks each read until ctx ends, after giving first, as a
// response body does when the connection stalls.
type blockingBody struct {
	ctx   context.Context
	first []byte
}

func (b *blockingBody) Read(p []byte) (int, error) {
	if len(b.first) > 0 {
		n := copy(p, b.first)
		b.first = b.first[n:]
		return n, nil
	}
	<-b.ctx.Done()
	return 0, context.Cause(b.ctx)
}

func (b *blockingBody) Close() error { return nil }

func TestWatchedBody(t *testing.T) {
	const d = 100 * time.Millisecond
	ctx, cancel := context.WithCancelCause(context.Background())
	w := newWatchedBody(&blockingBody{ctx: ctx, first: []byte("hello")}, d, cancel)
	// Time between reads does not count. (The sleep is what is tested,
	// not a wait: any length over d will do.)
	time.Sleep(2 * d)
	buf := make([]byte, 10)
	if n, err := w.Read(buf); n != 5 || err != nil {
		t.Fatalf("read %d, %v", n, err)
	}
	start := time.Now()
	n, err := w.Read(buf)
	elapsed := time.Since(start)
	var timeout *BodyTimeoutError
	var netErr net.Error
	if n != 0 || !errors.As(err, &timeout) || !errors.Is(err, os.ErrDeadlineExceeded) || !errors.As(err, &netErr) || !netErr.Timeout() {
		t.Fatalf("read %d, %v; want a *BodyTimeoutError", n, err)
	}
	// Never before the timeout; after it, as soon as the machine gets to
	// it (the read would block for good without it).
	if elapsed < d || elapsed > d+testutil.Slack {
		t.Fatalf("timed out after %v, want %v", elapsed, d)
	}
	if !errors.Is(context.Cause(ctx), err) {
		t.Fatalf("the request's context was not ended by the timeout: %v", context.Cause(ctx))
	}
	if _, err2 := w.Read(buf); err2 != err {
		t.Fatalf("then %v", err2)
	}
	t.Logf("a stalled read ended after %v (timeout %v)", elapsed, d)
}

// A body read to its end, or closed, ends its request's context without
// counting as a timeout.
func TestWatchedBodyReleases(t *testing.T) {
	for _, close := range []bool{false, true} {
		ctx, cancel := context.WithCancelCause(context.Background())
		w := newWatchedBody(io.NopCloser(strings.NewReader("data")), time.Minute, cancel)
		if close {
			_ = w.Close()
		} else if b, err := io.ReadAll(w); err != nil || string(b) != "data" {
			t.Fatalf("%q, %v", b, err)
		}
		if ctx.Err() == nil || context.Cause(ctx) != context.Canceled {
			t.Fatalf("close=%v: context %v", close, context.Cause(ctx))
		}
	}
}

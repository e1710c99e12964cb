package store_test

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/hash-stream/hash-stream-aws/lib/store"
)

func TestExactReader(t *testing.T) {
	for _, tc := range []struct {
		name    string
		data    string
		size    int64
		want    string
		wantErr error
	}{
		{name: "exact", data: "hello", size: 5, want: "hello"},
		{name: "empty", data: "", size: 0, want: ""},
		{name: "short", data: "hel", size: 5, want: "hel", wantErr: io.ErrUnexpectedEOF},
		{name: "long", data: "hello!", size: 5, want: "", wantErr: store.ErrSizeMismatch},
		{name: "long from empty", data: "x", size: 0, want: "", wantErr: store.ErrSizeMismatch},
		{name: "negative", data: "x", size: -1, want: "", wantErr: store.ErrSizeMismatch},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, r := range []io.Reader{
				strings.NewReader(tc.data),
				iotest.OneByteReader(strings.NewReader(tc.data)),
				iotest.DataErrReader(strings.NewReader(tc.data)),
			} {
				var got bytes.Buffer
				_, err := io.Copy(&got, store.ExactReader(r, tc.size))
				if tc.wantErr == nil && err != nil {
					t.Fatalf("copy: %v", err)
				}
				if tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
					t.Fatalf("copy: got error %v, want %v", err, tc.wantErr)
				}
				// A long reader must never deliver all size bytes.
				if errors.Is(tc.wantErr, store.ErrSizeMismatch) && int64(got.Len()) >= tc.size && tc.size > 0 {
					t.Fatalf("long reader delivered %d bytes", got.Len())
				}
				if tc.wantErr == nil && got.String() != tc.want {
					t.Fatalf("got %q, want %q", got.String(), tc.want)
				}
			}
		})
	}
}

func TestExactReaderPassesErrors(t *testing.T) {
	boom := errors.New("boom")
	_, err := io.ReadAll(store.ExactReader(iotest.ErrReader(boom), 3))
	if !errors.Is(err, boom) {
		t.Fatalf("got %v, want %v", err, boom)
	}
}

func TestCheckPath(t *testing.T) {
	for _, p := range []string{"a", "a/b.car", "x/y/z", "..a", "a..", ".hidden"} {
		if err := store.CheckPath(p); err != nil {
			t.Errorf("CheckPath(%q) = %v, want nil", p, err)
		}
	}
	for _, p := range []string{"", "/a", "../a", "a/../b", "a/..", ".", "./a", "a//b", "a/", `a\b`, "a\x00b"} {
		if err := store.CheckPath(p); !errors.Is(err, store.ErrInvalidPath) {
			t.Errorf("CheckPath(%q) = %v, want ErrInvalidPath", p, err)
		}
	}
}

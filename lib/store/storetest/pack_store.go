package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"testing"
	"testing/iotest"

	"github.com/hash-stream/hash-stream-aws/lib/store"
	"github.com/multiformats/go-multihash"
)

// WritePath writes data where store.Location{Path: path} reads it, the way
// another tool would: straight into the backend, not through the store.
type WritePath func(t *testing.T, path string, data []byte)

// NewPackStore returns a new, empty pack store for one test and the
// WritePath of that store. It is called once per subtest; subtests run in
// parallel.
type NewPackStore func(t *testing.T) (store.PackStore, WritePath)

// RunPackStore runs the pack store conformance tests against stores made by
// newStore.
func RunPackStore(t *testing.T, newStore NewPackStore) {
	tests := []struct {
		name string
		run  func(t *testing.T, s store.PackStore, write WritePath)
	}{
		{"Missing", testPackMissing},
		{"PutSeeker", testPackPutSeeker},
		{"PutStream", testPackPutStream},
		{"PutSeekedReader", testPackPutSeekedReader},
		{"PutEmpty", testPackPutEmpty},
		{"PutTwice", testPackPutTwice},
		{"SizeMismatch", testPackSizeMismatch},
		{"FailedRead", testPackFailedRead},
		{"Ranges", testPackRanges},
		{"PathLocation", testPackPathLocation},
		{"InvalidPath", testPackInvalidPath},
		{"InvalidRange", testPackInvalidRange},
		{"Concurrent", testPackConcurrent},
		{"Canceled", testPackCanceled},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, write := newStore(t)
			tc.run(t, s, write)
		})
	}
}

// streamOnly hides every method of a reader but Read, so the store cannot
// seek it.
type streamOnly struct{ r io.Reader }

func (s streamOnly) Read(p []byte) (int, error) { return s.r.Read(p) }

func mustPutPack(t *testing.T, s store.PackStore, data []byte, r io.Reader) multihash.Multihash {
	t.Helper()
	mh := Sum(t, data)
	if err := s.Put(context.Background(), mh, r, int64(len(data))); err != nil {
		t.Fatalf("put: %v", err)
	}
	return mh
}

func readRange(ctx context.Context, s store.PackStore, loc store.Location, offset, length int64) ([]byte, error) {
	rc, err := s.GetRange(ctx, loc, offset, length)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(rc)
}

func mustRead(t *testing.T, s store.PackStore, loc store.Location, offset, length int64) []byte {
	t.Helper()
	b, err := readRange(context.Background(), s, loc, offset, length)
	if err != nil {
		t.Fatalf("get %s [%d, %d]: %v", loc, offset, length, err)
	}
	return b
}

func wantNotFound(t *testing.T, s store.PackStore, loc store.Location) {
	t.Helper()
	_, err := readRange(context.Background(), s, loc, 0, -1)
	if !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("get %s: got %v, want ErrNotFound", loc, err)
	}
}

func testPackMissing(t *testing.T, s store.PackStore, _ WritePath) {
	wantNotFound(t, s, store.Location{Multihash: RandomMultihash(t)})
	wantNotFound(t, s, store.Location{Path: "no/such/pack"})
	for _, length := range []int64{0, 10} {
		if _, err := readRange(context.Background(), s, store.Location{Multihash: RandomMultihash(t)}, 5, length); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("length %d: got %v, want ErrNotFound", length, err)
		}
	}
}

func testPackPutSeeker(t *testing.T, s store.PackStore, _ WritePath) {
	data := RandomBytes(100<<10 + 7)
	mh := mustPutPack(t, s, data, bytes.NewReader(data))
	if got := mustRead(t, s, store.Location{Multihash: mh}, 0, -1); !bytes.Equal(got, data) {
		t.Fatalf("got %d bytes back, want the %d put", len(got), len(data))
	}
}

func testPackPutStream(t *testing.T, s store.PackStore, _ WritePath) {
	// Large enough to take several reads and writes on every path.
	data := RandomBytes(3<<20 + 12345)
	mh := mustPutPack(t, s, data, streamOnly{iotest.HalfReader(bytes.NewReader(data))})
	if got := mustRead(t, s, store.Location{Multihash: mh}, 0, -1); !bytes.Equal(got, data) {
		t.Fatalf("got %d bytes back, want the %d put", len(got), len(data))
	}
}

func testPackPutSeekedReader(t *testing.T, s store.PackStore, _ WritePath) {
	// The pack starts at the reader's current position, not at zero.
	data := RandomBytes(1000)
	r := bytes.NewReader(append([]byte("junk before"), data...))
	if _, err := r.Seek(int64(len("junk before")), io.SeekStart); err != nil {
		t.Fatal(err)
	}
	mh := mustPutPack(t, s, data, r)
	if got := mustRead(t, s, store.Location{Multihash: mh}, 0, -1); !bytes.Equal(got, data) {
		t.Fatalf("got %q..., want the pack", got[:min(len(got), 16)])
	}
}

func testPackPutEmpty(t *testing.T, s store.PackStore, _ WritePath) {
	mh := mustPutPack(t, s, nil, bytes.NewReader(nil))
	for _, r := range [][2]int64{{0, -1}, {0, 0}, {0, 10}, {5, -1}} {
		if got := mustRead(t, s, store.Location{Multihash: mh}, r[0], r[1]); len(got) != 0 {
			t.Errorf("range %v: got %d bytes", r, len(got))
		}
	}
}

func testPackPutTwice(t *testing.T, s store.PackStore, _ WritePath) {
	data := RandomBytes(1000)
	mustPutPack(t, s, data, bytes.NewReader(data))
	mh := mustPutPack(t, s, data, streamOnly{bytes.NewReader(data)})
	if got := mustRead(t, s, store.Location{Multihash: mh}, 0, -1); !bytes.Equal(got, data) {
		t.Fatal("pack changed after a second put")
	}
}

func testPackSizeMismatch(t *testing.T, s store.PackStore, _ WritePath) {
	data := RandomBytes(64 << 10)
	for _, tc := range []struct {
		name string
		size int64
		r    func() io.Reader
	}{
		{"seeker short", int64(len(data)) + 1, func() io.Reader { return bytes.NewReader(data) }},
		{"seeker long", int64(len(data)) - 1, func() io.Reader { return bytes.NewReader(data) }},
		{"stream short", int64(len(data)) + 1, func() io.Reader { return streamOnly{bytes.NewReader(data)} }},
		{"stream long", int64(len(data)) - 1, func() io.Reader { return streamOnly{bytes.NewReader(data)} }},
		{"negative", -1, func() io.Reader { return bytes.NewReader(data) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mh := RandomMultihash(t)
			err := s.Put(context.Background(), mh, tc.r(), tc.size)
			if err == nil {
				t.Fatal("put succeeded")
			}
			wantNotFound(t, s, store.Location{Multihash: mh})
		})
	}
}

func testPackFailedRead(t *testing.T, s store.PackStore, _ WritePath) {
	boom := errors.New("boom")
	data := RandomBytes(100 << 10)
	mh := Sum(t, data)
	r := io.MultiReader(bytes.NewReader(data[:50<<10]), iotest.ErrReader(boom))
	if err := s.Put(context.Background(), mh, r, int64(len(data))); err == nil {
		t.Fatal("put succeeded")
	}
	wantNotFound(t, s, store.Location{Multihash: mh})
}

func testPackRanges(t *testing.T, s store.PackStore, _ WritePath) {
	data := RandomBytes(10000)
	mh := mustPutPack(t, s, data, bytes.NewReader(data))
	loc := store.Location{Multihash: mh}
	n := int64(len(data))
	for _, tc := range []struct {
		name           string
		offset, length int64
		want           []byte
	}{
		{"whole", 0, -1, data},
		{"whole exact", 0, n, data},
		{"start", 0, 100, data[:100]},
		{"middle", 4000, 1234, data[4000:5234]},
		{"one byte", 9999, 1, data[9999:]},
		{"to end", 4000, -1, data[4000:]},
		{"exact end", 9000, 1000, data[9000:]},
		{"past end", 9000, 2000, data[9000:]},
		{"at end", n, -1, nil},
		{"at end with length", n, 10, nil},
		{"beyond end", n + 100, 10, nil},
		{"beyond end to end", n + 100, -1, nil},
		{"empty", 500, 0, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := mustRead(t, s, loc, tc.offset, tc.length)
			if !bytes.Equal(got, tc.want) {
				t.Fatalf("got %d bytes, want %d", len(got), len(tc.want))
			}
		})
	}
	// A short range is how callers see a truncated pack.
	rc, err := s.GetRange(context.Background(), loc, 9000, 2000)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	if _, err := io.ReadFull(rc, make([]byte, 2000)); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("read past end: got %v, want io.ErrUnexpectedEOF", err)
	}
}

func testPackPathLocation(t *testing.T, s store.PackStore, write WritePath) {
	data := RandomBytes(5000)
	for _, p := range []string{"top", "a/b/c.bin", "dir/" + store.Key(Sum(t, data))} {
		write(t, p, data)
		loc := store.Location{Path: p}
		if got := mustRead(t, s, loc, 0, -1); !bytes.Equal(got, data) {
			t.Errorf("%s: whole pack differs", p)
		}
		if got := mustRead(t, s, loc, 1000, 10); !bytes.Equal(got, data[1000:1010]) {
			t.Errorf("%s: range differs", p)
		}
	}
	wantNotFound(t, s, store.Location{Path: "a/b"})
	wantNotFound(t, s, store.Location{Path: "a/b/c"})
}

func testPackInvalidPath(t *testing.T, s store.PackStore, write WritePath) {
	write(t, "inside", []byte("x"))
	for _, p := range []string{"", "/etc/passwd", "../inside", "a/../../inside", "./inside", "a//b", `a\b`} {
		_, err := readRange(context.Background(), s, store.Location{Path: p}, 0, -1)
		if !errors.Is(err, store.ErrInvalidPath) {
			t.Errorf("path %q: got %v, want ErrInvalidPath", p, err)
		}
	}
}

func testPackInvalidRange(t *testing.T, s store.PackStore, _ WritePath) {
	data := RandomBytes(10)
	mh := mustPutPack(t, s, data, bytes.NewReader(data))
	_, err := readRange(context.Background(), s, store.Location{Multihash: mh}, -1, 5)
	if err == nil || errors.Is(err, store.ErrNotFound) {
		t.Fatalf("negative offset: got %v, want an error", err)
	}
}

func testPackConcurrent(t *testing.T, s store.PackStore, _ WritePath) {
	const workers = 8
	packs := make([][]byte, workers)
	for i := range packs {
		packs[i] = RandomBytes(200<<10 + i)
	}
	shared := RandomBytes(100 << 10)
	var wg sync.WaitGroup
	errs := make(chan error, 4*workers)
	for i := range workers {
		wg.Go(func() {
			errs <- s.Put(context.Background(), Sum(t, packs[i]), bytes.NewReader(packs[i]), int64(len(packs[i])))
			// Everyone writes the same pack too: it must end up whole.
			errs <- s.Put(context.Background(), Sum(t, shared), streamOnly{bytes.NewReader(shared)}, int64(len(shared)))
			got, err := readRange(context.Background(), s, store.Location{Multihash: Sum(t, shared)}, 0, -1)
			if err == nil && !bytes.Equal(got, shared) {
				err = fmt.Errorf("shared pack read back with %d bytes", len(got))
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	for i := range workers {
		wg.Go(func() {
			got, err := readRange(context.Background(), s, store.Location{Multihash: Sum(t, packs[i])}, 1000, 5000)
			if err != nil {
				t.Error(err)
			} else if !bytes.Equal(got, packs[i][1000:6000]) {
				t.Errorf("pack %d: range differs", i)
			}
		})
	}
	wg.Wait()
}

func testPackCanceled(t *testing.T, s store.PackStore, _ WritePath) {
	data := RandomBytes(1000)
	mh := mustPutPack(t, s, data, bytes.NewReader(data))
	ctx := canceled()
	other := RandomBytes(1000)
	if err := s.Put(ctx, Sum(t, other), bytes.NewReader(other), int64(len(other))); !errors.Is(err, context.Canceled) {
		t.Errorf("put: got %v, want context.Canceled", err)
	}
	wantNotFound(t, s, store.Location{Multihash: Sum(t, other)})
	if _, err := readRange(ctx, s, store.Location{Multihash: mh}, 0, -1); !errors.Is(err, context.Canceled) {
		t.Errorf("get: got %v, want context.Canceled", err)
	}

	// Canceling during a streamed put stores nothing.
	big := RandomBytes(1 << 20)
	ctx, cancel := context.WithCancel(context.Background())
	r := io.MultiReader(bytes.NewReader(big[:512<<10]), readerFunc(func([]byte) (int, error) {
		cancel()
		return 0, io.EOF
	}), bytes.NewReader(big[512<<10:]))
	if err := s.Put(ctx, Sum(t, big), streamOnly{r}, int64(len(big))); err == nil {
		t.Error("put canceled midway succeeded")
	}
	wantNotFound(t, s, store.Location{Multihash: Sum(t, big)})
}

type readerFunc func([]byte) (int, error)

func (f readerFunc) Read(p []byte) (int, error) { return f(p) }
